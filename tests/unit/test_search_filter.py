"""The search grammars: what parses to what, and every way a filter is refused."""

from __future__ import annotations

import base64
import json
import math
import re
from typing import Any

import pytest

from modelyard.errors import InvalidParameterValue
from modelyard.service.search_filter import (
    Comparison,
    OrderKey,
    decode_page_token,
    encode_page_token,
    parse_experiment_filter,
    parse_experiment_order_by,
    parse_logged_model_filter,
    parse_logged_model_order_by,
    parse_model_version_filter,
    parse_model_version_order_by,
    parse_registered_model_filter,
    parse_registered_model_order_by,
    parse_run_filter,
    parse_run_order_by,
)

C = Comparison

RUN_FILTERS: list[tuple[str, list[Comparison]]] = [
    ("metrics.acc > 0.9", [C("metric", "acc", ">", 0.9)]),
    ("metric.acc>=1", [C("metric", "acc", ">=", 1.0)]),
    ("metrics.acc < -1", [C("metric", "acc", "<", -1.0)]),
    ("metrics.acc <= .5", [C("metric", "acc", "<=", 0.5)]),
    ("metrics.acc = 1e3", [C("metric", "acc", "=", 1000.0)]),
    ("metrics.acc != 1.5E-3", [C("metric", "acc", "!=", 0.0015)]),
    ("metrics.`my key.with dots` > 0", [C("metric", "my key.with dots", ">", 0.0)]),
    ('metrics."my key" > 0', [C("metric", "my key", ">", 0.0)]),
    ("`metrics`.acc > 0", [C("metric", "acc", ">", 0.0)]),
    ("metrics.1acc > 0", [C("metric", "1acc", ">", 0.0)]),
    ("metrics.épsilon > 0", [C("metric", "épsilon", ">", 0.0)]),
    ("params.lr = '0.01'", [C("param", "lr", "=", "0.01")]),
    ('param.lr = "0.01"', [C("param", "lr", "=", "0.01")]),
    ("parameter.x != ''", [C("param", "x", "!=", "")]),
    ("parameters.x LIKE '%a_'", [C("param", "x", "LIKE", "%a_")]),
    ("params.x ilike 'A%'", [C("param", "x", "ILIKE", "A%")]),
    ("params.x IS NULL", [C("param", "x", "IS NULL", None)]),
    ("params.x is not null", [C("param", "x", "IS NOT NULL", None)]),
    ("tags.mlflow.source.type = 'LOCAL'", [C("tag", "mlflow.source.type", "=", "LOCAL")]),
    ("tag.`a b` = 'it''s'", [C("tag", "a b", "=", "it's")]),
    ('tags.x = "say ""hi"""', [C("tag", "x", "=", 'say "hi"')]),
    ("tags.x = 'back\\slash'", [C("tag", "x", "=", "back\\slash")]),
    ("tags.x IS NOT NULL", [C("tag", "x", "IS NOT NULL", None)]),
    ("attributes.status = 'FINISHED'", [C("attribute", "status", "=", "FINISHED")]),
    ("attribute.status != 'FAILED'", [C("attribute", "status", "!=", "FAILED")]),
    ("attr.user_id LIKE 'a%'", [C("attribute", "user_id", "LIKE", "a%")]),
    ("run.artifact_uri ILIKE '%s3%'", [C("attribute", "artifact_uri", "ILIKE", "%s3%")]),
    ("status = 'RUNNING'", [C("attribute", "status", "=", "RUNNING")]),
    ('"status" = "RUNNING"', [C("attribute", "status", "=", "RUNNING")]),
    ("run_name = 'x'", [C("attribute", "run_name", "=", "x")]),
    ("attributes.`Run name` = 'x'", [C("attribute", "run_name", "=", "x")]),
    ("attributes.`run name` = 'x'", [C("attribute", "run_name", "=", "x")]),
    ("`Run Name` = 'x'", [C("attribute", "run_name", "=", "x")]),
    ("attributes.run_id IN ('a', 'b')", [C("attribute", "run_id", "IN", ("a", "b"))]),
    ("run_id in ('a',)", [C("attribute", "run_id", "IN", ("a",))]),
    ("run_id NOT IN (\"a\" , 'b')", [C("attribute", "run_id", "NOT IN", ("a", "b"))]),
    ("run_id not  in('a')", [C("attribute", "run_id", "NOT IN", ("a",))]),
    ("attributes.start_time >= 10", [C("attribute", "start_time", ">=", 10)]),
    ("end_time < 1.5", [C("attribute", "end_time", "<", 1.5)]),
    ("created > 5", [C("attribute", "start_time", ">", 5)]),
    ("Created > 5", [C("attribute", "start_time", ">", 5)]),
    ("dataset.name = 'mnist'", [C("dataset", "name", "=", "mnist")]),
    ("datasets.digest IN ('d1', 'd2')", [C("dataset", "digest", "IN", ("d1", "d2"))]),
    ("dataset.context LIKE 'train%'", [C("dataset", "context", "LIKE", "train%")]),
    (
        "metrics.acc > 0.9 AND params.lr = '0.01' and tags.t != 'x'   AnD status = 'FINISHED'",
        [
            C("metric", "acc", ">", 0.9),
            C("param", "lr", "=", "0.01"),
            C("tag", "t", "!=", "x"),
            C("attribute", "status", "=", "FINISHED"),
        ],
    ),
    ("  metrics.a=1\tAND\nparams.b='c'  ", [C("metric", "a", "=", 1.0), C("param", "b", "=", "c")]),
]


