"""Webhook test fixtures: a live server that may call loopback over http, and
a real receiver. The flags are what a test setup needs; the defaults
(https only, no private targets) are tested on their own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hookflags import FLAGS
from receiver import Receiver, running_receiver
from servers import ServerProcess, modelyard_server, throwaway_postgres


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def hook_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp(f"hooks-{request.param}")
    if request.param == "sqlite":
        with modelyard_server(data_dir, extra_args=FLAGS) as server:
            yield server
    else:
        with (
            throwaway_postgres() as url,
            modelyard_server(data_dir, url, extra_args=FLAGS) as server,
        ):
            yield server


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as r:
        yield r
