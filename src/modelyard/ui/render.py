"""Templates in, HTML responses out: the Jinja2 environment, its filters, error pages.

Autoescaping is on for every template, so a run named ``<script>`` is shown as
text; nothing in the templates marks user data `|safe`. Every page is sent with
a Content-Security-Policy allowing only our own scripts and styles, a second
line of defence should an escape ever be missed.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from modelyard import __version__
from modelyard.errors import ModelyardError

if TYPE_CHECKING:
    import jinja2

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}


@dataclass(frozen=True)
class Page:
    """What a view returns: a template, its context and the status to send."""

    template: str
    context: dict[str, Any] = field(default_factory=dict)
    status: int = 200


# -- filters ------------------------------------------------------------------------


def format_time(ms: int | None) -> str:
    if ms is None:
        return "—"
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def iso_time(ms: int | None) -> str:
    if ms is None:
        return ""
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="milliseconds")


def format_duration(start: int | None, end: int | None) -> str:
    if start is None or end is None or end < start:
        return "—"
    seconds = (end - start) / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, sec = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


def format_size(size: int | None) -> str:
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover


def format_number(value: float | int | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, int):
        return f"{value:,}"
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    return f"{value:.6g}"


def url_quote(value: object) -> str:
    """A path segment: every reserved character escaped, '/' included."""
    text = str(value)
    if text.isascii() and text.isalnum():
        # Run ids and most names: nothing to escape, and a legend of 1,000 runs
        # would otherwise spend more time quoting than rendering.
        return text
    return quote(text, safe="")


def json_for_html(obj: Any, **kwargs: Any) -> str:
    """What `|tojson` serialises with (Jinja escapes <, >, & and ' afterwards).

    orjson writes the plots page's data block (1,000 runs × every column) about
    ten times faster than the json module; its output means the same (compact
    separators; doubles written shortest-exact). Anything orjson refuses (a
    non-string key, a type it does not know) goes through the json module."""
    try:
        return orjson.dumps(
            obj, option=orjson.OPT_SORT_KEYS if kwargs.get("sort_keys") else 0
        ).decode()
    except TypeError:
        return json.dumps(obj, **kwargs)


def query_string(params: Mapping[str, Any]) -> str:
    """`?a=1&b=2` from a mapping; None and "" values are left out, lists repeat."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        if value is None or value == "":
            continue
        if isinstance(value, list | tuple):
            pairs.extend((key, str(v)) for v in value)
        else:
            pairs.append((key, str(value)))
    return "?" + urlencode(pairs) if pairs else ""


@functools.cache
def environment() -> jinja2.Environment:
    """Built on first use, not at import: nothing happens at import time, and a
    server that only answers the API never imports Jinja (a tenth of its start-up)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("modelyard.ui", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        time=format_time,
        isotime=iso_time,
        size=format_size,
        num=format_number,
        q=url_quote,
    )
    env.policies["json.dumps_function"] = json_for_html
    env.globals.update(
        version=__version__,
        duration=format_duration,
        qs=query_string,
        static=lambda path: f"/static/{path}?v={__version__}",
    )
    return env


def _server_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def render(request: Request, page: Page) -> Response:
    template = environment().get_template(page.template)
    body = template.render(
        request_path=request.url.path,
        server_url=_server_url(request),
        viewer=request.scope.get("modelyard.viewer"),  # signed-in user (auth on), else None
        **page.context,
    )
    return HTMLResponse(body, status_code=page.status, headers=SECURITY_HEADERS)


def render_fragment(template_name: str, **context: Any) -> Response:
    """A `_partial.html` fragment for the page's JavaScript to swap in."""
    body = environment().get_template(template_name).render(**context)
    return HTMLResponse(body, headers=SECURITY_HEADERS)


# -- error pages --------------------------------------------------------------------

_TITLES = {
    400: "That request did not work",
    401: "Please sign in",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict",
    429: "Too many requests",
    501: "Not implemented",
    503: "Temporarily unavailable",
}


def error_page(request: Request, error: ModelyardError, status: int) -> Response:
    """The HTML page for an error on a UI path; the template is chosen by status."""
    env = environment()
    template = env.select_template([f"error_{status}.html", "error.html"])
    title = _TITLES.get(status, "Something went wrong" if status >= 500 else "Request failed")
    body = template.render(
        request_path=request.url.path,
        viewer=request.scope.get("modelyard.viewer"),
        status=status,
        title=title,
        code=error.code,
        message=error.message,
    )
    return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)