@pytest.mark.parametrize(("text", "expected"), RUN_FILTERS)
def test_run_filters(text: str, expected: list[Comparison]) -> None:
    assert parse_run_filter(text) == expected


@pytest.mark.parametrize("text", [None, "", "   ", "\n\t"])
def test_empty_filter_means_no_conditions(text: str | None) -> None:
    assert parse_run_filter(text) == []
    assert parse_experiment_filter(text) == []
    assert parse_registered_model_filter(text) == []
    assert parse_model_version_filter(text) == []
    assert parse_logged_model_filter(text) == []


def test_error_names_the_problem_and_its_position() -> None:
    with pytest.raises(InvalidParameterValue) as info:
        parse_run_filter("metrics.acc >")
    assert info.value.message == (
        "Invalid filter 'metrics.acc >': expected a value after '>' at position 13"
    )
    assert info.value.code == "INVALID_PARAMETER_VALUE"
    assert info.value.http_status == 400


RUN_FILTER_ERRORS: list[tuple[str, str]] = [
    # scanning
    ("metrics.acc >", r"expected a value after '>' at position 13"),
    ("metrics.acc > )", r"expected a value after '>' at position 14"),
    ("= 1", r"expected a name at the start of the filter, found '=' at position 0"),
    ("metrics. > 1", r"expected a name after '\.' at position 8"),
    ("metrics.`acc > 1", r"unterminated backtick-quoted name starting at position 8"),
    ('metrics."acc > 1', r"unterminated double-quoted name starting at position 8"),
    ("tags.x = 'abc", r"unterminated string starting at position 9"),
    ("(metrics.a > 1)", r"parentheses are not supported.* at position 0"),
    ("metrics.a > 1 AND (params.b = 'c')", r"parentheses are not supported.* at position 18"),
    ("metrics.acc 1", r"expected a comparison operator .*, found '1' at position 12"),
    ("metrics.acc", r"expected a comparison operator .*, found the end of the input"),
    ("params.x NOT LIKE 'a'", r"expected IN after NOT at position \d+"),
    ("params.x IS 'a'", r"expected NULL or NOT NULL after IS"),
    ("params.x IS NOT 'a'", r"expected NULL or NOT NULL after IS"),
    ("run_id IN 'a'", r"expected a parenthesised list of quoted strings after 'IN' at position 10"),
    ("run_id IN ()", r"expected a non-empty list of string values, but got empty list"),
    ("run_id IN ('a', 1)", r"expected a quoted string in the list, found '1' at position 16"),
    ("run_id IN ('a' 'b')", r"expected ',' or '\)' in the list at position 15"),
    ("run_id IN ('a',", r"expected a quoted string in the list, found the end of the input"),
    ("run_id = ('a')", r"a list of values is only allowed after IN or NOT IN, not after '='"),
    ("metrics.a > 1.0.0", r"malformed number '1\.0\.0' at position 12"),
    ("metrics.a > 1abc", r"malformed number '1abc' at position 12"),
    ("metrics.a > +1", r"expected a value after '>' at position 12"),
    # connectives
    ("metrics.a > 1 OR metrics.b < 2", r"Invalid clause\(s\) in filter string: 'OR'.* position 14"),
    ("params.a = 'x' params.b = 'y'", r"expected AND or the end of the filter, found 'params'"),
    ("metrics.a > 1;", r"expected AND or the end of the filter, found ';' at position 13"),
    ("metrics.a > 1 AND", r"expected a name after 'AND', found the end of the input"),
    (
        "metrics.a > 1 AND AND params.b = 'c'",
        r"expected a name after 'AND', found 'AND' at position 18",
    ),
    # names
    ("foo.bar = 'x'", r"Invalid entity type 'foo'\. Valid values are \[.*'metrics'.*\]"),
    ("Metrics.acc > 1", r"Invalid entity type 'Metrics'"),
    ("lifecycle_stage = 'active'", r"Invalid attribute key 'lifecycle_stage' specified"),
    ("attributes.nope = 'x'", r"Invalid attribute key 'nope' specified\. Valid keys are"),
    ("dataset.foo = 'x'", r"Invalid dataset key 'foo' specified"),
    ("tags.`` = 'x'", r"empty key in 'tags\.``' at position 0"),
    # operators
    ("metrics.a <> 1", r"Invalid comparator '<>' not one of"),
    ("metrics.a == 1", r"Invalid comparator '==' not one of"),
    ("metrics.a LIKE '1'", r"Invalid comparator 'LIKE' not one of"),
    ("params.a > '1'", r"Invalid comparator '>' not one of"),
    ("params.a IN ('1')", r"Invalid comparator 'IN' not one of"),
    ("start_time LIKE '1'", r"Invalid comparator 'LIKE' not one of"),
    ("metrics.a IS NULL", r"IS NULL / IS NOT NULL is not supported for metric 'a'"),
    ("end_time IS NOT NULL", r"IS NULL / IS NOT NULL is not supported for attribute 'end_time'"),
    ("status IN ('a')", r"Only \['run_id'\] attributes support comparison with a list"),
    # values
    ("metrics.a > '1'", r"Expected numeric value type for metric\. Found '1' at position 12"),
    ("metrics.a = NaN", r"Expected numeric value type for metric\. Found NaN"),
    ("start_time > '1'", r"Expected numeric value type for numeric attribute: start_time"),
    ("params.a = 1", r"Expected a quoted string value for parameter \(e\.g\. 'my-value'\)"),
    ("tags.a = 1", r"Expected a quoted string value for tag"),
    ("status = 1", r"Expected a quoted string value for attribute"),
    (
        "params.a = a",
        r"Parameter value is either not quoted .* string value a\. .*\(at position 11\)",
    ),
    ("params.a = `a`", r"expected a value after '='"),
]


