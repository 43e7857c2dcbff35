"""Fixtures shared by every test layer: backends, live servers, clients."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from s3servers import S3Target, s3_for_tests
from servers import ServerProcess, modelyard_server, throwaway_postgres

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """One throwaway PostgreSQL database per test session (per xdist worker)."""
    with throwaway_postgres() as url:
        yield url


@pytest.fixture(scope="session")
def s3_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Target]:
    """SeaweedFS for this session (per xdist worker), or the S3 named by MODELYARD_TEST_S3_URL."""
    with s3_for_tests(tmp_path_factory.mktemp("s3")) as target:
        yield target


@pytest.fixture(params=BACKENDS)
def backend_uri(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty metadata database on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
    else:
        with throwaway_postgres() as url:
            yield url


@pytest.fixture(scope="module", params=BACKENDS)
def live_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A real `modelyard server` process, once per test module and backend."""
    data_dir = tmp_path_factory.mktemp(f"server-{request.param}")
    if request.param == "sqlite":
        with modelyard_server(data_dir) as server:
            yield server
    else:
        with throwaway_postgres() as url, modelyard_server(data_dir, url) as server:
            yield server


@pytest.fixture(autouse=True)
def _no_leaked_mlflow_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """mlflow.set_experiment() writes MLFLOW_EXPERIMENT_ID into os.environ; without
    this, an experiment of one test's server would leak into the next test's client."""
    for name in ("MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_RUN_ID"):
        monkeypatch.delenv(name, raising=False)
