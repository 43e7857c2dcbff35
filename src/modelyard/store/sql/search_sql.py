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
  which is unique, so it adds one column without adding rows;
* when the *first* order key is a metric/param/tag, that plain query (a sort of
  every candidate run) becomes the fallback of a statement that first tries to
  read the page from the key's (key, value) index or, for a value shared by many
  runs, from runs in start-time order (see "runs ordered by a metric" below).

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
from modelyard.search_terms import Comparison, OrderKey

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
    ids = [_experiment_id(e) for e in experiment_ids]
    if order_by and _is_child_key(order_by[0]):
        return _segmented_run_search(
            ids, filters, lifecycle_stages, order_by, int(limit), int(offset), dialect
        )
    q = _Select(dialect)
    q.where.append(_in_list("r.experiment_id", ids, q.where_params))
    q.where.append(_in_list("r.lifecycle_stage", list(lifecycle_stages), q.where_params))
    for comparison in filters:
        q.where.append(_run_condition(q, comparison))
    q.order = [term.render(q) for term in _run_order(q, order_by)]
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


@dataclass(frozen=True)
class _Term:
    """One ORDER BY term: an expression, its direction and how it compares."""

    expr: str
    ascending: bool = True
    text: bool = False  # by code point: COLLATE "C" on PostgreSQL
    nulls_last: bool = False

    def render(self, q: _Select, expr: str | None = None) -> str:
        value = expr if expr is not None else self.expr
        value = q.text_order(value) if self.text else value
        return f"{value} {_direction(self.ascending)}" + (" NULLS LAST" if self.nulls_last else "")


def _run_order(q: _Select, order_by: Sequence[OrderKey]) -> list[_Term]:
    """The ORDER BY terms (tie-breakers included); LEFT JOINs go to `q.joins`."""
    terms: list[_Term] = []
    ordered_by_start_time = False
    for key in order_by:
        if key.entity == "attribute":
            column = _RUN_COLUMNS.get(key.key)
            if column is None:
                raise InvalidParameterValue(f"Invalid order_by attribute '{key.key}' for runs")
            ordered_by_start_time |= key.key == "start_time"
            if key.ascending and key.key in _RUN_NUMERIC:
                # "ASC NULLS LAST" spelled as two keys: PostgreSQL reads it from the
                # (…, (start_time IS NULL), start_time) index (migration 0008_perf)
                # as it reads DESC NULLS LAST from runs_by_experiment.
                terms.append(_Term(f"({column} IS NULL)"))
                terms.append(_Term(column))
                continue
            terms.append(
                _Term(column, key.ascending, text=key.key not in _RUN_NUMERIC, nulls_last=True)
            )
        elif key.entity == "tag" and key.key == RUN_NAME_TAG:
            terms.append(_Term("NULLIF(r.name, '')", key.ascending, text=True, nulls_last=True))
        elif key.entity in _RUN_CHILD_TABLES:
            a = q.alias("o")
            q.joins.append(
                f"LEFT JOIN {_RUN_CHILD_TABLES[key.entity]} {a} "
                f"ON {a}.run_uuid = r.run_uuid AND {a}.key = ?"
            )
            q.join_params.append(key.key)
            if key.entity == "metric":
                terms.append(
                    _Term(
                        f"CASE WHEN {a}.value IS NULL THEN 2 WHEN {a}.is_nan = 1 THEN 1 ELSE 0 END"
                    )
                )
                terms.append(_Term(f"{a}.value", key.ascending))
            else:
                terms.append(_Term(f"CASE WHEN {a}.value IS NULL THEN 1 ELSE 0 END"))
                terms.append(_Term(f"{a}.value", key.ascending, text=True))
        else:
            raise InvalidParameterValue(f"Invalid order_by entity type '{key.entity}'")
    if not ordered_by_start_time:
        terms.append(_Term("r.start_time", False, nulls_last=True))
    terms.append(_Term("r.run_uuid", True, text=True))
    return terms


