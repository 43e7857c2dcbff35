"""The stock mlflow client, pointed at a live modelyard server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from servers import ServerProcess


@pytest.fixture
def mlflow_at(live_server: ServerProcess, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", live_server.url)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    mlflow.set_tracking_uri(live_server.url)
    yield mlflow
    while mlflow.active_run() is not None:
        mlflow.end_run()
