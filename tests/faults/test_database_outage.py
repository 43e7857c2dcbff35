"""PostgreSQL out of reach under load: 503 with a retry hint, never 500, and the
server recovers by itself once the database is back.

The outage is a TCP proxy between the server and a throwaway database that the
test cuts (every connection dropped, new ones refused) and restores, so the
shared PostgreSQL other tests use is never restarted.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

import httpx
from servers import modelyard_server, throwaway_postgres
from tcp_proxy import CuttableProxy

CREATE = "/api/2.0/mlflow/experiments/create"
SEARCH = "/api/2.0/mlflow/experiments/search"


class Load:
    """Two clients writing and reading without pause; every status is counted."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.statuses: Counter[int] = Counter()
        self.retry_after: set[str] = set()
        self.bodies_503: list[dict[str, str]] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(i,)) for i in range(2)]

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=60)

    def _run(self, worker: int) -> None:
        n = 0
        with httpx.Client(base_url=self.url, timeout=60) as client:
            while not self._stop.is_set():
                n += 1
                if n % 2:
                    r = client.post(CREATE, json={"name": f"load-{worker}-{n}-{time.time_ns()}"})
                else:
                    r = client.post(SEARCH, json={"max_results": 5})
                with self._lock:
                    self.statuses[r.status_code] += 1
                    if r.status_code == 503:
                        self.retry_after.add(r.headers.get("retry-after", ""))
                        self.bodies_503.append(r.json())

    def count(self, status: int) -> int:
        with self._lock:
            return self.statuses[status]


def _wait_for(predicate: object, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.1)  # polling a live server; the deadline bounds it
    raise AssertionError(f"timed out waiting for {what}")


def test_database_outage_is_503_then_recovers(tmp_path: Path) -> None:
    with throwaway_postgres() as url:
        parsed = urlparse(url)
        with CuttableProxy((parsed.hostname or "127.0.0.1", parsed.port or 5432)) as proxy:
            via_proxy = url.replace(f"{parsed.hostname}:{parsed.port}", f"127.0.0.1:{proxy.port}")
            with modelyard_server(tmp_path, via_proxy) as server, Load(server.url) as load:
                _wait_for(lambda: load.count(200) > 20, "requests to succeed before the cut")
                proxy.cut()
                _wait_for(lambda: load.count(503) >= 4, "503 answers while the database is away")
                cut_at_200 = load.count(200)
                proxy.restore()
                started = time.monotonic()
                _wait_for(lambda: load.count(200) > cut_at_200 + 20, "recovery", timeout=90)
                recovered_in = time.monotonic() - started
            log = server.log()
    assert load.statuses[500] == 0, (load.statuses, log[-3000:])
    assert set(load.statuses) <= {200, 503}, load.statuses
    assert load.retry_after == {"2"}
    assert all(b["error_code"] == "TEMPORARILY_UNAVAILABLE" for b in load.bodies_503)
    assert "Traceback" not in log
    print(f"statuses {dict(load.statuses)}; recovered {recovered_in:.1f} s after restore")