# -- runs ordered by a metric, param or tag first ----------------------------------
#
# The plain query (LEFT JOIN the key's row, ORDER BY missing/NaN/value, ...) sorts
# every candidate run: 280 ms at 100,000 runs on SQLite. When the first order key
# is a metric, param or tag, the first `n` = offset + limit rows are looked for,
# in the same statement, in one of two cheaper places first:
#
#   g1    (mode 2) the runs whose value is v1, the best value a matching run has,
#         when many index entries share it (a low-cardinality param such as lr):
#         read from runs in start-time order, the order they are wanted in, so
#         ~n / density runs are looked at instead of the whole tie group; when
#         more order keys follow, v1's runs are read from the key's index and
#         sorted by them (the tie group, not every run: `lr, loss DESC` at 100,000
#         runs, 835 -> 81 ms of CPU on SQLite at a load of 22);
#   s0    (mode 1) the values strictly better than b, the W-th entry of the key's
#         (key, value) index: streamed from that index in order, joined to runs by
#         primary key, stopping as soon as n rows are found.
#
# These rows come first in the final order (g1 is all of v1's runs, s0 all those
# better than b), so when they number n they are the answer. Otherwise `rest`,
# the plain query, runs and is the answer on its own: its LIMIT is 0 unless the
# earlier parts came up short, and SQLite and PostgreSQL both skip a subquery
# whose LIMIT is 0 without reading anything. The outer query sorts the at most n
# rows by the complete order, so the answer never depends on the order in which
# the database evaluates UNION ALL or the CTEs.
#
# The index holds every experiment's rows, so W bounds the work spent there:
# W = min(candidate runs / 2, 20 n + 1000), or 0 (plain query only) when the page
# ends past a quarter of the candidates, where sorting them all is as cheap. v1 is
# looked for among the key's first W entries only (by position, (value, run_uuid)
# up to b's, so a tie group cannot stretch it) and s0 never reads past b; with no
# matching run among them (an experiment holding a small share of the key's rows,
# a selective filter) it is mode 0 and the plain query, after that bounded
# detour. SQLite has no statistics here, so CROSS JOIN tells it which table
# drives each part; PostgreSQL ignores that and plans from its own statistics.
#
# Param and tag values can be 6,000/8,000 characters, beyond what a PostgreSQL
# btree entry may hold, so there the indexes hold a VALUE_PREFIX-character prefix
# (migrations.py): ordering by (prefix, value) is ordering by value, b is a
# prefix, and mode 2 needs v1 shorter than the prefix, so that v1's prefix group
# is exactly v1's runs. SQLite indexes the value itself.

VALUE_PREFIX = 200  # characters; must match the PostgreSQL params/tags indexes
_WINDOW_PER_ROW = 20
_WINDOW_EXTRA = 1000
_SELECTIVE_MIN = 10_000  # a filter matching fewer index entries than this is "selective"

# A selective filter sorted by another key (`params.layers = '12'` ordered by
# `params.lr`: 2% of 100,000 runs). Neither s0 nor g1 helps: the key's first W
# index entries hold too few of the filter's runs, and `rest` then visits every
# run of the experiment (290 ms at 100,000 runs). So when the filter has an
# equality on a param or tag (the first one, `lead`), a LIMITed count on that
# key's (key, value) index (`fs`) decides: below _SELECTIVE_MIN entries, the part
# `sel` reads the filter's runs from that index and sorts them (a few thousand
# rows at most) instead of `rest`. The count is over every experiment's entries,
# so it can only err towards the other parts. When it runs differs by backend:
#
# * SQLite counts first (the covering index alone, a millisecond) and, when the
#   filter is selective, gives every other part LIMIT 0;
# * PostgreSQL counts only when s0/g1 came up short, as `rest` would then visit
#   every run anyway: there the count reads the table too (an expression index
#   serves no index-only scan) and, as a bitmap scan, every matching index entry
#   whatever the LIMIT, which a filter on 20% of the runs would pay on every query.


