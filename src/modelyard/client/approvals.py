"""Promotion requests, approvals and comments on `modelyard.Client`.

The Databricks-compatible routes (`/api/2.0/mlflow/transition-requests/…`,
`…/comments/…`, see `modelyard.http.transition_requests`) and modelyard's
listing across models and approval policy. Mixed into `Client`; answers are
the entities of `modelyard.approval_entities`.
"""

from __future__ import annotations

import json
from typing import Any

from modelyard.approval_entities import (
    Decision,
    RequestStatus,
    StageApproval,
    TransitionRequest,
    VersionComment,
)
from modelyard.client.rest import MODELYARD_API, Json, Rest


def _request(
    j: Json, name: str | None = None, version: int | str | None = None
) -> TransitionRequest:
    return TransitionRequest(
        request_id=int(j.get("id") or 0),
        name=str(j.get("name") or name or ""),
        version=int(j.get("version") or version or 0),
        from_stage=str(j.get("from_stage") or ""),
        to_stage=str(j.get("to_stage") or ""),
        user_id=str(j.get("user_id") or ""),
        creation_timestamp=int(j.get("creation_timestamp") or 0),
        last_updated_timestamp=int(j.get("last_updated_timestamp") or 0),
        status=str(j.get("status") or RequestStatus.OPEN),
        comment=j.get("comment"),
        decided_by=j.get("decided_by"),
        decision_comment=j.get("decision_comment"),
    )


def _decision(j: Json, name: str, version: int | str, status: str) -> Decision:
    """A decision as the client knows it from the Activity the server answered."""
    request = TransitionRequest(
        request_id=0,
        name=name,
        version=int(version),
        from_stage=str(j.get("from_stage") or ""),
        to_stage=str(j.get("to_stage") or ""),
        user_id="",
        creation_timestamp=int(j.get("creation_timestamp") or 0),
        last_updated_timestamp=int(j.get("last_updated_timestamp") or 0),
        status=status,
        decided_by=j.get("user_id"),
        decision_comment=j.get("comment"),
    )
    return Decision(request, int(j.get("id") or 0), int(j.get("creation_timestamp") or 0))


def _comment(j: Json, name: str = "", version: int | str = 0) -> VersionComment:
    return VersionComment(
        comment_id=int(j["id"]),
        name=name,
        version=int(version),
        user_id=str(j.get("user_id") or ""),
        comment=str(j.get("comment") or ""),
        creation_timestamp=int(j.get("creation_timestamp") or 0),
        last_updated_timestamp=int(j.get("last_updated_timestamp") or 0),
    )


class ApprovalMethods:
    rest: Rest

    def request_transition(
        self, name: str, version: int | str, stage: str, comment: str | None = None
    ) -> TransitionRequest:
        """Ask for `version` of `name` to be moved to `stage`."""
        answer = self.rest.mlflow(
            "POST",
            "transition-requests/create",
            {"name": name, "version": str(version), "stage": stage, "comment": comment},
        )
        return _request(answer["request"], name, version)

    def approve_transition_request(
        self,
        name: str,
        version: int | str,
        stage: str,
        comment: str | None = None,
        archive_existing_versions: bool = True,
    ) -> Decision:
        """Approve the open request, which performs the transition."""
        answer = self.rest.mlflow(
            "POST",
            "transition-requests/approve",
            {
                "name": name,
                "version": str(version),
                "stage": stage,
                "archive_existing_versions": archive_existing_versions,
                "comment": comment,
            },
        )
        return _decision(answer["activity"], name, version, RequestStatus.APPROVED)

    def reject_transition_request(
        self, name: str, version: int | str, stage: str, comment: str | None = None
    ) -> Decision:
        answer = self.rest.mlflow(
            "POST",
            "transition-requests/reject",
            {"name": name, "version": str(version), "stage": stage, "comment": comment},
        )
        return _decision(answer["activity"], name, version, RequestStatus.REJECTED)

    def cancel_transition_request(
        self,
        name: str,
        version: int | str,
        stage: str,
        creator: str | None = None,
        comment: str | None = None,
    ) -> Decision:
        """Cancel your own open request (`creator`: you, by default)."""
        answer = self.rest.mlflow(
            "DELETE",
            "transition-requests/delete",
            {
                "name": name,
                "version": str(version),
                "stage": stage,
                "creator": creator,
                "comment": comment,
            },
        )
        return _decision(answer["activity"], name, version, RequestStatus.CANCELLED)

    def search_transition_requests(
        self,
        name: str | None = None,
        version: int | str | None = None,
        statuses: tuple[str, ...] = (RequestStatus.OPEN,),
        max_results: int | None = None,
    ) -> list[TransitionRequest]:
        """Requests across models (open ones by default), newest first."""
        answer = self.rest.modelyard(
            "GET",
            "transition-requests/search",
            {
                "name": name,
                "version": None if version is None else str(version),
                "status": list(statuses),
                "max_results": max_results,
            },
        )
        return [_request(r) for r in answer.get("requests") or ()]

    def create_comment(self, name: str, version: int | str, comment: str) -> VersionComment:
        answer = self.rest.mlflow(
            "POST", "comments/create", {"name": name, "version": str(version), "comment": comment}
        )
        return _comment(answer["comment"], name, version)

    def update_comment(self, comment_id: int | str, comment: str) -> VersionComment:
        answer = self.rest.mlflow(
            "PATCH", "comments/update", {"id": str(comment_id), "comment": comment}
        )
        return _comment(answer["comment"])

    def delete_comment(self, comment_id: int | str) -> None:
        self.rest.mlflow("DELETE", "comments/delete", {"id": str(comment_id)})

    def get_approval_policy(self, name: str) -> list[StageApproval]:
        answer = self.rest.modelyard("GET", "registered-models/approval-policy", {"name": name})
        return _rules(answer)

    def set_approval_policy(
        self, name: str, stage: str, required: bool | None
    ) -> list[StageApproval]:
        """Require (True), exempt (False) or follow the server (None) for `stage`."""
        body: dict[str, Any] = {"name": name, "stage": stage, "required": required}
        # Not `Rest.call`: it drops None values, and "required": null must arrive.
        response = self.rest.send(
            "POST",
            f"{MODELYARD_API}/registered-models/approval-policy",
            content=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        return _rules(dict(response.json()))


def _rules(answer: Json) -> list[StageApproval]:
    return [
        StageApproval(str(r["stage"]), bool(r["required"]), str(r["source"]))
        for r in answer.get("stages") or ()
    ]
