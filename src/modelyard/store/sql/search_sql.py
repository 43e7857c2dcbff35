"""Compile search ASTs into one portable SELECT for SQLite and PostgreSQL.

`run_search_sql` and `experiment_search_sql` turn the `Comparison`/`OrderKey`
values produced by `modelyard.service.search_filter` into a single statement
(with `?` placeholders, see `db.py`) returning ids in result order, so the
database does the filtering, ordering and paging.

Shape of the run query, and why:

* each metric/param/tag condition is a correlated ``EXISTS`` on the child
  table's ``(run_uuid, key)`` primary key, so a condition costs one index seek
  per candidate run and never multiplies rows (no DISTINCT needed);
* each metric/param/tag order key is a ``LEFT JOIN`` on that same primary key,
  which is unique, so it adds one column without adding rows.

MLflow semantics kept on purpose (see mlflow/store/tracking/sqlalchemy_store.py):

* a run without the key never matches a comparison on it, ``!=`` included;
* NaN metrics (stored as value 0, is_nan 1) fail every comparison except
  ``!=``, which they pass, as NaN != x is true;
* runs missing a metric/param/tag order key sort last whether ascending or
  descending; for metrics, NaN values sort after numbers and before missing;
* the default order is start_time DESC then run id, appended as tie-breaker.

Where the two backends differ, we pick one behaviour and make both follow it:

* LIKE is case-sensitive and ILIKE case-insensitive. SQLite's LIKE ignores ASCII
  case, so on SQLite LIKE is compiled to GLOB (always case-sensitive) with the
  pattern translated; ILIKE is SQLite's LIKE. ``PRAGMA case_sensitive_like``
  would change every statement on a shared connection, so it is not used.
  Case folding for ILIKE on SQLite covers ASCII letters only.
* In LIKE patterns only ``%`` and ``_`` are special; a backslash is an ordinary
  character on both backends (PostgreSQL's default escape is turned off with
  ``ESCAPE ''``), as in MLflow's own pattern matcher.
* NULL attribute values (end_time of a running run, say) sort last in either
  direction, where MLflow's SQL store inherits each database's default.
* Text sorts by code point: PostgreSQL columns get ``COLLATE "C"`` so that the
  order does not depend on the database's locale and matches SQLite's BINARY.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from modelyard.errors import InternalError, InvalidParameterValue
from modelyard.service.search_filter import Comparison, OrderKey

__all__ = ["experiment_search_sql", "run_search_sql"]

RUN_NAME_TAG = "mlflow.runName"
DATASET_CONTEXT_TAG = "mlflow.data.context"

# Attribute -> runs column. run_name is the runs.name column, which modelyard keeps
# as the source of truth for the mlflow.runName tag; '' means "no name".
_RUN_COLUMNS = {
    "run_id": "r.run_uuid",
    "run_name": "r.name",
    "status": "r.status",
    "user_id": "r.user_id",
    "artifact_uri": "r.artifact_uri",
    "lifecycle_stage": "r.lifecycle_stage",
    "start_time": "r.start_time",
    "end_time": "r.end_time",
}
_RUN_NUMERIC = frozenset({"start_time", "end_time"})
_RUN_CHILD_TABLES = {"metric": "latest_metrics", "param": "params", "tag": "tags"}

_EXPERIMENT_COLUMNS = {
    "experiment_id": "e.experiment_id",
    "name": "e.name",
    "creation_time": "e.creation_time",
    "last_update_time": "e.last_update_time",
}
_EXPERIMENT_NUMERIC = frozenset({"experiment_id", "creation_time", "last_update_time"})

_SQL_OP = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


@dataclass
class _Select:
    """A SELECT being assembled; parameters are kept in clause order."""

    dialect: str
    joins: list[str] = field(default_factory=list)
    join_params: list[Any] = field(default_factory=list)
    where: list[str] = field(default_factory=list)
    where_params: list[Any] = field(default_factory=list)
    order: list[str] = field(default_factory=list)
    aliases: int = 0

    def alias(self, prefix: str) -> str:
        self.aliases += 1
        return f"{prefix}{self.aliases}"

    def text_order(self, expr: str) -> str:
        return f'{expr} COLLATE "C"' if self.dialect == "postgresql" else expr

    def render(self, select: str, limit: int, offset: int) -> tuple[str, list[Any]]:
        sql = " ".join([select, *self.joins])
        if self.where:
            sql += " WHERE " + " AND ".join(self.where)
        sql += " ORDER BY " + ", ".join(self.order) + " LIMIT ? OFFSET ?"
        return sql, [*self.join_params, *self.where_params, int(limit), int(offset)]


def _check_dialect(dialect: str) -> None:
    if dialect not in ("sqlite", "postgresql"):
        raise InternalError(f"search SQL: unknown dialect {dialect!r}")


def _placeholders(count: int) -> str:
    return ", ".join("?" * count)


def _in_list(expr: str, values: Sequence[Any], params: list[Any], negate: bool = False) -> str:
    if not values:
        return "1 = 1" if negate else "1 = 0"
    params.extend(values)
    return f"{expr} {'NOT IN' if negate else 'IN'} ({_placeholders(len(values))})"


def like_to_glob(pattern: str) -> str:
    """Translate a LIKE pattern (% and _ wildcards) to an equivalent SQLite GLOB."""
    out: list[str] = []
    for char in pattern:
        if char == "%":
            out.append("*")
        elif char == "_":
            out.append("?")
        elif char in "*?[":
            # A one-character class matches the character literally.
            out.append(f"[{char}]")
        else:
            out.append(char)
    return "".join(out)


def _string_condition(expr: str, op: str, value: Any, dialect: str, params: list[Any]) -> str:
    if op in ("IN", "NOT IN"):
        if not isinstance(value, tuple):
            raise InvalidParameterValue(f"{op} needs a list of values, got {value!r}")
        return _in_list(expr, [str(v) for v in value], params, negate=op == "NOT IN")
    if not isinstance(value, str):
        raise InvalidParameterValue(f"Expected a string value for {op}, got {value!r}")
    if op == "LIKE":
        if dialect == "sqlite":
            params.append(like_to_glob(value))
            return f"{expr} GLOB ?"
        params.append(value)
        return f"{expr} LIKE ? ESCAPE ''"
    if op == "ILIKE":
        params.append(value)
        return f"{expr} LIKE ?" if dialect == "sqlite" else f"{expr} ILIKE ? ESCAPE ''"
    if op in ("=", "!="):
        params.append(value)
        return f"{expr} {_SQL_OP[op]} ?"
    raise InvalidParameterValue(f"Invalid comparator '{op}' for a string value")


def _numeric_condition(expr: str, op: str, value: Any, params: list[Any]) -> str:
    if op not in _SQL_OP or isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidParameterValue(f"Invalid numeric comparison {op} {value!r}")
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        # Beyond BIGINT the drivers refuse the parameter; as a float it compares correctly.
        value = float(value)
    params.append(value)
    return f"{expr} {_SQL_OP[op]} ?"


def _direction(ascending: bool) -> str:
    return "ASC" if ascending else "DESC"


# -- runs ---------------------------------------------------------------------------


def run_search_sql(
    experiment_ids: Sequence[str],
    filters: Sequence[Comparison],
    lifecycle_stages: Sequence[str],
    order_by: Sequence[OrderKey],
    limit: int,
    offset: int,
    dialect: str,
) -> tuple[str, list[Any]]:
    """One SELECT of ``run_uuid`` for the matching runs, in MLflow's result order."""
    _check_dialect(dialect)
    q = _Select(dialect)
    ids = [_experiment_id(e) for e in experiment_ids]
    q.where.append(_in_list("r.experiment_id", ids, q.where_params))
    q.where.append(_in_list("r.lifecycle_stage", list(lifecycle_stages), q.where_params))
    for comparison in filters:
        q.where.append(_run_condition(q, comparison))
    _run_order(q, order_by)
    return q.render("SELECT r.run_uuid FROM runs r", limit, offset)


