"""Promotion requests and approvals: who may move a version into a stage, and how.

**The workflow.** A registered model may require approval for entering
Production and/or Staging (its own policy, else the server's
`--require-approval`). Then a direct stage transition by someone without the
stage right is refused (403, with a message saying how to request it);
instead a user *requests* the transition, and someone with the stage right
(`services.access.can_move_stage`) approves or rejects it, or the requester
cancels it. Approving performs the transition in the approval's own
transaction, under the seed's stage rule. Someone with the right may still
move a version directly; the history records it with cause `override`.
Under `--approval-four-eyes` nobody approves their own request.

Every decision about the caller goes through `Access` (read through a getter,
so an access policy wired after this service is still the one asked). With
authentication off everyone has every right and the recorded user is the
Basic-auth name or `anonymous`.

Requests, decisions and comments are written to the promotion history in the
store's transactions; `activity_type` names each history event as Databricks'
activity feed does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from modelyard.approval_entities import (
    ANONYMOUS_USER,
    ActivityType,
    ApprovalAction,
    AvailableAction,
    Decision,
    RequestStatus,
    StageApproval,
    TransitionRequest,
    VersionComment,
)
from modelyard.errors import InvalidParameterValue, PermissionDenied, ResourceAlreadyExists
from modelyard.registry_entities import (
    HistoryAction,
    HistoryCause,
    HistoryEvent,
    ModelVersion,
    Stage,
)
from modelyard.service.access import Access, require_stage_move
from modelyard.service.registry import RegistryService
from modelyard.service.registry_validation import (
    canonical_stage,
    parse_version,
    validate_model_name,
)
from modelyard.store.registry import Actor
from modelyard.store.sql.db import UniqueViolation
from modelyard.store.transition_requests import StageMove, TransitionRequestStore

APPROVAL_STAGES = Stage.EXCLUSIVE
MAX_COMMENT_LENGTH = 5000
LIST_DEFAULT = 100
LIST_MAX = 1000

HOW_TO_REQUEST = (
    "Request the transition instead: POST /api/2.0/mlflow/transition-requests/create "
    'with {{"name": "{name}", "version": "{version}", "stage": "{stage}"}}, or '
    "`modelyard models request {name} {version} --to {stage}`; someone with the right "
    "then approves it."
)


def user_name(user: str | None) -> str:
    """The name requests and comments are recorded under."""
    return user or ANONYMOUS_USER


def activity_type(event: HistoryEvent) -> str | None:
    """Databricks' activity type for a history event (None: not an activity)."""
    if event.action == HistoryAction.TRANSITION:
        if event.cause == HistoryCause.DISPLACED:
            return ActivityType.SYSTEM_TRANSITION
        return ActivityType.APPLIED_TRANSITION
    return {
        ApprovalAction.REQUESTED: ActivityType.REQUESTED_TRANSITION,
        ApprovalAction.APPROVED: ActivityType.APPROVED_REQUEST,
        ApprovalAction.REJECTED: ActivityType.REJECTED_REQUEST,
        ApprovalAction.CANCELLED: ActivityType.CANCELLED_REQUEST,
        ApprovalAction.VOIDED: ActivityType.CANCELLED_REQUEST,
        ApprovalAction.COMMENTED: ActivityType.NEW_COMMENT,
    }.get(event.action)


def system_comment(event: HistoryEvent) -> str | None:
    """What the system says about an event it caused (Databricks' system_comment)."""
    if event.action == HistoryAction.TRANSITION and event.cause == HistoryCause.DISPLACED:
        return f"Archived: another version entered {event.from_stage} (one version per stage)."
    if event.action == ApprovalAction.VOIDED:
        return f"Request void: {event.comment}." if event.comment else "Request void."
    if event.cause == HistoryCause.APPROVAL:
        return "Transition performed by approving a request."
    if event.cause == HistoryCause.OVERRIDE:
        return "Moved directly by a user with the stage right; approval is required."
    return None


