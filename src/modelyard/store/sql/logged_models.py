"""MLflow 3 logged models on SQLite and PostgreSQL (tables of migration 0002).

`SqlLoggedModels` is mixed into `SqlRegistryStore`: registering a version
from a logged model reads and writes both in one store.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from modelyard.entities import Page, Param, Tag
from modelyard.errors import InvalidParameterValue, ResourceDoesNotExist
from modelyard.registry_entities import LoggedModel
from modelyard.search_terms import Comparison, OrderKey, encode_page_token
from modelyard.store.sql.db import Database, Row, Tx
from modelyard.store.sql.logged_model_metrics import (
    datasets_filter_sql,
    metric_filter_sql,
    metric_order_sql,
    metrics_of,
)
from modelyard.store.sql.sql_text import chunks, compare_sql, order_sql, placeholders

_LM_COLUMNS = (
    "lm.model_id, lm.experiment_id, lm.name, lm.artifact_location, lm.creation_time, "
    "lm.last_updated_time, lm.status, lm.lifecycle_stage, lm.model_type, lm.source_run_id, "
    "lm.status_message, lm.run_folder"
)


def _logged_model_not_found(model_id: str) -> ResourceDoesNotExist:
    return ResourceDoesNotExist(f"Logged model with ID '{model_id}' not found.")


class SqlLoggedModels:
    """Logged-model operations of `SqlRegistryStore`."""

    db: Database  # set by SqlRegistryStore

    def _logged_models(self, tx: Tx, rows: Sequence[Row]) -> list[LoggedModel]:
        if not rows:
            return []
        ids = [r[0] for r in rows]
        tags: dict[str, list[Tag]] = {}
        params: dict[str, list[Param]] = {}
        for chunk in chunks(ids):
            marks = placeholders(len(chunk))
            for mid, k, v in tx.all(
                f"SELECT model_id, key, value FROM logged_model_tags WHERE model_id IN ({marks}) "
                "ORDER BY key",
                chunk,
            ):
                tags.setdefault(mid, []).append(Tag(k, v))
            for mid, k, v in tx.all(
                "SELECT model_id, key, value FROM logged_model_params "
                f"WHERE model_id IN ({marks}) ORDER BY key",
                chunk,
            ):
                params.setdefault(mid, []).append(Param(k, v))
        metrics = metrics_of(tx, ids)
        return [
            LoggedModel(
                model_id=r[0],
                experiment_id=str(r[1]),
                name=r[2],
                artifact_location=r[3],
                creation_timestamp=int(r[4]),
                last_updated_timestamp=int(r[5]),
                status=r[6],
                lifecycle_stage=r[7],
                model_type=r[8],
                source_run_id=r[9],
                status_message=r[10],
                run_folder=r[11],
                tags=tuple(tags.get(r[0], ())),
                params=tuple(params.get(r[0], ())),
                metrics=tuple(metrics.get(r[0], ())),
            )
            for r in rows
        ]

    def _logged_model(self, tx: Tx, model_id: str, allow_deleted: bool = False) -> LoggedModel:
        sql = f"SELECT {_LM_COLUMNS} FROM logged_models lm WHERE lm.model_id = ?"
        if not allow_deleted:
            sql += " AND lm.lifecycle_stage = 'active'"
        rows = tx.all(sql, (model_id,))
        if not rows:
            raise _logged_model_not_found(model_id)
        return self._logged_models(tx, rows)[0]

    @staticmethod
    def _insert_logged_model(tx: Tx, m: LoggedModel, *, if_absent: bool) -> None:
        tx.execute(
            "INSERT INTO logged_models (model_id, experiment_id, name, artifact_location, "
            "creation_time, last_updated_time, status, status_message, lifecycle_stage, "
            "model_type, source_run_id, run_folder) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            + (" ON CONFLICT (model_id) DO NOTHING" if if_absent else ""),
            (
                m.model_id,
                int(m.experiment_id),
                m.name,
                m.artifact_location,
                m.creation_timestamp,
                m.last_updated_timestamp,
                m.status,
                m.status_message,
                m.lifecycle_stage,
                m.model_type,
                m.source_run_id,
                m.run_folder,
            ),
        )
        inserted = tx.rowcount != 0
        if inserted:
            tx.executemany(
                "INSERT INTO logged_model_tags (model_id, key, value) VALUES (?, ?, ?)",
                [(m.model_id, k, v) for k, v in {t.key: t.value for t in m.tags}.items()],
            )
            tx.executemany(
                "INSERT INTO logged_model_params (model_id, key, value) VALUES (?, ?, ?)",
                [(m.model_id, k, v) for k, v in {p.key: p.value for p in m.params}.items()],
            )

    def create_logged_model(self, model: LoggedModel) -> None:
        with self.db.write() as tx:
            self._insert_logged_model(tx, model, if_absent=False)

    def ensure_logged_model(self, model: LoggedModel) -> LoggedModel:
        with self.db.write() as tx:
            self._insert_logged_model(tx, model, if_absent=True)
            return self._logged_model(tx, model.model_id, allow_deleted=True)

    def get_logged_model(self, model_id: str, allow_deleted: bool = False) -> LoggedModel:
        with self.db.read() as tx:
            return self._logged_model(tx, model_id, allow_deleted)

    def finalize_logged_model(self, model_id: str, status: str, now: int) -> LoggedModel:
        with self.db.write() as tx:
            self._logged_model(tx, model_id)
            tx.execute(
                "UPDATE logged_models SET status = ?, last_updated_time = ? WHERE model_id = ?",
                (status, now, model_id),
            )
            return self._logged_model(tx, model_id)

    def delete_logged_model(self, model_id: str, now: int) -> None:
        with self.db.write() as tx:
            self._logged_model(tx, model_id)
            tx.execute(
                "UPDATE logged_models SET lifecycle_stage = 'deleted', last_updated_time = ? "
                "WHERE model_id = ?",
                (now, model_id),
            )

    def set_logged_model_tags(self, model_id: str, tags: Sequence[Tag], now: int) -> None:
        with self.db.write() as tx:
            self._logged_model(tx, model_id)
            tx.executemany(
                "INSERT INTO logged_model_tags (model_id, key, value) VALUES (?, ?, ?) "
                "ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value",
                [(model_id, k, v) for k, v in {t.key: t.value for t in tags}.items()],
            )

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        with self.db.write() as tx:
            self._logged_model(tx, model_id)
            tx.execute(
                "DELETE FROM logged_model_tags WHERE model_id = ? AND key = ?", (model_id, key)
            )
            if tx.rowcount == 0:
                raise ResourceDoesNotExist(
                    f"No tag with key {key!r} found for model with ID {model_id!r}."
                )

    def log_logged_model_params(self, model_id: str, params: Sequence[Param]) -> None:
        with self.db.write() as tx:
            self._logged_model(tx, model_id)
            tx.executemany(
                "INSERT INTO logged_model_params (model_id, key, value) VALUES (?, ?, ?) "
                "ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value",
                [(model_id, k, v) for k, v in {p.key: p.value for p in params}.items()],
            )

    def search_logged_models(
        self,
        experiment_ids: Sequence[str],
        filters: Sequence[Comparison],
        order_by: Sequence[OrderKey],
        max_results: int,
        offset: int,
        datasets: Sequence[dict[str, Any]] = (),
    ) -> Page[LoggedModel]:
        columns = {
            "name": "lm.name",
            "model_id": "lm.model_id",
            "model_type": "lm.model_type",
            "status": "lm.status",
            "source_run_id": "lm.source_run_id",
            "creation_timestamp": "lm.creation_time",
            "last_updated_timestamp": "lm.last_updated_time",
        }
        with self.db.read() as tx:
            where, params = self._logged_model_where(
                tx.dialect, experiment_ids, filters, columns, datasets
            )
            order: list[str] = []
            for k in order_by:
                if k.entity == "metric":
                    order.extend(metric_order_sql(k, params))
                    continue
                order.extend(order_sql([k], columns))
            if not any(k.key == "creation_timestamp" for k in order_by):
                order.append("lm.creation_time DESC")
            if not any(k.key == "model_id" for k in order_by):
                order.append("lm.model_id ASC")
            rows = tx.all(
                f"SELECT {_LM_COLUMNS} FROM logged_models lm WHERE {where} "
                f"ORDER BY {', '.join(order)} LIMIT ? OFFSET ?",
                (*params, max_results + 1, offset),
            )
            more = len(rows) > max_results
            items = self._logged_models(tx, rows[:max_results])
        return Page(items, encode_page_token(offset + max_results) if more else None)

    def count_logged_models(
        self,
        experiment_ids: Sequence[str],
        filters: Sequence[Comparison],
        datasets: Sequence[dict[str, Any]] = (),
    ) -> int:
        """How many models `search_logged_models` would list in all."""
        columns = {
            "name": "lm.name",
            "model_id": "lm.model_id",
            "model_type": "lm.model_type",
            "status": "lm.status",
            "source_run_id": "lm.source_run_id",
            "creation_timestamp": "lm.creation_time",
            "last_updated_timestamp": "lm.last_updated_time",
        }
        with self.db.read() as tx:
            where, params = self._logged_model_where(
                tx.dialect, experiment_ids, filters, columns, datasets
            )
            return int(tx.scalar(f"SELECT COUNT(*) FROM logged_models lm WHERE {where}", params))

    @staticmethod
    def _logged_model_where(
        dialect: str,
        experiment_ids: Sequence[str],
        filters: Sequence[Comparison],
        columns: dict[str, str],
        datasets: Sequence[dict[str, Any]] = (),
    ) -> tuple[str, list[Any]]:
        params: list[Any] = []
        where = [
            "lm.lifecycle_stage = 'active'",
            "lm.run_folder IS NULL",
            f"lm.experiment_id IN ({placeholders(len(experiment_ids))})"
            if experiment_ids
            else "1 = 0",
        ]
        params.extend(int(e) for e in experiment_ids)
        for c in filters:
            if c.entity == "attribute" and c.key in columns:
                where.append(compare_sql(dialect, columns[c.key], c.op, c.value, params))
            elif c.entity in ("tag", "param"):
                table = "logged_model_tags" if c.entity == "tag" else "logged_model_params"
                params.append(c.key)
                cond = compare_sql(dialect, "x.value", c.op, c.value, params)
                where.append(
                    f"EXISTS (SELECT 1 FROM {table} x WHERE x.model_id = lm.model_id "
                    f"AND x.key = ? AND {cond})"
                )
            elif c.entity == "metric":
                where.append(metric_filter_sql(dialect, c, datasets, params))
            else:
                raise InvalidParameterValue(f"Invalid filter key '{c.entity}.{c.key}'")
        if datasets and not any(c.entity == "metric" for c in filters):
            where.append(datasets_filter_sql(datasets, params))
        return " AND ".join(where), params