def _experiment_id(value: str | int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidParameterValue(
            f"Invalid experiment ID '{value}'. Experiment ID must be a valid integer."
        ) from None


def _run_condition(q: _Select, c: Comparison) -> str:
    params = q.where_params
    if c.entity == "attribute":
        column = _RUN_COLUMNS.get(c.key)
        if column is None:
            raise InvalidParameterValue(f"Invalid attribute key '{c.key}' for runs")
        if c.key in _RUN_NUMERIC:
            return _numeric_condition(column, c.op, c.value, params)
        if c.key == "run_name":
            # MLflow matches run_name through the mlflow.runName tag, so a run
            # without a name matches nothing, not even '!='.
            return (
                f"(r.name <> '' AND {_string_condition(column, c.op, c.value, q.dialect, params)})"
            )
        return _string_condition(column, c.op, c.value, q.dialect, params)
    if c.entity == "tag" and c.key == RUN_NAME_TAG:
        if c.op == "IS NULL":
            return "r.name = ''"
        if c.op == "IS NOT NULL":
            return "r.name <> ''"
        return f"(r.name <> '' AND {_string_condition('r.name', c.op, c.value, q.dialect, params)})"
    if c.entity in _RUN_CHILD_TABLES:
        return _child_condition(q, c)
    if c.entity == "dataset":
        return _dataset_condition(q, c)
    raise InvalidParameterValue(f"Invalid search expression type '{c.entity}'")


def _child_condition(q: _Select, c: Comparison) -> str:
    table = _RUN_CHILD_TABLES[c.entity]
    a = q.alias("f")
    params = q.where_params
    params.append(c.key)
    head = f"SELECT 1 FROM {table} {a} WHERE {a}.run_uuid = r.run_uuid AND {a}.key = ?"
    if c.op == "IS NULL":
        return f"NOT EXISTS ({head})"
    if c.op == "IS NOT NULL":
        return f"EXISTS ({head})"
    if c.entity == "metric":
        compare = _numeric_condition(f"{a}.value", c.op, c.value, params)
        # NaN is stored as 0 with is_nan = 1: it passes only '!='.
        if c.op == "!=":
            return f"EXISTS ({head} AND ({compare} OR {a}.is_nan = 1))"
        return f"EXISTS ({head} AND {a}.is_nan = 0 AND {compare})"
    compare = _string_condition(f"{a}.value", c.op, c.value, q.dialect, params)
    return f"EXISTS ({head} AND {compare})"


def _dataset_condition(q: _Select, c: Comparison) -> str:
    params = q.where_params
    if c.key == "context":
        a = q.alias("f")
        params.append(DATASET_CONTEXT_TAG)
        compare = _string_condition(f"{a}.value", c.op, c.value, q.dialect, params)
        return (
            f"EXISTS (SELECT 1 FROM run_dataset_input_tags {a} "
            f"WHERE {a}.run_uuid = r.run_uuid AND {a}.key = ? AND {compare})"
        )
    if c.key not in ("name", "digest"):
        raise InvalidParameterValue(f"Invalid dataset key '{c.key}'")
    i, d = q.alias("i"), q.alias("d")
    compare = _string_condition(f"{d}.{c.key}", c.op, c.value, q.dialect, params)
    return (
        f"EXISTS (SELECT 1 FROM run_dataset_inputs {i} "
        f"JOIN datasets {d} ON {d}.dataset_uuid = {i}.dataset_uuid "
        f"WHERE {i}.run_uuid = r.run_uuid AND {compare})"
    )


def _run_order(q: _Select, order_by: Sequence[OrderKey]) -> None:
    ordered_by_start_time = False
    for key in order_by:
        direction = _direction(key.ascending)
        if key.entity == "attribute":
            column = _RUN_COLUMNS.get(key.key)
            if column is None:
                raise InvalidParameterValue(f"Invalid order_by attribute '{key.key}' for runs")
            ordered_by_start_time |= key.key == "start_time"
            expr = column if key.key in _RUN_NUMERIC else q.text_order(column)
            q.order.append(f"{expr} {direction} NULLS LAST")
        elif key.entity == "tag" and key.key == RUN_NAME_TAG:
            name = q.text_order("NULLIF(r.name, '')")
            q.order.append(f"{name} {direction} NULLS LAST")
        elif key.entity in _RUN_CHILD_TABLES:
            a = q.alias("o")
            q.joins.append(
                f"LEFT JOIN {_RUN_CHILD_TABLES[key.entity]} {a} "
                f"ON {a}.run_uuid = r.run_uuid AND {a}.key = ?"
            )
            q.join_params.append(key.key)
            if key.entity == "metric":
                q.order.append(
                    f"CASE WHEN {a}.value IS NULL THEN 2 WHEN {a}.is_nan = 1 THEN 1 ELSE 0 END"
                )
                q.order.append(f"{a}.value {direction}")
            else:
                q.order.append(f"CASE WHEN {a}.value IS NULL THEN 1 ELSE 0 END")
                q.order.append(f"{q.text_order(f'{a}.value')} {direction}")
        else:
            raise InvalidParameterValue(f"Invalid order_by entity type '{key.entity}'")
    if not ordered_by_start_time:
        q.order.append("r.start_time DESC NULLS LAST")
    q.order.append(f"{q.text_order('r.run_uuid')} ASC")


# -- experiments --------------------------------------------------------------------

_DEFAULT_EXPERIMENT_ORDER = (
    OrderKey("attribute", "creation_time", False),
    OrderKey("attribute", "experiment_id", True),
)


def experiment_search_sql(
    filters: Sequence[Comparison],
    lifecycle_stages: Sequence[str],
    order_by: Sequence[OrderKey],
    limit: int,
    offset: int,
    dialect: str,
) -> tuple[str, list[Any]]:
    """One SELECT of ``experiment_id`` for the matching experiments, in order.

    Default order as MLflow's SQL store: creation_time DESC, experiment_id ASC;
    with an explicit order, experiment_id DESC breaks ties unless already used.
    """
    _check_dialect(dialect)
    q = _Select(dialect)
    q.where.append(_in_list("e.lifecycle_stage", list(lifecycle_stages), q.where_params))
    for comparison in filters:
        q.where.append(_experiment_condition(q, comparison))
    keys = list(order_by) or list(_DEFAULT_EXPERIMENT_ORDER)
    for key in keys:
        column = _EXPERIMENT_COLUMNS.get(key.key) if key.entity == "attribute" else None
        if column is None:
            raise InvalidParameterValue(f"Invalid order_by entity: {key.entity} '{key.key}'")
        expr = column if key.key in _EXPERIMENT_NUMERIC else q.text_order(column)
        q.order.append(f"{expr} {_direction(key.ascending)} NULLS LAST")
    if not any(k.key == "experiment_id" for k in keys):
        q.order.append("e.experiment_id DESC")
    return q.render("SELECT e.experiment_id FROM experiments e", limit, offset)


def _experiment_condition(q: _Select, c: Comparison) -> str:
    params = q.where_params
    if c.entity == "attribute":
        column = _EXPERIMENT_COLUMNS.get(c.key)
        if column is None:
            raise InvalidParameterValue(f"Invalid attribute key '{c.key}' for experiments")
        if c.key == "experiment_id":
            if c.op in ("IN", "NOT IN") and isinstance(c.value, tuple):
                ids = [_experiment_id(v) for v in c.value]
                return _in_list(column, ids, params, negate=c.op == "NOT IN")
            if isinstance(c.value, str | int) and not isinstance(c.value, bool):
                return _numeric_condition(column, c.op, _experiment_id(c.value), params)
            raise InvalidParameterValue(f"Invalid experiment_id comparison {c.op} {c.value!r}")
        if c.key in _EXPERIMENT_NUMERIC:
            return _numeric_condition(column, c.op, c.value, params)
        return _string_condition(column, c.op, c.value, q.dialect, params)
    if c.entity == "tag":
        a = q.alias("f")
        params.append(c.key)
        head = (
            f"SELECT 1 FROM experiment_tags {a} "
            f"WHERE {a}.experiment_id = e.experiment_id AND {a}.key = ?"
        )
        if c.op == "IS NULL":
            return f"NOT EXISTS ({head})"
        if c.op == "IS NOT NULL":
            return f"EXISTS ({head})"
        compare = _string_condition(f"{a}.value", c.op, c.value, q.dialect, params)
        return f"EXISTS ({head} AND {compare})"
    raise InvalidParameterValue(f"Invalid token type: {c.entity}")