@pytest.mark.parametrize(("text", "pattern"), RUN_FILTER_ERRORS)
def test_run_filter_errors(text: str, pattern: str) -> None:
    with pytest.raises(InvalidParameterValue) as info:
        parse_run_filter(text)
    assert info.value.message.startswith(f"Invalid filter '{text}': ")
    assert re.search(pattern, info.value.message), info.value.message


def test_experiment_filters() -> None:
    text = (
        "name LIKE 'a%' AND attribute.name != 'b' AND experiment_id IN ('1', '2') "
        "AND experiment_id = '3' AND tags.x IS NULL AND tag.y ILIKE 'z' "
        "AND creation_time > 5 AND last_update_time <= 6"
    )
    assert parse_experiment_filter(text) == [
        C("attribute", "name", "LIKE", "a%"),
        C("attribute", "name", "!=", "b"),
        C("attribute", "experiment_id", "IN", ("1", "2")),
        C("attribute", "experiment_id", "=", "3"),
        C("tag", "x", "IS NULL", None),
        C("tag", "y", "ILIKE", "z"),
        C("attribute", "creation_time", ">", 5),
        C("attribute", "last_update_time", "<=", 6),
    ]


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("metrics.a > 1", r"Invalid entity type 'metrics'"),
        ("attributes.name = 'a'", r"Invalid entity type 'attributes'"),
        ("lifecycle_stage = 'active'", r"Invalid attribute key 'lifecycle_stage'"),
        ("name IN ('a')", r"Invalid comparator 'IN'"),
        ("experiment_id LIKE '1'", r"Invalid comparator 'LIKE'"),
        ("experiment_id = 'abc'", r"Invalid experiment ID 'abc'\. Experiment ID must be"),
        ("experiment_id IN ('1', 'x')", r"Invalid experiment ID 'x'"),
        ("creation_time > 1.5", r"Invalid value for numeric attribute 'creation_time': '1\.5'"),
        ("creation_time > '1'", r"Expected numeric value type for numeric attribute"),
        ("name IS NULL", r"IS NULL / IS NOT NULL is not supported for attribute 'name'"),
    ],
)
def test_experiment_filter_errors(text: str, pattern: str) -> None:
    with pytest.raises(InvalidParameterValue, match=pattern):
        parse_experiment_filter(text)


