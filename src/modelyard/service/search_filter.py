"""MLflow's search grammars (filter strings, order-by clauses, page tokens) as a small AST.

Every search endpoint takes a filter such as
``metrics.acc > 0.9 AND params.lr = '0.01' AND tags.`my key` LIKE 'a%'`` and a list of
order-by clauses such as ``metrics.acc DESC``. This module turns that text into
`Comparison` and `OrderKey` values that the stores compile to SQL, and rejects
malformed input with an `InvalidParameterValue` that names the offending position.

Why a hand-written scanner instead of sqlparse (which MLflow uses): sqlparse
tokenises for SQL in general, so MLflow's grammar is whatever survives its
tokeniser, and its errors rarely say where the problem is. Scanning the few
token kinds this grammar has (names, strings, numbers, lists, operators) keeps
the accepted language explicit and the messages precise.

Each entity (runs, experiments, registered models, model versions, logged
models) has its own table of prefixes, keys and operators, copied from MLflow's
`SearchUtils` family so that the same filters are accepted and refused. Where we
are deliberately stricter or looser than MLflow, the table or the scanner says so
in a comment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

from modelyard.errors import InvalidParameterValue
from modelyard.search_terms import (
    Comparison,
    OrderKey,
    Value,
    decode_page_token,
    encode_page_token,
)

__all__ = [
    "Comparison",
    "OrderKey",
    "decode_page_token",
    "encode_page_token",
    "parse_experiment_filter",
    "parse_experiment_order_by",
    "parse_logged_model_filter",
    "parse_logged_model_order_by",
    "parse_model_version_filter",
    "parse_model_version_order_by",
    "parse_registered_model_filter",
    "parse_registered_model_order_by",
    "parse_run_filter",
    "parse_run_order_by",
]

# -- operators ----------------------------------------------------------------

NUMERIC_OPS = frozenset({"=", "!=", "<", "<=", ">", ">="})
STRING_OPS = frozenset({"=", "!=", "LIKE", "ILIKE"})
LIST_OPS = frozenset({"IN", "NOT IN"})
NULL_OPS = frozenset({"IS NULL", "IS NOT NULL"})

# Two-character symbols first so that '>=' is not read as '>' then '='. '<>' and
# '==' are scanned so they can be refused with MLflow's "Invalid comparator" words
# rather than a confusing "expected a value" one.
_SYMBOL_OPS = (">=", "<=", "!=", "<>", "==", "=", "<", ">")
_OP_LIST = "=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN, IS NULL, IS NOT NULL"


# -- grammar tables ---------------------------------------------------------------


@dataclass(frozen=True)
class _Field:
    """How one searchable key compares."""

    numeric: bool
    ops: frozenset[str]
    # IN / NOT IN with a list of quoted strings.
    lists: bool = False
    # Stored as an integer, so MLflow refuses a float literal (experiments, versions).
    int_only: bool = False
    # MLflow's model-version search accepts version_number = '3' as well as = 3.
    quoted_numbers: bool = False
    # A string on the wire that must hold an integer (experiment_id).
    integer_string: bool = False


@dataclass(frozen=True)
class _Entity:
    name: str
    # The word MLflow's messages use ("parameter" for params).
    label: str
    # Open-keyed entities (metrics, params, tags) compare every key alike.
    any_key: _Field | None = None
    # Closed-keyed entities (attributes, dataset) list their keys.
    keys: Mapping[str, _Field] = field(default_factory=dict)
    aliases: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Grammar:
    what: str
    # Prefix as written (case-sensitive, as in MLflow) -> canonical entity name.
    prefixes: Mapping[str, str]
    entities: Mapping[str, _Entity]
    # Order-by: entities whose keys are open, and the orderable attribute keys.
    order_entities: frozenset[str]
    order_attributes: frozenset[str]
    order_aliases: Mapping[str, str] = field(default_factory=dict)


def _string(lists: bool = False) -> _Field:
    return _Field(numeric=False, ops=STRING_OPS | LIST_OPS, lists=lists)


_METRIC = _Entity("metric", "metric", any_key=_Field(numeric=True, ops=NUMERIC_OPS))
_PARAM_WITH_NULL = _Entity("param", "parameter", any_key=_Field(False, STRING_OPS | NULL_OPS))
_TAG_WITH_NULL = _Entity("tag", "tag", any_key=_Field(False, STRING_OPS | NULL_OPS))
# The registry stores have no IS NULL for tags (SearchModelUtils.VALID_TAG_COMPARATORS).
_TAG_NO_NULL = _Entity("tag", "tag", any_key=_Field(False, STRING_OPS))

_RUN_ALIASES = {
    "created": "start_time",
    "Created": "start_time",
    "run name": "run_name",
    "Run name": "run_name",
    "Run Name": "run_name",
}
_RUN_ATTRIBUTES: dict[str, _Field] = {
    "run_id": _string(lists=True),
    "run_name": _string(),
    "status": _string(),
    "user_id": _string(),
    "artifact_uri": _string(),
    "start_time": _Field(numeric=True, ops=NUMERIC_OPS),
    "end_time": _Field(numeric=True, ops=NUMERIC_OPS),
}
_DATASET_FIELD = _Field(numeric=False, ops=STRING_OPS | LIST_OPS, lists=True)

RUNS = _Grammar(
    what="runs",
    prefixes={
        "metric": "metric",
        "metrics": "metric",
        "parameter": "param",
        "parameters": "param",
        "param": "param",
        "params": "param",
        "tag": "tag",
        "tags": "tag",
        "attribute": "attribute",
        "attributes": "attribute",
        "attr": "attribute",
        "run": "attribute",
        "dataset": "dataset",
        "datasets": "dataset",
    },
    entities={
        "metric": _METRIC,
        "param": _PARAM_WITH_NULL,
        "tag": _TAG_WITH_NULL,
        "attribute": _Entity("attribute", "attribute", keys=_RUN_ATTRIBUTES, aliases=_RUN_ALIASES),
        "dataset": _Entity(
            "dataset",
            "dataset",
            keys={"name": _DATASET_FIELD, "digest": _DATASET_FIELD, "context": _DATASET_FIELD},
        ),
    },
    order_entities=frozenset({"metric", "param", "tag"}),
    order_attributes=frozenset(_RUN_ATTRIBUTES),
    order_aliases=_RUN_ALIASES,
)

_TIMESTAMP = _Field(numeric=True, ops=NUMERIC_OPS, int_only=True)
_REGISTRY_PREFIXES = {"attribute": "attribute", "tag": "tag", "tags": "tag"}

EXPERIMENTS = _Grammar(
    what="experiments",
    prefixes=_REGISTRY_PREFIXES,
    entities={
        "attribute": _Entity(
            "attribute",
            "attribute",
            keys={
                "name": _Field(numeric=False, ops=STRING_OPS),
                "experiment_id": _Field(
                    numeric=False,
                    ops=frozenset({"=", "!="}) | LIST_OPS,
                    lists=True,
                    integer_string=True,
                ),
                "creation_time": _TIMESTAMP,
                "last_update_time": _TIMESTAMP,
            },
        ),
        "tag": _TAG_WITH_NULL,
    },
    order_entities=frozenset(),
    order_attributes=frozenset({"name", "experiment_id", "creation_time", "last_update_time"}),
)

REGISTERED_MODELS = _Grammar(
    what="registered models",
    prefixes=_REGISTRY_PREFIXES,
    entities={
        "attribute": _Entity("attribute", "attribute", keys={"name": _string(lists=True)}),
        "tag": _TAG_NO_NULL,
    },
    order_entities=frozenset(),
    order_attributes=frozenset({"name", "creation_timestamp", "last_updated_timestamp"}),
    # MLflow's SQL store orders "timestamp" by last_updated_time.
    order_aliases={"timestamp": "last_updated_timestamp"},
)

# MLflow spells it version_number; "version" is accepted as well because that is
# the entity's field name and what people type.
_VERSION_ALIASES = {"version": "version_number"}
MODEL_VERSIONS = _Grammar(
    what="model versions",
    prefixes=_REGISTRY_PREFIXES,
    entities={
        "attribute": _Entity(
            "attribute",
            "attribute",
            keys={
                "name": _string(lists=True),
                "run_id": _string(lists=True),
                "source_path": _string(),
                "version_number": _Field(
                    numeric=True, ops=NUMERIC_OPS, int_only=True, quoted_numbers=True
                ),
            },
            aliases=_VERSION_ALIASES,
        ),
        "tag": _TAG_NO_NULL,
    },
    order_entities=frozenset(),
    order_attributes=frozenset(
        {"name", "version_number", "creation_timestamp", "last_updated_timestamp"}
    ),
    order_aliases=_VERSION_ALIASES,
)

_LOGGED_TIMESTAMP = _Field(numeric=True, ops=NUMERIC_OPS)
_LOGGED_ALIASES = {
    "creation_time": "creation_timestamp",
    "last_updated_time": "last_updated_timestamp",
}
_LOGGED_ATTRIBUTES: dict[str, _Field] = {
    "name": _string(lists=True),
    "model_id": _string(lists=True),
    "model_type": _string(lists=True),
    "status": _string(lists=True),
    "source_run_id": _string(lists=True),
    "creation_timestamp": _LOGGED_TIMESTAMP,
    "last_updated_timestamp": _LOGGED_TIMESTAMP,
}
LOGGED_MODELS = _Grammar(
    what="logged models",
    # MLflow's logged-model parser knows only the plural prefixes; the singular
    # ones are accepted too, as everywhere else in MLflow's grammars.
    prefixes={
        "attributes": "attribute",
        "attribute": "attribute",
        "metrics": "metric",
        "metric": "metric",
        "params": "param",
        "param": "param",
        "tags": "tag",
        "tag": "tag",
    },
    entities={
        "attribute": _Entity(
            "attribute", "attribute", keys=_LOGGED_ATTRIBUTES, aliases=_LOGGED_ALIASES
        ),
        "metric": _METRIC,
        "param": _Entity("param", "parameter", any_key=_string(lists=True)),
        "tag": _Entity("tag", "tag", any_key=_string(lists=True)),
    },
    order_entities=frozenset({"metric"}),
    order_attributes=frozenset(_LOGGED_ATTRIBUTES),
    order_aliases=_LOGGED_ALIASES,
)


# -- scanner ------------------------------------------------------------------------

_WS = re.compile(r"\s*")
_WORD = re.compile(r"\w+")
_NUMBER = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")
_INTEGER = re.compile(r"-?\d+")
_NUMBER_TAIL = re.compile(r"[\w.]*")


@dataclass(frozen=True)
class _Name:
    """A dotted name as written: its parts (quotes removed) and where it starts."""

    parts: tuple[str, ...]
    pos: int
    text: str


@dataclass(frozen=True)
class _Literal:
    """A value as written. kind: string | number | word | list."""

    kind: str
    raw: str
    pos: int
    string: str = ""
    items: tuple[str, ...] = ()


class _Scanner:
    def __init__(self, text: str, context: str) -> None:
        self.text = text
        self.pos = 0
        self.context = context

    def fail(self, detail: str, pos: int | None = None) -> NoReturn:
        where = self.pos if pos is None else pos
        # MLflow's own sentences end with a full stop; ours read on into the position.
        at = f" (at position {where})" if detail.endswith(".") else f" at position {where}"
        raise InvalidParameterValue(f"{self.context}: {detail}{at}")

    def skip_ws(self) -> None:
        match = _WS.match(self.text, self.pos)
        assert match is not None  # \s* always matches
        self.pos = match.end()

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def snippet(self) -> str:
        word = _WORD.match(self.text, self.pos)
        return word.group() if word else self.peek()

    def word(self) -> str | None:
        """The next bare word, consumed, or None (nothing consumed)."""
        match = _WORD.match(self.text, self.pos)
        if match is None:
            return None
        self.pos = match.end()
        return match.group()

    def quoted(self, quote: str, what: str) -> str:
        """A `quote`-delimited run starting at pos; a doubled quote stands for itself."""
        start = self.pos
        self.pos += 1
        out: list[str] = []
        while True:
            end = self.text.find(quote, self.pos)
            if end < 0:
                self.fail(f"unterminated {what} starting", start)
            out.append(self.text[self.pos : end])
            if self.text.startswith(quote * 2, end):
                out.append(quote)
                self.pos = end + 2
                continue
            self.pos = end + 1
            return "".join(out)

    def name(self, after: str) -> _Name:
        """``part(.part)*`` where a part is a word, a `backticked` or "double-quoted" name."""
        self.skip_ws()
        start = self.pos
        parts: list[str] = []
        while True:
            char = self.peek()
            if char == "`":
                parts.append(self.quoted("`", "backtick-quoted name"))
            elif char == '"':
                parts.append(self.quoted('"', "double-quoted name"))
            elif (word := self.word()) is not None:
                if not parts and word.upper() in ("AND", "OR") and self.peek() != ".":
                    self.fail(f"expected a name {after}, found '{word}'", self.pos - len(word))
                parts.append(word)
            elif not parts:
                if char == "(":
                    self.fail("parentheses are not supported, join conditions with AND")
                found = f"'{self.snippet()}'" if char else "the end of the input"
                self.fail(f"expected a name {after}, found {found}")
            else:
                self.fail("expected a name after '.'")
            if self.peek() != ".":
                break
            self.pos += 1
        return _Name(tuple(parts), start, self.text[start : self.pos])

    def operator(self) -> tuple[str, int]:
        self.skip_ws()
        start = self.pos
        for symbol in _SYMBOL_OPS:
            if self.text.startswith(symbol, self.pos):
                self.pos += len(symbol)
                return symbol, start
        word = (self.word() or "").upper()
        if word in ("LIKE", "ILIKE", "IN"):
            return word, start
        if word == "NOT":
            self.skip_ws()
            if (self.word() or "").upper() != "IN":
                self.fail("expected IN after NOT")
            return "NOT IN", start
        if word == "IS":
            self.skip_ws()
            after_is = (self.word() or "").upper()
            if after_is == "NULL":
                return "IS NULL", start
            if after_is == "NOT":
                self.skip_ws()
                if (self.word() or "").upper() == "NULL":
                    return "IS NOT NULL", start
            self.fail("expected NULL or NOT NULL after IS")
        self.pos = start
        found = f"'{self.snippet()}'" if not self.at_end() else "the end of the input"
        self.fail(f"expected a comparison operator ({_OP_LIST}), found {found}")

    def literal(self, op: str) -> _Literal:
        self.skip_ws()
        start = self.pos
        char = self.peek()
        if op in LIST_OPS:
            if char != "(":
                self.fail(f"expected a parenthesised list of quoted strings after '{op}'")
            return self._list(start)
        if char in ("'", '"'):
            value = self.quoted(char, "string")
            return _Literal("string", self.text[start : self.pos], start, string=value)
        number = _NUMBER.match(self.text, self.pos)
        if number is not None:
            self.pos = number.end()
            if self.peek() == "." or _WORD.match(self.text, self.pos):
                rest = _NUMBER_TAIL.match(self.text, self.pos)
                tail = rest.group() if rest else ""
                self.fail(f"malformed number '{self.text[start : self.pos]}{tail}'", start)
            return _Literal("number", number.group(), start)
        if char == "(":
            self.fail(f"a list of values is only allowed after IN or NOT IN, not after '{op}'")
        word = self.word()
        if word is not None:
            return _Literal("word", word, start)
        self.fail(f"expected a value after '{op}'")

    def _list(self, start: int) -> _Literal:
        self.pos += 1
        items: list[str] = []
        while True:
            self.skip_ws()
            char = self.peek()
            if char == ")" and items:
                self.pos += 1
                break
            if char == ")":
                self.fail(
                    "While parsing a list in the query, expected a non-empty list of "
                    "string values, but got empty list"
                )
            if char not in ("'", '"'):
                found = f"'{self.snippet()}'" if char else "the end of the input"
                self.fail(f"expected a quoted string in the list, found {found}")
            items.append(self.quoted(char, "string"))
            self.skip_ws()
            if self.peek() == ",":
                self.pos += 1
                continue
            if self.peek() != ")":
                self.fail("expected ',' or ')' in the list")
        return _Literal("list", self.text[start : self.pos], start, items=tuple(items))


# -- filters ------------------------------------------------------------------------


def _parse_filter(grammar: _Grammar, text: str | None) -> list[Comparison]:
    if text is None or not text.strip():
        return []
    scanner = _Scanner(text, f"Invalid filter '{text}'")
    out: list[Comparison] = []
    after = "at the start of the filter"
    while True:
        name = scanner.name(after)
        op, op_pos = scanner.operator()
        literal = None if op in NULL_OPS else scanner.literal(op)
        out.append(_comparison(grammar, scanner, name, op, op_pos, literal))
        scanner.skip_ws()
        if scanner.at_end():
            return out
        connective_pos = scanner.pos
        connective = (scanner.word() or "").upper()
        if connective == "AND":
            after = "after 'AND'"
            continue
        if connective == "OR":
            scanner.fail(
                "Invalid clause(s) in filter string: 'OR'; conditions can only be "
                "combined with AND",
                connective_pos,
            )
        scanner.pos = connective_pos
        scanner.fail(f"expected AND or the end of the filter, found '{scanner.snippet()}'")


def _resolve(
    grammar: _Grammar, scanner: _Scanner, name: _Name
) -> tuple[_Entity, str, _Field | None]:
    if len(name.parts) == 1:
        entity_name, raw_key = "attribute", name.parts[0]
    else:
        prefix, raw_key = name.parts[0], ".".join(name.parts[1:])
        if prefix not in grammar.prefixes:
            valid = sorted(set(grammar.prefixes))
            scanner.fail(f"Invalid entity type '{prefix}'. Valid values are {valid}", name.pos)
        entity_name = grammar.prefixes[prefix]
    entity = grammar.entities[entity_name]
    if not raw_key:
        scanner.fail(f"empty key in '{name.text}'", name.pos)
    key = entity.aliases.get(raw_key, raw_key)
    return entity, key, entity.keys.get(key, entity.any_key)


def _comparison(
    grammar: _Grammar,
    scanner: _Scanner,
    name: _Name,
    op: str,
    op_pos: int,
    literal: _Literal | None,
) -> Comparison:
    entity, key, spec = _resolve(grammar, scanner, name)
    if spec is None:
        valid = sorted(entity.keys)
        scanner.fail(
            f"Invalid {entity.label} key '{key}' specified. Valid keys are '{valid}'", name.pos
        )
    if op not in spec.ops:
        if op in NULL_OPS:
            scanner.fail(
                f"IS NULL / IS NOT NULL is not supported for {entity.label} '{key}'", op_pos
            )
        scanner.fail(f"Invalid comparator '{op}' not one of '{sorted(spec.ops)}'", op_pos)
    if op in LIST_OPS and not spec.lists:
        listable = sorted(k for k, f in entity.keys.items() if f.lists)
        scanner.fail(
            f"Only {listable} {entity.label}s support comparison with a list of quoted "
            "string values",
            op_pos,
        )
    value = None if literal is None else _value(scanner, entity, key, spec, literal)
    return Comparison(entity.name, key, op, value)


def _value(scanner: _Scanner, entity: _Entity, key: str, spec: _Field, literal: _Literal) -> Value:
    if literal.kind == "list":
        if spec.integer_string:
            for item in literal.items:
                _check_integer_string(scanner, item, literal.pos)
        return literal.items
    if spec.numeric:
        raw = literal.raw
        if literal.kind == "string" and spec.quoted_numbers:
            raw = literal.string.strip()
            if not _INTEGER.fullmatch(raw):
                scanner.fail(
                    f"Invalid value for numeric attribute '{key}': {literal.raw}", literal.pos
                )
        elif literal.kind != "number":
            what = "metric" if entity.name == "metric" else f"numeric attribute: {key}"
            scanner.fail(
                f"Expected numeric value type for {what}. Found {literal.raw}", literal.pos
            )
        if entity.name == "metric":
            return float(raw)
        if _INTEGER.fullmatch(raw):
            return int(raw)
        if spec.int_only:
            scanner.fail(f"Invalid value for numeric attribute '{key}': '{raw}'", literal.pos)
        return float(raw)
    if literal.kind == "number":
        scanner.fail(
            f"Expected a quoted string value for {entity.label} (e.g. 'my-value'). "
            f"Got value {literal.raw}",
            literal.pos,
        )
    if literal.kind == "word":
        scanner.fail(
            "Parameter value is either not quoted or unidentified quote types used for "
            f"string value {literal.raw}. Use either single or double quotes.",
            literal.pos,
        )
    if spec.integer_string:
        _check_integer_string(scanner, literal.string, literal.pos)
    return literal.string


def _check_integer_string(scanner: _Scanner, value: str, pos: int) -> None:
    if not _INTEGER.fullmatch(value.strip()):
        scanner.fail(
            f"Invalid experiment ID '{value}'. Experiment ID must be a valid integer.", pos
        )


# -- order by -----------------------------------------------------------------------


def _parse_order_by(grammar: _Grammar, clauses: Sequence[str]) -> list[OrderKey]:
    out: list[OrderKey] = []
    for clause in clauses:
        _append_unique(out, _parse_order_clause(grammar, clause), clauses)
    return out


def _append_unique(out: list[OrderKey], key: OrderKey, clauses: Sequence[Any]) -> None:
    if any((k.entity, k.key) == (key.entity, key.key) for k in out):
        raise InvalidParameterValue(f"`order_by` contains duplicate fields: {list(clauses)}")
    out.append(key)


def _parse_order_clause(grammar: _Grammar, clause: str) -> OrderKey:
    if not isinstance(clause, str):
        raise InvalidParameterValue(f"Invalid order_by clause {clause!r}: expected a string")
    scanner = _Scanner(clause, f"Invalid order_by clause '{clause}'")
    name = scanner.name("to order by")
    scanner.skip_ws()
    ascending = True
    if not scanner.at_end():
        direction_pos = scanner.pos
        direction = (scanner.word() or "").lower()
        if direction not in ("asc", "desc"):
            scanner.pos = direction_pos
            scanner.fail(f"Invalid ordering key: expected ASC or DESC, found '{scanner.snippet()}'")
        ascending = direction == "asc"
        scanner.skip_ws()
        if not scanner.at_end():
            scanner.fail(f"unexpected '{scanner.snippet()}' after {direction.upper()}")
    return _order_key(grammar, scanner, name, ascending)


def _order_key(grammar: _Grammar, scanner: _Scanner, name: _Name, ascending: bool) -> OrderKey:
    if len(name.parts) == 1:
        entity_name, raw_key = "attribute", name.parts[0]
    else:
        prefix, raw_key = name.parts[0], ".".join(name.parts[1:])
        entity_name = grammar.prefixes.get(prefix, "")
        if entity_name != "attribute" and entity_name not in grammar.order_entities:
            valid = sorted(
                p
                for p, e in grammar.prefixes.items()
                if e == "attribute" or e in grammar.order_entities
            )
            scanner.fail(f"Invalid order_by entity '{prefix}'. Valid values are {valid}", name.pos)
    if not raw_key:
        scanner.fail(f"empty key in '{name.text}'", name.pos)
    if entity_name == "attribute":
        key = grammar.order_aliases.get(raw_key, raw_key)
        if key not in grammar.order_attributes:
            valid = sorted(grammar.order_attributes)
            scanner.fail(
                f"Invalid order by key '{raw_key}' specified. Valid keys are '{valid}'", name.pos
            )
        return OrderKey("attribute", key, ascending)
    return OrderKey(entity_name, raw_key, ascending)


# -- public parsers -----------------------------------------------------------------


def parse_run_filter(text: str | None) -> list[Comparison]:
    """Parse a search-runs filter (metrics, params, tags, attributes, datasets)."""
    return _parse_filter(RUNS, text)


def parse_run_order_by(clauses: Sequence[str]) -> list[OrderKey]:
    """Parse search-runs order_by clauses; the store appends MLflow's tie-breakers."""
    return _parse_order_by(RUNS, clauses)


