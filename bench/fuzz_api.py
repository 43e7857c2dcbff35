"""The long fuzz run: schemathesis sends ~N generated requests to a fresh server and
the server's own access log counts the 5xx answers (the goal is 0).

    python bench/fuzz_api.py [--requests 100000] [--backend sqlite|postgresql] [--workers 2]

A server is started in a temporary directory (PostgreSQL: a throwaway database
on MODELYARD_TEST_PG) at log level info, so every request leaves one line with
its status. schemathesis is run in fuzzing mode over every operation of
/api/openapi.json with as many examples per operation as it takes to reach
--requests; the multipart and presigned artifact routes, which answer 501 by
design (as MLflow's do), are left out. Prints the request count, the status
histogram and each distinct 5xx line; exits 1 when any 5xx was seen.
"""

from __future__ import annotations

import argparse
import math
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from servers import modelyard_server, throwaway_postgres

# One access-log line per request: "<client> <METHOD> <path> <status> <ms> ms". The path
# is logged decoded and may hold spaces, so it is matched up to the status at the end.
LINE = re.compile(r" (GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) (.+) (\d{3}) [\d.]+ ms$", re.M)
BY_DESIGN_501 = r"/(presigned|mpu)/"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--workers", type=int, default=2, help="schemathesis workers")
    parser.add_argument(
        "--save",
        type=Path,
        default=None,
        help="also write schemathesis's full output and the server log's 5xx lines "
        "(with the tracebacks after them) to this file, e.g. bench/raw/fuzz-100000.txt",
    )
    opts = parser.parse_args()

    with ExitStack() as stack:
        data = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fuzz-")))
        uri = stack.enter_context(throwaway_postgres()) if opts.backend == "postgresql" else None
        server = stack.enter_context(
            modelyard_server(data / "server", uri, extra_args=["--log-level", "info"])
        )
        doc = httpx.get(f"{server.url}/api/openapi.json").json()
        operations = sum(
            1
            for path, item in doc["paths"].items()
            if not re.search(BY_DESIGN_501, path)
            for _ in item
        )
        per_operation = max(1, math.ceil(opts.requests / operations))
        print(f"{operations} operations x {per_operation} examples, backend {opts.backend}")
        started = time.monotonic()
        run = subprocess.run(
            [
                str(Path(sys.executable).parent / "schemathesis"),
                "run",
                f"{server.url}/api/openapi.json",
                "--checks",
                "not_a_server_error,response_schema_conformance",
                "--phases",
                "fuzzing",
                "--max-examples",
                str(per_operation),
                "--workers",
                str(opts.workers),
                "--exclude-path-regex",
                BY_DESIGN_501,
                "--generation-database",
                "none",
                "--no-shrink",
                "--request-timeout",
                "60",
                "--no-color",
            ],
            capture_output=True,
            text=True,
        )
        took = time.monotonic() - started
        log = server.log()
        lines = LINE.findall(log)
        if opts.save is not None:
            opts.save.write_text(
                f"schemathesis stdout:\n{run.stdout}\nschemathesis stderr:\n{run.stderr}\n"
                "server log around each 5xx:\n" + _around_5xx(log)
            )
    statuses = Counter(status for _, _, status in lines)
    errors = sorted({f"{m} {p} {s}" for m, p, s in lines if s.startswith("5")})
    print(f"requests: {len(lines)} in {took:.0f} s")
    print("statuses: " + ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items())))
    print(f"5xx: {sum(n for s, n in statuses.items() if s.startswith('5'))}")
    for line in errors[:50]:
        print("  " + line)
    print("schemathesis: " + (run.stdout.strip().splitlines() or ["(no output)"])[-1])
    return 1 if errors else 0


def _around_5xx(log: str) -> str:
    """The server log's lines near each 5xx access line (its traceback comes just before)."""
    rows = log.splitlines()
    keep: set[int] = set()
    for i, row in enumerate(rows):
        found = LINE.search(row)
        if found and found.group(3).startswith("5"):
            keep.update(range(max(0, i - 40), i + 1))
    return "\n".join(rows[i] for i in sorted(keep)) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
