"""Input rules shared by every entry point (REST, UI, CLI), worded as MLflow words them.

The limits are MLflow's (mlflow/utils/validation.py), so a request that works
against MLflow works here and one that MLflow refuses is refused here too.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from modelyard.entities import Metric
from modelyard.errors import InvalidParameterValue

MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_METRICS_PER_BATCH = 1000
MAX_ENTITIES_PER_BATCH = 1000
MAX_PARAM_VAL_LENGTH = 6000
MAX_TAG_VAL_LENGTH = 8000
MAX_EXPERIMENT_NAME_LENGTH = 500
MAX_EXPERIMENT_TAG_KEY_LENGTH = 250
MAX_EXPERIMENT_TAG_VAL_LENGTH = 20000
MAX_ENTITY_KEY_LENGTH = 250
MAX_DATASET_NAME_SIZE = 500
MAX_DATASET_DIGEST_SIZE = 36
MAX_DATASET_SOURCE_SIZE = 65535
MAX_DATASET_SCHEMA_SIZE = 1048575
MAX_DATASET_PROFILE_SIZE = 16777215
MAX_INPUT_TAG_KEY_SIZE = 255
MAX_INPUT_TAG_VALUE_SIZE = 500
SEARCH_MAX_RESULTS_DEFAULT = 1000
SEARCH_MAX_RESULTS_THRESHOLD = 50000
MAX_RESULTS_PER_RUN = 2500
MAX_RUNS_GET_METRIC_HISTORY_BULK = 100
_MAX_INT64 = 2**63 - 1

_NAME_CHARS = re.compile(r"^[/\w.\- :]*$")
_RUN_ID = re.compile(r"^[a-zA-Z0-9][\w\-]{0,255}$")
_EXPERIMENT_ID = re.compile(r"^[a-zA-Z0-9][\w\-]{0,63}$")


def _shown(value: Any) -> str:
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):
        return repr(value)


def invalid_value(path: str, value: Any, why: str = "") -> InvalidParameterValue:
    if why:
        return InvalidParameterValue(
            f"Invalid value {_shown(value)} for parameter '{path}' supplied: {why}"
        )
    return InvalidParameterValue(f"Invalid value {_shown(value)} for parameter '{path}' supplied.")


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


@lru_cache(maxsize=8192)
def _key_is_valid(name: str) -> bool:
    """Memoised fast path: a batch repeats the same few keys a thousand times."""
    if not name or len(name) > MAX_ENTITY_KEY_LENGTH or not _NAME_CHARS.match(name):
        return False
    norm = posixpath.normpath(name)
    return not (norm != name or norm == "." or norm.startswith("..") or norm.startswith("/"))


def validate_key_name(name: str | None, path: str, what: str = "Key") -> str:
    """Param, metric and tag names: MLflow's characters, and no path tricks."""
    if name is not None and _key_is_valid(name):
        return name
    if name is None or name == "":
        raise InvalidParameterValue(f"Missing value for required parameter '{path}'.")
    if not _NAME_CHARS.match(name):
        raise invalid_value(
            path,
            name,
            "Names may only contain alphanumerics, underscores (_), dashes (-), periods (.),"
            " spaces ( ), colon(:) and slashes (/).",
        )
    norm = posixpath.normpath(name)
    if norm != name or norm == "." or norm.startswith("..") or norm.startswith("/"):
        raise invalid_value(
            path,
            name,
            "Names may be treated as files in certain cases, and must not resolve to other "
            f"names when treated as such. This name would resolve to {norm!r}",
        )
    if len(name) > MAX_ENTITY_KEY_LENGTH:
        raise exceeds(f"{what} '{name[:50]}...'", MAX_ENTITY_KEY_LENGTH)
    return name


def exceeds(what: str, limit: int) -> InvalidParameterValue:
    return InvalidParameterValue(f"{what} exceeds the maximum length of {limit} characters")


def validate_length(what: str, value: str | None, limit: int) -> None:
    if value is not None and len(value) > limit:
        raise InvalidParameterValue(f"'{what}' exceeds the maximum length of {limit} characters")


def validate_metric(key: str, value: float, timestamp: int, step: int, path: str = "") -> None:
    validate_key_name(key, _join(path, "key") if path else "key", "Metric name")
    if not isinstance(value, float) or isinstance(value, bool):
        raise invalid_value(_join(path, "value"), value, "Please specify value as a valid double")
    if timestamp < 0 or timestamp > _MAX_INT64:
        raise invalid_value(
            _join(path, "timestamp"),
            timestamp,
            f"metric '{key}' (value={value}). Timestamp must be a nonnegative long "
            "(64-bit integer) ",
        )
    if abs(step) > _MAX_INT64:
        raise invalid_value(
            _join(path, "step"), step, f"metric '{key}' (value={value}). Step must be a valid long"
        )


