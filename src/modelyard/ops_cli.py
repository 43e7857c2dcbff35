"""Operations commands: `modelyard gc`, `modelyard backup`, `modelyard restore`.

They work on the server's database and artifact store directly (not over
HTTP), so they take the server's own flags (`--backend-store-uri`,
`--artifacts-destination`, the S3 settings …) and run beside a live server.
Each parses its arguments, calls one library function and prints its report.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    SubParsers: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]


def _ids(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _size(n: int) -> str:
    value = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{n} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} bytes"  # pragma: no cover


def _open_services(args: argparse.Namespace) -> Any:
    from modelyard.app import build_services
    from modelyard.cli import settings_of
    from modelyard.store.sql import migrations

    services = build_services(settings_of(args))
    migrations.upgrade(services.db)
    return services


def cmd_gc(args: argparse.Namespace) -> int:
    from modelyard.service.gc import GcRequest, collector_for, parse_duration

    request = GcRequest(
        older_than_ms=None if args.older_than is None else parse_duration(args.older_than),
        experiment_ids=None if args.experiment_ids is None else _ids(args.experiment_ids),
        run_ids=None if args.run_ids is None else _ids(args.run_ids),
        dry_run=args.dry_run,
    )
    services = _open_services(args)
    try:
        report = collector_for(services).collect(request)
    finally:
        services.db.close()
    verb = "Would remove" if report.dry_run else "Removed"
    print(
        f"{verb} {len(report.runs)} run(s), {len(report.experiments)} experiment(s), "
        f"{len(report.logged_models)} logged model(s): {report.files} file(s), "
        f"{_size(report.bytes)}."
    )
    for kind, ids in (
        ("run", report.runs),
        ("experiment", report.experiments),
        ("logged model", report.logged_models),
    ):
        for ident in ids:
            print(f"  {kind} {ident}")
    if report.kept:
        print("Kept:")
        for line in report.kept:
            print(f"  {line}")
    for line in report.errors:
        print(f"modelyard gc: {line}", file=sys.stderr)
    return 1 if report.errors else 0


def cmd_backup(args: argparse.Namespace) -> int:
    from pathlib import Path

    from modelyard.cli import settings_of
    from modelyard.service.backup import backup

    report = backup(settings_of(args), Path(args.dest))
    print(
        f"Backed up the database ({_size(report.database_bytes)}) and {report.files} "
        f"artifact file(s) ({_size(report.bytes)}) to {report.folder}"
    )
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from pathlib import Path

    from modelyard.cli import settings_of
    from modelyard.service.backup import restore

    settings = settings_of(args)
    report = restore(settings, Path(args.src))
    print(
        f"Restored the database ({_size(report.database_bytes)}) to {settings.store_uri} and "
        f"{report.files} artifact file(s) to {settings.artifacts_root}; start the server."
    )
    return 0


def add_ops_commands(sub: SubParsers) -> None:
    from modelyard.cli import add_setting_flags

    p = sub.add_parser(
        "gc",
        help="Permanently remove deleted runs, experiments and logged models with their "
        "artifacts (like mlflow gc); never what a live model version uses.",
        description="Permanently remove deleted runs, experiments and logged models and "
        "their artifacts. Safe while the server runs and safe to interrupt: run it again "
        "to finish. Takes the server's flags to find its database and artifacts.",
        epilog="examples:\n  modelyard gc --older-than 30d --dry-run\n  modelyard gc "
        "--run-ids 0f3a9c2e5b7d4e1f --backend-store-uri postgresql://mlflow@db/mlflow",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--older-than",
        metavar="DURATION",
        help="only what was deleted longer ago than this, e.g. 30d, 12h, 1d2h30m",
    )
    p.add_argument(
        "--experiment-ids",
        metavar="IDS",
        help="comma-separated deleted experiments to remove, with all their runs",
    )
    p.add_argument("--run-ids", metavar="IDS", help="comma-separated deleted runs to remove")
    p.add_argument(
        "--dry-run", action="store_true", help="report what would be removed, remove nothing"
    )
    add_setting_flags(p)
    p.set_defaults(func=cmd_gc)

    p = sub.add_parser(
        "backup",
        help="Copy the SQLite database (online) and the local artifact folder into DEST.",
        description="Back up a single-host server while it runs: the SQLite database with "
        "SQLite's online backup, then the artifact folder. For PostgreSQL and S3 see the "
        "README's Operations section.",
        epilog="example:\n  modelyard backup /backups/2026-12-01 --backend-store-uri "
        "sqlite:///srv/my.db --artifacts-destination /srv/artifacts",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("dest", metavar="DEST", help="a new or empty folder")
    add_setting_flags(p)
    p.set_defaults(func=cmd_backup)
    p = sub.add_parser(
        "restore",
        help="Put a backup made by `modelyard backup` in place (server stopped).",
        description="Restore a backup into the database path and artifact folder the "
        "flags name; both must be new or empty. Then start the server with the same flags.",
        epilog="example:\n  modelyard restore /backups/2026-12-01 --backend-store-uri "
        "sqlite:///srv/new.db --artifacts-destination /srv/new-artifacts",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("src", metavar="SRC", help="a folder made by modelyard backup")
    add_setting_flags(p)
    p.set_defaults(func=cmd_restore)
