"""Numbers in, markdown out: percentiles, ratios against the best peer, and the results table.

Pure functions only (no servers, no clock), so the unit test can run them on fixed inputs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

Better = Literal["lower", "higher"]


@dataclass(frozen=True)
class Target:
    """A goal for modelyard: a ratio over stock mlflow ("ratio") or an absolute cap ("max").

    A ratio target is judged against the stock mlflow columns only (the first wave's
    goals: "10× stock mlflow"); being ahead of every peer, FastTrackML included, is the
    separate "vs best peer" column (issue 15: ahead of both peers on every row)."""

    kind: Literal["ratio", "max"]
    value: float

    def text(self, unit: str) -> str:
        if self.kind == "ratio":
            return f"≥{self.value:g}×"
        return f"≤{self.value:g} {unit}"

    def met(self, subject: float | None, ratio_value: float | None) -> bool | None:
        if self.kind == "ratio":
            return None if ratio_value is None else ratio_value >= self.value
        return None if subject is None else subject <= self.value


@dataclass(frozen=True)
class Metric:
    """One row of the table."""

    key: str
    label: str
    unit: str
    better: Better
    target: Target | None = None
    compare: bool = True  # False: informational row, no ratio


@dataclass(frozen=True)
class Cell:
    """One measured value, or None with a note saying why (n/a, error …)."""

    value: float | None
    note: str = ""

    @staticmethod
    def na(reason: str) -> Cell:
        return Cell(None, reason)


LOAD_STEP = 1.0  # a 1-minute load average that moves more than this during a turn is flagged


def load_moved(before: float, after: float) -> bool:
    return abs(after - before) > LOAD_STEP


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile, q in (0, 100]."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def best(values: Sequence[float], better: Better) -> float:
    return min(values) if better == "lower" else max(values)


def ratio(subject: float | None, baselines: Sequence[float | None], better: Better) -> float | None:
    """How many times better `subject` is than the best baseline (>1: subject wins).

    For lower-is-better numbers (latency, memory) that is best_baseline / subject;
    for higher-is-better numbers (throughput) subject / best_baseline.
    """
    known = [b for b in baselines if b is not None]
    if subject is None or not known:
        return None
    reference = best(known, better)
    if better == "lower":
        return math.inf if subject == 0 else reference / subject
    return math.inf if reference == 0 else subject / reference


def format_number(value: float) -> str:
    if math.isinf(value):
        return "∞"
    magnitude = abs(value)
    if magnitude == 0:
        return "0"
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def format_cell(cell: Cell | None) -> str:
    if cell is None:
        return "not run"
    if cell.value is None:
        return cell.note or "n/a"
    text = format_number(cell.value)
    return f"{text} ({cell.note})" if cell.note else text


def format_ratio(value: float | None) -> str:
    return "–" if value is None else f"{format_number(value)}×"


def render_table(
    metrics: Sequence[Metric],
    columns: Sequence[tuple[str, str]],
    results: Mapping[str, Mapping[str, Cell]],
    *,
    subject: str,
    baselines: Sequence[str],
    unsteady: Sequence[str] = (),
    stock: Sequence[str] | None = None,
) -> str:
    """The markdown table.

    `columns` are (server name, header) pairs in display order; `results[server][metric key]`
    holds the cells; rows with no cell in any column are left out. The ratio column compares
    `subject` with the best of the `baselines` that were run. Servers in `unsteady` had the
    machine's load move by more than LOAD_STEP during their turn: a ratio that involves one is
    marked "⚠ load moved" rather than trusted.

    With `stock` (the stock mlflow servers among the baselines) the table has two ratio
    columns: "vs stock mlflow", on which ratio targets are judged, and "vs best peer",
    marked ✅ when modelyard is ahead of every baseline and ❌ when it is not.
    """
    split = stock is not None
    header = [
        "metric",
        *(h for _, h in columns),
        *(["vs stock mlflow (>1: modelyard better)"] if split else []),
        "vs best peer (>1: modelyard better)"
        if split
        else "ratio vs best peer (>1: modelyard better)",
        "target",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    for metric in metrics:
        cells = {name: results.get(name, {}).get(metric.key) for name, _ in columns}
        if all(c is None for c in cells.values()):
            continue
        subject_cell = cells.get(subject)
        subject_value = subject_cell.value if subject_cell else None
        base_values = [c.value for n in baselines if (c := cells.get(n)) is not None]
        r = ratio(subject_value, base_values, metric.better) if metric.compare else None
        ratio_text = format_ratio(r)
        if r is not None:
            if split:
                ratio_text += " ✅" if r > 1 else " ❌"
            if _ratio_unsteady(cells, baselines, subject, unsteady, metric.better):
                ratio_text += " ⚠ load moved"
        ratios = [ratio_text]
        judged = r
        if stock is not None:
            stock_values = [c.value for n in stock if (c := cells.get(n)) is not None]
            judged = ratio(subject_value, stock_values, metric.better) if metric.compare else None
            stock_text = format_ratio(judged)
            if judged is not None and _ratio_unsteady(
                cells, stock, subject, unsteady, metric.better
            ):
                stock_text += " ⚠ load moved"
            ratios.insert(0, stock_text)
        target = ""
        if metric.target is not None:
            target = metric.target.text(metric.unit) + (
                " stock" if split and metric.target.kind == "ratio" else ""
            )
            met = metric.target.met(subject_value, judged)
            if met is not None:
                target += " ✅" if met else " ❌"
        direction = "↓" if metric.better == "lower" else "↑"
        label = f"{metric.label} ({metric.unit} {direction})"
        row = [label, *(format_cell(cells[n]) for n, _ in columns), *ratios, target]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def _ratio_unsteady(
    cells: Mapping[str, Cell | None],
    baselines: Sequence[str],
    subject: str,
    unsteady: Sequence[str],
    better: Better,
) -> bool:
    """Whether the ratio rests on a turn whose load moved (modelyard's or the best baseline's)."""
    known = {n: c.value for n in baselines if (c := cells.get(n)) and c.value is not None}
    if not known:
        return False
    best_name = min(known, key=lambda n: known[n] * (1 if better == "lower" else -1))
    return subject in unsteady or best_name in unsteady
