"""Schema of the model registry and of MLflow 3 logged models (migration 0002).

Registered models get a surrogate integer key, so a rename is one row update
and every child table (versions, tags, aliases, history) follows by key.

Two rules are enforced by the schema itself, whatever the code above does:

* Version numbers are never reused: `registered_models.next_version` is
  incremented by the same UPDATE that hands a number out, inside the insert's
  transaction; deleted versions' numbers are thus gone for good.
* One version per exclusive stage: `exclusive_stage` repeats `current_stage`
  for a version holding Staging or Production under the 'exclusive' stage
  policy (NULL otherwise), and a unique index on (model, exclusive_stage)
  makes a second holder impossible on SQLite and PostgreSQL alike. It is a
  separate column, not a partial index on current_stage, because the
  'mlflow' policy legitimately allows several holders.
"""

from __future__ import annotations

# Plain statements, no import of `migrations`: that module appends them to its
# list at import time, and importing it from here would make a cycle.
REGISTRY_MIGRATION_NAME = "0002_registry"

REGISTRY_STATEMENTS: tuple[str, ...] = (
    """CREATE TABLE registered_models (
        model_key {id_pk},
        name TEXT NOT NULL UNIQUE,
        creation_time BIGINT NOT NULL,
        last_updated_time BIGINT NOT NULL,
        description TEXT,
        next_version BIGINT NOT NULL DEFAULT 1
    )""",
    """CREATE TABLE registered_model_tags (
        model_key BIGINT NOT NULL REFERENCES registered_models(model_key) ON DELETE CASCADE,
        key TEXT NOT NULL,
        value TEXT,
        PRIMARY KEY (model_key, key)
    ) {without_rowid}""",
    """CREATE TABLE model_versions (
        model_key BIGINT NOT NULL REFERENCES registered_models(model_key) ON DELETE CASCADE,
        version BIGINT NOT NULL,
        creation_time BIGINT NOT NULL,
        last_updated_time BIGINT NOT NULL,
        description TEXT,
        user_id TEXT,
        current_stage TEXT NOT NULL DEFAULT 'None',
        exclusive_stage TEXT,
        source TEXT NOT NULL,
        storage_location TEXT,
        run_id TEXT,
        run_link TEXT,
        model_id TEXT,
        status TEXT NOT NULL DEFAULT 'READY',
        status_message TEXT,
        PRIMARY KEY (model_key, version)
    ) {without_rowid}""",
    "CREATE UNIQUE INDEX model_versions_one_holder ON model_versions (model_key, exclusive_stage)",
    "CREATE INDEX model_versions_by_stage ON model_versions (model_key, current_stage, version)",
    "CREATE INDEX model_versions_by_run ON model_versions (run_id)",
    "CREATE INDEX model_versions_by_updated ON model_versions (last_updated_time)",
    """CREATE TABLE model_version_tags (
        model_key BIGINT NOT NULL,
        version BIGINT NOT NULL,
        key TEXT NOT NULL,
        value TEXT,
        PRIMARY KEY (model_key, version, key),
        FOREIGN KEY (model_key, version)
            REFERENCES model_versions(model_key, version) ON DELETE CASCADE
    ) {without_rowid}""",
    """CREATE TABLE registered_model_aliases (
        model_key BIGINT NOT NULL,
        alias TEXT NOT NULL,
        version BIGINT NOT NULL,
        PRIMARY KEY (model_key, alias),
        FOREIGN KEY (model_key, version)
            REFERENCES model_versions(model_key, version) ON DELETE CASCADE
    ) {without_rowid}""",
    # The promotion history. Rows outlive the versions they mention (no
    # foreign key on version) but not the registered model.
    """CREATE TABLE registry_history (
        event_id {id_pk},
        model_key BIGINT NOT NULL REFERENCES registered_models(model_key) ON DELETE CASCADE,
        version BIGINT NOT NULL,
        action TEXT NOT NULL,
        from_stage TEXT,
        to_stage TEXT,
        alias TEXT,
        previous_version BIGINT,
        timestamp BIGINT NOT NULL,
        user_id TEXT,
        comment TEXT,
        cause TEXT NOT NULL
    )""",
    "CREATE INDEX registry_history_by_model ON registry_history (model_key, event_id)",
    "CREATE INDEX registry_history_by_version "
    "ON registry_history (model_key, version, timestamp, event_id)",
    # MLflow 3 logged models. `run_folder` marks the ones modelyard
    # materialises for a plain folder of a run's artifacts.
    """CREATE TABLE logged_models (
        model_id TEXT PRIMARY KEY,
        experiment_id BIGINT NOT NULL REFERENCES experiments(experiment_id)
            ON DELETE CASCADE,
        name TEXT NOT NULL,
        artifact_location TEXT NOT NULL,
        creation_time BIGINT NOT NULL,
        last_updated_time BIGINT NOT NULL,
        status TEXT NOT NULL,
        status_message TEXT,
        lifecycle_stage TEXT NOT NULL DEFAULT 'active',
        model_type TEXT,
        source_run_id TEXT,
        run_folder TEXT
    )""",
    "CREATE INDEX logged_models_by_experiment "
    "ON logged_models (experiment_id, lifecycle_stage, creation_time)",
    "CREATE INDEX logged_models_by_run ON logged_models (source_run_id)",
    """CREATE TABLE logged_model_tags (
        model_id TEXT NOT NULL REFERENCES logged_models(model_id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        value TEXT,
        PRIMARY KEY (model_id, key)
    ) {without_rowid}""",
    """CREATE TABLE logged_model_params (
        model_id TEXT NOT NULL REFERENCES logged_models(model_id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (model_id, key)
    ) {without_rowid}""",
)
