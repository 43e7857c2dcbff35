"""The registry store contract: registered models, versions, aliases, promotion
history; MLflow 3 logged models are in `store/logged_models.py`. Every metadata
backend implements this.

Like the tracking store it is storage-shaped: names and ids in, entities out,
and MLflow's wording for missing things (`ResourceDoesNotExist`). Validation,
defaults and the stage policy are decided by `modelyard.service.registry`,
which passes its decisions in as plain arguments (`archive_others`,
`exclusive`). What the store does own is atomicity: each method is one
transaction, and the operations whose correctness depends on what other
requests are doing at the same moment (handing out version numbers, moving a
version into a stage and archiving the previous holder, rolling back) read
and write inside that one transaction, under a lock on the registered model.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from modelyard.entities import Page, Tag
from modelyard.registry_entities import (
    HistoryEvent,
    ModelVersion,
    RegisteredModel,
    StageHolder,
)
from modelyard.search_terms import Comparison, OrderKey
from modelyard.store.logged_models import LoggedModelStore


@dataclass(frozen=True, slots=True)
class NewModelVersion:
    """What `create_model_version` stores; the number is the store's to give."""

    name: str
    source: str
    storage_location: str | None
    run_id: str | None
    run_link: str | None
    model_id: str | None
    description: str | None
    user_id: str | None
    tags: tuple[Tag, ...] = ()


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asked, when and why: stamped on the history rows a write produces."""

    now: int
    user_id: str | None = None
    comment: str | None = None


class RegistryStore(LoggedModelStore):
    # -- registered models --------------------------------------------------
    @abstractmethod
    def create_registered_model(
        self, name: str, description: str | None, tags: Sequence[Tag], now: int
    ) -> RegisteredModel:
        """Raises `UniqueViolation` when the name is taken."""

    @abstractmethod
    def get_registered_model(self, name: str) -> RegisteredModel: ...

    @abstractmethod
    def rename_registered_model(self, name: str, new_name: str, now: int) -> RegisteredModel:
        """Raises `UniqueViolation` when `new_name` is taken."""

    @abstractmethod
    def update_registered_model(
        self, name: str, description: str | None, now: int
    ) -> RegisteredModel: ...

    @abstractmethod
    def delete_registered_model(self, name: str) -> None:
        """Deletes the model with its versions, tags, aliases and history."""

    @abstractmethod
    def search_registered_models(
        self,
        filters: Sequence[Comparison],
        order_by: Sequence[OrderKey],
        max_results: int,
        offset: int,
        include_prompts: bool,
    ) -> Page[RegisteredModel]: ...

    @abstractmethod
    def get_latest_versions(self, name: str, stages: Sequence[str]) -> list[ModelVersion]:
        """The highest version in each stage; every stage when `stages` is empty."""

    @abstractmethod
    def set_registered_model_tag(self, name: str, tag: Tag) -> None: ...

    @abstractmethod
    def delete_registered_model_tag(self, name: str, key: str) -> None:
        """A missing key is not an error (MLflow's behaviour); a missing model is."""

    # -- aliases --------------------------------------------------------------
    @abstractmethod
    def set_alias(self, name: str, alias: str, version: int, actor: Actor) -> None: ...

    @abstractmethod
    def delete_alias(self, name: str, alias: str, actor: Actor) -> None: ...

    @abstractmethod
    def get_version_by_alias(self, name: str, alias: str) -> ModelVersion | None:
        """None when the model exists but the alias does not."""

    # -- model versions -------------------------------------------------------
    @abstractmethod
    def create_model_version(self, new: NewModelVersion, actor: Actor) -> ModelVersion:
        """Number the version `next_version` and bump the counter in the same
        transaction, so concurrent creators never collide and deleted numbers
        are never handed out again."""

    @abstractmethod
    def get_model_version(self, name: str, version: int) -> ModelVersion: ...

    @abstractmethod
    def update_model_version(
        self, name: str, version: int, description: str | None, now: int
    ) -> ModelVersion: ...

    @abstractmethod
    def delete_model_version(self, name: str, version: int, actor: Actor) -> None: ...

    @abstractmethod
    def transition_stage(
        self,
        name: str,
        version: int,
        stage: str,
        *,
        archive_others: bool,
        exclusive: bool,
        actor: Actor,
        cause: str,
    ) -> ModelVersion:
        """Move a version to `stage`. With `archive_others`, every other holder
        of `stage` becomes Archived in the same transaction. With `exclusive`,
        the version is also marked as the stage's one holder, which the schema
        keeps unique."""

    @abstractmethod
    def rollback_stage(
        self, name: str, stage: str, *, exclusive: bool, actor: Actor
    ) -> ModelVersion:
        """Give `stage` back to the version that held it before the current
        holder (skipping versions deleted since), archiving the current holder.
        Raises `InvalidState` when there is no earlier holder to return to."""

    @abstractmethod
    def search_model_versions(
        self,
        filters: Sequence[Comparison],
        order_by: Sequence[OrderKey],
        max_results: int,
        offset: int,
        include_prompts: bool,
    ) -> Page[ModelVersion]: ...

    @abstractmethod
    def set_model_version_tag(self, name: str, version: int, tag: Tag, now: int) -> None:
        """`now` stamps the webhook event the change emits."""

    @abstractmethod
    def delete_model_version_tag(self, name: str, version: int, key: str, now: int) -> None: ...

    # -- promotion history ----------------------------------------------------
    @abstractmethod
    def list_history(
        self, name: str, version: int | None, max_results: int, offset: int
    ) -> Page[HistoryEvent]:
        """Newest first."""

    @abstractmethod
    def stage_holder(self, name: str, stage: str, at: int) -> StageHolder:
        """Which version held `stage` at time `at`, from the history."""
