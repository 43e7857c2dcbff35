"""Reading long metric histories: keyset pages and step-bucket sampling.

Both reads are bounded by what they return, not by how long the history is:

* get-history pages walk the primary key (run_uuid, key, timestamp, step,
  value, is_nan) from the last point of the previous page (`HistoryCursor.after`)
  instead of skipping `offset` rows, so page 40 of a 1M-point metric costs what
  page 1 costs. A cursor with only an offset (a token from an older server) is
  still honoured.
* get-history-bulk-interval splits the step range into `max_results` equal
  step buckets and takes the first point of each with one indexed probe on
  `metrics_by_step` (migration 0008_perf), plus the range's last point. MLflow
  samples by step too (evenly spaced distinct steps, always the last): a few
  hundred probes replace numbering every point of the range. A window holding
  no more than `max_results` points is returned whole.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from modelyard.points_entities import HistoryCursor, PointRow, PointsPage, RunPoints
from modelyard.store.sql.db import Tx

_COLS = "value, timestamp, step, is_nan"
_ORDER = "timestamp, step, value, is_nan"
_BY_STEP = "step, timestamp, value, is_nan"
_MAX_INT64 = 2**63 - 1
_BY_STEP_DESC = "step DESC, timestamp DESC, value DESC, is_nan DESC"


def history_page(
    tx: Tx, run_id: str, key: str, max_results: int | None, cursor: HistoryCursor
) -> PointsPage:
    """Points in get-history order from `cursor`, `max_results` of them (all when None)."""
    sql = f"SELECT {_COLS} FROM metrics WHERE run_uuid = ? AND key = ?"
    params: list[Any] = [run_id, key]
    if cursor.after is not None:
        sql += f" AND ({_ORDER}) > (?, ?, ?, ?)"
        params += list(cursor.after)
    sql += f" ORDER BY {_ORDER}"
    if max_results is not None:
        sql += " LIMIT ?"
        params.append(max_results + 1)
    if cursor.after is None and cursor.offset:
        if max_results is None:
            sql += " LIMIT -1" if tx.dialect == "sqlite" else ""
        sql += " OFFSET ?"
        params.append(cursor.offset)
    rows: list[PointRow] = tx.all(sql, params)
    nxt = None
    if max_results is not None and len(rows) > max_results:
        del rows[max_results:]
        value, ts, step, is_nan = rows[-1]
        nxt = HistoryCursor(cursor.offset + max_results, (ts, step, value, is_nan))
    return PointsPage(key, rows, nxt)


def bulk_interval(
    tx: Tx,
    run_ids: Sequence[str],
    key: str,
    start_step: int | None,
    end_step: int | None,
    max_results: int,
) -> list[RunPoints]:
    return [_sample(tx, run_id, key, start_step, end_step, max_results) for run_id in run_ids]


def _sample(tx: Tx, run_id: str, key: str, start: int | None, end: int | None, k: int) -> RunPoints:
    window = ""
    bounds: list[Any] = []
    if start is not None and end is not None:
        window = " AND step >= ? AND step <= ?"
        bounds = [start, end]
    head = f"SELECT {_COLS} FROM metrics WHERE run_uuid = ? AND key = ?"
    # Few points in the window: all of them, in step order (k + 1 rows at most read).
    rows: list[PointRow] = tx.all(
        f"{head}{window} ORDER BY {_BY_STEP} LIMIT ?", [run_id, key, *bounds, k + 1]
    )
    if len(rows) <= k:
        return RunPoints(run_id, rows)
    last = tx.one(f"{head}{window} ORDER BY {_BY_STEP_DESC} LIMIT 1", [run_id, key, *bounds])
    assert last is not None  # the window holds more than k points
    lo, hi = rows[0][2], last[2]
    edges = _bucket_edges(lo, hi, k)
    sampled: list[PointRow] = [rows[0]]
    if tx.dialect == "postgresql":
        # One statement: a LATERAL probe per bucket, bucket order kept by `i`.
        found = tx.all(
            f"SELECT p.value, p.timestamp, p.step, p.is_nan FROM "
            "unnest(?::bigint[], ?::bigint[]) WITH ORDINALITY AS b(lo, hi, i) "
            f"CROSS JOIN LATERAL (SELECT {_COLS} FROM metrics WHERE run_uuid = ? AND key = ? "
            f"AND step >= b.lo AND step < b.hi ORDER BY {_BY_STEP} LIMIT 1) p ORDER BY b.i",
            [edges[1:-1], edges[2:], run_id, key],
        )
        sampled += found
    else:
        probe = f"{head} AND step >= ? AND step < ? ORDER BY {_BY_STEP} LIMIT 1"
        for b_lo, b_hi in itertools.pairwise(edges[1:]):
            row = tx.one(probe, [run_id, key, b_lo, b_hi])
            if row is not None:
                sampled.append(row)
    last_row: PointRow = tuple(last)
    if tuple(sampled[-1]) != last_row:
        if len(sampled) >= k:
            sampled[-1] = last_row
        else:
            sampled.append(last_row)
    return RunPoints(run_id, sampled)


def _bucket_edges(lo: int, hi: int, k: int) -> list[int]:
    """k equal step buckets over [lo, hi]: edges e0 = lo < e1 < … < ek = hi + 1.

    With fewer steps than buckets some would be empty; they are dropped, as
    equal edges make empty buckets."""
    span = hi - lo + 1
    # hi + 1 past int64 (a last step of 2**63 - 1) is clamped: that point is the
    # range's last one, which the caller adds anyway.
    return sorted({lo + (i * span) // k for i in range(k)} | {min(hi + 1, _MAX_INT64)})
