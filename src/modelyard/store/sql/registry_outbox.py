"""The registry's webhook events, one function per kind of change.

`SqlRegistryStore` calls these inside the transaction that makes the change;
each words the event's details once and hands them to `outbox.emit`, which
queues the deliveries in that same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping

from modelyard.registry_entities import HistoryCause
from modelyard.store.registry import Actor, NewModelVersion
from modelyard.store.sql.db import Tx
from modelyard.store.sql.outbox import emit
from modelyard.webhook_entities import RegistryEvent

PROMPT_TAG = "mlflow.prompt.is_prompt"


def model_created(
    tx: Tx, name: str, now: int, tags: Mapping[str, str], description: str | None
) -> None:
    # MLflow announces prompts as prompt.created, which is not a registry event here.
    if tags.get(PROMPT_TAG, "false").lower() == "true":
        return
    data = {"tags": dict(tags), "description": description}
    emit(tx, RegistryEvent.REGISTERED_MODEL_CREATED, model_name=name, now=now, data=data)


def version_created(
    tx: Tx, new: NewModelVersion, version: int, actor: Actor, tags: Mapping[str, str]
) -> None:
    data = {
        "source": new.source,
        "run_id": new.run_id,
        "tags": dict(tags),
        "description": new.description,
    }
    emit(
        tx,
        RegistryEvent.MODEL_VERSION_CREATED,
        model_name=new.name,
        now=actor.now,
        version=version,
        user=actor.user_id,
        data=data,
    )


def alias_changed(
    tx: Tx, name: str, version: int, alias: str, actor: Actor, *, created: bool
) -> None:
    event = (
        RegistryEvent.MODEL_VERSION_ALIAS_CREATED
        if created
        else RegistryEvent.MODEL_VERSION_ALIAS_DELETED
    )
    emit(
        tx,
        event,
        model_name=name,
        now=actor.now,
        version=version,
        user=actor.user_id,
        data={"alias": alias},
    )


def version_tag_set(tx: Tx, name: str, version: int, key: str, value: str, now: int) -> None:
    data = {"key": key, "value": value}
    emit(
        tx,
        RegistryEvent.MODEL_VERSION_TAG_SET,
        model_name=name,
        now=now,
        version=version,
        data=data,
    )


def version_tag_deleted(tx: Tx, name: str, version: int, key: str, now: int) -> None:
    emit(
        tx,
        RegistryEvent.MODEL_VERSION_TAG_DELETED,
        model_name=name,
        now=now,
        version=version,
        data={"key": key},
    )


def transitioned(
    tx: Tx, name: str, version: int, from_stage: str, to_stage: str, actor: Actor, cause: str
) -> None:
    """A version changed stage: asked for, rolled back, or archived because another
    version took its stage (`cause` says which; only the request carries the comment)."""
    emit(
        tx,
        RegistryEvent.MODEL_VERSION_TRANSITIONED,
        model_name=name,
        now=actor.now,
        version=version,
        user=actor.user_id,
        data={
            "from_stage": from_stage,
            "to_stage": to_stage,
            "cause": cause,
            "comment": actor.comment if cause != HistoryCause.DISPLACED else None,
        },
    )


def transition_requested(
    tx: Tx, name: str, version: int, from_stage: str, to_stage: str, actor: Actor
) -> None:
    """A user asked for a version to move (approvals); the comment is the request's."""
    emit(
        tx,
        RegistryEvent.TRANSITION_REQUEST_CREATED,
        model_name=name,
        now=actor.now,
        version=version,
        user=actor.user_id,
        data={"from_stage": from_stage, "to_stage": to_stage, "comment": actor.comment},
    )


def commented(tx: Tx, name: str, version: int, actor: Actor) -> None:
    emit(
        tx,
        RegistryEvent.COMMENT_CREATED,
        model_name=name,
        now=actor.now,
        version=version,
        user=actor.user_id,
        data={"comment": actor.comment},
    )
