"""Promotion requests and approvals, service over the real store, on SQLite and
PostgreSQL: the workflow, its refusals (through a small `Access` double that
grants stage rights per user, as authentication will), voiding, comments and
the history timeline."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from access_double import StageRights

from modelyard.approval_entities import ActivityType, ApprovalAction, AvailableAction, RequestStatus
from modelyard.errors import (
    InvalidParameterValue,
    PermissionDenied,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
)
from modelyard.registry_entities import HistoryCause
from modelyard.service.access import Access, OpenAccess
from modelyard.service.registry import RegistryService
from modelyard.service.transition_requests import ApprovalService, activity_type
from modelyard.store.registry import Actor, NewModelVersion
from modelyard.store.sql.db import Database
from modelyard.store.sql.registry import SqlRegistryStore
from modelyard.store.sql.transition_requests import SqlTransitionRequestStore


class Clock:
    def __init__(self) -> None:
        self.now = 1_000

    def __call__(self) -> int:
        self.now += 1
        return self.now


Build = Callable[..., ApprovalService]


@pytest.fixture
def build(db: Database) -> Iterator[Build]:
    def make(
        access: Access | None = None, require: tuple[str, ...] = (), four_eyes: bool = False
    ) -> ApprovalService:
        clock = Clock()
        store = SqlRegistryStore(db)
        registry = RegistryService(
            store,
            tracking=None,  # type: ignore[arg-type]  # not reached: versions come from the store
            clock=clock,
            new_id=lambda: "id",
        )
        chosen: Access = access or OpenAccess()
        approvals = ApprovalService(
            SqlTransitionRequestStore(db, store),
            registry,
            access=lambda: chosen,
            require_approval=require,
            four_eyes=four_eyes,
            clock=clock,
        )
        registry.stage_gate = approvals
        store.create_registered_model("m", None, [], 1)
        for _ in range(3):
            store.create_model_version(
                NewModelVersion("m", "runs:/r/model", None, "r", "", None, "", "trainer"),
                Actor(now=2),
            )
        return approvals

    yield make


def stage_of(approvals: ApprovalService, version: int) -> str:
    return approvals.registry.get_model_version("m", version).current_stage


def test_request_approve_moves_the_version_and_archives_the_previous_holder(build: Build) -> None:
    approvals = build(StageRights({"bob": {"Production"}}), require=("Production",))
    approvals.registry.transition_stage("m", 1, "Production", user="bob")
    request = approvals.create_request("m", "2", "production", "alice", "accuracy 0.97")
    assert (request.from_stage, request.to_stage, request.user_id) == (
        "None",
        "Production",
        "alice",
    )
    assert approvals.available_actions(request, "alice") == [AvailableAction.CANCEL]
    assert approvals.available_actions(request, "bob") == [
        AvailableAction.APPROVE,
        AvailableAction.REJECT,
    ]
    assert [r.request_id for r in approvals.list_requests("m", 2)] == [request.request_id]

    decision, moved = approvals.approve("m", 2, "Production", "bob", comment="ship it")
    assert decision.request.status == RequestStatus.APPROVED
    assert (decision.request.decided_by, decision.request.decision_comment) == ("bob", "ship it")
    assert moved.current_stage == "Production"
    assert stage_of(approvals, 1) == "Archived"
    assert approvals.list_requests("m", 2) == []

    events = approvals.registry.history("m").items
    trail = [(e.version, activity_type(e), e.cause, e.user_id) for e in reversed(events)][-4:]
    assert trail == [
        (2, ActivityType.REQUESTED_TRANSITION, HistoryCause.REQUEST, "alice"),
        (2, ActivityType.APPROVED_REQUEST, HistoryCause.REQUEST, "bob"),
        (1, ActivityType.SYSTEM_TRANSITION, HistoryCause.DISPLACED, "bob"),
        (2, ActivityType.APPLIED_TRANSITION, HistoryCause.APPROVAL, "bob"),
    ]
    # The direct move of version 1 by bob, where approval is required, says so.
    first = next(e for e in reversed(events) if e.version == 1 and e.to_stage == "Production")
    assert first.cause == HistoryCause.OVERRIDE

    # A second approval finds nothing open and says what happened.
    with pytest.raises(ResourceDoesNotExist, match="approved by bob"):
        approvals.approve("m", 2, "Production", "bob")


def test_direct_transition_without_the_right_is_refused_with_how_to_request(
    build: Build,
) -> None:
    rights = StageRights({"bob": {"Production"}, "alice": {"Staging"}})
    approvals = build(rights, require=("Production",))
    with pytest.raises(PermissionDenied) as refused:
        approvals.registry.transition_stage("m", 1, "Production", user="alice")
    message = refused.value.message
    assert "requires approval to enter Production" in message
    assert "alice lacks the Production right" in message
    assert "transition-requests/create" in message
    assert "modelyard models request m 1 --to Production" in message
    assert stage_of(approvals, 1) == "None"
    # Rolling back into Production is a direct move too.
    with pytest.raises(PermissionDenied):
        approvals.registry.rollback("m", "Production", user="alice")
    # Staging needs no approval here, and alice holds its right.
    approvals.registry.transition_stage("m", 1, "Staging", user="alice")
    assert stage_of(approvals, 1) == "Staging"


def test_requester_without_the_right_may_not_approve(build: Build) -> None:
    approvals = build(StageRights({"bob": {"Staging"}}), require=("Production", "Staging"))
    approvals.create_request("m", 1, "Production", "alice")
    with pytest.raises(PermissionDenied, match="alice lacks"):
        approvals.approve("m", 1, "Production", "alice")
    with pytest.raises(PermissionDenied, match="bob lacks"):
        approvals.approve("m", 1, "Production", "bob")  # Staging right only
    with pytest.raises(PermissionDenied):
        approvals.reject("m", 1, "Production", "alice")
    assert stage_of(approvals, 1) == "None"
    assert len(approvals.list_requests("m", 1)) == 1


def test_four_eyes_refuses_approving_your_own_request(build: Build) -> None:
    rights = StageRights({"alice": {"Production"}, "bob": {"Production"}})
    approvals = build(rights, require=("Production",), four_eyes=True)
    request = approvals.create_request("m", 1, "Production", "alice")
    assert AvailableAction.APPROVE not in approvals.available_actions(request, "alice")
    with pytest.raises(PermissionDenied, match="Four-eyes"):
        approvals.approve("m", 1, "Production", "alice")
    decision, _ = approvals.approve("m", 1, "Production", "bob")
    assert decision.request.user_id == "alice"


def test_reject_and_cancel(build: Build) -> None:
    approvals = build(StageRights({"bob": {"Production"}}))
    approvals.create_request("m", 1, "Production", "alice", "try me")
    rejected = approvals.reject("m", 1, "Production", "bob", "latency too high")
    assert (rejected.request.status, rejected.request.decided_by) == ("rejected", "bob")
    assert stage_of(approvals, 1) == "None"

    approvals.create_request("m", 1, "Production", "alice")  # may ask again once closed
    with pytest.raises(ResourceAlreadyExists, match="already has an open request"):
        approvals.create_request("m", 1, "Production", "alice")
    with pytest.raises(PermissionDenied, match="Only alice"):
        approvals.cancel("m", 1, "Production", "alice", "carol")
    cancelled = approvals.cancel("m", 1, "Production", None, "alice", "not yet")
    assert cancelled.request.status == RequestStatus.CANCELLED
    with pytest.raises(ResourceDoesNotExist, match="No open transition request by 'alice'"):
        approvals.cancel("m", 1, "Production", None, "alice")
    actions = [e.action for e in approvals.registry.history("m", 1).items]
    assert actions[:4] == [
        ApprovalAction.CANCELLED,
        ApprovalAction.REQUESTED,
        ApprovalAction.REJECTED,
        ApprovalAction.REQUESTED,
    ]


def test_requests_turn_void_when_the_version_moves_there_or_is_deleted(build: Build) -> None:
    approvals = build()
    approvals.create_request("m", 1, "Staging", "alice")
    approvals.create_request("m", 1, "Production", "alice")
    approvals.create_request("m", 2, "Production", "alice")
    approvals.registry.transition_stage("m", 1, "Staging", user="bob")
    left = approvals.list_requests("m", 1)
    assert [r.to_stage for r in left] == ["Production"]
    approvals.registry.delete_model_version("m", 2, user="bob")
    assert approvals.list_requests("m", 2) == []
    void = approvals.list_requests("m", statuses=[RequestStatus.VOID])
    assert sorted((r.version, r.to_stage) for r in void) == [(1, "Staging"), (2, "Production")]
    with pytest.raises(InvalidParameterValue, match="already in Staging"):
        approvals.create_request("m", 1, "Staging", "alice")
    voided = [e for e in approvals.registry.history("m").items if e.action == ApprovalAction.VOIDED]
    assert {e.comment for e in voided} == {"version reached Staging", "version deleted"}


def test_approval_policy_model_rule_overrides_the_server_default(build: Build) -> None:
    approvals = build(require=("Production",))
    rules = {r.stage: (r.required, r.source) for r in approvals.approval_rules("m")}
    assert rules == {"Staging": (False, "server"), "Production": (True, "server")}
    approvals.set_approval_rule("m", "staging", True, None)
    approvals.set_approval_rule("m", "Production", False, None)
    rules = {r.stage: (r.required, r.source) for r in approvals.approval_rules("m")}
    assert rules == {"Staging": (True, "model"), "Production": (False, "model")}
    approvals.set_approval_rule("m", "Production", None, None)
    assert approvals.requires_approval("m", "Production")
    with pytest.raises(InvalidParameterValue, match="not 'Archived'"):
        approvals.set_approval_rule("m", "Archived", True, None)


def test_setting_the_policy_needs_the_manage_right(build: Build) -> None:
    approvals = build(StageRights({}, admins=frozenset({"root"})))
    with pytest.raises(PermissionDenied, match="manage right"):
        approvals.set_approval_rule("m", "Production", True, "alice")
    approvals.set_approval_rule("m", "Production", True, "root")
    assert approvals.requires_approval("m", "Production")


def test_comments_belong_to_their_author(build: Build) -> None:
    approvals = build(StageRights({}, admins=frozenset({"root"})))
    first = approvals.add_comment("m", 1, "looks good", "alice")
    approvals.add_comment("m", 1, "agreed", "bob")
    assert [c.comment for c in approvals.list_comments("m", 1)] == ["looks good", "agreed"]
    assert approvals.comment_actions(first, "bob") == []
    with pytest.raises(PermissionDenied, match="Only alice"):
        approvals.update_comment(str(first.comment_id), "hijacked", "bob")
    edited = approvals.update_comment(str(first.comment_id), "looks great", "alice")
    assert edited.comment == "looks great"
    approvals.delete_comment(str(first.comment_id), "root")
    assert [c.comment for c in approvals.list_comments("m", 1)] == ["agreed"]
    with pytest.raises(ResourceDoesNotExist):
        approvals.delete_comment(str(first.comment_id), "root")
    with pytest.raises(InvalidParameterValue, match="'comment'"):
        approvals.add_comment("m", 1, "", "alice")
    assert any(
        activity_type(e) == ActivityType.NEW_COMMENT for e in approvals.registry.history("m").items
    )


def test_bad_input_is_worded(build: Build) -> None:
    approvals = build()
    with pytest.raises(ResourceDoesNotExist):
        approvals.create_request("m", 9, "Production", "alice")
    with pytest.raises(InvalidParameterValue, match="stage"):
        approvals.create_request("m", 1, "Prod", "alice")
    with pytest.raises(ResourceDoesNotExist, match="No open transition request"):
        approvals.approve("m", 1, "Production", None)
    with pytest.raises(InvalidParameterValue, match="comment id is a number"):
        approvals.delete_comment("x", None)
