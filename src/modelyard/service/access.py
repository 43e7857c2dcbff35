"""Who may do what: the contract between the services and authorisation.

Services that make a decision depending on the caller (approvals, webhooks,
the stage gate) ask `services.access`, never the HTTP layer, so REST, UI and
CLI share one answer. With authentication off (the embedded default) the
answer is `OpenAccess`: everyone may do everything, and the caller's name
is whatever the Basic-auth header claimed (or None), as before.

Authentication replaces this object in `create_app`; nothing else changes.
Callers pass the authenticated user name (`None` for anonymous).
"""

from __future__ import annotations

from typing import Protocol

from modelyard.errors import PermissionDenied
from modelyard.service.search_filter import Comparison


class Access(Protocol):
    """What a service may ask about a caller. Methods never touch HTTP."""

    @property
    def enabled(self) -> bool:
        """True when authentication is on (decisions may then say no)."""

    def is_admin(self, user: str | None) -> bool: ...

    def can_read_model(self, user: str | None, model: str) -> bool: ...

    def can_edit_model(self, user: str | None, model: str) -> bool: ...

    def can_manage_model(self, user: str | None, model: str) -> bool: ...

    def can_move_stage(self, user: str | None, model: str, from_stage: str, to_stage: str) -> bool:
        """May `user` move a version of `model` from `from_stage` to `to_stage`?

        Moving into or out of Staging needs the Staging right, into or out of
        Production the Production right (which includes Staging); this is also
        who may approve a transition request.
        """

    def stage_right_missing(
        self, user: str | None, model: str, from_stage: str, to_stage: str
    ) -> str:
        """A sentence naming the right `user` lacks and who can grant it."""

    def require_alias_change(self, user: str | None, model: str, alias: str) -> None:
        """Raise PermissionDenied when `alias` is protected and `user` lacks the right."""

    def visibility(self, user: str | None, kind: str) -> Comparison | None:
        """A search condition keeping only the experiments (kind "experiment") or
        registered models ("registered_model") `user` may read; None: all."""

    def record_creator(self, user: str | None, kind: str, resource: str) -> None:
        """Give the creator of an experiment (kind "experiment", id) or model
        ("registered_model", name) MANAGE on it."""


class OpenAccess:
    """Authentication off: every caller may do everything."""

    enabled = False

    def is_admin(self, user: str | None) -> bool:
        return True

    def can_read_model(self, user: str | None, model: str) -> bool:
        return True

    def can_edit_model(self, user: str | None, model: str) -> bool:
        return True

    def can_manage_model(self, user: str | None, model: str) -> bool:
        return True

    def can_move_stage(self, user: str | None, model: str, from_stage: str, to_stage: str) -> bool:
        return True

    def stage_right_missing(
        self, user: str | None, model: str, from_stage: str, to_stage: str
    ) -> str:
        return ""

    def require_alias_change(self, user: str | None, model: str, alias: str) -> None:
        return None

    def record_creator(self, user: str | None, kind: str, resource: str) -> None:
        return None

    def visibility(self, user: str | None, kind: str) -> Comparison | None:
        return None


def require_stage_move(
    access: Access, user: str | None, model: str, from_stage: str, to_stage: str
) -> None:
    """Raise PermissionDenied (403) naming the missing right, or return."""
    if not access.can_move_stage(user, model, from_stage, to_stage):
        raise PermissionDenied(access.stage_right_missing(user, model, from_stage, to_stage))
