"""Who may do what, with authentication on: levels, folding, stage rights.

A user's level on an experiment or a registered model is the highest of
their direct grant and the grants of their roles (a role's `DENY` wins over
everything), else the server's default (`--auth-default-permission`).
Admins hold `MANAGE` everywhere; anonymous callers hold nothing.

Levels are one ladder, as Databricks' model permissions are:

    NO_PERMISSIONS < READ < EDIT < MANAGE_STAGING_VERSIONS
                   < MANAGE_PRODUCTION_VERSIONS < MANAGE

so MLflow's clients, which only know READ/EDIT/MANAGE, still grant something
meaningful: EDIT cannot promote, MANAGE can. Moving a version into or out of
Staging needs MANAGE_STAGING_VERSIONS, into or out of Production (or setting
a protected alias such as `champion`) MANAGE_PRODUCTION_VERSIONS.

Answers are cached for a few seconds per process (`CACHE_SECONDS`) because
the hot path (log-metric) asks on every request; any grant written through
this process clears the cache at once, other processes see it within the TTL.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from modelyard.errors import InvalidParameterValue, PermissionDenied
from modelyard.service.search_filter import Comparison
from modelyard.store.sql.auth import RolePermission, SqlAuthStore, User

CACHE_SECONDS = 5.0

NO_PERMISSIONS = "NO_PERMISSIONS"
READ = "READ"
EDIT = "EDIT"
STAGING = "MANAGE_STAGING_VERSIONS"
PRODUCTION = "MANAGE_PRODUCTION_VERSIONS"
MANAGE = "MANAGE"
DENY = "DENY"

RANK: dict[str, int] = {
    NO_PERMISSIONS: 0,
    READ: 1,
    "USE": 1,  # MLflow 3.x's role permission for workspaces; reads like READ here
    EDIT: 2,
    STAGING: 3,
    PRODUCTION: 4,
    MANAGE: 5,
}
NAME_OF_RANK = {0: NO_PERMISSIONS, 1: READ, 2: EDIT, 3: STAGING, 4: PRODUCTION, 5: MANAGE}

EXPERIMENT_LEVELS = (READ, EDIT, MANAGE, NO_PERMISSIONS)
MODEL_LEVELS = (READ, EDIT, STAGING, PRODUCTION, MANAGE, NO_PERMISSIONS)
ROLE_LEVELS = (READ, "USE", EDIT, STAGING, PRODUCTION, MANAGE, DENY)
KINDS = ("experiment", "registered_model")
# Role resource types: containers take an id/name or "*", sub-resources only "*".
ROLE_CONTAINERS = {"experiment": "experiment", "registered_model": "registered_model"}
ROLE_TIERS = {
    "run": "experiment",
    "logged_model": "experiment",
    "registered_model_version": "registered_model",
}

STAGE_RIGHT = {"Staging": STAGING, "Production": PRODUCTION}


def validate_level(permission: str | None, allowed: tuple[str, ...], what: str) -> str:
    if not permission or permission.upper() not in allowed:
        raise InvalidParameterValue(
            f"Invalid permission '{permission}' for {what}. Valid permissions are: "
            + ", ".join(allowed)
        )
    return permission.upper()


def stage_right_needed(from_stage: str, to_stage: str) -> str:
    """The level a move between two stages needs (EDIT between None and Archived)."""
    stages = {from_stage.capitalize(), to_stage.capitalize()}
    if "Production" in stages:
        return PRODUCTION
    if "Staging" in stages:
        return STAGING
    return EDIT


@dataclass
class _Entry:
    value: Any
    deadline: float


class TtlCache:
    """A small thread-safe map whose entries expire; cleared when grants change."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self._data: dict[Hashable, _Entry] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any:
        entry = self._data.get(key)
        if entry is None or entry.deadline < self.clock():
            return None
        return entry.value

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            if len(self._data) > 50_000:
                self._data.clear()
            self._data[key] = _Entry(value, self.clock() + self.seconds)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


_MISSING = object()


class CacheMiss(Exception):
    """Raised by `cached_only` lookups: the answer needs the database."""


