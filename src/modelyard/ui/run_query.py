"""Which runs an experiment's tabs show: the table's filter, order and page, or a selection.

The runs table, the charts view and the plots (parallel coordinates, scatter)
all read the same query parameters, so switching tabs keeps the same runs in
the same order, and a run's colour (its position in that order) is the same
in the table, every chart and every plot. `run=<id>` (repeated) narrows any
tab to the runs ticked in the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelyard.entities import RunInfo
from modelyard.errors import InvalidParameterValue
from modelyard.service import search_filter as sf
from modelyard.ui.search import Ordering
from modelyard.ui.web import UiRequest

# Row counts the table offers; the charts and plots also offer the larger ones,
# since they draw latest values or downsampled series rather than table rows.
TABLE_SIZES = (25, 50, 100, 200)
CHART_SIZES = (25, 50, 100, 200, 500, 1000)
DEFAULT_SIZE = 50
# Enough to tick a full table page; a selection is sent in the URL.
MAX_SELECTED = 200
# Run colours cycle through this many classes (`.c0` … in app.css, COLORS in the scripts).
PALETTE_SIZE = 20


@dataclass(frozen=True, slots=True)
class RunQuery:
    """The parameters naming a set of runs, read from the URL."""

    filter: str
    order: str
    size: int
    page: str
    selected: tuple[str, ...]

    @property
    def ordering(self) -> Ordering | None:
        return Ordering.parse(self.order)

    @property
    def offset(self) -> int:
        return sf.decode_page_token(self.page) if self.page else 0

    def state(self) -> dict[str, Any]:
        """The query as URL parameters (defaults left out), for links between tabs."""
        return {
            "filter": self.filter,
            "order": self.order,
            "size": self.size if self.size != DEFAULT_SIZE else None,
            "page": self.page,
            "run": list(self.selected) or None,
        }


def read(req: UiRequest, sizes: tuple[int, ...] = TABLE_SIZES) -> RunQuery:
    try:
        size = int(req.arg("size"))
    except ValueError:
        size = DEFAULT_SIZE
    selected = tuple(dict.fromkeys(r for r in req.query.getlist("run") if r))
    if len(selected) > MAX_SELECTED:
        raise InvalidParameterValue(
            f"At most {MAX_SELECTED} runs can be selected at once; {len(selected)} were chosen."
        )
    return RunQuery(
        filter=req.arg("filter"),
        order=req.arg("order"),
        size=size if size in sizes else DEFAULT_SIZE,
        page=req.arg("page"),
        selected=selected,
    )


@dataclass(frozen=True, slots=True)
class RunSet:
    infos: list[RunInfo]
    next_token: str | None


def run_infos(req: UiRequest, experiment_id: str, query: RunQuery) -> RunSet:
    """The runs the query names, in table order (a selection keeps its own order).

    A bad filter raises `InvalidParameterValue`, worded by the search parser.
    """
    tracking = req.services.tracking
    if query.selected:
        infos = [tracking.get_run_info(r) for r in query.selected]
        return RunSet([i for i in infos if i.experiment_id == experiment_id], None)
    ordering = query.ordering
    page = tracking.search_run_infos(
        [experiment_id],
        filter_string=query.filter or None,
        max_results=query.size,
        order_by=[ordering.clause] if ordering else [],
        page_token=query.page or None,
    )
    return RunSet(list(page.items), page.next_page_token)
