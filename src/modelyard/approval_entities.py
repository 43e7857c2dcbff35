"""Promotion requests, approvals and comments: frozen dataclasses, no JSON, no SQL.

A `TransitionRequest` asks for one model version to move to one stage; it is
`open` until someone approves, rejects or cancels it, or until it becomes
`void` (its version was deleted or reached the stage some other way). The
requests, their decisions and the comments also land in the model's promotion
history (`registry_history`, see `registry_entities.HistoryEvent`), with the
actions named in `ApprovalAction`, so one timeline answers who asked, who
decided, when and why.
"""

from __future__ import annotations

from dataclasses import dataclass

ANONYMOUS_USER = "anonymous"


class RequestStatus:
    OPEN = "open"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    VOID = "void"


class ApprovalAction:
    """History actions added by approvals (next to `HistoryAction`'s)."""

    REQUESTED = "transition_requested"
    APPROVED = "request_approved"
    REJECTED = "request_rejected"
    CANCELLED = "request_cancelled"
    VOIDED = "request_void"
    COMMENTED = "comment"
    ALL = (REQUESTED, APPROVED, REJECTED, CANCELLED, VOIDED, COMMENTED)


class ActivityType:
    """Databricks' activity types (`databricks.sdk.service.ml.ActivityType`)."""

    APPLIED_TRANSITION = "APPLIED_TRANSITION"
    REQUESTED_TRANSITION = "REQUESTED_TRANSITION"
    CANCELLED_REQUEST = "CANCELLED_REQUEST"
    APPROVED_REQUEST = "APPROVED_REQUEST"
    REJECTED_REQUEST = "REJECTED_REQUEST"
    SYSTEM_TRANSITION = "SYSTEM_TRANSITION"
    NEW_COMMENT = "NEW_COMMENT"


class AvailableAction:
    """What the caller may do with a request or comment (Databricks' names)."""

    APPROVE = "APPROVE_TRANSITION_REQUEST"
    REJECT = "REJECT_TRANSITION_REQUEST"
    CANCEL = "CANCEL_TRANSITION_REQUEST"
    EDIT_COMMENT = "EDIT_COMMENT"
    DELETE_COMMENT = "DELETE_COMMENT"


@dataclass(frozen=True, slots=True)
class TransitionRequest:
    request_id: int
    name: str
    version: int
    from_stage: str
    to_stage: str
    user_id: str
    creation_timestamp: int
    last_updated_timestamp: int
    status: str = RequestStatus.OPEN
    comment: str | None = None
    decided_by: str | None = None
    decision_comment: str | None = None


@dataclass(frozen=True, slots=True)
class VersionComment:
    comment_id: int
    name: str
    version: int
    user_id: str
    comment: str
    creation_timestamp: int
    last_updated_timestamp: int


@dataclass(frozen=True, slots=True)
class StageApproval:
    """Whether entering `stage` needs an approved request, and who said so:
    `model` (set on the registered model) or `server` (--require-approval)."""

    stage: str
    required: bool
    source: str


@dataclass(frozen=True, slots=True)
class Decision:
    """What approving, rejecting or cancelling produced: the request as it now
    stands and the history event id of the decision (the activity's id)."""

    request: TransitionRequest
    event_id: int
    timestamp: int
