"""MLflow's hash deep links (`/#/experiments/1/runs/<id>`) open the matching page.

The stock client prints such a link for every run it starts; the part after '#'
never reaches the server, so the front page's script routes it.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import expect
from servers import ServerProcess


def test_link_printed_by_the_client_opens_the_run(
    page: Any,
    client: Any,
    ui_server: ServerProcess,
    unique: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", ui_server.url)
    mlflow.set_tracking_uri(ui_server.url)
    mlflow.set_experiment(f"deeplink-{unique}")
    with mlflow.start_run(run_name=f"linked-{unique}") as run:
        pass
    printed = capsys.readouterr()
    links = re.findall(r"View run \S+ at: (\S+)", printed.out + printed.err)
    assert links, printed
    link = links[0]
    assert "/#/experiments/" in link and link.endswith(f"/runs/{run.info.run_id}")
    page.goto(link)
    expect(page).to_have_url(re.compile(rf"/runs/{run.info.run_id}$"))
    expect(page.locator("h1.run-title")).to_have_text(f"linked-{unique}")
    experiment_links = re.findall(r"View experiment at: (\S+)", printed.out + printed.err)
    assert experiment_links
    page.goto(experiment_links[0])
    expect(page).to_have_url(re.compile(rf"/experiments/{run.info.experiment_id}$"))


def test_model_hash_routes_open_the_model_pages(page: Any, client: Any, unique: str) -> None:
    name = f"deep link {unique}"  # a space: the name is percent-encoded in both forms
    client.create_registered_model(name)
    exp = client.create_experiment(f"deeplink-models-{unique}")
    run = client.create_run(exp)
    client.create_model_version(name, f"runs:/{run.info.run_id}/model", run.info.run_id)
    page.goto(f"/#/models/{quote(name)}")
    expect(page).to_have_url(re.compile(rf"/models/{re.escape(quote(name))}$"))
    page.goto(f"/#/models/{quote(name)}/versions/1")
    expect(page).to_have_url(re.compile(rf"/models/{re.escape(quote(name))}/versions/1$"))
    page.goto("/#/models")
    expect(page).to_have_url(re.compile(r"/models$"))


def test_front_page_without_a_hash_opens_the_experiments(page: Any) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/experiments$"))
    page.goto("/#/no/such/route")
    expect(page).to_have_url(re.compile(r"/experiments$"))
