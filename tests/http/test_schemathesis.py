"""schemathesis against a live server, driven by the server's own OpenAPI description.

Bounded for CI (a few generated requests per operation, two workers): no
answer may be a 5xx, and every answer must match the description (status,
content type, body shape). The long run is `bench/fuzz_api.py`.

The multipart and presigned artifact routes are left out: like MLflow's
server with a store that lacks those transfers, they answer 501
NOT_IMPLEMENTED by design (tests/http/test_artifacts_http.py covers them).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import ServerProcess, modelyard_server

EXAMPLES_PER_OPERATION = 4
BY_DESIGN_501 = r"/(presigned|mpu)/"
# /ajax-api/... serves the same handlers as /api/...: fuzzing one family covers both
# and halves the CI time (bench/fuzz_api.py, the long run, covers every path).
SAME_AS_API = r"^/ajax-api/"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with modelyard_server(tmp_path_factory.mktemp("fuzz"), extra_args=["--log-level", "info"]) as s:
        yield s


def test_generated_requests_get_no_5xx_and_conform(server: ServerProcess, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    out = subprocess.run(
        [
            str(Path(sys.executable).parent / "schemathesis"),
            "run",
            f"{server.url}/api/openapi.json",
            "--checks",
            "not_a_server_error,status_code_conformance,"
            "content_type_conformance,response_schema_conformance",
            "--phases",
            "fuzzing",
            "--max-examples",
            str(EXAMPLES_PER_OPERATION),
            "--workers",
            "2",
            "--exclude-path-regex",
            f"{BY_DESIGN_501}|{SAME_AS_API}",
            "--generation-database",
            "none",
            "--request-timeout",
            "30",
            "--no-color",
            "--report",
            "json",
            "--report-json-path",
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    summary = json.loads(report.read_text())
    assert out.returncode == 0, out.stdout[-6000:]
    assert summary["operations"]["tested"] > 100
    # The server's own access log is the judge of 5xx, whatever the checks saw.
    statuses = re.findall(r" (GET|POST|PUT|PATCH|DELETE) \S+ (\d{3}) [\d.]+ ms", server.log())
    assert len(statuses) >= summary["operations"]["tested"]
    assert [s for s in statuses if s[1].startswith("5")] == []
