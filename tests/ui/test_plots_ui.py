"""Parallel coordinates and scatter over an experiment's runs, in a browser."""

from __future__ import annotations

import re
from typing import Any

from mlflow.entities import Metric, Param
from playwright.sync_api import expect


def make_runs(client: Any, unique: str) -> tuple[str, list[str]]:
    exp_id = client.create_experiment(f"plots-{unique}")
    run_ids = []
    for i, (lr, opt, acc) in enumerate(
        [(0.1, "adam", 0.91), (0.01, "sgd", 0.95), (0.001, "adam", 0.9)]
    ):
        run_id = client.create_run(exp_id, run_name=f"p-{i}").info.run_id
        client.log_batch(
            run_id,
            metrics=[Metric("acc", acc, 0, 0), Metric("loss", 1 - acc, 0, 0)],
            params=[Param("lr", str(lr)), Param("optimizer", opt)],
        )
        run_ids.append(run_id)
    return exp_id, run_ids


def test_parallel_coordinates_and_scatter_draw_every_run(
    page: Any, client: Any, unique: str
) -> None:
    exp_id, _ = make_runs(client, unique)
    page.goto(f"/experiments/{exp_id}")
    page.get_by_role("link", name="Parallel coordinates & scatter").click()
    parallel = page.locator("#parallel")
    expect(parallel).to_have_attribute("data-ready", "1")
    # lr, optimizer (categorical), acc, loss
    expect(parallel).to_have_attribute("data-axes", "4")
    expect(parallel).to_have_attribute("data-lines", "3")
    scatter = page.locator("#scatter")
    expect(scatter).to_have_attribute("data-points", "3")

    # Choosing axes is remembered in the URL.
    page.get_by_text("Axes (4 of 4)").click()
    page.get_by_role("checkbox", name="param optimizer").uncheck()
    page.get_by_role("button", name="Show axes").click()
    expect(parallel).to_have_attribute("data-axes", "3")
    assert "axis=params.lr" in page.url and "params.optimizer" not in page.url.split("sx=")[0]

    # Any column against any other; hovering a point names its run.
    page.locator("#scatter-x").select_option("metrics.loss")
    expect(page).to_have_url(re.compile(r"sx=metrics\.loss"))
    expect(scatter).to_have_attribute("data-points", "3")


def test_plots_follow_the_tables_filter(page: Any, client: Any, unique: str) -> None:
    exp_id, _ = make_runs(client, unique)
    page.goto(f"/experiments/{exp_id}?filter=metrics.acc+%3E+0.905")
    page.get_by_role("link", name="Parallel coordinates & scatter").click()
    expect(page.locator("#parallel")).to_have_attribute("data-lines", "2")
    expect(page.locator("#run-legend li")).to_have_count(2)
