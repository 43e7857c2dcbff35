"""Granting and revoking: per-user grants, roles and protected aliases.

MLflow has two generations of this API and clients of both are in use:
the classic per-resource routes (create/get/update/delete a user's
permission on one experiment or model) and the 3.x grant/revoke on a
`(resource_type, resource_id)` plus roles. Both land in the same tables:
a grant on one experiment or model is a direct grant; a grant on `*` or on
a sub-resource tier (run, logged model, model version) goes to the user's
own role `__user_<id>__`, as MLflow does. Every change clears the
permission caches of this process.
"""

from __future__ import annotations

from dataclasses import dataclass

from modelyard.errors import InvalidParameterValue, PermissionDenied, ResourceDoesNotExist
from modelyard.service.permissions import (
    EXPERIMENT_LEVELS,
    MANAGE,
    MODEL_LEVELS,
    NAME_OF_RANK,
    RANK,
    ROLE_CONTAINERS,
    ROLE_LEVELS,
    ROLE_TIERS,
    Permissions,
    validate_level,
)
from modelyard.store.sql.auth import Grant, Role, RolePermission, SqlAuthStore, User

DEFAULT_WORKSPACE = "default"
RESOURCE_TYPES = (*ROLE_CONTAINERS, *ROLE_TIERS)


@dataclass(frozen=True)
class PermissionRow:
    """One grant a user holds, for the 3.x permissions listing."""

    role_id: int
    role_name: str
    workspace: str
    resource_type: str
    resource_pattern: str
    permission: str


def own_role_name(user: User) -> str:
    return f"__user_{user.id}__"


def _kind(resource_type: str | None) -> str:
    if resource_type not in RESOURCE_TYPES:
        raise InvalidParameterValue(
            f"Invalid resource_type '{resource_type}'. Valid types are: "
            + ", ".join(RESOURCE_TYPES)
        )
    return resource_type


