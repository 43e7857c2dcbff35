"""Managing from the UI in-process: every write route refuses cross-site posts and
changes nothing; empty names are refused with words that say what to fix."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.routing import Route
from test_ui_http import HTML, InprocClient, app_client  # noqa: F401  (fixture)

from modelyard.ui import routes

EVIL = {**HTML, "origin": "https://evil.example"}


def _filled(services: Any) -> tuple[str, str]:
    exp = services.tracking.create_experiment("e")
    run_id = services.tracking.create_run(exp, run_name="r").info.run_id
    services.registry.create_registered_model("m")
    services.registry.create_model_version("m", f"runs:/{run_id}/model", run_id=run_id)
    return exp, run_id


def test_every_ui_write_refuses_cross_site_posts(
    app_client: tuple[InprocClient, Any],  # noqa: F811
) -> None:
    client, services = app_client
    exp, run_id = _filled(services)
    posts = [r for r in routes.RAW_ROUTES if isinstance(r, Route) and "POST" in (r.methods or ())]
    assert len(posts) >= 18
    values = {"experiment_id": exp, "run_id": run_id, "name": "m", "version": "1"}
    for route in posts:
        path = route.path
        for key, value in values.items():
            path = path.replace(f"{{{key}}}", value).replace(f"{{{key}:int}}", value)
        response = client.post(path, data={"name": "x", "key": "k", "to": "Staging"}, headers=EVIL)
        assert response.status_code == 403, path
    assert services.tracking.get_experiment(exp).name == "e"
    assert services.tracking.get_run(run_id).info.run_name == "r"
    assert services.registry.get_registered_model("m").name == "m"
    assert services.registry.get_model_version("m", 1).current_stage == "None"


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/experiments", "new experiment a name"),
        ("/experiments/{exp}/rename", "experiment a name"),
        ("/runs/{run}/rename", "run a name"),
        ("/runs/{run}/tags", "tag a key"),
        ("/models/m/rename", "model a new name"),
    ],
)
def test_empty_names_are_refused(
    app_client: tuple[InprocClient, Any],  # noqa: F811
    path: str,
    field: str,
) -> None:
    client, services = app_client
    exp, run_id = _filled(services)
    response = client.post(
        path.format(exp=exp, run=run_id), data={"name": "  ", "key": ""}, headers=HTML
    )
    assert response.status_code == 400 and field in response.text
