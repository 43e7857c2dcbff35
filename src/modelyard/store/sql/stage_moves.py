"""Stage moves and promotion history of the registry store (SQLite and PostgreSQL).

Kept apart from `registry.py` because this is the part with the concurrency
rule the seed cares about: one Staging and one Production holder. `_transition`
archives the displaced holder *before* marking the new one, inside the caller's
transaction that already holds the model's row lock, so the unique index on
(model, exclusive_stage) never sees two holders. Every move writes a
`registry_history` event (the audit trail `stage_holder` answers "who was in
Production at time T" from), voids open transition requests for the version
and emits the webhook outbox event in the same transaction.

`SqlStageMoves` is mixed into `SqlRegistryStore`, which provides `db`, `_key`
and `_version`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modelyard.entities import Page
from modelyard.errors import InvalidState, ResourceDoesNotExist
from modelyard.registry_entities import (
    HistoryAction,
    HistoryCause,
    HistoryEvent,
    ModelVersion,
    Stage,
    StageHolder,
)
from modelyard.search_terms import encode_page_token
from modelyard.store.registry import Actor
from modelyard.store.sql import registry_outbox as outbox
from modelyard.store.sql.db import Database, Tx
from modelyard.store.sql.sql_text import placeholders

# The history actions that change which stage a version is in.
STAGE_ACTIONS = (HistoryAction.CREATED, HistoryAction.TRANSITION, HistoryAction.DELETED)


def approvals_store() -> Any:
    """Open transition requests are voided inside the registry's transactions;
    imported late because that module builds on the registry store."""
    from modelyard.store.sql import transition_requests

    return transition_requests


def version_not_found(name: str, version: int) -> ResourceDoesNotExist:
    return ResourceDoesNotExist(f"Model Version (name={name}, version={version}) not found")


def record_event(
    tx: Tx,
    key: int,
    version: int,
    action: str,
    actor: Actor,
    *,
    cause: str = HistoryCause.REQUEST,
    from_stage: str | None = None,
    to_stage: str | None = None,
    alias: str | None = None,
    previous_version: int | None = None,
) -> None:
    # A displaced version's archiving was not what the caller commented on.
    comment = actor.comment if cause != HistoryCause.DISPLACED else None
    tx.execute(
        "INSERT INTO registry_history (model_key, version, action, from_stage, to_stage, "
        "alias, previous_version, timestamp, user_id, comment, cause) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            key,
            version,
            action,
            from_stage,
            to_stage,
            alias,
            previous_version,
            actor.now,
            actor.user_id,
            comment,
            cause,
        ),
    )


class SqlStageMoves:
    """Stage transitions, rollbacks and history reads of `SqlRegistryStore`."""

    db: Database  # set by SqlRegistryStore

    if TYPE_CHECKING:

        def _key(self, tx: Tx, name: str, *, lock: bool = False) -> int: ...

        def _version(self, tx: Tx, key: int, name: str, version: int) -> ModelVersion: ...

    def _transition(
        self,
        tx: Tx,
        key: int,
        name: str,
        version: int,
        stage: str,
        *,
        archive_others: bool,
        exclusive: bool,
        actor: Actor,
        cause: str,
    ) -> ModelVersion:
        """Move one version; the caller holds the model's lock."""
        current = tx.scalar(
            "SELECT current_stage FROM model_versions WHERE model_key = ? AND version = ?",
            (key, version),
        )
        if current is None:
            raise version_not_found(name, version)
        if archive_others:
            displaced = [
                int(v)
                for (v,) in tx.all(
                    "SELECT version FROM model_versions WHERE model_key = ? AND "
                    "current_stage = ? AND version <> ? ORDER BY version",
                    (key, stage, version),
                )
            ]
            if displaced:
                # Archive first: the unique index must never see two holders.
                tx.execute(
                    f"UPDATE model_versions SET current_stage = ?, exclusive_stage = NULL, "
                    f"last_updated_time = ? WHERE model_key = ? AND "
                    f"version IN ({placeholders(len(displaced))})",
                    (Stage.ARCHIVED, actor.now, key, *displaced),
                )
                for other in displaced:
                    record_event(
                        tx,
                        key,
                        other,
                        HistoryAction.TRANSITION,
                        actor,
                        cause=HistoryCause.DISPLACED,
                        from_stage=stage,
                        to_stage=Stage.ARCHIVED,
                    )
                    outbox.transitioned(
                        tx, name, other, stage, Stage.ARCHIVED, actor, HistoryCause.DISPLACED
                    )
        holder_mark = stage if exclusive and stage in Stage.EXCLUSIVE else None
        tx.execute(
            "UPDATE model_versions SET current_stage = ?, exclusive_stage = ?, "
            "last_updated_time = ? WHERE model_key = ? AND version = ?",
            (stage, holder_mark, actor.now, key, version),
        )
        tx.execute(
            "UPDATE registered_models SET last_updated_time = ? WHERE model_key = ?",
            (actor.now, key),
        )
        record_event(
            tx,
            key,
            version,
            HistoryAction.TRANSITION,
            actor,
            cause=cause,
            from_stage=current,
            to_stage=stage,
        )
        approvals_store().void_open_requests(tx, key, version, stage, actor)
        outbox.transitioned(tx, name, version, current, stage, actor, cause)
        return self._version(tx, key, name, version)

    def transition_stage(
        self,
        name: str,
        version: int,
        stage: str,
        *,
        archive_others: bool,
        exclusive: bool,
        actor: Actor,
        cause: str,
    ) -> ModelVersion:
        with self.db.write() as tx:
            key = self._key(tx, name, lock=True)
            return self._transition(
                tx,
                key,
                name,
                version,
                stage,
                archive_others=archive_others,
                exclusive=exclusive,
                actor=actor,
                cause=cause,
            )

    def rollback_stage(
        self, name: str, stage: str, *, exclusive: bool, actor: Actor
    ) -> ModelVersion:
        with self.db.write() as tx:
            key = self._key(tx, name, lock=True)
            holders = [
                int(v)
                for (v,) in tx.all(
                    "SELECT version FROM model_versions WHERE model_key = ? AND current_stage = ? "
                    "ORDER BY version DESC",
                    (key, stage),
                )
            ]
            # Events before the current holder took the stage; with no holder, all.
            before: int | None = None
            if holders:
                before = tx.scalar(
                    "SELECT MAX(event_id) FROM registry_history WHERE model_key = ? AND "
                    "version = ? AND action = ? AND to_stage = ?",
                    (key, holders[0], HistoryAction.TRANSITION, stage),
                )
            sql = (
                "SELECT h.version FROM registry_history h WHERE h.model_key = ? AND "
                "h.action = ? AND h.to_stage = ?"
            )
            params: list[Any] = [key, HistoryAction.TRANSITION, stage]
            if before is not None:
                sql += " AND h.event_id < ?"
                params.append(before)
            if holders:
                sql += f" AND h.version NOT IN ({placeholders(len(holders))})"
                params.extend(holders)
            # A version that now holds the *other* exclusive stage is not pulled
            # out of it: rolling back Staging must never empty Production.
            other = "Production" if stage == "Staging" else "Staging"
            sql += (
                " AND EXISTS (SELECT 1 FROM model_versions mv WHERE mv.model_key = h.model_key "
                "AND mv.version = h.version AND mv.current_stage <> ?) "
                "ORDER BY h.event_id DESC LIMIT 1"
            )
            params.append(other)
            previous = tx.scalar(sql, params)
            if previous is None:
                raise InvalidState(
                    f"Cannot roll back stage '{stage}' of registered model '{name}': no earlier "
                    f"version that held '{stage}' still exists."
                )
            return self._transition(
                tx,
                key,
                name,
                int(previous),
                stage,
                archive_others=True,
                exclusive=exclusive,
                actor=actor,
                cause=HistoryCause.ROLLBACK,
            )

    # -- promotion history ----------------------------------------------------
    def list_history(
        self, name: str, version: int | None, max_results: int, offset: int
    ) -> Page[HistoryEvent]:
        with self.db.read() as tx:
            key = self._key(tx, name)
            sql = (
                "SELECT event_id, version, action, from_stage, to_stage, alias, "
                "previous_version, timestamp, user_id, comment, cause FROM registry_history "
                "WHERE model_key = ?"
            )
            params: list[Any] = [key]
            if version is not None:
                sql += " AND version = ?"
                params.append(version)
            sql += " ORDER BY event_id DESC LIMIT ? OFFSET ?"
            rows = tx.all(sql, (*params, max_results + 1, offset))
        more = len(rows) > max_results
        items = [
            HistoryEvent(
                event_id=int(r[0]),
                name=name,
                version=int(r[1]),
                action=r[2],
                from_stage=r[3],
                to_stage=r[4],
                alias=r[5],
                previous_version=None if r[6] is None else int(r[6]),
                timestamp=int(r[7]),
                user_id=r[8],
                comment=r[9],
                cause=r[10],
            )
            for r in rows[:max_results]
        ]
        return Page(items, encode_page_token(offset + max_results) if more else None)

    def stage_holder(self, name: str, stage: str, at: int) -> StageHolder:
        actions = placeholders(len(STAGE_ACTIONS))
        with self.db.read() as tx:
            key = self._key(tx, name)
            # Each version's last stage event at or before `at`; holders are
            # those whose last event put them in `stage`.
            row = tx.one(
                "SELECT h.version FROM registry_history h WHERE h.model_key = ? AND "
                f"h.action IN ({actions}) AND h.timestamp <= ? AND h.to_stage = ? AND "
                "h.event_id = (SELECT MAX(h2.event_id) FROM registry_history h2 WHERE "
                "h2.model_key = h.model_key AND h2.version = h.version AND "
                f"h2.action IN ({actions}) AND h2.timestamp <= ?) "
                "ORDER BY h.version DESC LIMIT 1",
                (key, *STAGE_ACTIONS, at, stage, *STAGE_ACTIONS, at),
            )
            if row is None:
                return StageHolder(name=name, stage=stage, at=at)
            version = int(row[0])
            # When it entered: the event after its last one in another stage.
            left = tx.scalar(
                "SELECT MAX(event_id) FROM registry_history WHERE model_key = ? AND "
                f"version = ? AND action IN ({actions}) AND timestamp <= ? AND "
                "(to_stage IS NULL OR to_stage <> ?)",
                (key, version, *STAGE_ACTIONS, at, stage),
            )
            since = tx.scalar(
                "SELECT MIN(timestamp) FROM registry_history WHERE model_key = ? AND "
                f"version = ? AND action IN ({actions}) AND timestamp <= ? AND to_stage = ? "
                "AND event_id > ?",
                (key, version, *STAGE_ACTIONS, at, stage, -1 if left is None else left),
            )
        return StageHolder(
            name=name,
            stage=stage,
            at=at,
            version=version,
            since=None if since is None else int(since),
        )
