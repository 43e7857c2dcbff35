"""Transition requests and comments: Databricks' workspace-registry API, self-hosted.

Shapes follow `databricks-sdk`'s `databricks/sdk/service/ml.py` (`ModelRegistryAPI`):
a request is a `TransitionRequest` (`available_actions` for the caller,
`comment`, `creation_timestamp`, `to_stage`, `user_id`), a decision answers an
`Activity`, a comment a `CommentObject`. We add fields clients ignore and
people find useful (`id`, `from_stage`, `name`, `version`, `status`).
Served, as MLflow's routes are, under `/api/2.0/mlflow/` and `/ajax-api/2.0/mlflow/`:

`POST transition-requests/create` `{name, version, stage, comment}` -> `{request}`
`POST transition-requests/approve` `{name, version, stage, archive_existing_versions,
    comment}` -> `{activity}`; performs the transition
`POST transition-requests/reject` `{name, version, stage, comment}` -> `{activity}`
`DELETE transition-requests/delete?name=&version=&stage=&creator=&comment=` -> `{activity}`
`GET transition-requests/list?name=&version=` -> `{requests: [Activity…]}` (open ones)
`POST comments/create` `{name, version, comment}` -> `{comment}`
`PATCH comments/update` `{id, comment}` -> `{comment}`
`DELETE comments/delete?id=` -> `{}`

modelyard's own, under `/api/modelyard/v1/` (and `/ajax-api/modelyard/v1/`):

`GET transition-requests/search?name=&status=&max_results=` -> `{requests}`: every
    model's requests (open by default; `status` repeats: open, approved, rejected,
    cancelled, void), for the CLI and the UI.
`GET registered-models/approval-policy?name=` -> `{name, stages: [{stage, required,
    source}]}`; `source` is `model` (set on the model) or `server` (--require-approval).
`POST registered-models/approval-policy` `{name, stage, required}` sets the model's
    rule (`required` true or false; null drops it back to the server's default).
"""

from __future__ import annotations

from typing import Any

from starlette.routing import BaseRoute, Route

from modelyard.approval_entities import (
    ActivityType,
    Decision,
    RequestStatus,
    StageApproval,
    TransitionRequest,
    VersionComment,
)
from modelyard.errors import InvalidParameterValue
from modelyard.http.args import Args
from modelyard.http.auth_rules import USER, Rule, model
from modelyard.http.endpoint import Ctx, Handler, RouteSpec, api
from modelyard.service.permissions import EDIT, MANAGE, READ

Json = dict[str, Any]

PREFIXES = ("/api/modelyard/v1", "/ajax-api/modelyard/v1")

_DECISION_TYPE = {
    RequestStatus.APPROVED: ActivityType.APPROVED_REQUEST,
    RequestStatus.REJECTED: ActivityType.REJECTED_REQUEST,
    RequestStatus.CANCELLED: ActivityType.CANCELLED_REQUEST,
}


def _drop_none(out: Json) -> Json:
    return {k: v for k, v in out.items() if v is not None}


def request_json(r: TransitionRequest, actions: list[str]) -> Json:
    """A TransitionRequest (and, for listings, an Activity of type REQUESTED_TRANSITION)."""
    return _drop_none(
        {
            "id": str(r.request_id),
            "activity_type": ActivityType.REQUESTED_TRANSITION,
            "name": r.name,
            "version": str(r.version),
            "from_stage": r.from_stage,
            "to_stage": r.to_stage,
            "user_id": r.user_id,
            "comment": r.comment,
            "creation_timestamp": r.creation_timestamp,
            "last_updated_timestamp": r.last_updated_timestamp,
            "status": r.status,
            "decided_by": r.decided_by,
            "decision_comment": r.decision_comment,
            "available_actions": actions,
        }
    )


