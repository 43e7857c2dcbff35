"""search_sql against real databases: rows inserted with plain SQL, searched through
the compiled SELECT, on SQLite and PostgreSQL alike (the `db` fixture)."""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from modelyard.errors import InvalidParameterValue
from modelyard.service.search_filter import (
    Comparison,
    OrderKey,
    parse_experiment_filter,
    parse_experiment_order_by,
    parse_run_filter,
    parse_run_order_by,
)
from modelyard.store.sql import migrations
from modelyard.store.sql.db import Database, Tx
from modelyard.store.sql.search_sql import experiment_search_sql, like_to_glob, run_search_sql

NAN = float("nan")


@dataclass
class RunRow:
    run_id: str
    name: str = ""
    status: str = "FINISHED"
    start_time: int | None = 0
    end_time: int | None = None
    user_id: str = "ann"
    stage: str = "active"
    metrics: Mapping[str, float] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    # (name, digest, context)
    datasets: Sequence[tuple[str, str, str]] = ()


def add_experiment(
    tx: Tx,
    name: str,
    creation_time: int | None = 0,
    stage: str = "active",
    tags: Mapping[str, str] | None = None,
) -> int:
    experiment_id = int(
        tx.scalar(
            "INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, "
            "last_update_time) VALUES (?, ?, ?, ?, ?) RETURNING experiment_id",
            (name, f"/artifacts/{name}", stage, creation_time, creation_time),
        )
    )
    for key, value in (tags or {}).items():
        tx.execute(
            "INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?)",
            (experiment_id, key, value),
        )
    return experiment_id


def add_run(tx: Tx, experiment_id: int, run: RunRow) -> None:
    tx.execute(
        "INSERT INTO runs (run_uuid, experiment_id, name, user_id, status, start_time, end_time, "
        "lifecycle_stage, artifact_uri) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            run.run_id,
            experiment_id,
            run.name,
            run.user_id,
            run.status,
            run.start_time,
            run.end_time,
            run.stage,
            f"s3://bucket/{run.run_id}/artifacts",
        ),
    )
    for key, value in run.metrics.items():
        is_nan = value != value
        tx.execute(
            "INSERT INTO latest_metrics (run_uuid, key, step, timestamp, value, is_nan) "
            "VALUES (?, ?, 0, 0, ?, ?)",
            (run.run_id, key, 0.0 if is_nan else value, int(is_nan)),
        )
    tx.executemany(
        "INSERT INTO params (run_uuid, key, value) VALUES (?, ?, ?)",
        [(run.run_id, k, v) for k, v in run.params.items()],
    )
    tx.executemany(
        "INSERT INTO tags (run_uuid, key, value) VALUES (?, ?, ?)",
        [(run.run_id, k, v) for k, v in run.tags.items()],
    )
    for position, (name, digest, context) in enumerate(run.datasets):
        dataset_uuid = f"{experiment_id}-{name}-{digest}"
        tx.execute(
            "INSERT INTO datasets (dataset_uuid, experiment_id, name, digest, source_type, source) "
            "VALUES (?, ?, ?, ?, 'local', 'file:///data') ON CONFLICT DO NOTHING",
            (dataset_uuid, experiment_id, name, digest),
        )
        tx.execute(
            "INSERT INTO run_dataset_inputs (run_uuid, dataset_uuid, position) VALUES (?, ?, ?)",
            (run.run_id, dataset_uuid, position),
        )
        tx.execute(
            "INSERT INTO run_dataset_input_tags (run_uuid, dataset_uuid, key, value) "
            "VALUES (?, ?, 'mlflow.data.context', ?)",
            (run.run_id, dataset_uuid, context),
        )


