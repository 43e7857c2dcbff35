"""`modelyard users|tokens|permissions` and the light client's credentials, as a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from servers import ServerProcess

from auth.authkit import ADMIN, PASSWORD

pytestmark = pytest.mark.timeout(300)


def _run(
    server: ServerProcess, *argv: str, env: dict[str, str], stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if "TRACKING" not in k}
    return subprocess.run(
        [sys.executable, "-m", "modelyard.cli", *argv, "--tracking-uri", server.url],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={**clean, **env},
    )


def test_cli_users_tokens_permissions_and_clear_401_403(sqlite_auth_server: ServerProcess) -> None:
    admin = {"MODELYARD_TRACKING_USERNAME": ADMIN[0], "MODELYARD_TRACKING_PASSWORD": ADMIN[1]}
    made = _run(
        sqlite_auth_server,
        "users",
        "create",
        "cli-user",
        "--password-stdin",
        env=admin,
        stdin=PASSWORD + "\n",
    )
    assert made.returncode == 0, made.stderr
    assert "created user cli-user" in made.stdout
    listed = _run(sqlite_auth_server, "users", "list", env=admin)
    assert "cli-user" in listed.stdout and PASSWORD not in listed.stdout

    user = {"MODELYARD_TRACKING_USERNAME": "cli-user", "MODELYARD_TRACKING_PASSWORD": PASSWORD}
    token = _run(
        sqlite_auth_server, "tokens", "create", "laptop", "--expires-in-days", "7", env=user
    )
    assert token.returncode == 0, token.stderr
    secret = token.stdout.split()[0]
    assert secret.startswith("myd_")
    by_token = _run(
        sqlite_auth_server, "experiments", "list", env={"MODELYARD_TRACKING_TOKEN": secret}
    )
    assert by_token.returncode == 0, by_token.stderr
    tokens = _run(sqlite_auth_server, "tokens", "list", env=user)
    assert "laptop" in tokens.stdout and secret not in tokens.stdout

    # A non-admin may not manage users: a clear 403 message, exit 1.
    refused = _run(sqlite_auth_server, "users", "list", env=user)
    assert refused.returncode == 1
    assert "Permission denied" in refused.stderr and "PERMISSION_DENIED" in refused.stderr
    # No credentials: the message says how to sign in.
    anonymous = _run(sqlite_auth_server, "experiments", "list", env={})
    assert anonymous.returncode == 1
    assert (
        "MODELYARD_TRACKING_USERNAME" in anonymous.stderr and "UNAUTHENTICATED" in anonymous.stderr
    )

    granted = _run(
        sqlite_auth_server, "permissions", "grant", "experiment", "0", "cli-user", "edit", env=admin
    )
    assert granted.returncode == 0, granted.stderr
    perms = _run(sqlite_auth_server, "permissions", "list", "cli-user", env=admin)
    assert "experiment" in perms.stdout and "EDIT" in perms.stdout
    revoked = _run(
        sqlite_auth_server, "permissions", "revoke", "experiment", "0", "cli-user", env=admin
    )
    assert revoked.returncode == 0, revoked.stderr
    assert (
        "EDIT" not in _run(sqlite_auth_server, "permissions", "list", "cli-user", env=admin).stdout
    )
    gone = _run(sqlite_auth_server, "tokens", "revoke", "laptop", env=user)
    assert gone.returncode == 0, gone.stderr
    assert (
        _run(
            sqlite_auth_server, "experiments", "list", env={"MODELYARD_TRACKING_TOKEN": secret}
        ).returncode
        == 1
    )
