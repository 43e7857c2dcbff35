"""Webhook entities and the registry's event vocabulary.

One registry change is one *event* (`RegistryEvent`, written to the outbox in
the change's transaction). Subscribers speak one of two dialects, each with
its own event names: MLflow's (`model_version.created`, ...) and Databricks'
registry webhooks (`MODEL_VERSION_TRANSITIONED_TO_PRODUCTION`, ...).
`subscriber_names` says which names of both dialects an event answers to, so
the outbox can match subscriptions with one indexed `IN (...)`.

Frozen dataclasses, no JSON or SQL here; times are milliseconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class RegistryEvent:
    """The canonical events the registry (and approvals) emit."""

    REGISTERED_MODEL_CREATED = "registered_model.created"
    MODEL_VERSION_CREATED = "model_version.created"
    MODEL_VERSION_TAG_SET = "model_version_tag.set"
    MODEL_VERSION_TAG_DELETED = "model_version_tag.deleted"
    MODEL_VERSION_ALIAS_CREATED = "model_version_alias.created"
    MODEL_VERSION_ALIAS_DELETED = "model_version_alias.deleted"
    # data: from_stage, to_stage, cause ("request", "displaced", "rollback"), comment
    MODEL_VERSION_TRANSITIONED = "model_version.transitioned"
    # data: from_stage, to_stage, comment (emitted by approvals)
    TRANSITION_REQUEST_CREATED = "transition_request.created"
    # data: comment (emitted by approvals)
    COMMENT_CREATED = "comment.created"
    ALL = (
        REGISTERED_MODEL_CREATED,
        MODEL_VERSION_CREATED,
        MODEL_VERSION_TAG_SET,
        MODEL_VERSION_TAG_DELETED,
        MODEL_VERSION_ALIAS_CREATED,
        MODEL_VERSION_ALIAS_DELETED,
        MODEL_VERSION_TRANSITIONED,
        TRANSITION_REQUEST_CREATED,
        COMMENT_CREATED,
    )


class Flavor:
    """Which API created a webhook, and so which payload and signature it gets."""

    MLFLOW = "mlflow"
    DATABRICKS = "databricks"


class WebhookStatus:
    ACTIVE = "ACTIVE"
    DISABLED = "DISABLED"
    # Databricks: fires only through the test endpoint.
    TEST_MODE = "TEST_MODE"


# The events MLflow's webhook API accepts (prompt events are not registry events here).
MLFLOW_EVENTS = (
    RegistryEvent.REGISTERED_MODEL_CREATED,
    RegistryEvent.MODEL_VERSION_CREATED,
    RegistryEvent.MODEL_VERSION_TAG_SET,
    RegistryEvent.MODEL_VERSION_TAG_DELETED,
    RegistryEvent.MODEL_VERSION_ALIAS_CREATED,
    RegistryEvent.MODEL_VERSION_ALIAS_DELETED,
)

DATABRICKS_EVENTS = (
    "MODEL_VERSION_CREATED",
    "MODEL_VERSION_TRANSITIONED_STAGE",
    "TRANSITION_REQUEST_CREATED",
    "COMMENT_CREATED",
    "REGISTERED_MODEL_CREATED",
    "MODEL_VERSION_TAG_SET",
    "MODEL_VERSION_TRANSITIONED_TO_STAGING",
    "MODEL_VERSION_TRANSITIONED_TO_PRODUCTION",
    "MODEL_VERSION_TRANSITIONED_TO_ARCHIVED",
    "TRANSITION_REQUEST_TO_STAGING_CREATED",
    "TRANSITION_REQUEST_TO_PRODUCTION_CREATED",
    "TRANSITION_REQUEST_TO_ARCHIVED_CREATED",
)

_DATABRICKS_PLAIN = {
    RegistryEvent.REGISTERED_MODEL_CREATED: "REGISTERED_MODEL_CREATED",
    RegistryEvent.MODEL_VERSION_CREATED: "MODEL_VERSION_CREATED",
    RegistryEvent.MODEL_VERSION_TAG_SET: "MODEL_VERSION_TAG_SET",
    RegistryEvent.COMMENT_CREATED: "COMMENT_CREATED",
}
_STAGE_WORD = {"Staging": "STAGING", "Production": "PRODUCTION", "Archived": "ARCHIVED"}


def subscriber_names(event: str, data: Mapping[str, Any]) -> tuple[str, ...]:
    """Every subscription name, in either dialect, that `event` triggers.

    A promotion to Production is one event; a Databricks subscriber may have
    asked for it as `MODEL_VERSION_TRANSITIONED_STAGE` or as
    `MODEL_VERSION_TRANSITIONED_TO_PRODUCTION` (each gets its own delivery).
    """
    names: list[str] = []
    if event in MLFLOW_EVENTS:
        names.append(event)
    if event in _DATABRICKS_PLAIN:
        names.append(_DATABRICKS_PLAIN[event])
    word = _STAGE_WORD.get(str(data.get("to_stage")))
    if event == RegistryEvent.MODEL_VERSION_TRANSITIONED:
        names.append("MODEL_VERSION_TRANSITIONED_STAGE")
        if word:
            names.append(f"MODEL_VERSION_TRANSITIONED_TO_{word}")
    elif event == RegistryEvent.TRANSITION_REQUEST_CREATED:
        names.append("TRANSITION_REQUEST_CREATED")
        if word:
            names.append(f"TRANSITION_REQUEST_TO_{word}_CREATED")
    return tuple(names)


@dataclass(frozen=True, slots=True)
class Webhook:
    """A subscriber. Secrets never leave the store decrypted except to sign."""

    webhook_id: str
    flavor: str
    name: str | None
    url: str
    events: tuple[str, ...]
    status: str
    creation_timestamp: int
    last_updated_timestamp: int
    description: str | None = None
    model_name: str | None = None  # Databricks: None means registry-wide
    has_secret: bool = False
    has_authorization: bool = False
    verify_tls: bool = True
    created_by: str | None = None


@dataclass(frozen=True, slots=True)
class WebhookCredentials:
    """Decrypted secret and Authorization header, for signing one request."""

    secret: str | None = None
    authorization: str | None = None


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """One registry change as the outbox recorded it."""

    event_id: int
    event: str
    model_name: str
    version: int | None
    user_id: str | None
    timestamp: int
    data: Mapping[str, Any] = field(default_factory=dict)


class DeliveryStatus:
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Attempt:
    number: int
    started_at: int
    latency_ms: int
    status_code: int | None
    response_body: str | None
    error: str | None


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event for one webhook under one subscribed name; its id is stable
    across retries and redeliveries, so receivers can de-duplicate."""

    delivery_id: str
    webhook_id: str
    event_name: str
    status: str
    attempts: int
    created_at: int
    next_attempt_at: int | None
    finished_at: int | None
    event: OutboxEvent
    attempt_log: tuple[Attempt, ...] = ()


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery leased to this process for one attempt."""

    delivery: Delivery
    webhook: Webhook
    # Ciphertexts as stored; the service decrypts them just before signing.
    secret_token: str | None
    authorization_token: str | None
    lease_token: str