class Grants:
    def __init__(self, store: SqlAuthStore, permissions: Permissions) -> None:
        self.store = store
        self.permissions = permissions

    def _user(self, username: str | None) -> User:
        if not username:
            raise InvalidParameterValue("Missing value for required parameter 'username'.")
        return self.store.get_user(username)

    def _done(self) -> None:
        self.permissions.changed()

    # -- classic per-resource routes -----------------------------------------------
    def create(
        self, kind: str, resource: str, username: str | None, permission: str | None
    ) -> Grant:
        user = self._user(username)
        level = self._level(kind, permission)
        self.store.put_grant(kind, resource, user.id, level, create=True)
        self._done()
        return Grant(resource, user.id, user.username, level)

    def get(self, kind: str, resource: str, username: str | None) -> Grant:
        user = self._user(username)
        found = self.store.grant_of(kind, resource, user.id)
        if found is None:
            what = "Experiment" if kind == "experiment" else "Registered model"
            raise ResourceDoesNotExist(
                f"{what} permission with {kind}={resource} and username={user.username} not found"
            )
        return Grant(resource, user.id, user.username, found)

    def update(
        self, kind: str, resource: str, username: str | None, permission: str | None
    ) -> None:
        user = self._user(username)
        self.store.put_grant(kind, resource, user.id, self._level(kind, permission), create=False)
        self._done()

    def delete(self, kind: str, resource: str, username: str | None) -> None:
        user = self._user(username)
        self.store.delete_grant(kind, resource, user.id, missing_ok=False)
        self._done()

    @staticmethod
    def _level(kind: str, permission: str | None) -> str:
        if kind == "experiment":
            return validate_level(permission, EXPERIMENT_LEVELS, "an experiment")
        return validate_level(permission, MODEL_LEVELS, "a registered model")

    # -- 3.x grant / revoke / get -------------------------------------------------------
    def require_manage(self, caller: str | None, resource_type: str, resource_id: str) -> None:
        """Who may grant on a resource: its managers and admins (`*` and tiers: admins)."""
        if self.permissions.is_admin(caller):
            return
        kind = _kind(resource_type)
        if (
            kind in ROLE_CONTAINERS
            and resource_id != "*"
            and self.permissions.rank(caller, kind, resource_id) >= RANK[MANAGE]
        ):
            return
        raise PermissionDenied(
            f"Granting on {resource_type} '{resource_id}' needs MANAGE on it; "
            "an admin can grant it."
        )

    def grant(
        self,
        username: str | None,
        resource_type: str | None,
        resource_id: str | None,
        permission: str | None,
    ) -> None:
        user = self._user(username)
        kind = _kind(resource_type)
        rid = _resource_id(resource_id)
        if kind in ROLE_CONTAINERS and rid != "*":
            self.store.upsert_grant(kind, rid, user.id, self._level(kind, permission))
        else:
            level = validate_level(permission, ROLE_LEVELS, f"a {kind} role grant")
            role = self._own_role(user)
            self._set_role_permission(role, kind, rid, level)
        self._done()

    def revoke(
        self, username: str | None, resource_type: str | None, resource_id: str | None
    ) -> None:
        user = self._user(username)
        kind = _kind(resource_type)
        rid = _resource_id(resource_id)
        if kind in ROLE_CONTAINERS and rid != "*":
            self.store.delete_grant(kind, rid, user.id, missing_ok=False)
        else:
            role = self._own_role(user)
            for perm in self.store.list_role_permissions(role.id):
                if perm.resource_type == kind and perm.resource_pattern == rid:
                    self.store.remove_role_permission(perm.id)
                    break
            else:
                raise ResourceDoesNotExist(
                    f"User '{user.username}' has no grant on {kind} '{rid}'."
                )
        self._done()

    def effective(
        self, username: str | None, resource_type: str | None, resource_id: str | None
    ) -> str:
        user = self._user(username)
        kind = _kind(resource_type)
        rid = _resource_id(resource_id)
        if kind in ROLE_TIERS:
            parent = ROLE_TIERS[kind]
            if parent == "experiment" and kind in ("run", "logged_model"):
                owner = self.permissions.experiment_of(kind, rid)
                if owner is None:
                    raise ResourceDoesNotExist(f"No {kind} with id={rid} exists")
                return NAME_OF_RANK[
                    (self.permissions.rank(user.username, "experiment", owner, kind))
                ]
            name = rid.split("/", 1)[0]
            return NAME_OF_RANK[
                (self.permissions.rank(user.username, "registered_model", name, kind))
            ]
        return self.permissions.level(user.username, kind, rid)

    def rows_of(self, username: str | None) -> tuple[User, list[PermissionRow]]:
        """Every grant a user holds: direct grants (their own role) and role grants."""
        user = self._user(username)
        own = own_role_name(user)
        exp, models = self.store.grants_of_user(user.id)
        rows = [
            PermissionRow(0, own, DEFAULT_WORKSPACE, "experiment", g.resource, g.permission)
            for g in exp
        ] + [
            PermissionRow(0, own, DEFAULT_WORKSPACE, "registered_model", g.resource, g.permission)
            for g in models
        ]
        for role in self.store.roles_of_user(user.id):
            rows.extend(
                PermissionRow(
                    role.id,
                    role.name,
                    role.workspace,
                    p.resource_type,
                    p.resource_pattern,
                    p.permission,
                )
                for p in self.store.list_role_permissions(role.id)
            )
        return user, rows

    def _own_role(self, user: User) -> Role:
        name = own_role_name(user)
        for role in self.store.roles_of_user(user.id):
            if role.name == name:
                return role
        existing = [r for r in self.store.list_roles(DEFAULT_WORKSPACE) if r.name == name]
        role = (
            existing[0]
            if existing
            else self.store.create_role(
                DEFAULT_WORKSPACE, name, f"Direct grants of {user.username}"
            )
        )
        self.store.assign_role(user.id, role.id)
        return role

    def _set_role_permission(self, role: Role, kind: str, pattern: str, level: str) -> None:
        for perm in self.store.list_role_permissions(role.id):
            if perm.resource_type == kind and perm.resource_pattern == pattern:
                self.store.update_role_permission(perm.id, level)
                return
        self.store.add_role_permission(role.id, kind, pattern, level)

    # -- roles ----------------------------------------------------------------------
    def create_role(self, workspace: str | None, name: str | None, description: str | None) -> Role:
        if not name:
            raise InvalidParameterValue("Missing value for required parameter 'name'.")
        role = self.store.create_role(workspace or DEFAULT_WORKSPACE, name, description)
        return role

    def add_role_permission(
        self, role_id: int, resource_type: str | None, pattern: str | None, permission: str | None
    ) -> RolePermission:
        kind = _kind(resource_type)
        rid = _resource_id(pattern)
        if kind in ROLE_TIERS and rid != "*":
            raise InvalidParameterValue(
                f"Role permissions on {kind} take only '*' (every {kind}); grant on the "
                f"{ROLE_TIERS[kind]} instead."
            )
        level = validate_level(permission, ROLE_LEVELS, "a role")
        perm = self.store.add_role_permission(role_id, kind, rid, level)
        self._done()
        return perm

    def update_role_permission(
        self, role_permission_id: int, permission: str | None
    ) -> RolePermission:
        level = validate_level(permission, ROLE_LEVELS, "a role")
        perm = self.store.update_role_permission(role_permission_id, level)
        self._done()
        return perm

    def remove_role_permission(self, role_permission_id: int) -> None:
        self.store.remove_role_permission(role_permission_id)
        self._done()

    def delete_role(self, role_id: int) -> None:
        self.store.delete_role(role_id)
        self._done()

    def assign(self, username: str | None, role_id: int) -> tuple[int, User]:
        user = self._user(username)
        assignment = self.store.assign_role(user.id, role_id)
        self._done()
        return assignment, user

    def unassign(self, username: str | None, role_id: int) -> None:
        user = self._user(username)
        self.store.unassign_role(user.id, role_id)
        self._done()

    # -- protected aliases ------------------------------------------------------------
    def set_protected_aliases(self, model: str, aliases: list[str]) -> tuple[str, ...]:
        cleaned = sorted({a.strip() for a in aliases if a and a.strip()})
        self.store.set_protected_aliases(model, ",".join(cleaned))
        return tuple(cleaned)


def _resource_id(value: str | None) -> str:
    if value is None or value == "":
        raise InvalidParameterValue("Missing value for required parameter 'resource_id'.")
    return str(value)
