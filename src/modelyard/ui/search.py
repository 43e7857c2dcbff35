"""Turning what a user types or clicks into the search grammar's text.

The UI speaks to the services in the API's own filter and order-by language,
so a filter copied from the page works in `mlflow.search_runs` and back.
"""

from __future__ import annotations

from dataclasses import dataclass

# Run attributes the runs table can sort by, keyed by column id.
RUN_ATTRIBUTE_ORDER = {
    "status": "attributes.status",
    "name": "attributes.run_name",
    "start": "attributes.start_time",
    "user": "attributes.user_id",
}


def string_literal(text: str) -> str:
    """A single-quoted string literal; a quote inside is doubled, as the grammar reads it."""
    return "'" + text.replace("'", "''") + "'"


def field_name(prefix: str, key: str) -> str:
    """`params.lr`, or `` params.`my key` `` when the key is not a plain word."""
    if key and all(c.isalnum() or c == "_" for c in key):
        return f"{prefix}.{key}"
    return f"{prefix}.`" + key.replace("`", "``") + "`"


def name_contains(text: str) -> str | None:
    """The filter for a search box over names: case-insensitive substring."""
    text = text.strip()
    if not text:
        return None
    return f"name ILIKE {string_literal('%' + text + '%')}"


@dataclass(frozen=True, slots=True)
class Ordering:
    """One order-by clause as the UI builds it: `<field> ASC|DESC`."""

    field: str
    ascending: bool

    @property
    def clause(self) -> str:
        return f"{self.field} {'ASC' if self.ascending else 'DESC'}"

    @classmethod
    def parse(cls, text: str) -> Ordering | None:
        """Read back a clause the UI wrote; anything else goes to the service as is."""
        text = text.strip()
        for suffix, ascending in ((" ASC", True), (" DESC", False)):
            if text.upper().endswith(suffix):
                return cls(text[: -len(suffix)].strip(), ascending)
        return cls(text, True) if text else None
