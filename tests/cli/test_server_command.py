"""`modelyard server` and `modelyard db upgrade` as a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from servers import free_port, throwaway_postgres, wait_healthy

from modelyard import __version__

CLI = [sys.executable, "-m", "modelyard.cli"]


def _spawn(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], Path]:
    log = cwd / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [*CLI, *args],
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
            start_new_session=True,
        )
    return proc, log


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_server_with_no_flags_uses_embedded_defaults(tmp_path: Path) -> None:
    port = free_port()  # only the port differs from a bare `modelyard server`
    proc, log = _spawn(["server"], tmp_path, {"MODELYARD_PORT": str(port)})
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, log)
        assert httpx.get(f"{url}/health").text == "OK"
        assert httpx.get(f"{url}/version").text == __version__
        exp = httpx.get(f"{url}/api/2.0/mlflow/experiments/get", params={"experiment_id": "0"})
        assert exp.json()["experiment"]["name"] == "Default"
        info = httpx.get(f"{url}/api/3.0/mlflow/server-info").json()
        assert info["store_type"] == "SqlStore"
    finally:
        _stop(proc)
    assert (tmp_path / "modelyard-data" / "modelyard.db").is_file()
    assert f"serving on {url}" in log.read_text()


def test_db_upgrade_applies_then_reports_up_to_date(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    first = subprocess.run(
        [*CLI, "db", "upgrade", "--backend-store-uri", uri],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "applied: 0001_tracking" in first.stdout
    again = subprocess.run(
        [*CLI, "db", "upgrade", "--backend-store-uri", uri],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "schema is up to date" in again.stdout


def test_db_upgrade_on_postgresql() -> None:
    with throwaway_postgres() as uri:
        out = subprocess.run(
            [*CLI, "db", "upgrade", "--backend-store-uri", uri],
            capture_output=True,
            text=True,
            check=True,
        )
        assert "0001_tracking" in out.stdout


@pytest.mark.parametrize("uri", ["mysql://x", "sqlite:///"])
def test_bad_backend_uri_is_a_clear_error(tmp_path: Path, uri: str) -> None:
    out = subprocess.run(
        [*CLI, "server", "--backend-store-uri", uri, "--port", str(free_port())],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
    assert "modelyard:" in out.stderr


def test_bad_setting_in_environment_is_a_clear_error(tmp_path: Path) -> None:
    out = subprocess.run(
        [*CLI, "server"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "MODELYARD_PORT": "five"},
        timeout=60,
    )
    assert out.returncode != 0
    assert "MODELYARD_PORT must be an integer" in out.stderr


def test_workers_share_one_store(tmp_path: Path) -> None:
    port = free_port()
    proc, log = _spawn(["server", "--port", str(port), "--workers", "2"], tmp_path, {})
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, log)
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        assert len(children) >= 2, "uvicorn should run two worker processes"
        with httpx.Client(base_url=url) as client:
            # Fresh connections spread over the workers; every write must be visible to all.
            ids = set()
            for i in range(20):
                r = httpx.post(f"{url}/api/2.0/mlflow/experiments/create", json={"name": f"w{i}"})
                assert r.status_code == 200, r.text
                ids.add(r.json()["experiment_id"])
            assert len(ids) == 20
            found = client.post("/api/2.0/mlflow/experiments/search", json={"max_results": 100})
            assert len(found.json()["experiments"]) == 21
    finally:
        _stop(proc)


def test_negative_timeout_is_a_clear_error_before_serving(tmp_path: Path) -> None:
    out = subprocess.run(
        [*CLI, "server", "--request-header-timeout", "-1"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert out.returncode != 0
    assert "--request-header-timeout must be 0 (wait for ever) or a number" in out.stderr
    assert "Traceback" not in out.stderr
    assert "serving on" not in out.stdout + out.stderr