def test_registered_model_filters() -> None:
    # What the MLflow 3 client appends to hide prompts.
    text = "name ILIKE '%model%' AND tag.`mlflow.prompt.is_prompt` != 'true'"
    assert parse_registered_model_filter(text) == [
        C("attribute", "name", "ILIKE", "%model%"),
        C("tag", "mlflow.prompt.is_prompt", "!=", "true"),
    ]
    assert parse_registered_model_filter("name IN ('a', 'b') AND tags.k LIKE 'v%'") == [
        C("attribute", "name", "IN", ("a", "b")),
        C("tag", "k", "LIKE", "v%"),
    ]
    for text, pattern in [
        ("run_id = 'x'", r"Invalid attribute key 'run_id'"),
        ("tags.k IS NULL", r"IS NULL / IS NOT NULL is not supported for tag 'k'"),
        ("params.k = 'v'", r"Invalid entity type 'params'"),
        ("name > 'a'", r"Invalid comparator '>'"),
    ]:
        with pytest.raises(InvalidParameterValue, match=pattern):
            parse_registered_model_filter(text)


def test_model_version_filters() -> None:
    text = (
        "name = 'm' AND version_number >= 2 AND version = '3' AND run_id IN ('r1') "
        "AND source_path LIKE 's3://%' AND tags.`mlflow.prompt.is_prompt` = 'false'"
    )
    assert parse_model_version_filter(text) == [
        C("attribute", "name", "=", "m"),
        C("attribute", "version_number", ">=", 2),
        C("attribute", "version_number", "=", 3),
        C("attribute", "run_id", "IN", ("r1",)),
        C("attribute", "source_path", "LIKE", "s3://%"),
        C("tag", "mlflow.prompt.is_prompt", "=", "false"),
    ]
    for text, pattern in [
        ("version_number = 1.5", r"Invalid value for numeric attribute 'version_number'"),
        ("version_number = 'abc'", r"Invalid value for numeric attribute 'version_number'"),
        ("source_path IN ('a')", r"Only \['name', 'run_id'\] attributes support"),
        ("current_stage = 'Production'", r"Invalid attribute key 'current_stage'"),
    ]:
        with pytest.raises(InvalidParameterValue, match=pattern):
            parse_model_version_filter(text)


def test_logged_model_filters() -> None:
    # What the MLflow 3 client sends when it looks a model up by name and run.
    text = (
        "name = 'None' AND source_run_id = 'abc' AND attributes.status IN ('READY') "
        "AND creation_time > 5 AND last_updated_timestamp < 7.5 AND metrics.acc >= 0.5 "
        "AND params.x IN ('a', 'b') AND tags.t != 'v' AND model_id LIKE 'm-%'"
    )
    assert parse_logged_model_filter(text) == [
        C("attribute", "name", "=", "None"),
        C("attribute", "source_run_id", "=", "abc"),
        C("attribute", "status", "IN", ("READY",)),
        C("attribute", "creation_timestamp", ">", 5),
        C("attribute", "last_updated_timestamp", "<", 7.5),
        C("metric", "acc", ">=", 0.5),
        C("param", "x", "IN", ("a", "b")),
        C("tag", "t", "!=", "v"),
        C("attribute", "model_id", "LIKE", "m-%"),
    ]
    for text, pattern in [
        ("dataset.name = 'x'", r"Invalid entity type 'dataset'"),
        ("artifact_location = 'x'", r"Invalid attribute key 'artifact_location'"),
        ("params.x IS NULL", r"IS NULL / IS NOT NULL is not supported for parameter 'x'"),
        ("metrics.acc LIKE 'a'", r"Invalid comparator 'LIKE'"),
    ]:
        with pytest.raises(InvalidParameterValue, match=pattern):
            parse_logged_model_filter(text)


# -- order by -----------------------------------------------------------------------


def test_run_order_by() -> None:
    clauses = [
        "metrics.acc DESC",
        "attributes.start_time",
        "params.lr ASC",
        "tags.`my key` desc",
        'metric."a.b"',
        "status",
        "attr.end_time DESC",
    ]
    assert parse_run_order_by(clauses) == [
        OrderKey("metric", "acc", False),
        OrderKey("attribute", "start_time", True),
        OrderKey("param", "lr", True),
        OrderKey("tag", "my key", False),
        OrderKey("metric", "a.b", True),
        OrderKey("attribute", "status", True),
        OrderKey("attribute", "end_time", False),
    ]
    assert parse_run_order_by(["Created DESC"]) == [OrderKey("attribute", "start_time", False)]
    assert parse_run_order_by(["attributes.created"]) == [OrderKey("attribute", "start_time", True)]
    assert parse_run_order_by([]) == []


