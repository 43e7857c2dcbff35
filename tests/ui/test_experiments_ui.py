"""The experiment view in a browser: runs table filter, sort, errors, escaping, compare."""

from __future__ import annotations

from typing import Any

from mlflow.entities import Metric, Param
from playwright.sync_api import expect

HOSTILE_NAME = '<img src=x onerror="window.__xss=1"><b>bold</b>'


def make_runs(client: Any, experiment: str, accuracies: dict[str, float]) -> str:
    exp_id: str = client.create_experiment(experiment)
    for i, (name, acc) in enumerate(accuracies.items()):
        run = client.create_run(exp_id, run_name=name, start_time=1_700_000_000_000 + i * 1000)
        client.log_batch(
            run.info.run_id,
            metrics=[Metric("acc", acc, 1_700_000_000_000, 0)],
            params=[Param("optimizer", "adam" if i % 2 else "sgd")],
        )
        client.set_terminated(run.info.run_id)
    return exp_id


def run_names(page: Any) -> list[str]:
    names: list[str] = page.locator("#runs-table tbody td.run-name").all_inner_texts()
    return names


def test_experiment_page_filters_and_sorts_runs(page: Any, client: Any, unique: str) -> None:
    exp_id = make_runs(
        client, f"sorting-{unique}", {"low": 0.2, "mid": 0.5, "high": 0.9, "top": 0.95}
    )
    page.goto("/experiments")
    page.get_by_label("Search experiments by name").fill(unique)
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name=f"sorting-{unique}").click()
    expect(page).to_have_url(f"/experiments/{exp_id}")
    # Default order: newest start first.
    expect(page.locator("#runs-table tbody tr")).to_have_count(4)
    assert run_names(page) == ["top", "high", "mid", "low"]

    page.get_by_label("Filter runs").fill("metrics.acc > 0.4 and params.optimizer = 'sgd'")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#runs-table tbody tr")).to_have_count(1)
    assert run_names(page) == ["high"]

    page.get_by_label("Filter runs").fill("metrics.acc > 0.4")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#runs-table tbody tr")).to_have_count(3)

    header = page.locator("#runs-table thead th", has_text="acc")
    header.get_by_role("link").click()
    expect(header).to_have_attribute("aria-sort", "ascending")
    assert run_names(page) == ["mid", "high", "top"]
    header.get_by_role("link").click()
    expect(header).to_have_attribute("aria-sort", "descending")
    assert run_names(page) == ["top", "high", "mid"]
    # The filter survives sorting, and the URL says it all (deep link).
    expect(page.get_by_label("Filter runs")).to_have_value("metrics.acc > 0.4")
    page.go_back()
    expect(header).to_have_attribute("aria-sort", "ascending")


def test_a_bad_filter_shows_a_readable_error(page: Any, client: Any, unique: str) -> None:
    exp_id = make_runs(client, f"badfilter-{unique}", {"a": 0.1})
    response = page.goto(f"/experiments/{exp_id}?filter=metrics.acc+%3E%3E+1")
    assert response is not None and response.status == 400
    alert = page.locator("#filter-error")
    expect(alert).to_contain_text("This filter cannot be used.")
    expect(alert).to_contain_text("metrics.acc")
    expect(page.get_by_label("Filter runs")).to_have_value("metrics.acc >> 1")


def test_html_in_a_run_name_is_shown_as_text(page: Any, client: Any, unique: str) -> None:
    exp_id = make_runs(client, f"escape-{unique}", {HOSTILE_NAME: 0.5})
    page.goto(f"/experiments/{exp_id}")
    cell = page.locator("#runs-table tbody td.run-name a")
    expect(cell).to_have_text(HOSTILE_NAME)
    expect(cell.locator("b, img")).to_have_count(0)
    cell.click()
    expect(page.locator("h1.run-title")).to_have_text(HOSTILE_NAME)
    expect(page.locator("main img, main b")).to_have_count(0)
    assert page.evaluate("window.__xss") is None


def test_comparing_runs_overlays_metrics_and_marks_parameter_differences(
    page: Any, client: Any, unique: str
) -> None:
    exp_id = make_runs(client, f"compare-{unique}", {"r1": 0.3, "r2": 0.6, "r3": 0.7})
    page.goto(f"/experiments/{exp_id}")
    expect(page.locator("#compare-button")).to_be_disabled()
    page.get_by_label("Select run r1").check()
    page.get_by_label("Select run r2").check()
    page.locator("#compare-button").click()
    expect(page.locator("h1")).to_have_text("Compare 2 runs")
    chart = page.locator('.chart[data-key="acc"]')
    expect(chart).to_have_attribute("data-ready", "1")
    expect(chart.locator(".u-legend .u-series")).to_have_count(3)  # x plus one per run
    differs = page.locator("#params-compare tr.differs")
    expect(differs).to_have_count(1)
    expect(differs).to_contain_text("optimizer")


def test_missing_experiment_is_a_readable_404_page(page: Any) -> None:
    response = page.goto("/experiments/987654")
    assert response is not None and response.status == 404
    expect(page.locator("h1")).to_have_text("Not found")
    expect(page.locator(".error-message")).to_contain_text("987654")
