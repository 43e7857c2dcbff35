"""Every request passes the one door: identity first, then the policy's verdict."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest

from modelyard.app import create_app
from modelyard.errors import PermissionDenied
from modelyard.http.door import ANONYMOUS, Identity
from modelyard.settings import Settings


class Recording:
    """A policy that records what it was asked and refuses one user."""

    def __init__(self) -> None:
        self.seen: list[tuple[Identity, str, str]] = []

    def check(self, identity: Identity, method: str, path: str) -> None:
        self.seen.append((identity, method, path))
        if identity.user == "mallory":
            raise PermissionDenied(f"{identity.user} may not {method} {path}")


def _basic(user: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:pw".encode()).decode()}


pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def app_and_policy(tmp_path: Path) -> tuple[object, Recording]:
    policy = Recording()
    settings = Settings(
        backend_store_uri=f"sqlite:///{tmp_path / 'db.sqlite'}",
        artifacts_destination=str(tmp_path / "artifacts"),
    )
    return create_app(settings, policy=policy), policy


async def test_every_kind_of_route_passes_the_door(
    app_and_policy: tuple[object, Recording],
) -> None:
    app, policy = app_and_policy
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        paths = [
            ("GET", "/health"),
            ("GET", "/api/2.0/mlflow/experiments/get?experiment_id=0"),
            ("GET", "/ajax-api/2.0/mlflow/experiments/get?experiment_id=0"),
            ("GET", "/api/2.0/mlflow-artifacts/artifacts?path=0"),
            ("GET", "/no/such/route"),
        ]
        for method, path in paths:
            await client.request(method, path, headers=_basic("alice"))
    assert [(m, p) for _, m, p in policy.seen] == [(m, p.split("?")[0]) for m, p in paths]
    assert all(identity == Identity("alice") for identity, _, _ in policy.seen)


async def test_refusal_is_mlflows_error_body(app_and_policy: tuple[object, Recording]) -> None:
    app, policy = app_and_policy
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        denied = await client.post(
            "/api/2.0/mlflow/experiments/create", json={"name": "x"}, headers=_basic("mallory")
        )
        assert denied.status_code == 403
        assert denied.json()["error_code"] == "PERMISSION_DENIED"
        # nothing was created behind the refusal
        found = await client.get("/api/2.0/mlflow/experiments/get-by-name?experiment_name=x")
        assert found.status_code == 404
    assert policy.seen[-1][0] == ANONYMOUS
