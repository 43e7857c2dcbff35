"""The contract behind MLflow's `experiments/search-datasets`: which datasets
the runs of some experiments used, and in what context (training, eval, ...)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DatasetSummary:
    experiment_id: str
    name: str
    digest: str
    # The `mlflow.data.context` tag of the run input, when it has one.
    context: str | None


class DatasetSummaryStore(ABC):
    @abstractmethod
    def search_dataset_summaries(
        self, experiment_ids: Sequence[int], limit: int
    ) -> list[DatasetSummary]:
        """Distinct (experiment, name, digest, context) of the datasets logged as
        run inputs in these experiments, at most `limit` of them."""
