"""Webhooks, their deliveries and the delivery log on SQLite and PostgreSQL.

Leasing: `claim` hands due deliveries to one process at a time. On
PostgreSQL the candidate rows are picked with `FOR UPDATE SKIP LOCKED`, so
two processes claiming at the same moment take disjoint rows without
waiting for each other; on SQLite the write transaction is `BEGIN IMMEDIATE`
(one writer), which serialises claims. A claim stamps `lease_owner` (a fresh
token per claim) and `lease_until`; a row whose lease has run out (its
process died mid-attempt) is due again. Recording an attempt checks the
token, so a process whose lease expired cannot overwrite the outcome of the
process that took over: at least once, never twice at the same time.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

from modelyard.entities import Page
from modelyard.errors import ResourceDoesNotExist
from modelyard.search_terms import encode_page_token
from modelyard.store.sql.db import Database, Row, Tx
from modelyard.store.sql.sql_text import chunks, placeholders
from modelyard.webhook_entities import (
    Attempt,
    Claimed,
    Delivery,
    DeliveryStatus,
    OutboxEvent,
    Webhook,
)

_WEBHOOK_COLUMNS = (
    "webhook_id, flavor, name, url, status, creation_time, last_updated_time, description, "
    "model_name, secret_token, authorization_token, verify_tls, created_by"
)
_DELIVERY_COLUMNS = (
    "d.delivery_id, d.webhook_id, d.event_name, d.status, d.attempts, d.created_at, "
    "d.next_attempt_at, d.finished_at, e.event_id, e.event, e.model_name, e.version, "
    "e.user_id, e.timestamp, e.data"
)
_DELIVERY_FROM = "webhook_deliveries d JOIN webhook_events e ON e.event_id = d.event_id"


def webhook_not_found(webhook_id: str) -> ResourceDoesNotExist:
    return ResourceDoesNotExist(f"Webhook with ID {webhook_id} not found.")


class SqlWebhookStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- webhooks -------------------------------------------------------------
    def _webhooks(self, tx: Tx, rows: Sequence[Row]) -> list[Webhook]:
        ids = [r[0] for r in rows]
        events: dict[str, list[str]] = {}
        for chunk in chunks(ids):
            for webhook_id, event in tx.all(
                "SELECT webhook_id, event FROM webhook_subscriptions "
                f"WHERE webhook_id IN ({placeholders(len(chunk))}) ORDER BY event",
                chunk,
            ):
                events.setdefault(webhook_id, []).append(event)
        return [
            Webhook(
                webhook_id=r[0],
                flavor=r[1],
                name=r[2],
                url=r[3],
                status=r[4],
                creation_timestamp=int(r[5]),
                last_updated_timestamp=int(r[6]),
                description=r[7],
                model_name=r[8],
                has_secret=r[9] is not None,
                has_authorization=r[10] is not None,
                verify_tls=bool(r[11]),
                created_by=r[12],
                events=tuple(events.get(r[0], ())),
            )
            for r in rows
        ]

    def _webhook(self, tx: Tx, webhook_id: str, flavor: str | None = None) -> Webhook:
        sql = f"SELECT {_WEBHOOK_COLUMNS} FROM webhooks WHERE webhook_id = ?"
        params: list[Any] = [webhook_id]
        if flavor is not None:
            sql += " AND flavor = ?"
            params.append(flavor)
        rows = tx.all(sql, params)
        if not rows:
            raise webhook_not_found(webhook_id)
        return self._webhooks(tx, rows)[0]

    def create_webhook(
        self, webhook: Webhook, secret_token: str | None, authorization_token: str | None
    ) -> Webhook:
        with self.db.write() as tx:
            tx.execute(
                f"INSERT INTO webhooks ({_WEBHOOK_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    webhook.webhook_id,
                    webhook.flavor,
                    webhook.name,
                    webhook.url,
                    webhook.status,
                    webhook.creation_timestamp,
                    webhook.last_updated_timestamp,
                    webhook.description,
                    webhook.model_name,
                    secret_token,
                    authorization_token,
                    1 if webhook.verify_tls else 0,
                    webhook.created_by,
                ),
            )
            self._subscribe(tx, webhook.webhook_id, webhook.events)
            return self._webhook(tx, webhook.webhook_id)

    @staticmethod
    def _subscribe(tx: Tx, webhook_id: str, events: Sequence[str]) -> None:
        tx.execute("DELETE FROM webhook_subscriptions WHERE webhook_id = ?", (webhook_id,))
        tx.executemany(
            "INSERT INTO webhook_subscriptions (webhook_id, event) VALUES (?, ?)",
            [(webhook_id, e) for e in dict.fromkeys(events)],
        )

    def get_webhook(self, webhook_id: str, flavor: str | None = None) -> Webhook:
        with self.db.read() as tx:
            return self._webhook(tx, webhook_id, flavor)

    def list_webhooks(
        self,
        flavor: str | None,
        *,
        model_names: Sequence[str] | None = None,
        registry_wide: bool = True,
        model_name: str | None = None,
        events: Sequence[str] = (),
        max_results: int,
        offset: int,
    ) -> Page[Webhook]:
        """`model_names` (when given) limits the listing to those models' webhooks,
        plus registry-wide ones when `registry_wide`: what a non-admin may see."""
        where: list[str] = []
        params: list[Any] = []
        if flavor is not None:
            where.append("flavor = ?")
            params.append(flavor)
        if model_name is not None:
            where.append("model_name = ?")
            params.append(model_name)
        if model_names is not None:
            allowed = ["model_name IS NULL"] if registry_wide else []
            if model_names:
                allowed.append(f"model_name IN ({placeholders(len(model_names))})")
                params.extend(model_names)
            where.append("(" + " OR ".join(allowed or ["1 = 0"]) + ")")
        if events:
            where.append(
                "EXISTS (SELECT 1 FROM webhook_subscriptions s WHERE s.webhook_id = "
                f"webhooks.webhook_id AND s.event IN ({placeholders(len(events))}))"
            )
            params.extend(events)
        sql = (
            f"SELECT {_WEBHOOK_COLUMNS} FROM webhooks"
            + (f" WHERE {' AND '.join(where)}" if where else "")
            + " ORDER BY creation_time, webhook_id LIMIT ? OFFSET ?"
        )
        with self.db.read() as tx:
            rows = tx.all(sql, (*params, max_results + 1, offset))
            items = self._webhooks(tx, rows[:max_results])
        more = len(rows) > max_results
        return Page(items, encode_page_token(offset + max_results) if more else None)

    def update_webhook(
        self,
        webhook_id: str,
        flavor: str,
        now: int,
        *,
        fields: dict[str, Any],
        events: Sequence[str] | None = None,
    ) -> Webhook:
        """`fields` maps column names (name, description, url, status, secret_token,
        authorization_token, verify_tls) to new values; absent ones are kept."""
        allowed = {
            "name",
            "description",
            "url",
            "status",
            "secret_token",
            "authorization_token",
            "verify_tls",
        }
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"not webhook columns: {sorted(unknown)}")
        with self.db.write() as tx:
            self._webhook(tx, webhook_id, flavor)
            sets = [f"{column} = ?" for column in fields] + ["last_updated_time = ?"]
            tx.execute(
                f"UPDATE webhooks SET {', '.join(sets)} WHERE webhook_id = ?",
                (*fields.values(), now, webhook_id),
            )
            if events is not None:
                self._subscribe(tx, webhook_id, events)
            return self._webhook(tx, webhook_id)

    def delete_webhook(self, webhook_id: str, flavor: str) -> None:
        with self.db.write() as tx:
            tx.execute(
                "DELETE FROM webhooks WHERE webhook_id = ? AND flavor = ?", (webhook_id, flavor)
            )
            if tx.rowcount == 0:
                raise webhook_not_found(webhook_id)

    def credentials(self, webhook_id: str) -> tuple[str | None, str | None]:
        """The stored ciphertexts of the secret and the Authorization header."""
        with self.db.read() as tx:
            row = tx.one(
                "SELECT secret_token, authorization_token FROM webhooks WHERE webhook_id = ?",
                (webhook_id,),
            )
        if row is None:
            raise webhook_not_found(webhook_id)
        return row[0], row[1]

    def all_tokens(self) -> list[tuple[str, str | None, str | None]]:
        with self.db.read() as tx:
            return [
                (r[0], r[1], r[2])
                for r in tx.all(
                    "SELECT webhook_id, secret_token, authorization_token FROM webhooks "
                    "WHERE secret_token IS NOT NULL OR authorization_token IS NOT NULL"
                )
            ]

    def replace_tokens(self, rows: Sequence[tuple[str, str | None, str | None]]) -> None:
        """Store re-encrypted ciphertexts (key rotation), all in one transaction."""
        with self.db.write() as tx:
            tx.executemany(
                "UPDATE webhooks SET secret_token = ?, authorization_token = ? "
                "WHERE webhook_id = ?",
                [(secret, auth, webhook_id) for webhook_id, secret, auth in rows],
            )

    # -- deliveries -----------------------------------------------------------
    @staticmethod
    def _delivery(row: Row, attempts: Sequence[Attempt] = ()) -> Delivery:
        return Delivery(
            delivery_id=row[0],
            webhook_id=row[1],
            event_name=row[2],
            status=row[3],
            attempts=int(row[4]),
            created_at=int(row[5]),
            next_attempt_at=None if row[6] is None else int(row[6]),
            finished_at=None if row[7] is None else int(row[7]),
            event=OutboxEvent(
                event_id=int(row[8]),
                event=row[9],
                model_name=row[10],
                version=None if row[11] is None else int(row[11]),
                user_id=row[12],
                timestamp=int(row[13]),
                data=json.loads(row[14]),
            ),
            attempt_log=tuple(attempts),
        )

    def has_due(self, now: int) -> bool:
        """A cheap read first, so idle processes never take SQLite's write lock."""
        with self.db.read() as tx:
            return (
                tx.scalar(
                    "SELECT 1 FROM webhook_deliveries WHERE status = ? AND next_attempt_at <= ? "
                    "AND (lease_until IS NULL OR lease_until <= ?) LIMIT 1",
                    (DeliveryStatus.PENDING, now, now),
                )
                is not None
            )

    def claim(self, now: int, lease_ms: int, limit: int) -> list[Claimed]:
        """Lease up to `limit` due deliveries to the caller (see the module docstring)."""
        token = uuid.uuid4().hex
        with self.db.write() as tx:
            pick = (
                "SELECT delivery_id FROM webhook_deliveries WHERE status = ? "
                "AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?) "
                "ORDER BY next_attempt_at, delivery_id LIMIT ?"
            )
            if tx.dialect == "postgresql":
                pick += " FOR UPDATE SKIP LOCKED"
            ids = [r[0] for r in tx.all(pick, (DeliveryStatus.PENDING, now, now, limit))]
            if not ids:
                return []
            marks = placeholders(len(ids))
            tx.execute(
                "UPDATE webhook_deliveries SET lease_owner = ?, lease_until = ? "
                f"WHERE delivery_id IN ({marks})",
                (token, now + lease_ms, *ids),
            )
            rows = tx.all(
                f"SELECT {_DELIVERY_COLUMNS}, w.secret_token, w.authorization_token "
                f"FROM {_DELIVERY_FROM} JOIN webhooks w ON w.webhook_id = d.webhook_id "
                f"WHERE d.delivery_id IN ({marks}) ORDER BY d.next_attempt_at, d.delivery_id",
                ids,
            )
            hooks = {
                w.webhook_id: w
                for w in self._webhooks(
                    tx,
                    tx.all(
                        f"SELECT {_WEBHOOK_COLUMNS} FROM webhooks WHERE webhook_id IN "
                        f"({placeholders(len({r[1] for r in rows}))})",
                        sorted({r[1] for r in rows}),
                    ),
                )
            }
        return [
            Claimed(
                delivery=self._delivery(r),
                webhook=hooks[r[1]],
                secret_token=r[15],
                authorization_token=r[16],
                lease_token=token,
            )
            for r in rows
        ]

    def record_attempt(
        self,
        delivery_id: str,
        lease_token: str,
        attempt: Attempt,
        *,
        status: str,
        next_attempt_at: int | None,
    ) -> bool:
        """Log one attempt and set the outcome; False when the lease was lost
        (another process took the delivery over; its outcome stands)."""
        with self.db.write() as tx:
            tx.execute(
                "UPDATE webhook_deliveries SET attempts = attempts + 1, status = ?, "
                "next_attempt_at = ?, finished_at = ?, lease_owner = NULL, lease_until = NULL "
                "WHERE delivery_id = ? AND lease_owner = ?",
                (
                    status,
                    next_attempt_at,
                    None if status == DeliveryStatus.PENDING else attempt.started_at,
                    delivery_id,
                    lease_token,
                ),
            )
            if tx.rowcount == 0:
                return False
            number = tx.scalar(
                "SELECT attempts FROM webhook_deliveries WHERE delivery_id = ?", (delivery_id,)
            )
            tx.execute(
                "INSERT INTO webhook_attempts (delivery_id, number, started_at, latency_ms, "
                "status_code, response_body, error) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    delivery_id,
                    number,
                    attempt.started_at,
                    attempt.latency_ms,
                    attempt.status_code,
                    attempt.response_body,
                    attempt.error,
                ),
            )
            return True

    def drop_delivery(self, delivery_id: str, lease_token: str, now: int) -> None:
        """Finish a delivery whose webhook was disabled since it was queued."""
        with self.db.write() as tx:
            tx.execute(
                "UPDATE webhook_deliveries SET status = ?, finished_at = ?, "
                "next_attempt_at = NULL, lease_owner = NULL, lease_until = NULL "
                "WHERE delivery_id = ? AND lease_owner = ?",
                (DeliveryStatus.FAILED, now, delivery_id, lease_token),
            )

    def list_deliveries(self, webhook_id: str, *, max_results: int, offset: int) -> Page[Delivery]:
        with self.db.read() as tx:
            self._webhook(tx, webhook_id)
            rows = tx.all(
                f"SELECT {_DELIVERY_COLUMNS} FROM {_DELIVERY_FROM} WHERE d.webhook_id = ? "
                "ORDER BY d.created_at DESC, e.event_id DESC, d.delivery_id LIMIT ? OFFSET ?",
                (webhook_id, max_results + 1, offset),
            )
            rows, more = rows[:max_results], len(rows) > max_results
            log = self._attempts(tx, [r[0] for r in rows])
        items = [self._delivery(r, log.get(r[0], ())) for r in rows]
        return Page(items, encode_page_token(offset + max_results) if more else None)

    @staticmethod
    def _attempts(tx: Tx, ids: Sequence[str]) -> dict[str, list[Attempt]]:
        out: dict[str, list[Attempt]] = {}
        for chunk in chunks(list(ids)):
            for r in tx.all(
                "SELECT delivery_id, number, started_at, latency_ms, status_code, "
                "response_body, error FROM webhook_attempts "
                f"WHERE delivery_id IN ({placeholders(len(chunk))}) ORDER BY number",
                chunk,
            ):
                out.setdefault(r[0], []).append(
                    Attempt(
                        number=int(r[1]),
                        started_at=int(r[2]),
                        latency_ms=int(r[3]),
                        status_code=None if r[4] is None else int(r[4]),
                        response_body=r[5],
                        error=r[6],
                    )
                )
        return out

    def get_delivery(self, webhook_id: str, delivery_id: str) -> Delivery:
        with self.db.read() as tx:
            rows = tx.all(
                f"SELECT {_DELIVERY_COLUMNS} FROM {_DELIVERY_FROM} "
                "WHERE d.delivery_id = ? AND d.webhook_id = ?",
                (delivery_id, webhook_id),
            )
            if not rows:
                raise ResourceDoesNotExist(
                    f"Delivery {delivery_id} of webhook {webhook_id} not found."
                )
            return self._delivery(rows[0], self._attempts(tx, [delivery_id]).get(delivery_id, ()))

    def redeliver(self, webhook_id: str, delivery_id: str, now: int) -> Delivery:
        """Queue a delivery again under the same id (receivers see a repeat)."""
        with self.db.write() as tx:
            tx.execute(
                "UPDATE webhook_deliveries SET status = ?, next_attempt_at = ?, finished_at = NULL "
                "WHERE delivery_id = ? AND webhook_id = ?",
                (DeliveryStatus.PENDING, now, delivery_id, webhook_id),
            )
            if tx.rowcount == 0:
                raise ResourceDoesNotExist(
                    f"Delivery {delivery_id} of webhook {webhook_id} not found."
                )
        return self.get_delivery(webhook_id, delivery_id)

    def prune(self, before: int) -> int:
        """Forget finished deliveries (and their log) older than `before`, then
        events nothing refers to any more. Pending deliveries are kept."""
        with self.db.write() as tx:
            tx.execute(
                "DELETE FROM webhook_deliveries WHERE status <> ? AND finished_at < ?",
                (DeliveryStatus.PENDING, before),
            )
            removed = tx.rowcount
            tx.execute(
                "DELETE FROM webhook_events WHERE timestamp < ? AND NOT EXISTS (SELECT 1 FROM "
                "webhook_deliveries d WHERE d.event_id = webhook_events.event_id)",
                (before,),
            )
        return removed
