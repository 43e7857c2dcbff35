"""Parsed search terms: the types a parsed filter is made of, and page tokens.

They sit below both the service (which parses MLflow's filter grammar into
them, `service/search_filter.py`) and the stores (which compile them to SQL),
so the store never imports the service.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from modelyard.errors import InvalidParameterValue

Value = str | float | int | tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class Comparison:
    """One ``<entity>.<key> <op> <value>`` condition; a filter is their conjunction.

    `entity` is canonical ("metric", "param", "tag", "attribute", "dataset"), `key`
    is canonical too (aliases such as ``created`` are resolved to ``start_time``),
    `op` is upper-case, and `value` is already typed: float for metrics, int or
    float for numeric attributes, a tuple for IN lists, None for IS [NOT] NULL.
    """

    entity: str
    key: str
    op: str
    value: Value


@dataclass(frozen=True, slots=True)
class OrderKey:
    entity: str
    key: str
    ascending: bool
    # A logged model's metric can be measured on one dataset: order by that
    # measurement (search-logged-models only).
    dataset_name: str | None = None
    dataset_digest: str | None = None


def encode_token_body(body: dict[str, Any]) -> str:
    """A page token as MLflow spells them: base64 of a JSON object, opaque to clients."""
    return base64.b64encode(json.dumps(body).encode("utf-8")).decode("ascii")


def decode_token_body(token: str) -> Any:
    """The JSON a page token carries, in MLflow's words when it is not one."""
    try:
        decoded = base64.b64decode(token)
    except (binascii.Error, ValueError) as exc:
        raise InvalidParameterValue("Invalid page token, could not base64-decode") from exc
    try:
        return json.loads(decoded)
    except ValueError as exc:
        raise InvalidParameterValue(f"Invalid page token, decoded value={decoded!r}") from exc


def encode_page_token(offset: int) -> str:
    """MLflow's page token: base64 of ``{"offset": N}``."""
    return encode_token_body({"offset": offset})


def decode_page_token(token: str | None) -> int:
    """The offset a page token carries; no token means the first page (0)."""
    if not token:
        return 0
    parsed = decode_token_body(token)
    offset = parsed.get("offset") if isinstance(parsed, dict) else None
    # MLflow never issues a token for offset 0 and refuses one, as here.
    if not offset or isinstance(offset, bool):
        raise InvalidParameterValue(f"Invalid page token, parsed value={parsed}")
    try:
        value = int(offset)
    except (TypeError, ValueError) as exc:
        raise InvalidParameterValue(f"Invalid page token, not stringable {offset}") from exc
    if value < 0:
        raise InvalidParameterValue(f"Invalid page token, negative offset {value}")
    return value
