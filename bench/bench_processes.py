"""Server processes for the benchmark: how each one is started, awaited, measured and killed.

Every server runs in its own session (so its whole process tree shares one
process group we can signal), in its own temporary directory with a fresh
SQLite database and artifact folder, on a free port on 127.0.0.1. Memory is
read from /proc so the benchmark needs no psutil.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

VENV_BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class ServerConfig:
    """One column of the results table: a name and how to build its command line."""

    name: str
    label: str
    command: Callable[[Path, int], list[str]]


def _mlflow_command(workers: int | None) -> Callable[[Path, int], list[str]]:
    def build(workdir: Path, port: int) -> list[str]:
        cmd = [
            str(VENV_BIN / "mlflow"),
            "server",
            "--backend-store-uri",
            f"sqlite:///{workdir / 'mlflow.db'}",
            "--artifacts-destination",
            str(workdir / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        if workers is not None:
            cmd += ["--workers", str(workers)]
        return cmd

    return build


def _modelyard_command(workdir: Path, port: int) -> list[str]:
    return [
        str(VENV_BIN / "modelyard"),
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--backend-store-uri",
        f"sqlite:///{workdir / 'modelyard.db'}",
        "--artifacts-destination",
        str(workdir / "artifacts"),
    ]


def _fasttrackml_command(workdir: Path, port: int) -> list[str]:
    # FastTrackML's SQLite URI is sqlite:// followed by the absolute path.
    return [
        fasttrackml_binary() or "fml",
        "server",
        "--listen-address",
        f"127.0.0.1:{port}",
        "--database-uri",
        f"sqlite://{workdir / 'fasttrackml.db'}",
        "--default-artifact-root",
        str(workdir / "artifacts"),
    ]


# FastTrackML's wheel ships the Go binary `fml`, but it also depends on an older mlflow
# (2.x) that would replace the 3.x the compatibility tests need; so the bench keeps it in
# a venv of its own, installed without dependencies (the binary needs none).
PEERS_DIR = Path(__file__).resolve().parent / ".peers"
FASTTRACKML_VENV = PEERS_DIR / "fasttrackml"


def _requirement(name: str) -> str:
    for line in (Path(__file__).resolve().parent / "requirements.txt").read_text().splitlines():
        if line.split("==")[0].strip() == name:
            return line.strip()
    raise RuntimeError(f"{name} is not pinned in bench/requirements.txt")


def fasttrackml_binary() -> str | None:
    """`fml` from the bench's own venv (see `install_fasttrackml`), or from PATH."""
    local = FASTTRACKML_VENV / "bin" / "fml"
    if local.exists():
        return str(local)
    return shutil.which("fml")


def install_fasttrackml() -> str:
    """Create bench/.peers/fasttrackml and pip-install the pinned FastTrackML there."""
    if (found := fasttrackml_binary()) is not None:
        return found
    subprocess.run([sys.executable, "-m", "venv", str(FASTTRACKML_VENV)], check=True)
    pip = [str(FASTTRACKML_VENV / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "--no-deps", _requirement("fasttrackml")], check=True)
    return str(FASTTRACKML_VENV / "bin" / "fml")


MLFLOW_W1 = ServerConfig("mlflow-w1", "mlflow (workers 1)", _mlflow_command(1))
# No --workers: mlflow 3.x then runs uvicorn with 4 worker processes, plus its
# job runner and huey consumers. That is the out-of-the-box server, measured as is.
MLFLOW_DEFAULT = ServerConfig("mlflow-default", "mlflow (default)", _mlflow_command(None))
# FastTrackML (a Go rewrite of MLflow's tracking server): tracking API only, no
# registry and no proxied artifacts, so those rows read "n/a: endpoint missing".
FASTTRACKML = ServerConfig("fasttrackml", "FastTrackML", _fasttrackml_command)
MODELYARD = ServerConfig("modelyard", "modelyard", _modelyard_command)
ALL_SERVERS = (MLFLOW_W1, MLFLOW_DEFAULT, FASTTRACKML, MODELYARD)


