"""Settings refuse values that make no sense with a message naming the flag."""

from __future__ import annotations

import math

import pytest

from modelyard.settings import settings_from


@pytest.mark.parametrize("name", ["request_body_timeout", "request_header_timeout"])
@pytest.mark.parametrize("value", [-1.0, math.nan])
def test_negative_or_nan_timeouts_are_refused(name: str, value: float) -> None:
    flag = "--" + name.replace("_", "-")
    with pytest.raises(ValueError, match=f"{flag} must be 0 .wait for ever. or a number"):
        settings_from({name: value}, environ={})


@pytest.mark.parametrize("name", ["request_body_timeout", "request_header_timeout"])
def test_zero_turns_a_timeout_off_and_is_accepted(name: str) -> None:
    assert getattr(settings_from({name: 0.0}, environ={}), name) == 0.0


def test_timeout_from_the_environment_is_checked_too() -> None:
    with pytest.raises(ValueError, match="--request-header-timeout must be 0"):
        settings_from(environ={"MODELYARD_REQUEST_HEADER_TIMEOUT": "-5"})
