"""Promotion requests driven by real clients against real servers.

* the pinned `databricks-sdk` (`WorkspaceClient(host=…, token=…)`), auth off,
  on a live `modelyard server` per backend: request, list, approve (the
  previous Production version is Archived and the activities say so), reject,
  cancel, comments, the Databricks get-model and transition-stage variants;
* the stock mlflow client refused a direct transition (403 with how to
  request), on an in-process app whose `Access` grants rights per user;
* two server processes racing to approve the same requests approve each once.
"""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from access_double import StageRights
from asgi_app import starlette_app
from servers import ServerProcess, modelyard_server, throwaway_postgres

from modelyard.app import create_app
from modelyard.settings import Settings

API = "/api/2.0/mlflow"
MY = "/api/modelyard/v1"


def _post(url: str, path: str, body: dict[str, Any], auth: Any = None) -> dict[str, Any]:
    resp = httpx.post(f"{url}{API}/{path}", json=body, timeout=60, auth=auth)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def _model_with_versions(url: str, count: int = 3) -> str:
    """A fresh model (unique name: servers are shared) with `count` versions."""
    name = f"mnist_test_{uuid.uuid4().hex[:8]}"
    run_id = _post(url, "runs/create", {"experiment_id": "0"})["run"]["info"]["run_id"]
    _post(url, "registered-models/create", {"name": name})
    for _ in range(count):
        _post(
            url,
            "model-versions/create",
            {"name": name, "source": f"runs:/{run_id}/model", "run_id": run_id},
        )
    return name


def _history(url: str, name: str) -> list[dict[str, Any]]:
    resp = httpx.get(f"{url}{MY}/registered-models/history", params={"name": name}, timeout=30)
    assert resp.status_code == 200, resp.text
    return list(reversed(resp.json()["events"]))


def _workspace(url: str) -> Any:
    from databricks.sdk import WorkspaceClient

    return WorkspaceClient(host=url, token="dapi-any-token-auth-is-off")


def test_well_known_probe_is_a_quick_json_404(live_server: ServerProcess) -> None:
    resp = httpx.get(f"{live_server.url}/.well-known/databricks-config", timeout=5)
    assert resp.status_code == 404
    assert resp.json()["error_code"] == "ENDPOINT_NOT_FOUND"


def test_databricks_sdk_request_approve_archives_the_previous_holder(
    live_server: ServerProcess,
) -> None:
    from databricks.sdk.service.ml import ActivityAction, ActivityType

    url = live_server.url
    name = _model_with_versions(url)
    w = _workspace(url)
    registry = w.model_registry

    moved = registry.transition_stage(name, "1", "Production", False, comment="first release")
    assert moved.model_version_databricks.current_stage == "Production"
    assert moved.model_version_databricks.open_requests == []

    created = registry.create_transition_request(name, "2", "Production", comment="acc 0.98")
    request = created.request
    assert (request.to_stage, request.user_id, request.comment) == (
        "Production",
        "anonymous",
        "acc 0.98",
    )
    assert ActivityAction.APPROVE_TRANSITION_REQUEST in request.available_actions

    listed = list(registry.list_transition_requests(name, "2"))
    assert [(a.activity_type, a.from_stage, a.to_stage) for a in listed] == [
        (ActivityType.REQUESTED_TRANSITION, "None", "Production")
    ]

    approved = registry.approve_transition_request(
        name, "2", "Production", True, comment="reviewed"
    ).activity
    assert approved.activity_type == ActivityType.APPROVED_REQUEST
    assert (approved.user_id, approved.comment, approved.to_stage) == (
        "anonymous",
        "reviewed",
        "Production",
    )
    stages = {
        v: registry.get_model_version(name, v).model_version.current_stage for v in ("1", "2")
    }
    assert stages == {"1": "Archived", "2": "Production"}
    assert list(registry.list_transition_requests(name, "2")) == []

    trail = [(e["version"], e.get("activity_type")) for e in _history(url, name)]
    assert trail[-4:] == [
        ("2", "REQUESTED_TRANSITION"),
        ("2", "APPROVED_REQUEST"),
        ("1", "SYSTEM_TRANSITION"),
        ("2", "APPLIED_TRANSITION"),
    ]

    # Approving again: nothing open, a NotFound saying who approved.
    from databricks.sdk.errors import NotFound

    with pytest.raises(NotFound, match="approved by anonymous"):
        registry.approve_transition_request(name, "2", "Production", True)

    model = registry.get_model(name).registered_model_databricks
    assert (model.name, model.permission_level.value) == (name, "CAN_MANAGE")


