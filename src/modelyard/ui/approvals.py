"""The version page's promotion requests and comments, and their form posts.

`version_context` adds what `_transition_requests.html` shows: the open
requests with the buttons the viewer may use (from `available_actions`, the
same answer the API gives), the stages the viewer may only *request*
(approval required and no stage right), and the comment thread. Every post
goes through `ApprovalService`, so the page cannot bypass a rule.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from modelyard.approval_entities import AvailableAction
from modelyard.errors import InvalidParameterValue, ResourceDoesNotExist
from modelyard.http.auth_rules import Rule, model
from modelyard.registry_entities import ModelVersion, Stage
from modelyard.service.permissions import MANAGE, READ
from modelyard.ui.render import url_quote
from modelyard.ui.web import UiRequest, redirect

NOTICES = {
    "requested": "Promotion requested.",
    "approved": "Request approved: the version has moved.",
    "rejected": "Request rejected.",
    "cancelled": "Request cancelled.",
    "commented": "Comment added.",
    "policy": "Approval policy saved.",
}

MANAGE_NEEDED = (
    "Changing the approval policy needs the manage right on this model; "
    "ask an administrator or the model's manager."
)


def version_url(name: str, version: int | str, suffix: str = "") -> str:
    # Same as ui.models.version_url, which imports this module.
    return f"/models/{url_quote(name)}/versions/{version}{suffix}"


def _approvals(req: UiRequest) -> Any:
    approvals = req.services.approvals
    if approvals is None:
        raise ResourceDoesNotExist("This server has no model registry.")
    return approvals


def version_context(req: UiRequest, mv: ModelVersion) -> dict[str, Any]:
    """Context for `_transition_requests.html` on the version page."""
    approvals = _approvals(req)
    user = req.user
    access = approvals.access
    requests = [
        {"r": r, "actions": approvals.available_actions(r, user)}
        for r in approvals.list_requests(mv.name, mv.version, user=user)
    ]
    # Stages the viewer may only request: where they lack the stage right (a
    # direct move would be refused, whether approval is required or not).
    gated = {
        s
        for s in Stage.EXCLUSIVE
        if s != mv.current_stage and not access.can_move_stage(user, mv.name, mv.current_stage, s)
    }
    return {
        "requests": requests,
        "request_only": sorted(gated),
        "approval_rules": approvals.approval_rules(mv.name),
        "comments": approvals.list_comments(mv.name, mv.version),
        "approval_notice": NOTICES.get(req.arg("done")),
        "actions": AvailableAction,
    }


def open_request_counts(req: UiRequest, names: list[str]) -> dict[str, int]:
    """For the Models page's mark: open requests per model shown."""
    return dict(_approvals(req).open_request_counts(names)) if names else {}


def policy_context(req: UiRequest, name: str) -> dict[str, Any]:
    """Context for `_approval_policy.html` on the model page: the rule per stage
    (and whether it is the model's own or the server's default), and whether the
    viewer may change it, asked of `Access` as the REST call's service asks."""
    approvals = _approvals(req)
    may_set = approvals.access.can_manage_model(req.user, name)
    return {
        "approval_rules": approvals.approval_rules(name),
        "policy_editable": may_set,
        "policy_refusal": None if may_set else MANAGE_NEEDED,
        "policy_notice": NOTICES.get(req.arg("done")) if req.arg("done") == "policy" else None,
    }


def policy_apply(req: UiRequest) -> Response:
    """Save the model page's checkboxes through `set_approval_rule`, the REST
    route's method. Only a stage whose box disagrees with the rule in force is
    written, so a stage left as it was keeps following the server's default."""
    approvals = _approvals(req)
    name = req.path_params["name"]
    checked = set(req.form.getlist("stage"))
    for rule in approvals.approval_rules(name):
        wanted = rule.stage in checked
        if wanted != rule.required:
            approvals.set_approval_rule(name, rule.stage, wanted, req.user)
    return redirect(f"/models/{url_quote(name)}?done=policy#approval-policy")


def request_apply(req: UiRequest) -> Response:
    approvals = _approvals(req)
    name, version = req.path_params["name"], req.path_params["version"]
    action, stage, comment = req.field("action"), req.field("to"), req.field("comment") or None
    user = req.user
    if action == "request":
        approvals.create_request(name, version, stage, user, comment)
        done = "requested"
    elif action == "approve":
        approvals.approve(
            name, version, stage, user, archive_existing_versions=True, comment=comment
        )
        done = "approved"
    elif action == "reject":
        approvals.reject(name, version, stage, user, comment)
        done = "rejected"
    elif action == "cancel":
        approvals.cancel(name, version, stage, req.field("creator") or None, user, comment)
        done = "cancelled"
    else:
        raise InvalidParameterValue(
            f"Unknown action {action!r}: use request, approve, reject or cancel."
        )
    return redirect(version_url(name, version, f"?done={done}#requests"))


def comment_apply(req: UiRequest) -> Response:
    name, version = req.path_params["name"], req.path_params["version"]
    _approvals(req).add_comment(name, version, req.field("comment"), req.user)
    return redirect(version_url(name, version, "?done=commented#requests"))


_V = "/models/{name}/versions/{version:int}"

# Permission rules (http/auth_rules.py): the service checks the edit right to
# request, the stage right to approve or reject, authorship to cancel; the
# policy needs MANAGE, as its REST route does.
PERMISSIONS: dict[tuple[str, str], Rule] = {
    ("POST", "/models/{name}/approval-policy"): model(MANAGE),
    ("POST", f"{_V}/requests"): model(READ),
    ("POST", f"{_V}/comments"): model(READ),
}
