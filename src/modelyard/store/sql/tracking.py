"""The tracking store on SQL (SQLite or PostgreSQL through `Database`).

Hot paths are a few statements each: log-batch is one transaction with one
multi-row insert per entity type, and "latest metric" is maintained by an
upsert whose WHERE clause keeps the row with the greatest (step, timestamp,
value), MLflow's rule, without reading it back into Python first.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from modelyard.entities import (
    Dataset,
    DatasetInput,
    Experiment,
    LifecycleStage,
    Metric,
    ModelIO,
    Page,
    Param,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    RunOutputs,
    Tag,
    ViewType,
)
from modelyard.errors import InvalidParameterValue, ResourceDoesNotExist
from modelyard.points_entities import (
    ChartSeries,
    HistoryCursor,
    MetricRow,
    PointsPage,
    RunPoints,
    RunValueColumns,
)
from modelyard.search_terms import Comparison, OrderKey, encode_page_token
from modelyard.store.sql import chart_reads, ingest, metric_history, search_sql
from modelyard.store.sql.db import Database, Tx, UniqueViolation
from modelyard.store.sql.group_commit import GroupCommit
from modelyard.store.sql.sql_text import chunks, in_conditions, placeholders
from modelyard.store.tracking import TrackingStore

_RUN_COLS = (
    "run_uuid, experiment_id, name, user_id, status, start_time, end_time, "
    "artifact_uri, lifecycle_stage"
)


def _exp_id(experiment_id: str) -> int:
    try:
        value = int(experiment_id)
    except (TypeError, ValueError):
        raise InvalidParameterValue(
            f"Invalid experiment ID '{experiment_id}'. Experiment ID must be a valid integer."
        ) from None
    if not 0 <= value < 2**63:
        # No such row can exist; say so rather than let the driver overflow.
        raise ResourceDoesNotExist(f"No Experiment with id={experiment_id} exists")
    return value


def _metric_value(row_value: float, is_nan: int) -> float:
    return math.nan if is_nan else float(row_value)


def _check_active(run_id: str, stage: str | None) -> None:
    """MLflow's errors for logging to a missing or deleted run."""
    if stage is None:
        raise ResourceDoesNotExist(f"Run with id={run_id} not found")
    if stage != LifecycleStage.ACTIVE:
        raise InvalidParameterValue(
            f"The run {run_id} must be in the 'active' state. Current state is {stage}."
        )


def _run_info(row: Sequence[Any]) -> RunInfo:
    return RunInfo(
        run_id=row[0],
        experiment_id=str(row[1]),
        run_name=row[2] or "",
        user_id=row[3] or "",
        status=row[4],
        start_time=row[5],
        end_time=row[6],
        artifact_uri=row[7],
        lifecycle_stage=row[8],
    )