def test_databricks_sdk_reject_cancel_and_comments(live_server: ServerProcess) -> None:
    from databricks.sdk.service.ml import ActivityType, CommentActivityAction

    url = live_server.url
    name = _model_with_versions(url)
    registry = _workspace(url).model_registry

    registry.create_transition_request(name, "3", "Production", comment="please")
    rejected = registry.reject_transition_request(name, "3", "Production", comment="drift").activity
    assert (rejected.activity_type, rejected.comment) == (ActivityType.REJECTED_REQUEST, "drift")
    assert registry.get_model_version(name, "3").model_version.current_stage == "None"

    registry.create_transition_request(name, "3", "Staging")
    cancelled = registry.delete_transition_request(
        name, "3", "Staging", "anonymous", comment="too early"
    ).activity
    assert cancelled.activity_type == ActivityType.CANCELLED_REQUEST
    assert list(registry.list_transition_requests(name, "3")) == []

    comment = registry.create_comment(name, "3", "AUC 0.91 on the holdout").comment
    assert comment.user_id == "anonymous"
    assert CommentActivityAction.EDIT_COMMENT in comment.available_actions
    edited = registry.update_comment(comment.id, "AUC 0.92 on the holdout").comment
    assert edited.comment == "AUC 0.92 on the holdout"
    registry.delete_comment(comment.id)
    kinds = [e.get("activity_type") for e in _history(url, name)]
    assert kinds[-5:] == [
        "REQUESTED_TRANSITION",
        "REJECTED_REQUEST",
        "REQUESTED_TRANSITION",
        "CANCELLED_REQUEST",
        "NEW_COMMENT",
    ]


def test_bearer_token_callers_are_recorded_as_anonymous(live_server: ServerProcess) -> None:
    name = _model_with_versions(live_server.url, 1)
    resp = httpx.post(
        f"{live_server.url}{API}/transition-requests/create",
        json={"name": name, "version": "1", "stage": "Staging"},
        headers={"Authorization": "Bearer dapi-whatever"},
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["request"]["user_id"] == "anonymous"


# -- the refusal, with the stock mlflow client --------------------------------------
@contextmanager
def serve(app: Any) -> Iterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    host, port = sock.getsockname()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def test_stock_mlflow_client_direct_transition_is_refused_then_requested_and_approved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    settings = Settings(
        backend_store_uri=f"sqlite:///{tmp_path / 'modelyard.db'}",
        artifacts_destination=str(tmp_path / "artifacts"),
        require_approval="Production",
    )
    app = create_app(settings)
    starlette_app(app).state.services.access = StageRights({"bob": {"Production"}})
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    with serve(app) as url:
        name = _model_with_versions(url, 1)
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "alice")
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "x")
        alice = MlflowClient(url)
        with pytest.raises(MlflowException) as refused:
            alice.transition_model_version_stage(name, "1", "Production")
        assert refused.value.error_code == "PERMISSION_DENIED"
        assert "transition-requests/create" in refused.value.message
        assert alice.get_model_version(name, "1").current_stage == "None"

        _post(
            url,
            "transition-requests/create",
            {"name": name, "version": "1", "stage": "Production"},
            auth=("alice", "x"),
        )
        resp = httpx.post(
            f"{url}{API}/transition-requests/approve",
            json={"name": name, "version": "1", "stage": "Production"},
            auth=("alice", "x"),
            timeout=30,
        )
        assert resp.status_code == 403, resp.text
        _post(
            url,
            "transition-requests/approve",
            {"name": name, "version": "1", "stage": "Production"},
            auth=("bob", "x"),
        )
        assert alice.get_model_version(name, "1").current_stage == "Production"


# -- two processes racing to approve ---------------------------------------------------
@pytest.fixture(params=["postgresql", "sqlite"])
def two_servers(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    if request.param == "postgresql":
        with (
            throwaway_postgres() as url,
            modelyard_server(tmp_path / "a", url) as a,
            modelyard_server(tmp_path / "b", url) as b,
        ):
            yield a, b
    else:
        url = f"sqlite:///{tmp_path / 'shared.db'}"
        with modelyard_server(tmp_path / "a", url) as a, modelyard_server(tmp_path / "b", url) as b:
            yield a, b


def test_two_processes_racing_to_approve_approve_once(
    two_servers: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = two_servers
    versions = 8
    name = _model_with_versions(a.url, versions)
    for v in range(1, versions + 1):
        _post(
            b.url,
            "transition-requests/create",
            {"name": name, "version": str(v), "stage": "Staging"},
        )

    def approve(arg: tuple[str, int]) -> int:
        url, version = arg
        resp = httpx.post(
            f"{url}{API}/transition-requests/approve",
            json={"name": name, "version": str(version), "stage": "Staging"},
            timeout=60,
        )
        assert resp.status_code in (200, 404), resp.text
        return resp.status_code

    calls = [(u, v) for v in range(1, versions + 1) for u in (a.url, b.url)]
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(approve, calls))
    assert statuses.count(200) == versions
    events = _history(a.url, name)
    approvals = [e for e in events if e["action"] == "request_approved"]
    assert sorted(int(e["version"]) for e in approvals) == list(range(1, versions + 1))
    # The stage rule held throughout: one Staging holder at the end, the rest archived.
    stages = [
        httpx.get(
            f"{a.url}{API}/model-versions/get", params={"name": name, "version": str(v)}
        ).json()["model_version"]["current_stage"]
        for v in range(1, versions + 1)
    ]
    assert stages.count("Staging") == 1
