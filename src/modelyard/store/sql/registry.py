"""The registry store on SQLite and PostgreSQL (tables of migration 0002).

Concurrency: every write that depends on the current state of a registered
model (numbering a version, moving a stage and archiving the previous holder,
rolling back, moving an alias) starts by locking that model's row: on
PostgreSQL with `SELECT … FOR UPDATE` (or the UPDATE that bumps the version
counter, which takes the same row lock), on SQLite by virtue of the write
transaction being `BEGIN IMMEDIATE`, i.e. one writer at a time. Everything
after the lock reads committed state and writes in the same transaction, so
two requests on two processes see each other's effects in full or not at all.
The unique index on (model, exclusive_stage) backs the stage rule up: were
the code ever wrong, the database would refuse the second holder.

Search SQL is compiled here from parsed filters (`modelyard.search_terms`);
values always travel as parameters. MLflow 3 logged models are in
`logged_models.py` and stage moves with the promotion history in
`stage_moves.py`, both mixed into `SqlRegistryStore`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from modelyard.entities import Page, Tag
from modelyard.errors import (
    InvalidParameterValue,
    ResourceDoesNotExist,
)
from modelyard.registry_entities import (
    HistoryAction,
    ModelAlias,
    ModelVersion,
    RegisteredModel,
    Stage,
)
from modelyard.search_terms import Comparison, OrderKey, encode_page_token
from modelyard.store.registry import Actor, NewModelVersion, RegistryStore
from modelyard.store.sql import registry_outbox as outbox
from modelyard.store.sql.db import Database, Row, Tx
from modelyard.store.sql.logged_models import SqlLoggedModels
from modelyard.store.sql.sql_text import chunks, compare_sql, order_sql, placeholders
from modelyard.store.sql.stage_moves import (
    SqlStageMoves,
    approvals_store,
    record_event,
    version_not_found,
)

PROMPT_TAG = "mlflow.prompt.is_prompt"

_MV_COLUMNS = (
    "mv.model_key, mv.version, mv.creation_time, mv.last_updated_time, mv.description, "
    "mv.user_id, mv.current_stage, mv.source, mv.storage_location, mv.run_id, mv.run_link, "
    "mv.model_id, mv.status, mv.status_message, rm.name"
)
_MV_FROM = "model_versions mv JOIN registered_models rm ON rm.model_key = mv.model_key"
_RM_COLUMNS = "rm.model_key, rm.name, rm.creation_time, rm.last_updated_time, rm.description"


def _model_not_found(name: str) -> ResourceDoesNotExist:
    return ResourceDoesNotExist(f"Registered Model with name={name} not found")


class SqlRegistryStore(SqlStageMoves, SqlLoggedModels, RegistryStore):
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- shared reads ---------------------------------------------------------
    def _key(self, tx: Tx, name: str, *, lock: bool = False) -> int:
        sql = "SELECT model_key FROM registered_models WHERE name = ?"
        if lock and tx.dialect == "postgresql":
            sql += " FOR UPDATE"
        key = tx.scalar(sql, (name,))
        if key is None:
            raise _model_not_found(name)
        return int(key)

    def _version_rows(self, tx: Tx, where: str, params: Sequence[Any]) -> list[Row]:
        return tx.all(f"SELECT {_MV_COLUMNS} FROM {_MV_FROM} WHERE {where}", params)

    def _versions(self, tx: Tx, rows: Sequence[Row]) -> list[ModelVersion]:
        """Entities for version rows, with their tags and aliases (batched)."""
        if not rows:
            return []
        keys = sorted({int(r[0]) for r in rows})
        wanted = {(int(r[0]), int(r[1])) for r in rows}
        tags: dict[tuple[int, int], list[Tag]] = {}
        aliases: dict[tuple[int, int], list[str]] = {}
        for chunk in chunks(keys):
            marks = placeholders(len(chunk))
            for key, version, tkey, tvalue in tx.all(
                "SELECT model_key, version, key, value FROM model_version_tags "
                f"WHERE model_key IN ({marks}) ORDER BY key",
                chunk,
            ):
                ident = (int(key), int(version))
                if ident in wanted:
                    tags.setdefault(ident, []).append(Tag(tkey, tvalue))
            for key, alias, version in tx.all(
                "SELECT model_key, alias, version FROM registered_model_aliases "
                f"WHERE model_key IN ({marks}) ORDER BY alias",
                chunk,
            ):
                ident = (int(key), int(version))
                if ident in wanted:
                    aliases.setdefault(ident, []).append(alias)
        out: list[ModelVersion] = []
        for r in rows:
            ident = (int(r[0]), int(r[1]))
            out.append(
                ModelVersion(
                    name=r[14],
                    version=int(r[1]),
                    creation_timestamp=int(r[2]),
                    last_updated_timestamp=int(r[3]),
                    description=r[4],
                    user_id=r[5],
                    current_stage=r[6],
                    source=r[7],
                    storage_location=r[8],
                    run_id=r[9],
                    run_link=r[10],
                    model_id=r[11],
                    status=r[12],
                    status_message=r[13],
                    tags=tuple(tags.get(ident, ())),
                    aliases=tuple(aliases.get(ident, ())),
                )
            )
        return out

    def _version(self, tx: Tx, key: int, name: str, version: int) -> ModelVersion:
        rows = self._version_rows(tx, "mv.model_key = ? AND mv.version = ?", (key, version))
        if not rows:
            raise version_not_found(name, version)
        return self._versions(tx, rows)[0]

    def _models(self, tx: Tx, rows: Sequence[Row]) -> list[RegisteredModel]:
        """Entities for registered-model rows: tags, aliases and, per stage,
        the highest version (MLflow's `latest_versions`)."""
        if not rows:
            return []
        keys = [int(r[0]) for r in rows]
        tags: dict[int, list[Tag]] = {}
        aliases: dict[int, list[ModelAlias]] = {}
        latest_rows: list[Row] = []
        for chunk in chunks(keys):
            marks = placeholders(len(chunk))
            for key, tkey, tvalue in tx.all(
                "SELECT model_key, key, value FROM registered_model_tags "
                f"WHERE model_key IN ({marks}) ORDER BY key",
                chunk,
            ):
                tags.setdefault(int(key), []).append(Tag(tkey, tvalue))
            for key, alias, version in tx.all(
                "SELECT model_key, alias, version FROM registered_model_aliases "
                f"WHERE model_key IN ({marks}) ORDER BY alias",
                chunk,
            ):
                aliases.setdefault(int(key), []).append(ModelAlias(alias, int(version)))
            latest_rows.extend(
                self._version_rows(
                    tx,
                    f"mv.model_key IN ({marks}) AND mv.version = ("
                    "SELECT MAX(v2.version) FROM model_versions v2 "
                    "WHERE v2.model_key = mv.model_key AND v2.current_stage = mv.current_stage"
                    ") ORDER BY mv.version",
                    chunk,
                )
            )
        latest: dict[int, list[ModelVersion]] = {}
        for mv_row, mv in zip(latest_rows, self._versions(tx, latest_rows), strict=True):
            latest.setdefault(int(mv_row[0]), []).append(mv)
        return [
            RegisteredModel(
                name=r[1],
                creation_timestamp=int(r[2]),
                last_updated_timestamp=int(r[3]),
                description=r[4],
                latest_versions=tuple(latest.get(int(r[0]), ())),
                tags=tuple(tags.get(int(r[0]), ())),
                aliases=tuple(aliases.get(int(r[0]), ())),
            )
            for r in rows
        ]

    def _model(self, tx: Tx, name: str) -> RegisteredModel:
        rows = tx.all(f"SELECT {_RM_COLUMNS} FROM registered_models rm WHERE rm.name = ?", (name,))
        if not rows:
            raise _model_not_found(name)
        return self._models(tx, rows)[0]

    # -- registered models ------------------------------------------------------
    def create_registered_model(
        self, name: str, description: str | None, tags: Sequence[Tag], now: int
    ) -> RegisteredModel:
        with self.db.write() as tx:
            tx.execute(
                "INSERT INTO registered_models (name, creation_time, last_updated_time, "
                "description) VALUES (?, ?, ?, ?)",
                (name, now, now, description),
            )
            key = self._key(tx, name)
            last: dict[str, str] = {t.key: t.value for t in tags}
            tx.executemany(
                "INSERT INTO registered_model_tags (model_key, key, value) VALUES (?, ?, ?)",
                [(key, k, v) for k, v in last.items()],
            )
            outbox.model_created(tx, name, now, last, description)
            return self._model(tx, name)

    def get_registered_model(self, name: str) -> RegisteredModel:
        with self.db.read() as tx:
            return self._model(tx, name)

    def rename_registered_model(self, name: str, new_name: str, now: int) -> RegisteredModel:
        with self.db.write() as tx:
            key = self._key(tx, name, lock=True)
            tx.execute(
                "UPDATE registered_models SET name = ?, last_updated_time = ? WHERE model_key = ?",
                (new_name, now, key),
            )
            # MLflow stamps every version of a renamed model as updated.
            tx.execute(
                "UPDATE model_versions SET last_updated_time = ? WHERE model_key = ?", (now, key)
            )
            return self._model(tx, new_name)

    def update_registered_model(
        self, name: str, description: str | None, now: int
    ) -> RegisteredModel:
        with self.db.write() as tx:
            key = self._key(tx, name, lock=True)
            tx.execute(
                "UPDATE registered_models SET description = ?, last_updated_time = ? "
                "WHERE model_key = ?",
                (description, now, key),
            )
            return self._model(tx, name)

    def delete_registered_model(self, name: str) -> None:
        with self.db.write() as tx:
            key = self._key(tx, name, lock=True)
            tx.execute("DELETE FROM registered_models WHERE model_key = ?", (key,))

    def search_registered_models(
        self,
        filters: Sequence[Comparison],
        order_by: Sequence[OrderKey],
        max_results: int,
        offset: int,
        include_prompts: bool,
    ) -> Page[RegisteredModel]:
        with self.db.read() as tx:
            params: list[Any] = []
            where: list[str] = []
            for c in filters:
                if c.entity == "attribute" and c.key == "name":
                    where.append(compare_sql(tx.dialect, "rm.name", c.op, c.value, params))
                elif c.entity == "tag":
                    params.append(c.key)
                    cond = compare_sql(tx.dialect, "t.value", c.op, c.value, params)
                    where.append(
                        "EXISTS (SELECT 1 FROM registered_model_tags t WHERE "
                        f"t.model_key = rm.model_key AND t.key = ? AND {cond})"
                    )
                else:
                    raise InvalidParameterValue(f"Invalid filter key '{c.entity}.{c.key}'")
            if not include_prompts:
                where.append(
                    "NOT EXISTS (SELECT 1 FROM registered_model_tags p WHERE "
                    "p.model_key = rm.model_key AND p.key = ? AND p.value = 'true')"
                )
                params.append(PROMPT_TAG)
            order = order_sql(
                order_by,
                {
                    "name": "rm.name",
                    "creation_timestamp": "rm.creation_time",
                    "last_updated_timestamp": "rm.last_updated_time",
                },
            )
            if not any(k.key == "name" for k in order_by):
                order.append("rm.name ASC")
            sql = (
                f"SELECT {_RM_COLUMNS} FROM registered_models rm"
                + (f" WHERE {' AND '.join(where)}" if where else "")
                + f" ORDER BY {', '.join(order)} LIMIT ? OFFSET ?"
            )
            rows = tx.all(sql, (*params, max_results + 1, offset))
            more = len(rows) > max_results
            items = self._models(tx, rows[:max_results])
        return Page(items, encode_page_token(offset + max_results) if more else None)

    def get_latest_versions(self, name: str, stages: Sequence[str]) -> list[ModelVersion]:
        with self.db.read() as tx:
            key = self._key(tx, name)
            where = (
                "mv.model_key = ? AND mv.version = (SELECT MAX(v2.version) FROM model_versions v2 "
                "WHERE v2.model_key = mv.model_key AND v2.current_stage = mv.current_stage)"
            )
            params: list[Any] = [key]
            if stages:
                where += f" AND mv.current_stage IN ({placeholders(len(stages))})"
                params.extend(stages)
            return self._versions(
                tx, self._version_rows(tx, where + " ORDER BY mv.version", params)
            )

    def set_registered_model_tag(self, name: str, tag: Tag) -> None:
        with self.db.write() as tx:
            key = self._key(tx, name)
            tx.execute(
                "INSERT INTO registered_model_tags (model_key, key, value) VALUES (?, ?, ?) "
                "ON CONFLICT (model_key, key) DO UPDATE SET value = excluded.value",
                (key, tag.key, tag.value),
            )

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        with self.db.write() as tx:
            model_key = self._key(tx, name)
            tx.execute(
                "DELETE FROM registered_model_tags WHERE model_key = ? AND key = ?",
                (model_key, key),
            )

    # -- aliases --------------------------------------------------------------
    def set_alias(self, name: str, alias: str, version: int, actor: Actor) -> None:
        with self.db.write() as tx:
            key = self._key(tx, name, lock=True)
            if (
                tx.scalar(
                    "SELECT 1 FROM model_versions WHERE model_key = ? AND version = ?",
                    (key, version),
                )
                is None
            ):
                raise version_not_found(name, version)
            previous = tx.scalar(
                "SELECT version FROM registered_model_aliases WHERE model_key = ? AND alias = ?",
                (key, alias),
            )
            tx.execute(
                "INSERT INTO registered_model_aliases (model_key, alias, version) VALUES (?, ?, ?) "
                "ON CONFLICT (model_key, alias) DO UPDATE SET version = excluded.version",
                (key, alias, version),
            )
            record_event(
                tx,
                key,
                version,
                HistoryAction.ALIAS_SET,
                actor,
                alias=alias,
                previous_version=None if previous is None else int(previous),
            )
            outbox.alias_changed(tx, name, version, alias, actor, created=True)

    def delete_alias(self, name: str, alias: str, actor: Actor) -> None:
        with self.db.write() as tx:
            key = self._key(tx, name, lock=True)
            previous = tx.scalar(
                "SELECT version FROM registered_model_aliases WHERE model_key = ? AND alias = ?",
                (key, alias),
            )
            if previous is None:
                return
            tx.execute(
                "DELETE FROM registered_model_aliases WHERE model_key = ? AND alias = ?",
                (key, alias),
            )
            record_event(tx, key, int(previous), HistoryAction.ALIAS_DELETED, actor, alias=alias)
            outbox.alias_changed(tx, name, int(previous), alias, actor, created=False)

    def get_version_by_alias(self, name: str, alias: str) -> ModelVersion | None:
        with self.db.read() as tx:
            key = self._key(tx, name)
            version = tx.scalar(
                "SELECT version FROM registered_model_aliases WHERE model_key = ? AND alias = ?",
                (key, alias),
            )
            if version is None:
                return None
            return self._version(tx, key, name, int(version))

    # -- model versions -------------------------------------------------------
    def create_model_version(self, new: NewModelVersion, actor: Actor) -> ModelVersion:
        with self.db.write() as tx:
            # The counter bump is the row lock: concurrent creators queue here.
            row = tx.one(
                "UPDATE registered_models SET next_version = next_version + 1, "
                "last_updated_time = ? WHERE name = ? RETURNING model_key, next_version - 1",
                (actor.now, new.name),
            )
            if row is None:
                raise _model_not_found(new.name)
            key, version = int(row[0]), int(row[1])
            tx.execute(
                "INSERT INTO model_versions (model_key, version, creation_time, "
                "last_updated_time, description, user_id, current_stage, source, "
                "storage_location, run_id, run_link, model_id, status) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'READY')",
                (
                    key,
                    version,
                    actor.now,
                    actor.now,
                    new.description,
                    new.user_id,
                    Stage.NONE,
                    new.source,
                    new.storage_location,
                    new.run_id,
                    new.run_link,
                    new.model_id,
                ),
            )
            last: dict[str, str] = {t.key: t.value for t in new.tags}
            tx.executemany(
                "INSERT INTO model_version_tags (model_key, version, key, value) "
                "VALUES (?, ?, ?, ?)",
                [(key, version, k, v) for k, v in last.items()],
            )
            record_event(tx, key, version, HistoryAction.CREATED, actor, to_stage=Stage.NONE)
            outbox.version_created(tx, new, version, actor, last)
            return self._version(tx, key, new.name, version)

    def get_model_version(self, name: str, version: int) -> ModelVersion:
        with self.db.read() as tx:
            return self._version(tx, self._key(tx, name), name, version)

    def update_model_version(
        self, name: str, version: int, description: str | None, now: int
    ) -> ModelVersion:
        with self.db.write() as tx:
            key = self._key(tx, name)
            tx.execute(
                "UPDATE model_versions SET description = ?, last_updated_time = ? "
                "WHERE model_key = ? AND version = ?",
                (description, now, key, version),
            )
            if tx.rowcount == 0:
                raise version_not_found(name, version)
            return self._version(tx, key, name, version)

    def delete_model_version(self, name: str, version: int, actor: Actor) -> None:
        with self.db.write() as tx:
            key = self._key(tx, name, lock=True)
            stage = tx.scalar(
                "SELECT current_stage FROM model_versions WHERE model_key = ? AND version = ?",
                (key, version),
            )
            if stage is None:
                raise version_not_found(name, version)
            for (alias,) in tx.all(
                "SELECT alias FROM registered_model_aliases WHERE model_key = ? AND version = ? "
                "ORDER BY alias",
                (key, version),
            ):
                record_event(tx, key, version, HistoryAction.ALIAS_DELETED, actor, alias=alias)
            # Tags and aliases go with the row (ON DELETE CASCADE).
            tx.execute(
                "DELETE FROM model_versions WHERE model_key = ? AND version = ?", (key, version)
            )
            tx.execute(
                "UPDATE registered_models SET last_updated_time = ? WHERE model_key = ?",
                (actor.now, key),
            )
            record_event(tx, key, version, HistoryAction.DELETED, actor, from_stage=stage)
            approvals_store().void_open_requests(tx, key, version, None, actor)

    def search_model_versions(
        self,
        filters: Sequence[Comparison],
        order_by: Sequence[OrderKey],
        max_results: int,
        offset: int,
        include_prompts: bool,
    ) -> Page[ModelVersion]:
        columns = {
            "name": "rm.name",
            "run_id": "mv.run_id",
            "source_path": "mv.source",
            "version_number": "mv.version",
        }
        with self.db.read() as tx:
            params: list[Any] = []
            where: list[str] = []
            for c in filters:
                if c.entity == "attribute" and c.key in columns:
                    value = c.value
                    if c.key == "version_number" and isinstance(value, str):
                        value = int(value)
                    where.append(compare_sql(tx.dialect, columns[c.key], c.op, value, params))
                elif c.entity == "tag":
                    params.append(c.key)
                    cond = compare_sql(tx.dialect, "t.value", c.op, c.value, params)
                    where.append(
                        "EXISTS (SELECT 1 FROM model_version_tags t WHERE t.model_key = "
                        f"mv.model_key AND t.version = mv.version AND t.key = ? AND {cond})"
                    )
                else:
                    raise InvalidParameterValue(f"Invalid filter key '{c.entity}.{c.key}'")
            if not include_prompts:
                where.append(
                    "NOT EXISTS (SELECT 1 FROM model_version_tags p WHERE p.model_key = "
                    "mv.model_key AND p.version = mv.version AND p.key = ? AND p.value = 'true')"
                )
                params.append(PROMPT_TAG)
            order = order_sql(
                order_by,
                {
                    "name": "rm.name",
                    "version_number": "mv.version",
                    "creation_timestamp": "mv.creation_time",
                    "last_updated_timestamp": "mv.last_updated_time",
                },
            )
            if not any(k.key == "name" for k in order_by):
                order.append("rm.name ASC")
            if not any(k.key == "version_number" for k in order_by):
                order.append("mv.version DESC")
            sql = (
                f"SELECT {_MV_COLUMNS} FROM {_MV_FROM}"
                + (f" WHERE {' AND '.join(where)}" if where else "")
                + f" ORDER BY {', '.join(order)} LIMIT ? OFFSET ?"
            )
            rows = tx.all(sql, (*params, max_results + 1, offset))
            more = len(rows) > max_results
            items = self._versions(tx, rows[:max_results])
        return Page(items, encode_page_token(offset + max_results) if more else None)

    def set_model_version_tag(self, name: str, version: int, tag: Tag, now: int) -> None:
        with self.db.write() as tx:
            key = self._key(tx, name)
            if (
                tx.scalar(
                    "SELECT 1 FROM model_versions WHERE model_key = ? AND version = ?",
                    (key, version),
                )
                is None
            ):
                raise version_not_found(name, version)
            tx.execute(
                "INSERT INTO model_version_tags (model_key, version, key, value) "
                "VALUES (?, ?, ?, ?) "
                "ON CONFLICT (model_key, version, key) DO UPDATE SET value = excluded.value",
                (key, version, tag.key, tag.value),
            )
            outbox.version_tag_set(tx, name, version, tag.key, tag.value, now)

    def delete_model_version_tag(self, name: str, version: int, key: str, now: int) -> None:
        with self.db.write() as tx:
            model_key = self._key(tx, name)
            if (
                tx.scalar(
                    "SELECT 1 FROM model_versions WHERE model_key = ? AND version = ?",
                    (model_key, version),
                )
                is None
            ):
                raise version_not_found(name, version)
            tx.execute(
                "DELETE FROM model_version_tags WHERE model_key = ? AND version = ? AND key = ?",
                (model_key, version, key),
            )
            outbox.version_tag_deleted(tx, name, version, key, now)