@pytest.mark.parametrize(
    ("clauses", "pattern"),
    [
        ([""], r"Invalid order_by clause '': expected a name to order by"),
        (["metrics.acc up"], r"Invalid ordering key: expected ASC or DESC, found 'up'"),
        (["metrics.acc DESC NULLS LAST"], r"unexpected 'NULLS' after DESC at position 17"),
        (["metrics.acc, params.x"], r"expected ASC or DESC, found ','"),
        (["dataset.name"], r"Invalid order_by entity 'dataset'"),
        (["foo.bar"], r"Invalid order_by entity 'foo'"),
        (["lifecycle_stage"], r"Invalid order by key 'lifecycle_stage' specified"),
        (["metrics.a", "metric.a DESC"], r"`order_by` contains duplicate fields"),
        (["start_time", "created"], r"`order_by` contains duplicate fields"),
        ([3], r"expected a string"),
    ],
)
def test_run_order_by_errors(clauses: list[Any], pattern: str) -> None:
    with pytest.raises(InvalidParameterValue, match=pattern):
        parse_run_order_by(clauses)


def test_registry_and_experiment_order_by() -> None:
    assert parse_experiment_order_by(["name", "attribute.creation_time DESC"]) == [
        OrderKey("attribute", "name", True),
        OrderKey("attribute", "creation_time", False),
    ]
    assert parse_registered_model_order_by(["timestamp DESC", "name ASC"]) == [
        OrderKey("attribute", "last_updated_timestamp", False),
        OrderKey("attribute", "name", True),
    ]
    assert parse_registered_model_order_by(["creation_timestamp"]) == [
        OrderKey("attribute", "creation_timestamp", True)
    ]
    assert parse_model_version_order_by(["version_number DESC", "last_updated_timestamp"]) == [
        OrderKey("attribute", "version_number", False),
        OrderKey("attribute", "last_updated_timestamp", True),
    ]
    assert parse_model_version_order_by(["version"]) == [
        OrderKey("attribute", "version_number", True)
    ]
    for parse, clause, pattern in [
        (parse_experiment_order_by, "tags.x", r"Invalid order_by entity 'tags'"),
        (parse_experiment_order_by, "lifecycle_stage", r"Invalid order by key"),
        (parse_registered_model_order_by, "version_number", r"Invalid order by key"),
        (parse_model_version_order_by, "run_id", r"Invalid order by key 'run_id'"),
        (parse_model_version_order_by, "tag.x", r"Invalid order_by entity 'tag'"),
    ]:
        with pytest.raises(InvalidParameterValue, match=pattern):
            parse(["name", clause])
    with pytest.raises(InvalidParameterValue, match="duplicate"):
        parse_registered_model_order_by(["timestamp", "last_updated_timestamp DESC"])


def test_logged_model_order_by_takes_objects_and_strings() -> None:
    assert parse_logged_model_order_by(
        [
            {"field_name": "metrics.acc", "ascending": False},
            {"field_name": "creation_time"},
            {"field_name": " name ", "ascending": None},
            "last_updated_timestamp DESC",
        ]
    ) == [
        OrderKey("metric", "acc", False),
        OrderKey("attribute", "creation_timestamp", True),
        OrderKey("attribute", "name", True),
        OrderKey("attribute", "last_updated_timestamp", False),
    ]
    errors: list[tuple[Any, type[Exception], str]] = [
        ({}, InvalidParameterValue, r"`field_name` in the `order_by` clause must be specified"),
        ({"field_name": "x"}, InvalidParameterValue, r"Invalid order by field name: x\."),
        ({"field_name": "params.x"}, InvalidParameterValue, r"only `metrics\.<name>` is allowed"),
        (
            {"field_name": "name", "ascending": "yes"},
            InvalidParameterValue,
            r"must be a boolean",
        ),
        (
            {"field_name": "metrics.a", "dataset_digest": "d"},
            InvalidParameterValue,
            r"`dataset_digest` can only be specified if `dataset_name`",
        ),
        (42, InvalidParameterValue, r"must be a list of dictionaries"),
    ]
    for clause, error, pattern in errors:
        with pytest.raises(error, match=pattern):
            parse_logged_model_order_by([clause])
    with pytest.raises(InvalidParameterValue, match="duplicate"):
        parse_logged_model_order_by(["creation_timestamp", {"field_name": "creation_time"}])
    # A metric measured on one dataset (MLflow's dataset_name / dataset_digest).
    assert parse_logged_model_order_by(
        [{"field_name": "metrics.a", "dataset_name": "train", "dataset_digest": "d"}]
    ) == [OrderKey("metric", "a", True, "train", "d")]


