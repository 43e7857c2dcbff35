"""Connections and transactions for SQLite and PostgreSQL behind one small API.

Store code writes portable SQL with `?` placeholders and runs it through a
`Tx` obtained from `Database.read()` or `Database.write()`. This module is the
only place that knows which driver is underneath: it rewrites placeholders for
psycopg, applies SQLite's pragmas, serialises SQLite writers, and translates
driver exceptions into the domain's errors (chaining the original).

Why not an ORM: the hot paths (log-metric, log-batch, search) are a handful of
statements each; writing them directly keeps a request to one round trip per
statement and keeps start-up under a second.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from modelyard.errors import (
    InternalError,
    InvalidParameterValue,
    ModelyardError,
    ResourceAlreadyExists,
    TemporarilyUnavailable,
)

Row = tuple[Any, ...]
Params = Sequence[Any]

# How long a request waits for a PostgreSQL connection before it is answered
# 503 TEMPORARILY_UNAVAILABLE (the client retries), and how long one connection
# attempt may take: an unreachable database must not hold requests for half a minute.
POOL_WAIT_S = 10.0
CONNECT_TIMEOUT_S = 3


class UniqueViolation(ResourceAlreadyExists):
    """A unique constraint refused a row; stores catch it to word the message."""


class Tx:
    """A transaction (or autocommit read scope) on one connection."""

    __slots__ = ("_cur", "_pg", "dialect")

    def __init__(self, cursor: Any, dialect: str) -> None:
        self._cur = cursor
        self.dialect = dialect
        self._pg = dialect == "postgresql"

    def _sql(self, sql: str) -> str:
        if self._pg:
            return sql.replace("%", "%%").replace("?", "%s")
        return sql

    def execute(self, sql: str, params: Params = ()) -> Tx:
        try:
            self._cur.execute(self._sql(sql), params)
        except Exception as exc:
            raise _translate(exc) from exc
        return self

    def execute_pg(self, sql: str, params: Params = ()) -> Tx:
        """A PostgreSQL-only statement in psycopg's own placeholders: `%s`, or
        `%b` to send a parameter in binary (a 1,000-element array costs less
        than half the client CPU in binary: no per-element quoting check)."""
        if not self._pg:
            raise TypeError("execute_pg is for PostgreSQL statements")
        try:
            self._cur.execute(sql, params)
        except Exception as exc:
            raise _translate(exc) from exc
        return self

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        if not rows:
            return
        try:
            self._cur.executemany(self._sql(sql), rows)
        except Exception as exc:
            raise _translate(exc) from exc

    def all(self, sql: str, params: Params = ()) -> list[Row]:
        self.execute(sql, params)
        return list(self._cur.fetchall())

    def all_binary(self, sql: str, params: Params = ()) -> list[Row]:
        """Like `all`, with PostgreSQL's results sent in binary: arrays of doubles
        arrive as doubles and are built into lists by the driver's C code."""
        if not self._pg:
            return self.all(sql, params)
        try:
            self._cur.execute(self._sql(sql), params, binary=True)
        except Exception as exc:
            raise _translate(exc) from exc
        return list(self._cur.fetchall())

    def one(self, sql: str, params: Params = ()) -> Row | None:
        self.execute(sql, params)
        row = self._cur.fetchone()
        return tuple(row) if row is not None else None

    def scalar(self, sql: str, params: Params = ()) -> Any:
        row = self.one(sql, params)
        return None if row is None else row[0]

    @property
    def rowcount(self) -> int:
        return int(self._cur.rowcount)

    @property
    def in_transaction(self) -> bool:
        """Whether the transaction is still open (SQLite ends it by itself on
        some errors: a full disk, an I/O error); group commit asks after an error."""
        if self._pg:
            from psycopg.pq import TransactionStatus

            status = self._cur.connection.info.transaction_status
            return bool(status in (TransactionStatus.INTRANS, TransactionStatus.INERROR))
        return bool(self._cur.connection.in_transaction)


class Pending:
    """A row a pipelined statement will return, readable once the pipeline has
    been sent (after `Database.write_pipelined`'s block)."""

    __slots__ = ("_cur", "row")

    def __init__(self, cursor: Any) -> None:
        self._cur = cursor
        self.row: Row | None = None


class PipelinedTx:
    """Statements queued in one PostgreSQL transaction, sent in one round trip."""

    __slots__ = ("_conn", "cursors", "pending")

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self.cursors: list[Any] = []
        self.pending: list[Pending] = []

    def query_pg(self, sql: str, params: Any = ()) -> Pending:
        """Queue a statement in psycopg's placeholders (`%s`, `%b`, `%(name)s`);
        its first row is read after the round trip."""
        cur = self._conn.cursor()
        self.cursors.append(cur)
        cur.execute(sql, params)
        pending = Pending(cur)
        self.pending.append(pending)
        return pending


