"""MLflow's webhook endpoints (`/api/2.0/mlflow/webhooks...`) and modelyard's
delivery log under them: parse, call the webhook service, serialise.

Events travel as protobuf JSON (`{"entity": "MODEL_VERSION", "action":
"CREATED"}`; lower case is accepted too); secrets are never returned.
"""

from __future__ import annotations

from typing import Any

from modelyard.http.args import Args
from modelyard.http.auth_rules import USER, Rule
from modelyard.http.endpoint import Ctx, RouteSpec
from modelyard.http.serialize import page_json
from modelyard.service.webhooks import Changes, mlflow_event_name
from modelyard.webhook_entities import Attempt, Delivery, Flavor, Webhook

Json = dict[str, Any]


def _event_json(name: str) -> Json:
    entity, _, action = name.partition(".")
    return {"entity": entity.upper(), "action": action.upper()}


def webhook_json(w: Webhook) -> Json:
    out: Json = {
        "webhook_id": w.webhook_id,
        "name": w.name or "",
        "url": w.url,
        "events": [_event_json(e) for e in w.events],
        "status": w.status,
        "creation_timestamp": w.creation_timestamp,
        "last_updated_timestamp": w.last_updated_timestamp,
    }
    if w.description:
        out["description"] = w.description
    return out


def _events(args: Args) -> list[str] | None:
    if "events" not in args:
        return None
    out: list[str] = []
    for item in args.list("events"):
        if isinstance(item, str):  # "model_version.created", for hand-written requests
            out.append(item.lower())
        elif isinstance(item, dict):
            out.append(mlflow_event_name(item.get("entity"), item.get("action")))
        else:
            out.append(mlflow_event_name(None, None))
    return out


def _user(ctx: Ctx) -> str | None:
    return ctx.identity.user


def _id(ctx: Ctx) -> str:
    return str(ctx.path_params["webhook_id"])


def create(ctx: Ctx, args: Args) -> Json:
    w = ctx.services.webhooks.create(
        _user(ctx),
        Flavor.MLFLOW,
        name=args.opt_str("name"),
        url=args.opt_str("url"),
        events=_events(args),
        description=args.opt_str("description"),
        secret=args.opt_str("secret"),
        status=args.opt_str("status"),
    )
    return {"webhook": webhook_json(w)}


def list_(ctx: Ctx, args: Args) -> Json:
    page = ctx.services.webhooks.list(
        _user(ctx),
        Flavor.MLFLOW,
        max_results=args.opt_int("max_results"),
        page_token=args.opt_str("page_token"),
    )
    return page_json(page, "webhooks", webhook_json)


def get(ctx: Ctx, args: Args) -> Json:
    return {"webhook": webhook_json(ctx.services.webhooks.get(_user(ctx), _id(ctx), Flavor.MLFLOW))}


def update(ctx: Ctx, args: Args) -> Json:
    changes = Changes(
        name=args.opt_str("name") or None,
        description=args.opt_str("description"),
        url=args.opt_str("url") or None,
        events=_events(args),
        secret=args.opt_str("secret"),
        status=args.opt_str("status"),
    )
    w = ctx.services.webhooks.update(_user(ctx), _id(ctx), Flavor.MLFLOW, changes)
    return {"webhook": webhook_json(w)}


def delete(ctx: Ctx, args: Args) -> None:
    ctx.services.webhooks.delete(_user(ctx), _id(ctx), Flavor.MLFLOW)


def test(ctx: Ctx, args: Args) -> Json:
    raw = args.raw("event")
    event = None
    if isinstance(raw, dict):
        event = mlflow_event_name(raw.get("entity"), raw.get("action"))
    result = ctx.services.webhooks.test(_user(ctx), _id(ctx), Flavor.MLFLOW, event)
    out: Json = {"success": result.success}
    if result.status_code is not None:
        out["response_status"] = result.status_code
    if result.body:
        out["response_body"] = result.body
    if result.error:
        out["error_message"] = result.error
    return {"result": out}


# -- the delivery log (modelyard's own; both dialects' webhooks) ----------------------
def attempt_json(a: Attempt) -> Json:
    out: Json = {"attempt": a.number, "time": a.started_at, "latency_ms": a.latency_ms}
    if a.status_code is not None:
        out["status_code"] = a.status_code
    if a.response_body:
        out["response_body"] = a.response_body
    if a.error:
        out["error"] = a.error
    return out


def delivery_json(d: Delivery) -> Json:
    out: Json = {
        "delivery_id": d.delivery_id,
        "webhook_id": d.webhook_id,
        "event": d.event_name,
        "model_name": d.event.model_name,
        "status": d.status.upper(),
        "attempts": d.attempts,
        "created_at": d.created_at,
    }
    if d.event.version is not None:
        out["version"] = str(d.event.version)
    if d.next_attempt_at is not None:
        out["next_attempt_at"] = d.next_attempt_at
    if d.finished_at is not None:
        out["finished_at"] = d.finished_at
    if d.attempt_log:
        out["attempt_log"] = [attempt_json(a) for a in d.attempt_log]
    return out


def deliveries(ctx: Ctx, args: Args) -> Json:
    """A webhook's delivery log, newest first: each delivery's event, status and attempts
    (time, status code, latency, the start of the answer or the error). modelyard only."""
    page = ctx.services.webhooks.deliveries(
        _user(ctx),
        _id(ctx),
        max_results=args.opt_int("max_results"),
        page_token=args.opt_str("page_token"),
    )
    return page_json(page, "deliveries", delivery_json)


def redeliver(ctx: Ctx, args: Args) -> Json:
    """Queue a delivery again under the same delivery id. modelyard only."""
    d = ctx.services.webhooks.redeliver(_user(ctx), _id(ctx), str(ctx.path_params["delivery_id"]))
    return {"delivery": delivery_json(d)}


ROUTES: list[RouteSpec] = [
    ("POST", "webhooks", create),
    ("GET", "webhooks", list_),
    ("GET", "webhooks/{webhook_id}", get),
    ("PATCH", "webhooks/{webhook_id}", update),
    ("DELETE", "webhooks/{webhook_id}", delete),
    ("POST", "webhooks/{webhook_id}/test", test),
    ("GET", "webhooks/{webhook_id}/deliveries", deliveries),
    ("POST", "webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver", redeliver),
]

# Signed-in callers reach the handlers; the service then decides per webhook
# (admins; MANAGE on the model for a model's own webhook), since which model a
# webhook belongs to is only known once it is read.
PERMISSIONS: dict[tuple[str, str], Rule] = {(method, path): USER for method, path, _ in ROUTES}
