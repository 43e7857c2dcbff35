"""Databricks' registry-webhook endpoints (`/api/2.0/mlflow/registry-webhooks/...`),
as `databricks-sdk`'s `w.model_registry.*_webhook` calls them: parse, call the
webhook service, serialise. `http_url_spec.secret` and `.authorization` are
stored encrypted and never returned.
"""

from __future__ import annotations

from typing import Any

from modelyard.errors import InvalidParameterValue
from modelyard.http.args import Args
from modelyard.http.auth_rules import USER, Rule
from modelyard.http.endpoint import Ctx, RouteSpec
from modelyard.http.serialize import page_json
from modelyard.service.webhooks import Changes
from modelyard.webhook_entities import Flavor, Webhook

Json = dict[str, Any]


def registry_webhook_json(w: Webhook) -> Json:
    out: Json = {
        "id": w.webhook_id,
        "events": list(w.events),
        "status": w.status,
        "creation_timestamp": w.creation_timestamp,
        "last_updated_timestamp": w.last_updated_timestamp,
        "http_url_spec": {"url": w.url, "enable_ssl_verification": w.verify_tls},
    }
    if w.model_name is not None:
        out["model_name"] = w.model_name
    if w.description:
        out["description"] = w.description
    return out


def _spec(args: Args) -> Args | None:
    raw = args.raw("http_url_spec")
    if raw is None:
        if args.raw("job_spec") is not None:
            raise InvalidParameterValue(
                "job_spec webhooks (running a Databricks job) are not supported: "
                "give an http_url_spec."
            )
        return None
    if not isinstance(raw, dict):
        raise InvalidParameterValue("http_url_spec must be a JSON object with a 'url'.")
    return Args(raw)


def _id(ctx: Ctx, args: Args) -> str:
    # DELETE sends the id in the query string (databricks-sdk does).
    value = args.opt_str("id") or ctx.request.query_params.get("id")
    if not value:
        raise InvalidParameterValue("Missing value for required parameter 'id'.")
    return value


def create(ctx: Ctx, args: Args) -> Json:
    """Create a registry webhook (Databricks' API): per model or registry-wide."""
    spec = _spec(args)
    if spec is None:
        raise InvalidParameterValue("Missing value for required parameter 'http_url_spec'.")
    w = ctx.services.webhooks.create(
        ctx.identity.user,
        Flavor.DATABRICKS,
        url=spec.opt_str("url"),
        events=args.str_list("events"),
        description=args.opt_str("description"),
        model_name=args.opt_str("model_name") or None,
        secret=spec.opt_str("secret"),
        authorization=spec.opt_str("authorization"),
        verify_tls=spec.opt_bool("enable_ssl_verification", True),
        status=args.opt_str("status"),
    )
    return {"webhook": registry_webhook_json(w)}


def list_(ctx: Ctx, args: Args) -> Json:
    """List registry webhooks, optionally of one model or listening to given events."""
    page = ctx.services.webhooks.list(
        ctx.identity.user,
        Flavor.DATABRICKS,
        model_name=args.opt_str("model_name") or None,
        events=args.str_list("events"),
        max_results=args.opt_int("max_results"),
        page_token=args.opt_str("page_token"),
    )
    return page_json(page, "webhooks", registry_webhook_json)


def update(ctx: Ctx, args: Args) -> Json:
    """Change a registry webhook's events, status, description or http_url_spec."""
    spec = _spec(args)
    changes = Changes(
        description=args.opt_str("description"),
        events=args.str_list("events") or None,
        status=args.opt_str("status"),
        url=None if spec is None else spec.opt_str("url") or None,
        secret=None if spec is None else spec.opt_str("secret"),
        authorization=None if spec is None else spec.opt_str("authorization"),
        verify_tls=(
            None
            if spec is None or "enable_ssl_verification" not in spec
            else spec.opt_bool("enable_ssl_verification", True)
        ),
    )
    w = ctx.services.webhooks.update(ctx.identity.user, _id(ctx, args), Flavor.DATABRICKS, changes)
    return {"webhook": registry_webhook_json(w)}


def delete(ctx: Ctx, args: Args) -> None:
    """Delete a registry webhook (its delivery log goes with it)."""
    ctx.services.webhooks.delete(ctx.identity.user, _id(ctx, args), Flavor.DATABRICKS)


def test(ctx: Ctx, args: Args) -> Json:
    """Send an example event to a registry webhook now and return the answer."""
    result = ctx.services.webhooks.test(
        ctx.identity.user, _id(ctx, args), Flavor.DATABRICKS, args.opt_str("event") or None
    )
    if result.error:
        raise InvalidParameterValue(result.error)
    out: Json = {"status_code": result.status_code}
    if result.body:
        out["body"] = result.body
    return out


ROUTES: list[RouteSpec] = [
    ("POST", "registry-webhooks/create", create),
    ("GET", "registry-webhooks/list", list_),
    ("PATCH", "registry-webhooks/update", update),
    ("DELETE", "registry-webhooks/delete", delete),
    ("POST", "registry-webhooks/test", test),
]

# As for MLflow's webhook routes: the service checks admin / MANAGE per webhook.
PERMISSIONS: dict[tuple[str, str], Rule] = {(method, path): USER for method, path, _ in ROUTES}
