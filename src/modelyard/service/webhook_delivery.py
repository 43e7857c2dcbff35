"""Delivering the outbox: every server process runs one `Deliverer`.

A background thread asks the store whether anything is due (a cheap read),
leases a batch (`SqlWebhookStore.claim`), sends each delivery and records the
attempt. Outcomes:

* 2xx: delivered.
* timeout, connection error, 408, 429 or 5xx: retried with exponential
  backoff and full jitter (`retry_base_ms` doubling up to an hour, times a
  random factor in [0.5, 1)), honouring `Retry-After` when it asks for
  longer, until `retry_window_ms` after the event; then failed.
* anything else (3xx, since redirects are not followed; other 4xx; a refused
  target): failed at once; retrying would not change the answer.

A delivery whose webhook was disabled after the event was queued is dropped
(marked failed, no request). `run_once(now)` does one round synchronously,
so tests drive delivery without sleeping.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from modelyard.errors import TemporarilyUnavailable
from modelyard.service.webhook_payloads import render
from modelyard.service.webhook_secrets import SecretBox
from modelyard.service.webhook_targets import TargetPolicy, TargetRefused, send
from modelyard.store.sql.webhooks import SqlWebhookStore
from modelyard.webhook_entities import (
    Attempt,
    Claimed,
    DeliveryStatus,
    WebhookCredentials,
    WebhookStatus,
)

if TYPE_CHECKING:
    import httpx  # imported when a delivery is sent (see webhook_targets)

log = logging.getLogger("modelyard.webhooks")

LOGGED_BODY_CHARS = 2000
MAX_BACKOFF_MS = 3_600_000
BATCH = 16
PRUNE_EVERY_MS = 3_600_000
RETRIED_STATUSES = frozenset({408, 429})


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    policy: TargetPolicy
    retry_base_ms: int = 10_000
    retry_window_ms: int = 24 * 3_600_000
    poll_ms: int = 1000
    keep_log_ms: int = 30 * 86_400_000

    @property
    def lease_ms(self) -> int:
        # Longer than one attempt can take (connect + the read deadline), so a
        # live process never loses its lease mid-attempt; short enough that a
        # killed process's deliveries are taken over soon.
        return int(self.policy.timeout_s * 3000) + 5000


def _retry_after_ms(value: str | None) -> int:
    try:
        return max(0, int(value or "")) * 1000
    except ValueError:
        return 0


class Deliverer:
    def __init__(
        self,
        store: SqlWebhookStore,
        secrets: SecretBox,
        config: DeliveryConfig,
        *,
        clock: Callable[[], int],
        rng: random.Random | None = None,
        transport: httpx.BaseTransport | None = None,
        before_start: Callable[[], object] | None = None,
    ) -> None:
        self.store = store
        self.secrets = secrets
        self.config = config
        self.clock = clock
        self.rng = rng or random.Random()
        self.transport = transport
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._last_prune = 0
        self._before_start = before_start

    # -- one round ------------------------------------------------------------
    def run_once(self, now: int | None = None) -> int:
        """Attempt every delivery due at `now` once; returns how many were tried."""
        when = self.clock() if now is None else now
        if not self.store.has_due(when):
            return 0
        claimed = self.store.claim(when, self.config.lease_ms, BATCH)
        if self._pool is not None and len(claimed) > 1:
            list(self._pool.map(lambda c: self.attempt(c, now), claimed))
        else:
            for c in claimed:
                self.attempt(c, now)
        return len(claimed)

    def backoff_ms(self, attempts: int) -> int:
        base = min(self.config.retry_base_ms * 2 ** max(0, attempts - 1), MAX_BACKOFF_MS)
        return int(base * (0.5 + self.rng.random() / 2))

    def attempt(self, claimed: Claimed, now: int | None = None) -> str:
        """Send one claimed delivery and record the attempt; returns its new status."""
        import httpx

        delivery, webhook = claimed.delivery, claimed.webhook
        started = self.clock() if now is None else now
        if webhook.status != WebhookStatus.ACTIVE:
            self.store.drop_delivery(delivery.delivery_id, claimed.lease_token, started)
            return DeliveryStatus.FAILED
        status_code: int | None = None
        body_text: str | None = None
        error: str | None = None
        latency = 0
        retry = False
        retry_after = 0
        try:
            credentials = WebhookCredentials(
                secret=self.secrets.open(claimed.secret_token),
                authorization=self.secrets.open(claimed.authorization_token),
            )
            body, headers = render(
                webhook,
                delivery.event,
                delivery.event_name,
                delivery.delivery_id,
                credentials,
                started,
            )
            result = send(
                webhook.url,
                body,
                headers,
                policy=self.config.policy,
                verify_tls=webhook.verify_tls,
                transport=self.transport,
            )
            status_code, latency = result.status_code, result.latency_ms
            body_text = result.body.decode("utf-8", "replace")[:LOGGED_BODY_CHARS]
            retry = status_code in RETRIED_STATUSES or status_code >= 500
            retry_after = _retry_after_ms(result.retry_after) if retry else 0
        except TargetRefused as exc:
            error = exc.message
        except httpx.TimeoutException as exc:
            error, retry = f"timed out: {exc or type(exc).__name__}", True
        except httpx.TransportError as exc:
            error, retry = f"{type(exc).__name__}: {exc}", True
        except Exception as exc:  # recorded, never kills the loop
            log.exception("webhook delivery %s failed", delivery.delivery_id)
            error = f"{type(exc).__name__}: {exc}"
        number = delivery.attempts + 1
        if status_code is not None and 200 <= status_code < 300:
            outcome, next_at = DeliveryStatus.DELIVERED, None
        elif retry:
            wait = max(self.backoff_ms(number), min(retry_after, MAX_BACKOFF_MS))
            next_at = started + wait
            if next_at > delivery.created_at + self.config.retry_window_ms:
                outcome, next_at = DeliveryStatus.FAILED, None
            else:
                outcome = DeliveryStatus.PENDING
        else:
            outcome, next_at = DeliveryStatus.FAILED, None
        self.store.record_attempt(
            delivery.delivery_id,
            claimed.lease_token,
            Attempt(number, started, latency, status_code, body_text, error),
            status=outcome,
            next_attempt_at=next_at,
        )
        return outcome

    # -- the background loop --------------------------------------------------
    def start(self) -> None:
        """Run the start-up hook (secret re-encryption; raising refuses to start),
        then deliver in the background until `stop`."""
        if self._thread is not None:
            return
        if self._before_start is not None:
            self._before_start()
        self._stop.clear()
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="webhook-send")
        self._thread = threading.Thread(target=self._loop, name="webhook-deliverer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.config.policy.timeout_s * 3 + 5)
            self._thread = None
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.run_once() > 0
                self._maybe_prune()
            except TemporarilyUnavailable as exc:  # the database is away: one line, retry
                log.warning("webhook delivery round skipped: %s", exc.message)
                busy = False
            except Exception:  # anything else is a bug worth its traceback; go on
                log.exception("webhook delivery round failed")
                busy = False
            if not busy:
                self._stop.wait(self.config.poll_ms / 1000)

    def _maybe_prune(self) -> None:
        now = self.clock()
        if now - self._last_prune >= PRUNE_EVERY_MS:
            self._last_prune = now
            removed = self.store.prune(now - self.config.keep_log_ms)
            if removed:
                log.info("pruned %d old webhook deliveries", removed)
