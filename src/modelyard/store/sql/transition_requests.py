"""Promotion requests, approval policies and comments on SQLite and PostgreSQL.

Every write that changes a request or a comment takes the registered model's
lock first (`SqlRegistryStore._key(lock=True)`: `SELECT … FOR UPDATE` on
PostgreSQL, `BEGIN IMMEDIATE` on SQLite), like the registry's stage moves, so
an approval and a concurrent approval, rejection, transition or deletion of
the same model see each other in full or not at all. Approving reuses the
registry's `_transition` with the same transaction, and every event goes
through one function, `stage_moves.record_event`, into `registry_history`.

`void_open_requests` is the hook the registry calls inside its own
transactions when a version reaches a stage or is deleted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from modelyard.approval_entities import (
    ANONYMOUS_USER,
    ApprovalAction,
    Decision,
    RequestStatus,
    TransitionRequest,
    VersionComment,
)
from modelyard.errors import ResourceDoesNotExist
from modelyard.registry_entities import HistoryCause, ModelVersion
from modelyard.store.registry import Actor
from modelyard.store.sql import registry_outbox as outbox
from modelyard.store.sql.db import Database, Row, Tx
from modelyard.store.sql.registry import SqlRegistryStore
from modelyard.store.sql.sql_text import chunks, placeholders
from modelyard.store.sql.stage_moves import record_event
from modelyard.store.transition_requests import Chooser, StageMove, TransitionRequestStore

_REQUEST_COLUMNS = (
    "tr.request_id, rm.name, tr.version, tr.from_stage, tr.to_stage, tr.user_id, "
    "tr.creation_time, tr.last_updated_time, tr.status, tr.comment, tr.decided_by, "
    "tr.decision_comment"
)
_REQUEST_FROM = "transition_requests tr JOIN registered_models rm ON rm.model_key = tr.model_key"
_COMMENT_COLUMNS = (
    "c.comment_id, rm.name, c.version, c.user_id, c.comment, c.creation_time, c.last_updated_time"
)
_COMMENT_FROM = "model_version_comments c JOIN registered_models rm ON rm.model_key = c.model_key"
_CLOSED_EVENT = {
    RequestStatus.APPROVED: ApprovalAction.APPROVED,
    RequestStatus.REJECTED: ApprovalAction.REJECTED,
    RequestStatus.CANCELLED: ApprovalAction.CANCELLED,
}


def _request(r: Row) -> TransitionRequest:
    return TransitionRequest(
        request_id=int(r[0]),
        name=r[1],
        version=int(r[2]),
        from_stage=r[3],
        to_stage=r[4],
        user_id=r[5],
        creation_timestamp=int(r[6]),
        last_updated_timestamp=int(r[7]),
        status=r[8],
        comment=r[9],
        decided_by=r[10],
        decision_comment=r[11],
    )


def _comment(r: Row) -> VersionComment:
    return VersionComment(
        comment_id=int(r[0]),
        name=r[1],
        version=int(r[2]),
        user_id=r[3],
        comment=r[4],
        creation_timestamp=int(r[5]),
        last_updated_timestamp=int(r[6]),
    )


def _user(actor: Actor) -> str:
    return actor.user_id or ANONYMOUS_USER


def _last_event_id(tx: Tx, key: int) -> int:
    # The caller holds the model's lock, so the newest event of this model is
    # the one it just wrote.
    return int(tx.scalar("SELECT MAX(event_id) FROM registry_history WHERE model_key = ?", (key,)))


def void_open_requests(tx: Tx, key: int, version: int, stage: str | None, actor: Actor) -> None:
    """Close as `void` the open requests that no longer make sense: those of a
    deleted version (`stage` None) or those asking for the stage the version
    has just reached. Runs in the caller's transaction, under its lock."""
    sql = "SELECT request_id, to_stage FROM transition_requests WHERE model_key = ? AND version = ?"
    params: list[Any] = [key, version]
    if stage is not None:
        sql += " AND to_stage = ?"
        params.append(stage)
    rows = tx.all(sql + " AND open_mark IS NOT NULL ORDER BY request_id", params)
    if not rows:
        return
    tx.execute(
        "UPDATE transition_requests SET status = ?, open_mark = NULL, last_updated_time = ? "
        f"WHERE request_id IN ({placeholders(len(rows))})",
        (RequestStatus.VOID, actor.now, *(int(r[0]) for r in rows)),
    )
    why = "version deleted" if stage is None else f"version reached {stage}"
    for _request_id, to_stage in rows:
        record_event(
            tx,
            key,
            version,
            ApprovalAction.VOIDED,
            Actor(now=actor.now, user_id=actor.user_id, comment=why),
            cause=HistoryCause.SYSTEM,
            to_stage=to_stage,
        )


