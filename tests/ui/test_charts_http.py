"""The charts view's data in-process: one panel's points for many runs, bars, axes, budget."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_ui_http import HTML, InprocClient, services_of

from modelyard.app import create_app
from modelyard.entities import Metric
from modelyard.settings import Settings
from modelyard.ui import charts

T0 = 1_700_000_000_000


@pytest.fixture
def filled(tmp_path: Path) -> Iterator[tuple[InprocClient, Any, str, list[str]]]:
    settings = Settings(
        backend_store_uri=f"sqlite:///{tmp_path / 'ui.db'}",
        artifacts_destination=str(tmp_path / "artifacts"),
    )
    app = create_app(settings)
    services = services_of(app)
    tracking = services.tracking
    exp = tracking.create_experiment("charts")
    run_ids = []
    for i in range(3):
        run_id = tracking.create_run(exp, run_name=f"r{i}", start_time=T0 + i * 1000).info.run_id
        tracking.log_batch(
            run_id,
            metrics=[Metric("loss", 1.0 / (s + 1), T0 + i * 1000 + s * 10, s) for s in range(20)]
            + [Metric("acc", 0.5 + i / 10, T0, 0)],
        )
        run_ids.append(run_id)
    yield InprocClient(app), services, exp, run_ids
    services.db.close()


def test_line_panel_has_every_run_in_table_order_with_its_colour(filled: Any) -> None:
    client, _, exp, run_ids = filled
    body = client.get(f"/ui/experiments/{exp}/chart-panel?key=loss").json()
    assert body["kind"] == "line" and body["x"] == "step"
    # Newest first, as the runs table orders them: colour = position there.
    assert [s["run_id"] for s in body["series"]] == run_ids[::-1]
    assert [s["color"] for s in body["series"]] == [0, 1, 2]
    first = body["series"][0]
    assert first["x"] == list(range(20)) and first["y"][0] == 1.0 and first["total"] == 20


def test_single_value_metric_is_a_bar_panel(filled: Any) -> None:
    client, _, exp, run_ids = filled
    body = client.get(f"/ui/experiments/{exp}/chart-panel?key=acc").json()
    assert body["kind"] == "bar"
    assert {s["run_id"]: s["value"] for s in body["series"]} == {
        run_ids[0]: 0.5,
        run_ids[1]: 0.6,
        run_ids[2]: 0.7,
    }


def test_relative_and_wall_time_axes(filled: Any) -> None:
    client, _, exp, run_ids = filled
    rel = client.get(f"/ui/experiments/{exp}/chart-panel?key=loss&x=relative").json()
    assert all(s["x"][:2] == [0.0, 0.01] for s in rel["series"])
    wall = client.get(f"/ui/experiments/{exp}/chart-panel?key=loss&x=time").json()
    last = next(s for s in wall["series"] if s["run_id"] == run_ids[2])
    assert last["x"][0] == (T0 + 2000) / 1000


def test_extreme_values_are_sent_exact_and_non_finite_ones_as_gaps(filled: Any) -> None:
    client, services, exp, run_ids = filled
    # Two values whose sum overflows a double, the smallest subnormal, a value
    # needing all 17 digits, and the infinities (null: JSON has no infinity).
    values = [1.7e308, 1.6e308, 5e-324, 0.1 + 0.2, math.inf, -math.inf]
    services.tracking.log_batch(
        run_ids[0], metrics=[Metric("edge", v, T0 + s, s) for s, v in enumerate(values)]
    )
    services.tracking.log_batch(
        run_ids[1], metrics=[Metric("edge", v, T0 + s, s) for s, v in enumerate(values[:2])]
    )
    body = client.get(f"/ui/experiments/{exp}/chart-panel?key=edge").json()
    by_run = {s["run_id"]: s["y"] for s in body["series"]}
    assert by_run[run_ids[0]] == [1.7e308, 1.6e308, 5e-324, 0.1 + 0.2, None, None]
    assert by_run[run_ids[1]] == [1.7e308, 1.6e308]


def test_selection_and_filter_narrow_the_panel(filled: Any) -> None:
    client, _, exp, run_ids = filled
    chosen = client.get(f"/ui/experiments/{exp}/chart-panel?key=loss&run={run_ids[1]}").json()
    assert [s["run_id"] for s in chosen["series"]] == [run_ids[1]]
    filtered = client.get(
        f"/ui/experiments/{exp}/chart-panel", params={"key": "acc", "filter": "metrics.acc > 0.55"}
    ).json()
    assert len(filtered["series"]) == 2
    bad = client.get(f"/ui/experiments/{exp}/chart-panel", params={"key": "acc", "filter": "x ="})
    assert bad.status_code == 400 and bad.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    missing = client.get(f"/ui/experiments/{exp}/chart-panel")
    assert missing.status_code == 400 and "'key'" in missing.json()["message"]


def test_many_points_are_downsampled_to_the_panel_budget(
    filled: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, services, exp, run_ids = filled
    services.tracking.log_batch(
        run_ids[0], metrics=[Metric("long", float(s % 7), T0 + s, s) for s in range(1000)]
    )
    monkeypatch.setattr(charts, "PANEL_POINT_BUDGET", 200)
    body = client.get(f"/ui/experiments/{exp}/chart-panel?key=long").json()
    (series,) = body["series"]
    assert series["downsampled"] and series["total"] == 1000
    assert len(series["x"]) <= 200 and max(series["y"]) == 6.0 and min(series["y"]) == 0.0


def test_sampled_panel_keeps_each_runs_min_and_max_in_x_order(
    filled: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, services, exp, run_ids = filled
    # One spike up and one down per run, at different steps, logged out of order:
    # the sampled series must keep both, sorted by step.
    spikes = {run_ids[0]: (17, 803), run_ids[1]: (499, 2), run_ids[2]: (998, 640)}
    for run_id, (up, down) in spikes.items():
        values = {s: 1.0 + (s % 5) / 10 for s in range(1000)}
        values[up], values[down] = 50.0, -50.0
        metrics = [Metric("spiky", values[s], T0 + s, s) for s in range(999, -1, -1)]
        services.tracking.log_batch(run_id, metrics=metrics)
    monkeypatch.setattr(charts, "PANEL_POINT_BUDGET", 300)
    body = client.get(f"/ui/experiments/{exp}/chart-panel?key=spiky").json()
    assert {s["run_id"] for s in body["series"]} == set(run_ids)
    for series in body["series"]:
        up, down = spikes[series["run_id"]]
        assert series["downsampled"] and series["total"] == 1000 and len(series["x"]) <= 100
        assert series["x"] == sorted(series["x"])
        by_x = dict(zip(series["x"], series["y"], strict=True))
        assert by_x[up] == 50.0 and by_x[down] == -50.0


def test_charts_page_lists_panels_and_reorders_them_by_links(filled: Any) -> None:
    client, _, exp, _ = filled
    page = client.get(f"/experiments/{exp}/charts", headers=HTML)
    assert page.status_code == 200
    assert page.text.index('data-key="acc"') < page.text.index('data-key="loss"')
    chosen = client.get(
        f"/experiments/{exp}/charts?panels=1&panel=loss&panel=acc&smooth=0.5&log=1", headers=HTML
    )
    assert chosen.text.index('data-key="loss"') < chosen.text.index('data-key="acc"')
    assert 'data-smooth="0.5"' in chosen.text and 'data-log="1"' in chosen.text
    hidden = client.get(f"/experiments/{exp}/charts?panels=1&panel=loss", headers=HTML)
    assert 'class="chart-box panel" data-key="acc"' not in hidden.text
    assert '<option value="acc">acc</option>' in hidden.text
