"""modelyard: an MLflow-compatible tracking server and model registry, and its client.

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
        epilog="examples:\n  modelyard server\n  modelyard server --host 0.0.0.0 --port 5000 "
        "--backend-store-uri postgresql://mlflow@db/mlflow --artifacts-destination "
        "s3://bucket/artifacts",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_setting_flags(p)
    p.set_defaults(func=_cmd_server)


def add_setting_flags(p: argparse.ArgumentParser) -> None:
    """The server's flags, for commands that work on the same database and artifacts."""
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


def _cmd_server(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    from modelyard import serve

    try:
        serve.import_uvicorn_lean()  # uvicorn's CLI and reload machinery are not needed
    except ModuleNotFoundError:
        raise SystemExit(
            "modelyard: the server is not installed here; install it with "
            "pip install 'modelyard[server]'"
        ) from None

    from modelyard.app import configure_logging
    from modelyard.http.header_timeout import protocol_with_header_timeout

    configure_logging(settings.log_level)
    # Fail early, in one line, when the port is taken or the database cannot
    # be opened; then migrate once here, before any worker starts.
    from modelyard.server_checks import check_port_free
    from modelyard.store.sql import migrations
    from modelyard.store.sql.db import Database

    check_port_free(settings.host, settings.port)
    db = Database(settings.store_uri)
    try:
        db.probe()
        migrations.upgrade(db)
        _check_auth(settings, db)
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
    serve.run(
        "modelyard.app:app_from_env",
        factory=True,
        # uvicorn calls a factory as it would a protocol class.
        http=protocol_with_header_timeout(settings.request_header_timeout),
        host=settings.host,
        port=settings.port,
        workers=settings.workers if settings.workers > 1 else None,
        log_level=settings.log_level.lower(),
        ws="none",  # no WebSocket route: skip importing a WebSocket library at start
        access_log=False,  # modelyard.http.access_log logs each request, with its time
        timeout_graceful_shutdown=5,
    )
    return 0


def _check_auth(settings: Settings, db: object) -> None:
    """--auth: make the first admin or stop with one line; warn when open on a network."""
    if settings.auth_enabled:
        from modelyard.app import wall_clock_ms
        from modelyard.http.auth_setup import AuthSetupError, bootstrap_admin

        try:
            bootstrap_admin(db, wall_clock_ms)
        except AuthSetupError as exc:
            raise SystemExit(str(exc)) from None
    elif settings.host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"modelyard: WARNING: serving on {settings.host} without authentication: anyone "
            "who can reach the port may change or delete anything. Add --auth.",
            file=sys.stderr,
            flush=True,
        )


def settings_of(args: argparse.Namespace) -> Settings:
    overrides = {spec.name: getattr(args, spec.name, None) for spec in SETTINGS_SPEC}
    try:
        return settings_from(overrides)
    except ValueError as exc:
        raise SystemExit(f"modelyard: {exc}") from None


def _db_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("db", help="Database maintenance.")
    dsub = p.add_subparsers(dest="db_command", required=True)
    up = dsub.add_parser(
        "upgrade",
        help="Apply pending schema migrations and exit.",
        description="Apply pending schema migrations and exit.",
        epilog="example:\n  modelyard db upgrade --backend-store-uri postgresql://mlflow@db/mlflow",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
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


def build_parser(server_only: bool = False) -> argparse.ArgumentParser:
    """The whole command line; with `server_only`, just `server` (see `main`)."""
    parser = argparse.ArgumentParser(
        prog="modelyard",
        description=__doc__.splitlines()[0],
        epilog="examples:\n  modelyard server\n  modelyard --tracking-uri http://host:5000 "
        "models list\n  modelyard models promote mnist_test 3 --to Production\n\n"
        "Run 'modelyard COMMAND --help' for a command's options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"modelyard {__version__}")
    if server_only:
        _server_parser(parser.add_subparsers(dest="command", metavar="COMMAND"))
        return parser
    from modelyard.cli_parser import add_common_options
    from modelyard.client_cli import add_client_commands

    # Client options may come before the command too: modelyard --tracking-uri U runs list
    add_common_options(parser, top_level=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _server_parser(sub)
    _db_parser(sub)
    add_client_commands(sub)
    from modelyard.auth_cli import add_auth_commands  # users, tokens, permissions

    add_auth_commands(sub)

    from modelyard.ops_cli import add_ops_commands

    add_ops_commands(sub)
    from modelyard.webhooks_cli import add_webhook_commands

    add_webhook_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else list(argv)
    # `modelyard server …` needs none of the client commands (the client, its
    # HTTP library): building only the server's parser saves their import at
    # every start. `modelyard server --help` prints the same text either way.
    parser = build_parser(server_only=args_list[:1] == ["server"])
    args = parser.parse_args(args_list)
    if getattr(args, "func", None) is None:  # plain `modelyard`: say what it can do
        parser.print_help()
        return 0
    from modelyard.errors import ModelyardError

    try:
        return int(args.func(args))
    except ModelyardError as exc:
        print(f"modelyard: {exc.message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
