"""Group commit: concurrent writes of one process share one SQLite transaction.

SQLite has one writer. Without this module, N requests logging metrics at once
take the writer lock one after another, each with its own `BEGIN IMMEDIATE`,
inserts and `COMMIT` (a WAL append of every page it dirtied, file-lock system
calls, the WAL index update). With it, a request hands its write (a function of
a `Tx`) to `GroupCommit.run` and waits; whoever finds no write in progress
becomes the *leader*: it takes every write queued so far, runs them all in one
transaction and commits once, then wakes their requests and passes the lead to
the first request that queued meanwhile. There is no writer thread and no timer:
a group is whatever piled up while the previous one was being written, so a lone
request is written at once, as before, and under load the groups grow by
themselves (the same scheme as LevelDB's write queue and PostgreSQL's WAL flush).

Guarantees, each tested in `tests/store/test_group_commit.py`:

* A request returns only after the commit that holds its rows: nothing
  acknowledged is lost (the kill -9 tests in `tests/faults/` cover it).
* One member's failure fails only that member. Each member of a group of two or
  more runs inside its own `SAVEPOINT`; an error (a run that does not exist, a
  changed param) rolls back to it, and the member's request gets the error it
  would have got alone. If the error took the whole transaction with it (SQLite
  rolls back by itself on a full disk or an I/O error), or the `COMMIT` fails,
  the leader rolls back and writes every member again in a transaction of its
  own, so each gets its own outcome.
* Errors keep MLflow's semantics: members' exceptions are re-raised unchanged in
  their own threads.

On PostgreSQL, writers run concurrently and the server already groups
concurrent commits' WAL flushes, so `run` is a plain `Database.write()` there.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from modelyard.store.sql.db import Database, Tx

T = TypeVar("T")

# At most this many requests' writes go into one transaction: a group's requests
# are all answered when its commit is done, so an unbounded group under a burst
# would hold the first ones back for the sake of the last.
MAX_GROUP = 64


class _Member(Generic[T]):
    __slots__ = ("error", "event", "finished", "lead", "result", "work")

    def __init__(self, work: Callable[[Tx], T]) -> None:
        self.work = work
        # Only a member that waits needs an Event (a lone writer never does).
        self.event: threading.Event | None = None
        self.lead = False  # woken to lead the next group rather than as finished
        self.finished = False
        self.result: T | None = None
        self.error: BaseException | None = None

    def outcome(self) -> T:
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]


class GroupCommit:
    """Runs writes (functions of a `Tx`) in shared transactions; see the module doc."""

    def __init__(self, db: Database, max_group: int = MAX_GROUP) -> None:
        self.db = db
        self.max_group = max_group
        self._mutex = threading.Lock()
        self._pending: list[_Member[object]] = []
        self._busy = False
        # Counters for tests and the bench: transactions committed, writes in them.
        self.groups = 0
        self.members = 0

    def run(self, work: Callable[[Tx], T]) -> T:
        """Run `work` in a write transaction (maybe shared); return after its commit."""
        if self.db.dialect != "sqlite":
            with self.db.write() as tx:
                return work(tx)
        member: _Member[T] = _Member(work)
        with self._mutex:
            self._pending.append(member)  # type: ignore[arg-type]
            lead = not self._busy
            self._busy = True
            if not lead:
                member.event = threading.Event()
        if not lead:
            assert member.event is not None
            member.event.wait()
            if member.finished:
                return member.outcome()
        self._lead()
        return member.outcome()

    def _lead(self) -> None:
        """Write one group (including the leader's own write), then pass the lead on."""
        with self._mutex:
            group = self._pending[: self.max_group]
            del self._pending[: self.max_group]
        try:
            self._write_group(group)
        finally:
            for member in group:
                member.finished = True
            with self._mutex:
                if self._pending:
                    successor = self._pending[0]
                    successor.lead = True
                    if successor.event is not None:
                        successor.event.set()
                else:
                    self._busy = False
            for member in group:
                if member.event is not None:
                    member.event.set()

    def _write_group(self, group: list[_Member[object]]) -> None:
        if len(group) == 1:
            # Alone: no savepoint needed, the transaction is the member's.
            self._write_alone(group[0])
            return
        try:
            with self.db.write() as tx:
                intact = self._run_members(tx, group)
        except BaseException as exc:
            if not isinstance(exc, Exception):
                for member in group:
                    member.error = exc
                raise
            intact = False  # the COMMIT failed
        if not intact:
            # The shared transaction is gone: each member on its own.
            for member in group:
                member.error = None
                self._write_alone(member)
            return
        with self._mutex:
            self.groups += 1
            self.members += len(group)

    def _run_members(self, tx: Tx, group: list[_Member[object]]) -> bool:
        """Each member under a savepoint (a failing one keeps its error and its
        rows are undone); False when the transaction itself was lost."""
        for member in group:
            tx.execute("SAVEPOINT member")
            try:
                member.result = member.work(tx)
            except Exception as exc:
                if not tx.in_transaction:
                    return False
                tx.execute("ROLLBACK TO member")
                member.error = exc
            tx.execute("RELEASE member")
        return True

    def _write_alone(self, member: _Member[object]) -> None:
        try:
            with self.db.write() as tx:
                member.result = member.work(tx)
        except Exception as exc:
            member.error = exc
            return
        with self._mutex:
            self.groups += 1
            self.members += 1
