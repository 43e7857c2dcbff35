"""A new server imports what the tracking API needs, and the rest at first use.

Cold start (issue 15) depends on it: the web UI's Jinja, the registry, webhooks
(httpx, cryptography) and the S3 store are loaded by the first request that
needs them (or by a background thread after start-up, which these in-process
calls do not start: no lifespan). Run in a fresh interpreter, since the test
process has imported everything already.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROBE = r"""
import asyncio, json, sys
from modelyard.app import create_app
from modelyard.settings import settings_from

root = sys.argv[1]
app = create_app(settings_from({"backend_store_uri": f"sqlite:///{root}/m.db",
                                "artifacts_destination": f"{root}/artifacts"}))
WATCHED = ["jinja2", "cryptography", "modelyard.store.artifacts.s3",
           "modelyard.service.registry", "modelyard.http.registered_models",
           "modelyard.service.webhooks", "modelyard.ui.experiments"]

async def call(method, path, body=b""):
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": method, "path": path, "raw_path": path.encode(), "root_path": "",
             "scheme": "http", "query_string": b"", "server": ("t", 80),
             "client": ("127.0.0.1", 1), "headers": [(b"host", b"t"),
             (b"content-type", b"application/json")]}
    sent = [{"type": "http.request", "body": body, "more_body": False}]
    status = []
    async def receive():
        return sent.pop() if sent else {"type": "http.disconnect"}
    async def send(message):
        if message["type"] == "http.response.start":
            status.append(message["status"])
    await app(scope, receive, send)
    return status[0]

def loaded():
    return [m for m in WATCHED if m in sys.modules]

async def main():
    out = {"after_create_app": loaded()}
    out["health"] = await call("GET", "/health")
    out["create_run"] = await call("POST", "/api/2.0/mlflow/experiments/create",
                                   b'{"name": "e"}')
    out["after_tracking"] = loaded()
    out["registry"] = await call("GET", "/api/2.0/mlflow/registered-models/search")
    out["after_registry"] = loaded()
    out["ui"] = await call("GET", "/experiments")
    out["after_ui"] = loaded()
    print(json.dumps(out))

asyncio.run(main())
"""


def test_serving_imports_the_rest_at_first_use(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["after_create_app"] == []
    assert (out["health"], out["create_run"]) == (200, 200)
    assert out["after_tracking"] == []
    assert out["registry"] == 200
    assert "modelyard.service.registry" in out["after_registry"]
    assert "modelyard.http.registered_models" in out["after_registry"]
    assert "jinja2" not in out["after_registry"]
    assert out["ui"] == 200
    assert {"jinja2", "modelyard.ui.experiments"} <= set(out["after_ui"])
    # A folder destination never needs the S3 store; no --secret-key, no cryptography.
    assert "modelyard.store.artifacts.s3" not in out["after_ui"]
    assert "cryptography" not in out["after_ui"]
