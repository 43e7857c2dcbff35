"""A real `Access` for tests, standing in for authentication until it lands:
stage rights granted per user name (the Basic-auth name the door records)."""

from __future__ import annotations

from modelyard.registry_entities import Stage
from modelyard.service.search_filter import Comparison


class StageRights:
    """An Access with authentication on: `rights` maps a user to the stages they
    may move versions into or out of (Production implies Staging)."""

    enabled = True

    def __init__(self, rights: dict[str, set[str]], admins: frozenset[str] = frozenset()) -> None:
        self.rights = rights
        self.admins = admins

    def is_admin(self, user: str | None) -> bool:
        return user in self.admins

    def can_read_model(self, user: str | None, model: str) -> bool:
        return True

    def can_edit_model(self, user: str | None, model: str) -> bool:
        return True

    def can_manage_model(self, user: str | None, model: str) -> bool:
        return user in self.admins

    def _has(self, user: str | None, stage: str) -> bool:
        held = self.rights.get(user or "", set())
        if "Production" in held:
            held = held | {"Staging"}
        return stage not in Stage.EXCLUSIVE or stage in held

    def can_move_stage(self, user: str | None, model: str, from_stage: str, to_stage: str) -> bool:
        return self._has(user, from_stage) and self._has(user, to_stage)

    def stage_right_missing(
        self, user: str | None, model: str, from_stage: str, to_stage: str
    ) -> str:
        return f"{user} lacks the {to_stage} right on {model}; an administrator can grant it."

    # The rest of the Access protocol, as auth added it: no protected aliases,
    # every experiment and model visible, no grants recorded for creators.
    def require_alias_change(self, user: str | None, model: str, alias: str) -> None:
        return None

    def visibility(self, user: str | None, kind: str) -> Comparison | None:
        return None

    def record_creator(self, user: str | None, kind: str, resource: str) -> None:
        return None
