"""Registry rules: names, stages, aliases, sources, promotion history, logged models.

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

**Sources.** A version's source must lie inside the artifacts of the run or
logged model it comes from; we are stricter than MLflow (which accepts any
`s3://…` source with no run at all):

* `runs:/<run_id>/<path>`: the run must exist; `run_id`, when sent, must match.
  The seed's `run:/<run_id>/<path>` is accepted as a synonym; its download URI
  is the run's artifact location (the client does not know the `run:` scheme).
* `models:/<model_id>`: the logged model must exist; its artifact location is
  the download URI. `models:/<name>/<version|stage|latest>` and
  `models:/<name>@<alias>` copy an existing version (MLflow's lineage rule).
* `mlflow-artifacts:/…`, `http(s)://…/api/2.0/mlflow-artifacts/artifacts/…`,
  `s3://…` and the like, and local paths: only inside the artifact location of
  the run (`run_id`) or logged model (`model_id`) sent with the request.
* Everywhere: no `..` segment, no `.` segment, no NUL, even percent-encoded.

**Plain-folder registration with the MLflow 3 client.** The seed logs a plain
folder (`mlflow.log_artifacts('output_model')`, no MLmodel file) and then calls
`mlflow.register_model('runs:/<run_id>', name)`. The 3.x client lists the run
root, finds no MLmodel and looks for a logged model instead:
`POST logged-models/search` over the run's experiment with the filter
`name = 'None'` (the artifact path of a root URI), keeping the results whose
`source_run_id` is the run; finding none, it gives up. We answer that search
with, after any real matches, one *run-folder model* per active run of the
experiments: a logged model whose id is `m-run-<run_id>` and whose artifact
location is the run's own artifact URI. The client then registers
`models:/m-run-<run_id>`, and that create-model-version call materialises the
row (deterministic id, so repeated registrations reuse it), which gives the
version the run's artifact URI as its download URI: the run's files are what
`models:/<name>/<version>` downloads. Nothing is copied and nothing is written
until a registration happens; `GET logged-models/m-run-<id>` answers without
writing. Only the run root is offered: a subfolder `runs:/<id>/<dir>` is not,
because the client runs the same search whenever it lists or downloads
`runs:/<id>/<dir>` and would then fetch every file twice; such a folder is
registered with `MlflowClient().create_model_version(name, 'runs:/<id>/<dir>',
run_id=<id>)` or with the seed's `run:/<id>/<dir>` spelling. A filter that
also names `source_run_id` narrows the offer to that run.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol
from urllib.parse import unquote_plus, urlsplit

from modelyard.entities import (
    Experiment,
    LifecycleStage,
    Page,
    Param,
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
    LoggedModel,
    LoggedModelStatus,
    ModelVersion,
    RegisteredModel,
    Stage,
    StageHolder,
)
from modelyard.service import search_filter as sf
from modelyard.service import validation as v
from modelyard.service.artifacts import ArtifactLocation, ArtifactService, Download
from modelyard.service.names import random_run_name
from modelyard.store.artifacts import FileInfo, clean_artifact_path
from modelyard.store.registry import Actor, NewModelVersion, RegistryStore
from modelyard.store.sql.db import UniqueViolation

SEARCH_REGISTERED_MODELS_DEFAULT = 100
SEARCH_REGISTERED_MODELS_MAX = 1000
SEARCH_MODEL_VERSIONS_DEFAULT = 10_000
SEARCH_MODEL_VERSIONS_MAX = 200_000
SEARCH_LOGGED_MODELS_DEFAULT = 100
RUN_ROOT_PAGE = 5000
SEARCH_LOGGED_MODELS_MAX = 50_000  # MLflow sets no limit; ours matches search-runs
HISTORY_DEFAULT = 100
HISTORY_MAX = 1000
MAX_MODEL_NAME_LENGTH = 256
MAX_REGISTRY_TAG_KEY_LENGTH = 250
MAX_REGISTRY_TAG_VALUE_LENGTH = 100_000
MAX_ALIAS_LENGTH = 255
MAX_SOURCE_LENGTH = 2048

PROMPT_TAG = "mlflow.prompt.is_prompt"
PROMPT_SOURCES = frozenset({"dummy-source", "prompt-template"})
MODEL_VERSIONS_TAG = "mlflow.modelVersions"
RUN_FOLDER_PREFIX = "m-run-"
RUN_ROOT_NAME = "None"  # what the 3.x client searches for when registering runs:/<id>

_ALIAS = re.compile(r"^[\w\-]*$")
_VERSION_ALIAS = re.compile(r"^[vV]\d+$")
_RUN_ID = re.compile(r"^[0-9a-zA-Z][\w\-]*$")


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


# -- small validators ------------------------------------------------------------------


def canonical_stage(stage: str | None) -> str:
    """MLflow's `get_canonical_stage`: case-insensitive, four stages."""
    for known in Stage.ALL:
        if stage is not None and stage.lower() == known.lower():
            return known
    raise InvalidParameterValue(
        f"Invalid Model Version stage: {stage}. Value must be one of {', '.join(Stage.ALL)}."
    )