def _one_line(exc: BaseException) -> str:
    """A driver message folded to one line (psycopg's span several)."""
    return " ".join(str(exc).split()) or type(exc).__name__


def _unavailable(exc: BaseException) -> TemporarilyUnavailable | None:
    """A failure that says the database is (for now) out of reach, or None.

    These are worth retrying: the connection was refused or dropped, the pool
    had no connection to give in time, or SQLite stayed locked past its busy
    timeout. They become 503 TEMPORARILY_UNAVAILABLE, never 500.
    """
    name = type(exc).__name__
    module = type(exc).__module__
    if module.startswith("psycopg_pool") and name in (
        "PoolTimeout",
        "PoolClosed",
        "TooManyRequests",
    ):
        return TemporarilyUnavailable(f"The database is not answering: {_one_line(exc)}")
    if module.startswith("psycopg") and name in (
        "OperationalError",
        "InterfaceError",
        "AdminShutdown",
        "CrashShutdown",
        "CannotConnectNow",
        "ConnectionFailure",
        "SqlclientUnableToEstablishSqlconnection",
        "ConnectionException",
        "ConnectionDoesNotExist",
        "SerializationFailure",
        "DeadlockDetected",
    ):
        return TemporarilyUnavailable(f"The database is not answering: {_one_line(exc)}")
    if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
        return TemporarilyUnavailable(f"The database is busy: {_one_line(exc)}")
    return None


def _translate(exc: Exception) -> Exception:
    """Map driver errors to domain errors; unknown ones become INTERNAL_ERROR."""
    unavailable = _unavailable(exc)
    if unavailable is not None:
        return unavailable
    if isinstance(exc, sqlite3.IntegrityError):
        if "UNIQUE" in str(exc) or "PRIMARY KEY" in str(exc):
            return UniqueViolation(str(exc))
        return InvalidParameterValue(f"Constraint violated: {exc}")
    name = type(exc).__name__
    if name == "UniqueViolation":
        return UniqueViolation(str(exc))
    if name in ("ForeignKeyViolation", "NotNullViolation", "CheckViolation"):
        return InvalidParameterValue(f"Constraint violated: {exc}")
    if name in ("StringDataRightTruncation", "NumericValueOutOfRange", "DataError"):
        return InvalidParameterValue(f"Value out of range: {exc}")
    if isinstance(exc, OverflowError):
        return InvalidParameterValue(f"A number is out of the 64-bit range: {exc}")
    if isinstance(exc, (sqlite3.Error,)) or type(exc).__module__.startswith("psycopg"):
        return InternalError(f"Database error: {exc}")
    return exc