# The runs of experiment "main" that most tests search. Default order is
# start_time DESC, run id: r2, r4 (tie at 300, broken by id), r3, r1.
MAIN_RUNS = [
    RunRow(
        "r1",
        name="alpha",
        start_time=100,
        end_time=200,
        metrics={"acc": 0.9, "loss": 0.1},
        params={"lr": "0.01", "opt": "Adam"},
        tags={"team": "Vision", "note": "50%_off", "glob": "aXXb?[c]"},
        datasets=[("mnist", "d1", "training")],
    ),
    RunRow(
        "r2",
        name="Beta",
        status="FAILED",
        start_time=300,
        user_id="bob",
        metrics={"acc": 0.5, "loss": NAN},
        params={"lr": "0.1", "opt": "adam"},
        tags={"team": "vision"},
        datasets=[("cifar", "d2", "eval"), ("mnist", "d1", "eval")],
    ),
    RunRow("r3", status="RUNNING", start_time=200, metrics={"acc": NAN}, params={"lr": "0.001"}),
    RunRow(
        "r4",
        name="gamma",
        start_time=300,
        end_time=400,
        user_id="cy",
        metrics={"acc": 0.7},
        params={"opt": "SGD"},
        tags={"team": "ops", "note": "50 percent", "glob": "a*b?[c]"},
    ),
    RunRow("r5", name="delta", stage="deleted", start_time=500, metrics={"acc": 0.99}),
]


@dataclass
class World:
    db: Database
    main: str
    other: str

    def runs(
        self,
        filter_string: str = "",
        order_by: Sequence[str] = (),
        experiment_ids: Sequence[str] | None = None,
        stages: Sequence[str] = ("active",),
        limit: int = 1000,
        offset: int = 0,
    ) -> list[str]:
        sql, params = run_search_sql(
            [self.main] if experiment_ids is None else experiment_ids,
            parse_run_filter(filter_string),
            stages,
            parse_run_order_by(order_by),
            limit,
            offset,
            self.db.dialect,
        )
        with self.db.read() as tx:
            return [row[0] for row in tx.all(sql, params)]


@pytest.fixture
def world(db: Database) -> World:
    with db.write() as tx:
        main = add_experiment(tx, "main")
        other = add_experiment(tx, "other")
        for run in MAIN_RUNS:
            add_run(tx, main, run)
        add_run(tx, other, RunRow("r6", name="alpha", metrics={"acc": 0.95}))
    return World(db, str(main), str(other))


def test_default_order_is_start_time_desc_then_run_id(world: World) -> None:
    assert world.runs() == ["r2", "r4", "r3", "r1"]


METRIC_CASES = [
    ("metrics.acc > 0.6", {"r1", "r4"}),
    ("metrics.acc <= 0.9", {"r1", "r2", "r4"}),
    ("metrics.acc >= 0.5 AND metrics.acc < 0.9", {"r2", "r4"}),
    # NaN is stored as 0: it never equals 0 and never orders against numbers ...
    ("metrics.acc = 0", set()),
    ("metrics.acc < 1", {"r1", "r2", "r4"}),
    # ... but NaN != x is true, as in MLflow.
    ("metrics.acc != 0.5", {"r1", "r3", "r4"}),
    ("metrics.loss != 0", {"r1", "r2"}),
    # A missing metric matches nothing, not even '!='.
    ("metrics.missing != 1", set()),
]


def test_metric_comparisons(world: World) -> None:
    wrong = [
        (case, got, expected)
        for case, expected in METRIC_CASES
        if (got := set(world.runs(case))) != expected
    ]
    assert wrong == []


def test_param_and_tag_comparisons(world: World) -> None:
    assert world.runs("params.lr = '0.01'") == ["r1"]
    assert world.runs("params.opt != 'Adam'") == ["r2", "r4"]  # r3 has no opt
    assert world.runs("params.opt IS NULL") == ["r3"]
    assert world.runs("params.opt IS NOT NULL") == ["r2", "r4", "r1"]
    assert world.runs("tags.team = 'vision'") == ["r2"]
    assert world.runs("tags.note IS NULL") == ["r2", "r3"]
    assert world.runs("params.lr = '0.1'") == ["r2"]


