"""The OpenAPI description: complete (every API route the router serves), derived
from the handlers (so it cannot drift) and served by a live server."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.routing import Route

from modelyard.app import all_routes
from modelyard.http import openapi
from modelyard.http.args import Args
from modelyard.http.endpoint import Ctx, api

DOC = openapi.build(all_routes())


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op) for path, item in DOC["paths"].items() for method, op in item.items()
    ]


def test_every_api_route_of_the_router_is_described() -> None:
    served = {
        (openapi._openapi_path(r), m.lower())
        for r in all_routes()
        if isinstance(r, Route) and openapi.is_api_path(r.path)
        for m in r.methods or ()
        if m != "HEAD"
    }
    described = {(path, method) for path, method, _ in _operations()}
    assert served, "the router serves API routes"
    assert served - described == set()
    # MLflow's families, ours and the artifact proxy are all there.
    assert ("/api/2.0/mlflow/runs/log-batch", "post") in described
    assert ("/ajax-api/2.0/mlflow/runs/log-batch", "post") in described
    assert ("/api/2.0/mlflow-artifacts/artifacts/{artifact_path}", "put") in described
    assert ("/api/modelyard/v1/registered-models/history", "get") in described
    assert ("/api/openapi.json", "get") in described


def test_every_route_outside_mlflows_api_says_what_it_does() -> None:
    """MLflow documents its own routes; anything else needs a handler docstring."""
    undocumented = [
        f"{method.upper()} {path}"
        for path, method, op in _operations()
        if "externalDocs" in op and "/mlflow/" not in path
    ]
    assert undocumented == [], "give these handlers a docstring: " + ", ".join(undocumented)


def _body(path: str, method: str = "post") -> dict[str, Any]:
    schema: dict[str, Any] = DOC["paths"][path][method]["requestBody"]["content"][
        "application/json"
    ]["schema"]
    return schema


def _query(path: str) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in DOC["paths"][path]["get"]["parameters"] if p["in"] == "query"}


def test_fields_come_from_what_the_handler_reads() -> None:
    create = _body("/api/2.0/mlflow/experiments/create")
    assert create["required"] == ["name"]
    # `tags` is read by a helper the handler passes its args to.
    assert create["properties"]["tags"]["type"] == "array"
    search = _body("/api/2.0/mlflow/runs/search")
    assert search["properties"]["max_results"] == {"type": "integer", "format": "int64"}
    assert search["properties"]["order_by"]["items"] == {"type": "string"}
    get = _query("/api/2.0/mlflow/runs/get")
    assert get["run_id"]["schema"] == {"type": "string"}
    raw = _query("/get-artifact")  # a raw endpoint: keys read from request.query_params
    assert {"run_id", "path"} <= set(raw)
    put = DOC["paths"]["/api/2.0/mlflow-artifacts/artifacts/{artifact_path}"]["put"]
    assert put["parameters"][0] == {
        "name": "artifact_path",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
    }
    assert "application/octet-stream" in put["requestBody"]["content"]


def test_a_new_route_is_described_without_declaring_anything_else() -> None:
    def frobnicate(ctx: Ctx, args: Args) -> dict[str, Any]:
        """Frobnicate a model.

        Longer words about it."""
        return {"n": args.int("times"), "who": args.opt_str("who")}

    doc = openapi.build([Route("/api/modelyard/v1/frobnicate", api(frobnicate), methods=["POST"])])
    op = doc["paths"]["/api/modelyard/v1/frobnicate"]["post"]
    assert op["summary"] == "Frobnicate a model."
    assert op["description"] == "Longer words about it."
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["times"]
    assert set(schema["properties"]) == {"times", "who"}


def test_ui_pages_are_not_api_routes() -> None:
    assert not any(path.startswith(("/experiments", "/models", "/runs/")) for path in DOC["paths"])


@pytest.mark.parametrize("live_server", ["sqlite"], indirect=True)
def test_served_by_the_server(live_server: Any) -> None:
    doc = httpx.get(f"{live_server.url}/api/openapi.json").json()
    assert doc["openapi"] == "3.1.0"
    assert doc["paths"].keys() == DOC["paths"].keys()
    page = httpx.get(f"{live_server.url}/api/docs")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert "/api/2.0/mlflow/runs/log-batch" in page.text
