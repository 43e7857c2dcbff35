"""Webhook rules: who may manage which webhook, what a valid one is, tests and
the delivery log. REST (both dialects), the UI and the CLI all come here.

Two dialects share one table. MLflow's webhooks are registry-wide, named,
and subscribe to MLflow's event names; Databricks' registry webhooks may be
scoped to one model and subscribe to Databricks' event names. A webhook is
only visible through the API of the dialect that created it (its payloads
and signature follow that dialect).

Who may manage: a registry-wide webhook needs an admin; a model's own
webhook needs MANAGE on that model (`services.access`; everyone with
authentication off).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from modelyard.entities import Page
from modelyard.errors import InvalidParameterValue, PermissionDenied
from modelyard.search_terms import decode_page_token
from modelyard.service.access import Access
from modelyard.service.registry_validation import result_limit, validate_model_name
from modelyard.service.webhook_payloads import example_event, render
from modelyard.service.webhook_secrets import SecretBox
from modelyard.service.webhook_targets import TargetPolicy, TargetRefused, check_target, send
from modelyard.store.sql.webhooks import SqlWebhookStore, webhook_not_found
from modelyard.webhook_entities import (
    DATABRICKS_EVENTS,
    MLFLOW_EVENTS,
    Delivery,
    Flavor,
    Webhook,
    WebhookCredentials,
    WebhookStatus,
)

LIST_DEFAULT = 100
LIST_MAX = 1000
_NAME = re.compile(r"^(?=.{1,63}$)[a-z0-9]([a-z0-9._-]*[a-z0-9])?$", re.IGNORECASE)
_MAX_URL = 2048
_MAX_DESCRIPTION = 5000


@dataclass(frozen=True, slots=True)
class TestResult:
    success: bool
    status_code: int | None = None
    body: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Changes:
    """An update: None means 'keep'; an empty secret or authorization clears it."""

    name: str | None = None
    description: str | None = None
    url: str | None = None
    events: Sequence[str] | None = None
    secret: str | None = None
    authorization: str | None = None
    verify_tls: bool | None = None
    status: str | None = None


def _require(value: str | None, what: str) -> str:
    if value is None or not str(value).strip():
        raise InvalidParameterValue(f"Missing value for required parameter '{what}'.")
    return str(value)


def _events(values: Sequence[str] | None, flavor: str) -> tuple[str, ...]:
    allowed = MLFLOW_EVENTS if flavor == Flavor.MLFLOW else DATABRICKS_EVENTS
    if not values:
        raise InvalidParameterValue(
            f"Webhook events cannot be empty: give one or more of {', '.join(allowed)}."
        )
    unknown = [e for e in values if e not in allowed]
    if unknown:
        raise InvalidParameterValue(
            f"Unknown webhook event(s) {', '.join(map(repr, unknown))}. "
            f"Valid events are: {', '.join(allowed)}."
        )
    return tuple(dict.fromkeys(values))


def _status(value: str | None, flavor: str) -> str:
    allowed = (
        (WebhookStatus.ACTIVE, WebhookStatus.DISABLED)
        if flavor == Flavor.MLFLOW
        else (WebhookStatus.ACTIVE, WebhookStatus.DISABLED, WebhookStatus.TEST_MODE)
    )
    status = (value or WebhookStatus.ACTIVE).upper()
    if status not in allowed:
        raise InvalidParameterValue(
            f"Invalid webhook status {value!r}: use one of {', '.join(allowed)}."
        )
    return status


def _name(value: str | None) -> str:
    name = _require(value, "name")
    if not _NAME.fullmatch(name):
        raise InvalidParameterValue(
            f"Webhook name {name!r} is invalid. It must start and end with a letter or digit, "
            "be less than 63 characters long, and contain only letters, digits, dots (.), "
            "underscores (_), and hyphens (-)."
        )
    return name


def _description(value: str | None) -> str | None:
    if value is not None and len(value) > _MAX_DESCRIPTION:
        raise InvalidParameterValue(
            f"Webhook description is {len(value)} characters long; at most "
            f"{_MAX_DESCRIPTION} are allowed."
        )
    return value or None


class WebhookService:
    def __init__(
        self,
        store: SqlWebhookStore,
        secrets: SecretBox,
        policy: TargetPolicy,
        access: Callable[[], Access],
        *,
        clock: Callable[[], int],
        new_id: Callable[[], str],
    ) -> None:
        self.store = store
        self.secrets = secrets
        self.policy = policy
        # Asked on every call: authentication may replace services.access after wiring.
        self._access = access
        self.clock = clock
        self.new_id = new_id

    @property
    def access(self) -> Access:
        return self._access()

    # -- permission -------------------------------------------------------------
    def may_manage(self, user: str | None, model_name: str | None) -> bool:
        if self.access.is_admin(user):
            return True
        return model_name is not None and self.access.can_manage_model(user, model_name)

    def _require_manage(self, user: str | None, model_name: str | None) -> None:
        if self.may_manage(user, model_name):
            return
        if model_name is None:
            raise PermissionDenied(
                f"User '{user}' may not manage registry-wide webhooks: that needs an admin."
            )
        raise PermissionDenied(
            f"User '{user}' may not manage webhooks of registered model '{model_name}': "
            "that needs the MANAGE permission on the model (an admin can grant it)."
        )

    def _url(self, url: str | None) -> str:
        value = _require(url, "url").strip()
        if len(value) > _MAX_URL:
            raise InvalidParameterValue(f"Webhook URL is longer than {_MAX_URL} characters.")
        check_target(value, self.policy)
        return value

    # -- create / read / update / delete ------------------------------------------
    def create(
        self,
        user: str | None,
        flavor: str,
        *,
        url: str | None,
        events: Sequence[str] | None,
        name: str | None = None,
        description: str | None = None,
        model_name: str | None = None,
        secret: str | None = None,
        authorization: str | None = None,
        verify_tls: bool | None = None,
        status: str | None = None,
    ) -> Webhook:
        if flavor == Flavor.MLFLOW:
            name = _name(name)
        elif model_name is not None:
            model_name = validate_model_name(model_name)
        checked_events = _events(events, flavor)
        if model_name is not None and "REGISTERED_MODEL_CREATED" in checked_events:
            raise InvalidParameterValue(
                "REGISTERED_MODEL_CREATED can only be used by a registry-wide webhook: "
                "leave model_name out."
            )
        self._require_manage(user, model_name)
        now = self.clock()
        webhook = Webhook(
            webhook_id=self.new_id(),
            flavor=flavor,
            name=name,
            url=self._url(url),
            events=checked_events,
            status=_status(status, flavor),
            creation_timestamp=now,
            last_updated_timestamp=now,
            description=_description(description),
            model_name=model_name,
            verify_tls=True if verify_tls is None else verify_tls,
            created_by=user,
        )
        return self.store.create_webhook(
            webhook,
            self.secrets.seal(secret),
            self.secrets.seal(authorization, "an authorization header"),
        )

    def get(self, user: str | None, webhook_id: str | None, flavor: str | None) -> Webhook:
        webhook = self.store.get_webhook(_require(webhook_id, "id"), flavor)
        if not self.may_manage(user, webhook.model_name):
            # Not revealing other people's webhooks: as if it did not exist.
            raise webhook_not_found(webhook.webhook_id)
        return webhook

    def list(
        self,
        user: str | None,
        flavor: str | None,
        *,
        model_name: str | None = None,
        events: Sequence[str] = (),
        max_results: int | None = None,
        page_token: str | None = None,
    ) -> Page[Webhook]:
        limit = result_limit(max_results, LIST_DEFAULT, LIST_MAX)
        if flavor is not None and events:
            _events(events, flavor)
        page = self.store.list_webhooks(
            flavor,
            model_name=model_name,
            events=events,
            max_results=limit,
            offset=decode_page_token(page_token),
        )
        if self.access.is_admin(user):
            return page
        # Pages may come out short for non-admins; the tokens stay right.
        visible = [w for w in page.items if self.may_manage(user, w.model_name)]
        return Page(visible, page.next_page_token)

    def update(
        self, user: str | None, webhook_id: str | None, flavor: str, changes: Changes
    ) -> Webhook:
        current = self.get(user, webhook_id, flavor)
        fields: dict[str, Any] = {}
        if changes.name is not None and flavor == Flavor.MLFLOW:
            fields["name"] = _name(changes.name)
        if changes.description is not None:
            fields["description"] = _description(changes.description)
        if changes.url is not None:
            fields["url"] = self._url(changes.url)
        if changes.status is not None:
            fields["status"] = _status(changes.status, flavor)
        if changes.secret is not None:
            fields["secret_token"] = self.secrets.seal(changes.secret)
        if changes.authorization is not None:
            fields["authorization_token"] = self.secrets.seal(
                changes.authorization, "an authorization header"
            )
        if changes.verify_tls is not None:
            fields["verify_tls"] = 1 if changes.verify_tls else 0
        events = None if not changes.events else _events(changes.events, flavor)
        if current.model_name is not None and events and "REGISTERED_MODEL_CREATED" in events:
            raise InvalidParameterValue(
                "REGISTERED_MODEL_CREATED can only be used by a registry-wide webhook."
            )
        return self.store.update_webhook(
            current.webhook_id, flavor, self.clock(), fields=fields, events=events
        )

    def delete(self, user: str | None, webhook_id: str | None, flavor: str) -> None:
        current = self.get(user, webhook_id, flavor)
        self.store.delete_webhook(current.webhook_id, flavor)

    # -- test ---------------------------------------------------------------------
    def test(
        self, user: str | None, webhook_id: str | None, flavor: str, event: str | None = None
    ) -> TestResult:
        """Send an example event now (also to DISABLED and TEST_MODE webhooks) and
        report the answer; nothing is queued or retried."""
        webhook = self.get(user, webhook_id, flavor)
        if event is not None:
            _events([event], flavor)
        name = event or webhook.events[0]
        now = self.clock()
        secret_token, auth_token = self.store.credentials(webhook.webhook_id)
        credentials = WebhookCredentials(
            self.secrets.open(secret_token), self.secrets.open(auth_token)
        )
        body, headers = render(
            webhook, example_event(webhook, name, now), name, self.new_id(), credentials, now
        )
        try:
            result = send(
                webhook.url, body, headers, policy=self.policy, verify_tls=webhook.verify_tls
            )
        except TargetRefused as exc:
            return TestResult(False, error=f"Failed to test webhook: {exc.message}")
        except Exception as exc:
            return TestResult(False, error=f"Failed to test webhook: {type(exc).__name__}: {exc}")
        text = result.body.decode("utf-8", "replace")
        return TestResult(result.status_code < 400, result.status_code, text)

    # -- delivery log ---------------------------------------------------------------
    def deliveries(
        self,
        user: str | None,
        webhook_id: str | None,
        *,
        max_results: int | None = None,
        page_token: str | None = None,
    ) -> Page[Delivery]:
        webhook = self.get(user, webhook_id, None)
        return self.store.list_deliveries(
            webhook.webhook_id,
            max_results=result_limit(max_results, LIST_DEFAULT, LIST_MAX),
            offset=decode_page_token(page_token),
        )

    def redeliver(
        self, user: str | None, webhook_id: str | None, delivery_id: str | None
    ) -> Delivery:
        webhook = self.get(user, webhook_id, None)
        return self.store.redeliver(
            webhook.webhook_id, _require(delivery_id, "delivery_id"), self.clock()
        )

    # -- start-up -------------------------------------------------------------------
    def rotate_secrets(self) -> int:
        """Re-encrypt every stored secret under the first key; refuses to start
        (with the reason) when a stored secret cannot be read."""
        rows = self.store.all_tokens()
        if not rows:
            return 0
        self.store.replace_tokens(
            [(wid, self.secrets.rotate(s), self.secrets.rotate(a)) for wid, s, a in rows]
        )
        return len(rows)


def mlflow_event_name(entity: str | None, action: str | None) -> str:
    """`{"entity": "MODEL_VERSION", "action": "CREATED"}` -> `model_version.created`."""
    if not entity or not action:
        raise InvalidParameterValue(
            "Each webhook event needs an entity and an action, e.g. "
            '{"entity": "model_version", "action": "created"}.'
        )
    return f"{entity.lower()}.{action.lower()}"


def wire(services: Any) -> None:
    """Build the webhook service and this process's deliverer (started by the
    app's lifespan), and re-encrypt stored secrets under the current key."""
    from modelyard.service.webhook_delivery import Deliverer, DeliveryConfig

    settings = services.settings
    policy = TargetPolicy(
        allow_http=settings.webhook_allow_http,
        allow_private=settings.webhook_allow_private,
        timeout_s=float(settings.webhook_timeout),
    )
    store = SqlWebhookStore(services.db)
    secrets = SecretBox(settings.secret_key)
    services.webhooks = WebhookService(
        store,
        secrets,
        policy,
        lambda: services.access,
        clock=services.clock,
        new_id=services.new_id,
    )
    services.extra["webhook_deliverer"] = Deliverer(
        store,
        secrets,
        DeliveryConfig(
            policy=policy,
            retry_base_ms=settings.webhook_retry_base_ms,
            retry_window_ms=settings.webhook_retry_hours * 3_600_000,
            poll_ms=settings.webhook_poll_ms,
            keep_log_ms=settings.webhook_log_days * 86_400_000,
        ),
        clock=services.clock,
        before_start=services.webhooks.rotate_secrets,
    )