LIKE_CASES = [
    ("params.opt LIKE 'A%'", ["r1"]),
    ("params.opt LIKE 'a%'", ["r2"]),
    ("params.opt ILIKE 'a%'", ["r2", "r1"]),
    ("params.opt ILIKE 'ADAM'", ["r2", "r1"]),
    ("tags.team LIKE 'V_sion'", ["r1"]),
    ("tags.team ILIKE 'V_SION'", ["r2", "r1"]),
    ("tags.team LIKE '%isi%'", ["r2", "r1"]),
    # GLOB's own wildcards are literal characters in a LIKE pattern.
    ("tags.glob LIKE 'a*b?[c]'", ["r4"]),
    ("tags.glob LIKE 'a*b%'", ["r4"]),
    ("tags.glob ILIKE 'A*B?[C]'", ["r4"]),
    ("tags.glob LIKE 'a__b%'", ["r1"]),
    ("tags.note LIKE '50%'", ["r4", "r1"]),
    ("tags.note LIKE '50\\%'", []),
]


def test_like_is_case_sensitive_and_ilike_is_not(world: World) -> None:
    wrong = [
        (case, got, expected)
        for case, expected in LIKE_CASES
        if (got := world.runs(case)) != expected
    ]
    assert wrong == []


ATTRIBUTE_CASES = [
    ("attributes.status = 'FAILED'", ["r2"]),
    ("status != 'FINISHED'", ["r2", "r3"]),
    ("attributes.run_id IN ('r1', 'r3', 'nope')", ["r3", "r1"]),
    ("run_id NOT IN ('r1')", ["r2", "r4", "r3"]),
    ("attributes.start_time >= 200", ["r2", "r4", "r3"]),
    ("created < 200", ["r1"]),
    ("start_time < 99999999999999999999", ["r2", "r4", "r3", "r1"]),
    ("start_time > -99999999999999999999", ["r2", "r4", "r3", "r1"]),
    ("end_time > 150", ["r4", "r1"]),
    ("attributes.user_id = 'ann'", ["r3", "r1"]),
    ("attributes.artifact_uri LIKE 's3://bucket/r1/%'", ["r1"]),
    # run_name is the runs.name column; an unnamed run matches nothing.
    ("attributes.run_name = 'alpha'", ["r1"]),
    ("run_name != 'alpha'", ["r2", "r4"]),
    ("attributes.`Run name` ILIKE 'b%'", ["r2"]),
    ("tags.mlflow.runName = 'Beta'", ["r2"]),
    ("tags.`mlflow.runName` IS NULL", ["r3"]),
    ("tags.`mlflow.runName` IS NOT NULL", ["r2", "r4", "r1"]),
]


def test_attribute_comparisons(world: World) -> None:
    wrong = [
        (case, got, expected)
        for case, expected in ATTRIBUTE_CASES
        if (got := world.runs(case)) != expected
    ]
    assert wrong == []


DATASET_CASES = [
    ("dataset.name = 'mnist'", ["r2", "r1"]),
    ("dataset.digest IN ('d2')", ["r2"]),
    ("datasets.context = 'eval'", ["r2"]),
    ("dataset.context LIKE 'train%'", ["r1"]),
    # Some dataset of the run is not mnist; runs without datasets never match.
    ("dataset.name != 'mnist'", ["r2"]),
    ("dataset.name NOT IN ('cifar')", ["r2", "r1"]),
]


def test_dataset_comparisons(world: World) -> None:
    wrong = [
        (case, got, expected)
        for case, expected in DATASET_CASES
        if (got := world.runs(case)) != expected
    ]
    assert wrong == []


def test_conditions_are_anded(world: World) -> None:
    text = "metrics.acc > 0.4 AND params.opt ILIKE 'adam' AND tags.team = 'Vision'"
    assert world.runs(text) == ["r1"]
    assert world.runs("metrics.acc > 0.4 and status = 'FAILED' and dataset.name = 'cifar'") == [
        "r2"
    ]


