"""Bad input gets MLflow's error body with a 4xx, never a 500 or a traceback.

Every JSON route of the REST API is fed missing fields, wrong types, absurd
numbers and broken JSON, against the real app.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelyard.app import all_routes, create_app
from modelyard.settings import Settings

pytestmark = pytest.mark.anyio

FIELDS = (
    "experiment_id",
    "experiment_ids",
    "run_id",
    "run_uuid",
    "name",
    "new_name",
    "key",
    "value",
    "timestamp",
    "step",
    "metrics",
    "params",
    "tags",
    "filter",
    "max_results",
    "order_by",
    "page_token",
    "status",
    "end_time",
    "start_time",
    "version",
    "stage",
    "source",
    "alias",
    "metric_key",
    "run_ids",
    "datasets",
    "models",
    "model_json",
    "description",
    "view_type",
    "run_view_type",
    "path",
    "model_id",
    "experiment_name",
)
JUNK: tuple[Any, ...] = (
    None,
    "",
    "x" * 10_000,
    -1,
    2**70,
    1.5,
    float("1e308"),
    True,
    [],
    {},
    [1, "a", None],
    {"key": 1},
    "NaN",
    "../../etc/passwd",
    "1; DROP TABLE runs",
    "\x00",
)

QUERY_JUNK = ("", "x" * 3000, "-1", "99999999999999999999999", "%00", "a'b")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Any]:
    settings = Settings(
        backend_store_uri=f"sqlite:///{tmp_path / 'db.sqlite'}",
        artifacts_destination=str(tmp_path / "artifacts"),
    )
    yield create_app(settings)


def _json_routes() -> list[tuple[str, str]]:
    out = []
    for route in all_routes():
        path = getattr(route, "path", "")
        if not path.startswith("/api/") or "{" in path:
            continue
        for method in sorted(getattr(route, "methods", None) or ()):
            if method != "HEAD":
                out.append((method, path))
    return out


async def _check(client: httpx.AsyncClient, method: str, path: str, **kw: Any) -> None:
    resp = await client.request(method, path, **kw)
    assert resp.status_code < 500, (method, path, kw, resp.status_code, resp.text[:300])
    if resp.status_code >= 400 and resp.headers.get("content-type", "").startswith(
        "application/json"
    ):
        body = resp.json()
        assert set(body) >= {"error_code", "message"}
        assert "Traceback" not in body["message"]


async def test_no_route_answers_bad_input_with_a_500(app: Any) -> None:
    routes = _json_routes()
    assert len(routes) > 40
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        for method, path in routes:
            if method == "GET":
                await _check(client, method, path)
                for i, field in enumerate(FIELDS):
                    for junk in QUERY_JUNK[i % 2 :: 2]:
                        await _check(client, method, path, params={field: junk})
                continue
            await _check(client, method, path, content=b"{not json")
            await _check(client, method, path, content=b"[1, 2]")
            await _check(client, method, path, json={})
            await _check(client, method, path, json=dict.fromkeys(FIELDS, "1"))
            # Each field meets a rotating quarter of the junk: every (field, junk
            # kind) pair is covered across routes without a combinatorial run.
            for i, field in enumerate(FIELDS):
                for junk in JUNK[i % 4 :: 4]:
                    await _check(client, method, path, json={field: junk})