def decision_json(d: Decision) -> Json:
    """The Activity a decision produced."""
    r = d.request
    return _drop_none(
        {
            "id": str(d.event_id),
            "activity_type": _DECISION_TYPE[r.status],
            "from_stage": r.from_stage,
            "to_stage": r.to_stage,
            "user_id": r.decided_by,
            "comment": r.decision_comment,
            "creation_timestamp": d.timestamp,
            "last_updated_timestamp": d.timestamp,
        }
    )


def comment_json(c: VersionComment, actions: list[str]) -> Json:
    return {
        "id": str(c.comment_id),
        "user_id": c.user_id,
        "comment": c.comment,
        "creation_timestamp": c.creation_timestamp,
        "last_updated_timestamp": c.last_updated_timestamp,
        "available_actions": actions,
    }


def policy_json(name: str, rules: list[StageApproval]) -> Json:
    return {
        "name": name,
        "stages": [{"stage": r.stage, "required": r.required, "source": r.source} for r in rules],
    }


def _query(ctx: Ctx, args: Args) -> Args:
    """Databricks sends DELETE's fields as query parameters; accept a body too."""
    query = ctx.request.query_params
    return Args(dict(query.items()), query) if len(query) else args


# -- Databricks' routes -------------------------------------------------------------
def create_request(ctx: Ctx, args: Args) -> Json:
    """Open a request to move a version to a stage (Databricks `CreateTransitionRequest`)."""
    user = ctx.identity.user
    approvals = ctx.services.approvals
    r = approvals.create_request(
        args.str("name"), args.str("version"), args.str("stage"), user, args.opt_str("comment")
    )
    return {"request": request_json(r, approvals.available_actions(r, user))}


def approve_request(ctx: Ctx, args: Args) -> Json:
    """Approve the open request and perform the transition in the same transaction."""
    decision, _moved = ctx.services.approvals.approve(
        args.str("name"),
        args.str("version"),
        args.str("stage"),
        ctx.identity.user,
        archive_existing_versions=args.opt_bool("archive_existing_versions"),
        comment=args.opt_str("comment"),
    )
    return {"activity": decision_json(decision)}


def reject_request(ctx: Ctx, args: Args) -> Json:
    """Reject the open requests for (version, stage); the version stays where it is."""
    decision = ctx.services.approvals.reject(
        args.str("name"),
        args.str("version"),
        args.str("stage"),
        ctx.identity.user,
        args.opt_str("comment"),
    )
    return {"activity": decision_json(decision)}


def delete_request(ctx: Ctx, args: Args) -> Json:
    """Cancel the caller's own open request (fields as query parameters)."""
    fields = _query(ctx, args)
    decision = ctx.services.approvals.cancel(
        fields.str("name"),
        fields.str("version"),
        fields.str("stage"),
        fields.opt_str("creator"),
        ctx.identity.user,
        fields.opt_str("comment"),
    )
    return {"activity": decision_json(decision)}


def list_requests(ctx: Ctx, args: Args) -> Json:
    """The version's open requests, with the caller's available actions."""
    user = ctx.identity.user
    approvals = ctx.services.approvals
    found = approvals.list_requests(args.str("name"), args.str("version"), user=user)
    return {"requests": [request_json(r, approvals.available_actions(r, user)) for r in found]}


def create_comment(ctx: Ctx, args: Args) -> Json:
    """Comment on a model version."""
    user = ctx.identity.user
    approvals = ctx.services.approvals
    c = approvals.add_comment(args.str("name"), args.str("version"), args.opt_str("comment"), user)
    return {"comment": comment_json(c, approvals.comment_actions(c, user))}


def update_comment(ctx: Ctx, args: Args) -> Json:
    """Edit one of the caller's comments."""
    user = ctx.identity.user
    approvals = ctx.services.approvals
    c = approvals.update_comment(args.opt_str("id"), args.opt_str("comment"), user)
    return {"comment": comment_json(c, approvals.comment_actions(c, user))}


def delete_comment(ctx: Ctx, args: Args) -> None:
    """Delete one of the caller's comments."""
    ctx.services.approvals.delete_comment(_query(ctx, args).opt_str("id"), ctx.identity.user)