# -- page tokens --------------------------------------------------------------------


def test_page_tokens_round_trip_in_mlflow_format() -> None:
    token = encode_page_token(250)
    assert json.loads(base64.b64decode(token)) == {"offset": 250}
    assert decode_page_token(token) == 250
    assert decode_page_token(None) == 0
    assert decode_page_token("") == 0
    # A token MLflow's server issued (json.dumps + b64encode) is read as well.
    assert decode_page_token(base64.b64encode(b'{"offset": 7}').decode()) == 7
    assert decode_page_token(base64.b64encode(b'{"offset": "9"}').decode()) == 9


@pytest.mark.parametrize(
    ("token", "pattern"),
    [
        # Like MLflow, base64 decoding skips characters outside the alphabet.
        ("%%%", r"Invalid page token, decoded value=b''"),
        ("abc", r"Invalid page token, could not base64-decode"),
        (base64.b64encode(b"not json").decode(), r"Invalid page token, decoded value="),
        (base64.b64encode(b"\xff\xfe").decode(), r"Invalid page token, decoded value="),
        (base64.b64encode(b"[1, 2]").decode(), r"Invalid page token, parsed value="),
        (base64.b64encode(b'{"other": 1}').decode(), r"Invalid page token, parsed value="),
        (base64.b64encode(b'{"offset": 0}').decode(), r"Invalid page token, parsed value="),
        (base64.b64encode(b'{"offset": true}').decode(), r"Invalid page token, parsed value="),
        (base64.b64encode(b'{"offset": "x"}').decode(), r"Invalid page token, not stringable x"),
        (base64.b64encode(b'{"offset": -3}').decode(), r"Invalid page token, negative offset"),
    ],
)
def test_bad_page_tokens(token: str, pattern: str) -> None:
    with pytest.raises(InvalidParameterValue, match=pattern):
        decode_page_token(token)


# -- agreement with MLflow's own parser ---------------------------------------------------

_MLFLOW_ENTITY = {"parameter": "param"}


def _from_mlflow(parsed: dict[str, Any]) -> Comparison:
    entity = _MLFLOW_ENTITY.get(parsed["type"], parsed["type"])
    value = parsed["value"]
    if entity == "metric":
        value = float(value)
    key = {"created": "start_time", "Created": "start_time"}.get(parsed["key"], parsed["key"])
    return Comparison(entity, key, parsed["comparator"].upper(), value)


_SHARED_VALID = [text for text, _ in RUN_FILTERS if "''" not in text and '""' not in text]
_SHARED_INVALID = [
    "metrics.acc >",
    "metrics.a > 1 OR metrics.b < 2",
    "(metrics.a > 1)",
    "params.a = a",
    "metrics.a > '1'",
    "lifecycle_stage = 'active'",
    "foo.bar = 'x'",
    "status IN ('a')",
    "run_id IN ()",
    "metrics.a IS NULL",
    "dataset.foo = 'x'",
    "params.x = 1",
]


def test_agrees_with_mlflow_on_run_filters() -> None:
    """The same filters parse to the same conditions as MLflow's sqlparse-based parser."""
    search_utils = pytest.importorskip("mlflow.utils.search_utils")
    parse = search_utils.SearchUtils.parse_search_filter
    for text in _SHARED_VALID:
        theirs = [_normalise(_from_mlflow(p)) for p in parse(text)]
        assert [_normalise(c) for c in parse_run_filter(text)] == theirs, text
    for text in _SHARED_INVALID:
        with pytest.raises(InvalidParameterValue):
            parse_run_filter(text)
        with pytest.raises(search_utils.MlflowException):
            parse(text)


def _normalise(c: Comparison) -> tuple[str, str, str, Any]:
    # MLflow resolves these aliases later, when it compiles the SQL.
    aliases = {"Run name": "run_name", "run name": "run_name", "Run Name": "run_name"}
    value = c.value
    if isinstance(value, float) and math.isfinite(value):
        value = round(value, 12)
    return (c.entity, aliases.get(c.key, c.key), c.op, value)
