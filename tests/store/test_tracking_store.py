"""The tracking store contract, run against every backend (SQLite and PostgreSQL)."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator

import pytest

from modelyard.entities import (
    Dataset,
    DatasetInput,
    LifecycleStage,
    Metric,
    ModelIO,
    Param,
    RunInfo,
    Tag,
    ViewType,
)
from modelyard.errors import InvalidParameterValue, ResourceDoesNotExist
from modelyard.service.search_filter import parse_run_filter, parse_run_order_by
from modelyard.store.sql.db import Database, UniqueViolation
from modelyard.store.sql.tracking import SqlTrackingStore


@pytest.fixture
def store(db: Database) -> Iterator[SqlTrackingStore]:
    s = SqlTrackingStore(db)
    s.ensure_default_experiment("Default", "mlflow-artifacts:/0", 1)
    yield s


def _run(store: SqlTrackingStore, run_id: str, exp: str = "0", start: int = 10) -> RunInfo:
    info = RunInfo(
        run_id,
        exp,
        f"name-{run_id}",
        "alice",
        "RUNNING",
        start,
        None,
        f"mlflow-artifacts:/{exp}/{run_id}/artifacts",
        LifecycleStage.ACTIVE,
    )
    store.create_run(info, [Tag("mlflow.runName", info.run_name)])
    return info


def test_default_experiment_is_idempotent(store: SqlTrackingStore) -> None:
    store.ensure_default_experiment("Default", "elsewhere", 2)
    exp = store.get_experiment("0")
    assert (exp.name, exp.artifact_location, exp.creation_time) == (
        "Default",
        "mlflow-artifacts:/0",
        1,
    )


def test_experiment_ids_increase_and_location_can_depend_on_id(store: SqlTrackingStore) -> None:
    a = store.create_experiment("a", lambda i: f"root/{i}", [Tag("k", "v")], 5)
    b = store.create_experiment("b", "s3://bucket/fixed", [], 6)
    assert int(b) == int(a) + 1
    assert store.get_experiment(a).artifact_location == f"root/{a}"
    assert store.get_experiment(a).tags == (Tag("k", "v"),)
    assert store.get_experiment(b).artifact_location == "s3://bucket/fixed"
    assert store.get_experiment_by_name("b").experiment_id == b  # type: ignore[union-attr]
    assert store.get_experiment_by_name("missing") is None
    with pytest.raises(UniqueViolation):
        store.create_experiment("a", "x", [], 7)
    with pytest.raises(ResourceDoesNotExist):
        store.get_experiment("12345")


def test_deleting_an_experiment_deletes_and_restores_its_runs(store: SqlTrackingStore) -> None:
    exp = store.create_experiment("e", "loc", [], 1)
    _run(store, "r1", exp)
    store.set_experiment_lifecycle(exp, LifecycleStage.DELETED, 50)
    assert store.get_run_info("r1").lifecycle_stage == LifecycleStage.DELETED
    with pytest.raises(ResourceDoesNotExist):
        store.set_experiment_lifecycle(exp, LifecycleStage.DELETED, 51)
    store.set_experiment_lifecycle(exp, LifecycleStage.ACTIVE, 52)
    assert store.get_run_info("r1").lifecycle_stage == LifecycleStage.ACTIVE
    assert store.get_experiment(exp).last_update_time == 52


def test_log_batch_is_all_or_nothing_on_param_conflict(store: SqlTrackingStore) -> None:
    _run(store, "r1")
    store.log_batch("r1", [], [Param("lr", "0.1")], [])
    with pytest.raises(InvalidParameterValue, match="Changing param values is not allowed"):
        store.log_batch("r1", [Metric("m", 1.0, 1, 0)], [Param("lr", "0.2")], [Tag("t", "x")])
    run = store.get_run("r1")
    assert run.data.metrics == ()
    assert [t.key for t in run.data.tags] == ["mlflow.runName"]
    store.log_batch("r1", [], [Param("lr", "0.1")], [])  # same value is fine


def test_latest_metric_is_max_step_then_timestamp_then_value(store: SqlTrackingStore) -> None:
    _run(store, "r1")
    store.log_batch("r1", [Metric("m", 5.0, 100, 3), Metric("m", 1.0, 200, 2)], [], [])
    store.log_batch("r1", [Metric("m", 0.5, 50, 3)], [], [])  # same step, older timestamp
    assert store.get_run("r1").data.metrics[0].value == 5.0
    store.log_batch("r1", [Metric("m", 7.0, 100, 3)], [], [])  # tie on step+ts: larger value wins
    assert store.get_run("r1").data.metrics[0].value == 7.0
    store.log_batch("r1", [Metric("m", math.nan, 1, 9)], [], [])
    assert math.isnan(store.get_run("r1").data.metrics[0].value)


def test_history_order_dedupe_pagination_and_specials(store: SqlTrackingStore) -> None:
    _run(store, "r1")
    points = [Metric("m", float(i), 1000 - i, i) for i in range(10)]
    store.log_batch("r1", points + points[:3], [], [])  # identical points are stored once
    store.log_batch("r1", [Metric("s", math.inf, 1, 0), Metric("s", -math.inf, 2, 1)], [], [])
    full = store.get_metric_history("r1", "m", None, 0)
    assert [m.timestamp for m in full.items] == sorted(1000 - i for i in range(10))
    assert full.next_page_token is None
    first = store.get_metric_history("r1", "m", 4, 0)
    assert len(first.items) == 4 and first.next_page_token
    last = store.get_metric_history("r1", "m", 4, 8)
    assert len(last.items) == 2 and last.next_page_token is None
    specials = [m.value for m in store.get_metric_history("r1", "s", None, 0).items]
    assert specials == [math.inf, -math.inf]


def test_bulk_interval_samples_keeping_first_and_last(store: SqlTrackingStore) -> None:
    _run(store, "r1")
    store.log_batch("r1", [Metric("m", float(i), i, i) for i in range(1000)], [], [])
    sampled = store.get_metric_history_bulk_interval(["r1"], "m", None, None, 10)
    steps = [m.step for m in sampled]
    assert len(steps) == 10 and steps[0] == 0 and steps[-1] == 999
    assert steps == sorted(steps) and all(m.run_id == "r1" for m in sampled)
    window = store.get_metric_history_bulk_interval(["r1"], "m", 100, 109, 50)
    assert [m.step for m in window] == list(range(100, 110))


def test_metric_points_for_runs_skips_nan_and_runs_without_the_key(
    store: SqlTrackingStore,
) -> None:
    for rid in ("r1", "r2", "r3"):
        _run(store, rid)
    store.log_batch("r1", [Metric("m", float(i), 100 + i, i) for i in range(3)], [], [])
    store.log_batch("r2", [Metric("m", math.nan, 5, 0), Metric("m", 2.5, 6, 1)], [], [])
    store.log_batch("r3", [Metric("other", 1.0, 1, 0)], [], [])
    points = store.metric_points_for_runs(["r1", "r2", "r3"], "m", "step")
    assert (list(points["r1"].xs), list(points["r1"].ys)) == ([0, 1, 2], [0.0, 1.0, 2.0])
    assert (list(points["r2"].xs), list(points["r2"].ys)) == ([1], [2.5])
    assert "r3" not in points
    by_time = store.metric_points_for_runs(["r1", "r2"], "m", "timestamp")
    assert list(by_time["r1"].xs) == [100, 101, 102]
    assert store.metric_points_for_runs([], "m", "step") == {}
    assert store.latest_metric_keys(["r1", "r3"]) == ["m", "other"]
    assert store.latest_metric_keys([]) == []


def test_metric_points_for_runs_come_sorted_by_x_with_exact_values(
    store: SqlTrackingStore,
) -> None:
    _run(store, "r1")
    # Logged out of step order, with timestamps running against the steps, and
    # values whose shortest repr needs all 17 digits (or is infinite).
    values = {7: 0.1 + 0.2, 2: 1 / 3, 9: math.inf, 0: -1e-300, 4: 2.0**-1074}
    store.log_batch("r1", [Metric("m", v, 500 - s, s) for s, v in values.items()], [], [])
    by_step = store.metric_points_for_runs(["r1"], "m", "step")["r1"]
    assert list(by_step.xs) == [0, 2, 4, 7, 9]
    assert list(by_step.ys) == [values[s] for s in (0, 2, 4, 7, 9)]
    by_time = store.metric_points_for_runs(["r1"], "m", "timestamp")["r1"]
    assert list(by_time.xs) == [491, 493, 496, 498, 500]
    assert list(by_time.ys) == [values[s] for s in (9, 7, 4, 2, 0)]


def test_metric_points_for_runs_reads_more_runs_than_one_statement_takes(
    store: SqlTrackingStore,
) -> None:
    ids = [f"r{i:04d}" for i in range(1100)]
    for rid in ids:
        _run(store, rid)
    for i, rid in enumerate(ids[::7]):
        store.log_batch(rid, [Metric("m", float(i), 1, 0), Metric("m", -float(i), 2, 1)], [], [])
    points = store.metric_points_for_runs(ids, "m", "step")
    assert sorted(points) == sorted(ids[::7])
    assert [list(points[rid].ys) for rid in ids[::7]] == [
        [float(i), -float(i)] for i in range(len(ids[::7]))
    ]


def test_run_values_reads_params_and_latest_metrics_as_columns(store: SqlTrackingStore) -> None:
    for rid in ("r1", "r2", "r3"):
        _run(store, rid)
    store.log_batch(
        "r1", [Metric("m", 1.0, 1, 0), Metric("m", 3.0, 2, 1)], [Param("lr", "0.1")], []
    )
    store.log_batch("r2", [Metric("m", math.nan, 1, 0)], [Param("opt", "adam")], [])
    store.log_batch("r3", [Metric("n", -math.inf, 1, 0)], [Param("lr", "1e-3")], [])
    values = store.run_values(["r3", "r1", "r2"])
    assert values.params == {"lr": ["1e-3", "0.1", None], "opt": [None, None, "adam"]}
    assert sorted(values.metrics) == ["m", "n"]
    m = values.metrics["m"]
    assert m[:2] == [None, 3.0] and m[2] is not None and math.isnan(m[2])
    assert values.metrics["n"] == [-math.inf, None, None]
    empty = store.run_values([])
    assert (empty.params, empty.metrics) == ({}, {})


def test_tags_upsert_and_run_name_tag_renames(store: SqlTrackingStore) -> None:
    _run(store, "r1")
    store.log_batch("r1", [], [], [Tag("t", "1")])
    store.log_batch("r1", [], [], [Tag("t", "2"), Tag("mlflow.runName", "renamed")])
    run = store.get_run("r1")
    assert dict((t.key, t.value) for t in run.data.tags)["t"] == "2"
    assert run.info.run_name == "renamed"
    store.delete_tag("r1", "t")
    with pytest.raises(ResourceDoesNotExist):
        store.delete_tag("r1", "t")


def test_update_run_info(store: SqlTrackingStore) -> None:
    _run(store, "r1")
    info = store.update_run_info("r1", "FINISHED", 99, "new-name")
    assert (info.status, info.end_time, info.run_name) == ("FINISHED", 99, "new-name")
    tags = {t.key: t.value for t in store.get_run("r1").data.tags}
    assert tags["mlflow.runName"] == "new-name"


def test_inputs_and_outputs(store: SqlTrackingStore) -> None:
    _run(store, "r1")
    ds = Dataset("train", "abc123", "local", '{"uri": "x"}', '{"cols": []}', None)
    store.log_inputs(
        "r1", [DatasetInput(ds, (Tag("mlflow.data.context", "training"),))], [ModelIO("m-1")]
    )
    store.log_inputs("r1", [DatasetInput(ds, ())], [])  # logging the same dataset again is a no-op
    store.log_outputs("r1", [ModelIO("m-2", step=5)])
    run = store.get_run("r1")
    assert run.inputs.dataset_inputs == (
        DatasetInput(ds, (Tag("mlflow.data.context", "training"),)),
    )
    assert run.inputs.model_inputs == (ModelIO("m-1"),)
    assert run.outputs.model_outputs == (ModelIO("m-2", 5),)


def test_search_runs_pages_through_everything(store: SqlTrackingStore) -> None:
    for i in range(7):
        _run(store, f"r{i}", start=i)
        store.log_batch(f"r{i}", [Metric("acc", i / 10, 1, 0)], [Param("lr", str(i % 2))], [])
    store.set_run_lifecycle("r6", LifecycleStage.DELETED, 1)
    seen = []
    offset = 0
    while True:
        page = store.search_runs(["0"], [], ViewType.ACTIVE_ONLY, 3, [], offset)
        seen += [r.info.run_id for r in page.items]
        if not page.next_page_token:
            break
        offset += 3
    assert seen == [f"r{i}" for i in (5, 4, 3, 2, 1, 0)]  # default order: start_time DESC
    hits = store.search_runs(
        ["0"],
        parse_run_filter("metrics.acc >= 0.2 and params.lr = '1'"),
        ViewType.ALL,
        10,
        parse_run_order_by(["metrics.acc ASC"]),
        0,
    )
    assert [r.info.run_id for r in hits.items] == ["r3", "r5"]
    deleted = store.search_runs(["0"], [], ViewType.DELETED_ONLY, 10, [], 0)
    assert [r.info.run_id for r in deleted.items] == ["r6"]


def test_concurrent_batches_on_one_run_lose_nothing(store: SqlTrackingStore) -> None:
    _run(store, "r1")

    def work(t: int) -> None:
        for i in range(20):
            store.log_batch("r1", [Metric("m", float(t * 100 + i), t * 100 + i, i)], [], [])

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(store.get_metric_history("r1", "m", None, 0).items) == 80
    latest = store.get_run("r1").data.metrics[0]
    assert (latest.step, latest.timestamp) == (19, 319)


def test_log_batch_needs_an_existing_active_run(store: SqlTrackingStore) -> None:
    with pytest.raises(ResourceDoesNotExist):
        store.log_batch("nope", [Metric("m", 1.0, 1, 0)], [], [])
    _run(store, "r1")
    store.set_run_lifecycle("r1", LifecycleStage.DELETED, 5)
    with pytest.raises(InvalidParameterValue, match="must be in the 'active' state"):
        store.log_batch("r1", [Metric("m", 1.0, 1, 0)], [], [])
    assert store.get_metric_history("r1", "m", None, 0).items == []
