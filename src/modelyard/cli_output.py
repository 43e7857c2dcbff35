"""How the `modelyard` client commands print: aligned tables for people, JSON for scripts.

Shared by every client command group (experiments, runs, models, artifacts,
users, tokens, permissions, webhooks) so their tables, dates, sizes and
`--json` output look alike. Standard library only: the CLI must start fast.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import time
from collections.abc import Callable, Sequence
from typing import Any


def when(ms: int | None) -> str:
    """A timestamp in milliseconds as local time; "-" when there is none."""
    if not ms:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ms / 1000))


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Left-aligned columns separated by two spaces; "-" for empty cells."""
    cells = [[("-" if c is None or c == "" else str(c)) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    lines = [headers, *cells]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    )


def jsonable(value: Any) -> Any:
    """Entities (frozen dataclasses) as plain JSON; non-finite floats as MLflow spells them."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if hasattr(value, "__fspath__"):
        return str(value)
    return value


def emit(args: argparse.Namespace, data: Any, human: Callable[[], str]) -> None:
    """Print `data` as JSON with --json, else the text `human()` builds."""
    text = json.dumps(jsonable(data), indent=2) if args.json else human()
    if text:
        print(text)


def human_size(n: int | None) -> str:
    """1536 -> '1.5 KiB': sizes as people read them (JSON output keeps bytes)."""
    if n is None:
        return ""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # unreachable; keeps mypy sure of the return
