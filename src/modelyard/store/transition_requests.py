"""The store contract for promotion requests, approval policies and comments.

Storage-shaped, as the registry contract is: names in, entities out. The
service decides every rule; the one decision that depends on what concurrent
requests are doing (which open request an approval consumes, given four-eyes)
is passed in as `choose` and runs inside the approval's transaction, under the
registered model's lock, so two approvals racing on two processes approve once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from modelyard.approval_entities import Decision, TransitionRequest, VersionComment
from modelyard.registry_entities import ModelVersion
from modelyard.store.registry import Actor

# Given the open requests for (version, stage), oldest first, return the one an
# approval consumes, or raise (e.g. PermissionDenied under four-eyes).
Chooser = Callable[[Sequence[TransitionRequest]], TransitionRequest]


@dataclass(frozen=True, slots=True)
class StageMove:
    """The stage move an approval performs, as the registry service decided it."""

    stage: str
    archive_others: bool
    exclusive: bool


class TransitionRequestStore(ABC):
    # -- requests -------------------------------------------------------------
    @abstractmethod
    def create_request(
        self, name: str, version: int, to_stage: str, actor: Actor
    ) -> TransitionRequest:
        """Open a request (UniqueViolation when the user already has one open)."""

    @abstractmethod
    def list_requests(
        self,
        name: str | None,
        version: int | None,
        statuses: Sequence[str],
        max_results: int,
    ) -> list[TransitionRequest]:
        """Requests with one of `statuses`, newest first; `name`/`version` narrow."""

    @abstractmethod
    def approve(
        self, name: str, version: int, move: StageMove, choose: Chooser, actor: Actor
    ) -> tuple[Decision, ModelVersion]:
        """Approve one open request and perform its transition, in one transaction."""

    @abstractmethod
    def close_requests(
        self,
        name: str,
        version: int,
        to_stage: str,
        status: str,
        actor: Actor,
        creator: str | None = None,
    ) -> Decision:
        """Reject (any creator) or cancel (`creator`'s) the open requests for
        (version, stage); ResourceDoesNotExist when there is none."""

    @abstractmethod
    def last_closed(self, name: str, version: int, to_stage: str) -> TransitionRequest | None:
        """The most recently closed request for (version, stage), for messages."""

    # -- approval policy ------------------------------------------------------
    @abstractmethod
    def model_policies(self, name: str) -> dict[str, bool]:
        """Stages the model itself requires (True) or exempts (False)."""

    @abstractmethod
    def set_model_policy(self, name: str, stage: str, required: bool | None) -> None:
        """Set the model's own rule for `stage`; None falls back to the server's."""

    @abstractmethod
    def models_with_open_requests(self, names: Sequence[str]) -> dict[str, int]:
        """How many open requests each of `names` has (absent: none)."""

    # -- comments -------------------------------------------------------------
    @abstractmethod
    def add_comment(self, name: str, version: int, actor: Actor) -> VersionComment: ...

    @abstractmethod
    def get_comment(self, comment_id: int) -> VersionComment: ...

    @abstractmethod
    def update_comment(self, comment_id: int, text: str, now: int) -> VersionComment: ...

    @abstractmethod
    def delete_comment(self, comment_id: int) -> None: ...

    @abstractmethod
    def list_comments(self, name: str, version: int) -> list[VersionComment]: ...
