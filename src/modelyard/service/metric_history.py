"""Page tokens for metric history: keyset positions, still opaque strings.

A get-history token is base64 of JSON, as MLflow's are. It carries the offset
(what MLflow's own tokens carry, so any token MLflow-shaped code expects still
decodes) and, from this server, `after`: the (timestamp, step, value, is_nan)
of the page's last point, from which the next page is read by index rather than
by skipping rows. Clients pass tokens back untouched; a token that does not
decode is refused with MLflow's INVALID_PARAMETER_VALUE.
"""

from __future__ import annotations

import math
from typing import Any

from modelyard.errors import InvalidParameterValue
from modelyard.points_entities import HistoryCursor, HistoryKey
from modelyard.search_terms import decode_token_body, encode_token_body

_MAX_INT64 = 2**63 - 1


def encode_history_token(cursor: HistoryCursor) -> str:
    body: dict[str, Any] = {"offset": cursor.offset}
    if cursor.after is not None:
        ts, step, value, is_nan = cursor.after
        # repr keeps every bit of a double; JSON has no inf, so it travels as text.
        body["after"] = [ts, step, repr(value), is_nan]
    return encode_token_body(body)


def decode_history_token(token: str | None) -> HistoryCursor:
    """The cursor a token carries; no token is the first page."""
    if not token:
        return HistoryCursor()
    parsed = decode_token_body(token)
    if not isinstance(parsed, dict):
        raise InvalidParameterValue(f"Invalid page token, parsed value={parsed}")
    offset = parsed.get("offset")
    if not offset or isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise InvalidParameterValue(f"Invalid page token, parsed value={parsed}")
    after = parsed.get("after")
    return HistoryCursor(offset, None if after is None else _after(after, parsed))


def _after(raw: Any, parsed: Any) -> HistoryKey:
    bad = InvalidParameterValue(f"Invalid page token, parsed value={parsed}")
    if not isinstance(raw, list) or len(raw) != 4:
        raise bad
    ts, step, value, is_nan = raw
    if not all(type(x) is int and abs(x) <= _MAX_INT64 for x in (ts, step)) or is_nan not in (
        0,
        1,
    ):
        raise bad
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise bad from None
    if math.isnan(number):
        raise bad
    return ts, step, number, is_nan
