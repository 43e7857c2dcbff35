"""`modelyard server` start-up failures: one clear line on stderr, quickly.

Each case is a mistake a newcomer makes in the first minutes (a database
that does not exist, a wrong user, a host that does not answer, a port that
is taken); the server must say what is wrong in words and exit non-zero
before printing "serving on", instead of a traceback after a pool timeout.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
from servers import PG_ADMIN_URL, free_port, modelyard_server

CLI = [sys.executable, "-m", "modelyard.cli"]
PG_BASE = PG_ADMIN_URL.rsplit("/", 1)[0]


def _start(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "server", "--port", str(free_port()), *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )


def _one_clear_line(out: subprocess.CompletedProcess[str]) -> str:
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
    assert "serving on" not in out.stdout
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("modelyard: ")
    return lines[0]


def test_postgres_database_that_does_not_exist(tmp_path: Path) -> None:
    name = f"modelyard_missing_{uuid.uuid4().hex[:8]}"
    line = _one_clear_line(_start(tmp_path, "--backend-store-uri", f"{PG_BASE}/{name}"))
    assert f'database "{name}" does not exist' in line


def test_postgres_login_refused(tmp_path: Path) -> None:
    uri = PG_ADMIN_URL.replace("postgres@", "nobody_here:secret@", 1)
    line = _one_clear_line(_start(tmp_path, "--backend-store-uri", uri))
    assert "nobody_here" in line
    assert "secret" not in line, "the password must not be printed"


def test_postgres_port_with_nobody_listening(tmp_path: Path) -> None:
    uri = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    line = _one_clear_line(_start(tmp_path, "--backend-store-uri", uri))
    assert "refused" in line.lower()


def test_unreachable_host_fails_within_a_few_seconds(tmp_path: Path) -> None:
    # A listener whose backlog is full never completes a handshake: the
    # connection attempt hangs as it would for a firewalled host.
    with socket.socket() as blackhole:
        blackhole.bind(("127.0.0.1", 0))
        blackhole.listen(0)
        port = blackhole.getsockname()[1]
        fillers = []
        for _ in range(8):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            fillers.append(s)
        try:
            started = time.monotonic()
            out = _start(tmp_path, "--backend-store-uri", f"postgresql://u@127.0.0.1:{port}/db")
            took = time.monotonic() - started
        finally:
            for s in fillers:
                s.close()
    line = _one_clear_line(out)
    assert "timeout" in line.lower() or "timed out" in line.lower(), line
    # The connect timeout is 3 s; the pool's would have been 30 s.
    assert took < 20, took


def test_sqlite_file_that_cannot_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where a directory is needed")
    line = _one_clear_line(_start(tmp_path, "--backend-store-uri", f"sqlite:///{blocker}/m.db"))
    assert "cannot open the database" in line


def test_port_in_use_is_reported_before_serving(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = subprocess.run(
            [*CLI, "server", "--port", str(port)],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=60,
        )
    line = _one_clear_line(out)
    assert f"port {port}" in line and "already in use" in line


def test_info_logs_one_line_per_request(tmp_path: Path) -> None:
    with modelyard_server(tmp_path, extra_args=["--log-level", "info"]) as server:
        httpx.get(f"{server.url}/api/2.0/mlflow/experiments/get", params={"experiment_id": "0"})
        httpx.get(f"{server.url}/api/2.0/mlflow/experiments/get", params={"experiment_id": "999"})
        pattern = re.compile(
            r"GET /api/2\.0/mlflow/experiments/get\?experiment_id=(\d+) (\d{3}) [\d.]+ ms"
        )
        deadline = time.monotonic() + 10
        found: list[tuple[str, str]] = []
        while time.monotonic() < deadline and len(found) < 2:
            found = pattern.findall(server.log())
            time.sleep(0.05)  # the log line is written after the response; poll for it
        assert found == [("0", "200"), ("999", "404")]
        assert "uvicorn.access" not in server.log(), "one line per request, not two"


def test_warning_level_logs_no_requests(tmp_path: Path) -> None:
    with modelyard_server(tmp_path, extra_args=["--log-level", "warning"]) as server:
        ok = httpx.get(f"{server.url}/api/2.0/mlflow/experiments/get?experiment_id=0")
        assert ok.status_code == 200
    # The server has stopped, so any line it was going to write is written.
    assert "experiments/get" not in server.log()
