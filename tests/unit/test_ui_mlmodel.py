"""Reading an MLmodel file for the version page: flavors, signature, bad files."""

from __future__ import annotations

import json

from modelyard.ui import mlmodel

SKLEARN = """
flavors:
  python_function:
    loader_module: mlflow.sklearn
    python_version: 3.11.7
  sklearn:
    pickled_model: model.skops
    sklearn_version: 1.9.1
signature:
  inputs: '[{"type": "double", "name": "amount", "required": true},
    {"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 4]}}]'
  outputs: '[{"type": "long", "required": false}]'
  params: null
"""


def test_flavors_and_signature() -> None:
    info = mlmodel.parse(SKLEARN)
    assert [(f.name, f.version) for f in info.flavors] == [
        ("python_function", None),  # its python_version is not the flavor's version
        ("sklearn", "1.9.1"),
    ]
    assert info.inputs == [
        mlmodel.Column("amount", "double", True),
        mlmodel.Column("", "tensor float32 (-1, 4)", True),
    ]
    assert info.outputs == [mlmodel.Column("", "long", False)]
    assert info.error is None and info.flavor_names == "python_function, sklearn"


def test_no_signature_and_unreadable_files() -> None:
    assert mlmodel.parse("flavors:\n  pytorch: {}\n").inputs is None
    assert mlmodel.parse("flavors: [").error == "The MLmodel file is not valid YAML."
    assert mlmodel.parse("- a\n- b\n").error == "The MLmodel file is not a YAML mapping."
    bad = "flavors: {}\nsignature:\n  inputs: " + json.dumps(json.dumps({"not": "a list"}))
    assert mlmodel.parse(bad).error == "The MLmodel file's signature could not be read."
