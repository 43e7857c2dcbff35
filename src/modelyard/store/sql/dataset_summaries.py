"""`DatasetSummaryStore` on SQLite and PostgreSQL: one read over the dataset
tables of migration 0001 (datasets, run inputs and their tags)."""

from __future__ import annotations

from collections.abc import Sequence

from modelyard.store.dataset_summaries import DatasetSummary, DatasetSummaryStore
from modelyard.store.sql.db import Database
from modelyard.store.sql.search_sql import DATASET_CONTEXT_TAG
from modelyard.store.sql.sql_text import placeholders


class SqlDatasetSummaries(DatasetSummaryStore):
    def __init__(self, db: Database) -> None:
        self.db = db

    def search_dataset_summaries(
        self, experiment_ids: Sequence[int], limit: int
    ) -> list[DatasetSummary]:
        if not experiment_ids:
            return []
        with self.db.read() as tx:
            rows = tx.all(
                "SELECT DISTINCT d.experiment_id, d.name, d.digest, t.value "
                "FROM datasets d "
                "JOIN run_dataset_inputs i ON i.dataset_uuid = d.dataset_uuid "
                "LEFT JOIN run_dataset_input_tags t ON t.run_uuid = i.run_uuid "
                "AND t.dataset_uuid = i.dataset_uuid AND t.key = ? "
                f"WHERE d.experiment_id IN ({placeholders(len(experiment_ids))}) "
                "ORDER BY d.experiment_id, d.name, d.digest, t.value LIMIT ?",
                (DATASET_CONTEXT_TAG, *experiment_ids, limit),
            )
        return [DatasetSummary(str(r[0]), r[1], r[2], r[3]) for r in rows]