def parse_experiment_filter(text: str | None) -> list[Comparison]:
    return _parse_filter(EXPERIMENTS, text)


def parse_experiment_order_by(clauses: Sequence[str]) -> list[OrderKey]:
    return _parse_order_by(EXPERIMENTS, clauses)


def parse_registered_model_filter(text: str | None) -> list[Comparison]:
    return _parse_filter(REGISTERED_MODELS, text)


def parse_registered_model_order_by(clauses: Sequence[str]) -> list[OrderKey]:
    return _parse_order_by(REGISTERED_MODELS, clauses)


def parse_model_version_filter(text: str | None) -> list[Comparison]:
    return _parse_filter(MODEL_VERSIONS, text)


def parse_model_version_order_by(clauses: Sequence[str]) -> list[OrderKey]:
    return _parse_order_by(MODEL_VERSIONS, clauses)


def parse_logged_model_filter(text: str | None) -> list[Comparison]:
    return _parse_filter(LOGGED_MODELS, text)


def parse_logged_model_order_by(
    clauses: Sequence[str | Mapping[str, Any]],
) -> list[OrderKey]:
    """Parse search-logged-models order_by.

    MLflow's REST API sends objects ``{"field_name": "metrics.acc", "ascending": false}``
    here rather than strings; both forms are accepted. Ordering by a metric measured
    on one dataset (``dataset_name``/``dataset_digest``) cannot be expressed as an
    `OrderKey` and is refused rather than silently ignored.
    """
    out: list[OrderKey] = []
    for clause in clauses:
        if isinstance(clause, str):
            key = _parse_order_clause(LOGGED_MODELS, clause)
        else:
            key = _logged_model_order_object(clause)
        _append_unique(out, key, clauses)
    return out


