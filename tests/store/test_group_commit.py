"""Group commit (store/sql/group_commit.py): concurrent log-batches of one process
share SQLite transactions; every acknowledged point is stored, one member's failure
is its own, and a lost transaction is retried member by member.

Groups are formed deterministically: the first write blocks (inside its own
transaction, holding the lead) until the others have queued behind it, so they
all land in the next group.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from modelyard.entities import LifecycleStage, Param, RunInfo
from modelyard.errors import InvalidParameterValue, ResourceDoesNotExist
from modelyard.store.sql import migrations
from modelyard.store.sql.db import Database, Tx
from modelyard.store.sql.group_commit import GroupCommit
from modelyard.store.sql.tracking import SqlTrackingStore

DEADLINE_S = 30.0


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlTrackingStore]:
    db = Database(f"sqlite:///{tmp_path / 'store.db'}")
    migrations.upgrade(db)
    store = SqlTrackingStore(db)
    store.ensure_default_experiment("Default", "mlflow-artifacts:", 1)
    yield store
    db.close()


def _run(store: SqlTrackingStore, run_id: str) -> str:
    store.create_run(
        RunInfo(
            run_id=run_id,
            experiment_id="0",
            run_name=run_id,
            user_id="u",
            status="RUNNING",
            start_time=1,
            end_time=None,
            artifact_uri="",
            lifecycle_stage=LifecycleStage.ACTIVE,
        ),
        [],
    )
    return run_id


def _points(store: SqlTrackingStore, run_id: str, key: str = "m") -> list[int]:
    page = store.get_metric_history(run_id, key, None, 0)
    return sorted(m.step for m in page.items)


def _wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.001)


class Outcome:
    """What one thread's call ended with."""

    def __init__(self) -> None:
        self.result: Any = None
        self.error: BaseException | None = None


def _start(fn: Callable[[], Any]) -> tuple[threading.Thread, Outcome]:
    outcome = Outcome()

    def body() -> None:
        try:
            outcome.result = fn()
        except BaseException as exc:
            outcome.error = exc

    thread = threading.Thread(target=body)
    thread.start()
    return thread, outcome


def _grouped(
    writes: GroupCommit, members: list[Callable[[], Any]], transactions: int = 1
) -> list[Outcome]:
    """Run `members` so that they form one group behind a blocked first write;
    `transactions`: how many commits the group is expected to take."""
    release = threading.Event()

    def blocker(tx: Tx) -> None:
        release.wait(DEADLINE_S)

    first, first_outcome = _start(lambda: writes.run(blocker))
    _wait_until(lambda: writes._busy, "the first write to take the lead")
    started = [_start(fn) for fn in members]
    _wait_until(lambda: len(writes._pending) == len(members), "every member to queue")
    groups_before = writes.groups
    release.set()
    first.join(DEADLINE_S)
    for thread, _ in started:
        thread.join(DEADLINE_S)
    assert first_outcome.error is None
    # The blocked write alone, then the group.
    assert writes.groups == groups_before + 1 + transactions
    return [outcome for _, outcome in started]


def _batch(run_id: str, steps: range) -> list[tuple[str, float, int, int]]:
    return [("m", float(s), 1_700_000_000_000 + s, s) for s in steps]


def test_concurrent_log_batches_share_commits_and_every_point_is_stored(
    store: SqlTrackingStore,
) -> None:
    runs = [_run(store, f"run{i:02d}") for i in range(16)]
    batches, size = 20, 50
    go = threading.Barrier(len(runs))

    def client(run_id: str) -> None:
        go.wait()
        for b in range(batches):
            store.log_batch_rows(run_id, _batch(run_id, range(b * size, (b + 1) * size)), [], [])

    threads = [_start(lambda r=r: client(r)) for r in runs]  # type: ignore[misc]
    for thread, _ in threads:
        thread.join(DEADLINE_S)
    assert [o.error for _, o in threads] == [None] * len(runs)
    for run_id in runs:
        assert _points(store, run_id) == list(range(batches * size))
    assert store.writes.members == len(runs) * batches