def validate_metrics(metrics: Sequence[Metric], single: bool = False) -> None:
    """Every metric of a request. A batch holds up to 1000, so the common valid
    case is checked inline; anything doubtful goes through `validate_metric`,
    which words the error with the item's position."""
    for i, m in enumerate(metrics):
        if (
            type(m.value) is float
            and 0 <= m.timestamp <= _MAX_INT64
            and -_MAX_INT64 <= m.step <= _MAX_INT64
            and _key_is_valid(m.key)
        ):
            continue
        validate_metric(m.key, m.value, m.timestamp, m.step, "" if single else f"metrics[{i}]")


def validate_metric_rows(rows: Sequence[tuple[str, float, int, int]], single: bool = False) -> None:
    """`validate_metrics` for log-batch's (key, value, timestamp, step) rows: the
    same checks, the same errors (worded with the item's position)."""
    valid_key = _key_is_valid
    for key, value, ts, step in rows:
        if (
            type(value) is float
            and 0 <= ts <= _MAX_INT64
            and -_MAX_INT64 <= step <= _MAX_INT64
            and valid_key(key)
        ):
            continue
        break
    else:
        return
    for i, (key, value, ts, step) in enumerate(rows):
        validate_metric(key, value, ts, step, "" if single else f"metrics[{i}]")


def validate_param(key: str, value: str, path: str = "") -> None:
    validate_key_name(key, _join(path, "key") if path else "key", "Param key")
    if len(value) > MAX_PARAM_VAL_LENGTH:
        raise InvalidParameterValue(
            f"Param value '{value[:100]}...' had length {len(value)}, which exceeded length "
            f"limit of {MAX_PARAM_VAL_LENGTH}"
        )


def validate_tag(key: str, value: str | None, path: str = "") -> None:
    validate_key_name(key, _join(path, "key") if path else "key", "Tag key")
    if value is not None and len(value) > MAX_TAG_VAL_LENGTH:
        raise InvalidParameterValue(
            f"Tag value '{value[:100]}...' had length {len(value)}, which exceeded length "
            f"limit of {MAX_TAG_VAL_LENGTH}"
        )


def validate_experiment_tag(key: str, value: str | None) -> None:
    validate_key_name(key, "key", "Experiment tag key")
    validate_length("key", key, MAX_EXPERIMENT_TAG_KEY_LENGTH)
    validate_length("value", value, MAX_EXPERIMENT_TAG_VAL_LENGTH)


def validate_experiment_name(name: Any) -> str:
    if name is None or name == "":
        raise InvalidParameterValue(f"Invalid experiment name: '{name or ''}'")
    if not isinstance(name, str):
        raise InvalidParameterValue(f"Invalid experiment name: {name}. Expects a string.")
    if len(name) > MAX_EXPERIMENT_NAME_LENGTH:
        raise exceeds("'name'", MAX_EXPERIMENT_NAME_LENGTH)
    return name


def validate_run_id(run_id: str, path: str = "run_id") -> str:
    if not _RUN_ID.match(run_id):
        raise invalid_value(path, run_id)
    return run_id


def parse_experiment_id(experiment_id: str) -> int:
    try:
        value = int(experiment_id)
    except (TypeError, ValueError):
        raise InvalidParameterValue(
            f"Invalid experiment ID '{experiment_id}'. Experiment ID must be a valid integer."
        ) from None
    if value < 0 or value > _MAX_INT64:
        raise InvalidParameterValue(f"Invalid experiment ID '{experiment_id}'.")
    return value


def validate_batch_limits(n_metrics: int, n_params: int, n_tags: int) -> None:
    for what, limit, n in (
        ("metrics", MAX_METRICS_PER_BATCH, n_metrics),
        ("params", MAX_PARAMS_TAGS_PER_BATCH, n_params),
        ("tags", MAX_PARAMS_TAGS_PER_BATCH, n_tags),
        ("metrics, params, and tags", MAX_ENTITIES_PER_BATCH, n_metrics + n_params + n_tags),
    ):
        if n > limit:
            raise InvalidParameterValue(
                f"A batch logging request can contain at most {limit} {what}. Got {n} {what}. "
                f"Please split up {what} across multiple requests and try again."
            )


def validate_unique_param_keys(keys: Sequence[str]) -> None:
    seen: set[str] = set()
    dupes: list[str] = []
    for key in keys:
        if key in seen:
            dupes.append(key)
        seen.add(key)
    if dupes:
        raise InvalidParameterValue(
            f"Duplicate parameter keys have been submitted: {dupes}. Please ensure "
            "the request contains only one param value per param key."
        )


def validate_max_results(
    value: int | None, default: int, limit: int, name: str = "max_results"
) -> int:
    if value is None:
        return default
    if value <= 0 or value > limit:
        raise InvalidParameterValue(
            f"Invalid value {value} for parameter '{name}' supplied. It must be a positive "
            f"integer at most {limit}."
        )
    return value