def _logged_model_order_object(clause: Mapping[str, Any]) -> OrderKey:
    if not isinstance(clause, Mapping):
        raise InvalidParameterValue("`order_by` must be a list of dictionaries.")
    field_name = clause.get("field_name")
    if not isinstance(field_name, str) or not field_name.strip():
        raise InvalidParameterValue("`field_name` in the `order_by` clause must be specified.")
    ascending = clause.get("ascending", True)
    if ascending is None:
        ascending = True
    if not isinstance(ascending, bool):
        raise InvalidParameterValue(
            "Value of `ascending` in the `order_by` clause must be a boolean, got "
            f"{type(ascending)} for field {field_name}."
        )
    if clause.get("dataset_digest") and not clause.get("dataset_name"):
        raise InvalidParameterValue(
            "`dataset_digest` can only be specified if `dataset_name` is also specified."
        )
    if "." in field_name:
        entity, key = field_name.split(".", 1)
        if entity != "metrics":
            raise InvalidParameterValue(
                f"Invalid order by field name: {entity}, only `metrics.<name>` is allowed."
            )
        name, digest = clause.get("dataset_name"), clause.get("dataset_digest")
        return OrderKey(
            "metric",
            key,
            ascending,
            str(name) if name else None,
            str(digest) if digest else None,
        )
    name = field_name.strip()
    name = LOGGED_MODELS.order_aliases.get(name, name)
    if name not in LOGGED_MODELS.order_attributes:
        raise InvalidParameterValue(f"Invalid order by field name: {field_name}.")
    return OrderKey("attribute", name, ascending)


# -- page tokens --------------------------------------------------------------------
