"""Request arguments: one typed view over a query string or a JSON body.

MLflow's GET endpoints take their fields from the query string (repeated keys
for lists) and its POST/PATCH/DELETE endpoints from a JSON body; handlers read
both through `Args`. Errors use MLflow's wording, since users search for it.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping
from typing import Any

from starlette.datastructures import QueryParams
from starlette.requests import Request

from modelyard.errors import InvalidParameterValue, RequestTooLarge
from modelyard.http.jsonio import loads
from modelyard.service.validation import invalid_value

# Aliases: Args has methods named str/int/list/float, which shadow the builtins
# inside the class body.
_Str = str
_Int = int
_List = list
_Float = float

_DOCS_HINT = " See the API docs for more information about request parameters."

# The largest JSON request body read into memory. MLflow's biggest requests
# (log-batch: 1000 metrics, 100 params, 100 tags of bounded size) stay far
# below it; anything larger is refused with 413 before it is buffered.
MAX_JSON_BODY_BYTES = 16 * 1024 * 1024


def invalid(name: str, value: Any, why: str = "") -> InvalidParameterValue:
    """MLflow's "Invalid value … for parameter …" error (worded once, in the service)."""
    return invalid_value(name, value, why)


def missing(name: str) -> InvalidParameterValue:
    return InvalidParameterValue(f"Missing value for required parameter '{name}'.{_DOCS_HINT}")


def _too_large() -> RequestTooLarge:
    return RequestTooLarge(
        f"Request body is larger than {MAX_JSON_BODY_BYTES // (1024 * 1024)} MB; "
        "send fewer items per request (e.g. split a log-batch)."
    )


async def _bounded_body(request: Request) -> bytes:
    """The body, read up to MAX_JSON_BODY_BYTES; a larger one is refused, not buffered."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_JSON_BODY_BYTES:
        raise _too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_JSON_BODY_BYTES:
            raise _too_large()
        chunks.append(chunk)
    return b"".join(chunks)


class Args:
    """Typed access to request fields; `query` marks values that came as strings.

    `path` is where these fields sit in the request (`metrics[0]` for an item
    of a list), so errors name the field as MLflow does: `metrics[0].timestamp`.
    """

    __slots__ = ("_data", "_multi", "path", "query")

    def __init__(
        self, data: Mapping[_Str, Any], multi: QueryParams | None = None, path: _Str = ""
    ) -> None:
        self._data = data
        self._multi = multi
        self.query = multi is not None
        self.path = path

    def _name(self, name: _Str) -> _Str:
        return f"{self.path}.{name}" if self.path else name

    @classmethod
    async def from_request(cls, request: Request) -> Args:
        if request.method == "GET":
            qp = request.query_params
            return cls(dict(qp.items()), qp)
        body = await _bounded_body(request)
        if not body.strip():
            return cls({})
        try:
            data = loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidParameterValue(f"Request body is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise InvalidParameterValue("Request body must be a JSON object.")
        return cls(data)

    def __contains__(self, name: _Str) -> bool:
        return self._data.get(name) is not None

    def raw(self, name: _Str) -> Any:
        return self._data.get(name)

    # -- scalars -------------------------------------------------------------
    def str(self, name: _Str) -> _Str:
        value = self.opt_str(name)
        if value is None or value == "":
            raise missing(self._name(name))
        return value

    def opt_str(self, name: _Str, default: _Str | None = None) -> _Str | None:
        value = self._data.get(name)
        if value is None:
            return default
        if isinstance(value, str):
            return value
        # A number where the protocol has a string is refused, as MLflow's
        # request schema does ({"run_id": 31}).
        raise invalid(
            self._name(name),
            value,
            f"Hint: Value was of type '{type(value).__name__}'.{_DOCS_HINT}",
        )

    def int(self, name: _Str) -> _Int:
        value = self.opt_int(name)
        if value is None:
            raise missing(self._name(name))
        return value

    def opt_int(self, name: _Str, default: _Int | None = None) -> _Int | None:
        value = self._data.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            raise invalid(self._name(name), value)
        number: int | None = None
        if isinstance(value, int):
            number = value
        elif isinstance(value, float) and value.is_integer():
            number = int(value)
        elif isinstance(value, str):
            with contextlib.suppress(ValueError):
                number = int(value.strip())
        if number is not None:
            # Every integer in MLflow's protocol is an int64.
            if not -(2**63) <= number < 2**63:
                raise invalid(
                    self._name(name), value, "the number does not fit in a 64-bit integer"
                )
            return number
        raise invalid(
            self._name(name),
            value,
            f"Hint: Value was of type '{type(value).__name__}'.{_DOCS_HINT}",
        )

    def float(self, name: _Str) -> _Float:
        value = self._data.get(name)
        if value is None or value == "":
            raise missing(self._name(name))
        if isinstance(value, bool):
            raise invalid(self._name(name), value)
        if isinstance(value, (int, float)):
            try:
                return float(value)
            except OverflowError:
                raise invalid(
                    self._name(name), value, "the number is too large for a double"
                ) from None
        if isinstance(value, str):
            text = value.strip()
            special = {
                "nan": math.nan,
                "infinity": math.inf,
                "-infinity": -math.inf,
                "inf": math.inf,
                "-inf": -math.inf,
            }
            if text.lower() in special:
                return special[text.lower()]
            try:
                return float(text)
            except ValueError:
                pass
        raise invalid(
            self._name(name),
            value,
            f"Hint: Value was of type '{type(value).__name__}'.{_DOCS_HINT}",
        )

    def opt_bool(self, name: _Str, default: bool = False) -> bool:
        value = self._data.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise InvalidParameterValue(f"Invalid boolean value: {value}, must be 'true' or 'false'.")

    # -- lists ---------------------------------------------------------------
    def list(self, name: _Str) -> _List[Any]:
        if self._multi is not None:
            return list(self._multi.getlist(name))
        value = self._data.get(name)
        if value is None:
            return []
        if not isinstance(value, list):
            raise invalid(
                self._name(name),
                value,
                f"Hint: Value was of type '{type(value).__name__}'.{_DOCS_HINT}",
            )
        return value

    def str_list(self, name: _Str) -> _List[_Str]:
        out: _List[_Str] = []
        for item in self.list(name):
            if isinstance(item, str):
                out.append(item)
            elif isinstance(item, (int, float)) and not isinstance(item, bool):
                out.append(str(item))
            else:
                raise invalid(name, self.list(name), "all items must be strings")
        return out

    def objects(self, name: _Str) -> _List[Args]:
        out: _List[Args] = []
        for i, item in enumerate(self.list(name)):
            if not isinstance(item, dict):
                raise invalid(self._name(name), item, "each item must be a JSON object")
            out.append(Args(item, path=f"{self._name(name)}[{i}]"))
        return out
