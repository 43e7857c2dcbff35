"""The server's app factory freezes its start-up heap (full GC passes skip it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# A fresh interpreter: freezing the test process's own heap would keep every
# app the other tests build alive until the worker exits.
PROBE = """
import gc
from modelyard.app import app_from_env
assert gc.get_freeze_count() == 0
app_from_env()
print(gc.get_freeze_count())
"""


def test_app_factory_moves_the_start_up_heap_to_the_permanent_generation(
    tmp_path: Path,
) -> None:
    env = {
        **os.environ,
        "MODELYARD_BACKEND_STORE_URI": f"sqlite:///{tmp_path / 'heap.db'}",
        "MODELYARD_ARTIFACTS_DESTINATION": str(tmp_path / "artifacts"),
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    # Modules, routes and services: tens of thousands of objects.
    assert int(done.stdout.strip()) > 10_000
