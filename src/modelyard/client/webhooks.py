"""Webhook calls of the light client, mixed into `Client`.

MLflow-style webhooks (`create_webhook`, ...: MLflow's names and arguments,
events as `"model_version.created"` strings) and Databricks-style registry
webhooks (`create_registry_webhook`, ...: per model, stage events), plus
modelyard's delivery log and redelivery, which serve both kinds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from modelyard.client.rest import Json, Rest
from modelyard.entities import Page
from modelyard.webhook_entities import (
    Attempt,
    Delivery,
    Flavor,
    OutboxEvent,
    Webhook,
)


def _mlflow_webhook(d: Json) -> Webhook:
    return Webhook(
        webhook_id=str(d["webhook_id"]),
        flavor=Flavor.MLFLOW,
        name=d.get("name"),
        url=str(d.get("url", "")),
        events=tuple(
            f"{e.get('entity', '').lower()}.{e.get('action', '').lower()}"
            for e in d.get("events") or ()
        ),
        status=str(d.get("status", "ACTIVE")),
        creation_timestamp=int(d.get("creation_timestamp", 0)),
        last_updated_timestamp=int(d.get("last_updated_timestamp", 0)),
        description=d.get("description"),
    )


def _registry_webhook(d: Json) -> Webhook:
    spec = d.get("http_url_spec") or {}
    return Webhook(
        webhook_id=str(d["id"]),
        flavor=Flavor.DATABRICKS,
        name=None,
        url=str(spec.get("url", "")),
        events=tuple(d.get("events") or ()),
        status=str(d.get("status", "ACTIVE")),
        creation_timestamp=int(d.get("creation_timestamp", 0)),
        last_updated_timestamp=int(d.get("last_updated_timestamp", 0)),
        description=d.get("description"),
        model_name=d.get("model_name"),
        verify_tls=bool(spec.get("enable_ssl_verification", True)),
    )


def _delivery(d: Json) -> Delivery:
    version = d.get("version")
    return Delivery(
        delivery_id=str(d["delivery_id"]),
        webhook_id=str(d["webhook_id"]),
        event_name=str(d.get("event", "")),
        status=str(d.get("status", "")).lower(),
        attempts=int(d.get("attempts", 0)),
        created_at=int(d.get("created_at", 0)),
        next_attempt_at=d.get("next_attempt_at"),
        finished_at=d.get("finished_at"),
        event=OutboxEvent(
            event_id=0,
            event=str(d.get("event", "")),
            model_name=str(d.get("model_name", "")),
            version=None if version is None else int(version),
            user_id=None,
            timestamp=int(d.get("created_at", 0)),
        ),
        attempt_log=tuple(
            Attempt(
                number=int(a.get("attempt", 0)),
                started_at=int(a.get("time", 0)),
                latency_ms=int(a.get("latency_ms", 0)),
                status_code=a.get("status_code"),
                response_body=a.get("response_body"),
                error=a.get("error"),
            )
            for a in d.get("attempt_log") or ()
        ),
    )


def _events_json(events: Sequence[str]) -> list[Json]:
    out = []
    for e in events:
        entity, _, action = e.partition(".")
        out.append({"entity": entity.upper(), "action": action.upper()})
    return out


class WebhookCalls:
    rest: Rest

    # -- MLflow-style ------------------------------------------------------------
    def create_webhook(
        self,
        name: str,
        url: str,
        events: Sequence[str],
        description: str | None = None,
        secret: str | None = None,
        status: str | None = None,
    ) -> Webhook:
        body: Json = {
            "name": name,
            "url": url,
            "events": _events_json(events),
            "description": description,
            "secret": secret,
            "status": status,
        }
        return _mlflow_webhook(self.rest.mlflow("POST", "webhooks", body)["webhook"])

    def get_webhook(self, webhook_id: str) -> Webhook:
        return _mlflow_webhook(self.rest.mlflow("GET", f"webhooks/{webhook_id}")["webhook"])

    def list_webhooks(
        self, max_results: int | None = None, page_token: str | None = None
    ) -> Page[Webhook]:
        answer = self.rest.mlflow(
            "GET", "webhooks", {"max_results": max_results, "page_token": page_token}
        )
        items = [_mlflow_webhook(w) for w in answer.get("webhooks") or ()]
        return Page(items, answer.get("next_page_token"))

    def update_webhook(
        self,
        webhook_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        url: str | None = None,
        events: Sequence[str] | None = None,
        secret: str | None = None,
        status: str | None = None,
    ) -> Webhook:
        body: Json = {
            "name": name,
            "description": description,
            "url": url,
            "events": None if events is None else _events_json(events),
            "secret": secret,
            "status": status,
        }
        return _mlflow_webhook(self.rest.mlflow("PATCH", f"webhooks/{webhook_id}", body)["webhook"])

    def delete_webhook(self, webhook_id: str) -> None:
        self.rest.mlflow("DELETE", f"webhooks/{webhook_id}")

    def test_webhook(self, webhook_id: str, event: str | None = None) -> Json:
        """`{"success", "response_status", "response_body", "error_message"}`."""
        body: Json = {"event": _events_json([event])[0] if event else None}
        return dict(self.rest.mlflow("POST", f"webhooks/{webhook_id}/test", body)["result"])

    # -- Databricks-style ----------------------------------------------------------
    def create_registry_webhook(
        self,
        events: Sequence[str],
        url: str,
        *,
        model_name: str | None = None,
        description: str | None = None,
        secret: str | None = None,
        authorization: str | None = None,
        enable_ssl_verification: bool | None = None,
        status: str | None = None,
    ) -> Webhook:
        spec: dict[str, Any] = {"url": url}
        for key, value in (
            ("secret", secret),
            ("authorization", authorization),
            ("enable_ssl_verification", enable_ssl_verification),
        ):
            if value is not None:
                spec[key] = value
        body: Json = {
            "events": list(events),
            "http_url_spec": spec,
            "model_name": model_name,
            "description": description,
            "status": status,
        }
        answer = self.rest.mlflow("POST", "registry-webhooks/create", body)
        return _registry_webhook(answer["webhook"])

    def list_registry_webhooks(
        self,
        model_name: str | None = None,
        events: Sequence[str] = (),
        max_results: int | None = None,
        page_token: str | None = None,
    ) -> Page[Webhook]:
        answer = self.rest.mlflow(
            "GET",
            "registry-webhooks/list",
            {
                "model_name": model_name,
                "events": list(events) or None,
                "max_results": max_results,
                "page_token": page_token,
            },
        )
        items = [_registry_webhook(w) for w in answer.get("webhooks") or ()]
        return Page(items, answer.get("next_page_token"))

    def update_registry_webhook(
        self,
        webhook_id: str,
        *,
        events: Sequence[str] | None = None,
        description: str | None = None,
        status: str | None = None,
        url: str | None = None,
    ) -> Webhook:
        body: Json = {
            "id": webhook_id,
            "events": None if events is None else list(events),
            "description": description,
            "status": status,
            "http_url_spec": None if url is None else {"url": url},
        }
        answer = self.rest.mlflow("PATCH", "registry-webhooks/update", body)
        return _registry_webhook(answer["webhook"])

    def delete_registry_webhook(self, webhook_id: str) -> None:
        self.rest.mlflow("DELETE", "registry-webhooks/delete", {"id": webhook_id})

    def test_registry_webhook(self, webhook_id: str, event: str | None = None) -> Json:
        """`{"status_code", "body"}` as the receiver answered."""
        return self.rest.mlflow(
            "POST", "registry-webhooks/test", {"id": webhook_id, "event": event}
        )

    # -- the delivery log (either kind) ------------------------------------------------
    def list_webhook_deliveries(
        self, webhook_id: str, max_results: int | None = None, page_token: str | None = None
    ) -> Page[Delivery]:
        answer = self.rest.mlflow(
            "GET",
            f"webhooks/{webhook_id}/deliveries",
            {"max_results": max_results, "page_token": page_token},
        )
        return Page(
            [_delivery(d) for d in answer.get("deliveries") or ()],
            answer.get("next_page_token"),
        )

    def redeliver_webhook(self, webhook_id: str, delivery_id: str) -> Delivery:
        answer = self.rest.mlflow(
            "POST", f"webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"
        )
        return _delivery(answer["delivery"])
