"""modelyard: an MLflow-compatible tracking server and model registry.

Importing this package must stay cheap: it is what the light client imports,
so nothing here may pull in the server stack (Starlette, database drivers).
The client's names (`modelyard.start_run`, `modelyard.Client`, …) are loaded
from `modelyard.client` on first use, so `import modelyard` does not even
import httpx.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from modelyard.client import (
        ActiveRun,
        Client,
        active_run,
        end_run,
        get_tracking_uri,
        log_artifact,
        log_artifacts,
        log_metric,
        log_metrics,
        log_param,
        log_params,
        register_model,
        set_experiment,
        set_tag,
        set_tags,
        set_tracking_uri,
        start_run,
    )

__all__ = [
    "ActiveRun",
    "Client",
    "__version__",
    "active_run",
    "end_run",
    "get_tracking_uri",
    "log_artifact",
    "log_artifacts",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "register_model",
    "set_experiment",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
]

_CLIENT_NAMES = frozenset(__all__) - {"__version__"}


def __getattr__(name: str) -> Any:
    if name in _CLIENT_NAMES:
        from modelyard import client

        return getattr(client, name)
    raise AttributeError(f"module 'modelyard' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_CLIENT_NAMES])
