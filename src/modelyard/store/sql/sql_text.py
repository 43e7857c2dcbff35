"""SQL text shared by the SQL stores: placeholders, chunking, filter comparisons.

One spelling of each comparison for both dialects (SQLite's LIKE ignores
ASCII case, MLflow's is case-sensitive, so SQLite gets GLOB).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from modelyard.errors import InvalidParameterValue
from modelyard.search_terms import OrderKey

_CHUNK = 500


def placeholders(n: int) -> str:
    return ", ".join("?" * n)


def chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


def in_conditions(dialect: str, column: str, ids: Sequence[Any]) -> Iterable[tuple[str, list[Any]]]:
    """`column IN (...)` conditions with their parameters, together covering `ids`.

    PostgreSQL gets one array parameter (`= ANY(?)`), whatever the count: psycopg
    parses a statement of 500 placeholders anew on every call (a few ms for a
    1,000-run page). SQLite gets lists of at most 500."""
    if dialect == "postgresql":
        if ids:
            yield f"{column} = ANY(?)", [list(ids)]
        return
    for chunk in chunks(ids):
        yield f"{column} IN ({placeholders(len(chunk))})", list(chunk)


def _glob_from_like(pattern: str) -> str:
    """A LIKE pattern as a GLOB pattern: SQLite's LIKE ignores ASCII case and
    MLflow's LIKE is case-sensitive (ILIKE is the insensitive one)."""
    out: list[str] = []
    for ch in pattern:
        if ch == "%":
            out.append("*")
        elif ch == "_":
            out.append("?")
        elif ch in "*?[":
            out.append(f"[{ch}]")
        else:
            out.append(ch)
    return "".join(out)


def compare_sql(dialect: str, column: str, op: str, value: Any, params: list[Any]) -> str:
    """`column <op> ?` for one parsed comparison, appending its parameters."""
    if op in ("IN", "NOT IN"):
        items = tuple(value) if isinstance(value, (tuple, list)) else (value,)
        if not items:
            return "1 = 0" if op == "IN" else "1 = 1"
        params.extend(items)
        return f"{column} {op} ({placeholders(len(items))})"
    if op == "LIKE":
        if dialect == "sqlite":
            params.append(_glob_from_like(str(value)))
            return f"{column} GLOB ?"
        params.append(value)
        return f"{column} LIKE ?"
    if op == "ILIKE":
        params.append(value)
        if dialect == "sqlite":
            return f"LOWER({column}) LIKE LOWER(?)"
        return f"{column} ILIKE ?"
    if op in ("=", "!=", "<", "<=", ">", ">="):
        params.append(value)
        return f"{column} {op} ?"
    if op == "IS NULL":
        return f"{column} IS NULL"
    if op == "IS NOT NULL":
        return f"{column} IS NOT NULL"
    raise InvalidParameterValue(f"Unsupported comparison operator '{op}'")


def order_sql(keys: Sequence[OrderKey], columns: dict[str, str]) -> list[str]:
    out: list[str] = []
    for key in keys:
        column = columns.get(key.key)
        if key.entity != "attribute" or column is None:
            raise InvalidParameterValue(f"Invalid order by key '{key.key}' specified.")
        out.append(f"{column} {'ASC' if key.ascending else 'DESC'}")
    return out