def test_experiments_and_lifecycle_stages(world: World) -> None:
    assert world.runs(stages=["deleted"]) == ["r5"]
    assert world.runs(stages=["active", "deleted"]) == ["r5", "r2", "r4", "r3", "r1"]
    assert world.runs("run_name = 'alpha'", experiment_ids=[world.main, world.other]) == [
        "r1",
        "r6",
    ]
    assert world.runs(experiment_ids=[]) == []
    with pytest.raises(InvalidParameterValue, match="Experiment ID must be a valid integer"):
        world.runs(experiment_ids=["abc"])


ORDER_CASES = [
    # Numbers, then NaN, then runs without the metric, whichever the direction.
    (["metrics.acc DESC"], ["r1", "r4", "r2", "r3"]),
    (["metrics.acc"], ["r2", "r4", "r1", "r3"]),
    (["metrics.loss ASC"], ["r1", "r2", "r4", "r3"]),
    (["metrics.loss DESC"], ["r1", "r2", "r4", "r3"]),
    # Strings order by code point on both backends; missing last.
    (["params.opt ASC"], ["r1", "r4", "r2", "r3"]),
    (["params.opt DESC"], ["r2", "r4", "r1", "r3"]),
    (["tags.team"], ["r1", "r4", "r2", "r3"]),
    (["tags.`team` DESC"], ["r2", "r4", "r1", "r3"]),
    # NULL attributes (end_time of unfinished runs) sort last as well.
    (["attributes.end_time ASC"], ["r1", "r4", "r2", "r3"]),
    (["attributes.end_time DESC"], ["r4", "r1", "r2", "r3"]),
    (["attributes.start_time"], ["r1", "r3", "r2", "r4"]),
    (["created DESC"], ["r2", "r4", "r3", "r1"]),
    (["attributes.run_name"], ["r3", "r2", "r1", "r4"]),
    (["tags.`mlflow.runName` DESC"], ["r4", "r1", "r2", "r3"]),
    (["status", "attributes.user_id DESC"], ["r2", "r4", "r1", "r3"]),
    (["params.lr DESC", "metrics.acc DESC"], ["r2", "r1", "r3", "r4"]),
]


def test_order_by(world: World) -> None:
    wrong = [
        (case, got, expected)
        for case, expected in ORDER_CASES
        if (got := world.runs(order_by=case)) != expected
    ]
    assert wrong == []


def test_paging_with_limit_and_offset(world: World) -> None:
    everything = world.runs(order_by=["metrics.acc DESC"])
    pages = [world.runs(order_by=["metrics.acc DESC"], limit=3, offset=o) for o in (0, 3, 6)]
    assert pages == [everything[:3], everything[3:], []]


def test_experiment_search(db: Database) -> None:
    with db.write() as tx:
        default = add_experiment(tx, "Default", creation_time=1)
        a = add_experiment(tx, "proj-A", creation_time=5, tags={"owner": "ann"})
        b = add_experiment(tx, "proj-b", creation_time=5, tags={"owner": "Bob"})
        old = add_experiment(tx, "old", creation_time=None)
        gone = add_experiment(tx, "gone", creation_time=9, stage="deleted")

    def search(
        filter_string: str = "",
        order_by: Sequence[str] = (),
        stages: Sequence[str] = ("active",),
        limit: int = 100,
        offset: int = 0,
    ) -> list[int]:
        sql, params = experiment_search_sql(
            parse_experiment_filter(filter_string),
            stages,
            parse_experiment_order_by(order_by),
            limit,
            offset,
            db.dialect,
        )
        with db.read() as tx:
            return [int(row[0]) for row in tx.all(sql, params)]

    # creation_time DESC, experiment_id ASC; a NULL creation time sorts last.
    assert search() == [a, b, default, old]
    assert search(stages=["active", "deleted"])[0] == gone
    assert search(stages=["deleted"]) == [gone]
    assert search("name LIKE 'proj%'") == [a, b]
    assert search("name LIKE 'proj-a'") == []
    assert search("attribute.name ILIKE 'PROJ-_'") == [a, b]
    assert search("name != 'old'") == [a, b, default]
    assert search("tags.owner = 'ann'") == [a]
    assert search("tag.owner ILIKE 'b%'") == [b]
    assert search("tags.owner != 'ann'") == [b]
    assert search("tags.owner IS NULL") == [default, old]
    assert search("tags.owner IS NOT NULL AND creation_time >= 5") == [a, b]
    assert search(f"experiment_id IN ('{a}', '{old}')") == [a, old]
    assert search(f"experiment_id NOT IN ('{a}')") == [b, default, old]
    assert search(f"experiment_id = '{b}'") == [b]
    assert search("creation_time < 5") == [default]
    assert search("last_update_time > 0") == [a, b, default]
    assert search(order_by=["name"]) == [default, old, a, b]
    assert search(order_by=["name DESC"]) == [b, a, old, default]
    # Explicit order: experiment_id DESC breaks ties, NULLs last.
    assert search(order_by=["creation_time ASC"]) == [default, b, a, old]
    assert search(order_by=["attribute.experiment_id DESC"]) == [old, b, a, default]
    assert search(limit=2, offset=1) == [b, default]