def parse_version(version: str | int | None) -> int:
    if version is None or version == "":
        raise InvalidParameterValue("Missing value for required parameter 'version'.")
    if isinstance(version, int):
        return version
    try:
        return int(version)
    except ValueError:
        raise InvalidParameterValue(
            f"Parameter 'version' must be an integer, got '{version}'."
        ) from None


def validate_model_name(name: str | None, field: str = "name") -> str:
    if name is None or name.strip() == "":
        raise InvalidParameterValue(f"Missing value for required parameter '{field}'.")
    if "/" in name or ":" in name:
        raise InvalidParameterValue(
            f"Invalid model name '{name}'. Names cannot contain '/' or ':'."
        )
    norm = posixpath.normpath(name)
    if norm != name or norm == "." or norm.startswith(".."):
        raise v.invalid_value(
            field,
            name,
            "Names may be treated as files in certain cases, and must not resolve to other "
            f"names when treated as such. This name would resolve to {norm!r}",
        )
    if len(name) > MAX_MODEL_NAME_LENGTH:
        raise v.exceeds(f"Registered model name '{name[:50]}...'", MAX_MODEL_NAME_LENGTH)
    return name


def validate_registry_tag(key: str | None, value: str | None) -> Tag:
    if key is None or key == "":
        raise InvalidParameterValue("Missing value for required parameter 'key'.")
    v.validate_key_name(key, "key", "Tag key")
    v.validate_length("key", key, MAX_REGISTRY_TAG_KEY_LENGTH)
    v.validate_length("value", value, MAX_REGISTRY_TAG_VALUE_LENGTH)
    return Tag(key, value if value is not None else "")


def validate_alias(alias: str | None, *, setting: bool) -> str:
    if alias is None or alias == "":
        raise InvalidParameterValue("Registered model alias name cannot be empty.")
    if not _ALIAS.match(alias):
        raise InvalidParameterValue(
            f"Invalid alias name: '{alias}'. Names may only contain alphanumerics, "
            "underscores (_), and dashes (-)."
        )
    if len(alias) > MAX_ALIAS_LENGTH:
        raise v.exceeds("Registered model alias name", MAX_ALIAS_LENGTH)
    if setting:
        if alias.lower() == "latest":
            raise InvalidParameterValue("'latest' alias name (case insensitive) is reserved.")
        if _VERSION_ALIAS.match(alias):
            raise InvalidParameterValue(f"Version alias name '{alias}' is reserved.")
    return alias


def _limit(value: int | None, default: int, maximum: int) -> int:
    if value is None:
        return default
    if value < 1:
        raise InvalidParameterValue(
            f"Invalid value for max_results. It must be a positive integer, but got {value}"
        )
    if value > maximum:
        raise InvalidParameterValue(
            "Invalid value for request parameter max_results. It must be at most "
            f"{maximum}, but got value {value}"
        )
    return value


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


# -- sources -----------------------------------------------------------------------------


def _unquoted(text: str) -> str:
    while (step := unquote_plus(text)) != text:
        text = step
    return text


