"""MLflow's `experiments/search-datasets` (the UI's dataset list of experiments)."""

from __future__ import annotations

from typing import Any

from modelyard.http.args import Args
from modelyard.http.endpoint import Ctx, RouteSpec
from modelyard.store.dataset_summaries import DatasetSummary


def _summary_json(s: DatasetSummary) -> dict[str, Any]:
    out: dict[str, Any] = {"experiment_id": s.experiment_id, "name": s.name, "digest": s.digest}
    if s.context is not None:
        out["context"] = s.context
    return out


def search(ctx: Ctx, args: Args) -> dict[str, Any]:
    found = ctx.services.tracking.search_dataset_summaries(args.str_list("experiment_ids"))
    return {"dataset_summaries": [_summary_json(s) for s in found]} if found else {}


ROUTES: list[RouteSpec] = [
    ("POST", "experiments/search-datasets", search),
]
