"""`modelyard` command line: a thin skin over the library.

`modelyard server` runs the tracking server; `modelyard db upgrade` applies
schema migrations explicitly. The client commands (`experiments`, `runs`,
`models`, `artifacts`) live in `modelyard.client_cli`. Flags are generated
from `SETTINGS_SPEC`, so a setting is declared exactly once.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from modelyard import __version__
from modelyard.settings import SETTINGS_SPEC, Settings, env_var, settings_from


def _server_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "server",
        help="Run the MLflow-compatible tracking server and model registry.",
        description="Run the tracking server. Every flag also reads a MODELYARD_* "
        "environment variable (shown in brackets).",
    )
    for spec in SETTINGS_SPEC:
        helptext = f"{spec.help} [{env_var(spec)}]"
        if spec.kind is bool:
            p.add_argument(
                spec.flag,
                dest=spec.name,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=helptext,
            )
        else:
            default = "" if spec.default is None else f" (default: {spec.default})"
            p.add_argument(
                spec.flag,
                dest=spec.name,
                type=spec.kind,
                default=None,
                choices=spec.choices,
                help=helptext + default,
            )
    p.set_defaults(func=_cmd_server)


def _cmd_server(args: argparse.Namespace) -> int:
    settings = _settings(args)
    import logging

    try:
        import uvicorn
    except ModuleNotFoundError:
        raise SystemExit(
            "modelyard: the server is not installed here; install it with "
            "pip install 'modelyard[server]'"
        ) from None

    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Migrate once here, before any worker starts, and fail early with a clear
    # message when the database is unreachable.
    from modelyard.store.sql import migrations
    from modelyard.store.sql.db import Database

    db = Database(settings.store_uri)
    try:
        migrations.upgrade(db)
    finally:
        db.close()
    url = f"http://{settings.host}:{settings.port}"
    print(f"modelyard {__version__} serving on {url}", flush=True)
    print(f"  metadata:  {settings.store_uri}", flush=True)
    print(f"  artifacts: {settings.artifacts_root}", flush=True)
    # Workers are separate processes: settings travel to them as MODELYARD_* variables.
    for spec in SETTINGS_SPEC:
        value = getattr(settings, spec.name)
        if value is not None:
            os.environ[env_var(spec)] = str(value).lower() if spec.kind is bool else str(value)
    uvicorn.run(
        "modelyard.app:app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers if settings.workers > 1 else None,
        log_level=settings.log_level.lower(),
        access_log=settings.log_level.lower() == "debug",
        timeout_graceful_shutdown=5,
    )
    return 0


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {spec.name: getattr(args, spec.name, None) for spec in SETTINGS_SPEC}
    try:
        return settings_from(overrides)
    except ValueError as exc:
        raise SystemExit(f"modelyard: {exc}") from None


def _db_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("db", help="Database maintenance.")
    dsub = p.add_subparsers(dest="db_command", required=True)
    up = dsub.add_parser("upgrade", help="Apply pending schema migrations and exit.")
    up.add_argument(
        "--backend-store-uri",
        dest="backend_store_uri",
        default=None,
        help="Database to migrate [MODELYARD_BACKEND_STORE_URI].",
    )
    up.set_defaults(func=_cmd_db_upgrade)


def _cmd_db_upgrade(args: argparse.Namespace) -> int:
    from modelyard.store.sql import migrations
    from modelyard.store.sql.db import Database

    settings = settings_from({"backend_store_uri": args.backend_store_uri})
    db = Database(settings.store_uri)
    try:
        ran = migrations.upgrade(db)
    finally:
        db.close()
    if ran:
        print("applied: " + ", ".join(ran))
    else:
        print("schema is up to date")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="modelyard", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"modelyard {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _server_parser(sub)
    _db_parser(sub)
    from modelyard.client_cli import add_client_commands

    add_client_commands(sub)
    from modelyard.webhooks_cli import add_webhook_commands

    add_webhook_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from modelyard.errors import ModelyardError

    try:
        return int(args.func(args))
    except ModelyardError as exc:
        print(f"modelyard: {exc.message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
