"""The registry's small validators: names, stages, versions, tags, aliases, limits.

In MLflow's words where MLflow has words; shared by every registry module
(and the UI's forms) so one request is judged the same everywhere.
"""

from __future__ import annotations

import posixpath
import re

from modelyard.entities import Tag
from modelyard.errors import InvalidParameterValue
from modelyard.registry_entities import Stage
from modelyard.service import validation as v

MAX_MODEL_NAME_LENGTH = 256
MAX_REGISTRY_TAG_KEY_LENGTH = 250
MAX_REGISTRY_TAG_VALUE_LENGTH = 100_000
MAX_ALIAS_LENGTH = 255
_ALIAS = re.compile(r"^[\w\-]*$")
_VERSION_ALIAS = re.compile(r"^[vV]\d+$")


def canonical_stage(stage: str | None) -> str:
    """MLflow's `get_canonical_stage`: case-insensitive, four stages."""
    for known in Stage.ALL:
        if stage is not None and stage.lower() == known.lower():
            return known
    raise InvalidParameterValue(
        f"Invalid Model Version stage: {stage}. Value must be one of {', '.join(Stage.ALL)}."
    )


def parse_version(version: str | int | None) -> int:
    if version is None or version == "":
        raise InvalidParameterValue("Missing value for required parameter 'version'.")
    if isinstance(version, int):
        return version
    try:
        return int(version)
    except ValueError:
        raise InvalidParameterValue(
            f"Parameter 'version' must be an integer, got '{version}'."
        ) from None


def validate_model_name(name: str | None, field: str = "name") -> str:
    if name is None or name.strip() == "":
        raise InvalidParameterValue(f"Missing value for required parameter '{field}'.")
    if "/" in name or ":" in name:
        raise InvalidParameterValue(
            f"Invalid model name '{name}'. Names cannot contain '/' or ':'."
        )
    norm = posixpath.normpath(name)
    if norm != name or norm == "." or norm.startswith(".."):
        raise v.invalid_value(
            field,
            name,
            "Names may be treated as files in certain cases, and must not resolve to other "
            f"names when treated as such. This name would resolve to {norm!r}",
        )
    if len(name) > MAX_MODEL_NAME_LENGTH:
        raise v.exceeds(f"Registered model name '{name[:50]}...'", MAX_MODEL_NAME_LENGTH)
    return name


def validate_registry_tag(key: str | None, value: str | None) -> Tag:
    if key is None or key == "":
        raise InvalidParameterValue("Missing value for required parameter 'key'.")
    v.validate_key_name(key, "key", "Tag key")
    v.validate_length("key", key, MAX_REGISTRY_TAG_KEY_LENGTH)
    v.validate_length("value", value, MAX_REGISTRY_TAG_VALUE_LENGTH)
    return Tag(key, value if value is not None else "")


def validate_alias(alias: str | None, *, setting: bool) -> str:
    if alias is None or alias == "":
        raise InvalidParameterValue("Registered model alias name cannot be empty.")
    if not _ALIAS.match(alias):
        raise InvalidParameterValue(
            f"Invalid alias name: '{alias}'. Names may only contain alphanumerics, "
            "underscores (_), and dashes (-)."
        )
    if len(alias) > MAX_ALIAS_LENGTH:
        raise v.exceeds("Registered model alias name", MAX_ALIAS_LENGTH)
    if setting:
        if alias.lower() == "latest":
            raise InvalidParameterValue("'latest' alias name (case insensitive) is reserved.")
        if _VERSION_ALIAS.match(alias):
            raise InvalidParameterValue(f"Version alias name '{alias}' is reserved.")
    return alias


def result_limit(value: int | None, default: int, maximum: int) -> int:
    if value is None:
        return default
    if value < 1:
        raise InvalidParameterValue(
            f"Invalid value for max_results. It must be a positive integer, but got {value}"
        )
    if value > maximum:
        raise InvalidParameterValue(
            "Invalid value for request parameter max_results. It must be at most "
            f"{maximum}, but got value {value}"
        )
    return value
