"""Long metric histories: keyset pages, step-bucket sampling and batch ingest rows,
on every backend."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

from modelyard.entities import LifecycleStage, Metric, RunInfo
from modelyard.errors import InvalidParameterValue
from modelyard.points_entities import HistoryCursor
from modelyard.service.metric_history import decode_history_token, encode_history_token
from modelyard.store.sql.db import Database
from modelyard.store.sql.tracking import SqlTrackingStore


@pytest.fixture
def store(db: Database) -> Iterator[SqlTrackingStore]:
    s = SqlTrackingStore(db)
    s.ensure_default_experiment("Default", "mlflow-artifacts:/0", 1)
    s.create_run(
        RunInfo("r1", "0", "r1", "u", "RUNNING", 1, None, "a:/r1", LifecycleStage.ACTIVE), []
    )
    yield s


def _read_all(store: SqlTrackingStore, key: str, page: int) -> tuple[list[tuple], int]:
    rows: list[tuple] = []
    cursor, pages = HistoryCursor(), 0
    while True:
        got = store.get_metric_points("r1", key, page, cursor)
        rows += got.rows
        pages += 1
        if got.next is None:
            return rows, pages
        # Through the token, as a client would carry it.
        cursor = decode_history_token(encode_history_token(got.next))


def test_keyset_pages_return_every_point_once_in_history_order(
    store: SqlTrackingStore,
) -> None:
    # Ties on timestamp and on (timestamp, step) across page boundaries, NaN and ±inf.
    rows = [("m", float(i % 3), 1000 + i // 4, i // 2) for i in range(40)]
    rows += [("m", math.nan, 1000, 0), ("m", math.inf, 1001, 0), ("m", -math.inf, 1002, 99)]
    store.log_batch_rows("r1", rows, [], [])
    full = store.get_metric_points("r1", "m", None, HistoryCursor())
    assert len(full.rows) == 43 and full.next is None
    order = [(ts, step, v, nan) for v, ts, step, nan in full.rows]
    assert order == sorted(order)
    for page in (1, 3, 7, 43, 100):
        paged, pages = _read_all(store, "m", page)
        assert paged == full.rows
        assert pages == math.ceil(43 / page)  # the last full page says it is the last


def test_offset_tokens_from_older_servers_still_page(store: SqlTrackingStore) -> None:
    store.log_batch_rows("r1", [("m", float(i), i, i) for i in range(10)], [], [])
    cursor = decode_history_token(encode_history_token(HistoryCursor(4)))
    assert cursor.after is None
    assert [r[2] for r in store.get_metric_points("r1", "m", 3, cursor).rows] == [4, 5, 6]
    legacy = store.get_metric_history("r1", "m", 4, 8)
    assert [m.step for m in legacy.items] == [8, 9] and legacy.next_page_token is None


@pytest.mark.parametrize(
    "token",
    ["%%%", "bm90IGpzb24=", "eyJvZmZzZXQiOiAwfQ==", "eyJvZmZzZXQiOiAyLCAiYWZ0ZXIiOiBbMV19"],
)
def test_bad_history_tokens_are_refused(token: str) -> None:
    with pytest.raises(InvalidParameterValue, match="Invalid page token"):
        decode_history_token(token)


def test_sampling_takes_first_point_per_step_bucket_and_the_last(
    store: SqlTrackingStore,
) -> None:
    # Uneven steps: dense at the start, sparse later; two points share the last step.
    steps = list(range(100)) + list(range(100, 10_000, 97))
    rows = [("m", float(s), 5 + s, s) for s in steps] + [("m", -1.0, 99_999, steps[-1])]
    store.log_batch_rows("r1", rows, [], [])
    (sample,) = store.sample_metric_points(["r1"], "m", None, None, 20)
    got = [r[2] for r in sample.rows]
    assert len(got) <= 20 and got == sorted(got)
    assert got[0] == 0 and sample.rows[-1][:3] == (-1.0, 99_999, steps[-1])
    width = (steps[-1] + 1) / 20
    # One point per non-empty bucket: the first one in step order.
    buckets = sorted({int(s // width) for s in steps})
    firsts = [min(s for s in steps if int(s // width) == b) for b in buckets]
    assert got[:-1] == firsts[:-1]
    # A window with no more points than asked for comes back whole.
    (window,) = store.sample_metric_points(["r1"], "m", 10, 29, 50)
    assert [r[2] for r in window.rows] == list(range(10, 30))


def test_log_batch_rows_keeps_latest_and_dedupes(store: SqlTrackingStore) -> None:
    store.log_batch_rows("r1", [("m", 1.0, 10, 1), ("m", 1.0, 10, 1), ("m", 2.0, 5, 2)], [], [])
    store.log_batch("r1", [Metric("m", math.nan, 1, 0)], [], [])
    assert len(store.get_metric_points("r1", "m", None, HistoryCursor()).rows) == 3
    (latest,) = store.get_run("r1").data.metrics
    assert (latest.value, latest.step) == (2.0, 2)
