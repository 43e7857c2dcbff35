"""The logged-model store contract (MLflow 3 logged models), part of the registry store.

Storage-shaped like the rest of the registry contract: ids in, entities out,
`ResourceDoesNotExist` in MLflow's words for what is missing.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from modelyard.entities import Page, Param, Tag
from modelyard.registry_entities import LoggedModel
from modelyard.search_terms import Comparison, OrderKey


class LoggedModelStore(ABC):
    @abstractmethod
    def create_logged_model(self, model: LoggedModel) -> None: ...

    @abstractmethod
    def ensure_logged_model(self, model: LoggedModel) -> LoggedModel:
        """Insert `model` unless its id exists; return what is stored. Used to
        materialise run-folder models, which have deterministic ids."""

    @abstractmethod
    def get_logged_model(self, model_id: str, allow_deleted: bool = False) -> LoggedModel: ...

    @abstractmethod
    def finalize_logged_model(self, model_id: str, status: str, now: int) -> LoggedModel: ...

    @abstractmethod
    def delete_logged_model(self, model_id: str, now: int) -> None: ...

    @abstractmethod
    def set_logged_model_tags(self, model_id: str, tags: Sequence[Tag], now: int) -> None: ...

    @abstractmethod
    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        """Raises `ResourceDoesNotExist` when the tag is absent (MLflow does)."""

    @abstractmethod
    def log_logged_model_params(self, model_id: str, params: Sequence[Param]) -> None: ...

    @abstractmethod
    def search_logged_models(
        self,
        experiment_ids: Sequence[str],
        filters: Sequence[Comparison],
        order_by: Sequence[OrderKey],
        max_results: int,
        offset: int,
        datasets: Sequence[dict[str, Any]] = (),
    ) -> Page[LoggedModel]:
        """Active models of the experiments; run-folder models are left out
        (the service offers those itself, see service.logged_models).
        `datasets` ({"dataset_name", optional "dataset_digest"}) keeps the
        models with a metric on one of them and scopes metric filters."""

    @abstractmethod
    def count_logged_models(
        self,
        experiment_ids: Sequence[str],
        filters: Sequence[Comparison],
        datasets: Sequence[dict[str, Any]] = (),
    ) -> int:
        """How many models `search_logged_models` lists in all, over every page."""