def _uri_parts(uri: str) -> tuple[str, str, tuple[str, ...]]:
    parts = urlsplit(uri)
    segments = tuple(_unquoted(p) for p in parts.path.split("/") if p)
    return parts.scheme.lower(), parts.netloc.lower(), segments


def _within(source: str, root: str) -> bool:
    """`source` is `root` or below it: same scheme and authority, path prefix."""
    s_scheme, s_host, s_path = _uri_parts(source)
    r_scheme, r_host, r_path = _uri_parts(root)
    if s_scheme == "file" or s_scheme == "":
        s_scheme, s_host = "file", ""
    if r_scheme == "file" or r_scheme == "":
        r_scheme, r_host = "file", ""
    return (
        s_scheme == r_scheme
        and s_host == r_host
        and bool(r_path)
        and s_path[: len(r_path)] == r_path
    )


def _invalid_source(source: str, why: str) -> InvalidParameterValue:
    return InvalidParameterValue(f"Invalid model version source: '{source}'. {why}")


def _must_identify(source: str, what: str) -> InvalidParameterValue:
    return _invalid_source(
        source, f"The {what} request parameter must identify the resource that contains the source."
    )


def check_source_path(source: str) -> None:
    """No relative segments, NUL bytes or similar tricks, however encoded."""
    if len(source) > MAX_SOURCE_LENGTH:
        raise v.exceeds("'source'", MAX_SOURCE_LENGTH)
    text = _unquoted(source)
    if "\x00" in text:
        raise _invalid_source(source, "It contains a NUL character.")
    segments = re.split(r"[/\\]", urlsplit(text).path) + re.split(r"[/\\]", text)
    if any(seg in ("..", ".") for seg in segments):
        raise _invalid_source(
            source,
            "A source must be an absolute location without relative path references ('.' or '..').",
        )


@dataclass(frozen=True, slots=True)
class ResolvedSource:
    source: str
    storage_location: str | None
    run_id: str | None
    model_id: str | None


# -- the service -------------------------------------------------------------------------


