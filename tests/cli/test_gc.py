"""`modelyard gc` against a live `modelyard server` process (SQLite and PostgreSQL; local
folder and SeaweedFS), run as its own process beside the server, as an operator would.

One scenario per backend: deleted runs and a deleted experiment go with their
files; a deleted run that a registered version came from stays, files and all;
active runs are untouched; a dry run removes nothing; a second collection
finds nothing more to do; bad ids are refused with MLflow's rule.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from servers import ServerProcess, modelyard_server, throwaway_postgres

API = "/api/2.0/mlflow"
ART = "/api/2.0/mlflow-artifacts/artifacts"


@pytest.fixture(params=["sqlite-local", "postgresql-local", "sqlite-s3"])
def setup(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[ServerProcess, list[str], dict[str, str]]]:
    """(server, the flags naming its database and artifacts, environment for S3)."""
    backend, artifacts = request.param.split("-")
    env: dict[str, str] = {}
    with contextlib.ExitStack() as stack:
        if backend == "postgresql":
            db = stack.enter_context(throwaway_postgres())
        else:
            db = f"sqlite:///{tmp_path / 'gc.db'}"
        destination = str(tmp_path / "artifacts")
        if artifacts == "s3":
            target = request.getfixturevalue("s3_target")
            env = target.env()
            destination = f"s3://{target.bucket}/gc-{uuid.uuid4().hex[:8]}"
        flags = ["--backend-store-uri", db, "--artifacts-destination", destination]
        server = stack.enter_context(
            modelyard_server(tmp_path / "server", backend_uri=db, extra_args=flags[2:], env=env)
        )
        yield server, flags, env


def gc(flags: list[str], env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "modelyard.cli", "gc", *flags, *extra],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
        check=False,
    )


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def run_with_files(http: httpx.Client, experiment_id: str = "0") -> tuple[str, str]:
    info = ok(http.post(f"{API}/runs/create", json={"experiment_id": experiment_id}))["run"]["info"]
    folder = info["artifact_uri"].removeprefix("mlflow-artifacts:/")
    ok(http.put(f"{ART}/{folder}/model/MLmodel", content=b"flavors: {}\n"))
    ok(http.put(f"{ART}/{folder}/model/w.bin", content=b"w" * 1000))
    return info["run_id"], folder


def has_files(http: httpx.Client, folder: str) -> bool:
    return http.get(f"{ART}/{folder}/model/MLmodel").status_code == 200


def test_gc_removes_deleted_runs_and_experiments_but_never_what_a_version_uses(
    setup: tuple[ServerProcess, list[str], dict[str, str]],
) -> None:
    server, flags, env = setup
    with httpx.Client(base_url=server.url, timeout=30) as http:
        doomed, doomed_files = run_with_files(http)
        used, used_files = run_with_files(http)
        active, active_files = run_with_files(http)
        exp = ok(http.post(f"{API}/experiments/create", json={"name": "gone"}))["experiment_id"]
        inner, inner_files = run_with_files(http, exp)
        ok(http.post(f"{API}/registered-models/create", json={"name": "keeper"}))
        ok(
            http.post(
                f"{API}/model-versions/create",
                json={"name": "keeper", "source": f"runs:/{used}/model", "run_id": used},
            )
        )
        for run_id in (doomed, used):
            ok(http.post(f"{API}/runs/delete", json={"run_id": run_id}))
        ok(http.post(f"{API}/experiments/delete", json={"experiment_id": exp}))

        # Refused: an active run named explicitly (MLflow's rule); nothing happens.
        refused = gc(flags, env, "--run-ids", active)
        assert refused.returncode == 1
        assert "not in the `deleted` lifecycle stage" in refused.stderr
        # Nothing was deleted that long ago.
        assert "Removed 0 run(s), 0 experiment(s)" in gc(flags, env, "--older-than", "1d").stdout

        dry = gc(flags, env, "--dry-run")
        assert dry.returncode == 0, dry.stderr
        assert "Would remove 2 run(s), 1 experiment(s), 0 logged model(s): 4 file(s)" in dry.stdout
        assert has_files(http, doomed_files) and has_files(http, inner_files)

        done = gc(flags, env)
        assert done.returncode == 0, done.stderr
        assert "Removed 2 run(s), 1 experiment(s), 0 logged model(s): 4 file(s), 2.0 KiB" in (
            done.stdout
        )
        assert f"  run {doomed}" in done.stdout and f"  run {inner}" in done.stdout
        assert f"run {used}: model 'keeper' version 1 was registered from it" in done.stdout

        for run_id in (doomed, inner):
            assert http.get(f"{API}/runs/get", params={"run_id": run_id}).status_code == 404
        assert http.get(f"{API}/experiments/get", params={"experiment_id": exp}).status_code == 404
        assert not has_files(http, doomed_files) and not has_files(http, inner_files)
        # Kept: the version's run (still deleted, files intact) and the active run.
        assert (
            ok(http.get(f"{API}/runs/get", params={"run_id": used}))["run"]["info"][
                "lifecycle_stage"
            ]
            == "deleted"
        )
        assert has_files(http, used_files) and has_files(http, active_files)
        got = http.get(f"{ART}/{used_files}/model/w.bin")
        assert got.content == b"w" * 1000

        # Running again finds nothing more; once the version goes, its run goes too.
        again = gc(flags, env)
        assert "Removed 0 run(s), 0 experiment(s)" in again.stdout
        ok(
            http.request(
                "DELETE", f"{API}/model-versions/delete", json={"name": "keeper", "version": "1"}
            )
        )
        last = gc(flags, env, "--run-ids", used)
        assert "Removed 1 run(s)" in last.stdout, last.stdout + last.stderr
        assert not has_files(http, used_files)


def test_the_server_collects_on_a_schedule_when_asked(tmp_path: Path) -> None:
    """`--gc-interval 1s --gc-older-than 0s`: a deleted run disappears by itself."""
    extra = ["--gc-interval", "1s", "--gc-older-than", "0s"]
    with (
        modelyard_server(tmp_path / "server", extra_args=extra) as server,
        httpx.Client(base_url=server.url, timeout=30) as http,
    ):
        doomed, folder = run_with_files(http)
        kept, _ = run_with_files(http)
        ok(http.post(f"{API}/runs/delete", json={"run_id": doomed}))
        deadline = time.monotonic() + 60
        while http.get(f"{API}/runs/get", params={"run_id": doomed}).status_code != 404:
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.1)  # polling the server's own schedule, not timing it
        assert not has_files(http, folder)
        assert ok(http.get(f"{API}/runs/get", params={"run_id": kept}))["run"]["info"]["run_id"]


def test_bad_durations_are_refused_before_anything_runs(tmp_path: Path) -> None:
    flags = ["--backend-store-uri", f"sqlite:///{tmp_path / 'x.db'}"]
    bad = gc(flags, {}, "--older-than", "30 days")
    assert bad.returncode == 1 and "Invalid --older-than '30 days'" in bad.stderr
    server = subprocess.run(
        [sys.executable, "-m", "modelyard.cli", "server", "--gc-interval", "often", *flags],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert server.returncode != 0 and "--gc-interval must be a duration" in server.stderr