class Database:
    """A metadata database; `url` is `sqlite:///path` or `postgresql://...`."""

    dialect: str

    def __init__(self, url: str) -> None:
        self.url = url
        parsed = urlparse(url)
        scheme = parsed.scheme.split("+")[0]
        if scheme == "sqlite":
            self.dialect = "sqlite"
            self._sqlite_path = _sqlite_path(url)
            self._local = threading.local()
            # One writer at a time inside this process; BEGIN IMMEDIATE plus
            # busy_timeout serialise writers across processes.
            self._write_lock = threading.Lock()
            self._all_conns: list[sqlite3.Connection] = []
            self._conns_lock = threading.Lock()
        elif scheme in ("postgresql", "postgres"):
            self.dialect = "postgresql"
            self._pg_url = "postgresql://" + url.split("://", 1)[1]
            self._pool: Any = None
            self._pool_lock = threading.Lock()
        else:
            raise InvalidParameterValue(
                f"Unsupported backend store URI {url!r}: use sqlite:///path/to/file.db "
                "or postgresql://user@host:port/dbname"
            )

    # -- connections -----------------------------------------------------
    def _sqlite_conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self._sqlite_path != ":memory:":
                Path(self._sqlite_path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self._sqlite_path, isolation_level=None, check_same_thread=False, timeout=30
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA cache_size=-65536")
            conn.execute("PRAGMA temp_store=MEMORY")
            self._local.conn = conn
            with self._conns_lock:
                self._all_conns.append(conn)
        return conn

    def _pg_pool(self) -> Any:
        if self._pool is None:
            with self._pool_lock:
                if self._pool is None:
                    from psycopg_pool import ConnectionPool

                    self._pool = ConnectionPool(
                        self._pg_url,
                        min_size=1,
                        max_size=16,
                        open=True,
                        timeout=POOL_WAIT_S,
                        kwargs={"connect_timeout": CONNECT_TIMEOUT_S},
                        # The pool's reconnect backoff doubles without a cap; giving
                        # up after a short while lets the next request start a
                        # fresh attempt, so the pool refills soon after an outage.
                        reconnect_timeout=POOL_WAIT_S,
                    )
        return self._pool

    def probe(self) -> None:
        """Open one connection now, or raise a one-line error saying why not.

        Run at start-up, so that a database that does not exist, a refused
        login or an unreachable host is reported at once, in words, instead
        of as a traceback after the pool's wait.
        """
        try:
            if self.dialect == "sqlite":
                self._sqlite_conn().execute("SELECT 1")
            else:
                import psycopg

                with psycopg.connect(self._pg_url, connect_timeout=CONNECT_TIMEOUT_S) as conn:
                    conn.execute("SELECT 1")
        except Exception as exc:
            where = _redacted(self.url)
            raise TemporarilyUnavailable(
                f"cannot open the database {where}: {_one_line(exc)}"
            ) from exc

    @contextmanager
    def _pg_connection(self) -> Iterator[Any]:
        """A pooled connection; failing to get or keep one is a 503, not a 500."""
        try:
            with self._pg_pool().connection() as conn:
                yield conn
        except ModelyardError:
            raise
        except Exception as exc:
            unavailable = _unavailable(exc)
            if unavailable is None:
                raise
            raise unavailable from exc

    @contextmanager
    def read(self) -> Iterator[Tx]:
        """A consistent read scope (one snapshot)."""
        if self.dialect == "sqlite":
            conn = self._sqlite_conn()
            cur = conn.cursor()
            cur.execute("BEGIN")
            try:
                yield Tx(cur, "sqlite")
            finally:
                cur.execute("COMMIT")
                cur.close()
        else:
            with (
                self._pg_connection() as conn,
                conn.transaction(),
                conn.cursor() as cur,
            ):
                yield Tx(cur, "postgresql")

    @contextmanager
    def write(self) -> Iterator[Tx]:
        """A write transaction: all or nothing, one writer at a time on SQLite."""
        if self.dialect == "sqlite":
            conn = self._sqlite_conn()
            with self._write_lock:
                cur = conn.cursor()
                cur.execute("BEGIN IMMEDIATE")
                try:
                    yield Tx(cur, "sqlite")
                except BaseException:
                    if conn.in_transaction:  # SQLite may have rolled back already
                        cur.execute("ROLLBACK")
                    raise
                else:
                    try:
                        cur.execute("COMMIT")
                    except Exception as exc:
                        # A failed COMMIT (a full disk, an I/O error) can leave the
                        # transaction open; close it so the connection stays usable.
                        if conn.in_transaction:
                            cur.execute("ROLLBACK")
                        raise _translate(exc) from exc
                finally:
                    cur.close()
        else:
            with (
                self._pg_connection() as conn,
                conn.transaction(),
                conn.cursor() as cur,
            ):
                yield Tx(cur, "postgresql")

    @contextmanager
    def write_pipelined(self) -> Iterator[PipelinedTx]:
        """PostgreSQL: a write transaction whose statements (BEGIN, the block's,
        COMMIT) go to the server in one round trip (psycopg's pipeline mode)
        instead of one each; `PipelinedTx.query_pg` results are read after the
        block. The block cannot act on a result before the commit: a statement
        that must not apply in some state says so in its SQL, and the caller
        reads the state from its result afterwards."""
        if self.dialect != "postgresql":
            raise TypeError("write_pipelined is for PostgreSQL")
        with self._pg_connection() as conn:
            ptx = PipelinedTx(conn)
            try:
                with conn.pipeline(), conn.transaction():
                    yield ptx
                for pending in ptx.pending:
                    row = pending._cur.fetchone()
                    pending.row = tuple(row) if row is not None else None
            except ModelyardError:
                raise
            except Exception as exc:
                raise _translate(exc) from exc
            finally:
                for cur in ptx.cursors:
                    cur.close()

    def close(self) -> None:
        if self.dialect == "sqlite":
            with self._conns_lock:
                for conn in self._all_conns:
                    conn.close()
                self._all_conns.clear()
            self._local = threading.local()
        elif self._pool is not None:
            self._pool.close()
            self._pool = None


def _redacted(url: str) -> str:
    """The URL without its password, fit for a log line or an error."""
    parsed = urlparse(url)
    if parsed.password is None:
        return url
    netloc = parsed.netloc.replace(f":{parsed.password}@", ":***@")
    return parsed._replace(netloc=netloc).geturl()


def _sqlite_path(url: str) -> str:
    # sqlite:///relative.db, sqlite:////abs/path.db, sqlite:///:memory:
    rest = url.split("://", 1)[1]
    if rest.startswith("/"):
        rest = rest[1:]
    path = unquote(rest.split("?", 1)[0])
    if not path:
        raise InvalidParameterValue(f"SQLite URI {url!r} names no file")
    return path


def sqlite_file(url: str) -> str:
    """The file a `sqlite:///…` URL names (backups copy it)."""
    return _sqlite_path(url)
