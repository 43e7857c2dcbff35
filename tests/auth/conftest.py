"""Fixtures for authentication tests: a real `modelyard server --auth` per backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from servers import ServerProcess, modelyard_server, throwaway_postgres

from auth.authkit import ADMIN_ENV


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def auth_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A real `modelyard server --auth` on each backend, once per module."""
    data_dir = tmp_path_factory.mktemp(f"auth-{request.param}")
    if request.param == "sqlite":
        with modelyard_server(data_dir, extra_args=["--auth"], env=ADMIN_ENV) as server:
            yield server
    else:
        with (
            throwaway_postgres() as url,
            modelyard_server(data_dir, url, extra_args=["--auth"], env=ADMIN_ENV) as server,
        ):
            yield server


@pytest.fixture(scope="module")
def sqlite_auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("auth-sqlite")
    with modelyard_server(data_dir, extra_args=["--auth"], env=ADMIN_ENV) as server:
        yield server
