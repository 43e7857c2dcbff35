"""What a receiver gets: the body and headers of one delivery, per dialect.

MLflow receivers get `{entity, action, timestamp, data}` with
`X-MLflow-Delivery-Id`, `X-MLflow-Timestamp` and, with a secret,
`X-MLflow-Signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`,
exactly what `mlflow.webhooks` sends, so a receiver written for MLflow
verifies ours. The delivery id is our stable one (MLflow makes a new id per
send), so a retried delivery can be recognised.

Databricks receivers get `{event, webhook_id, event_timestamp, model_name,
version, ...}` plus a human `text` line (ready for Slack), with
`X-Databricks-Signature: <hex HMAC-SHA256 of the body>` when a secret is set
and the stored `Authorization` header when one is.

The body is rebuilt for every attempt from the outbox row; it is the same
bytes every time (the MLflow timestamp header is the send time, as MLflow's).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from modelyard.webhook_entities import (
    Flavor,
    OutboxEvent,
    RegistryEvent,
    Webhook,
    WebhookCredentials,
)

DELIVERY_ID_HEADER = "X-Modelyard-Delivery-Id"


def mlflow_signature(secret: str, delivery_id: str, timestamp: str, body: bytes) -> str:
    signed = delivery_id.encode() + b"." + timestamp.encode() + b"." + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def databricks_signature(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _version(event: OutboxEvent) -> str | None:
    return None if event.version is None else str(event.version)


def mlflow_data(event: OutboxEvent) -> dict[str, Any]:
    """The `data` MLflow sends for each of its events."""
    d = event.data
    name = event.model_name
    match event.event:
        case RegistryEvent.REGISTERED_MODEL_CREATED:
            return {"name": name, "tags": d.get("tags") or {}, "description": d.get("description")}
        case RegistryEvent.MODEL_VERSION_CREATED:
            return {
                "name": name,
                "version": _version(event),
                "source": d.get("source"),
                "run_id": d.get("run_id") or None,
                "tags": d.get("tags") or {},
                "description": d.get("description") or None,
            }
        case RegistryEvent.MODEL_VERSION_TAG_SET:
            return {
                "name": name,
                "version": _version(event),
                "key": d.get("key"),
                "value": d.get("value"),
            }
        case RegistryEvent.MODEL_VERSION_TAG_DELETED:
            return {"name": name, "version": _version(event), "key": d.get("key")}
        case RegistryEvent.MODEL_VERSION_ALIAS_CREATED:
            return {"name": name, "alias": d.get("alias"), "version": _version(event)}
        case RegistryEvent.MODEL_VERSION_ALIAS_DELETED:
            return {"name": name, "alias": d.get("alias")}
    return {"name": name, "version": _version(event), **d}


def _text(event: OutboxEvent) -> str:
    """One human line per event, for chat channels."""
    d = event.data
    who = f" by {event.user_id}" if event.user_id else ""
    model = f"Registered model '{event.model_name}'"
    version = f"{model} version {event.version}"
    comment = f": {d['comment']}" if d.get("comment") else ""
    match event.event:
        case RegistryEvent.REGISTERED_MODEL_CREATED:
            return f"{model} was created{who}."
        case RegistryEvent.MODEL_VERSION_CREATED:
            return f"{version} was created{who}."
        case RegistryEvent.MODEL_VERSION_TAG_SET:
            return f"Tag '{d.get('key')}' was set to '{d.get('value')}' on {version}{who}."
        case RegistryEvent.MODEL_VERSION_TRANSITIONED if d.get("cause") == "displaced":
            return (
                f"{version} was archived: another version took {d.get('from_stage')}"
                f"{who.replace(' by ', ' (moved by ', 1) + ')' if who else ''}."
            )
        case RegistryEvent.MODEL_VERSION_TRANSITIONED:
            return (
                f"{version} transitioned from {d.get('from_stage')} to "
                f"{d.get('to_stage')}{who}{comment}."
            )
        case RegistryEvent.TRANSITION_REQUEST_CREATED:
            return (
                f"{event.user_id or 'Someone'} requested that {version} transition from "
                f"{d.get('from_stage')} to {d.get('to_stage')}{comment}."
            )
        case RegistryEvent.COMMENT_CREATED:
            return f"{event.user_id or 'Someone'} commented on {version}{comment}."
    return f"{version}: {event.event}{who}."


def databricks_body(event: OutboxEvent, event_name: str, webhook_id: str) -> dict[str, Any]:
    d = event.data
    out: dict[str, Any] = {
        "event": event_name,
        "webhook_id": webhook_id,
        "event_timestamp": event.timestamp,
        "model_name": event.model_name,
    }
    if event.version is not None:
        out["version"] = str(event.version)
    for key in ("from_stage", "to_stage", "comment"):
        if d.get(key) is not None:
            out[key] = d[key]
    if event.event == RegistryEvent.MODEL_VERSION_TAG_SET:
        out["tags"] = [{"key": d.get("key"), "value": d.get("value")}]
    if event.user_id:
        out["user_id"] = event.user_id
    out["text"] = _text(event)
    return out


def render(
    webhook: Webhook,
    event: OutboxEvent,
    event_name: str,
    delivery_id: str,
    credentials: WebhookCredentials,
    now_ms: int,
) -> tuple[bytes, dict[str, str]]:
    """The body and headers for one attempt."""
    headers = {"Content-Type": "application/json"}
    if webhook.flavor == Flavor.MLFLOW:
        entity, _, action = event.event.partition(".")
        payload: Mapping[str, Any] = {
            "entity": entity,
            "action": action,
            "timestamp": datetime.fromtimestamp(event.timestamp / 1000, UTC).isoformat(),
            "data": mlflow_data(event),
        }
        body = json.dumps(payload).encode()
        stamp = str(now_ms // 1000)
        headers["X-MLflow-Delivery-Id"] = delivery_id
        headers["X-MLflow-Timestamp"] = stamp
        if credentials.secret:
            headers["X-MLflow-Signature"] = mlflow_signature(
                credentials.secret, delivery_id, stamp, body
            )
        return body, headers
    body = json.dumps(databricks_body(event, event_name, webhook.webhook_id)).encode()
    headers[DELIVERY_ID_HEADER] = delivery_id
    if credentials.secret:
        headers["X-Databricks-Signature"] = databricks_signature(credentials.secret, body)
    if credentials.authorization:
        headers["Authorization"] = credentials.authorization
    return body, headers


_EXAMPLE: dict[str, dict[str, Any]] = {
    RegistryEvent.REGISTERED_MODEL_CREATED: {
        "tags": {"example_key": "example_value"},
        "description": "An example registered model",
    },
    RegistryEvent.MODEL_VERSION_CREATED: {
        "source": "models:/123",
        "run_id": "abcd1234abcd5678",
        "tags": {"example_key": "example_value"},
        "description": "An example model version",
    },
    RegistryEvent.MODEL_VERSION_TAG_SET: {"key": "example_key", "value": "example_value"},
    RegistryEvent.MODEL_VERSION_TAG_DELETED: {"key": "example_key"},
    RegistryEvent.MODEL_VERSION_ALIAS_CREATED: {"alias": "example_alias"},
    RegistryEvent.MODEL_VERSION_ALIAS_DELETED: {"alias": "example_alias"},
    RegistryEvent.MODEL_VERSION_TRANSITIONED: {
        "from_stage": "Staging",
        "to_stage": "Production",
        "cause": "request",
    },
    RegistryEvent.TRANSITION_REQUEST_CREATED: {
        "from_stage": "Staging",
        "to_stage": "Production",
        "comment": "Ready for production",
    },
    RegistryEvent.COMMENT_CREATED: {"comment": "An example comment"},
}

# Databricks names -> the registry event a test of that name pretends happened.
_DATABRICKS_EXAMPLE = {
    "MODEL_VERSION_CREATED": (RegistryEvent.MODEL_VERSION_CREATED, None),
    "MODEL_VERSION_TRANSITIONED_STAGE": (RegistryEvent.MODEL_VERSION_TRANSITIONED, None),
    "TRANSITION_REQUEST_CREATED": (RegistryEvent.TRANSITION_REQUEST_CREATED, None),
    "COMMENT_CREATED": (RegistryEvent.COMMENT_CREATED, None),
    "REGISTERED_MODEL_CREATED": (RegistryEvent.REGISTERED_MODEL_CREATED, None),
    "MODEL_VERSION_TAG_SET": (RegistryEvent.MODEL_VERSION_TAG_SET, None),
    "MODEL_VERSION_TRANSITIONED_TO_STAGING": (RegistryEvent.MODEL_VERSION_TRANSITIONED, "Staging"),
    "MODEL_VERSION_TRANSITIONED_TO_PRODUCTION": (
        RegistryEvent.MODEL_VERSION_TRANSITIONED,
        "Production",
    ),
    "MODEL_VERSION_TRANSITIONED_TO_ARCHIVED": (
        RegistryEvent.MODEL_VERSION_TRANSITIONED,
        "Archived",
    ),
    "TRANSITION_REQUEST_TO_STAGING_CREATED": (RegistryEvent.TRANSITION_REQUEST_CREATED, "Staging"),
    "TRANSITION_REQUEST_TO_PRODUCTION_CREATED": (
        RegistryEvent.TRANSITION_REQUEST_CREATED,
        "Production",
    ),
    "TRANSITION_REQUEST_TO_ARCHIVED_CREATED": (
        RegistryEvent.TRANSITION_REQUEST_CREATED,
        "Archived",
    ),
}


def example_event(webhook: Webhook, event_name: str, now_ms: int) -> OutboxEvent:
    """A made-up event for the test endpoints (MLflow sends example payloads too)."""
    if webhook.flavor == Flavor.MLFLOW:
        event, stage = event_name, None
    else:
        event, stage = _DATABRICKS_EXAMPLE[event_name]
    data = dict(_EXAMPLE.get(event, {}))
    if stage is not None:
        data["to_stage"] = stage
    has_version = event != RegistryEvent.REGISTERED_MODEL_CREATED
    return OutboxEvent(
        event_id=0,
        event=event,
        model_name=webhook.model_name or "example_model",
        version=1 if has_version else None,
        user_id=None,
        timestamp=now_ms,
        data=data,
    )
