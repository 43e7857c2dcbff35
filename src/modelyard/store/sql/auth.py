"""SQL for users, tokens, grants and roles (tables from `schema_auth`).

Plain reads and writes; every rule (who may grant, what a level means, how
grants fold together) lives in `service/auth_users.py` and
`service/permissions.py`. Entities are frozen dataclasses defined here
because nothing outside authentication uses them.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from modelyard.errors import ResourceAlreadyExists, ResourceDoesNotExist
from modelyard.store.sql.db import Database, Row, Tx, UniqueViolation


@dataclass(frozen=True)
class User:
    id: int
    username: str
    password_hash: str
    is_admin: bool
    creation_time: int


@dataclass(frozen=True)
class Token:
    id: int
    user_id: int
    username: str
    name: str
    creation_time: int
    expiry_time: int | None


@dataclass(frozen=True)
class Grant:
    """One user's permission on one experiment (`resource` = id) or model (name)."""

    resource: str
    user_id: int
    username: str
    permission: str


@dataclass(frozen=True)
class Role:
    id: int
    workspace: str
    name: str
    description: str | None


@dataclass(frozen=True)
class RolePermission:
    id: int
    role_id: int
    resource_type: str
    resource_pattern: str
    permission: str


_USER_COLS = "user_id, username, password_hash, is_admin, creation_time"


def _user(row: Row) -> User:
    return User(int(row[0]), row[1], row[2], bool(row[3]), int(row[4]))


def _role(row: Row) -> Role:
    return Role(int(row[0]), row[1], row[2], row[3])


def _role_perm(row: Row) -> RolePermission:
    return RolePermission(int(row[0]), int(row[1]), row[2], row[3], row[4])


class SqlAuthStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- users -------------------------------------------------------------
    def create_user(self, username: str, password_hash: str, is_admin: bool, now: int) -> User:
        try:
            with self.db.write() as tx:
                tx.execute(
                    "INSERT INTO auth_users (username, password_hash, is_admin, creation_time) "
                    "VALUES (?, ?, ?, ?)",
                    (username, password_hash, int(is_admin), now),
                )
                row = tx.one(f"SELECT {_USER_COLS} FROM auth_users WHERE username = ?", (username,))
        except UniqueViolation:
            raise ResourceAlreadyExists(f"User '{username}' already exists.") from None
        assert row is not None
        return _user(row)

    def find_user(self, username: str) -> User | None:
        with self.db.read() as tx:
            row = tx.one(f"SELECT {_USER_COLS} FROM auth_users WHERE username = ?", (username,))
        return None if row is None else _user(row)

    def get_user(self, username: str) -> User:
        user = self.find_user(username)
        if user is None:
            raise ResourceDoesNotExist(f"User with username={username} not found")
        return user

    def list_users(self) -> list[User]:
        with self.db.read() as tx:
            rows = tx.all(f"SELECT {_USER_COLS} FROM auth_users ORDER BY username")
        return [_user(r) for r in rows]

    def count_admins(self) -> int:
        with self.db.read() as tx:
            return int(tx.scalar("SELECT COUNT(*) FROM auth_users WHERE is_admin = 1"))

    def _update_user(self, username: str, column: str, value: object) -> None:
        with self.db.write() as tx:
            tx.execute(f"UPDATE auth_users SET {column} = ? WHERE username = ?", (value, username))
            if tx.rowcount == 0:
                raise ResourceDoesNotExist(f"User with username={username} not found")

    def set_password_hash(self, username: str, password_hash: str) -> None:
        self._update_user(username, "password_hash", password_hash)

    def set_admin(self, username: str, is_admin: bool) -> None:
        self._update_user(username, "is_admin", int(is_admin))

    def delete_user(self, username: str) -> None:
        with self.db.write() as tx:
            tx.execute("DELETE FROM auth_users WHERE username = ?", (username,))
            if tx.rowcount == 0:
                raise ResourceDoesNotExist(f"User with username={username} not found")

    # -- tokens ------------------------------------------------------------
    def create_token(
        self, user_id: int, name: str, token_hash: str, now: int, expiry: int | None
    ) -> None:
        try:
            with self.db.write() as tx:
                tx.execute(
                    "INSERT INTO auth_tokens "
                    "(user_id, name, token_hash, creation_time, expiry_time) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (user_id, name, token_hash, now, expiry),
                )
        except UniqueViolation:
            raise ResourceAlreadyExists(
                f"A token named '{name}' already exists for this user; revoke it or pick "
                "another name."
            ) from None

    def user_for_token(self, token_hash: str, now: int) -> User | None:
        with self.db.read() as tx:
            row = tx.one(
                f"SELECT {', '.join('u.' + c for c in _USER_COLS.split(', '))} "
                "FROM auth_tokens t JOIN auth_users u ON u.user_id = t.user_id "
                "WHERE t.token_hash = ? AND (t.expiry_time IS NULL OR t.expiry_time > ?)",
                (token_hash, now),
            )
        return None if row is None else _user(row)

    def list_tokens(self, username: str | None) -> list[Token]:
        sql = (
            "SELECT t.token_id, t.user_id, u.username, t.name, t.creation_time, t.expiry_time "
            "FROM auth_tokens t JOIN auth_users u ON u.user_id = t.user_id"
        )
        params: tuple[object, ...] = ()
        if username is not None:
            sql += " WHERE u.username = ?"
            params = (username,)
        with self.db.read() as tx:
            rows = tx.all(sql + " ORDER BY u.username, t.name", params)
        return [Token(int(r[0]), int(r[1]), r[2], r[3], int(r[4]), r[5]) for r in rows]

    def delete_token(self, username: str, name: str) -> None:
        with self.db.write() as tx:
            tx.execute(
                "DELETE FROM auth_tokens WHERE name = ? AND user_id = "
                "(SELECT user_id FROM auth_users WHERE username = ?)",
                (name, username),
            )
            if tx.rowcount == 0:
                raise ResourceDoesNotExist(f"User '{username}' has no token named '{name}'.")

    # -- grants on experiments and models ------------------------------------
    def _model_key(self, tx: Tx, name: str) -> int:
        key = tx.scalar("SELECT model_key FROM registered_models WHERE name = ?", (name,))
        if key is None:
            raise ResourceDoesNotExist(f"Registered Model with name={name} not found")
        return int(key)

    def _experiment_key(self, tx: Tx, experiment_id: str) -> int:
        try:
            key = int(experiment_id)
        except ValueError:
            key = -1
        if tx.scalar("SELECT 1 FROM experiments WHERE experiment_id = ?", (key,)) is None:
            raise ResourceDoesNotExist(f"No Experiment with id={experiment_id} exists")
        return key

    def _target(self, tx: Tx, kind: str, resource: str) -> tuple[str, str, int]:
        if kind == "experiment":
            return (
                "auth_experiment_permissions",
                "experiment_id",
                self._experiment_key(tx, resource),
            )
        return "auth_model_permissions", "model_key", self._model_key(tx, resource)

    def put_grant(
        self, kind: str, resource: str, user_id: int, permission: str, *, create: bool
    ) -> None:
        """Insert (create=True, refusing a duplicate) or update one user's grant."""
        with self.db.write() as tx:
            table, column, key = self._target(tx, kind, resource)
            if create:
                try:
                    tx.execute(
                        f"INSERT INTO {table} ({column}, user_id, permission) VALUES (?, ?, ?)",
                        (key, user_id, permission),
                    )
                except UniqueViolation:
                    raise ResourceAlreadyExists(
                        f"The user already has a permission on {kind} '{resource}'; "
                        "update it instead."
                    ) from None
                return
            tx.execute(
                f"UPDATE {table} SET permission = ? WHERE {column} = ? AND user_id = ?",
                (permission, key, user_id),
            )
            if tx.rowcount == 0:
                raise ResourceDoesNotExist(f"The user has no permission on {kind} '{resource}'.")

    def upsert_grant(self, kind: str, resource: str, user_id: int, permission: str) -> None:
        with self.db.write() as tx:
            table, column, key = self._target(tx, kind, resource)
            tx.execute(f"DELETE FROM {table} WHERE {column} = ? AND user_id = ?", (key, user_id))
            tx.execute(
                f"INSERT INTO {table} ({column}, user_id, permission) VALUES (?, ?, ?)",
                (key, user_id, permission),
            )

    def delete_grant(self, kind: str, resource: str, user_id: int, *, missing_ok: bool) -> None:
        with self.db.write() as tx:
            table, column, key = self._target(tx, kind, resource)
            tx.execute(f"DELETE FROM {table} WHERE {column} = ? AND user_id = ?", (key, user_id))
            if tx.rowcount == 0 and not missing_ok:
                raise ResourceDoesNotExist(f"The user has no permission on {kind} '{resource}'.")

    def grant_of(self, kind: str, resource: str, user_id: int) -> str | None:
        """The user's direct grant on one resource (None when there is none)."""
        with self.db.read() as tx:
            if kind == "experiment":
                try:
                    key = int(resource)
                except ValueError:
                    return None
                return tx.scalar(  # type: ignore[no-any-return]
                    "SELECT permission FROM auth_experiment_permissions "
                    "WHERE experiment_id = ? AND user_id = ?",
                    (key, user_id),
                )
            return tx.scalar(  # type: ignore[no-any-return]
                "SELECT p.permission FROM auth_model_permissions p "
                "JOIN registered_models rm ON rm.model_key = p.model_key "
                "WHERE rm.name = ? AND p.user_id = ?",
                (resource, user_id),
            )

    def grants_of_user(self, user_id: int) -> tuple[list[Grant], list[Grant]]:
        """(experiment grants, model grants) of one user, for the user object."""
        with self.db.read() as tx:
            exp = tx.all(
                "SELECT p.experiment_id, p.user_id, u.username, p.permission "
                "FROM auth_experiment_permissions p JOIN auth_users u ON u.user_id = p.user_id "
                "WHERE p.user_id = ? ORDER BY p.experiment_id",
                (user_id,),
            )
            models = tx.all(
                "SELECT rm.name, p.user_id, u.username, p.permission "
                "FROM auth_model_permissions p JOIN auth_users u ON u.user_id = p.user_id "
                "JOIN registered_models rm ON rm.model_key = p.model_key "
                "WHERE p.user_id = ? ORDER BY rm.name",
                (user_id,),
            )
        return (
            [Grant(str(r[0]), int(r[1]), r[2], r[3]) for r in exp],
            [Grant(r[0], int(r[1]), r[2], r[3]) for r in models],
        )

    def grants_on(self, kind: str, resource: str) -> list[Grant]:
        """Every user's direct grant on one resource (who may grant, the admin page)."""
        with self.db.read() as tx:
            if kind == "experiment":
                try:
                    key = int(resource)
                except ValueError:
                    return []
                rows = tx.all(
                    "SELECT p.experiment_id, p.user_id, u.username, p.permission "
                    "FROM auth_experiment_permissions p "
                    "JOIN auth_users u ON u.user_id = p.user_id "
                    "WHERE p.experiment_id = ? ORDER BY u.username",
                    (key,),
                )
            else:
                rows = tx.all(
                    "SELECT rm.name, p.user_id, u.username, p.permission "
                    "FROM auth_model_permissions p JOIN auth_users u ON u.user_id = p.user_id "
                    "JOIN registered_models rm ON rm.model_key = p.model_key "
                    "WHERE rm.name = ? ORDER BY u.username",
                    (resource,),
                )
        return [Grant(str(r[0]), int(r[1]), r[2], r[3]) for r in rows]

    def resources_with_grant(
        self, kind: str, user_id: int, permissions: Sequence[str]
    ) -> list[str]:
        """Ids (experiments) or names (models) the user holds one of `permissions` on."""
        if not permissions:
            return []
        marks = ", ".join("?" for _ in permissions)
        with self.db.read() as tx:
            if kind == "experiment":
                rows = tx.all(
                    "SELECT experiment_id FROM auth_experiment_permissions "
                    f"WHERE user_id = ? AND permission IN ({marks})",
                    (user_id, *permissions),
                )
            else:
                rows = tx.all(
                    "SELECT rm.name FROM auth_model_permissions p "
                    "JOIN registered_models rm ON rm.model_key = p.model_key "
                    f"WHERE p.user_id = ? AND p.permission IN ({marks})",
                    (user_id, *permissions),
                )
        return [str(r[0]) for r in rows]

    # -- what a path or id belongs to -----------------------------------------
    def experiment_of_run(self, run_id: str) -> str | None:
        with self.db.read() as tx:
            value = tx.scalar("SELECT experiment_id FROM runs WHERE run_uuid = ?", (run_id,))
        return None if value is None else str(value)

    def experiment_id_by_name(self, name: str) -> str | None:
        with self.db.read() as tx:
            value = tx.scalar("SELECT experiment_id FROM experiments WHERE name = ?", (name,))
        return None if value is None else str(value)

    def experiment_of_logged_model(self, model_id: str) -> str | None:
        with self.db.read() as tx:
            value = tx.scalar(
                "SELECT experiment_id FROM logged_models WHERE model_id = ?", (model_id,)
            )
        return None if value is None else str(value)

    # -- protected aliases -------------------------------------------------
    def protected_aliases(self, model: str) -> str | None:
        with self.db.read() as tx:
            return tx.scalar(  # type: ignore[no-any-return]
                "SELECT a.aliases FROM auth_model_protected_aliases a "
                "JOIN registered_models rm ON rm.model_key = a.model_key WHERE rm.name = ?",
                (model,),
            )

    def set_protected_aliases(self, model: str, aliases: str) -> None:
        with self.db.write() as tx:
            key = self._model_key(tx, model)
            tx.execute("DELETE FROM auth_model_protected_aliases WHERE model_key = ?", (key,))
            tx.execute(
                "INSERT INTO auth_model_protected_aliases (model_key, aliases) VALUES (?, ?)",
                (key, aliases),
            )

    # -- roles -------------------------------------------------------------
    def create_role(self, workspace: str, name: str, description: str | None) -> Role:
        try:
            with self.db.write() as tx:
                tx.execute(
                    "INSERT INTO auth_roles (workspace, name, description) VALUES (?, ?, ?)",
                    (workspace, name, description),
                )
                row = tx.one(
                    "SELECT role_id, workspace, name, description FROM auth_roles "
                    "WHERE workspace = ? AND name = ?",
                    (workspace, name),
                )
        except UniqueViolation:
            raise ResourceAlreadyExists(
                f"Role '{name}' already exists in workspace '{workspace}'."
            ) from None
        assert row is not None
        return _role(row)

    def get_role(self, role_id: int) -> Role:
        with self.db.read() as tx:
            row = tx.one(
                "SELECT role_id, workspace, name, description FROM auth_roles WHERE role_id = ?",
                (role_id,),
            )
        if row is None:
            raise ResourceDoesNotExist(f"Role with id={role_id} not found")
        return _role(row)

    def list_roles(self, workspace: str | None) -> list[Role]:
        sql = "SELECT role_id, workspace, name, description FROM auth_roles"
        params: tuple[object, ...] = ()
        if workspace is not None:
            sql += " WHERE workspace = ?"
            params = (workspace,)
        with self.db.read() as tx:
            return [_role(r) for r in tx.all(sql + " ORDER BY role_id", params)]

    def update_role(self, role_id: int, name: str | None, description: str | None) -> Role:
        with self.db.write() as tx:
            if name is not None:
                tx.execute("UPDATE auth_roles SET name = ? WHERE role_id = ?", (name, role_id))
            if description is not None:
                tx.execute(
                    "UPDATE auth_roles SET description = ? WHERE role_id = ?",
                    (description, role_id),
                )
        return self.get_role(role_id)

    def delete_role(self, role_id: int) -> None:
        with self.db.write() as tx:
            tx.execute("DELETE FROM auth_roles WHERE role_id = ?", (role_id,))
            if tx.rowcount == 0:
                raise ResourceDoesNotExist(f"Role with id={role_id} not found")

    def add_role_permission(
        self, role_id: int, resource_type: str, pattern: str, permission: str
    ) -> RolePermission:
        self.get_role(role_id)
        try:
            with self.db.write() as tx:
                tx.execute(
                    "INSERT INTO auth_role_permissions "
                    "(role_id, resource_type, resource_pattern, permission) VALUES (?, ?, ?, ?)",
                    (role_id, resource_type, pattern, permission),
                )
                row = tx.one(
                    "SELECT role_permission_id, role_id, resource_type, resource_pattern, "
                    "permission FROM auth_role_permissions "
                    "WHERE role_id = ? AND resource_type = ? AND resource_pattern = ?",
                    (role_id, resource_type, pattern),
                )
        except UniqueViolation:
            raise ResourceAlreadyExists(
                f"Role {role_id} already has a permission on {resource_type} '{pattern}'; "
                "update it instead."
            ) from None
        assert row is not None
        return _role_perm(row)

    def get_role_permission(self, role_permission_id: int) -> RolePermission:
        with self.db.read() as tx:
            row = tx.one(
                "SELECT role_permission_id, role_id, resource_type, resource_pattern, "
                "permission FROM auth_role_permissions WHERE role_permission_id = ?",
                (role_permission_id,),
            )
        if row is None:
            raise ResourceDoesNotExist(f"Role permission with id={role_permission_id} not found")
        return _role_perm(row)

    def update_role_permission(self, role_permission_id: int, permission: str) -> RolePermission:
        with self.db.write() as tx:
            tx.execute(
                "UPDATE auth_role_permissions SET permission = ? WHERE role_permission_id = ?",
                (permission, role_permission_id),
            )
        return self.get_role_permission(role_permission_id)

    def remove_role_permission(self, role_permission_id: int) -> None:
        with self.db.write() as tx:
            tx.execute(
                "DELETE FROM auth_role_permissions WHERE role_permission_id = ?",
                (role_permission_id,),
            )
            if tx.rowcount == 0:
                raise ResourceDoesNotExist(
                    f"Role permission with id={role_permission_id} not found"
                )

    def list_role_permissions(self, role_id: int) -> list[RolePermission]:
        with self.db.read() as tx:
            rows = tx.all(
                "SELECT role_permission_id, role_id, resource_type, resource_pattern, "
                "permission FROM auth_role_permissions WHERE role_id = ? "
                "ORDER BY role_permission_id",
                (role_id,),
            )
        return [_role_perm(r) for r in rows]

    def assign_role(self, user_id: int, role_id: int) -> int:
        """Assign a role; returns the assignment's id."""
        self.get_role(role_id)
        try:
            with self.db.write() as tx:
                tx.execute(
                    "INSERT INTO auth_user_roles (user_id, role_id) VALUES (?, ?)",
                    (user_id, role_id),
                )
                found = tx.scalar(
                    "SELECT assignment_id FROM auth_user_roles WHERE user_id = ? AND role_id = ?",
                    (user_id, role_id),
                )
        except UniqueViolation:
            raise ResourceAlreadyExists(f"The user already has role {role_id}.") from None
        return int(found)

    def unassign_role(self, user_id: int, role_id: int) -> None:
        with self.db.write() as tx:
            tx.execute(
                "DELETE FROM auth_user_roles WHERE user_id = ? AND role_id = ?",
                (user_id, role_id),
            )
            if tx.rowcount == 0:
                raise ResourceDoesNotExist(f"The user does not have role {role_id}.")

    def roles_of_user(self, user_id: int) -> list[Role]:
        with self.db.read() as tx:
            rows = tx.all(
                "SELECT r.role_id, r.workspace, r.name, r.description FROM auth_roles r "
                "JOIN auth_user_roles ur ON ur.role_id = r.role_id WHERE ur.user_id = ? "
                "ORDER BY r.role_id",
                (user_id,),
            )
        return [_role(r) for r in rows]

    def users_of_role(self, role_id: int) -> list[tuple[int, int, str]]:
        """(assignment id, user id, user name) of each user holding the role."""
        with self.db.read() as tx:
            rows = tx.all(
                "SELECT ur.assignment_id, u.user_id, u.username FROM auth_users u "
                "JOIN auth_user_roles ur ON ur.user_id = u.user_id WHERE ur.role_id = ? "
                "ORDER BY u.username",
                (role_id,),
            )
        return [(int(r[0]), int(r[1]), r[2]) for r in rows]

    def role_permissions_of_user(self, user_id: int) -> list[RolePermission]:
        """Every role permission that applies to the user (folded by the service)."""
        with self.db.read() as tx:
            rows = tx.all(
                "SELECT p.role_permission_id, p.role_id, p.resource_type, p.resource_pattern, "
                "p.permission FROM auth_role_permissions p "
                "JOIN auth_user_roles ur ON ur.role_id = p.role_id WHERE ur.user_id = ?",
                (user_id,),
            )
        return [_role_perm(r) for r in rows]

    # -- secrets -----------------------------------------------------------
    def secret(self, name: str) -> str:
        """A random secret made once and shared by every process on this database."""
        with self.db.write() as tx:
            value = tx.scalar("SELECT value FROM auth_secrets WHERE name = ?", (name,))
            if value is None:
                value = secrets.token_hex(32)
                tx.execute("INSERT INTO auth_secrets (name, value) VALUES (?, ?)", (name, value))
        return str(value)
