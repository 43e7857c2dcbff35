"""JSON in and out, the way MLflow's protobuf-JSON does it.

MLflow clients send non-finite metric values either as the strings "NaN",
"Infinity", "-Infinity" (protobuf JSON) or as bare NaN / Infinity tokens
(Python's json module); both are accepted. Responses never contain bare
non-finite numbers: serialisers turn them into protobuf's strings first.
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson
from starlette.responses import Response


def loads(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        # Bare NaN/Infinity tokens: orjson refuses them, the stdlib accepts them.
        return json.loads(body)


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


def json_response(obj: Any, status: int = 200) -> Response:
    return Response(dumps(obj), status_code=status, media_type="application/json")


def float_out(value: float) -> float | str:
    """A double as protobuf JSON writes it."""
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"