class RegistryService:
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
    ) -> Page[RegisteredModel]:
        limit = _limit(max_results, SEARCH_REGISTERED_MODELS_DEFAULT, SEARCH_REGISTERED_MODELS_MAX)
        prompts, filters = _querying_prompts(sf.parse_registered_model_filter(filter_string))
        return self.store.search_registered_models(
            filters,
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
        self.store.set_alias(
            validate_model_name(name),
            validate_alias(alias, setting=True),
            parse_version(version),
            self._actor(user, comment),
        )

    def delete_alias(self, name: str | None, alias: str | None, user: str | None = None) -> None:
        self.store.delete_alias(
            validate_model_name(name), validate_alias(alias, setting=False), self._actor(user)
        )

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

    def resolve_source(
        self, source: str, run_id: str | None, model_id: str | None
    ) -> ResolvedSource:
        """Check that `source` lies inside the run's or logged model's artifacts
        and work out its download location; see the module docstring."""
        check_source_path(source)
        parts = urlsplit(source)
        scheme = parts.scheme.lower()
        if scheme in ("runs", "run"):
            return self._run_source(source, scheme, run_id, model_id)
        if scheme == "models":
            return self._models_source(source, run_id, model_id)
        # Anything else names a location directly: it must be inside the
        # artifacts of the run or logged model the request names.
        if model_id:
            model = self._source_model(source, model_id)
            if _within(source, model.artifact_location):
                return ResolvedSource(source, None, run_id or model.source_run_id, model_id)
            raise _must_identify(source, "model_id")
        if run_id:
            info = self._source_run(source, run_id)
            if _within(source, info.artifact_uri):
                return ResolvedSource(source, None, run_id, None)
            raise _must_identify(source, "run_id")
        raise _invalid_source(
            source,
            "A model version's source must be inside the artifacts of the run (run_id) or "
            "logged model (model_id) it comes from; send that id with the source, or use a "
            "runs:/<run_id>/<path> or models:/<model_id> URI.",
        )

    def _source_run(self, source: str, run_id: str) -> RunInfo:
        if not _RUN_ID.match(run_id):
            raise _must_identify(source, "run_id")
        try:
            return self.tracking.get_run_info(run_id)
        except ResourceDoesNotExist:
            raise _must_identify(source, "run_id") from None

    def _source_model(self, source: str, model_id: str) -> LoggedModel:
        try:
            return self.get_logged_model(model_id)
        except ResourceDoesNotExist:
            raise _must_identify(source, "model_id") from None

    def _run_source(
        self, source: str, scheme: str, run_id: str | None, model_id: str | None
    ) -> ResolvedSource:
        parts = urlsplit(source)
        if parts.netloc or model_id:
            raise _must_identify(source, "model_id" if model_id else "run_id")
        segments = [s for s in parts.path.split("/") if s]
        if not segments:
            raise _invalid_source(
                source, "Runs URIs must be of the form 'runs:/<run_id>/run-relative/path'."
            )
        source_run, path = segments[0], "/".join(segments[1:])
        if run_id and run_id != source_run:
            raise _must_identify(source, "run_id")
        info = self._source_run(source, source_run)
        if scheme == "runs":
            # As MLflow: the client resolves runs:/ itself when downloading.
            return ResolvedSource(source, None, source_run, None)
        location = info.artifact_uri.rstrip("/") + (f"/{path}" if path else "")
        return ResolvedSource(source, location, source_run, None)

    def _models_source(
        self, source: str, run_id: str | None, model_id: str | None
    ) -> ResolvedSource:
        parts = urlsplit(source)
        if parts.netloc:
            raise _invalid_source(
                source, "Registered model sources must use the active model registry."
            )
        segments = [s for s in parts.path.split("/") if s]
        if len(segments) == 1 and "@" not in segments[0]:
            source_model = segments[0]
            if model_id and model_id != source_model:
                raise _must_identify(source, "model_id")
            model = self._source_model(source, source_model)
            if model.run_folder is not None:
                model = self.store.ensure_logged_model(model)
            if run_id and model.source_run_id and run_id != model.source_run_id:
                raise _must_identify(source, "run_id")
            return ResolvedSource(
                source, model.artifact_location, run_id or model.source_run_id, model.model_id
            )
        # models:/<name>/<version|stage|latest> or models:/<name>@<alias>
        if len(segments) == 1:
            name, alias = segments[0].rsplit("@", 1)
            mv = self.get_version_by_alias(name, alias)
        elif len(segments) == 2:
            name, suffix = segments
            if suffix.isdigit():
                mv = self.get_model_version(name, suffix)
            else:
                stages = [] if suffix.lower() == "latest" else [canonical_stage(suffix)]
                found = self.get_latest_versions(name, stages)
                if not found:
                    raise _invalid_source(source, f"No versions of model with name '{name}'.")
                mv = max(found, key=lambda x: x.version)
        else:
            raise _invalid_source(
                source, "Models URIs must be of the form 'models:/<name>/<version>'."
            )
        if (run_id and run_id != (mv.run_id or "")) or (
            model_id and model_id != (mv.model_id or "")
        ):
            raise _invalid_source(
                source,
                "The run_id and model_id request parameters must match the referenced "
                "model version.",
            )
        return ResolvedSource(
            f"models:/{mv.name}/{mv.version}",
            mv.download_uri,
            mv.run_id or None,
            mv.model_id,
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
        archive = active if self.exclusive else archive_existing_versions
        return self.store.transition_stage(
            name,
            number,
            target,
            archive_others=archive,
            exclusive=self.exclusive,
            actor=self._actor(user, comment),
            cause=HistoryCause.REQUEST,
        )

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int | None = None,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> Page[ModelVersion]:
        limit = _limit(max_results, SEARCH_MODEL_VERSIONS_DEFAULT, SEARCH_MODEL_VERSIONS_MAX)
        prompts, filters = _querying_prompts(sf.parse_model_version_filter(filter_string))
        clauses = list(order_by) or [
            "last_updated_timestamp DESC",
            "name ASC",
            "version_number DESC",
        ]
        return self.store.search_model_versions(
            filters,
            sf.parse_model_version_order_by(clauses),
            limit,
            sf.decode_page_token(page_token),
            prompts,
        )

    def set_model_version_tag(
        self, name: str | None, version: str | int | None, key: str | None, value: str | None
    ) -> None:
        self.store.set_model_version_tag(
            validate_model_name(name), parse_version(version), validate_registry_tag(key, value)
        )

    def delete_model_version_tag(
        self, name: str | None, version: str | int | None, key: str | None
    ) -> None:
        if key is None or key == "":
            raise InvalidParameterValue("Missing value for required parameter 'key'.")
        v.validate_key_name(key, "key", "Tag key")
        self.store.delete_model_version_tag(validate_model_name(name), parse_version(version), key)

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

    def model_version_artifacts(
        self, name: str | None, version: str | int | None, path: str | None
    ) -> list[FileInfo]:
        """The files of a version's download location under `path` (relative
        to that location), for the UI's file browser on a version page."""
        rel = clean_artifact_path(path)
        where = self._locate(self.get_download_uri(name, version))
        prefix = f"{rel}/" if rel else ""
        return [
            FileInfo(prefix + posixpath.basename(info.path), info.is_dir, info.file_size)
            for info in where.store.list(where.at(rel))
        ]

    def logged_model_artifacts(
        self, model_id: str | None, path: str | None
    ) -> tuple[str, list[FileInfo]]:
        """(root_uri, files under `path`, relative to the model's root)."""
        model = self.get_logged_model(model_id)
        rel = clean_artifact_path(path)
        where = self._locate(model.artifact_location)
        prefix = f"{rel}/" if rel else ""
        files = [
            FileInfo(prefix + posixpath.basename(info.path), info.is_dir, info.file_size)
            for info in where.store.list(where.at(rel))
        ]
        return model.artifact_location, files

    def logged_model_artifact(
        self, model_id: str | None, path: str | None, *, read_below: int = 0
    ) -> Download:
        if not path:
            raise InvalidParameterValue(
                'Request must include the "artifact_file_path" query parameter.'
            )
        model = self.get_logged_model(model_id)
        rel = clean_artifact_path(path, allow_root=False)
        where = self._locate(model.artifact_location)
        return Download(where.store.stat(where.at(rel), read_below=read_below), where.store)

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
            _limit(max_results, HISTORY_DEFAULT, HISTORY_MAX),
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
        return self.store.rollback_stage(
            validate_model_name(name),
            target,
            exclusive=self.exclusive,
            actor=self._actor(user, comment),
        )

    # -- logged models --------------------------------------------------------
    def create_logged_model(
        self,
        experiment_id: str | None,
        name: str | None = None,
        model_type: str | None = None,
        source_run_id: str | None = None,
        params: Sequence[Param] = (),
        tags: Sequence[Tag] = (),
    ) -> LoggedModel:
        if not experiment_id:
            raise InvalidParameterValue("Missing value for required parameter 'experiment_id'.")
        v.parse_experiment_id(experiment_id)
        if name is not None:
            bad = ("/", ":", ".", "%", '"', "'")
            if not name or any(c in name for c in bad):
                raise InvalidParameterValue(
                    f"Invalid model name ({name!r}) provided. Model name must be a non-empty "
                    f"string and cannot contain the following characters: {bad}"
                )
        for p in params:
            v.validate_param(p.key, p.value)
        for t in tags:
            v.validate_tag(t.key, t.value)
        experiment = self.tracking.get_experiment(experiment_id)
        if experiment.lifecycle_stage != LifecycleStage.ACTIVE:
            raise InvalidParameterValue(
                f"The experiment {experiment_id} must be in the 'active' state. "
                f"Current state is {experiment.lifecycle_stage}."
            )
        if source_run_id:
            self.tracking.get_run_info(source_run_id)
        model_id = f"m-{self.new_id()}"
        now = self.clock()
        model = LoggedModel(
            model_id=model_id,
            experiment_id=experiment.experiment_id,
            name=name or random_run_name(),
            artifact_location=(
                f"{experiment.artifact_location.rstrip('/')}/models/{model_id}/artifacts"
            ),
            creation_timestamp=now,
            last_updated_timestamp=now,
            status=LoggedModelStatus.PENDING,
            model_type=model_type or None,
            source_run_id=source_run_id or None,
            tags=tuple(tags),
            params=tuple(params),
        )
        self.store.create_logged_model(model)
        return self.store.get_logged_model(model_id)

    def _run_folder_model(self, info: RunInfo) -> LoggedModel:
        """The logged model that stands for a run's artifact root (not stored)."""
        start = info.start_time or 0
        return LoggedModel(
            model_id=RUN_FOLDER_PREFIX + info.run_id,
            experiment_id=info.experiment_id,
            name=RUN_ROOT_NAME,
            artifact_location=info.artifact_uri,
            creation_timestamp=start,
            last_updated_timestamp=info.end_time or start,
            status=LoggedModelStatus.READY,
            source_run_id=info.run_id,
            run_folder="",
        )

    def get_logged_model(self, model_id: str | None, allow_deleted: bool = False) -> LoggedModel:
        if not model_id:
            raise InvalidParameterValue("Missing value for required parameter 'model_id'.")
        try:
            return self.store.get_logged_model(model_id, allow_deleted)
        except ResourceDoesNotExist:
            run_id = model_id[len(RUN_FOLDER_PREFIX) :]
            if not model_id.startswith(RUN_FOLDER_PREFIX) or not _RUN_ID.match(run_id):
                raise
            try:
                info = self.tracking.get_run_info(run_id)
            except ResourceDoesNotExist:
                raise ResourceDoesNotExist(
                    f"Logged model with ID '{model_id}' not found."
                ) from None
            return self._run_folder_model(info)

    def _stored_logged_model(self, model_id: str | None) -> LoggedModel:
        """A logged model that exists as a row (run-folder ones get one now)."""
        model = self.get_logged_model(model_id)
        if model.run_folder is not None:
            return self.store.ensure_logged_model(model)
        return model

    def finalize_logged_model(self, model_id: str | None, status: str | int | None) -> LoggedModel:
        if status is None or status == "":
            raise InvalidParameterValue("Missing value for required parameter 'status'.")
        final = logged_model_status(status)
        model = self._stored_logged_model(model_id)
        return self.store.finalize_logged_model(model.model_id, final, self.clock())

    def delete_logged_model(self, model_id: str | None) -> None:
        model = self._stored_logged_model(model_id)
        self.store.delete_logged_model(model.model_id, self.clock())

    def set_logged_model_tags(self, model_id: str | None, tags: Sequence[Tag]) -> None:
        for t in tags:
            v.validate_tag(t.key, t.value)
        model = self._stored_logged_model(model_id)
        self.store.set_logged_model_tags(model.model_id, tags, self.clock())

    def delete_logged_model_tag(self, model_id: str | None, key: str | None) -> None:
        if not key:
            raise InvalidParameterValue("Missing value for required parameter 'tag_key'.")
        model = self._stored_logged_model(model_id)
        self.store.delete_logged_model_tag(model.model_id, key)

    def log_logged_model_params(self, model_id: str | None, params: Sequence[Param]) -> None:
        for p in params:
            v.validate_param(p.key, p.value)
        model = self._stored_logged_model(model_id)
        self.store.log_logged_model_params(model.model_id, params)

    def search_logged_models(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        max_results: int | None = None,
        order_by: Sequence[str | dict[str, Any]] = (),
        page_token: str | None = None,
        datasets: Sequence[dict[str, Any]] = (),
    ) -> Page[LoggedModel]:
        if not experiment_ids:
            raise InvalidParameterValue("Missing value for required parameter 'experiment_ids'.")
        for exp in experiment_ids:
            v.parse_experiment_id(exp)
        if datasets and not all(d.get("dataset_name") for d in datasets):
            raise InvalidParameterValue(
                "`dataset_name` in the `datasets` clause must be specified."
            )
        limit = _limit(max_results, SEARCH_LOGGED_MODELS_DEFAULT, SEARCH_LOGGED_MODELS_MAX)
        filters = [_normalise_status(c) for c in sf.parse_logged_model_filter(filter_string)]
        order = sf.parse_logged_model_order_by(list(order_by))
        offset = sf.decode_page_token(page_token)
        if datasets:
            # Metrics are not recorded against logged models (yet), so no model
            # has a metric on any dataset.
            return Page([], None)
        run_root, run_id = _run_root_query(filters)
        if run_root and max_results is None:
            # The 3.x client pages through every candidate of the experiment
            # (it filters by run itself), sending no max_results: large pages
            # of these cheap rows keep that to a few requests.
            limit = RUN_ROOT_PAGE
        if not run_root:
            return self.store.search_logged_models(experiment_ids, filters, order, limit, offset)
        return self._search_with_run_roots(experiment_ids, filters, order, limit, offset, run_id)

    def _search_with_run_roots(
        self,
        experiment_ids: Sequence[str],
        filters: list[sf.Comparison],
        order: list[sf.OrderKey],
        limit: int,
        offset: int,
        run_id: str | None,
    ) -> Page[LoggedModel]:
        """Real matches first, then one run-folder model per candidate run."""
        real_total = self.store.count_logged_models(experiment_ids, filters)
        items: list[LoggedModel] = []
        if offset < real_total:
            items = self.store.search_logged_models(
                experiment_ids, filters, order, limit, offset
            ).items
        run_offset = max(0, offset - real_total)
        room = limit - len(items)
        # A page filled by real matches always has a next one: run folders follow.
        more = True
        if room > 0:
            candidates, more_runs = self._run_root_candidates(
                experiment_ids, run_id, room, run_offset
            )
            items.extend(candidates)
            more = more_runs
        return Page(items, sf.encode_page_token(offset + limit) if more else None)

    def _run_root_candidates(
        self, experiment_ids: Sequence[str], run_id: str | None, limit: int, offset: int
    ) -> tuple[list[LoggedModel], bool]:
        if run_id is not None:
            if offset > 0 or not _RUN_ID.match(run_id):
                return [], False
            try:
                info = self.tracking.get_run_info(run_id)
            except ResourceDoesNotExist:
                return [], False
            if info.experiment_id not in experiment_ids or info.lifecycle_stage != "active":
                return [], False
            return [self._run_folder_model(info)], False
        page = self.tracking.search_run_infos(
            experiment_ids,
            max_results=limit,
            page_token=sf.encode_page_token(offset) if offset else None,
        )
        return [
            self._run_folder_model(info) for info in page.items
        ], page.next_page_token is not None


def _normalise_status(c: sf.Comparison) -> sf.Comparison:
    """`status = 'READY'` and `status = 'LOGGED_MODEL_READY'` both work."""
    if c.entity != "attribute" or c.key != "status":
        return c
    reverse = {proto: short for short, proto in LoggedModelStatus.PROTO.items()}

    def one(value: Any) -> Any:
        return reverse.get(value, value) if isinstance(value, str) else value

    if isinstance(c.value, tuple):
        return replace(c, value=tuple(one(x) for x in c.value))
    return replace(c, value=one(c.value))


def _run_root_query(filters: Sequence[sf.Comparison]) -> tuple[bool, str | None]:
    """Whether a logged-model search is the 3.x client's run-root lookup
    (`name = 'None'`, optionally with `source_run_id = '<id>'`), and the run id
    it names. Anything else in the filter disqualifies it."""
    named = False
    run_id: str | None = None
    for c in filters:
        if c.entity != "attribute" or c.op != "=" or not isinstance(c.value, str):
            return False, None
        if c.key == "name" and c.value == RUN_ROOT_NAME:
            named = True
        elif c.key == "source_run_id" and (run_id is None or run_id == c.value):
            run_id = c.value
        else:
            return False, None
    return named, run_id


def logged_model_status(value: str | int) -> str:
    """A LoggedModelStatus from the wire: enum name, short name or number."""
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        index = int(value)
        if 0 <= index < len(LoggedModelStatus.ALL):
            return LoggedModelStatus.ALL[index]
    elif value in LoggedModelStatus.PROTO:
        return value
    else:
        for short, proto in LoggedModelStatus.PROTO.items():
            if value == proto:
                return short
    raise InvalidParameterValue(f"Unknown model status: {value}")


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
