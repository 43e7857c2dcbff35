"""The contract for metrics recorded against MLflow 3 logged models.

Separate from the tracking store on purpose: only metrics that name a
`model_id` come here, so the log-batch hot path of plain run metrics neither
knows nor pays for it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from modelyard.entities import Metric


class LoggedModelMetricStore(ABC):
    @abstractmethod
    def missing_models(self, model_ids: Sequence[str]) -> list[str]:
        """The ids among `model_ids` that name no active logged model."""

    @abstractmethod
    def record(self, run_id: str, metrics: Sequence[Metric]) -> None:
        """Store each metric against its `model_id`, with the run it was logged
        from and its dataset; the same (model, key, timestamp, step, run) point
        logged again replaces the earlier value."""
