"""modelyard's promotion-history API, outside MLflow's namespace.

Every stage transition (requested, or an archiving it caused), every version
registration and deletion, and every alias set or removed is recorded with
who asked (`Authorization: Basic` user, when sent), when, and an optional
comment. Served under `/api/modelyard/v1/` and `/ajax-api/modelyard/v1/`:

`GET registered-models/history?name=&version=&max_results=&page_token=`
    The model's events, newest first; `version` narrows to one version.
    `max_results` defaults to 100 (at most 1000); `next_page_token` pages on.
    Answer: `{"events": [{"event_id", "name", "version", "action",
    "from_stage", "to_stage", "alias", "previous_version", "timestamp",
    "user_id", "comment", "cause"}], "next_page_token"}`, where `action` is
    `created`, `transition`, `deleted`, `alias_set` or `alias_deleted` (and,
    with approvals, `transition_requested`, `request_approved`,
    `request_rejected`, `request_cancelled`, `request_void`, `comment`), and
    `cause` is `request`, `displaced` (archived because another version took
    the stage), `rollback`, `approval` (moved by approving a request),
    `override` (moved directly where approval is required) or `system`.
    `activity_type` and `system_comment` name the event as Databricks'
    activity feed does. Absent fields are left out.

`GET registered-models/stage-holder?name=&stage=&at=<ms>`
    Which version held `stage` at time `at` (default: now), and since when:
    `{"name", "stage", "at", "version", "since", "model_version"}`; `version`
    and `since` are left out when no version held the stage, `model_version`
    (MLflow's shape) when that version has been deleted since.

`POST registered-models/rollback` with `{"name", "stage", "comment"}`
    Gives `stage` (Staging or Production) back to the version that held it
    before the current holder, skipping versions deleted since; the current
    holder is archived, in the same transaction, and the change is recorded
    with cause `rollback`. Answer: `{"model_version": …}`. When no earlier
    holder exists: INVALID_STATE.
"""

from __future__ import annotations

import contextlib
from typing import Any

from starlette.routing import BaseRoute, Route

from modelyard.errors import ResourceDoesNotExist
from modelyard.http.args import Args
from modelyard.http.endpoint import Ctx, Handler, api
from modelyard.http.model_versions import model_version_json
from modelyard.http.serialize import page_json
from modelyard.registry_entities import HistoryEvent
from modelyard.service.transition_requests import activity_type, system_comment

Json = dict[str, Any]

PREFIXES = ("/api/modelyard/v1", "/ajax-api/modelyard/v1")


def event_json(e: HistoryEvent) -> Json:
    out: Json = {
        "event_id": e.event_id,
        "name": e.name,
        "version": str(e.version),
        "action": e.action,
        "timestamp": e.timestamp,
        "cause": e.cause,
    }
    optional = {
        "from_stage": e.from_stage,
        "to_stage": e.to_stage,
        "alias": e.alias,
        "previous_version": None if e.previous_version is None else str(e.previous_version),
        "user_id": e.user_id,
        "comment": e.comment,
    }
    out.update({k: val for k, val in optional.items() if val is not None})
    # Approvals: the event as Databricks' activity feed names it.
    kind = activity_type(e)
    if kind is not None:
        out["activity_type"] = kind
    note = system_comment(e)
    if note is not None:
        out["system_comment"] = note
    return out


def history(ctx: Ctx, args: Args) -> Json:
    """A registered model's promotion history (or one version's), newest first."""
    page = ctx.services.registry.history(
        args.str("name"),
        args.opt_str("version"),
        max_results=args.opt_int("max_results"),
        page_token=args.opt_str("page_token"),
    )
    return page_json(page, "events", event_json, keep_empty=True)


def stage_holder(ctx: Ctx, args: Args) -> Json:
    """Which version held a stage at a given time (default: now), and since when."""
    registry = ctx.services.registry
    holder = registry.stage_holder(args.str("name"), args.str("stage"), args.opt_int("at"))
    out: Json = {"name": holder.name, "stage": holder.stage, "at": holder.at}
    if holder.version is not None:
        out["version"] = str(holder.version)
        if holder.since is not None:
            out["since"] = holder.since
        with contextlib.suppress(ResourceDoesNotExist):  # deleted since
            out["model_version"] = model_version_json(
                registry.get_model_version(holder.name, holder.version)
            )
    return out


def rollback(ctx: Ctx, args: Args) -> Json:
    """Give a stage back to its previous holder; the current holder is archived."""
    mv = ctx.services.registry.rollback(
        args.str("name"),
        args.str("stage"),
        user=ctx.identity.user,
        comment=args.opt_str("comment"),
    )
    return {"model_version": model_version_json(mv)}


_ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "registered-models/history", history),
    ("GET", "registered-models/stage-holder", stage_holder),
    ("POST", "registered-models/rollback", rollback),
]

RAW_ROUTES: list[BaseRoute] = [
    Route(f"{prefix}/{path}", api(handler), methods=[method])
    for prefix in PREFIXES
    for method, path, handler in _ROUTES
]