class ServerFailed(RuntimeError):
    """The server exited or never answered /health; the message carries its log tail."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RunningServer:
    """A spawned server: its process, base URL, work directory and log."""

    def __init__(self, config: ServerConfig, workdir: Path) -> None:
        self.config = config
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "server.log"
        self._log = self.log_path.open("ab")
        self.started = time.perf_counter()
        self.ready_s: float | None = None  # seconds from spawn to the first 200 from /health
        self.proc = subprocess.Popen(
            config.command(workdir, self.port),
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_healthy(self, timeout_s: float) -> float:
        """Poll /health until it answers 200; return seconds since spawn."""
        deadline = self.started + timeout_s
        with httpx.Client(timeout=1.0) as probe:
            while True:
                if self.proc.poll() is not None:
                    raise ServerFailed(
                        f"{self.config.label} exited with {self.proc.returncode}:\n"
                        + self.log_tail()
                    )
                with contextlib.suppress(httpx.TransportError):
                    if probe.get(f"{self.url}/health").status_code == 200:
                        self.ready_s = time.perf_counter() - self.started
                        return self.ready_s
                if time.perf_counter() > deadline:
                    raise ServerFailed(
                        f"{self.config.label} gave no 200 from /health within {timeout_s:.0f} s:\n"
                        + self.log_tail()
                    )
                time.sleep(0.02)

    def log_tail(self, lines: int = 15) -> str:
        self._log.flush()
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join("    " + line for line in text[-lines:])

    def memory(self) -> tuple[float, float, int]:
        """(RSS MB, PSS MB, process count) summed over the server's process tree."""
        return tree_memory(self.proc.pid)

    def idle_cpu_percent(self, seconds: float) -> float:
        """CPU used by the tree over `seconds` of no requests, as % of one core."""
        before = tree_cpu_seconds(self.proc.pid)
        time.sleep(seconds)
        return 100.0 * (tree_cpu_seconds(self.proc.pid) - before) / seconds

    def stop(self) -> None:
        """SIGTERM the process group, then SIGKILL whatever of the tree is left."""
        pid = self.proc.pid
        members = tree_pids(pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=15)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(_alive(p) for p in members):
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        for p in members | tree_pids(pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(p, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        self._log.close()


@contextlib.contextmanager
def running(
    config: ServerConfig, workdir: Path, timeout_s: float = 120.0
) -> Iterator[RunningServer]:
    """Spawn a server in `workdir`, wait for /health, and always kill it afterwards."""
    server = RunningServer(config, workdir)
    try:
        server.wait_healthy(timeout_s)
        yield server
    finally:
        server.stop()


def cold_start(config: ServerConfig, workdir: Path, timeout_s: float = 120.0) -> float:
    """Seconds from spawn to the first 200 from /health (the server is killed after)."""
    server = RunningServer(config, workdir)
    try:
        return server.wait_healthy(timeout_s)
    finally:
        server.stop()


def temp_workdir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"bench-{prefix}-"))


# --- /proc -------------------------------------------------------------------


def _stat(pid: int) -> tuple[int, int] | None:
    """(ppid, session id) of a process, or None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name is in parentheses and may contain spaces: split after it.
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[1]), int(fields[3])


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state[state.rindex(")") + 2] != "Z"


def tree_pids(root: int) -> set[int]:
    """The root and all its descendants, plus anything else in its session."""
    table: dict[int, tuple[int, int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (st := _stat(int(entry))) is not None:
            table[int(entry)] = st
    if root not in table:
        return set()
    pids = {root}
    changed = True
    while changed:
        changed = False
        for pid, (ppid, sid) in table.items():
            if pid not in pids and (ppid in pids or sid == root):
                pids.add(pid)
                changed = True
    return pids


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU time consumed so far by the live processes of a tree."""
    ticks = 0
    for pid in tree_pids(root):
        try:
            raw = Path(f"/proc/{pid}/stat").read_text()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def _kb_field(path: Path, field: str) -> int:
    try:
        for line in path.read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


def tree_memory(root: int) -> tuple[float, float, int]:
    """Summed RSS and PSS in MB (1 MB = 2**20 bytes) of a process tree, and its size.

    RSS counts shared pages once per process; PSS divides them among the sharers,
    so it is the fairer total when workers share memory.
    """
    pids = tree_pids(root)
    rss = sum(_kb_field(Path(f"/proc/{p}/status"), "VmRSS:") for p in pids)
    pss = sum(_kb_field(Path(f"/proc/{p}/smaps_rollup"), "Pss:") for p in pids)
    return rss / 1024, pss / 1024, len(pids)