class Permissions:
    """The real `Access` (service/access.py) plus what route rules ask."""

    enabled = True

    def __init__(
        self,
        store: SqlAuthStore,
        default_permission: str,
        protected_aliases: tuple[str, ...],
        cache_seconds: float = CACHE_SECONDS,
    ) -> None:
        self.store = store
        self.default_rank = RANK[default_permission]
        self.default_protected = protected_aliases
        self._users = TtlCache(cache_seconds)
        self._levels = TtlCache(cache_seconds)
        self._roles = TtlCache(cache_seconds)
        # Runs and logged models never change experiment, so this cache never expires.
        self._owner: dict[tuple[str, str], str | None] = {}

    def changed(self) -> None:
        """Forget cached answers (a grant, role or user changed in this process)."""
        self._users.clear()
        self._levels.clear()
        self._roles.clear()

    # -- who ------------------------------------------------------------------
    def user(self, username: str | None, cached_only: bool = False) -> User | None:
        if username is None:
            return None
        found = self._users.get(username)
        if found is None:
            if cached_only:
                raise CacheMiss
            found = self.store.find_user(username) or _MISSING
            self._users.put(username, found)
        return found if isinstance(found, User) else None

    def is_admin(self, user: str | None, cached_only: bool = False) -> bool:
        found = self.user(user, cached_only)
        return found is not None and found.is_admin

    def _role_perms(self, user_id: int) -> list[RolePermission]:
        perms: list[RolePermission] | None = self._roles.get(user_id)
        if perms is None:
            perms = self.store.role_permissions_of_user(user_id)
            self._roles.put(user_id, perms)
        return perms

    # -- levels ---------------------------------------------------------------
    def rank(
        self,
        username: str | None,
        kind: str,
        resource: str,
        tier: str = "",
        cached_only: bool = False,
    ) -> int:
        """The user's level on an experiment (id) or registered model (name), as a rank.

        `tier` names the sub-resource asked about (run, logged_model,
        registered_model_version): role grants on that tier's `*` count too.
        """
        found = self.user(username, cached_only)
        if found is None:
            return 0
        if found.is_admin:
            return RANK[MANAGE]
        key = (found.id, kind, resource, tier)
        cached = self._levels.get(key)
        if cached is not None:
            return int(cached)
        if cached_only:
            raise CacheMiss
        ranks: list[int] = []
        direct = self.store.grant_of(kind, resource, found.id)
        if direct is not None:
            ranks.append(RANK[direct])
        denied = False
        for perm in self._role_perms(found.id):
            applies = (perm.resource_type == kind and perm.resource_pattern in ("*", resource)) or (
                tier != "" and perm.resource_type == tier and perm.resource_pattern == "*"
            )
            if applies and perm.permission == DENY:
                denied = True
            elif applies:
                ranks.append(RANK.get(perm.permission, 0))
        if denied:
            value = 0
        elif ranks:
            value = max(ranks)
        else:
            value = self.default_rank
        self._levels.put(key, value)
        return value

    def level(self, username: str | None, kind: str, resource: str) -> str:
        return NAME_OF_RANK[self.rank(username, kind, resource)]

    def experiment_of(self, what: str, ident: str, cached_only: bool = False) -> str | None:
        """The experiment a run (`what`="run") or logged model belongs to."""
        key = (what, ident)
        if key in self._owner:
            return self._owner[key]
        if cached_only:
            raise CacheMiss
        if what == "run":
            found = self.store.experiment_of_run(ident)
        else:
            found = self.store.experiment_of_logged_model(ident)
        if found is not None:
            if len(self._owner) > 100_000:
                self._owner.clear()
            self._owner[key] = found
        return found

    # -- the Access protocol ----------------------------------------------------
    def can_read_model(self, user: str | None, model: str) -> bool:
        return self.rank(user, "registered_model", model) >= RANK[READ]

    def can_edit_model(self, user: str | None, model: str) -> bool:
        return self.rank(user, "registered_model", model) >= RANK[EDIT]

    def can_manage_model(self, user: str | None, model: str) -> bool:
        return self.rank(user, "registered_model", model) >= RANK[MANAGE]

    def can_read_experiment(self, user: str | None, experiment_id: str) -> bool:
        return self.rank(user, "experiment", experiment_id) >= RANK[READ]

    def can_move_stage(self, user: str | None, model: str, from_stage: str, to_stage: str) -> bool:
        need = stage_right_needed(from_stage, to_stage)
        return self.rank(user, "registered_model", model) >= RANK[need]

    def stage_right_missing(
        self, user: str | None, model: str, from_stage: str, to_stage: str
    ) -> str:
        need = stage_right_needed(from_stage, to_stage)
        return self.missing_right(
            user, model, need, f"Moving a version of '{model}' from {from_stage} to {to_stage}"
        )

    def missing_right(self, user: str | None, model: str, need: str, action: str) -> str:
        have = self.level(user, "registered_model", model)
        managers = [
            g.username
            for g in self.store.grants_on("registered_model", model)
            if g.permission == MANAGE
        ]
        grantors = (
            "a user with MANAGE on the model (" + ", ".join(managers) + ") or an admin"
            if managers
            else "an admin"
        )
        return (
            f"{action} needs {need} on registered model '{model}'; "
            f"{user or 'an anonymous caller'} has {have}. {grantors[0].upper()}{grantors[1:]} "
            "can grant it."
        )

    def record_creator(self, user: str | None, kind: str, resource: str) -> None:
        """The creator of an experiment or model gets MANAGE on it (admins need no grant)."""
        found = self.user(user)
        if found is None or found.is_admin:
            return
        self.store.upsert_grant(kind, resource, found.id, MANAGE)
        self.changed()

    # -- what searches may return -------------------------------------------------
    def visibility(self, user: str | None, kind: str) -> Comparison | None:
        """A search condition keeping what `user` may read (None: everything).

        Added to the search's own filter, so the database filters and pages:
        `experiment_id NOT IN (...)` (or `name NOT IN`) lists the few resources
        hidden from a user whose baseline is READ; `IN (...)` lists the ones
        granted to a user whose baseline is NO_PERMISSIONS.
        """
        column = "experiment_id" if kind == "experiment" else "name"
        found = self.user(user)
        if found is None:
            return Comparison("attribute", column, "IN", ())
        if found.is_admin:
            return None
        key = ("visibility", found.id, kind)
        cached = self._levels.get(key)
        if cached is not None:
            return cached[0]  # type: ignore[no-any-return]
        exp_grants, model_grants = self.store.grants_of_user(found.id)
        mentioned = {g.resource for g in (exp_grants if kind == "experiment" else model_grants)}
        wildcard: list[int] = []
        for perm in self._role_perms(found.id):
            if perm.resource_type != kind:
                continue
            if perm.resource_pattern != "*":
                mentioned.add(perm.resource_pattern)
            elif perm.permission == DENY:
                wildcard.append(-1)
            else:
                wildcard.append(RANK.get(perm.permission, 0))
        base = self.default_rank
        if -1 in wildcard:
            base = 0
        elif wildcard:
            base = max(wildcard)
        readable = RANK[READ]
        if base >= readable:
            hidden = sorted(r for r in mentioned if self.rank(user, kind, r) < readable)
            result = Comparison("attribute", column, "NOT IN", tuple(hidden)) if hidden else None
        else:
            shown = sorted(r for r in mentioned if self.rank(user, kind, r) >= readable)
            result = Comparison("attribute", column, "IN", tuple(shown))
        self._levels.put(key, (result,))
        return result

    # -- protected aliases -------------------------------------------------------
    def protected_aliases(self, model: str) -> tuple[str, ...]:
        stored = self.store.protected_aliases(model)
        if stored is None:
            return self.default_protected
        return tuple(a for a in stored.split(",") if a)

    def require_alias_change(self, user: str | None, model: str, alias: str) -> None:
        """Setting or deleting a protected alias needs the Production right."""
        if alias.lower() not in {a.lower() for a in self.protected_aliases(model)}:
            return
        if self.rank(user, "registered_model", model) < RANK[PRODUCTION]:
            raise PermissionDenied(
                self.missing_right(
                    user, model, PRODUCTION, f"Changing the protected alias '{alias}'"
                )
            )
