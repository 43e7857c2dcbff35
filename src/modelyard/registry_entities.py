"""Model registry entities: frozen dataclasses that know nothing of JSON or SQL.

Times are integer milliseconds since the epoch. Versions are integers here and
strings on the wire (MLflow's protobuf declares them as strings). A model
version's `storage_location` is where its files really are (MLflow keeps the
same column): for a `models:/<model_id>` source it is the logged model's
artifact location, for `run:/…` it is the `runs:/…` URI the client can
resolve, otherwise None and the source itself is the download URI.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from modelyard.entities import Metric, Param, Tag


class Stage:
    """MLflow's model version stages, canonical spelling."""

    NONE = "None"
    STAGING = "Staging"
    PRODUCTION = "Production"
    ARCHIVED = "Archived"
    ALL = ("None", "Staging", "Production", "Archived")
    # The stages the seed says hold one version each.
    EXCLUSIVE = ("Staging", "Production")


class HistoryAction:
    """What a promotion-history event records."""

    CREATED = "created"  # a version was registered (it starts in stage None)
    TRANSITION = "transition"  # a version changed stage
    DELETED = "deleted"  # a version was deleted (it leaves whatever stage it held)
    ALIAS_SET = "alias_set"
    ALIAS_DELETED = "alias_deleted"


class HistoryCause:
    """Why an event happened: asked for, or a consequence of another request."""

    REQUEST = "request"
    DISPLACED = "displaced"  # archived because another version took its stage
    ROLLBACK = "rollback"
    # Approvals (service/transition_requests.py):
    APPROVAL = "approval"  # performed by approving a transition request
    OVERRIDE = "override"  # moved directly, where approval is required, by a holder of the right
    SYSTEM = "system"  # drawn by the system, e.g. a request voided when its version moved


@dataclass(frozen=True, slots=True)
class ModelAlias:
    alias: str
    version: int


@dataclass(frozen=True, slots=True)
class ModelVersion:
    name: str
    version: int
    creation_timestamp: int
    last_updated_timestamp: int
    current_stage: str
    source: str
    description: str | None = None
    user_id: str | None = None
    run_id: str | None = None
    run_link: str | None = None
    model_id: str | None = None
    storage_location: str | None = None
    status: str = "READY"
    status_message: str | None = None
    tags: tuple[Tag, ...] = ()
    aliases: tuple[str, ...] = ()

    @property
    def download_uri(self) -> str:
        return self.storage_location or self.source


@dataclass(frozen=True, slots=True)
class RegisteredModel:
    name: str
    creation_timestamp: int
    last_updated_timestamp: int
    description: str | None = None
    latest_versions: tuple[ModelVersion, ...] = ()
    tags: tuple[Tag, ...] = ()
    aliases: tuple[ModelAlias, ...] = ()


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    """One line of a registered model's promotion history.

    For stage events `from_stage`/`to_stage` say what changed; for alias events
    `alias` names it and `previous_version` says where it pointed before (None
    when it is new). `user_id` is who made the request, when known.
    """

    event_id: int
    name: str
    version: int
    action: str
    timestamp: int
    from_stage: str | None = None
    to_stage: str | None = None
    alias: str | None = None
    previous_version: int | None = None
    user_id: str | None = None
    comment: str | None = None
    cause: str = HistoryCause.REQUEST


@dataclass(frozen=True, slots=True)
class StageHolder:
    """Answer to "which version held stage S at time T": `version` is None when
    no version held it; `since` is when that version entered the stage."""

    name: str
    stage: str
    at: int
    version: int | None = None
    since: int | None = None


class LoggedModelStatus:
    """MLflow's LoggedModelStatus under the short names its Python entity and
    search filters use (`status = 'READY'`); the wire uses the protobuf enum
    names, see `PROTO`. Index in `ALL` is the protobuf number."""

    UNSPECIFIED = "UNSPECIFIED"
    PENDING = "PENDING"
    READY = "READY"
    FAILED = "FAILED"
    ALL = (UNSPECIFIED, PENDING, READY, FAILED)
    PROTO: ClassVar[dict[str, str]] = {
        UNSPECIFIED: "LOGGED_MODEL_STATUS_UNSPECIFIED",
        PENDING: "LOGGED_MODEL_PENDING",
        READY: "LOGGED_MODEL_READY",
        FAILED: "LOGGED_MODEL_UPLOAD_FAILED",
    }


@dataclass(frozen=True, slots=True)
class LoggedModel:
    """An MLflow 3 logged model. `run_folder` is set (to the run-relative path,
    "" for the root) when the model stands for a plain folder of a run's
    artifacts rather than something a client logged; see service.registry."""

    model_id: str
    experiment_id: str
    name: str
    artifact_location: str
    creation_timestamp: int
    last_updated_timestamp: int
    status: str
    lifecycle_stage: str = "active"
    model_type: str | None = None
    source_run_id: str | None = None
    status_message: str | None = None
    tags: tuple[Tag, ...] = ()
    params: tuple[Param, ...] = ()
    run_folder: str | None = None
    # Points logged with this model_id (MLflow 3), oldest first per key.
    metrics: tuple[Metric, ...] = ()
