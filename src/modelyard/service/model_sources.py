"""Where a model version comes from: checking and resolving its source.

The rules follow MLflow 3.17's lineage checks, so the stock client's calls
behave alike; where we are stricter the README's "Differences from MLflow"
says so:

* `runs:/<run_id>/<path>`: with a `run_id` it must equal the URI's run id,
  whether or not that run exists here (runs of another server are registered
  by URI, as MLflow does); without one the run must exist here. The seed's
  `run:/<run_id>/<path>` is accepted as a synonym; its download URI is the
  run's artifact location, so that run must exist.
* `models:/<model_id>`: the logged model must exist; its artifact location is
  the download URI. `models:/<name>/<version|stage|latest>` and
  `models:/<name>@<alias>` copy an existing version (MLflow's lineage rule).
* Local paths and `file://` URIs: resolved (`.` and `a/..` segments) and
  accepted when the result lies inside the local artifact directory of the run
  (`run_id`) or logged model (`model_id`) sent with the request; refused with
  MLflow's wording otherwise. A `file://` URI naming another host is refused.
* `mlflow-artifacts:/…`, `http(s)://…/api/2.0/mlflow-artifacts/artifacts/…`,
  `s3://…` and the like: only inside the artifact location of the run or
  logged model sent with the request (MLflow checks only the first two).
* Everywhere: no NUL and no percent-encoded `.`/`..` segment; outside local
  paths no `.` or `..` segment at all.

`SourceRules` is mixed into `RegistryService` (its methods take the service
as `self`): resolving a `models:/` source reads versions and logged models
through the service's own rules.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote, unquote_plus, urlsplit

from modelyard.entities import RunInfo
from modelyard.errors import InvalidParameterValue, ResourceDoesNotExist
from modelyard.registry_entities import LoggedModel, ModelVersion
from modelyard.service import validation as v
from modelyard.service.registry_validation import canonical_stage

if TYPE_CHECKING:
    from modelyard.service.registry import Tracking
    from modelyard.store.registry import RegistryStore

MAX_SOURCE_LENGTH = 2048
RUN_ID = re.compile(r"^[0-9a-zA-Z][\w\-]*$")


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


_RELATIVE_SOURCE = (
    "If supplying a source as an http, https, local file path, ftp, objectstore, or "
    "mlflow-artifacts uri, an absolute path must be provided without relative path "
    "references present. Please provide an absolute path."
)


def _is_local(source: str) -> bool:
    scheme = urlsplit(source).scheme.lower()
    return scheme in ("", "file")


def _segments(text: str) -> list[str]:
    return re.split(r"[/\\]", text)


def check_source_path(source: str) -> None:
    """No NUL byte and no encoded `.`/`..` segment anywhere; outside local paths
    (which are resolved instead, see `_local_path`) no `.`/`..` segment at all."""
    if len(source) > MAX_SOURCE_LENGTH:
        raise v.exceeds("'source'", MAX_SOURCE_LENGTH)
    text = _unquoted(source)
    if "\x00" in text:
        raise _invalid_source(source, f"It contains a NUL character. {_RELATIVE_SOURCE}")
    if _is_local(source):
        # Literal dot segments are resolved; encoded ones are refused, since a
        # later decoding step (the client's, when it downloads) would turn a
        # harmless-looking name into a traversal.
        for seg in _segments(source):
            if seg not in (".", "..") and any(
                part in (".", "..") for part in _segments(_unquoted(seg))
            ):
                raise _invalid_source(source, _RELATIVE_SOURCE)
        return
    decoded = _segments(urlsplit(text).path) + _segments(text)
    if any(seg in ("..", ".") for seg in decoded):
        raise _invalid_source(source, _RELATIVE_SOURCE)


def _local_path(source: str) -> str:
    """The absolute, normalised path a local source names (`.` and `a/..`
    resolved lexically, as MLflow resolves them before its containment check)."""
    parts = urlsplit(source)
    if parts.scheme.lower() == "file":
        if parts.netloc.lower() not in ("", "localhost"):
            raise _invalid_source(
                source,
                f"{source} is not a valid remote uri: a file:// source must name a path on "
                "this server, not another host.",
            )
        path = unquote(parts.path)
    else:
        path = source
    return posixpath.normpath(posixpath.join("/", path)) if path else "/"


def _local_root(location: str) -> str | None:
    """The local directory an artifact location names, or None when it is remote."""
    if not _is_local(location):
        return None
    return _local_path(location)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _local_refusal(source: str, what: str) -> InvalidParameterValue:
    owner = "run" if what == "run_id" else "logged model"
    return _invalid_source(
        source,
        f"To use a local path as a model version source, the {what} request parameter has "
        f"to be specified and the local path has to be contained within the artifact "
        f"directory of the {owner} specified by the {what}.",
    )


@dataclass(frozen=True, slots=True)
class ResolvedSource:
    source: str
    storage_location: str | None
    run_id: str | None
    model_id: str | None


class SourceRules:
    """Source checks of `RegistryService` (see the module docstring)."""

    # Provided by RegistryService, which mixes this class in.
    store: RegistryStore
    tracking: Tracking
    if TYPE_CHECKING:

        def get_logged_model(
            self, model_id: str | None, allow_deleted: bool = False
        ) -> LoggedModel: ...
        def get_version_by_alias(self, name: str | None, alias: str | None) -> ModelVersion: ...
        def get_model_version(
            self, name: str | None, version: str | int | None
        ) -> ModelVersion: ...
        def get_latest_versions(
            self, name: str | None, stages: Sequence[str] = ()
        ) -> list[ModelVersion]: ...

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
        if _is_local(source):
            return self._local_source(source, run_id, model_id)
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

    def _local_source(
        self, source: str, run_id: str | None, model_id: str | None
    ) -> ResolvedSource:
        what = "model_id" if model_id else "run_id"
        path = _local_path(source)
        if model_id:
            root = _local_root(self._source_model(source, model_id).artifact_location)
        elif run_id:
            root = _local_root(self._source_run(source, run_id).artifact_uri)
        else:
            root = None
        if root is None or not _inside(path, root):
            raise _local_refusal(source, what)
        return ResolvedSource(source, None, run_id, model_id)

    def _source_run(self, source: str, run_id: str) -> RunInfo:
        if not RUN_ID.match(run_id):
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
        if scheme == "runs":
            # As MLflow: a matching run_id is enough (the run may live on
            # another server); the client resolves runs:/ itself when
            # downloading. Without a run_id the run must be one of ours.
            if not run_id:
                self._source_run(source, source_run)
            elif not RUN_ID.match(source_run):
                raise _must_identify(source, "run_id")
            return ResolvedSource(source, None, source_run, None)
        info = self._source_run(source, source_run)
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
