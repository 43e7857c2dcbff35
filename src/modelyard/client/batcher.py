"""Background metric logging: a training loop never waits for the network.

`log_metric` only appends to a queue. One daemon thread per `MetricBatcher`
sends the queue as MLflow `runs/log-batch` calls of at most 1000 metrics
(MLflow's per-request limit), when a batch is full, when `interval` seconds
have passed since the oldest queued metric (so charts stay live), when someone
calls `flush`, and at interpreter exit (atexit). Errors a send meets are kept
per run and raised by the next `flush` for that run, which the run's end calls:
a run whose metrics were lost does not end as FINISHED.

The queue is bounded (`max_queued`): a loop that logs faster than the server
accepts for long enough is slowed down rather than left to eat memory.
"""

from __future__ import annotations

import atexit
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable

from modelyard.entities import Metric

# MLflow's limit on metrics in one log-batch request.
MAX_METRICS_PER_BATCH = 1000

SendBatch = Callable[[str, list[Metric]], None]


class MetricBatcher:
    def __init__(
        self,
        send: SendBatch,
        *,
        max_batch: int = MAX_METRICS_PER_BATCH,
        interval: float = 1.0,
        max_queued: int = 100_000,
    ) -> None:
        self._send = send
        self.max_batch = max_batch
        self.interval = interval
        self.max_queued = max_queued
        self._cond = threading.Condition()
        self._queue: deque[tuple[str, Metric]] = deque()
        self._in_flight = 0
        self._flushing = 0
        self._errors: dict[str, BaseException] = {}
        self._thread: threading.Thread | None = None
        self._closed = False
        _live.add(self)

    def add(self, run_id: str, metric: Metric) -> None:
        """Queue one metric; returns at once unless the queue is full."""
        with self._cond:
            if self._closed:
                raise RuntimeError("metric batcher is closed")
            while len(self._queue) >= self.max_queued:
                self._cond.wait()
            self._queue.append((run_id, metric))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="modelyard-metrics", daemon=True
                )
                self._thread.start()
            if len(self._queue) == 1 or len(self._queue) >= self.max_batch:
                self._cond.notify_all()

    def flush(self, run_id: str | None = None) -> None:
        """Wait until everything queued is sent; raise the first error met
        sending `run_id`'s metrics (any run's when None), once."""
        with self._cond:
            self._flushing += 1
            self._cond.notify_all()
            try:
                while self._queue or self._in_flight:
                    self._cond.wait()
            finally:
                self._flushing -= 1
            if run_id is None:
                error = next(iter(self._errors.values()), None)
                self._errors.clear()
            else:
                error = self._errors.pop(run_id, None)
        if error is not None:
            raise error

    def close(self) -> None:
        """Flush, then stop the thread. Errors are raised as by `flush`."""
        try:
            self.flush()
        finally:
            with self._cond:
                self._closed = True
                self._cond.notify_all()
            _live.discard(self)

    def _take(self) -> tuple[str, list[Metric]] | None:
        """Under the lock: the next batch (one run's consecutive metrics), or None to stop."""
        while not self._queue:
            if self._closed:
                return None
            self._cond.wait()
        # Give the loop `interval` seconds to fill a batch, unless someone waits.
        deadline = time.monotonic() + self.interval
        while len(self._queue) < self.max_batch and not self._flushing and not self._closed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._cond.wait(remaining)
        run_id = self._queue[0][0]
        batch: list[Metric] = []
        while self._queue and len(batch) < self.max_batch and self._queue[0][0] == run_id:
            batch.append(self._queue.popleft()[1])
        self._in_flight += 1
        self._cond.notify_all()  # room in the queue again
        return run_id, batch

    def _run(self) -> None:
        while True:
            with self._cond:
                taken = self._take()
            if taken is None:
                return
            run_id, batch = taken
            error: BaseException | None = None
            try:
                self._send(run_id, batch)
            except BaseException as exc:  # kept for the run's end, never lost
                error = exc
            with self._cond:
                self._in_flight -= 1
                if error is not None:
                    self._errors.setdefault(run_id, error)
                self._cond.notify_all()


_live: weakref.WeakSet[MetricBatcher] = weakref.WeakSet()


def _flush_at_exit() -> None:
    for batcher in list(_live):
        try:
            batcher.flush()
        except Exception as exc:
            print(f"modelyard: metrics not logged at exit: {exc}", file=sys.stderr)


atexit.register(_flush_at_exit)