def _is_lead_filter(c: Comparison) -> bool:
    """An equality on a param or tag value: its runs can be read from the key's index."""
    return (
        c.entity in ("param", "tag")
        and c.op == "="
        and isinstance(c.value, str)
        and not (c.entity == "tag" and c.key == RUN_NAME_TAG)
    )


def _is_child_key(key: OrderKey) -> bool:
    return key.entity in _RUN_CHILD_TABLES and not (key.entity == "tag" and key.key == RUN_NAME_TAG)


@dataclass
class _Fragment:
    """SQL text with its parameters in text order."""

    sql: str
    params: list[Any] = field(default_factory=list)


def _segmented_run_search(
    ids: Sequence[int],
    filters: Sequence[Comparison],
    lifecycle_stages: Sequence[str],
    order_by: Sequence[OrderKey],
    limit: int,
    offset: int,
    dialect: str,
) -> tuple[str, list[Any]]:
    first, more = order_by[0], order_by[1:]
    n = limit + offset
    table = _RUN_CHILD_TABLES[first.entity]
    metric = first.entity == "metric"
    asc = first.ascending
    q = _Select(dialect)  # aliases, collations and the compiled conditions

    q.where.append(_in_list("r.experiment_id", list(ids), q.where_params))
    q.where.append(_in_list("r.lifecycle_stage", list(lifecycle_stages), q.where_params))
    candidates = _Fragment(" AND ".join(q.where), list(q.where_params))
    for comparison in filters:
        q.where.append(_run_condition(q, comparison))
    matching = _Fragment(" AND ".join(q.where), list(q.where_params))
    # The remaining order keys and MLflow's tie-breakers, the same in every part.
    tail = _run_order(q, more)
    tail_order = [t.render(q) for t in tail]
    columns = ", ".join(f"{t.expr} AS t{i}" for i, t in enumerate(tail))
    joins = _Fragment(" ".join(q.joins), q.join_params)
    # g1 reads runs in start-time order: only when that is the rest of the order.
    group_mode = not more
    lead = next((c for c in filters if _is_lead_filter(c)), None)

    # `k` is the key's row; a value row is not NaN (metrics) and not NULL (tags).
    key_row = "k.key = ?" + (" AND k.is_nan = 0" if metric else "")
    key_row += " AND k.value IS NOT NULL" if first.entity == "tag" else ""
    if metric or dialect == "sqlite":
        indexed, v1_indexed, short_v1 = "k.value", "g0.v", ""
        value_order = [_Term("k.value", asc, text=not metric).render(q)]
    else:
        indexed = q.text_order(f"substr(k.value, 1, {VALUE_PREFIX})")
        v1_indexed = f"substr(g0.v, 1, {VALUE_PREFIX})"
        short_v1 = f" AND length(g0.v) < {VALUE_PREFIX}"
        value_order = [
            _Term(f"substr(k.value, 1, {VALUE_PREFIX})", asc, text=True).render(q),
            _Term("k.value", asc, text=True).render(q),
        ]
    d, rev = _direction(asc), _direction(not asc)
    better = "<" if asc else ">"
    upto = "<=" if asc else ">="  # (value, run_uuid) up to b's, in index order
    w = "(SELECT w FROM wn)"
    mode = "(SELECT mode FROM g)"
    few = "(SELECT few FROM fs) = 1"  # only with a lead filter
    count_first = lead is not None and dialect == "sqlite"

    ctes: list[_Fragment] = []
    if lead is not None:
        f_table = _RUN_CHILD_TABLES[lead.entity]
        f_match = _Fragment("x.key = ? AND x.value = ?", [lead.key, lead.value])
        f_count = f_match
        if dialect == "postgresql":  # the index holds a prefix of the value
            f_count = _Fragment(
                f"x.key = ? AND {q.text_order(f'substr(x.value, 1, {VALUE_PREFIX})')} "
                f"= substr(?, 1, {VALUE_PREFIX})",
                [lead.key, lead.value],
            )
            # Counting the prefix's entries can only over-count.
            f_match = _Fragment(f"{f_count.sql} AND x.value = ?", [*f_count.params, lead.value])
        cap = max(_WINDOW_PER_ROW * n + _WINDOW_EXTRA, _SELECTIVE_MIN)
        ctes.append(
            _Fragment(
                "fs AS MATERIALIZED (SELECT CASE WHEN count(*) < ? THEN 1 ELSE 0 END AS few "
                f"FROM (SELECT 1 FROM {f_table} x WHERE {f_count.sql} LIMIT ?) c)",
                [cap, *f_count.params, cap],
            )
        )
    ctes += [
        _Fragment(
            "wn AS MATERIALIZED (SELECT CASE "
            + (f"WHEN {few} THEN 0 " if count_first else "")
            + "WHEN count(*) < ? THEN 0 ELSE (count(*) + 1) / 2 END AS w "
            f"FROM (SELECT 1 FROM runs r WHERE {candidates.sql} LIMIT ?) c)",
            [4 * n, *candidates.params, 2 * (_WINDOW_PER_ROW * n + _WINDOW_EXTRA)],
        ),
        # b: the last of the key's first W index entries (no row when W is 0).
        _Fragment(
            "b AS MATERIALIZED (SELECT x.v AS v, x.run AS run FROM "
            f"(SELECT {indexed} AS v, k.run_uuid AS run FROM {table} k WHERE {key_row} "
            f"ORDER BY {indexed} {d}, k.run_uuid {d} LIMIT {w}) x "
            f"ORDER BY x.v {rev}, x.run {rev} LIMIT 1)",
            [first.key],
        ),
        # v1: the value of the first matching run among those W entries, or NULL.
        _Fragment(
            f"g0 AS MATERIALIZED (SELECT (SELECT k.value FROM {table} k CROSS JOIN runs r "
            f"WHERE {w} > 0 AND {key_row} AND ({indexed}, k.run_uuid) {upto} "
            "((SELECT v FROM b), (SELECT run FROM b)) "
            f"AND r.run_uuid = k.run_uuid AND {matching.sql} "
            f"ORDER BY {indexed} {d}, k.run_uuid {d} LIMIT 1) AS v)",
            [first.key, *matching.params],
        ),
    ]
    # mode 0: the plain query; 1: stream s0; 2: g1 reads v1's runs.
    many = (
        f"WHEN (SELECT count(*) FROM (SELECT 1 FROM {table} k WHERE {key_row} "
        f"AND {indexed} = {v1_indexed} LIMIT {w}) c) >= {w}{short_v1} THEN 2 "
    )
    ctes.append(
        _Fragment(
            "g AS MATERIALIZED (SELECT g0.v AS v, CASE WHEN g0.v IS NULL THEN 0 "
            f"{many}ELSE 1 END AS mode FROM g0)",
            [first.key],
        )
    )
    parts: list[str] = []

    def part(
        name: str,
        source: str,
        where: str,
        order: list[str],
        seg: str,
        value: str,
        key_first: bool,
        limit_sql: str,
        limit_params: list[Any],
        where_params: Sequence[Any] = (),
    ) -> None:
        """A CTE of the part's first n rows, or of none when `limit_sql` says 0.

        The inner LIMIT n is a constant for PostgreSQL's planner, which plans for
        10% of the rows when a LIMIT is an expression (and then picks parallel
        plans). The key's parameter is in the FROM clause when `key_first`.
        """
        key_params = [first.key]
        ctes.append(
            _Fragment(
                f"{name} AS (SELECT * FROM (SELECT r.run_uuid AS run_id, {seg} AS seg, "
                f"{value} AS v, {columns} FROM {source} {joins.sql} WHERE {where} "
                f"AND {matching.sql} ORDER BY {', '.join([*order, *tail_order])} "
                f"LIMIT ?) p LIMIT {limit_sql})",
                [
                    *(key_params if key_first else []),
                    *joins.params,
                    *([] if key_first else key_params),
                    *where_params,
                    *matching.params,
                    n,
                    *limit_params,
                ],
            )
        )
        parts.append(name)

    def when(on: int) -> str:
        return f"CASE WHEN {mode} = {on} THEN ? ELSE 0 END"

    if group_mode:
        # The key's row is a correlated lookup on its primary key rather than a
        # join: PostgreSQL, not knowing v1 when planning, otherwise estimates v1's
        # rows as few and may pick a nested loop over the whole tie group.
        part("g1", "runs r",
             f"(SELECT k.value FROM {table} k WHERE k.run_uuid = r.run_uuid AND {key_row}) "
             "= (SELECT v FROM g)",
             [], "0", "(SELECT v FROM g)", False, when(2), [n])  # fmt: skip
    else:
        # More order keys follow: v1's runs (all of them come first, v1 being the
        # best value) read from the key's index and sorted by the rest of the
        # order; a tie group instead of every candidate run.
        v1 = "(SELECT v FROM g)"
        same = f"k.value = {v1}" if indexed == "k.value" else (
            f"{indexed} = substr({v1}, 1, {VALUE_PREFIX}) AND k.value = {v1}"
        )  # fmt: skip
        part("g1", f"{table} k CROSS JOIN runs r",
             f"{key_row} AND {same} AND r.run_uuid = k.run_uuid",
             [], "0", v1, False, when(2), [n])  # fmt: skip
    part("s0", f"{table} k CROSS JOIN runs r",
         f"{key_row} AND {indexed} {better} (SELECT v FROM b) AND r.run_uuid = k.run_uuid",
         value_order, "0", "k.value", False, when(1), [n])  # fmt: skip
    found = " + ".join(f"(SELECT count(*) FROM {p})" for p in parts)
    missing = "CASE WHEN k.value IS NULL THEN 2 " + (
        "WHEN k.is_nan = 1 THEN 1 ELSE 0 END" if metric else "ELSE 0 END"
    )
    whole_order = [missing, _Term("k.value", asc, text=not metric).render(q)]
    # The complete answer: `sel` for a selective lead filter, else `rest`, when
    # the parts above came up short (with count_first they are empty then).
    short = f"WHEN {found} >= ? THEN 0 "
    not_few = f"WHEN {few} THEN 0 " if lead is not None else ""
    part("rest", f"runs r LEFT JOIN {table} k ON k.run_uuid = r.run_uuid AND k.key = ?",
         "1 = 1", whole_order, missing, "k.value", True,
         f"CASE {not_few}{short}ELSE ? END" if count_first else f"CASE {short}{not_few}ELSE ? END",
         [n, n])  # fmt: skip
    if lead is not None:
        part("sel", f"{f_table} x CROSS JOIN runs r "
             f"LEFT JOIN {table} k ON k.run_uuid = r.run_uuid AND k.key = ?",
             f"{f_match.sql} AND r.run_uuid = x.run_uuid", whole_order, missing, "k.value",
             True, f"CASE WHEN {few} THEN ? ELSE 0 END" if count_first
             else f"CASE {short}WHEN {few} THEN ? ELSE 0 END",
             [n] if count_first else [n, n], f_match.params)  # fmt: skip
    complete = [p for p in ("rest", "sel") if p in parts]
    unless_complete = " AND ".join(f"NOT EXISTS (SELECT 1 FROM {p})" for p in complete)

    names = ", ".join(f"t{i}" for i in range(len(tail)))
    union = " UNION ALL ".join(
        f"SELECT run_id, seg, v, {names} FROM {p}"
        + ("" if p in complete else f" WHERE {unless_complete}")
        for p in parts
    )
    outer_order = [
        "u.seg",
        _Term("u.v", asc, text=not metric).render(q),
        *(t.render(q, f"u.t{i}") for i, t in enumerate(tail)),
    ]
    sql = (
        "WITH " + ", ".join(c.sql for c in ctes)
        + f" SELECT u.run_id FROM ({union}) u ORDER BY {', '.join(outer_order)} LIMIT ? OFFSET ?"
    )  # fmt: skip
    return sql, [*(p for c in ctes for p in c.params), limit, offset]


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
