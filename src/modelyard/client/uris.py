"""The URIs a user hands the client: `runs:/…` and `models:/…`.

* `runs:/<run_id>[/<path>]`: a run's artifacts (the seed's `run:/` is accepted
  as a synonym, as the server accepts it);
* `models:/<name>/<version>`, `models:/<name>/<stage>` (case-insensitive, as
  MLflow matches stages), `models:/<name>/latest`, `models:/<name>@<alias>`:
  a registered model version. The CLI takes the same without `models:/`,
  and a bare `<name>` meaning its latest version.
"""

from __future__ import annotations

from dataclasses import dataclass

from modelyard.client.rest import InvalidArgument

STAGES = ("None", "Staging", "Production", "Archived")


def canonical_stage(stage: str) -> str:
    """MLflow's spelling of a stage given in any case; InvalidArgument otherwise."""
    for known in STAGES:
        if stage.lower() == known.lower():
            return known
    raise InvalidArgument(f"Invalid stage {stage!r}: expected one of {', '.join(STAGES)}.")


@dataclass(frozen=True, slots=True)
class RunsUri:
    run_id: str
    path: str  # "" for the run's artifact root

    def __str__(self) -> str:
        return f"runs:/{self.run_id}" + (f"/{self.path}" if self.path else "")


def parse_runs_uri(uri: str) -> RunsUri | None:
    """The run and path a `runs:/` (or `run:/`) URI names; None for other schemes."""
    for scheme in ("runs:", "run:"):
        if uri.startswith(scheme):
            rest = uri[len(scheme) :].lstrip("/")
            run_id, _, path = rest.partition("/")
            if not run_id:
                raise InvalidArgument(f"Invalid run URI {uri!r}: expected runs:/<run_id>[/<path>].")
            return RunsUri(run_id, path.strip("/"))
    return None


@dataclass(frozen=True, slots=True)
class ModelRef:
    """One registered model version, by number, stage, alias or as the latest."""

    name: str
    version: int | None = None
    stage: str | None = None
    alias: str | None = None

    def __str__(self) -> str:
        if self.alias is not None:
            return f"models:/{self.name}@{self.alias}"
        suffix = self.version if self.version is not None else (self.stage or "latest")
        return f"models:/{self.name}/{suffix}"


def parse_model_ref(uri: str, *, bare_is_latest: bool = False) -> ModelRef:
    """Parse `models:/…` (or, from the CLI, the same without the scheme)."""
    spec = uri[len("models:") :].lstrip("/") if uri.startswith("models:") else uri
    if not spec:
        raise InvalidArgument(f"Invalid model URI {uri!r}: no model name.")
    if "@" in spec:
        name, _, alias = spec.rpartition("@")
        if not name or not alias or "/" in alias:
            raise InvalidArgument(f"Invalid model URI {uri!r}: expected models:/<name>@<alias>.")
        return ModelRef(name, alias=alias)
    name, slash, suffix = spec.rpartition("/")
    if not slash:
        if bare_is_latest:
            return ModelRef(spec)
        raise InvalidArgument(
            f"Invalid model URI {uri!r}: expected models:/<name>/<version|stage|latest> "
            "or models:/<name>@<alias>."
        )
    if not name:
        raise InvalidArgument(f"Invalid model URI {uri!r}: no model name.")
    if suffix.isdigit():
        return ModelRef(name, version=int(suffix))
    if suffix.lower() == "latest":
        return ModelRef(name)
    try:
        return ModelRef(name, stage=canonical_stage(suffix))
    except InvalidArgument:
        raise InvalidArgument(
            f"Invalid model URI {uri!r}: {suffix!r} is not a version number, a stage "
            f"({', '.join(STAGES)}) or 'latest'."
        ) from None
