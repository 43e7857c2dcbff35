"""Garbage collection: permanently remove deleted runs, experiments and logged models.

MLflow's `mlflow gc` semantics, with its options (`--older-than`,
`--experiment-ids`, `--run-ids`, `--dry-run`):

* no ids: every run, experiment and logged model deleted (longer ago than
  `--older-than`, when given) is purged with its artifacts;
* `--run-ids`: only those runs, which must be deleted;
* `--experiment-ids`: those experiments, which must be deleted, with all
  their runs and logged models.

Model versions are deleted for good the moment a user deletes them (their
manifests go with them), and their files belong to the run or logged model
they were registered from, which is collected here like any other.

**What is never removed**: anything a live model version (whatever its stage
or aliases) refers to: a run or logged model it was registered from, or any
folder holding a file frozen in a version's manifest. Those are reported as
kept, with the version that keeps them.

**Safe while the server runs, safe to interrupt**: each candidate's files are
deleted first and its database row second, in a transaction that re-checks
that the row is still deleted and unused. A collection stopped halfway leaves
rows whose files are (partly) gone; running it again finishes them. The
checks are not airtight against a version being registered from a deleted
run during the very seconds its files are being removed; `verify` would then
report the files missing.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from modelyard.errors import InvalidParameterValue, ModelyardError
from modelyard.service.artifacts import ArtifactService
from modelyard.service.manifests import walk_files
from modelyard.store.artifacts import join_artifact_path
from modelyard.store.sql.artifact_digests import SqlArtifactDigests
from modelyard.store.sql.gc import Candidate, SqlGarbage
from modelyard.store.sql.manifests import SqlManifests

log = logging.getLogger("modelyard.service.gc")

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_UNIT_MS = (86_400_000, 3_600_000, 60_000, 1000)


def parse_duration(text: str, what: str = "--older-than") -> int:
    """`1d2h3m4s` (MLflow's format; any part may be left out) in milliseconds."""
    match = _DURATION.match(text.strip())
    if not text.strip() or match is None:
        raise InvalidParameterValue(
            f"Invalid {what} {text!r}: use days, hours, minutes and seconds such as "
            "30d, 12h, 1d2h30m or 90s."
        )
    return sum(int(part or 0) * unit for part, unit in zip(match.groups(), _UNIT_MS, strict=True))


@dataclass(frozen=True, slots=True)
class GcRequest:
    older_than_ms: int | None = None
    experiment_ids: tuple[str, ...] | None = None
    run_ids: tuple[str, ...] | None = None
    dry_run: bool = False


@dataclass
class GcReport:
    """What a collection removed (or, with dry_run, would remove) and what it kept."""

    dry_run: bool
    runs: list[str] = field(default_factory=list)
    experiments: list[str] = field(default_factory=list)
    logged_models: list[str] = field(default_factory=list)
    files: int = 0
    bytes: int = 0
    kept: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # What was counted already: a deleted experiment's runs are deleted runs
    # too, and its folder holds theirs (matters for dry runs, which remove nothing).
    seen: set[tuple[str, str]] = field(default_factory=set, repr=False)


class GarbageCollector:
    def __init__(
        self,
        garbage: SqlGarbage,
        artifacts: ArtifactService,
        manifests: SqlManifests,
        digests: SqlArtifactDigests,
        clock: Callable[[], int],
    ) -> None:
        self.garbage = garbage
        self.artifacts = artifacts
        self.manifests = manifests
        self.digests = digests
        self.clock = clock

    def collect(self, request: GcRequest) -> GcReport:
        report = GcReport(dry_run=request.dry_run)
        cutoff = None if request.older_than_ms is None else self.clock() - request.older_than_ms
        self._check_ids("run", request.run_ids)
        self._check_ids("experiment", request.experiment_ids)
        everything = request.run_ids is None and request.experiment_ids is None
        if request.run_ids is not None or everything:
            for run in self.garbage.runs(deleted_before=cutoff, run_ids=request.run_ids):
                self._collect(run, report)
        if request.experiment_ids is not None or everything:
            experiments = self.garbage.experiments(
                deleted_before=None if request.experiment_ids else cutoff,
                experiment_ids=request.experiment_ids,
            )
            for experiment in experiments:
                self._collect_experiment(experiment, report)
        if everything:
            for model in self.garbage.logged_models(deleted_before=cutoff):
                self._collect(model, report)
        return report

    def _check_ids(self, kind: str, ids: Sequence[str] | None) -> None:
        """MLflow's rule: named runs and experiments must exist and be deleted."""
        if not ids:
            return
        stages = self.garbage.stages(kind, ids)
        for wanted in ids:
            stage = stages.get(wanted)
            if stage is None:
                raise InvalidParameterValue(f"No {kind} with id {wanted!r}.")
            if stage != "deleted":
                raise InvalidParameterValue(
                    f"The {kind} {wanted} is not in the `deleted` lifecycle stage. Only "
                    f"{kind}s in the `deleted` lifecycle stage can be garbage collected."
                )

    def _collect_experiment(self, experiment: Candidate, report: GcReport) -> None:
        for run in self.garbage.runs_of(experiment.id):
            self._collect(run, report)
        for model in self.garbage.logged_models(
            deleted_before=None, experiment_ids=[experiment.id]
        ):
            self._collect(model, report)
        self._collect(experiment, report)

    def _collect(self, candidate: Candidate, report: GcReport) -> None:
        label = f"{candidate.kind.replace('_', ' ')} {candidate.id}"
        if (candidate.kind, candidate.id) in report.seen:
            return
        report.seen.add((candidate.kind, candidate.id))
        users = self.garbage.versions_using(candidate)
        if users:
            name, version = users[0]
            report.kept.append(f"{label}: model '{name}' version {version} was registered from it")
            return
        try:
            where = self.artifacts.locate(candidate.artifact_uri)
            store = where.store
            owner = self.manifests.owner_of(store.location, where.base, below=True)
            if owner is not None:
                report.kept.append(f"{label}: its files hold model '{owner[0]}' version {owner[1]}")
                return
            if where.base == "":
                raise InvalidParameterValue(
                    f"its artifact location {candidate.artifact_uri} is a whole store root"
                )
            files = [
                (rel, size)
                for rel, size in walk_files(store, where.base)
                if (store.location, join_artifact_path(where.base, rel)) not in report.seen
            ]
            report.seen.update(
                (store.location, join_artifact_path(where.base, r)) for r, _ in files
            )
            if not report.dry_run:
                store.delete(where.base)
                self.digests.forget(store.location, where.base)
        except (ModelyardError, OSError) as exc:
            message = exc.message if isinstance(exc, ModelyardError) else str(exc)
            report.errors.append(
                f"{label}: artifacts at {candidate.artifact_uri} not removed: {message}"
            )
            return
        if not report.dry_run and not self.garbage.purge(candidate):
            report.kept.append(f"{label}: restored or taken into use while collecting")
            return
        report.files += len(files)
        report.bytes += sum(size or 0 for _, size in files)
        {"run": report.runs, "experiment": report.experiments}.get(
            candidate.kind, report.logged_models
        ).append(candidate.id)


# -- the server's schedule (--gc-interval) ------------------------------------------------
def start_schedule(
    collector: GarbageCollector, interval_ms: int, older_than_ms: int | None
) -> Callable[[], None]:
    """Collect every `interval_ms` on a daemon thread; returns the function that stops it.

    With several server workers each runs its own schedule; collections are
    idempotent, so overlapping ones only repeat each other's checks.
    """
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(interval_ms / 1000):
            try:
                report = collector.collect(GcRequest(older_than_ms=older_than_ms))
            except Exception:
                log.exception("scheduled garbage collection failed")
                continue
            if report.runs or report.experiments or report.logged_models or report.errors:
                log.info(
                    "gc: removed %d run(s), %d experiment(s), %d logged model(s), "
                    "%d file(s), %d bytes; %d kept, %d error(s)",
                    len(report.runs),
                    len(report.experiments),
                    len(report.logged_models),
                    report.files,
                    report.bytes,
                    len(report.kept),
                    len(report.errors),
                )

    thread = threading.Thread(target=loop, name="modelyard-gc", daemon=True)
    thread.start()
    return stop.set


def schedule_from_settings(services: Any) -> Callable[[], None]:
    """Start the `--gc-interval` schedule when it is set; returns how to stop it."""
    settings = services.settings
    if not settings.gc_interval or services.artifacts is None:
        return lambda: None
    interval = parse_duration(settings.gc_interval, "--gc-interval")
    if interval <= 0:
        raise InvalidParameterValue("--gc-interval must be longer than zero, e.g. 6h or 1d.")
    older = parse_duration(settings.gc_older_than, "--gc-older-than")
    return start_schedule(collector_for(services), interval, older)


def collector_for(services: Any) -> GarbageCollector:
    """The collector over a wired `Services` (the server's, or the CLI's own)."""
    integrity = services.artifacts.integrity
    return GarbageCollector(
        SqlGarbage(services.db),
        services.artifacts,
        integrity.frozen,
        integrity.digests,
        services.clock,
    )
