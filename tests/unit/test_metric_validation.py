"""The inlined batch check accepts exactly what the worded check accepts."""

from __future__ import annotations

import math

import pytest

from modelyard.entities import Metric
from modelyard.errors import InvalidParameterValue
from modelyard.service.validation import validate_metrics


def test_valid_batch_passes() -> None:
    validate_metrics([Metric("a/b c:d", v, 0, -5) for v in (0.5, math.nan, math.inf)])


@pytest.mark.parametrize(
    ("bad", "where"),
    [
        (Metric("../x", 1.0, 1, 0), "metrics[2].key"),
        (Metric("x", 1.0, -1, 0), "metrics[2].timestamp"),
        (Metric("x", 1.0, 2**63, 0), "metrics[2].timestamp"),
        (Metric("x", 1.0, 1, 2**63), "metrics[2].step"),
        (Metric("", 1.0, 1, 0), "metrics[2].key"),
        (Metric("x" * 251, 1.0, 1, 0), "Metric name"),
    ],
)
def test_bad_item_is_named_by_position(bad: Metric, where: str) -> None:
    good = Metric("ok", 1.0, 1, 0)
    with pytest.raises(
        InvalidParameterValue, match=r"" + where.replace("[", r"\[").replace("]", r"\]")
    ):
        validate_metrics([good, good, bad])


def test_single_metric_errors_have_no_position() -> None:
    with pytest.raises(InvalidParameterValue, match=r"parameter 'timestamp'"):
        validate_metrics([Metric("x", 1.0, -1, 0)], single=True)
