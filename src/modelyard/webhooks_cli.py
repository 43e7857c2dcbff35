"""`modelyard webhooks ...`: list, create, update, delete and test webhooks, and
read or replay their delivery log. A thin skin over the light client
(`modelyard.client.webhooks`), printing tables or JSON like the other client
commands (`modelyard.client_cli`).

The kind of a webhook follows from its events: MLflow's lower-case dotted
names (`model_version.created`) make an MLflow-style webhook, Databricks'
upper-case names (`MODEL_VERSION_TRANSITIONED_TO_PRODUCTION`) a registry
webhook. Commands that take an id find its kind themselves.
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Any

from modelyard.cli_output import emit, table, when
from modelyard.cli_parser import CommandTree, UsageError

if TYPE_CHECKING:
    from modelyard.cli_parser import Command, SubParsers
    from modelyard.client import Client


def _is_mlflow_event(event: str) -> bool:
    return "." in event


def _kind(c: Client, webhook_id: str) -> str:
    """'mlflow' or 'databricks': ask the MLflow endpoint first."""
    from modelyard.errors import ResourceDoesNotExist

    try:
        c.get_webhook(webhook_id)
        return "mlflow"
    except ResourceDoesNotExist:
        return "databricks"


def _rows(hooks: list[Any]) -> list[list[Any]]:
    return [
        [
            w.webhook_id,
            w.flavor,
            w.name or w.model_name or "(all models)",
            w.status,
            ",".join(w.events),
            w.url,
        ]
        for w in hooks
    ]


def cmd_list(c: Client, args: argparse.Namespace) -> None:
    hooks = [] if args.model else list(c.list_webhooks(max_results=1000).items)
    hooks += c.list_registry_webhooks(model_name=args.model, max_results=1000).items
    emit(
        args,
        hooks,
        lambda: table(["ID", "KIND", "NAME/MODEL", "STATUS", "EVENTS", "URL"], _rows(hooks)),
    )


def cmd_create(c: Client, args: argparse.Namespace) -> None:
    secret = os.environ.get(args.secret_env) if args.secret_env else None
    if args.secret_env and not secret:
        raise UsageError(f"webhooks create: ${args.secret_env} is empty or not set")
    kinds = {_is_mlflow_event(e) for e in args.event}
    if len(kinds) > 1:
        raise UsageError("webhooks create: mix of MLflow (a.b) and Databricks (A_B) event names")
    if kinds == {True}:
        if not args.name:
            raise UsageError("webhooks create: --name is required for MLflow events")
        if args.model:
            raise UsageError("webhooks create: MLflow webhooks are registry-wide; drop --model")
        hook = c.create_webhook(
            args.name, args.url, args.event, description=args.description, secret=secret
        )
    else:
        hook = c.create_registry_webhook(
            args.event,
            args.url,
            model_name=args.model,
            description=args.description,
            secret=secret,
        )
    emit(args, hook, lambda: f"created webhook {hook.webhook_id} ({hook.flavor})")


def cmd_status(c: Client, args: argparse.Namespace) -> None:
    status = "ACTIVE" if args.webhooks_command == "enable" else "DISABLED"
    if _kind(c, args.id) == "mlflow":
        hook = c.update_webhook(args.id, status=status)
    else:
        hook = c.update_registry_webhook(args.id, status=status)
    emit(args, hook, lambda: f"webhook {hook.webhook_id} is {hook.status}")


def cmd_delete(c: Client, args: argparse.Namespace) -> None:
    if _kind(c, args.id) == "mlflow":
        c.delete_webhook(args.id)
    else:
        c.delete_registry_webhook(args.id)
    emit(args, {"id": args.id, "deleted": True}, lambda: f"deleted webhook {args.id}")


def cmd_test(c: Client, args: argparse.Namespace) -> None:
    if _kind(c, args.id) == "mlflow":
        result = c.test_webhook(args.id, args.event)
        status, body = result.get("response_status"), result.get("response_body")
        error = result.get("error_message")
    else:
        result = c.test_registry_webhook(args.id, args.event)
        status, body, error = result.get("status_code"), result.get("body"), None
    emit(
        args,
        result,
        lambda: error or f"receiver answered {status}" + (f": {body[:200]}" if body else ""),
    )


def cmd_deliveries(c: Client, args: argparse.Namespace) -> None:
    page = c.list_webhook_deliveries(args.id, max_results=args.max_results)

    def human() -> str:
        rows = []
        for d in page.items:
            last = d.attempt_log[-1] if d.attempt_log else None
            outcome = None
            if last is not None:
                outcome = last.error or f"HTTP {last.status_code} in {last.latency_ms} ms"
            rows.append(
                [
                    d.delivery_id,
                    when(d.created_at),
                    d.event_name,
                    f"{d.event.model_name}" + (f" v{d.event.version}" if d.event.version else ""),
                    d.status.upper(),
                    d.attempts,
                    outcome,
                ]
            )
        return table(["DELIVERY", "TIME", "EVENT", "MODEL", "STATUS", "ATTEMPTS", "LAST"], rows)

    emit(args, page.items, human)


def cmd_redeliver(c: Client, args: argparse.Namespace) -> None:
    d = c.redeliver_webhook(args.id, args.delivery_id)
    emit(args, d, lambda: f"delivery {d.delivery_id} queued again")


def add_webhook_commands(sub: SubParsers) -> None:
    tree = CommandTree(sub)
    g = tree.group(
        "webhooks", "Webhooks on registry events: manage them and read their delivery log."
    )

    def command(name: str, fn: Command, text: str, example: str) -> argparse.ArgumentParser:
        return tree.command(g, name, fn, text, example=example)

    q = command(
        "list",
        cmd_list,
        "List webhooks of both kinds.",
        "modelyard webhooks list --model mnist_test",
    )
    q.add_argument("--model", help="only this model's (Databricks-style) webhooks")
    q = command(
        "create",
        cmd_create,
        "Create a webhook.",
        "HOOK_SECRET=... modelyard webhooks create --url https://ci.example.com/deploy "
        "--event MODEL_VERSION_TRANSITIONED_TO_PRODUCTION --model mnist_test "
        "--secret-env HOOK_SECRET",
    )
    q.add_argument("--url", required=True, help="https URL the server POSTs to")
    q.add_argument(
        "--event",
        action="append",
        required=True,
        metavar="EVENT",
        help="repeatable: model_version.created, ... (MLflow) or "
        "MODEL_VERSION_TRANSITIONED_TO_PRODUCTION, ... (Databricks)",
    )
    q.add_argument("--name", help="name (MLflow-style webhooks)")
    q.add_argument("--model", help="only this model's events (Databricks-style webhooks)")
    q.add_argument("--description")
    q.add_argument(
        "--secret-env",
        metavar="VAR",
        help="environment variable holding the signing secret (kept off the command line)",
    )
    for name, text in (("enable", "Activate a webhook."), ("disable", "Disable a webhook.")):
        command(name, cmd_status, text, f"modelyard webhooks {name} ID").add_argument(
            "id", metavar="ID", help="the webhook's id (see modelyard webhooks list)"
        )
    command("delete", cmd_delete, "Delete a webhook.", "modelyard webhooks delete ID").add_argument(
        "id", metavar="ID", help="the webhook's id (see modelyard webhooks list)"
    )
    q = command(
        "test",
        cmd_test,
        "Send an example event now and show the answer.",
        "modelyard webhooks test ID --event MODEL_VERSION_TRANSITIONED_TO_PRODUCTION",
    )
    q.add_argument("id", metavar="ID", help="the webhook's id (see modelyard webhooks list)")
    q.add_argument("--event", help="which event to pretend (default: the first subscribed)")
    q = command(
        "deliveries",
        cmd_deliveries,
        "Show a webhook's delivery log, newest first.",
        "modelyard webhooks deliveries ID --max-results 20",
    )
    q.add_argument("id", metavar="ID", help="the webhook's id (see modelyard webhooks list)")
    q.add_argument("--max-results", type=int, default=50, metavar="N")
    q = command(
        "redeliver",
        cmd_redeliver,
        "Send a delivery again (same delivery id).",
        "modelyard webhooks redeliver ID DELIVERY_ID",
    )
    q.add_argument("id", metavar="ID", help="the webhook's id (see modelyard webhooks list)")
    q.add_argument(
        "delivery_id", metavar="DELIVERY_ID", help="the delivery's id (see ... deliveries ID)"
    )