def test_writes_queued_behind_a_write_in_progress_form_one_transaction(
    store: SqlTrackingStore,
) -> None:
    runs = [_run(store, f"run{i}") for i in range(5)]
    outcomes = _grouped(
        store.writes,
        [
            lambda r=r: store.log_batch_rows(r, _batch(r, range(100)), [], [])  # type: ignore[misc]
            for r in runs
        ],
    )
    assert [o.error for o in outcomes] == [None] * 5
    for run_id in runs:
        assert _points(store, run_id) == list(range(100))


def test_a_failing_member_fails_alone_with_its_own_error(store: SqlTrackingStore) -> None:
    good = [_run(store, f"good{i}") for i in range(3)]
    fixed = _run(store, "fixed")
    store.log_batch_rows(fixed, [], [Param("lr", "0.1")], [])
    deleted = _run(store, "deleted")
    store.set_run_lifecycle(deleted, LifecycleStage.DELETED, 2)
    outcomes = _grouped(
        store.writes,
        [
            lambda: store.log_batch_rows(good[0], _batch(good[0], range(10)), [], []),
            lambda: store.log_batch_rows("missing", _batch("missing", range(10)), [], []),
            lambda: store.log_batch_rows(good[1], _batch(good[1], range(10)), [], []),
            # Rows written before the error (the metrics) are rolled back with it.
            lambda: store.log_batch_rows(fixed, _batch(fixed, range(10)), [Param("lr", "0.2")], []),
            lambda: store.log_batch_rows(deleted, _batch(deleted, range(10)), [], []),
            lambda: store.log_batch_rows(good[2], _batch(good[2], range(10)), [], []),
        ],
    )
    errors = [o.error for o in outcomes]
    assert errors[0] is None and errors[2] is None and errors[5] is None
    assert isinstance(errors[1], ResourceDoesNotExist)
    assert str(errors[1]) == "Run with id=missing not found"
    assert isinstance(errors[3], InvalidParameterValue)
    assert "Changing param values is not allowed" in str(errors[3])
    assert isinstance(errors[4], InvalidParameterValue)
    assert "must be in the 'active' state" in str(errors[4])
    for run_id in good:
        assert _points(store, run_id) == list(range(10))
    assert _points(store, fixed) == []


def test_a_lost_transaction_is_retried_member_by_member(store: SqlTrackingStore) -> None:
    runs = [_run(store, f"run{i}") for i in range(3)]

    def loses_the_transaction(tx: Tx) -> None:
        # What SQLite does by itself on a full disk or an I/O error.
        tx.execute("ROLLBACK")
        raise RuntimeError("the transaction is gone")

    outcomes = _grouped(
        store.writes,
        [
            lambda: store.log_batch_rows(runs[0], _batch(runs[0], range(10)), [], []),
            lambda: store.writes.run(loses_the_transaction),
            lambda: store.log_batch_rows(runs[1], _batch(runs[1], range(10)), [], []),
            lambda: store.log_batch_rows(runs[2], _batch(runs[2], range(10)), [], []),
        ],
        transactions=3,  # the good members, one by one
    )
    assert outcomes[0].error is None and outcomes[2].error is None and outcomes[3].error is None
    assert isinstance(outcomes[1].error, RuntimeError)
    for run_id in runs:
        # Once: the group's rows were rolled back before the members were retried.
        assert _points(store, run_id) == list(range(10))


def test_a_failed_commit_is_retried_member_by_member(store: SqlTrackingStore) -> None:
    runs = [_run(store, f"run{i}") for i in range(3)]

    def defers_a_broken_constraint(tx: Tx) -> None:
        # A deferred foreign key fails the COMMIT, not the statement.
        tx.execute("PRAGMA defer_foreign_keys = ON")
        tx.execute("INSERT INTO tags (run_uuid, key, value) VALUES ('nobody', 'k', 'v')")

    outcomes = _grouped(
        store.writes,
        [
            lambda: store.log_batch_rows(runs[0], _batch(runs[0], range(10)), [], []),
            lambda: store.writes.run(defers_a_broken_constraint),
            lambda: store.log_batch_rows(runs[1], _batch(runs[1], range(10)), [], []),
            lambda: store.log_batch_rows(runs[2], _batch(runs[2], range(10)), [], []),
        ],
        transactions=3,
    )
    assert outcomes[0].error is None and outcomes[2].error is None and outcomes[3].error is None
    assert isinstance(outcomes[1].error, InvalidParameterValue)
    for run_id in runs:
        assert _points(store, run_id) == list(range(10))
