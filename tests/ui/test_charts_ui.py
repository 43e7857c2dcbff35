"""The experiment's charts view in a browser: panels, bars, smoothing, log scale, x axis."""

from __future__ import annotations

from typing import Any

from mlflow.entities import Metric
from playwright.sync_api import expect

T0 = 1_700_000_000_000


def make_experiment(client: Any, unique: str) -> tuple[str, list[str]]:
    exp_id = client.create_experiment(f"charts-{unique}")
    run_ids = []
    for i in range(3):
        run = client.create_run(exp_id, run_name=f"run-{i}", start_time=T0 + i * 60_000)
        metrics = [
            Metric("loss", 2.0 / (s + 1) + 0.1 * (s % 3) + i / 10, T0 + i * 60_000 + s * 1000, s)
            for s in range(50)
        ]
        metrics.append(Metric("accuracy", 0.8 + i / 20, T0, 0))
        client.log_batch(run.info.run_id, metrics=metrics)
        client.set_terminated(run.info.run_id)
        run_ids.append(run.info.run_id)
    return exp_id, run_ids


def test_charts_view_draws_lines_and_bars_and_smooths(page: Any, client: Any, unique: str) -> None:
    exp_id, _ = make_experiment(client, unique)
    page.goto(f"/experiments/{exp_id}")
    page.get_by_role("link", name="Charts").click()
    expect(page).to_have_url(f"/experiments/{exp_id}/charts")

    loss = page.locator('.panel-chart[data-key="loss"]')
    expect(loss).to_have_attribute("data-ready", "1")
    expect(loss).to_have_attribute("data-kind", "line")
    expect(loss.locator("canvas")).to_have_count(1)
    note = page.locator('.panel[data-key="loss"] .chart-note')
    expect(note).to_have_text("3 runs, 150 points")

    # A metric logged once per run is a bar per run, not a lone dot.
    acc = page.locator('.panel-chart[data-key="accuracy"]')
    expect(acc).to_have_attribute("data-kind", "bar")
    bars = acc.locator(".bars li")
    expect(bars).to_have_count(3)
    expect(bars.first.locator(".bar-name")).to_have_text("run-2")  # newest first, as the table
    expect(bars.first.locator(".bar-value")).to_have_text("0.9")
    expect(bars.first.locator(".bar")).to_have_class("bar swatch-0")
    legend = page.locator("#run-legend li").first
    expect(legend).to_contain_text("run-2")
    expect(legend.locator(".swatch")).to_have_class("swatch swatch-0")

    page.locator("#smoothing").fill("0.8")
    expect(note).to_have_text("3 runs, 150 points · smoothed 0.80")
    expect(page).to_have_url(f"/experiments/{exp_id}/charts?smooth=0.8")
    page.locator("#log-scale").check()
    expect(page).to_have_url(f"/experiments/{exp_id}/charts?smooth=0.8&log=1")
    expect(loss.locator("canvas")).to_have_count(1)

    # Reloading keeps the view: it lives in the URL.
    page.reload()
    expect(page.locator("#smoothing-value")).to_have_text("0.80")
    expect(page.locator("#log-scale")).to_be_checked()
    expect(note).to_have_text("3 runs, 150 points · smoothed 0.80")


def test_charts_x_axis_and_panel_order_are_remembered_in_the_url(
    page: Any, client: Any, unique: str
) -> None:
    exp_id, _ = make_experiment(client, unique)
    page.goto(f"/experiments/{exp_id}/charts")
    page.get_by_role("link", name="Relative time").click()
    expect(page).to_have_url(
        f"/experiments/{exp_id}/charts?x=relative&panels=1&panel=accuracy&panel=loss"
    )
    expect(page.locator('.panel-chart[data-key="loss"]')).to_have_attribute("data-ready", "1")
    expect(page.locator(".u-axis").first).to_be_visible()

    panels = page.locator(".chart-grid .panel")
    expect(panels.first).to_have_attribute("data-key", "accuracy")
    page.get_by_role("link", name="Move accuracy down").click()
    expect(panels.first).to_have_attribute("data-key", "loss")
    expect(page).to_have_url(
        f"/experiments/{exp_id}/charts?x=relative&panels=1&panel=loss&panel=accuracy"
    )
    page.get_by_role("link", name="Hide accuracy").click()
    expect(panels).to_have_count(1)
    page.get_by_label("Add a panel").select_option("accuracy")
    page.get_by_role("button", name="Add").click()
    expect(panels).to_have_count(2)
    expect(panels.last).to_have_attribute("data-key", "accuracy")


def test_charting_runs_ticked_in_the_table(page: Any, client: Any, unique: str) -> None:
    exp_id, _ = make_experiment(client, unique)
    page.goto(f"/experiments/{exp_id}")
    page.get_by_label("Select run run-0").check()
    page.get_by_label("Select run run-1").check()
    page.get_by_role("button", name="Chart selected").click()
    expect(page.locator("#run-legend li")).to_have_count(2)
    expect(page.locator('.panel-chart[data-key="accuracy"] .bars li')).to_have_count(2)
