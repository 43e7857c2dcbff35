"""MLflow 3 logged models, and the run-folder stand-in for plain folders.

With the MLflow 3 client, plain folders: The seed logs a plain
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

`LoggedModelRules` is mixed into `RegistryService` (its methods take the
service as `self`), because registering a version reads and tags logged models.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from modelyard.entities import LifecycleStage, Page, Param, RunInfo, Tag
from modelyard.errors import InvalidParameterValue, ResourceDoesNotExist
from modelyard.registry_entities import LoggedModel, LoggedModelStatus
from modelyard.service import search_filter as sf
from modelyard.service import validation as v
from modelyard.service.artifacts import ArtifactLocation, Download
from modelyard.service.model_sources import RUN_ID
from modelyard.service.names import random_run_name
from modelyard.service.registry_validation import result_limit
from modelyard.store.artifacts import FileInfo, clean_artifact_path

if TYPE_CHECKING:
    from modelyard.service.registry import Tracking
    from modelyard.store.registry import RegistryStore

SEARCH_LOGGED_MODELS_DEFAULT = 100
SEARCH_LOGGED_MODELS_MAX = 50_000  # MLflow sets no limit; ours matches search-runs
RUN_ROOT_PAGE = 5000
RUN_FOLDER_PREFIX = "m-run-"
RUN_ROOT_NAME = "None"  # what the 3.x client searches for when registering runs:/<id>


class LoggedModelRules:
    """Logged-model operations of `RegistryService` (see the module docstring)."""

    # Provided by RegistryService, which mixes this class in.
    store: RegistryStore
    tracking: Tracking
    clock: Callable[[], int]
    new_id: Callable[[], str]
    if TYPE_CHECKING:

        def _locate(self, uri: str) -> ArtifactLocation: ...
        def files_under(self, uri: str, path: str | None) -> list[FileInfo]: ...

    def logged_model_artifacts(
        self, model_id: str | None, path: str | None
    ) -> tuple[str, list[FileInfo]]:
        """(root_uri, files under `path`, relative to the model's root)."""
        model = self.get_logged_model(model_id)
        return model.artifact_location, self.files_under(model.artifact_location, path)

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
        # Stored as given, as MLflow does: the run may live on another server
        # (a model copied from elsewhere), and nothing here reads through it.
        v.validate_length("source_run_id", source_run_id, 256)
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
            if not model_id.startswith(RUN_FOLDER_PREFIX) or not RUN_ID.match(run_id):
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
        limit = result_limit(max_results, SEARCH_LOGGED_MODELS_DEFAULT, SEARCH_LOGGED_MODELS_MAX)
        filters = [_normalise_status(c) for c in sf.parse_logged_model_filter(filter_string)]
        order = sf.parse_logged_model_order_by(list(order_by))
        offset = sf.decode_page_token(page_token)
        run_root, run_id = _run_root_query(filters)
        if datasets:
            # Run-folder models have no metrics, so none is on a dataset.
            datasets = [_dataset_clause(d) for d in datasets]
            run_root = False
        if run_root and max_results is None:
            # The 3.x client pages through every candidate of the experiment
            # (it filters by run itself), sending no max_results: large pages
            # of these cheap rows keep that to a few requests.
            limit = RUN_ROOT_PAGE
        if not run_root:
            return self.store.search_logged_models(
                experiment_ids, filters, order, limit, offset, datasets
            )
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
        self,
        experiment_ids: Sequence[str],
        run_id: str | None,
        limit: int,
        offset: int,
    ) -> tuple[list[LoggedModel], bool]:
        if run_id is not None:
            if offset > 0 or not RUN_ID.match(run_id):
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


def _dataset_clause(d: dict[str, Any]) -> dict[str, Any]:
    """One entry of search-logged-models' `datasets`: a name, maybe a digest."""
    out: dict[str, Any] = {"dataset_name": str(d["dataset_name"])}
    if d.get("dataset_digest"):
        out["dataset_digest"] = str(d["dataset_digest"])
    return out
