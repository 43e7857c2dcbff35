"""Schema of authentication and permissions (migration 0003_auth).

Users, their access tokens, per-resource grants, roles and the server's
session-signing secret live in the metadata database, so every server
process sharing it agrees on who may do what without a second store.

Design points:

* Only hashes are stored: passwords as argon2id PHC strings, access tokens
  as SHA-256 hex of a 256-bit random secret (a token is not guessable, so a
  slow hash buys nothing and would cost every request).
* Model grants reference `registered_models.model_key`, so a rename keeps
  them and a delete removes them; experiment grants follow experiments.
* Roles (MLflow 3.x RBAC) hold permissions on a resource id or `*`; users
  are assigned to roles.
"""

from __future__ import annotations

# Plain statements; `migrations` appends them (importing it here would be a cycle).
AUTH_MIGRATION_NAME = "0003_auth"

AUTH_STATEMENTS: tuple[str, ...] = (
    """CREATE TABLE auth_users (
        user_id {id_pk},
        username TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        is_admin SMALLINT NOT NULL DEFAULT 0,
        creation_time BIGINT NOT NULL
    )""",
    """CREATE TABLE auth_tokens (
        token_id {id_pk},
        user_id BIGINT NOT NULL REFERENCES auth_users(user_id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        creation_time BIGINT NOT NULL,
        expiry_time BIGINT,
        UNIQUE (user_id, name)
    )""",
    """CREATE TABLE auth_experiment_permissions (
        experiment_id BIGINT NOT NULL REFERENCES experiments(experiment_id) ON DELETE CASCADE,
        user_id BIGINT NOT NULL REFERENCES auth_users(user_id) ON DELETE CASCADE,
        permission TEXT NOT NULL,
        PRIMARY KEY (experiment_id, user_id)
    )""",
    "CREATE INDEX auth_experiment_permissions_by_user "
    "ON auth_experiment_permissions (user_id, experiment_id)",
    """CREATE TABLE auth_model_permissions (
        model_key BIGINT NOT NULL REFERENCES registered_models(model_key) ON DELETE CASCADE,
        user_id BIGINT NOT NULL REFERENCES auth_users(user_id) ON DELETE CASCADE,
        permission TEXT NOT NULL,
        PRIMARY KEY (model_key, user_id)
    )""",
    "CREATE INDEX auth_model_permissions_by_user ON auth_model_permissions (user_id, model_key)",
    # Protected aliases per model; a model without a row uses the server's default set.
    """CREATE TABLE auth_model_protected_aliases (
        model_key BIGINT PRIMARY KEY REFERENCES registered_models(model_key) ON DELETE CASCADE,
        aliases TEXT NOT NULL
    )""",
    """CREATE TABLE auth_roles (
        role_id {id_pk},
        workspace TEXT NOT NULL,
        name TEXT NOT NULL,
        description TEXT,
        UNIQUE (workspace, name)
    )""",
    """CREATE TABLE auth_role_permissions (
        role_permission_id {id_pk},
        role_id BIGINT NOT NULL REFERENCES auth_roles(role_id) ON DELETE CASCADE,
        resource_type TEXT NOT NULL,
        resource_pattern TEXT NOT NULL,
        permission TEXT NOT NULL,
        UNIQUE (role_id, resource_type, resource_pattern)
    )""",
    """CREATE TABLE auth_user_roles (
        assignment_id {id_pk},
        user_id BIGINT NOT NULL REFERENCES auth_users(user_id) ON DELETE CASCADE,
        role_id BIGINT NOT NULL REFERENCES auth_roles(role_id) ON DELETE CASCADE,
        UNIQUE (user_id, role_id)
    )""",
    # Server-wide secrets (the session-cookie signing key), made once, shared by workers.
    """CREATE TABLE auth_secrets (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )""",
)
