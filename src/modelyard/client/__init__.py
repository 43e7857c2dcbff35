"""The light modelyard client: tracking, registry and artifacts over MLflow's REST API.

Needs only httpx. `Client` is the explicit API (MlflowClient's method names);
the module-level functions (`start_run`, `log_metric`, `register_model`, …)
are the fluent API of `modelyard.client.fluent`, also reachable as
`modelyard.<name>`. Errors are the `modelyard.errors` classes, plus
`ServerUnreachable` (no answer from the server) and `InvalidArgument`
(refused before any request).
"""

from modelyard.client.client import Client
from modelyard.client.fluent import (
    ActiveRun,
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
from modelyard.client.rest import InvalidArgument, ServerUnreachable
from modelyard.client.uris import ModelRef, parse_model_ref
from modelyard.client.wire import FileInfo

__all__ = [
    "ActiveRun",
    "Client",
    "FileInfo",
    "InvalidArgument",
    "ModelRef",
    "ServerUnreachable",
    "active_run",
    "end_run",
    "get_tracking_uri",
    "log_artifact",
    "log_artifacts",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "parse_model_ref",
    "register_model",
    "set_experiment",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
]