def test_compiler_refuses_what_the_parser_would_never_produce() -> None:
    bad = [
        Comparison("attribute", "nope", "=", "x"),
        Comparison("metric", "acc", "LIKE", "x"),
        Comparison("metric", "acc", ">", "0.5"),
        Comparison("param", "x", "=", 1),
        Comparison("param", "x", "IN", "a"),
        Comparison("model", "x", "=", "a"),
    ]
    for comparison in bad:
        with pytest.raises(InvalidParameterValue):
            run_search_sql(["1"], [comparison], ["active"], [], 10, 0, "sqlite")
    with pytest.raises(InvalidParameterValue):
        run_search_sql(["1"], [], ["active"], [OrderKey("dataset", "name", True)], 10, 0, "sqlite")
    with pytest.raises(InvalidParameterValue):
        experiment_search_sql(
            [Comparison("metric", "x", "=", 1.0)], ["active"], [], 10, 0, "sqlite"
        )


def test_like_to_glob() -> None:
    assert like_to_glob("a%b_c") == "a*b?c"
    assert like_to_glob("*?[]") == "[*][?][[]]"
    assert like_to_glob("50\\%") == "50\\*"


def test_sqlite_plan_seeks_primary_keys(tmp_path: Path) -> None:
    """Every metric/param/tag lookup is a primary-key seek, never a table scan."""
    database = Database(f"sqlite:///{tmp_path / 'plan.db'}")
    migrations.upgrade(database)
    text = (
        "metrics.acc > 0.5 AND params.lr = '0.1' AND tags.team LIKE 'v%' "
        "AND params.opt IS NULL AND dataset.name = 'mnist' AND dataset.context = 'eval'"
    )
    order = ["metrics.acc DESC", "params.lr", "tags.team DESC"]
    sql, params = run_search_sql(
        ["1", "2"],
        parse_run_filter(text),
        ["active"],
        parse_run_order_by(order),
        100,
        0,
        "sqlite",
    )
    with database.read() as tx:
        plan = [str(row[-1]) for row in tx.all(f"EXPLAIN QUERY PLAN {sql}", params)]
    database.close()
    details = "\n".join(plan)
    for table_alias in ("f", "o", "i", "d"):
        assert not re.search(rf"\bSCAN {table_alias}\d", details), details
    seeks = re.findall(r"SEARCH [fo]\d+ USING PRIMARY KEY \(run_uuid=\? AND key=\?\)", details)
    # Four metric/param/tag filters and two more order keys, in each part of the
    # query that reads runs (see search_sql: ordered by a metric, there are several).
    assert len(seeks) >= 6, details
    lookups = re.findall(r"SEARCH [fo]\d+ .*", details)
    assert all("USING PRIMARY KEY" in line for line in lookups), details
    assert re.search(r"SEARCH r USING INDEX runs_by_experiment", details), details