def _comment_text(comment: str | None, *, required: bool = False) -> str | None:
    if comment is None or comment == "":
        if required:
            raise InvalidParameterValue("Missing value for required parameter 'comment'.")
        return None
    if len(comment) > MAX_COMMENT_LENGTH:
        raise InvalidParameterValue(
            f"Comment is {len(comment)} characters long; at most {MAX_COMMENT_LENGTH} are allowed."
        )
    return comment


def _stage(stage: str | None) -> str:
    if not stage:
        raise InvalidParameterValue("Missing value for required parameter 'stage'.")
    return canonical_stage(stage)


class ApprovalService:
    def __init__(
        self,
        store: TransitionRequestStore,
        registry: RegistryService,
        *,
        access: Callable[[], Access],
        require_approval: Sequence[str] = (),
        four_eyes: bool = False,
        clock: Callable[[], int],
    ) -> None:
        self.store = store
        self.registry = registry
        self._access = access
        self.server_stages = tuple(require_approval)
        self.four_eyes = four_eyes
        self.clock = clock

    @property
    def access(self) -> Access:
        return self._access()

    def _actor(self, user: str | None, comment: str | None = None) -> Actor:
        return Actor(now=self.clock(), user_id=user_name(user), comment=comment)

    # -- policy -----------------------------------------------------------------
    def approval_rules(self, name: str | None) -> list[StageApproval]:
        """Whether each of Staging and Production needs approval for this model."""
        own = self.store.model_policies(validate_model_name(name))
        return [
            StageApproval(stage, own[stage], "model")
            if stage in own
            else StageApproval(stage, stage in self.server_stages, "server")
            for stage in APPROVAL_STAGES
        ]

    def requires_approval(self, name: str, stage: str) -> bool:
        return any(r.stage == stage and r.required for r in self.approval_rules(name))

    def set_approval_rule(
        self, name: str | None, stage: str | None, required: bool | None, user: str | None
    ) -> list[StageApproval]:
        """Set (or with None, drop) the model's own rule for a stage."""
        name = validate_model_name(name)
        target = _stage(stage)
        if target not in APPROVAL_STAGES:
            raise InvalidParameterValue(
                f"Approval can be required for {' and '.join(APPROVAL_STAGES)}, not '{target}'."
            )
        if not self.access.can_manage_model(user, name):
            raise PermissionDenied(
                f"Setting the approval policy of registered model '{name}' needs the manage "
                "right on it; ask an administrator or the model's manager."
            )
        self.store.set_model_policy(name, target, required)
        return self.approval_rules(name)

    # -- the gate on direct transitions (RegistryService.stage_gate) -------------
    def check_direct_move(
        self, name: str, version: int | None, to_stage: str, user: str | None
    ) -> str:
        """Refuse a direct move by someone without the stage right, saying how
        to request it; the cause to record is `override` where approval is
        required (a holder of the right went around it), else `request`."""
        required = self.requires_approval(name, to_stage)
        access = self.access
        if not required and not access.enabled:
            return HistoryCause.REQUEST
        from_stage = (
            to_stage
            if version is None
            else self.registry.get_model_version(name, version).current_stage
        )
        if not access.can_move_stage(user, name, from_stage, to_stage):
            missing = access.stage_right_missing(user, name, from_stage, to_stage)
            why = f"Registered model '{name}' requires approval to enter {to_stage}. "
            raise PermissionDenied(
                (why if required else "")
                + (f"{missing} " if missing else "")
                + HOW_TO_REQUEST.format(name=name, version=version or "<version>", stage=to_stage)
            )
        return HistoryCause.OVERRIDE if required else HistoryCause.REQUEST

    # -- requests ---------------------------------------------------------------
    def create_request(
        self,
        name: str | None,
        version: str | int | None,
        stage: str | None,
        user: str | None,
        comment: str | None = None,
    ) -> TransitionRequest:
        name = validate_model_name(name)
        number = parse_version(version)
        target = _stage(stage)
        if not self.access.can_edit_model(user, name):
            raise PermissionDenied(
                f"Requesting a transition of registered model '{name}' needs the edit right "
                "on it; ask its manager or an administrator."
            )
        current = self.registry.get_model_version(name, number).current_stage
        if current == target:
            raise InvalidParameterValue(
                f"Version {number} of registered model '{name}' is already in {target}."
            )
        try:
            return self.store.create_request(
                name, number, target, self._actor(user, _comment_text(comment))
            )
        except UniqueViolation:
            raise ResourceAlreadyExists(
                f"{user_name(user)} already has an open request to move version {number} of "
                f"registered model '{name}' to {target}; cancel it first to ask again."
            ) from None

    def list_requests(
        self,
        name: str | None = None,
        version: str | int | None = None,
        *,
        statuses: Sequence[str] = (RequestStatus.OPEN,),
        max_results: int | None = None,
        user: str | None = None,
    ) -> list[TransitionRequest]:
        """Requests (open ones by default) on models `user` may read, newest first."""
        model = None if name in (None, "") else validate_model_name(name)
        number = None if version in (None, "") else parse_version(version)
        if number is not None and model is None:
            raise InvalidParameterValue("Missing value for required parameter 'name'.")
        limit = LIST_DEFAULT if max_results is None else max_results
        if not 1 <= limit <= LIST_MAX:
            raise InvalidParameterValue(
                f"Invalid value {limit} for parameter 'max_results': between 1 and {LIST_MAX}."
            )
        found = self.store.list_requests(model, number, list(statuses), limit)
        access = self.access
        return [r for r in found if access.can_read_model(user, r.name)]

    def open_request_counts(self, names: Sequence[str]) -> dict[str, int]:
        return self.store.models_with_open_requests(names)

    def available_actions(self, request: TransitionRequest, user: str | None) -> list[str]:
        if request.status != RequestStatus.OPEN:
            return []
        actions: list[str] = []
        if self.access.can_move_stage(user, request.name, request.from_stage, request.to_stage):
            if not (self.four_eyes and request.user_id == user_name(user)):
                actions.append(AvailableAction.APPROVE)
            actions.append(AvailableAction.REJECT)
        if request.user_id == user_name(user):
            actions.append(AvailableAction.CANCEL)
        return actions

    def approve(
        self,
        name: str | None,
        version: str | int | None,
        stage: str | None,
        user: str | None,
        *,
        archive_existing_versions: bool = False,
        comment: str | None = None,
    ) -> tuple[Decision, ModelVersion]:
        name = validate_model_name(name)
        number = parse_version(version)
        target, archive = self.registry.stage_move(stage, archive_existing_versions)
        current = self.registry.get_model_version(name, number).current_stage
        require_stage_move(self.access, user, name, current, target)
        me = user_name(user)

        def choose(open_requests: Sequence[TransitionRequest]) -> TransitionRequest:
            # Runs inside the approval's transaction, on what is open right now.
            allowed = [r for r in open_requests if not (self.four_eyes and r.user_id == me)]
            if not allowed:
                raise PermissionDenied(
                    f"Four-eyes rule: {me} requested this transition and may not approve it; "
                    "another user with the stage right must."
                )
            return allowed[0]

        return self.store.approve(
            name,
            number,
            StageMove(target, archive, self.registry.exclusive),
            choose,
            self._actor(user, _comment_text(comment)),
        )

    def reject(
        self,
        name: str | None,
        version: str | int | None,
        stage: str | None,
        user: str | None,
        comment: str | None = None,
    ) -> Decision:
        name = validate_model_name(name)
        number = parse_version(version)
        target = _stage(stage)
        current = self.registry.get_model_version(name, number).current_stage
        require_stage_move(self.access, user, name, current, target)
        return self.store.close_requests(
            name, number, target, RequestStatus.REJECTED, self._actor(user, _comment_text(comment))
        )

    def cancel(
        self,
        name: str | None,
        version: str | int | None,
        stage: str | None,
        creator: str | None,
        user: str | None,
        comment: str | None = None,
    ) -> Decision:
        """Cancel the caller's own open request (Databricks names it by `creator`)."""
        name = validate_model_name(name)
        number = parse_version(version)
        target = _stage(stage)
        me = user_name(user)
        owner = creator or me
        if owner != me and not (self.access.enabled and self.access.is_admin(user)):
            raise PermissionDenied(
                f"Only {owner} (who created the request) can cancel it; you are {me}. "
                "Someone with the stage right can reject it instead."
            )
        return self.store.close_requests(
            name,
            number,
            target,
            RequestStatus.CANCELLED,
            self._actor(user, _comment_text(comment)),
            creator=owner,
        )

    # -- comments ---------------------------------------------------------------
    def add_comment(
        self, name: str | None, version: str | int | None, comment: str | None, user: str | None
    ) -> VersionComment:
        name = validate_model_name(name)
        number = parse_version(version)
        if not self.access.can_read_model(user, name):
            raise PermissionDenied(f"You may not read registered model '{name}'.")
        text = _comment_text(comment, required=True)
        return self.store.add_comment(name, number, self._actor(user, text))

    def _own_comment(self, comment_id: str | None, user: str | None, verb: str) -> VersionComment:
        if not comment_id:
            raise InvalidParameterValue("Missing value for required parameter 'id'.")
        try:
            ident = int(comment_id)
        except ValueError:
            raise InvalidParameterValue(
                f"Invalid value '{comment_id}' for parameter 'id': a comment id is a number."
            ) from None
        found = self.store.get_comment(ident)
        admin = self.access.enabled and self.access.is_admin(user)
        if found.user_id != user_name(user) and not admin:
            raise PermissionDenied(
                f"Only {found.user_id}, who wrote comment {ident}, can {verb} it."
            )
        return found

    def update_comment(
        self, comment_id: str | None, comment: str | None, user: str | None
    ) -> VersionComment:
        found = self._own_comment(comment_id, user, "edit")
        text = _comment_text(comment, required=True) or ""
        return self.store.update_comment(found.comment_id, text, self.clock())

    def delete_comment(self, comment_id: str | None, user: str | None) -> None:
        found = self._own_comment(comment_id, user, "delete")
        self.store.delete_comment(found.comment_id)

    def list_comments(self, name: str | None, version: str | int | None) -> list[VersionComment]:
        return self.store.list_comments(validate_model_name(name), parse_version(version))

    def comment_actions(self, comment: VersionComment, user: str | None) -> list[str]:
        admin = self.access.enabled and self.access.is_admin(user)
        if comment.user_id == user_name(user) or admin:
            return [AvailableAction.EDIT_COMMENT, AvailableAction.DELETE_COMMENT]
        return []

    # -- Databricks' permission level -----------------------------------------
    def permission_level(self, name: str, user: str | None) -> str:
        access = self.access
        if access.can_manage_model(user, name):
            return "CAN_MANAGE"
        if access.can_move_stage(user, name, Stage.PRODUCTION, Stage.PRODUCTION):
            return "CAN_MANAGE_PRODUCTION_VERSIONS"
        if access.can_move_stage(user, name, Stage.STAGING, Stage.STAGING):
            return "CAN_MANAGE_STAGING_VERSIONS"
        if access.can_edit_model(user, name):
            return "CAN_EDIT"
        return "CAN_READ"


def wire(services: Any) -> None:
    """Called by `create_app` after the registry: build approvals and gate the registry."""
    from modelyard.store.sql.transition_requests import SqlTransitionRequestStore

    registry = services.registry
    approvals = ApprovalService(
        SqlTransitionRequestStore(services.db, registry.store),
        registry,
        access=lambda: services.access,
        require_approval=services.settings.approval_stages,
        four_eyes=services.settings.approval_four_eyes,
        clock=services.clock,
    )
    registry.stage_gate = approvals
    services.approvals = approvals
