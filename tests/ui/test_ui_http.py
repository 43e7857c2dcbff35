"""The UI's HTTP surface in-process (no browser): chart data, errors, headers, routes."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_app import starlette_app
from starlette.routing import Mount, Route

from modelyard.app import create_app
from modelyard.entities import Metric
from modelyard.settings import Settings
from modelyard.ui import downsample, routes

HTML = {"accept": "text/html"}


class InprocClient:
    """Synchronous requests to the ASGI app through httpx's ASGI transport
    (starlette's TestClient warns about its httpx dependency, and warnings fail tests)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://ui.test") as c:
                return await c.request(method, url, **kwargs)

        # A thread of its own: Playwright's sync API may hold this thread's event loop.
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, send()).result()

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)


def services_of(app: Any) -> Any:
    """The services of `create_app`'s app, under its middleware (access log, door, timeouts)."""
    return starlette_app(app).state.services


@pytest.fixture
def app_client(tmp_path: Path) -> Iterator[tuple[InprocClient, Any]]:
    settings = Settings(
        backend_store_uri=f"sqlite:///{tmp_path / 'ui.db'}",
        artifacts_destination=str(tmp_path / "artifacts"),
    )
    app = create_app(settings)
    services = services_of(app)
    yield InprocClient(app), services
    services.db.close()


def test_series_is_downsampled_beyond_the_bound_and_exact_when_zoomed(
    app_client: tuple[InprocClient, Any],
) -> None:
    client, services = app_client
    run_id = services.tracking.create_run("0").info.run_id
    n = downsample.RAW_LIMIT + 5000
    t0 = 1_700_000_000_000
    for start in range(0, n, 1000):
        services.tracking.log_batch(
            run_id,
            metrics=[
                Metric("loss", 100.0 if s == 12_345 else math.sin(s / 100), t0 + s, s)
                for s in range(start, min(start + 1000, n))
            ],
        )
    services.tracking.log_metric(run_id, Metric("loss", math.nan, t0 + n, n))

    body = client.get("/ui/series", params={"key": "loss", "run": run_id}).json()
    (series,) = body["series"]
    assert series["downsampled"] is True and series["total"] == n  # NaN left out
    assert len(series["x"]) <= 4 * downsample.BUCKETS
    assert 100.0 in series["y"] and series["x"][0] == 0 and series["x"][-1] == n - 1

    zoomed = client.get(
        "/ui/series", params={"key": "loss", "run": run_id, "lo": "12000", "hi": "12999"}
    ).json()["series"][0]
    assert zoomed["downsampled"] is False and zoomed["total"] == 1000
    assert zoomed["x"] == list(range(12000, 13000))

    by_time = client.get(
        "/ui/series", params={"key": "loss", "run": run_id, "x": "time", "hi": str(t0 / 1000)}
    ).json()
    assert by_time["x"] == "time" and by_time["series"][0]["x"] == [t0 / 1000]


def test_series_errors_are_json(app_client: tuple[InprocClient, Any]) -> None:
    client, _ = app_client
    response = client.get("/ui/series", params={"key": "loss", "run": "nope"})
    assert response.status_code == 404
    assert response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    response = client.get("/ui/series", params={"run": "x"})
    assert response.status_code == 400 and "key" in response.json()["message"]


def test_ui_errors_are_html_and_api_errors_stay_json(app_client: tuple[InprocClient, Any]) -> None:
    client, _ = app_client
    page = client.get("/no/such/page", headers=HTML)
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "Not found" in page.text
    api = client.get("/api/2.0/mlflow/no-such-endpoint", headers=HTML)
    assert api.status_code == 404 and api.json()["error_code"] == "ENDPOINT_NOT_FOUND"
    bare = client.get("/no/such/page")  # a script without Accept: text/html
    assert bare.status_code == 404 and bare.json()["error_code"] == "ENDPOINT_NOT_FOUND"


def test_pages_carry_a_content_security_policy(app_client: tuple[InprocClient, Any]) -> None:
    client, _ = app_client
    response = client.get("/experiments", headers=HTML)
    assert response.status_code == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    front = client.get("/", headers=HTML)
    assert front.status_code == 200 and "/static/deeplink.js" in front.text
    assert "script-src 'self'" in front.headers["content-security-policy"]


def test_cross_site_form_posts_are_refused(app_client: tuple[InprocClient, Any]) -> None:
    client, services = app_client
    services.registry.create_registered_model("m")
    response = client.post(
        "/models/m/versions/1/description",
        data={"description": "x"},
        headers={**HTML, "origin": "https://evil.example"},
    )
    assert response.status_code == 403 and "Cross-site" in response.text


def test_ui_routes_do_not_shadow_the_api() -> None:
    reserved = ("/api", "/ajax-api", "/health", "/version", "/get-artifact", "/model-versions")
    for route in routes.RAW_ROUTES:
        assert isinstance(route, Route | Mount)
        assert not route.path.startswith(reserved), route.path


@pytest.mark.parametrize("policy", ["exclusive", "mlflow"])
def test_stage_confirmation_follows_the_stage_policy(tmp_path: Path, policy: str) -> None:
    settings = Settings(
        backend_store_uri=f"sqlite:///{tmp_path / 'ui.db'}",
        artifacts_destination=str(tmp_path / "artifacts"),
        stage_policy=policy,
    )
    app = create_app(settings)
    services = services_of(app)
    client = InprocClient(app)
    run_id = services.tracking.create_run("0").info.run_id
    services.registry.create_registered_model("m")
    for _ in range(2):
        services.registry.create_model_version("m", f"runs:/{run_id}/model", run_id=run_id)
    services.registry.transition_stage("m", 1, "Production")

    page = client.get("/models/m/versions/2/stage?to=production", headers=HTML)
    assert page.status_code == 200
    if policy == "exclusive":
        assert "Version 1, now in" in page.text and "will be moved to" in page.text
        assert 'name="archive_existing"' not in page.text
    else:
        assert "They stay there unless you archive them below." in page.text
        assert 'name="archive_existing"' in page.text

    done = client.post("/models/m/versions/2/stage", data={"to": "Production"}, headers={**HTML})
    # The notice names the version the move archived (none under MLflow's policy).
    expected = "?done=stage&archived=1" if policy == "exclusive" else "?done=stage"
    assert done.status_code == 303 and done.headers["location"].endswith(expected)
    first = services.registry.get_model_version("m", 1).current_stage
    assert first == ("Archived" if policy == "exclusive" else "Production")
    services.db.close()