# -- ordering by a metric/param/tag at scale: every part of the compiled query -------
#
# run_search_sql answers "ORDER BY a metric, param or tag" from several parts (an
# index stream, a tie group read in start-time order, the plain sort as a
# fallback) chosen at run time from the number of candidates and the page's end,
# so a handful of runs only ever exercises the fallback. This world has enough runs
# for small pages to take every part, and awkward data: tied values shared across
# experiments, NaN, missing keys, NULL tag values, values longer than the indexed
# prefix that share it, tied and NULL start times, deleted runs.

LONG = "x" * 230  # longer than search_sql.VALUE_PREFIX


def _big_runs(rng: random.Random, prefix: str, count: int) -> list[RunRow]:
    runs = []
    for i in range(count):
        metrics: dict[str, float] = {"c": rng.random()}
        roll = rng.random()
        if roll < 0.7:
            metrics["m"] = float(rng.choice([1, 2, 2, 3, 3, 3]))
        elif roll < 0.85:
            metrics["m"] = NAN
        params = {"p": "a" if rng.random() < 0.7 else "b"} if rng.random() < 0.9 else {}
        if rng.random() < 0.6:
            params["long"] = rng.choice([LONG + "1", LONG + "2", LONG, "short", "x" * 199])
        tags = {"t": rng.choice(["u", "v", "w"])} if rng.random() < 0.8 else {}
        runs.append(
            RunRow(
                f"{prefix}{rng.getrandbits(48):012x}",
                start_time=None if i % 17 == 0 else 1000 + (i // 3) * 10,
                stage="deleted" if i % 23 == 5 else "active",
                metrics=metrics,
                params=params,
                tags=tags,
            )
        )
    return runs


def _segment_and_value(run: RunRow, null_tags: set[str], spec: str) -> tuple[int, Any]:
    entity, key = spec.split(".", 1)
    if entity == "metrics":
        value = run.metrics.get(key)
        if value is None:
            return 2, None
        return (1, None) if value != value else (0, value)
    if entity == "attributes":
        return (1, None) if run.start_time is None else (0, run.start_time)
    if entity == "tags" and run.run_id in null_tags:
        return 2, None
    found = (run.params if entity == "params" else run.tags).get(key)
    return (2, None) if found is None else (0, found)


def reference_order(
    runs: Sequence[RunRow], null_tags: set[str], order_by: Sequence[str]
) -> list[str]:
    """MLflow's order, computed in Python: values, then NaN, then missing, whatever
    the direction; ties by start_time DESC (NULL last), then run id."""
    chosen = sorted(runs, key=lambda r: r.run_id)
    if not any(spec.split()[0] == "attributes.start_time" for spec in order_by):
        chosen.sort(key=lambda r: -1 if r.start_time is None else r.start_time, reverse=True)
    for spec in reversed(order_by):
        name, *direction = spec.split()
        descending = direction == ["DESC"]
        keyed = [(_segment_and_value(r, null_tags, name), r) for r in chosen]
        with_value = [(sv, r) for sv, r in keyed if sv[0] == 0]
        with_value.sort(key=lambda item: item[0][1], reverse=descending)
        others = sorted((item for item in keyed if item[0][0] != 0), key=lambda i: i[0][0])
        chosen = [r for _, r in with_value + others]
    return [r.run_id for r in chosen]


@dataclass
class BigWorld:
    db: Database
    main: str
    runs: list[RunRow]
    null_tags: set[str]

    def sql(self, filter_string: str, order_by: Sequence[str], limit: int, offset: int) -> Any:
        return run_search_sql(
            [self.main],
            parse_run_filter(filter_string),
            ["active"],
            parse_run_order_by(order_by),
            limit,
            offset,
            self.db.dialect,
        )

    def page(self, filter_string: str, order_by: Sequence[str], limit: int, offset: int) -> Any:
        sql, params = self.sql(filter_string, order_by, limit, offset)
        with self.db.read() as tx:
            return [row[0] for row in tx.all(sql, params)]

    def mode(self, filter_string: str, order_by: Sequence[str], limit: int, offset: int) -> int:
        """Which part answered (white-box: the CTE `g` of the compiled query)."""
        sql, params = self.sql(filter_string, order_by, limit, offset)
        ctes = sql.rsplit(" SELECT u.run_id FROM", 1)[0]
        used = params[: ctes.count("?")]
        with self.db.read() as tx:
            return int(tx.scalar(f"{ctes} SELECT mode FROM g", used))


@pytest.fixture
def big(db: Database) -> BigWorld:
    rng = random.Random(20240611)
    runs = _big_runs(rng, "a", 140)
    others = _big_runs(rng, "b", 90)
    null_tags = {runs[3].run_id, runs[4].run_id, others[0].run_id}
    with db.write() as tx:
        main = add_experiment(tx, "main")
        other = add_experiment(tx, "other")
        for run in runs:
            add_run(tx, main, run)
        for run in others:
            add_run(tx, other, run)
        for run_id in null_tags:
            tx.execute(
                "INSERT INTO tags (run_uuid, key, value) VALUES (?, 't', NULL) "
                "ON CONFLICT (run_uuid, key) DO UPDATE SET value = NULL",
                (run_id,),
            )
    return BigWorld(db, str(main), runs, null_tags)


BIG_ORDERS = [
    ["metrics.m DESC"],
    ["metrics.m ASC"],
    ["metrics.c DESC"],
    ["metrics.c ASC"],
    ["params.p ASC"],
    ["params.p DESC"],
    ["params.long ASC"],
    ["params.long DESC"],
    ["tags.t DESC"],
    ["tags.t ASC"],
    ["params.p ASC", "metrics.c DESC"],
    ["metrics.m DESC", "attributes.start_time ASC"],
]

BIG_FILTERS: list[tuple[str, Any]] = [
    ("", lambda r: True),
    ("metrics.c > 0.3", lambda r: r.metrics["c"] > 0.3),
    ("params.p = 'a'", lambda r: r.params.get("p") == "a"),
    ("metrics.m != 2", lambda r: "m" in r.metrics and r.metrics["m"] != 2),
    # Equalities on a param or tag: read from that key's index and sorted (part `sel`).
    ("tags.t = 'u' and metrics.c > 0.2", lambda r: r.tags.get("t") == "u" and r.metrics["c"] > 0.2),
    ("params.p = 'b'", lambda r: r.params.get("p") == "b"),
]
SELECTIVE = ("tags.t = 'u' and metrics.c > 0.2", "params.p = 'b'")


def test_big_orders_page_by_page_match_mlflow_order(big: BigWorld) -> None:
    """Every page, at every page size, is the matching slice of MLflow's order."""
    active = [r for r in big.runs if r.stage == "active"]
    wrong = []
    for filter_string, predicate in BIG_FILTERS:
        matching = [r for r in active if predicate(r)]
        for order in BIG_ORDERS:
            if filter_string not in ("", *SELECTIVE) and order not in (
                BIG_ORDERS[0],
                BIG_ORDERS[4],
                BIG_ORDERS[6],
            ):
                continue
            expected = reference_order(matching, big.null_tags, order)
            for size in (1, 4, 9, 40, 500):
                pages = [big.page(filter_string, order, size, offset)
                         for offset in range(0, len(expected) + size, size)]  # fmt: skip
                if [i for p in pages for i in p] != expected or pages[-1] != []:
                    wrong.append((filter_string, order, size))
    assert wrong == []


def test_big_orders_take_every_part(big: BigWorld) -> None:
    """The cases above do reach the index stream (1), the tie group read in
    start-time order (2) and the plain sort (0), so the test covers all three."""
    seen = {
        big.mode(filter_string, order, size, offset)
        for filter_string, _ in BIG_FILTERS
        for order in BIG_ORDERS
        for size, offset in ((4, 0), (4, 8), (40, 0))
    }
    assert seen == {0, 1, 2}
    # The low-cardinality param's first value is shared by most runs: a tie group.
    assert big.mode("", ["params.p ASC"], 4, 0) == 2
    # A continuous metric streams from the index; a deep page falls back.
    assert big.mode("", ["metrics.c DESC"], 4, 0) == 1
    assert big.mode("", ["metrics.c DESC"], 4, 100) == 0


def test_a_selective_equality_filter_is_read_from_its_index(big: BigWorld) -> None:
    """When the index stream comes up short, a param/tag equality matching few
    index entries has its runs read and sorted (part `sel`) instead of every run
    (`rest`); when the stream finds the page, the count is not needed."""
    active = [r for r in big.runs if r.stage == "active"]
    for filter_string, predicate in BIG_FILTERS:
        if filter_string not in SELECTIVE:
            continue
        matching = [r for r in active if predicate(r)]
        # A 40-row page of ~130 candidates: W is 0, nothing but the complete answer.
        sql, params = big.sql(filter_string, ["metrics.c DESC"], 40, 0)
        ctes = sql.rsplit(" SELECT u.run_id FROM", 1)[0]
        used = params[: ctes.count("?")]
        with big.db.read() as tx:
            assert int(tx.scalar(f"{ctes} SELECT few FROM fs", used)) == 1
            assert int(tx.scalar(f"{ctes} SELECT mode FROM g", used)) == 0
            assert int(tx.scalar(f"{ctes} SELECT count(*) FROM rest", used)) == 0
            found = int(tx.scalar(f"{ctes} SELECT count(*) FROM sel", used))
        assert found == min(40, len(matching))
    # Without an equality there is no such part.
    assert " sel AS " not in big.sql("metrics.c > 0.3", ["metrics.c DESC"], 4, 0)[0]


def test_sqlite_plan_reads_a_selective_filter_from_its_index(tmp_path: Path) -> None:
    """`params.layers = '12'` ordered by `params.lr`: the filter's rows come from
    params_by_key_value by (key, value), not from a scan of the experiment's runs."""
    database = Database(f"sqlite:///{tmp_path / 'plan.db'}")
    migrations.upgrade(database)
    sql, params = run_search_sql(
        ["1"],
        parse_run_filter("params.layers = '12'"),
        ["active"],
        parse_run_order_by(["params.lr ASC"]),
        100,
        0,
        "sqlite",
    )
    with database.read() as tx:
        plan = "\n".join(str(row[-1]) for row in tx.all(f"EXPLAIN QUERY PLAN {sql}", params))
    database.close()
    assert re.search(
        r"SEARCH x USING (COVERING )?INDEX params_by_key_value \(key=\? AND value=\?", plan
    ), plan


def test_sqlite_plan_streams_the_order_key_from_its_index(tmp_path: Path) -> None:
    """Ordered by a metric, param or tag, the first rows come from the key's
    (key, value) index and runs' primary key, not from a sort of every run."""
    database = Database(f"sqlite:///{tmp_path / 'plan.db'}")
    migrations.upgrade(database)
    plans = {}
    for order, index in (
        ("metrics.acc DESC", "latest_metrics_by_key_value"),
        ("params.lr", "params_by_key_value"),
        ("tags.team DESC", "tags_by_key_value"),
    ):
        sql, params = run_search_sql(
            ["1"], [], ["active"], parse_run_order_by([order]), 100, 0, "sqlite"
        )
        with database.read() as tx:
            plans[order] = "\n".join(
                str(row[-1]) for row in tx.all(f"EXPLAIN QUERY PLAN {sql}", params)
            )
        assert re.search(rf"SEARCH k USING (COVERING )?INDEX {index} \(key=\? AND", plans[order])
        assert not re.search(r"\bSCAN [kr]\b", plans[order]), plans[order]
    database.close()
