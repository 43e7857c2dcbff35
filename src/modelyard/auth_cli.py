"""`modelyard users|tokens|permissions ...`: managing sign-in over the REST API.

Thin commands over MLflow's basic-auth API and modelyard's token API, run as
whoever the credentials in MODELYARD_TRACKING_USERNAME / _PASSWORD / _TOKEN
(or MLflow's MLFLOW_TRACKING_*) name. Passwords are read from a prompt or
from `--password-stdin`, never from the command line, where `ps` would show
them. Output and exit codes as the other client commands (`client_cli`).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import TYPE_CHECKING, Any

from modelyard.cli_output import emit, table, when
from modelyard.cli_parser import CommandTree

if TYPE_CHECKING:
    from modelyard.cli_parser import SubParsers
    from modelyard.client import Client

MLFLOW_2 = "/api/2.0/mlflow"
MLFLOW_3 = "/api/3.0/mlflow"
OWN = "/api/modelyard/v1"
KINDS = {"model": "registered_model", "experiment": "experiment"}


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    return getpass.getpass(f"Password for {args.username}: ")


def cmd_users_list(c: Client, args: argparse.Namespace) -> None:
    users = c.rest.call("GET", f"{MLFLOW_2}/users/list").get("users", [])
    emit(
        args,
        users,
        lambda: table(
            ["ID", "USER", "ADMIN"],
            [(u["id"], u["username"], "yes" if u["is_admin"] else "") for u in users],
        ),
    )


def cmd_users_create(c: Client, args: argparse.Namespace) -> None:
    body = {"username": args.username, "password": _password(args)}
    user = c.rest.call("POST", f"{MLFLOW_2}/users/create", body)["user"]
    if args.admin:
        c.rest.call(
            "PATCH", f"{MLFLOW_2}/users/update-admin", {"username": args.username, "is_admin": True}
        )
        user["is_admin"] = True
    emit(
        args, user, lambda: f"created user {user['username']}" + (" (admin)" if args.admin else "")
    )


def cmd_users_delete(c: Client, args: argparse.Namespace) -> None:
    c.rest.call("DELETE", f"{MLFLOW_2}/users/delete", {"username": args.username})
    emit(args, {}, lambda: f"deleted user {args.username}")


def cmd_users_password(c: Client, args: argparse.Namespace) -> None:
    body: dict[str, Any] = {"username": args.username, "password": _password(args)}
    if args.current_password_stdin:
        body["current_password"] = sys.stdin.readline().rstrip("\n")
    c.rest.call("PATCH", f"{MLFLOW_2}/users/update-password", body)
    emit(args, {}, lambda: f"changed the password of {args.username}")


def cmd_tokens_create(c: Client, args: argparse.Namespace) -> None:
    body: dict[str, Any] = {"name": args.name, "username": args.user}
    if args.expires_in_days is not None:
        body["expires_in_days"] = args.expires_in_days
    made = c.rest.call("POST", f"{OWN}/tokens/create", body)
    emit(
        args,
        made,
        lambda: f"{made['secret']}\n(shown once: store it now, e.g. as MODELYARD_TRACKING_TOKEN)",
    )


def cmd_tokens_list(c: Client, args: argparse.Namespace) -> None:
    tokens = c.rest.call("GET", f"{OWN}/tokens/list", {"username": args.user}).get("tokens", [])
    emit(
        args,
        tokens,
        lambda: table(
            ["USER", "NAME", "CREATED", "EXPIRES"],
            [
                (
                    t["username"],
                    t["name"],
                    when(t["creation_time"]),
                    when(t.get("expiry_time")) if t.get("expiry_time") else "never",
                )
                for t in tokens
            ],
        ),
    )


def cmd_tokens_revoke(c: Client, args: argparse.Namespace) -> None:
    c.rest.call("POST", f"{OWN}/tokens/revoke", {"name": args.name, "username": args.user})
    emit(args, {}, lambda: f"revoked token {args.name}")


def cmd_permissions_grant(c: Client, args: argparse.Namespace) -> None:
    body = {
        "username": args.username,
        "resource_type": KINDS[args.kind],
        "resource_id": args.resource,
        "permission": args.permission.upper(),
    }
    c.rest.call("POST", f"{MLFLOW_3}/users/permissions/grant", body)
    emit(
        args,
        body,
        lambda: f"granted {body['permission']} on {args.kind} {args.resource} to {args.username}",
    )


def cmd_permissions_revoke(c: Client, args: argparse.Namespace) -> None:
    body = {
        "username": args.username,
        "resource_type": KINDS[args.kind],
        "resource_id": args.resource,
    }
    c.rest.call("POST", f"{MLFLOW_3}/users/permissions/revoke", body)
    emit(args, body, lambda: f"revoked {args.username}'s grant on {args.kind} {args.resource}")


def cmd_permissions_list(c: Client, args: argparse.Namespace) -> None:
    got = c.rest.call("GET", f"{MLFLOW_3}/users/permissions/list", {"username": args.username})
    rows = got.get("permissions", [])
    emit(
        args,
        got,
        lambda: (
            ("(admin: may do everything)\n" if got.get("is_admin") else "")
            + table(
                ["TYPE", "RESOURCE", "PERMISSION", "VIA"],
                [
                    (r["resource_type"], r["resource_pattern"], r["permission"], r["role_name"])
                    for r in rows
                ],
            )
        ),
    )


def add_auth_commands(sub: SubParsers) -> None:
    """Add `users`, `tokens` and `permissions` to the `modelyard` parser."""
    tree = CommandTree(sub)
    group, command = tree.group, tree.command

    def password_source(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the new password from standard input instead of a prompt",
        )

    g = group("users", "Users of a server with --auth (admins).")
    command(g, "list", cmd_users_list, "List users.", example="modelyard users list")
    p = command(
        g, "create", cmd_users_create, "Create a user (the password is prompted for).",
        example="modelyard users create alice",
    )  # fmt: skip
    p.add_argument("username", help="the user's name")
    p.add_argument("--admin", action="store_true", help="make the user an admin")
    password_source(p)
    p = command(
        g, "delete", cmd_users_delete, "Delete a user.", example="modelyard users delete alice"
    )
    p.add_argument("username", help="the user's name")
    p = command(
        g, "password", cmd_users_password, "Change a user's password.",
        example="modelyard users password alice --password-stdin < new-password.txt",
    )  # fmt: skip
    p.add_argument("username", help="the user's name")
    password_source(p)
    p.add_argument(
        "--current-password-stdin",
        action="store_true",
        help="changing your own password: read the current one from the next stdin line",
    )

    g = group("tokens", "Your access tokens (Bearer credentials for scripts and CI).")
    p = command(
        g, "create", cmd_tokens_create, "Create a token; its secret is printed once.",
        example="modelyard tokens create ci-deploy --expires-in-days 90",
    )  # fmt: skip
    p.add_argument("name", help="the token's name, e.g. ci-deploy")
    p.add_argument("--expires-in-days", type=float, default=None, metavar="DAYS")
    p.add_argument("--user", default=None, help="for another user (admins)")
    p = command(
        g, "list", cmd_tokens_list, "List tokens (names and dates, never secrets).",
        example="modelyard tokens list",
    )  # fmt: skip
    p.add_argument(
        "--user", default=None, help="another user's (admins; default: yours, or all for an admin)"
    )
    p = command(
        g, "revoke", cmd_tokens_revoke, "Revoke a token by name.",
        example="modelyard tokens revoke ci-deploy",
    )  # fmt: skip
    p.add_argument("name", help="the token's name, e.g. ci-deploy")
    p.add_argument("--user", default=None, help="another user's (admins)")

    g = group("permissions", "Grant and revoke permissions on models and experiments.")
    p = command(
        g, "grant", cmd_permissions_grant, "Grant a user a level on a model or experiment.",
        example="modelyard permissions grant model mnist_test alice MANAGE_PRODUCTION_VERSIONS",
    )  # fmt: skip
    p.add_argument("kind", choices=sorted(KINDS), help="what the grant is on")
    p.add_argument("resource", help="model name or experiment id ('*' for all, admins)")
    p.add_argument("username", help="the user's name")
    p.add_argument(
        "permission",
        type=str.upper,
        help="the level to grant (any case)",
        choices=[
            "READ",
            "EDIT",
            "MANAGE_STAGING_VERSIONS",
            "MANAGE_PRODUCTION_VERSIONS",
            "MANAGE",
            "NO_PERMISSIONS",
        ],
    )
    p = command(
        g, "revoke", cmd_permissions_revoke, "Remove a user's grant on a model or experiment.",
        example="modelyard permissions revoke model mnist_test alice",
    )  # fmt: skip
    p.add_argument("kind", choices=sorted(KINDS), help="what the grant is on")
    p.add_argument("resource", help="model name or experiment id")
    p.add_argument("username", help="the user's name")
    p = command(
        g, "list", cmd_permissions_list, "List a user's grants (direct and through roles).",
        example="modelyard permissions list alice",
    )  # fmt: skip
    p.add_argument("username", help="the user's name")
