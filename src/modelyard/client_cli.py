"""The client half of the `modelyard` command: experiments, runs, models, artifacts.

Each command parses its arguments, calls one `modelyard.client.Client` method
and prints the answer: an aligned table by default, JSON with `--json`.
The server is `--tracking-uri`, else MODELYARD_TRACKING_URI, else
MLFLOW_TRACKING_URI, else http://127.0.0.1:5000. This module imports only the
standard library until a command runs, so `modelyard server` does not pay for
the client and the client commands never import the server stack.

Exit codes (also in every command's --help):
  0  success
  1  the server refused the request (its message is printed), or a local
     file could not be read or written
  2  usage error: bad arguments, a malformed model URI, a missing local file
  3  the tracking server could not be reached
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from modelyard.cli_output import emit, human_size, jsonable, table, when
from modelyard.cli_parser import (
    STAGES,
    CommandTree,
    UsageError,
    positive_int,
    stage_arg,
    version_arg,
)

if TYPE_CHECKING:
    from modelyard.cli_parser import SubParsers
    from modelyard.client import Client
    from modelyard.client.progress import Progress


def _progress(args: argparse.Namespace) -> Progress | None:
    if args.progress or (args.progress is None and sys.stderr.isatty()):
        from modelyard.client.progress import ProgressBar

        return ProgressBar(sys.stderr)
    return None


# -- commands ------------------------------------------------------------------
def cmd_experiments_list(c: Client, args: argparse.Namespace) -> None:
    view = "ALL" if args.all else "ACTIVE_ONLY"
    page = c.search_experiments(args.filter, args.max_results, view_type=view)
    emit(
        args,
        page.items,
        lambda: table(
            ["ID", "NAME", "STAGE", "CREATED", "ARTIFACT LOCATION"],
            [
                (
                    e.experiment_id,
                    e.name,
                    e.lifecycle_stage,
                    when(e.creation_time),
                    e.artifact_location,
                )
                for e in page.items
            ],
        ),
    )


def _experiment_ids(c: Client, wanted: Sequence[str] | None) -> list[str]:
    if not wanted:
        return [e.experiment_id for e in c.search_experiments(max_results=1000).items]
    ids = []
    for item in wanted:
        exp = c.get_experiment_by_name(item)
        if exp is not None:
            ids.append(exp.experiment_id)
        elif item.isdigit():
            ids.append(item)
        else:
            raise UsageError(f"no experiment named {item!r} (give an experiment name or ID)")
    return ids


COUNT_PAGE = 1000
COUNT_PAGES = 10  # counting stops after this many extra pages: "of 10,100+"


def _run_column(run: Any, column: str) -> Any:
    """The value of `metrics.acc`, `params.lr`, `tags.x` or `attributes.status` for one run."""
    kind, _, key = column.partition(".")
    data = run.data
    if kind in ("metrics", "metric"):
        return next((m.value for m in data.metrics if m.key == key), None)
    if kind in ("params", "param"):
        return next((p.value for p in data.params if p.key == key), None)
    if kind in ("tags", "tag"):
        return next((t.value for t in data.tags if t.key == key), None)
    return getattr(run.info, key, None)


def columns_arg(value: str) -> list[str]:
    columns = [c.strip() for c in value.split(",") if c.strip()]
    for column in columns:
        kind, dot, key = column.partition(".")
        if (
            not dot
            or not key
            or kind
            not in (
                "metrics",
                "metric",
                "params",
                "param",
                "tags",
                "tag",
                "attributes",
                "attribute",
            )
        ):
            raise argparse.ArgumentTypeError(
                f"invalid column {column!r} (use metrics.KEY, params.KEY, tags.KEY or "
                "attributes.NAME, comma-separated)"
            )
    return columns


def cmd_runs_list(c: Client, args: argparse.Namespace) -> None:
    ids = _experiment_ids(c, args.experiment)
    view = "ALL" if args.deleted else "ACTIVE_ONLY"
    order = args.order_by
    page = c.search_runs(ids, args.filter or "", view, args.max_results, order)
    runs = list(page.items)
    token = page.next_page_token
    while args.all and token:
        page = c.search_runs(ids, args.filter or "", view, args.max_results, order, token)
        runs.extend(page.items)
        token = page.next_page_token
    total, exact = len(runs), True
    if token and not args.json:  # only the table says "of M": count what is left
        for _ in range(COUNT_PAGES):
            page = c.search_runs(ids, args.filter or "", view, COUNT_PAGE, order, token)
            total += len(page.items)
            token = page.next_page_token
            if not token:
                break
        exact = token is None

    def human() -> str:
        columns: list[str] = args.columns or []
        rows = []
        for r in runs:
            i = r.info
            took = (
                f"{(i.end_time - i.start_time) / 1000:.1f}s" if i.end_time and i.start_time else ""
            )
            extra = [_run_column(r, col) for col in columns]
            rows.append((i.run_id, i.run_name, i.status, when(i.start_time), took, i.experiment_id,
                         *extra))  # fmt: skip
        headers = ["RUN ID", "NAME", "STATUS", "STARTED", "DURATION", "EXPERIMENT", *columns]
        text = table(headers, rows)
        if total > len(runs):
            more = f"{total:,}" if exact else f"{total:,}+"
            text += (
                f"\nshowing {len(runs):,} of {more} runs (--all lists every one, "
                "--max-results N a bigger page)"
            )
        return text

    emit(args, runs, human)


def cmd_runs_show(c: Client, args: argparse.Namespace) -> None:
    run = c.get_run(args.run_id)

    def human() -> str:
        i, d = run.info, run.data
        parts = [
            table(
                ["FIELD", "VALUE"],
                [
                    ("run_id", i.run_id),
                    ("name", i.run_name),
                    ("experiment_id", i.experiment_id),
                    ("status", i.status),
                    ("user", i.user_id),
                    ("started", when(i.start_time)),
                    ("ended", when(i.end_time)),
                    ("artifact_uri", i.artifact_uri),
                ],
            )
        ]
        if d.params:
            parts.append(
                "\nParams\n" + table(["KEY", "VALUE"], [(p.key, p.value) for p in d.params])
            )
        if d.metrics:
            parts.append(
                "\nMetrics (latest)\n"
                + table(["KEY", "VALUE", "STEP"], [(m.key, m.value, m.step) for m in d.metrics])
            )
        if d.tags:
            parts.append("\nTags\n" + table(["KEY", "VALUE"], [(t.key, t.value) for t in d.tags]))
        return "\n".join(parts)

    emit(args, run, human)


def cmd_models_list(c: Client, args: argparse.Namespace) -> None:
    page = c.search_registered_models(args.filter, args.max_results)

    def human() -> str:
        rows = []
        for m in page.items:
            latest = max((v.version for v in m.latest_versions), default=None)
            by_stage = {v.current_stage: v.version for v in m.latest_versions}
            aliases = ", ".join(f"@{a.alias}={a.version}" for a in m.aliases)
            rows.append(
                (
                    m.name,
                    latest,
                    by_stage.get("Staging"),
                    by_stage.get("Production"),
                    aliases,
                    when(m.last_updated_timestamp),
                )
            )
        return table(["NAME", "LATEST", "STAGING", "PRODUCTION", "ALIASES", "UPDATED"], rows)

    emit(args, page.items, human)


def _quote(name: str) -> str:
    return "'" + name.replace("\\", "\\\\").replace("'", "\\'") + "'"


def cmd_models_show(c: Client, args: argparse.Namespace) -> None:
    model = c.get_registered_model(args.name)
    versions = c.search_model_versions(
        f"name = {_quote(args.name)}", order_by=["version_number DESC"]
    ).items

    def human() -> str:
        head = [("name", model.name), ("description", model.description)]
        head += [("created", when(model.creation_timestamp))]
        head += [("updated", when(model.last_updated_timestamp))]
        head += [(f"tag {t.key}", t.value) for t in model.tags]
        rows = [
            (
                v.version,
                v.current_stage,
                ", ".join(f"@{a}" for a in v.aliases),
                when(v.creation_timestamp),
                v.run_id,
                v.source,
            )
            for v in versions
        ]
        return (
            table(["FIELD", "VALUE"], head)
            + "\n\nVersions\n"
            + table(["VERSION", "STAGE", "ALIASES", "CREATED", "RUN ID", "SOURCE"], rows)
        )

    emit(args, {"registered_model": model, "model_versions": versions}, human)


def cmd_models_promote(c: Client, args: argparse.Namespace) -> None:
    holders = []
    if args.to in ("Staging", "Production"):
        holders = [
            v for v in c.get_latest_versions(args.name, [args.to]) if v.version != args.version
        ]
    mv = c.transition_model_version_stage(
        args.name,
        args.version,
        args.to,
        archive_existing_versions=args.archive_existing,
        comment=args.comment,
    )
    archived = [
        v.version
        for v in (c.get_model_version(args.name, h.version) for h in holders)
        if v.current_stage == "Archived"
    ]

    def human() -> str:
        text = f"{mv.name} version {mv.version} is now in {mv.current_stage}"
        for version in archived:
            text += f"\n{mv.name} version {version} (was in {args.to}) is now Archived"
        return text

    emit(args, {**jsonable(mv), "archived_versions": archived}, human)


def cmd_models_alias(c: Client, args: argparse.Namespace) -> None:
    if args.delete:
        c.delete_registered_model_alias(args.name, args.alias)
        emit(
            args,
            {"name": args.name, "alias": args.alias, "deleted": True},
            lambda: f"{args.name}: alias @{args.alias} deleted",
        )
        return
    if args.version is None:
        raise UsageError("models alias: VERSION is required unless --delete is given")
    c.set_registered_model_alias(args.name, args.alias, args.version)
    mv = c.get_model_version_by_alias(args.name, args.alias)
    emit(args, mv, lambda: f"{mv.name}@{args.alias} -> version {mv.version}")


def _event_text(e: Any) -> str:
    if e.action == "created":
        return "registered"
    if e.action == "deleted":
        return f"deleted (was {e.from_stage})" if e.from_stage else "deleted"
    if e.action == "transition":
        return f"{e.from_stage} -> {e.to_stage}"
    if e.action == "alias_set":
        was = f" (was v{e.previous_version})" if e.previous_version is not None else ""
        return f"@{e.alias} set{was}"
    if e.action == "alias_deleted":
        return f"@{e.alias} removed"
    return str(e.action)


def cmd_models_history(c: Client, args: argparse.Namespace) -> None:
    page = c.get_model_history(args.name, args.version, args.max_results)
    emit(
        args,
        page.items,
        lambda: table(
            ["TIME", "VERSION", "EVENT", "CAUSE", "USER", "COMMENT"],
            [
                (when(e.timestamp), e.version, _event_text(e), e.cause, e.user_id, e.comment)
                for e in page.items
            ],
        ),
    )


def cmd_models_rollback(c: Client, args: argparse.Namespace) -> None:
    mv = c.rollback_model_stage(args.name, args.stage, args.comment)
    emit(args, mv, lambda: f"{mv.name}: {args.stage} rolled back to version {mv.version}")


def cmd_models_download(c: Client, args: argparse.Namespace) -> None:
    from modelyard.client.uris import parse_model_ref

    ref = parse_model_ref(args.model, bare_is_latest=True)
    version, path = c.download_model_version(ref, args.dir, _progress(args))
    emit(
        args,
        {
            "name": version.name,
            "version": version.version,
            "stage": version.current_stage,
            "path": str(path),
        },
        lambda: f"{version.name} version {version.version} ({version.current_stage}) -> {path}",
    )


def cmd_models_verify(c: Client, args: argparse.Namespace) -> None:
    """Exit status 1 (a ModelyardError) when any frozen file differs."""
    from modelyard.client.uris import parse_model_ref
    from modelyard.errors import InvalidState

    mv = c.resolve_model_version(parse_model_ref(args.model, bare_is_latest=True))
    result = c.verify_model_version(mv.name, mv.version)

    def human() -> str:
        head = f"{result.name} version {result.version} (sha256:{result.digest}): "
        head += f"{result.checked} frozen file(s) " + ("intact" if result.ok else "DIFFER")
        rows = [
            (d.problem.upper(), d.path, d.expected_sha256 or "", d.found_sha256 or "")
            for d in result.differences
        ]
        if not rows:
            return head
        return head + "\n" + table(["PROBLEM", "PATH", "EXPECTED SHA-256", "FOUND SHA-256"], rows)

    emit(args, result, human)
    if not result.ok:
        raise InvalidState(f"{result.name} version {result.version} does not match its manifest.")


def cmd_artifacts_upload(c: Client, args: argparse.Namespace) -> None:
    from pathlib import Path

    from modelyard.client import InvalidArgument

    src = Path(args.local_path)
    progress = _progress(args)
    if src.is_dir():
        c.log_artifacts(args.run_id, src, args.artifact_path, progress)
    elif src.is_file():
        c.log_artifact(args.run_id, src, args.artifact_path, progress)
    else:
        raise InvalidArgument(f"No such file or directory: {src}")
    dest = args.artifact_path or ""
    emit(
        args,
        {"run_id": args.run_id, "local_path": str(src), "artifact_path": dest},
        lambda: f"uploaded {src} to runs:/{args.run_id}/{dest}".rstrip("/"),
    )


def cmd_artifacts_download(c: Client, args: argparse.Namespace) -> None:
    path = c.download_artifact_uri(args.uri, args.dir, _progress(args))
    emit(args, {"uri": args.uri, "path": str(path)}, lambda: f"{args.uri} -> {path}")


def cmd_artifacts_list(c: Client, args: argparse.Namespace) -> None:
    files = c.list_artifacts(args.run_id, args.path)
    emit(
        args,
        files,
        lambda: table(
            ["PATH", "SIZE"],
            [
                (f.path + "/" if f.is_dir else f.path, "" if f.is_dir else human_size(f.file_size))
                for f in files
            ],
        ),
    )


def add_client_commands(sub: SubParsers) -> None:
    """Add `experiments`, `runs`, `models` and `artifacts` to the `modelyard` parser."""
    tree = CommandTree(sub)
    group, command = tree.group, tree.command

    max_results = positive_int(50_000)
    name_help = "registered model name, e.g. mnist_test"
    version_help = "version number, from 1"

    # experiments
    g = group("experiments", "List experiments on a tracking server.")
    p = command(
        g, "list", cmd_experiments_list, "List experiments.",
        example="modelyard experiments list --filter \"name LIKE 'mnist%%'\"",
    )  # fmt: skip
    p.add_argument("--filter", help="MLflow search filter, e.g. \"name LIKE 'mnist%%'\"")
    p.add_argument(
        "--all", "--deleted", dest="all", action="store_true", help="include deleted experiments"
    )
    p.add_argument("--max-results", type=max_results, default=1000, metavar="N")

    # runs
    g = group("runs", "List and inspect runs.")
    p = command(
        g,
        "list",
        cmd_runs_list,
        "List runs, filtered and ordered with MLflow's search grammar.",
        example="modelyard runs list -e mnist --filter 'metrics.acc > 0.9' "
        "--columns metrics.acc,params.lr",
    )
    p.add_argument(
        "--experiment",
        "-e",
        action="append",
        metavar="ID_OR_NAME",
        help="experiment to search, by name or ID (repeatable; default: every active experiment)",
    )
    p.add_argument(
        "--filter",
        help="e.g. \"metrics.acc > 0.9 and params.lr = '0.01' and attributes.status = 'FINISHED'\"",
    )
    p.add_argument(
        "--order-by",
        action="append",
        metavar="CLAUSE",
        help="e.g. 'metrics.acc DESC' (repeatable; default: newest first)",
    )
    p.add_argument(
        "--columns",
        type=columns_arg,
        metavar="COLS",
        help="extra columns, comma-separated: metrics.acc,params.lr,tags.team,attributes.user_id",
    )
    p.add_argument("--all", action="store_true", help="list every matching run, page after page")
    p.add_argument("--deleted", action="store_true", help="include deleted runs")
    p.add_argument(
        "--max-results", type=max_results, default=100, metavar="N", help="page size (default 100)"
    )
    p = command(
        g, "show", cmd_runs_show, "Show a run's info, params, latest metrics and tags.",
        example="modelyard runs show 0f3a9c2e5b7d4e1f8a6b2c9d0e7f1a3b",
    )  # fmt: skip
    p.add_argument("run_id", metavar="RUN_ID", help="the run's ID (32 hex characters)")

    # models
    g = group("models", "Registered models: list, inspect, promote, alias, roll back, download.")
    p = command(
        g,
        "list",
        cmd_models_list,
        "List registered models with their latest, Staging and Production versions.",
        example="modelyard models list --filter \"name LIKE 'mnist%%'\"",
    )
    p.add_argument("--filter", help="e.g. \"name LIKE 'mnist%%'\"")
    p.add_argument("--max-results", type=positive_int(1000), default=100, metavar="N")
    p = command(
        g, "show", cmd_models_show, "Show a registered model and its versions.",
        example="modelyard models show mnist_test",
    )  # fmt: skip
    p.add_argument("name", metavar="NAME", help=name_help)
    p = command(
        g,
        "promote",
        cmd_models_promote,
        "Move a model version to a stage. On a modelyard server Staging and "
        "Production hold one version each: the version they held is archived.",
        example="modelyard models promote mnist_test 3 --to Production --comment 'beats v2'",
    )
    p.add_argument("name", metavar="NAME", help=name_help)
    p.add_argument("version", metavar="VERSION", type=version_arg, help=version_help)
    p.add_argument(
        "--to",
        required=True,
        type=stage_arg,
        metavar="STAGE",
        help=f"target stage: {', '.join(STAGES)}",
    )
    p.add_argument("--comment", help="kept in modelyard's promotion history")
    p.add_argument(
        "--archive-existing",
        action="store_true",
        help="archive the versions now in the target stage (MLflow's archive_existing_versions)",
    )
    p = command(
        g, "alias", cmd_models_alias, "Point an alias (e.g. champion) at a version.",
        example="modelyard models alias mnist_test champion 3",
    )  # fmt: skip
    p.add_argument("name", metavar="NAME", help=name_help)
    p.add_argument("alias", metavar="ALIAS", help="alias name, e.g. champion")
    p.add_argument(
        "version", metavar="VERSION", type=version_arg, nargs="?",
        help="version to point at (omit with --delete)",
    )  # fmt: skip
    p.add_argument("--delete", action="store_true", help="remove the alias instead")
    p = command(
        g, "history", cmd_models_history, "Show a model's promotion history, newest first.",
        example="modelyard models history mnist_test --version 3",
    )  # fmt: skip
    p.add_argument("name", metavar="NAME", help=name_help)
    p.add_argument("--version", type=version_arg, help="only this version's events")
    p.add_argument("--max-results", type=positive_int(1000), default=100, metavar="N")
    p = command(
        g,
        "rollback",
        cmd_models_rollback,
        "Give a stage back to the version that held it before the current one "
        "(modelyard servers only).",
        example="modelyard models rollback mnist_test --stage Production --comment 'v3 regressed'",
    )
    p.add_argument("name", metavar="NAME", help=name_help)
    p.add_argument(
        "--stage",
        type=stage_arg,
        default="Production",
        help="Staging or Production (default: Production)",
    )
    p.add_argument("--comment", help="kept in the promotion history")
    p = command(
        g,
        "download",
        cmd_models_download,
        "Download a model version's files into DIR.",
        example="modelyard models download mnist_test/Production ./model",
        transfers=True,
    )
    p.add_argument(
        "model",
        metavar="NAME[/STAGE|/VERSION|/latest|@ALIAS]",
        help="e.g. mnist_test/Production, mnist_test/3, mnist_test@champion; "
        "a bare NAME is its latest version; a models:/ prefix is accepted",
    )
    p.add_argument("dir", metavar="DIR", help="destination directory (created if missing)")
    p = command(
        g,
        "verify",
        cmd_models_verify,
        "Have the server re-read a model version's files and compare them with the "
        "manifest frozen at registration; exit status 1 when any differ.",
        example="modelyard models verify mnist_test/Production",
    )
    p.add_argument(
        "model", metavar="NAME[/STAGE|/VERSION|@ALIAS]", help="e.g. mnist_test/Production"
    )
    from modelyard.approvals_cli import add_approval_commands

    add_approval_commands(g, tree)

    # artifacts
    g = group("artifacts", "Upload, download and list run artifacts.")
    p = command(
        g,
        "upload",
        cmd_artifacts_upload,
        "Upload a file or a directory's files to a run's artifacts.",
        example="modelyard artifacts upload <run_id> output_model --artifact-path model",
        transfers=True,
    )
    p.add_argument("run_id", metavar="RUN_ID", help="the run to upload to")
    p.add_argument("local_path", metavar="PATH", help="file or directory to upload")
    p.add_argument("--artifact-path", metavar="DIR", help="folder in the run (default: root)")
    p = command(
        g,
        "download",
        cmd_artifacts_download,
        "Download artifacts (a file or folder) into DIR.",
        example="modelyard artifacts download runs:/<run_id>/model ./model",
        transfers=True,
    )
    p.add_argument(
        "uri",
        metavar="URI",
        help="runs:/<run_id>[/path], models:/<name>/<version|stage>, models:/<name>@<alias>, "
        "or an mlflow-artifacts:/ URI",
    )
    p.add_argument("dir", metavar="DIR", help="destination (created if missing)")
    p = command(
        g, "list", cmd_artifacts_list, "List a run's artifacts under PATH.",
        example="modelyard artifacts list <run_id> model",
    )  # fmt: skip
    p.add_argument("run_id", metavar="RUN_ID", help="the run whose artifacts to list")
    p.add_argument(
        "path", metavar="PATH", nargs="?", default=None, help="folder in the run (default: root)"
    )
