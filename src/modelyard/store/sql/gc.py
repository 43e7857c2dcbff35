"""What garbage collection reads and deletes in the database (service/gc.py decides).

Every purge is one short transaction that re-checks its condition
(`lifecycle_stage = 'deleted'`, no live model version), so a run restored or
registered while the collector works is left alone, and an interrupted
collection simply finds the same candidates again on the next run. Child
rows (metrics, params, tags, inputs; an experiment's runs and logged models)
go by the schema's ON DELETE CASCADE.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from modelyard.store.sql.db import Database, Tx
from modelyard.store.sql.sql_text import chunks, placeholders


@dataclass(frozen=True, slots=True)
class Candidate:
    """A deleted run, experiment or logged model, and where its artifacts are."""

    kind: str  # "run" | "experiment" | "logged_model"
    id: str
    artifact_uri: str
    lifecycle_stage: str
    experiment_id: str


_RUN_USERS = (
    "SELECT rm.name, mv.version FROM model_versions mv "
    "JOIN registered_models rm ON rm.model_key = mv.model_key WHERE mv.run_id = ?"
)
_MODEL_USERS = (
    "SELECT rm.name, mv.version FROM model_versions mv "
    "JOIN registered_models rm ON rm.model_key = mv.model_key WHERE mv.model_id = ?"
)


def _in(column: str, ids: Sequence[object] | None, params: list[object]) -> str:
    if ids is None:
        return ""
    params.extend(ids)
    return f" AND {column} IN ({placeholders(len(ids))})" if ids else " AND 1 = 0"


class SqlGarbage:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- candidates -----------------------------------------------------------------
    def runs(
        self,
        *,
        deleted_before: int | None,
        run_ids: Sequence[str] | None = None,
        experiment_ids: Sequence[str] | None = None,
    ) -> list[Candidate]:
        """Deleted runs (deleted before the cutoff), optionally only these ids."""
        params: list[object] = []
        sql = (
            "SELECT run_uuid, artifact_uri, lifecycle_stage, experiment_id FROM runs "
            "WHERE lifecycle_stage = 'deleted'"
        )
        if deleted_before is not None:
            sql += " AND coalesce(deleted_time, 0) <= ?"
            params.append(deleted_before)
        sql += _in("run_uuid", run_ids, params)
        sql += _in("experiment_id", _ints(experiment_ids), params)
        with self.db.read() as tx:
            rows = tx.all(sql + " ORDER BY run_uuid", params)
        return [Candidate("run", str(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in rows]

    def runs_of(self, experiment_id: str) -> list[Candidate]:
        """Every run of an experiment, whatever its stage (they go with the experiment)."""
        with self.db.read() as tx:
            rows = tx.all(
                "SELECT run_uuid, artifact_uri, lifecycle_stage, experiment_id FROM runs "
                "WHERE experiment_id = ? ORDER BY run_uuid",
                (int(experiment_id),),
            )
        return [Candidate("run", str(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in rows]

    def experiments(
        self, *, deleted_before: int | None, experiment_ids: Sequence[str] | None = None
    ) -> list[Candidate]:
        params: list[object] = []
        sql = (
            "SELECT experiment_id, artifact_location, lifecycle_stage FROM experiments "
            "WHERE lifecycle_stage = 'deleted'"
        )
        if deleted_before is not None:
            sql += " AND coalesce(last_update_time, 0) <= ?"
            params.append(deleted_before)
        sql += _in("experiment_id", _ints(experiment_ids), params)
        with self.db.read() as tx:
            rows = tx.all(sql + " ORDER BY experiment_id", params)
        return [Candidate("experiment", str(r[0]), str(r[1]), str(r[2]), str(r[0])) for r in rows]

    def logged_models(
        self, *, deleted_before: int | None, experiment_ids: Sequence[str] | None = None
    ) -> list[Candidate]:
        params: list[object] = []
        sql = (
            "SELECT model_id, artifact_location, lifecycle_stage, experiment_id "
            "FROM logged_models WHERE lifecycle_stage = 'deleted'"
        )
        if deleted_before is not None:
            sql += " AND last_updated_time <= ?"
            params.append(deleted_before)
        sql += _in("experiment_id", _ints(experiment_ids), params)
        with self.db.read() as tx:
            rows = tx.all(sql + " ORDER BY model_id", params)
        return [Candidate("logged_model", str(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in rows]

    def stages(self, kind: str, ids: Sequence[str]) -> dict[str, str]:
        """id -> lifecycle stage of the runs or experiments named (missing ones absent)."""
        table, column = ("runs", "run_uuid") if kind == "run" else ("experiments", "experiment_id")
        keys: Sequence[object] = ids if kind == "run" else _ints(ids) or []
        found: dict[str, str] = {}
        with self.db.read() as tx:
            for batch in chunks(list(keys)):
                rows = tx.all(
                    f"SELECT {column}, lifecycle_stage FROM {table} "
                    f"WHERE {column} IN ({placeholders(len(batch))})",
                    batch,
                )
                found.update({str(k): str(stage) for k, stage in rows})
        return found

    # -- what keeps them ----------------------------------------------------------------
    def versions_using(self, candidate: Candidate) -> list[tuple[str, int]]:
        """Live model versions registered from this run or logged model."""
        with self.db.read() as tx:
            return _users(tx, candidate)

    # -- purging ------------------------------------------------------------------------
    def purge(self, candidate: Candidate) -> bool:
        """Delete the row if it is still deleted and unused; False when it was kept."""
        with self.db.write() as tx:
            if _users(tx, candidate):
                return False
            if candidate.kind == "run":
                tx.execute(
                    "DELETE FROM runs WHERE run_uuid = ? AND lifecycle_stage = ?",
                    (candidate.id, candidate.lifecycle_stage),
                )
            elif candidate.kind == "logged_model":
                tx.execute(
                    "DELETE FROM logged_models WHERE model_id = ? AND lifecycle_stage = 'deleted'",
                    (candidate.id,),
                )
            else:
                tx.execute(
                    "DELETE FROM experiments WHERE experiment_id = ? "
                    "AND lifecycle_stage = 'deleted' "
                    "AND NOT EXISTS (SELECT 1 FROM runs WHERE runs.experiment_id = ?)",
                    (int(candidate.id), int(candidate.id)),
                )
            return tx.rowcount > 0


def _users(tx: Tx, candidate: Candidate) -> list[tuple[str, int]]:
    if candidate.kind == "run":
        rows = tx.all(_RUN_USERS, (candidate.id,))
    elif candidate.kind == "logged_model":
        rows = tx.all(_MODEL_USERS, (candidate.id,))
    else:
        # Versions made from any of its runs or logged models (they go with it).
        rows = tx.all(
            "SELECT rm.name, mv.version FROM model_versions mv "
            "JOIN registered_models rm ON rm.model_key = mv.model_key "
            "WHERE mv.run_id IN (SELECT run_uuid FROM runs WHERE experiment_id = ?) "
            "OR mv.model_id IN (SELECT model_id FROM logged_models WHERE experiment_id = ?)",
            (int(candidate.id), int(candidate.id)),
        )
    return [(str(name), int(version)) for name, version in rows]


def _ints(ids: Sequence[str] | None) -> list[int] | None:
    if ids is None:
        return None
    return [int(i) for i in ids if i.isdigit()]