class SqlTrackingStore(TrackingStore):
    def __init__(self, db: Database) -> None:
        self.db = db
        self.writes = GroupCommit(db)

    # -- experiments --------------------------------------------------------
    def ensure_default_experiment(self, name: str, artifact_location: str, now: int) -> None:
        with self.db.write() as tx:
            if tx.scalar("SELECT 1 FROM experiments WHERE experiment_id = 0") is None:
                tx.execute(
                    "INSERT INTO experiments (experiment_id, name, artifact_location, "
                    "lifecycle_stage, creation_time, last_update_time) VALUES (0, ?, ?, ?, ?, ?) "
                    "ON CONFLICT DO NOTHING",
                    (name, artifact_location, LifecycleStage.ACTIVE, now, now),
                )

    def create_experiment(
        self,
        name: str,
        artifact_location: str | Callable[[str], str],
        tags: Sequence[Tag],
        now: int,
    ) -> str:
        with self.db.write() as tx:
            fixed = artifact_location if isinstance(artifact_location, str) else ""
            new_id = tx.scalar(
                "INSERT INTO experiments (name, artifact_location, lifecycle_stage, "
                "creation_time, last_update_time) VALUES (?, ?, ?, ?, ?) RETURNING experiment_id",
                (name, fixed, LifecycleStage.ACTIVE, now, now),
            )
            exp_id = str(new_id)
            if not isinstance(artifact_location, str):
                tx.execute(
                    "UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?",
                    (artifact_location(exp_id), new_id),
                )
            tx.executemany(
                "INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?)",
                [(new_id, t.key, t.value) for t in tags],
            )
        return exp_id

    def _experiments(
        self, tx: Tx, ids: Sequence[int], *, with_tags: bool = True
    ) -> dict[int, Experiment]:
        found: dict[int, Experiment] = {}
        tags: dict[int, list[Tag]] = defaultdict(list)
        for chunk in chunks(ids):
            marks = placeholders(len(chunk))
            if with_tags:
                for eid, key, value in tx.all(
                    f"SELECT experiment_id, key, value FROM experiment_tags "
                    f"WHERE experiment_id IN ({marks}) ORDER BY key",
                    chunk,
                ):
                    tags[eid].append(Tag(key, value))
            for row in tx.all(
                "SELECT experiment_id, name, artifact_location, lifecycle_stage, creation_time, "
                f"last_update_time FROM experiments WHERE experiment_id IN ({marks})",
                chunk,
            ):
                found[row[0]] = Experiment(
                    experiment_id=str(row[0]),
                    name=row[1],
                    artifact_location=row[2],
                    lifecycle_stage=row[3],
                    creation_time=row[4],
                    last_update_time=row[5],
                    tags=tuple(tags.get(row[0], ())),
                )
        return found

    def get_experiment(self, experiment_id: str) -> Experiment:
        return self._one_experiment(experiment_id, with_tags=True)

    def get_experiment_untagged(self, experiment_id: str) -> Experiment:
        return self._one_experiment(experiment_id, with_tags=False)

    def _one_experiment(self, experiment_id: str, *, with_tags: bool) -> Experiment:
        eid = _exp_id(experiment_id)
        with self.db.read() as tx:
            exp = self._experiments(tx, [eid], with_tags=with_tags).get(eid)
        if exp is None:
            raise ResourceDoesNotExist(f"No Experiment with id={experiment_id} exists")
        return exp

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        with self.db.read() as tx:
            eid = tx.scalar("SELECT experiment_id FROM experiments WHERE name = ?", (name,))
            if eid is None:
                return None
            return self._experiments(tx, [eid]).get(eid)

    def search_experiments(
        self,
        view_type: str,
        max_results: int,
        filters: Sequence[Comparison],
        order_by: Sequence[OrderKey],
        offset: int,
    ) -> Page[Experiment]:
        sql, params = search_sql.experiment_search_sql(
            filters, ViewType.stages(view_type), order_by, max_results + 1, offset, self.db.dialect
        )
        with self.db.read() as tx:
            ids = [row[0] for row in tx.all(sql, params)]
            found = self._experiments(tx, ids[:max_results])
        items = [found[i] for i in ids[:max_results] if i in found]
        token = encode_page_token(offset + max_results) if len(ids) > max_results else None
        return Page(items, token)

    def rename_experiment(self, experiment_id: str, new_name: str, now: int) -> None:
        eid = _exp_id(experiment_id)
        with self.db.write() as tx:
            stage = tx.scalar(
                "SELECT lifecycle_stage FROM experiments WHERE experiment_id = ?", (eid,)
            )
            if stage is None:
                raise ResourceDoesNotExist(f"No Experiment with id={experiment_id} exists")
            if stage != LifecycleStage.ACTIVE:
                from modelyard.errors import InvalidState

                raise InvalidState("Cannot rename a non-active experiment.")
            tx.execute(
                "UPDATE experiments SET name = ?, last_update_time = ? WHERE experiment_id = ?",
                (new_name, now, eid),
            )

    def set_experiment_lifecycle(self, experiment_id: str, stage: str, now: int) -> None:
        eid = _exp_id(experiment_id)
        expected = (
            LifecycleStage.ACTIVE if stage == LifecycleStage.DELETED else LifecycleStage.DELETED
        )
        with self.db.write() as tx:
            current = tx.scalar(
                "SELECT lifecycle_stage FROM experiments WHERE experiment_id = ?", (eid,)
            )
            if current is None or current != expected:
                raise ResourceDoesNotExist(
                    f"No Experiment with id={experiment_id} exists"
                    if current is None
                    else f"Experiment with id={experiment_id} is already {current}"
                )
            tx.execute(
                "UPDATE experiments SET lifecycle_stage = ?, last_update_time = ? "
                "WHERE experiment_id = ?",
                (stage, now, eid),
            )
            deleted_time = now if stage == LifecycleStage.DELETED else None
            tx.execute(
                "UPDATE runs SET lifecycle_stage = ?, deleted_time = ? "
                "WHERE experiment_id = ? AND lifecycle_stage = ?",
                (stage, deleted_time, eid, expected),
            )

    def set_experiment_tag(self, experiment_id: str, tag: Tag) -> None:
        with self.db.write() as tx:
            tx.execute(
                "INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?) "
                "ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value",
                (_exp_id(experiment_id), tag.key, tag.value),
            )

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        with self.db.write() as tx:
            tx.execute(
                "DELETE FROM experiment_tags WHERE experiment_id = ? AND key = ?",
                (_exp_id(experiment_id), key),
            )
            if tx.rowcount == 0:
                raise ResourceDoesNotExist(
                    f"No tag with name: {key} in experiment with id {experiment_id}"
                )

    # -- runs ---------------------------------------------------------------
    def create_run(self, info: RunInfo, tags: Sequence[Tag]) -> None:
        with self.db.write() as tx:
            tx.execute(
                f"INSERT INTO runs ({_RUN_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    info.run_id,
                    _exp_id(info.experiment_id),
                    info.run_name,
                    info.user_id,
                    info.status,
                    info.start_time,
                    info.end_time,
                    info.artifact_uri,
                    info.lifecycle_stage,
                ),
            )
            tx.executemany(
                "INSERT INTO tags (run_uuid, key, value) VALUES (?, ?, ?)",
                [(info.run_id, t.key, t.value) for t in tags],
            )

    def _info(self, tx: Tx, run_id: str) -> RunInfo:
        row = tx.one(f"SELECT {_RUN_COLS} FROM runs WHERE run_uuid = ?", (run_id,))
        if row is None:
            raise ResourceDoesNotExist(f"Run with id={run_id} not found")
        return _run_info(row)

    def get_run_info(self, run_id: str) -> RunInfo:
        with self.db.read() as tx:
            return self._info(tx, run_id)

    def get_run(self, run_id: str) -> Run:
        with self.db.read() as tx:
            info = self._info(tx, run_id)
            return self._hydrate(tx, [info])[0]

    def _hydrate(self, tx: Tx, infos: Sequence[RunInfo]) -> list[Run]:
        """Attach data, inputs and outputs to many runs with a few IN queries."""
        ids = [i.run_id for i in infos]
        metrics: dict[str, list[Metric]] = defaultdict(list)
        params: dict[str, list[Param]] = defaultdict(list)
        tags: dict[str, list[Tag]] = defaultdict(list)
        datasets: dict[str, list[DatasetInput]] = defaultdict(list)
        model_in: dict[str, list[ModelIO]] = defaultdict(list)
        model_out: dict[str, list[ModelIO]] = defaultdict(list)
        for chunk in chunks(ids):
            marks = placeholders(len(chunk))
            for rid, key, value, ts, step, is_nan in tx.all(
                "SELECT run_uuid, key, value, timestamp, step, is_nan FROM latest_metrics "
                f"WHERE run_uuid IN ({marks}) ORDER BY key",
                chunk,
            ):
                metrics[rid].append(Metric(key, _metric_value(value, is_nan), ts, step))
            for rid, key, value in tx.all(
                f"SELECT run_uuid, key, value FROM params WHERE run_uuid IN ({marks}) ORDER BY key",
                chunk,
            ):
                params[rid].append(Param(key, value))
            for rid, key, value in tx.all(
                f"SELECT run_uuid, key, value FROM tags WHERE run_uuid IN ({marks}) ORDER BY key",
                chunk,
            ):
                tags[rid].append(Tag(key, value))
            input_tags: dict[tuple[str, str], list[Tag]] = defaultdict(list)
            for rid, duuid, key, value in tx.all(
                "SELECT run_uuid, dataset_uuid, key, value FROM run_dataset_input_tags "
                f"WHERE run_uuid IN ({marks}) ORDER BY key",
                chunk,
            ):
                input_tags[(rid, duuid)].append(Tag(key, value))
            for row in tx.all(
                "SELECT i.run_uuid, d.dataset_uuid, d.name, d.digest, d.source_type, d.source, "
                "d.schema, d.profile FROM run_dataset_inputs i JOIN datasets d "
                f"ON d.dataset_uuid = i.dataset_uuid WHERE i.run_uuid IN ({marks}) "
                "ORDER BY i.run_uuid, i.position",
                chunk,
            ):
                datasets[row[0]].append(
                    DatasetInput(
                        Dataset(row[2], row[3], row[4], row[5], row[6], row[7]),
                        tuple(input_tags.get((row[0], row[1]), ())),
                    )
                )
            for rid, model_id, direction, step in tx.all(
                "SELECT run_uuid, model_id, direction, step FROM run_model_io "
                f"WHERE run_uuid IN ({marks}) ORDER BY run_uuid, position",
                chunk,
            ):
                target = model_in if direction == "input" else model_out
                target[rid].append(ModelIO(model_id, step))
        return [
            Run(
                info,
                RunData(
                    tuple(metrics.get(info.run_id, ())),
                    tuple(params.get(info.run_id, ())),
                    tuple(tags.get(info.run_id, ())),
                ),
                RunInputs(
                    tuple(datasets.get(info.run_id, ())), tuple(model_in.get(info.run_id, ()))
                ),
                RunOutputs(tuple(model_out.get(info.run_id, ()))),
            )
            for info in infos
        ]

    def update_run_info(
        self, run_id: str, status: str | None, end_time: int | None, run_name: str | None
    ) -> RunInfo:
        with self.db.write() as tx:
            sets: list[str] = []
            values: list[Any] = []
            for column, value in (("status", status), ("end_time", end_time), ("name", run_name)):
                if value is not None:
                    sets.append(f"{column} = ?")
                    values.append(value)
            if sets:
                tx.execute(
                    f"UPDATE runs SET {', '.join(sets)} WHERE run_uuid = ?", (*values, run_id)
                )
            if run_name is not None:
                self._upsert_tags(tx, run_id, [Tag("mlflow.runName", run_name)])
            return self._info(tx, run_id)

    def set_run_lifecycle(self, run_id: str, stage: str, now: int) -> None:
        with self.db.write() as tx:
            tx.execute(
                "UPDATE runs SET lifecycle_stage = ?, deleted_time = ? WHERE run_uuid = ?",
                (stage, now if stage == LifecycleStage.DELETED else None, run_id),
            )
            if tx.rowcount == 0:
                raise ResourceDoesNotExist(f"Run with id={run_id} not found")

    def _upsert_tags(self, tx: Tx, run_id: str, tags: Sequence[Tag]) -> None:
        tx.executemany(
            "INSERT INTO tags (run_uuid, key, value) VALUES (?, ?, ?) "
            "ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value",
            [(run_id, t.key, t.value) for t in tags],
        )
        for t in tags:
            # The run name lives in two places in MLflow's model; keep them in step.
            if t.key == "mlflow.runName":
                tx.execute("UPDATE runs SET name = ? WHERE run_uuid = ?", (t.value, run_id))

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric],
        params: Sequence[Param],
        tags: Sequence[Tag],
    ) -> None:
        self.log_batch_rows(
            run_id, [(m.key, m.value, m.timestamp, m.step) for m in metrics], params, tags
        )

    def log_batch_rows(
        self,
        run_id: str,
        metrics: Sequence[MetricRow],
        params: Sequence[Param],
        tags: Sequence[Tag],
    ) -> None:
        if metrics and not params and not tags and self.db.dialect == "postgresql":
            # log-batch's common case in one round trip (see ingest.PG_POINTS_IF_ACTIVE).
            with self.db.write_pipelined() as ptx:
                state = ptx.query_pg(
                    ingest.PG_POINTS_IF_ACTIVE,
                    ingest.pg_points_if_active(run_id, metrics, LifecycleStage.ACTIVE),
                )
            _check_active(run_id, state.row[0] if state.row else None)
            return

        # Concurrent log-batches of this process share transactions on SQLite
        # (store/sql/group_commit.py); each is acknowledged after its commit.
        def write(tx: Tx) -> None:
            _check_active(
                run_id, tx.scalar("SELECT lifecycle_stage FROM runs WHERE run_uuid = ?", (run_id,))
            )
            if params:
                self._insert_params(tx, run_id, params)
            if tags:
                self._upsert_tags(tx, run_id, tags)
            if metrics:
                ingest.insert_metric_rows(tx, run_id, metrics)

        self.writes.run(write)

    def _insert_params(self, tx: Tx, run_id: str, params: Sequence[Param]) -> None:
        wanted = {p.key: p.value for p in params}
        existing: dict[str, str] = {}
        keys = list(wanted)
        for chunk in chunks(keys):
            for key, value in tx.all(
                "SELECT key, value FROM params "
                f"WHERE run_uuid = ? AND key IN ({placeholders(len(chunk))})",
                (run_id, *chunk),
            ):
                existing[key] = value
        conflicts = [
            {"key": k, "old_value": existing[k], "new_value": v}
            for k, v in wanted.items()
            if k in existing and existing[k] != v
        ]
        if conflicts:
            raise InvalidParameterValue(
                "Changing param values is not allowed. Params were already logged="
                f"'{conflicts}' for run ID='{run_id}'."
            )
        tx.executemany(
            "INSERT INTO params (run_uuid, key, value) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            [(run_id, k, v) for k, v in wanted.items() if k not in existing],
        )

    def delete_tag(self, run_id: str, key: str) -> None:
        with self.db.write() as tx:
            tx.execute("DELETE FROM tags WHERE run_uuid = ? AND key = ?", (run_id, key))
            if tx.rowcount == 0:
                raise ResourceDoesNotExist(f"No tag with name: {key} in run with id {run_id}")

    def log_inputs(
        self, run_id: str, datasets: Sequence[DatasetInput], models: Sequence[ModelIO]
    ) -> None:
        import uuid

        with self.db.write() as tx:
            info = self._info(tx, run_id)
            eid = _exp_id(info.experiment_id)
            position = tx.scalar(
                "SELECT COALESCE(MAX(position), -1) FROM run_dataset_inputs WHERE run_uuid = ?",
                (run_id,),
            )
            for di in datasets:
                ds = di.dataset
                tx.execute(
                    "INSERT INTO datasets (dataset_uuid, experiment_id, name, digest, "
                    "source_type, source, schema, profile) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (experiment_id, name, digest) DO NOTHING",
                    (
                        uuid.uuid4().hex,
                        eid,
                        ds.name,
                        ds.digest,
                        ds.source_type,
                        ds.source,
                        ds.schema,
                        ds.profile,
                    ),
                )
                duuid = tx.scalar(
                    "SELECT dataset_uuid FROM datasets WHERE experiment_id = ? AND name = ? "
                    "AND digest = ?",
                    (eid, ds.name, ds.digest),
                )
                position += 1
                tx.execute(
                    "INSERT INTO run_dataset_inputs (run_uuid, dataset_uuid, position) "
                    "VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                    (run_id, duuid, position),
                )
                tx.executemany(
                    "INSERT INTO run_dataset_input_tags (run_uuid, dataset_uuid, key, value) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    [(run_id, duuid, t.key, t.value) for t in di.tags],
                )
            self._model_io(tx, run_id, "input", models)

    def append_json_tag(self, run_id: str, key: str, item: object, max_length: int) -> None:
        with self.db.write() as tx:
            if tx.dialect == "postgresql":
                # Serialise appends on this run (SQLite's writer is already exclusive).
                tx.execute("SELECT 1 FROM runs WHERE run_uuid = ? FOR UPDATE", (run_id,))
            current = tx.scalar(
                "SELECT value FROM tags WHERE run_uuid = ? AND key = ?", (run_id, key)
            )
            try:
                items = json.loads(current) if current else []
            except ValueError:
                items = []
            if not isinstance(items, list):
                items = []
            value = json.dumps([*items, item])
            if len(value) > max_length:
                raise InvalidParameterValue(
                    f"Tag '{key}' would exceed the maximum length of {max_length} characters"
                )
            self._upsert_tags(tx, run_id, [Tag(key, value)])

    def log_outputs(self, run_id: str, models: Sequence[ModelIO]) -> None:
        with self.db.write() as tx:
            self._info(tx, run_id)
            self._model_io(tx, run_id, "output", models)

    def _model_io(self, tx: Tx, run_id: str, direction: str, models: Sequence[ModelIO]) -> None:
        if not models:
            return
        start = tx.scalar(
            "SELECT COALESCE(MAX(position), -1) FROM run_model_io WHERE run_uuid = ?", (run_id,)
        )
        tx.executemany(
            "INSERT INTO run_model_io (run_uuid, model_id, direction, step, position) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [(run_id, m.model_id, direction, m.step, start + 1 + i) for i, m in enumerate(models)],
        )

    def search_run_infos(
        self,
        experiment_ids: Sequence[str],
        filters: Sequence[Comparison],
        view_type: str,
        max_results: int,
        order_by: Sequence[OrderKey],
        offset: int,
    ) -> Page[RunInfo]:
        sql, params = search_sql.run_search_sql(
            [str(_exp_id(e)) for e in experiment_ids],
            filters,
            ViewType.stages(view_type),
            order_by,
            max_results + 1,
            offset,
            self.db.dialect,
        )
        with self.db.read() as tx:
            if tx.dialect == "postgresql":
                # The search reads a few rows along indexes (see search_sql); the
                # planner's parallel plans for it only add the workers' start-up time.
                tx.execute("SET LOCAL max_parallel_workers_per_gather = 0")
            ids = [row[0] for row in tx.all(sql, params)]
            infos = self._infos(tx, ids[:max_results])
        token = encode_page_token(offset + max_results) if len(ids) > max_results else None
        return Page(infos, token)

    def _infos(self, tx: Tx, run_ids: Sequence[str]) -> list[RunInfo]:
        """Run infos in the order of `run_ids` (missing ids are skipped)."""
        found: dict[str, RunInfo] = {}
        for condition, params in in_conditions(tx.dialect, "run_uuid", run_ids):
            for row in tx.all(f"SELECT {_RUN_COLS} FROM runs WHERE {condition}", params):
                found[row[0]] = _run_info(row)
        return [found[i] for i in run_ids if i in found]

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filters: Sequence[Comparison],
        view_type: str,
        max_results: int,
        order_by: Sequence[OrderKey],
        offset: int,
    ) -> Page[Run]:
        page = self.search_run_infos(
            experiment_ids, filters, view_type, max_results, order_by, offset
        )
        with self.db.read() as tx:
            runs = self._hydrate(tx, page.items)
        return Page(runs, page.next_page_token)

    # -- metrics ------------------------------------------------------------
    def get_metric_history(
        self, run_id: str, key: str, max_results: int | None, offset: int
    ) -> Page[Metric]:
        page = self.get_metric_points(run_id, key, max_results, HistoryCursor(offset))
        token = encode_page_token(page.next.offset) if page.next is not None else None
        return Page(
            [Metric(key, _metric_value(val, nan), ts, step) for val, ts, step, nan in page.rows],
            token,
        )

    def get_metric_points(
        self, run_id: str, key: str, max_results: int | None, cursor: HistoryCursor
    ) -> PointsPage:
        with self.db.read() as tx:
            return metric_history.history_page(tx, run_id, key, max_results, cursor)

    def metric_points_for_runs(
        self, run_ids: Sequence[str], key: str, x: str
    ) -> dict[str, ChartSeries]:
        with self.db.read() as tx:
            return chart_reads.series_for_runs(tx, run_ids, key, x)

    def run_values(self, run_ids: Sequence[str]) -> RunValueColumns:
        with self.db.read() as tx:
            return chart_reads.run_value_columns(tx, run_ids)

    def latest_metric_keys(self, run_ids: Sequence[str]) -> list[str]:
        with self.db.read() as tx:
            return chart_reads.metric_keys(tx, run_ids)

    def get_metric_history_bulk_interval(
        self,
        run_ids: Sequence[str],
        key: str,
        start_step: int | None,
        end_step: int | None,
        max_results: int,
    ) -> list[Metric]:
        return [
            Metric(key, _metric_value(val, nan), ts, step, run_id=sample.run_id)
            for sample in self.sample_metric_points(run_ids, key, start_step, end_step, max_results)
            for val, ts, step, nan in sample.rows
        ]

    def sample_metric_points(
        self,
        run_ids: Sequence[str],
        key: str,
        start_step: int | None,
        end_step: int | None,
        max_results: int,
    ) -> list[RunPoints]:
        with self.db.read() as tx:
            return metric_history.bulk_interval(tx, run_ids, key, start_step, end_step, max_results)


__all__ = ["SqlTrackingStore", "UniqueViolation"]
