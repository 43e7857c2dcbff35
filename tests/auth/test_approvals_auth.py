"""Promotion requests with authentication on: real users, grants and tokens.

alice (EDIT on the model) may not move it into Production (approval required)
and is told how to request; she requests with `databricks-sdk` and her own
token; bob (MANAGE_PRODUCTION_VERSIONS) approves with his; under four-eyes bob
may not approve his own request and carol does.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from auth.authkit import ADMIN_ENV, ADMIN_HEADERS, api, basic, make_user, serve_in_thread
from modelyard.app import create_app
from modelyard.settings import Settings

API = "/api/2.0/mlflow"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, httpx.Client]]:
    mp = pytest.MonkeyPatch()
    for key, value in ADMIN_ENV.items():
        mp.setenv(key, value)
    tmp: Path = tmp_path_factory.mktemp("approvals-auth")
    settings = Settings(
        backend_store_uri=f"sqlite:///{tmp / 'db.sqlite'}",
        artifacts_destination=str(tmp / "artifacts"),
        auth=True,
        require_approval="Production",
        approval_four_eyes=True,
    )
    try:
        with (
            serve_in_thread(create_app(settings)) as url,
            httpx.Client(base_url=url, timeout=60) as client,
        ):
            yield url, client
    finally:
        mp.undo()


def _token(client: httpx.Client, user: str) -> str:
    body = {"username": user, "name": "sdk"}
    return str(api(client, "POST", "/api/modelyard/v1/tokens/create", body)["secret"])


def test_request_and_approve_with_real_users(server: tuple[str, httpx.Client]) -> None:
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.errors import PermissionDenied
    from databricks.sdk.service.ml import ActivityAction

    url, client = server
    exp_id = api(client, "POST", "experiments/create", {"name": "approvals"})["experiment_id"]
    run_id = api(client, "POST", "runs/create", {"experiment_id": exp_id})["run"]["info"]["run_id"]
    api(client, "POST", "registered-models/create", {"name": "mnist_test"})
    for _ in range(2):
        api(
            client,
            "POST",
            "model-versions/create",
            {"name": "mnist_test", "source": f"runs:/{run_id}/model", "run_id": run_id},
        )
    for user, level in (
        ("alice", "EDIT"),
        ("bob", "MANAGE_PRODUCTION_VERSIONS"),
        ("carol", "MANAGE_PRODUCTION_VERSIONS"),
    ):
        make_user(client, user)
        api(
            client,
            "POST",
            "registered-models/permissions/create",
            {"name": "mnist_test", "username": user, "permission": level},
        )
    move = {"name": "mnist_test", "version": "1", "stage": "Production"}
    assert (
        client.post(f"{API}/model-versions/transition-stage", json=move, headers=ADMIN_HEADERS)
    ).status_code == 200  # the admin holds the right: a direct move, recorded as override

    # alice: refused, told how to request.
    refused = client.post(
        f"{API}/model-versions/transition-stage",
        json={**move, "version": "2"},
        headers=basic("alice"),
    )
    assert refused.status_code == 403, refused.text
    message = refused.json()["message"]
    assert "requires approval to enter Production" in message
    assert "transition-requests/create" in message

    alice = WorkspaceClient(host=url, token=_token(client, "alice")).model_registry
    bob = WorkspaceClient(host=url, token=_token(client, "bob")).model_registry
    request = alice.create_transition_request("mnist_test", "2", "Production", comment="acc 0.98")
    assert request.request.user_id == "alice"
    assert request.request.available_actions == [ActivityAction.CANCEL_TRANSITION_REQUEST]
    with pytest.raises(PermissionDenied):
        alice.approve_transition_request("mnist_test", "2", "Production", True)
    listed = list(bob.list_transition_requests("mnist_test", "2"))
    assert [a.user_id for a in listed] == ["alice"]
    approved = bob.approve_transition_request("mnist_test", "2", "Production", True).activity
    assert approved.user_id == "bob"
    stages = {v: alice.get_model_version("mnist_test", v).model_version.current_stage for v in "12"}
    assert stages == {"1": "Archived", "2": "Production"}

    # Four-eyes: bob asks for version 1 back; he may not approve it, carol may.
    bob.create_transition_request("mnist_test", "1", "Production")
    with pytest.raises(PermissionDenied, match="Four-eyes"):
        bob.approve_transition_request("mnist_test", "1", "Production", True)
    carol = WorkspaceClient(host=url, token=_token(client, "carol")).model_registry
    carol.approve_transition_request("mnist_test", "1", "Production", True)

    events = client.get(
        "/api/modelyard/v1/registered-models/history",
        params={"name": "mnist_test"},
        headers=basic("alice"),
    ).json()["events"]
    trail = [
        (e["version"], e["action"], e.get("cause"), e.get("user_id")) for e in reversed(events)
    ]
    assert ("1", "transition", "override", "admin") in trail
    assert ("2", "transition_requested", "request", "alice") in trail
    assert ("2", "request_approved", "request", "bob") in trail
    assert ("1", "request_approved", "request", "carol") in trail
