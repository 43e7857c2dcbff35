"""Registry rules: names, stages, aliases, versions and promotion history.

Everything that decides whether a registry request is valid lives here, in
MLflow's words where MLflow has words, so REST, UI and CLI share one set of
rules. The store persists and keeps the concurrency-critical steps atomic.

**The stage rule.** The seed says Staging and Production each hold one
version and the replaced version becomes Archived. Under the default
`--stage-policy exclusive` every transition into Staging or Production
archives the previous holder, whatever `archive_existing_versions` says, and
marks the new holder so that the schema's unique index refuses a second one.
`--stage-policy mlflow` is MLflow's permissive rule: archive only when the
client asks. Stage names are matched case-insensitively, as MLflow does.

Source resolution lives in `model_sources.py` and MLflow 3 logged models
(with the run-folder stand-in that makes plain-folder registration work) in
`logged_models.py`; both are mixed into `RegistryService`, which is the one
object the HTTP layer, the UI and the CLI talk to.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable, Sequence
from typing import Any, Protocol
from urllib.parse import urlsplit

from modelyard.entities import (
    Experiment,
    Page,
    RunInfo,
    Tag,
)
from modelyard.errors import (
    InvalidParameterValue,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
)
from modelyard.registry_entities import (
    HistoryCause,
    HistoryEvent,
    ModelVersion,
    RegisteredModel,
    Stage,
    StageHolder,
)
from modelyard.service import search_filter as sf
from modelyard.service import validation as v
from modelyard.service.access import Access, OpenAccess, require_stage_move
from modelyard.service.artifacts import ArtifactLocation, ArtifactService, Download
from modelyard.service.logged_models import (  # noqa: F401  (re-exported)
    RUN_FOLDER_PREFIX,
    RUN_ROOT_NAME,
    LoggedModelRules,
    logged_model_status,
)
from modelyard.service.model_sources import ResolvedSource, SourceRules, check_source_path  # noqa: F401
from modelyard.service.registry_validation import (  # noqa: F401  (re-exported)
    MAX_MODEL_NAME_LENGTH,
    canonical_stage,
    parse_version,
    result_limit,
    validate_alias,
    validate_model_name,
    validate_registry_tag,
)
from modelyard.store.artifacts import FileInfo, clean_artifact_path
from modelyard.store.registry import Actor, NewModelVersion, RegistryStore
from modelyard.store.sql.db import UniqueViolation

SEARCH_REGISTERED_MODELS_DEFAULT = 100
SEARCH_REGISTERED_MODELS_MAX = 1000
SEARCH_MODEL_VERSIONS_DEFAULT = 10_000
SEARCH_MODEL_VERSIONS_MAX = 200_000
HISTORY_DEFAULT = 100
HISTORY_MAX = 1000

PROMPT_TAG = "mlflow.prompt.is_prompt"
PROMPT_SOURCES = frozenset({"dummy-source", "prompt-template"})
MODEL_VERSIONS_TAG = "mlflow.modelVersions"


class Tracking(Protocol):
    """What the registry needs from the tracking service."""

    def get_experiment(self, experiment_id: str) -> Experiment: ...

    def get_run_info(self, run_id: str) -> RunInfo: ...

    def search_run_infos(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        view_type: str | None = None,
        max_results: int | None = None,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> Page[RunInfo]: ...


class StageGate(Protocol):
    """Decides whether `user` may move a version into `to_stage` directly;
    raises PermissionDenied or returns the history cause to record."""

    def check_direct_move(
        self, name: str, version: int | None, to_stage: str, user: str | None
    ) -> str: ...


def _is_prompt(tags: Sequence[Tag]) -> bool:
    last = {t.key: t.value for t in tags}
    return (last.get(PROMPT_TAG) or "false").lower() == "true"


def _querying_prompts(filters: Sequence[sf.Comparison]) -> tuple[bool, list[sf.Comparison]]:
    """MLflow hides prompts from model searches unless the filter asks for them
    (`tags.mlflow.prompt.is_prompt = 'true'`); a filter on that tag that does
    not select prompts is dropped, as MLflow drops it."""
    for c in filters:
        if c.entity == "tag" and c.key == PROMPT_TAG:
            value = str(c.value).lower()
            if (c.op == "=" and value == "true") or (c.op == "!=" and value == "false"):
                return True, list(filters)
            return False, [f for f in filters if not (f.entity == "tag" and f.key == PROMPT_TAG)]
    return False, list(filters)


# -- the service -------------------------------------------------------------------------


class RegistryService(SourceRules, LoggedModelRules):
    def __init__(
        self,
        store: RegistryStore,
        *,
        tracking: Tracking,
        artifacts: ArtifactService | None = None,
        stage_policy: str = "exclusive",
        clock: Callable[[], int],
        new_id: Callable[[], str],
    ) -> None:
        if stage_policy not in ("exclusive", "mlflow"):
            raise ValueError(f"stage policy must be 'exclusive' or 'mlflow', got {stage_policy!r}")
        self.store = store
        self.tracking = tracking
        self.artifacts = artifacts
        self.stage_policy = stage_policy
        self.clock = clock
        self.new_id = new_id
        # Called with each new version after it is stored (manifests freeze its files).
        self.on_version_created: list[Callable[[ModelVersion], None]] = []

        # Set by approvals (service/transition_requests.py): refuses a direct
        # move into a stage that needs an approved request.
        self.stage_gate: StageGate | None = None
        # Who may move stages and protected aliases (service/access.py); the real
        # policy is set by create_app when authentication is on.
        self.access: Access = OpenAccess()

    def _actor(self, user: str | None, comment: str | None = None) -> Actor:
        return Actor(now=self.clock(), user_id=user, comment=comment)

    @property
    def exclusive(self) -> bool:
        return self.stage_policy == "exclusive"

    # -- registered models --------------------------------------------------
    def create_registered_model(
        self, name: str | None, tags: Sequence[Tag] = (), description: str | None = None
    ) -> RegisteredModel:
        name = validate_model_name(name)
        checked = [validate_registry_tag(t.key, t.value) for t in tags]
        try:
            return self.store.create_registered_model(name, description, checked, self.clock())
        except UniqueViolation:
            existing = self.store.get_registered_model(name)
            old = "Prompt" if _is_prompt(existing.tags) else "Registered Model"
            new = "Prompt" if _is_prompt(checked) else "Registered Model"
            if old != new:
                raise ResourceAlreadyExists(
                    f"Tried to create a {new.lower()} with name {name!r}, but the name is "
                    f"already taken by a {old.lower()}. MLflow does not allow creating a "
                    "model and a prompt with the same name."
                ) from None
            raise ResourceAlreadyExists(f"{new} (name={name}) already exists.") from None

    def get_registered_model(self, name: str | None) -> RegisteredModel:
        return self.store.get_registered_model(validate_model_name(name))

    def rename_registered_model(self, name: str | None, new_name: str | None) -> RegisteredModel:
        name = validate_model_name(name)
        new_name = validate_model_name(new_name, "new_name")
        try:
            return self.store.rename_registered_model(name, new_name, self.clock())
        except UniqueViolation:
            raise ResourceAlreadyExists(
                f"Registered Model (name={new_name}) already exists."
            ) from None

    def update_registered_model(self, name: str | None, description: str | None) -> RegisteredModel:
        return self.store.update_registered_model(
            validate_model_name(name), description, self.clock()
        )

    def delete_registered_model(self, name: str | None) -> None:
        self.store.delete_registered_model(validate_model_name(name))

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int | None = None,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
        visible: sf.Comparison | None = None,
    ) -> Page[RegisteredModel]:
        """`visible`: the caller's readable models (services.access.visibility)."""
        limit = result_limit(
            max_results, SEARCH_REGISTERED_MODELS_DEFAULT, SEARCH_REGISTERED_MODELS_MAX
        )
        prompts, filters = _querying_prompts(sf.parse_registered_model_filter(filter_string))
        return self.store.search_registered_models(
            [*filters, *([visible] if visible else [])],
            sf.parse_registered_model_order_by(list(order_by)),
            limit,
            sf.decode_page_token(page_token),
            prompts,
        )

    def get_latest_versions(
        self, name: str | None, stages: Sequence[str] = ()
    ) -> list[ModelVersion]:
        canonical = sorted({canonical_stage(s) for s in stages})
        return self.store.get_latest_versions(validate_model_name(name), canonical)

    def set_registered_model_tag(
        self, name: str | None, key: str | None, value: str | None
    ) -> None:
        self.store.set_registered_model_tag(
            validate_model_name(name), validate_registry_tag(key, value)
        )

    def delete_registered_model_tag(self, name: str | None, key: str | None) -> None:
        if key is None or key == "":
            raise InvalidParameterValue("Missing value for required parameter 'key'.")
        v.validate_key_name(key, "key", "Tag key")
        self.store.delete_registered_model_tag(validate_model_name(name), key)

    # -- aliases --------------------------------------------------------------
    def set_alias(
        self,
        name: str | None,
        alias: str | None,
        version: str | int | None,
        user: str | None = None,
        comment: str | None = None,
    ) -> None:
        name = validate_model_name(name)
        alias = validate_alias(alias, setting=True)
        self.access.require_alias_change(user, name, alias)
        self.store.set_alias(name, alias, parse_version(version), self._actor(user, comment))

    def delete_alias(self, name: str | None, alias: str | None, user: str | None = None) -> None:
        name = validate_model_name(name)
        alias = validate_alias(alias, setting=False)
        self.access.require_alias_change(user, name, alias)
        self.store.delete_alias(name, alias, self._actor(user))

    def get_version_by_alias(self, name: str | None, alias: str | None) -> ModelVersion:
        name = validate_model_name(name)
        alias = validate_alias(alias, setting=False)
        if alias.lower() == "latest":
            versions = self.store.get_latest_versions(name, [])
            if not versions:
                raise ResourceDoesNotExist(f"Latest version not found for model {name}.")
            return max(versions, key=lambda mv: mv.version)
        found = self.store.get_version_by_alias(name, alias)
        if found is None:
            # MLflow's code for this case, kept because clients branch on it.
            raise InvalidParameterValue(f"Registered model alias {alias} not found.")
        return found

    # -- model versions -------------------------------------------------------
    def create_model_version(
        self,
        name: str | None,
        source: str | None,
        run_id: str | None = None,
        tags: Sequence[Tag] = (),
        run_link: str | None = None,
        description: str | None = None,
        model_id: str | None = None,
        user: str | None = None,
    ) -> ModelVersion:
        name = validate_model_name(name)
        if not source:
            raise InvalidParameterValue("Missing value for required parameter 'source'.")
        checked = [validate_registry_tag(t.key, t.value) for t in tags]
        if _is_prompt(checked):
            if source not in PROMPT_SOURCES:
                raise InvalidParameterValue(
                    f"Invalid prompt source: '{source}'. Prompt sources must use an MLflow "
                    "placeholder."
                )
            resolved = ResolvedSource(source, None, run_id or None, model_id or None)
        else:
            resolved = self.resolve_source(source, run_id or None, model_id or None)
        created = self.store.create_model_version(
            NewModelVersion(
                name=name,
                source=resolved.source,
                storage_location=resolved.storage_location,
                run_id=resolved.run_id,
                run_link=run_link if run_link is not None else "",
                model_id=resolved.model_id,
                # MLflow stores "" for a version created without a description.
                description=description if description is not None else "",
                user_id=user,
                tags=tuple(checked),
            ),
            self._actor(user),
        )
        if resolved.model_id and not _is_prompt(checked):
            self._note_registration(resolved.model_id, name, created.version)
        for hook in self.on_version_created:
            hook(created)
        return created

    def _note_registration(self, model_id: str, name: str, version: int) -> None:
        """MLflow's `mlflow.modelVersions` tag on the logged model: which
        registered versions were made from it (the UI links them)."""
        model = self.store.get_logged_model(model_id, allow_deleted=True)
        entry = {"name": name, "version": version}
        existing: list[Any] = []
        for tag in model.tags:
            if tag.key == MODEL_VERSIONS_TAG:
                try:
                    loaded = json.loads(tag.value or "[]")
                except ValueError:
                    loaded = []
                existing = loaded if isinstance(loaded, list) else []
        if entry not in existing:
            existing.append(entry)
        self.store.set_logged_model_tags(
            model_id, [Tag(MODEL_VERSIONS_TAG, json.dumps(existing))], self.clock()
        )

    def get_model_version(self, name: str | None, version: str | int | None) -> ModelVersion:
        return self.store.get_model_version(validate_model_name(name), parse_version(version))

    def update_model_version(
        self, name: str | None, version: str | int | None, description: str | None
    ) -> ModelVersion:
        return self.store.update_model_version(
            validate_model_name(name), parse_version(version), description, self.clock()
        )

    def delete_model_version(
        self, name: str | None, version: str | int | None, user: str | None = None
    ) -> None:
        self.store.delete_model_version(
            validate_model_name(name), parse_version(version), self._actor(user)
        )

    def get_download_uri(self, name: str | None, version: str | int | None) -> str:
        return self.get_model_version(name, version).download_uri

    def transition_stage(
        self,
        name: str | None,
        version: str | int | None,
        stage: str | None,
        archive_existing_versions: bool = False,
        user: str | None = None,
        comment: str | None = None,
    ) -> ModelVersion:
        name = validate_model_name(name)
        number = parse_version(version)
        target, archive = self.stage_move(stage, archive_existing_versions)
        cause = HistoryCause.REQUEST
        if self.stage_gate is not None:
            # Approvals first: their refusal says how to request the move instead.
            cause = self.stage_gate.check_direct_move(name, number, target, user)
        if self.access.enabled:
            current = self.store.get_model_version(name, number).current_stage
            require_stage_move(self.access, user, name, current, target)
        return self.store.transition_stage(
            name,
            number,
            target,
            archive_others=archive,
            exclusive=self.exclusive,
            actor=self._actor(user, comment),
            cause=cause,
        )

    def stage_move(
        self, stage: str | None, archive_existing_versions: bool = False
    ) -> tuple[str, bool]:
        """The canonical target stage and whether entering it archives the
        current holders, under the server's stage policy (approvals reuse it)."""
        if not stage:
            raise InvalidParameterValue("Missing value for required parameter 'stage'.")
        target = canonical_stage(stage)
        active = target in Stage.EXCLUSIVE
        if archive_existing_versions and not active:
            raise InvalidParameterValue(
                "Model version transition cannot archive existing model versions because "
                f"'{stage}' is not an Active stage. Valid stages are "
                f"{list(Stage.EXCLUSIVE)}"
            )
        return target, active if self.exclusive else archive_existing_versions

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int | None = None,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
        visible: sf.Comparison | None = None,
    ) -> Page[ModelVersion]:
        """`visible`: the caller's readable models (services.access.visibility)."""
        limit = result_limit(max_results, SEARCH_MODEL_VERSIONS_DEFAULT, SEARCH_MODEL_VERSIONS_MAX)
        prompts, filters = _querying_prompts(sf.parse_model_version_filter(filter_string))
        clauses = list(order_by) or [
            "last_updated_timestamp DESC",
            "name ASC",
            "version_number DESC",
        ]
        return self.store.search_model_versions(
            [*filters, *([visible] if visible else [])],
            sf.parse_model_version_order_by(clauses),
            limit,
            sf.decode_page_token(page_token),
            prompts,
        )

    def set_model_version_tag(
        self, name: str | None, version: str | int | None, key: str | None, value: str | None
    ) -> None:
        self.store.set_model_version_tag(
            validate_model_name(name),
            parse_version(version),
            validate_registry_tag(key, value),
            self.clock(),
        )

    def delete_model_version_tag(
        self, name: str | None, version: str | int | None, key: str | None
    ) -> None:
        if key is None or key == "":
            raise InvalidParameterValue("Missing value for required parameter 'key'.")
        v.validate_key_name(key, "key", "Tag key")
        self.store.delete_model_version_tag(
            validate_model_name(name), parse_version(version), key, self.clock()
        )

    # -- files ----------------------------------------------------------------
    def _locate(self, uri: str) -> ArtifactLocation:
        """Which artifact store, and where in it, an artifact URI points. The
        artifact service resolves locations; `runs:/<id>/<path>` (a download
        URI MLflow leaves for the client to resolve) is resolved here first."""
        if self.artifacts is None:
            raise InvalidParameterValue("This server has no artifact service configured.")
        parts = urlsplit(uri)
        if parts.scheme.lower() in ("runs", "run"):
            segments = [s for s in parts.path.split("/") if s]
            if not segments:
                raise InvalidParameterValue(f"Cannot read artifacts at '{uri}'.")
            where = self.artifacts.run_artifacts(segments[0])
            inner = clean_artifact_path("/".join(segments[1:]))
            return ArtifactLocation(uri, where.store, where.at(inner))
        return self.artifacts.locate(uri)

    def version_location(self, mv: ModelVersion) -> ArtifactLocation:
        """Where a version's files are: its download URI, resolved to a store and folder."""
        return self._locate(mv.download_uri)

    def model_version_artifact(
        self,
        name: str | None,
        version: str | int | None,
        path: str | None,
        *,
        read_below: int = 0,
    ) -> Download:
        """One file of a version, read from its download location (the UI's
        `model-versions/get-artifact`)."""
        if path is None or path == "":
            raise InvalidParameterValue("Missing value for required parameter 'path'.")
        rel = clean_artifact_path(path, allow_root=False)
        where = self._locate(self.get_download_uri(name, version))
        return Download(where.store.stat(where.at(rel), read_below=read_below), where.store)

    def files_under(self, uri: str, path: str | None) -> list[FileInfo]:
        """The files directly under `path` of the artifact location `uri`, with
        paths relative to that location (the file browsers of the UI and API)."""
        rel = clean_artifact_path(path)
        where = self._locate(uri)
        prefix = f"{rel}/" if rel else ""
        return [
            FileInfo(prefix + posixpath.basename(info.path), info.is_dir, info.file_size)
            for info in where.store.list(where.at(rel))
        ]

    def model_version_artifacts(
        self, name: str | None, version: str | int | None, path: str | None
    ) -> list[FileInfo]:
        """The files of a version's download location under `path` (relative
        to that location), for the UI's file browser on a version page."""
        return self.files_under(self.get_download_uri(name, version), path)

    # -- promotion history ----------------------------------------------------
    def history(
        self,
        name: str | None,
        version: str | int | None = None,
        max_results: int | None = None,
        page_token: str | None = None,
    ) -> Page[HistoryEvent]:
        return self.store.list_history(
            validate_model_name(name),
            None if version in (None, "") else parse_version(version),
            result_limit(max_results, HISTORY_DEFAULT, HISTORY_MAX),
            sf.decode_page_token(page_token),
        )

    def stage_holder(self, name: str | None, stage: str | None, at: int | None) -> StageHolder:
        if not stage:
            raise InvalidParameterValue("Missing value for required parameter 'stage'.")
        when = self.clock() if at is None else at
        if when < 0:
            raise InvalidParameterValue(f"Invalid value {when} for parameter 'at' supplied.")
        return self.store.stage_holder(validate_model_name(name), canonical_stage(stage), when)

    def rollback(
        self,
        name: str | None,
        stage: str | None,
        user: str | None = None,
        comment: str | None = None,
    ) -> ModelVersion:
        if not stage:
            raise InvalidParameterValue("Missing value for required parameter 'stage'.")
        target = canonical_stage(stage)
        if target not in Stage.EXCLUSIVE:
            raise InvalidParameterValue(
                f"Only {' and '.join(Stage.EXCLUSIVE)} can be rolled back, not '{target}'."
            )
        name = validate_model_name(name)
        if self.stage_gate is not None:
            self.stage_gate.check_direct_move(name, None, target, user)
        if self.access.enabled:
            require_stage_move(self.access, user, name, target, target)
        return self.store.rollback_stage(
            name,
            target,
            exclusive=self.exclusive,
            actor=self._actor(user, comment),
        )


def wire(services: Any) -> None:
    """Called by `create_app`: build the registry service from the settings."""
    from modelyard.store.sql.registry import SqlRegistryStore

    services.registry = RegistryService(
        SqlRegistryStore(services.db),
        tracking=services.tracking,
        artifacts=services.artifacts,
        stage_policy=services.settings.stage_policy,
        clock=services.clock,
        new_id=services.new_id,
    )
