"""An OpenAPI 3.1 description of every API route, built from the router's own table.

Nothing here lists routes: `modelyard.app.all_routes()` is walked, the same
list the router is built from, so a route added to any module's `ROUTES` or
`RAW_ROUTES` is described the moment it is served. What each operation says
comes from its code:

* summary and description: the handler's docstring (MLflow's own routes
  without one point to MLflow's REST reference instead);
* path parameters: the route's path template;
* query and body fields: the calls the handler makes on its `Args`
  (`args.str("name")` is a required string, `args.opt_int("max_results")` an
  optional int64, `args.str_list("order_by")` a list of strings...) or, for a
  raw Starlette endpoint, the keys it reads from `request.query_params`. The
  handler's source is parsed (with the module-level helpers it passes `args`
  to), so the description cannot drift from what the handler reads.

Responses are described by shape, not field by field: a JSON object on
success and MLflow's error body (`error_code`, `message`) otherwise.
Served at `/api/openapi.json`, with a plain HTML reference at `/api/docs`.
"""

from __future__ import annotations

import ast
import html
import inspect
import textwrap
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from modelyard import __version__
from modelyard.http.errors import _API_PREFIXES
from modelyard.http.jsonio import json_response

Json = dict[str, Any]

MLFLOW_REST_DOCS = "https://mlflow.org/docs/latest/api_reference/rest-api.html"

_INT64: Json = {"type": "integer", "format": "int64"}
# How each Args accessor reads a field: (schema, required).
_ARG_KINDS: dict[str, tuple[Json, bool]] = {
    "str": ({"type": "string"}, True),
    "opt_str": ({"type": "string"}, False),
    "int": (_INT64, True),
    "opt_int": (_INT64, False),
    "float": ({"type": "number"}, True),
    "opt_bool": ({"type": "boolean"}, False),
    "list": ({"type": "array"}, False),
    "str_list": ({"type": "array", "items": {"type": "string"}}, False),
    "objects": ({"type": "array", "items": {"type": "object"}}, False),
    "raw": ({}, False),
}
_ERROR: Json = {
    "type": "object",
    "required": ["error_code", "message"],
    "properties": {"error_code": {"type": "string"}, "message": {"type": "string"}},
}
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def is_api_path(path: str) -> bool:
    """Routes the description covers: everything but the HTML UI's pages."""
    return path.startswith(_API_PREFIXES) or path in ("/health", "/version")


def is_ours(path: str) -> bool:
    """modelyard's own API (MLflow documents the rest)."""
    return "/modelyard/" in path or path.startswith("/api/openapi") or path == "/api/docs"


# -- finding the handler behind an endpoint ---------------------------------------------
def handler_of(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """The function a wrapper (`api()`, `_when_serving`...) closes over, if any.

    Wrappers here copy `__name__` from what they wrap; the wrapped function is
    the closure cell holding a function of the same name.
    """
    fn: Callable[..., Any] = inspect.unwrap(endpoint)
    for _ in range(4):
        inner: Callable[..., Any] | None = next(
            (
                cell.cell_contents
                for cell in getattr(fn, "__closure__", None) or ()
                if inspect.isfunction(cell.cell_contents)
                and cell.cell_contents.__name__ == fn.__name__
                and cell.cell_contents is not fn
            ),
            None,
        )
        if inner is None:
            return fn
        fn = inner
    return fn


@cache
def _tree(fn: Callable[..., Any]) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    try:
        source = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError):
        return None
    node = ast.parse(source).body[0]
    return node if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else None


def _literal(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _arg_reads(fn: Callable[..., Any], depth: int = 0) -> Iterator[tuple[str, str]]:
    """(accessor, field) for each `args.<accessor>("field")` the handler makes.

    Module-level helpers the handler passes `args` to are followed, two deep.
    """
    tree = _tree(fn)
    if tree is None:
        return
    names = {a.arg for a in tree.args.args}
    args_name = "args" if "args" in names else None
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id == args_name
            and func.attr in _ARG_KINDS
            and node.args
        ):
            field = _literal(node.args[0])
            if field is not None:
                yield func.attr, field
        elif (
            depth < 2
            and isinstance(func, ast.Name)
            and any(isinstance(a, ast.Name) and a.id == args_name for a in node.args)
        ):
            helper = fn.__globals__.get(func.id)
            if inspect.isfunction(helper):
                yield from _arg_reads(helper, depth + 1)


def _query_reads(fn: Callable[..., Any]) -> list[str]:
    """Keys a raw endpoint reads from `request.query_params` (directly or via a name)."""
    tree = _tree(fn)
    if tree is None:
        return []
    aliases = {"query_params"}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "query_params"
        ):
            aliases.update(t.id for t in node.targets if isinstance(t, ast.Name))

    def is_query(expr: ast.expr) -> bool:
        if isinstance(expr, ast.Name):
            return expr.id in aliases
        return isinstance(expr, ast.Attribute) and expr.attr == "query_params"

    keys: list[str] = []
    for node in ast.walk(tree):
        key = None
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("get", "getlist")
            and is_query(node.func.value)
            and node.args
        ):
            key = _literal(node.args[0])
        elif isinstance(node, ast.Subscript) and is_query(node.value):
            key = _literal(node.slice)
        if key is not None and key not in keys:
            keys.append(key)
    return keys


def _uses_args(fn: Callable[..., Any]) -> bool:
    """A raw endpoint that parses its request through `Args.from_request`."""
    tree = _tree(fn)
    return tree is not None and "Args.from_request" in ast.unparse(tree)