class SqlTransitionRequestStore(TransitionRequestStore):
    def __init__(self, db: Database, registry: SqlRegistryStore) -> None:
        self.db = db
        self.registry = registry

    def _version_stage(self, tx: Tx, key: int, name: str, version: int) -> str:
        stage = tx.scalar(
            "SELECT current_stage FROM model_versions WHERE model_key = ? AND version = ?",
            (key, version),
        )
        if stage is None:
            raise ResourceDoesNotExist(f"Model Version (name={name}, version={version}) not found")
        return str(stage)

    def _requests(self, tx: Tx, where: str, params: Sequence[Any]) -> list[TransitionRequest]:
        rows = tx.all(f"SELECT {_REQUEST_COLUMNS} FROM {_REQUEST_FROM} WHERE {where}", params)
        return [_request(r) for r in rows]

    # -- requests -------------------------------------------------------------
    def create_request(
        self, name: str, version: int, to_stage: str, actor: Actor
    ) -> TransitionRequest:
        user = _user(actor)
        with self.db.write() as tx:
            key = self.registry._key(tx, name, lock=True)
            current = self._version_stage(tx, key, name, version)
            tx.execute(
                "INSERT INTO transition_requests (model_key, version, from_stage, to_stage, "
                "user_id, comment, creation_time, last_updated_time, status, open_mark) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    version,
                    current,
                    to_stage,
                    user,
                    actor.comment,
                    actor.now,
                    actor.now,
                    RequestStatus.OPEN,
                    RequestStatus.OPEN,
                ),
            )
            record_event(
                tx,
                key,
                version,
                ApprovalAction.REQUESTED,
                actor,
                from_stage=current,
                to_stage=to_stage,
            )
            outbox.transition_requested(tx, name, version, current, to_stage, actor)
            return self._requests(
                tx,
                "tr.model_key = ? AND tr.version = ? AND tr.to_stage = ? AND tr.user_id = ? "
                "AND tr.open_mark IS NOT NULL",
                (key, version, to_stage, user),
            )[0]

    def list_requests(
        self,
        name: str | None,
        version: int | None,
        statuses: Sequence[str],
        max_results: int,
    ) -> list[TransitionRequest]:
        where = [f"tr.status IN ({placeholders(len(statuses))})"]
        params: list[Any] = list(statuses)
        if name is not None:
            where.append("rm.name = ?")
            params.append(name)
        if version is not None:
            where.append("tr.version = ?")
            params.append(version)
        with self.db.read() as tx:
            if name is not None:
                self.registry._key(tx, name)  # a missing model is an error, not []
            return self._requests(
                tx,
                " AND ".join(where) + " ORDER BY tr.request_id DESC LIMIT ?",
                (*params, max_results),
            )

    def _open_for(self, tx: Tx, key: int, version: int, to_stage: str) -> list[TransitionRequest]:
        return self._requests(
            tx,
            "tr.model_key = ? AND tr.version = ? AND tr.to_stage = ? AND "
            "tr.open_mark IS NOT NULL ORDER BY tr.request_id",
            (key, version, to_stage),
        )

    def _close(
        self, tx: Tx, key: int, request: TransitionRequest, status: str, actor: Actor
    ) -> Decision:
        tx.execute(
            "UPDATE transition_requests SET status = ?, open_mark = NULL, decided_by = ?, "
            "decision_comment = ?, last_updated_time = ? WHERE request_id = ?",
            (status, _user(actor), actor.comment, actor.now, request.request_id),
        )
        record_event(
            tx,
            key,
            request.version,
            _CLOSED_EVENT[status],
            actor,
            from_stage=request.from_stage,
            to_stage=request.to_stage,
        )
        closed = self._requests(tx, "tr.request_id = ?", (request.request_id,))[0]
        return Decision(closed, _last_event_id(tx, key), actor.now)

    def approve(
        self, name: str, version: int, move: StageMove, choose: Chooser, actor: Actor
    ) -> tuple[Decision, ModelVersion]:
        with self.db.write() as tx:
            key = self.registry._key(tx, name, lock=True)
            self._version_stage(tx, key, name, version)
            open_requests = self._open_for(tx, key, version, move.stage)
            if not open_requests:
                raise self._nothing_open(tx, key, name, version, move.stage)
            decision = self._close(tx, key, choose(open_requests), RequestStatus.APPROVED, actor)
            # The transition itself, in this transaction; it voids the other
            # open requests for this stage (the version now holds it).
            moved = self.registry._transition(
                tx,
                key,
                name,
                version,
                move.stage,
                archive_others=move.archive_others,
                exclusive=move.exclusive,
                actor=actor,
                cause=HistoryCause.APPROVAL,
            )
            return decision, moved

    def close_requests(
        self,
        name: str,
        version: int,
        to_stage: str,
        status: str,
        actor: Actor,
        creator: str | None = None,
    ) -> Decision:
        with self.db.write() as tx:
            key = self.registry._key(tx, name, lock=True)
            self._version_stage(tx, key, name, version)
            targets = [
                r
                for r in self._open_for(tx, key, version, to_stage)
                if creator is None or r.user_id == creator
            ]
            if not targets:
                raise self._nothing_open(tx, key, name, version, to_stage, creator)
            decisions = [self._close(tx, key, r, status, actor) for r in targets]
            return decisions[0]

    def _nothing_open(
        self,
        tx: Tx,
        key: int,
        name: str,
        version: int,
        to_stage: str,
        creator: str | None = None,
    ) -> ResourceDoesNotExist:
        by = f" by {creator!r}" if creator else ""
        message = (
            f"No open transition request{by} to move version {version} of registered model "
            f"{name!r} to {to_stage}."
        )
        closed = self._requests(
            tx,
            "tr.model_key = ? AND tr.version = ? AND tr.to_stage = ? AND tr.open_mark IS NULL "
            "ORDER BY tr.last_updated_time DESC, tr.request_id DESC LIMIT 1",
            (key, version, to_stage),
        )
        if closed:
            last = closed[0]
            who = f" by {last.decided_by}" if last.decided_by else ""
            message += f" The latest one was {last.status}{who}."
        return ResourceDoesNotExist(message)

    def last_closed(self, name: str, version: int, to_stage: str) -> TransitionRequest | None:
        with self.db.read() as tx:
            key = self.registry._key(tx, name)
            found = self._requests(
                tx,
                "tr.model_key = ? AND tr.version = ? AND tr.to_stage = ? AND "
                "tr.open_mark IS NULL ORDER BY tr.last_updated_time DESC, tr.request_id DESC "
                "LIMIT 1",
                (key, version, to_stage),
            )
        return found[0] if found else None

    # -- approval policy ------------------------------------------------------
    def model_policies(self, name: str) -> dict[str, bool]:
        with self.db.read() as tx:
            key = self.registry._key(tx, name)
            rows = tx.all(
                "SELECT stage, required FROM approval_policies WHERE model_key = ?", (key,)
            )
        return {str(stage): bool(required) for stage, required in rows}

    def set_model_policy(self, name: str, stage: str, required: bool | None) -> None:
        with self.db.write() as tx:
            key = self.registry._key(tx, name, lock=True)
            if required is None:
                tx.execute(
                    "DELETE FROM approval_policies WHERE model_key = ? AND stage = ?", (key, stage)
                )
                return
            tx.execute(
                "INSERT INTO approval_policies (model_key, stage, required) VALUES (?, ?, ?) "
                "ON CONFLICT (model_key, stage) DO UPDATE SET required = excluded.required",
                (key, stage, 1 if required else 0),
            )

    def models_with_open_requests(self, names: Sequence[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        with self.db.read() as tx:
            for chunk in chunks(list(names)):
                for name, count in tx.all(
                    f"SELECT rm.name, COUNT(*) FROM {_REQUEST_FROM} WHERE tr.open_mark IS NOT "
                    f"NULL AND rm.name IN ({placeholders(len(chunk))}) GROUP BY rm.name",
                    chunk,
                ):
                    found[str(name)] = int(count)
        return found

    # -- comments -------------------------------------------------------------
    def add_comment(self, name: str, version: int, actor: Actor) -> VersionComment:
        with self.db.write() as tx:
            key = self.registry._key(tx, name, lock=True)
            self._version_stage(tx, key, name, version)
            tx.execute(
                "INSERT INTO model_version_comments (model_key, version, user_id, comment, "
                "creation_time, last_updated_time) VALUES (?, ?, ?, ?, ?, ?)",
                (key, version, _user(actor), actor.comment or "", actor.now, actor.now),
            )
            comment_id = tx.scalar(
                "SELECT MAX(comment_id) FROM model_version_comments WHERE model_key = ?", (key,)
            )
            record_event(tx, key, version, ApprovalAction.COMMENTED, actor)
            outbox.commented(tx, name, version, actor)
            return self._get_comment(tx, int(comment_id))

    def _get_comment(self, tx: Tx, comment_id: int) -> VersionComment:
        row = tx.one(
            f"SELECT {_COMMENT_COLUMNS} FROM {_COMMENT_FROM} WHERE c.comment_id = ?",
            (comment_id,),
        )
        if row is None:
            raise ResourceDoesNotExist(f"Comment with id={comment_id} not found.")
        return _comment(row)

    def get_comment(self, comment_id: int) -> VersionComment:
        with self.db.read() as tx:
            return self._get_comment(tx, comment_id)

    def update_comment(self, comment_id: int, text: str, now: int) -> VersionComment:
        with self.db.write() as tx:
            tx.execute(
                "UPDATE model_version_comments SET comment = ?, last_updated_time = ? "
                "WHERE comment_id = ?",
                (text, now, comment_id),
            )
            return self._get_comment(tx, comment_id)

    def delete_comment(self, comment_id: int) -> None:
        with self.db.write() as tx:
            tx.execute("DELETE FROM model_version_comments WHERE comment_id = ?", (comment_id,))
            if tx.rowcount == 0:
                raise ResourceDoesNotExist(f"Comment with id={comment_id} not found.")

    def list_comments(self, name: str, version: int) -> list[VersionComment]:
        with self.db.read() as tx:
            key = self.registry._key(tx, name)
            rows = tx.all(
                f"SELECT {_COMMENT_COLUMNS} FROM {_COMMENT_FROM} WHERE c.model_key = ? AND "
                "c.version = ? ORDER BY c.comment_id",
                (key, version),
            )
        return [_comment(r) for r in rows]
