"""Schema of promotion requests, approval policies and comments (migration 0004).

`transition_requests.open_mark` is 'open' while a request is open and NULL
afterwards; the unique index over it lets a user hold one open request per
version and stage (what Databricks' cancel-by-creator relies on) while closed
requests pile up freely (NULLs never collide, on SQLite and PostgreSQL alike).
Requests and comments name the version by number without a foreign key: the
trail outlives a deleted version (its open requests turn `void`), not the
registered model.
"""

from __future__ import annotations

APPROVALS_MIGRATION_NAME = "0004_approvals"

APPROVALS_STATEMENTS: tuple[str, ...] = (
    """CREATE TABLE transition_requests (
        request_id {id_pk},
        model_key BIGINT NOT NULL REFERENCES registered_models(model_key) ON DELETE CASCADE,
        version BIGINT NOT NULL,
        from_stage TEXT NOT NULL,
        to_stage TEXT NOT NULL,
        user_id TEXT NOT NULL,
        comment TEXT,
        creation_time BIGINT NOT NULL,
        last_updated_time BIGINT NOT NULL,
        status TEXT NOT NULL,
        decided_by TEXT,
        decision_comment TEXT,
        open_mark TEXT
    )""",
    "CREATE UNIQUE INDEX transition_requests_one_open "
    "ON transition_requests (model_key, version, to_stage, user_id, open_mark)",
    "CREATE INDEX transition_requests_by_status ON transition_requests (status, model_key)",
    # A row per (model, stage) whose rule the model sets itself; absent: the
    # server-wide --require-approval decides.
    """CREATE TABLE approval_policies (
        model_key BIGINT NOT NULL REFERENCES registered_models(model_key) ON DELETE CASCADE,
        stage TEXT NOT NULL,
        required SMALLINT NOT NULL,
        PRIMARY KEY (model_key, stage)
    ) {without_rowid}""",
    """CREATE TABLE model_version_comments (
        comment_id {id_pk},
        model_key BIGINT NOT NULL REFERENCES registered_models(model_key) ON DELETE CASCADE,
        version BIGINT NOT NULL,
        user_id TEXT NOT NULL,
        comment TEXT NOT NULL,
        creation_time BIGINT NOT NULL,
        last_updated_time BIGINT NOT NULL
    )""",
    "CREATE INDEX model_version_comments_by_version "
    "ON model_version_comments (model_key, version, comment_id)",
)
