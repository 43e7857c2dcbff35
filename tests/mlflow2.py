"""The MLflow 2.x client (mlflow-skinny 2.22) in a second virtual environment.

Shared by the tests that drive the 2.x client (`compat/test_mlflow2_client.py`,
`auth/test_mlflow2_auth_client.py`). The environment is built once and reused
while its pin is unchanged; the folder name carries a hash of the pin, so a
checkout with another pin builds its own instead of clearing one in use.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

# mlflow-skinny alone has no Flask: a 2.x user runs `pip install mlflow[auth]` for
# `mlflow.server.get_app_client`, whose import pulls in the basic-auth app (Flask,
# Flask-WTF, SQLAlchemy, alembic). SQLAlchemy 2.1 dropped a pool class 2.22 imports.
MLFLOW2_PIN = (
    "mlflow-skinny==2.22.*",
    "setuptools",
    "Flask<4",
    "Flask-WTF<2",
    "SQLAlchemy>=1.4,<2.1",
    "alembic<2",
)
_PIN_TEXT = " ".join(MLFLOW2_PIN)
_DEFAULT_VENV = (
    Path.home()
    / ".cache"
    / f"modelyard-mlflow2-{hashlib.sha256(_PIN_TEXT.encode()).hexdigest()[:8]}"
)
VENV = Path(os.environ.get("MODELYARD_MLFLOW2_VENV", _DEFAULT_VENV))


@pytest.fixture(scope="session")
def mlflow2_python() -> Path:
    """The 2.x environment's python, (re)built when the pin marker differs."""
    python = VENV / "bin" / "python"
    marker = VENV / "pin.txt"
    if not (python.exists() and marker.exists() and marker.read_text() == _PIN_TEXT):
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *MLFLOW2_PIN], check=True)
        marker.write_text(_PIN_TEXT)
    return python
