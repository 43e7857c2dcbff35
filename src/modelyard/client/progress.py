"""Transfer progress: the hook the client calls, and a tiny stderr bar for the CLI.

The library reports bytes moved through `Progress` when the caller passes one
and does nothing otherwise; the CLI shows `ProgressBar` when stderr is a
terminal (or `--progress` asks for it). No dependency: one line redrawn with
a carriage return, at most ten times a second.
"""

from __future__ import annotations

import sys
import time
from typing import Protocol, TextIO


class Progress(Protocol):
    """Receives a transfer's progress: one `begin`, any `advance`s, one `end`."""

    def begin(self, total_bytes: int | None, label: str) -> None: ...

    def advance(self, nbytes: int) -> None: ...

    def end(self) -> None: ...


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


class ProgressBar:
    """`label [#######.....]  42%  12.3 MiB / 29.0 MiB  8.1 MiB/s` on one line."""

    WIDTH = 24
    INTERVAL = 0.1

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.total: int | None = None
        self.done = 0
        self.label = ""
        self._started = 0.0
        self._drawn = 0.0
        self._width = 0

    def begin(self, total_bytes: int | None, label: str) -> None:
        self.total, self.label, self.done = total_bytes, label, 0
        self._started = time.monotonic()
        self._draw(force=True)

    def advance(self, nbytes: int) -> None:
        self.done += nbytes
        self._draw()

    def end(self) -> None:
        self._draw(force=True)
        self.stream.write("\n")
        self.stream.flush()

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._drawn < self.INTERVAL:
            return
        self._drawn = now
        rate = self.done / max(now - self._started, 1e-6)
        if self.total:
            frac = min(self.done / self.total, 1.0)
            filled = int(frac * self.WIDTH)
            bar = "#" * filled + "." * (self.WIDTH - filled)
            text = (
                f"{self.label} [{bar}] {frac:4.0%}  {human_bytes(self.done)} / "
                f"{human_bytes(self.total)}  {human_bytes(rate)}/s"
            )
        else:
            text = f"{self.label}  {human_bytes(self.done)}  {human_bytes(rate)}/s"
        # Pad over the previous line rather than use an escape sequence:
        # `--progress` may send this to a log file.
        self.stream.write("\r" + text.ljust(self._width))
        self._width = len(text)
        self.stream.flush()