ROUTES: list[RouteSpec] = [
    ("POST", "transition-requests/create", create_request),
    ("POST", "transition-requests/approve", approve_request),
    ("POST", "transition-requests/reject", reject_request),
    ("DELETE", "transition-requests/delete", delete_request),
    ("GET", "transition-requests/list", list_requests),
    ("POST", "comments/create", create_comment),
    ("PATCH", "comments/update", update_comment),
    ("DELETE", "comments/delete", delete_comment),
]


# -- modelyard's own ------------------------------------------------------------------
def search_requests(ctx: Ctx, args: Args) -> Json:
    """Promotion requests across every model the caller may read, open ones unless
    `status` asks for others; optional `name`, `version` and `max_results` narrow it.
    Backs `modelyard approvals list` and the UI's approvals page."""
    user = ctx.identity.user
    approvals = ctx.services.approvals
    statuses = args.str_list("status") or [RequestStatus.OPEN]
    allowed = (
        RequestStatus.OPEN,
        RequestStatus.APPROVED,
        RequestStatus.REJECTED,
        RequestStatus.CANCELLED,
        RequestStatus.VOID,
    )
    for status in statuses:
        if status not in allowed:
            raise InvalidParameterValue(
                f"Invalid value '{status}' for parameter 'status': use one of {', '.join(allowed)}."
            )
    found = approvals.list_requests(
        args.opt_str("name"),
        args.opt_str("version"),
        statuses=statuses,
        max_results=args.opt_int("max_results"),
        user=user,
    )
    return {"requests": [request_json(r, approvals.available_actions(r, user)) for r in found]}


def get_policy(ctx: Ctx, args: Args) -> Json:
    """Whether moving a model's versions into each stage needs an approved request,
    and whether that rule was set on the model or comes from `--require-approval`."""
    name = args.str("name")
    return policy_json(name, ctx.services.approvals.approval_rules(name))


def set_policy(ctx: Ctx, args: Args) -> Json:
    """Require (or stop requiring) an approved request before a model's versions enter
    a stage; `required: null` drops the model's rule back to the server's default."""
    name = args.str("name")
    raw = args.raw("required")
    if raw is not None and not isinstance(raw, bool):
        raise InvalidParameterValue(
            f"Invalid value {raw!r} for parameter 'required': use true, false or null."
        )
    rules = ctx.services.approvals.set_approval_rule(
        name, args.str("stage"), raw, ctx.identity.user
    )
    return policy_json(name, rules)


_OWN_ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "transition-requests/search", search_requests),
    ("GET", "registered-models/approval-policy", get_policy),
    ("POST", "registered-models/approval-policy", set_policy),
]

RAW_ROUTES: list[BaseRoute] = [
    Route(f"{prefix}/{path}", api(handler), methods=[method])
    for prefix in PREFIXES
    for method, path, handler in _OWN_ROUTES
]

# Permission rules (http/auth_rules.py). Who may approve, reject or cancel
# depends on the version's stage and the request's creator: the rule asks for
# READ and the service finishes the check through `services.access`.
PERMISSIONS: dict[tuple[str, str], Rule] = {
    ("POST", "transition-requests/create"): model(EDIT),
    ("POST", "transition-requests/approve"): model(READ),
    ("POST", "transition-requests/reject"): model(READ),
    ("DELETE", "transition-requests/delete"): model(READ),
    ("GET", "transition-requests/list"): model(READ),
    ("POST", "comments/create"): model(READ),
    # A comment is named by its id; the service lets only its author change it.
    ("PATCH", "comments/update"): USER,
    ("DELETE", "comments/delete"): USER,
    **{
        (method, f"{prefix}/{path}"): rule
        for prefix in PREFIXES
        for method, path, rule in (
            ("GET", "transition-requests/search", USER),  # filtered to readable models
            ("GET", "registered-models/approval-policy", model(READ)),
            ("POST", "registered-models/approval-policy", model(MANAGE)),
        )
    },
}