# -- building the description -----------------------------------------------------------
def _fields(fn: Callable[..., Any]) -> tuple[Json, list[str]]:
    properties: Json = {}
    required: list[str] = []
    for accessor, field in _arg_reads(fn):
        schema, needed = _ARG_KINDS[accessor]
        properties.setdefault(field, dict(schema))
        if needed and field not in required:
            required.append(field)
    return properties, required


def _docs(fn: Callable[..., Any]) -> tuple[str, str]:
    doc = inspect.getdoc(fn) or ""
    summary, _, rest = doc.partition("\n\n")
    return " ".join(summary.split()), rest.strip()


def _operation(route: Route, method: str) -> Json:
    fn = handler_of(route.endpoint)
    summary, description = _docs(fn)
    op: Json = {"operationId": f"{method.lower()}{_openapi_path(route)}".replace("/", "_")}
    if summary:
        op["summary"] = summary
    else:
        op["summary"] = f"MLflow REST API: {method} {route.path}"
        op["externalDocs"] = {"url": MLFLOW_REST_DOCS}
    if description:
        op["description"] = description
    op["tags"] = ["modelyard" if is_ours(route.path) else "mlflow"]

    params: list[Json] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in route.param_convertors
    ]
    is_handler = _tree(fn) is not None and "args" in {a.arg for a in _tree(fn).args.args}  # type: ignore[union-attr]
    reads_args = is_handler or _uses_args(fn)
    properties, required = _fields(fn) if reads_args else ({}, [])
    path_names = set(route.param_convertors)
    properties = {k: v for k, v in properties.items() if k not in path_names}
    required = [r for r in required if r not in path_names]
    if method == "GET":
        for name, schema in properties.items():
            query_schema = schema
            if schema.get("type") == "array" and "items" not in schema:
                query_schema = {"type": "array", "items": {"type": "string"}}
            params.append(
                {
                    "name": name,
                    "in": "query",
                    "required": name in required,
                    "schema": query_schema,
                }
            )
        if not reads_args:
            params += [
                {"name": key, "in": "query", "required": False, "schema": {"type": "string"}}
                for key in _query_reads(fn)
            ]
    else:
        if not reads_args:
            params += [
                {"name": key, "in": "query", "required": False, "schema": {"type": "string"}}
                for key in _query_reads(fn)
            ]
            op["requestBody"] = {
                "content": {"application/octet-stream": {"schema": {}}},
            }
        else:
            body: Json = {"type": "object", "properties": properties}
            if required:
                body["required"] = required
            op["requestBody"] = {"content": {"application/json": {"schema": body}}}
    if params:
        op["parameters"] = params
    success: Json = (
        {"application/json": {"schema": {"type": "object"}}}
        if is_handler
        else {"*/*": {"schema": {}}}
    )
    op["responses"] = {
        "200": {"description": "Success.", "content": success},
        "default": {
            "description": "MLflow's error body; the status follows its error code.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        },
    }
    return op


def _openapi_path(route: Route) -> str:
    path = route.path
    for name in route.param_convertors:
        for suffix in (":path", ":str", ":int"):
            path = path.replace(f"{{{name}{suffix}}}", f"{{{name}}}")
    return path


def build(routes: list[BaseRoute]) -> Json:
    """The OpenAPI 3.1 document for these routes (the API ones; UI pages are left out)."""
    paths: dict[str, Json] = {}
    for route in routes:
        if not isinstance(route, Route) or not is_api_path(route.path):
            continue
        for method in sorted(route.methods or ()):
            if method not in _METHODS:
                continue  # HEAD is implied by GET
            item = paths.setdefault(_openapi_path(route), {})
            item.setdefault(method.lower(), _operation(route, method))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "modelyard",
            "version": __version__,
            "description": "MLflow's REST API (under /api and /ajax-api) and modelyard's "
            "own (under /api/modelyard/). Errors are MLflow's JSON error body.",
        },
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": {"Error": _ERROR}},
    }


@cache
def _document() -> Json:
    from modelyard.app import all_routes  # the router's own table

    return build(all_routes())


async def openapi_json(request: Request) -> Response:
    """This OpenAPI 3.1 description of the server's API."""
    return json_response(_document())


async def reference_page(request: Request) -> Response:
    """A readable reference of every API route, generated from the OpenAPI description."""
    doc = _document()
    rows: list[str] = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            fields = [
                p["name"] + ("*" if p.get("required") else "") for p in op.get("parameters", [])
            ]
            body = op.get("requestBody", {}).get("content", {})
            schema = body.get("application/json", {}).get("schema", {})
            needed = set(schema.get("required", []))
            fields += [n + ("*" if n in needed else "") for n in schema.get("properties", {})]
            if "application/octet-stream" in body:
                fields.append("(file bytes)")
            rows.append(
                "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>".format(
                    method.upper(),
                    html.escape(path),
                    html.escape(op.get("summary", "")),
                    html.escape(", ".join(fields)),
                )
            )
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>modelyard API</title>"
        "<style>body{font-family:sans-serif;margin:2em}td{padding:.2em .6em;"
        "vertical-align:top;border-bottom:1px solid #ddd}code{white-space:nowrap}</style>"
        "</head><body><h1>modelyard API reference</h1>"
        "<p>Machine-readable: <a href='/api/openapi.json'>/api/openapi.json</a> (OpenAPI 3.1). "
        f"MLflow's routes follow <a href='{MLFLOW_REST_DOCS}'>MLflow's REST API</a>; "
        "* marks a required field.</p><table><tr><th>Method</th><th>Path</th>"
        "<th>What it does</th><th>Fields</th></tr>" + "".join(rows) + "</table></body></html>"
    )
    return HTMLResponse(page)


RAW_ROUTES: list[BaseRoute] = [
    Route("/api/openapi.json", openapi_json, methods=["GET"]),
    Route("/api/docs", reference_page, methods=["GET"]),
]
