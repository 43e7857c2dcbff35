"""What the UI shows of an MLmodel file: its flavors and its signature.

MLflow writes `MLmodel` as YAML; the signature's inputs and outputs are JSON
strings inside it (column specs `{"name", "type"}` or tensor specs
`{"type": "tensor", "tensor-spec": {"dtype", "shape"}}`). Anything we cannot
read is reported as such rather than failing the page: the file is the
client's, not ours.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import yaml


@dataclass(frozen=True, slots=True)
class Flavor:
    name: str
    version: str | None
    details: list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str
    required: bool


@dataclass(frozen=True, slots=True)
class MLmodel:
    flavors: list[Flavor] = field(default_factory=list)
    inputs: list[Column] | None = None
    outputs: list[Column] | None = None
    error: str | None = None

    @property
    def flavor_names(self) -> str:
        return ", ".join(f.name for f in self.flavors) or "—"


def _flavor(name: str, body: Any) -> Flavor:
    details: list[tuple[str, str]] = []
    version = None
    if isinstance(body, dict):
        for key, value in body.items():
            if isinstance(value, str | int | float | bool):
                details.append((str(key), str(value)))
                if str(key) == f"{name}_version":  # e.g. sklearn_version
                    version = str(value)
    return Flavor(name, version, details)


def _columns(spec: Any) -> list[Column] | None:
    if spec is None:
        return None
    if isinstance(spec, str):
        spec = json.loads(spec)
    if not isinstance(spec, list):
        raise ValueError("a signature's inputs and outputs are lists")
    out = []
    for col in spec:
        if not isinstance(col, dict):
            raise ValueError("a signature column is an object")
        kind = str(col.get("type", "?"))
        tensor = col.get("tensor-spec")
        if kind == "tensor" and isinstance(tensor, dict):
            kind = f"tensor {tensor.get('dtype', '?')} {tuple(tensor.get('shape') or ())}"
        out.append(Column(str(col.get("name") or ""), kind, bool(col.get("required", True))))
    return out


def parse(text: str) -> MLmodel:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return MLmodel(error="The MLmodel file is not valid YAML.")
    if not isinstance(doc, dict):
        return MLmodel(error="The MLmodel file is not a YAML mapping.")
    raw = doc.get("flavors")
    flavors = [_flavor(str(k), v) for k, v in raw.items()] if isinstance(raw, dict) else []
    signature = doc.get("signature")
    if not isinstance(signature, dict):
        return MLmodel(flavors)
    try:
        return MLmodel(
            flavors, _columns(signature.get("inputs")), _columns(signature.get("outputs"))
        )
    except ValueError:
        return MLmodel(flavors, error="The MLmodel file's signature could not be read.")
