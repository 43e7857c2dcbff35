"""The permission matrix: every route of the app, against every role, on both backends.

The app's route table is enumerated (nothing is listed by hand), so a route
added without a rule fails `test_every_route_has_a_rule`. For the matrix,
each guarded route's handler is replaced by a stub that answers 299: the
request goes through the real door (Basic credentials checked against the
real users table), the real guard (path, query and JSON body parsed, grants
and run/model ownership read from the database), and we observe whether it
reached the handler (299), was refused (403), or needed sign-in (401, or a
redirect to the login page for UI pages). Handlers not running keeps
destructive routes (delete experiment, ...) from changing the fixtures.

Roles: anonymous, reader (the default READ), editor (EDIT), Staging promoter
(MANAGE_STAGING_VERSIONS on the model), Production promoter
(MANAGE_PRODUCTION_VERSIONS), manager (MANAGE) and admin.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from servers import throwaway_postgres
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from auth.authkit import ADMIN, ADMIN_ENV, ADMIN_HEADERS, PASSWORD, basic, serve_in_thread
from modelyard.app import create_app
from modelyard.http.auth_guard import Guard, route_table
from modelyard.http.auth_rules import Rule
from modelyard.service.permissions import RANK
from modelyard.settings import Settings

REACHED = 299

# (role, grant on the experiment, grant on the model); None = the server default.
ROLES: list[tuple[str, str | None, str | None]] = [
    ("reader", None, None),
    ("editor", "EDIT", "EDIT"),
    ("stager", None, "MANAGE_STAGING_VERSIONS"),
    ("producer", None, "MANAGE_PRODUCTION_VERSIONS"),
    ("manager", "MANAGE", "MANAGE"),
]
ALL_ROLES = ["anonymous", *(r[0] for r in ROLES), "admin"]


def _inner(app: Any) -> Any:
    """The Starlette app inside the middleware around it (access log, realm, door, ...)."""
    while not isinstance(app, Starlette):
        app = app.app
    return app


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def matrix(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    mp = pytest.MonkeyPatch()
    for key, value in ADMIN_ENV.items():
        mp.setenv(key, value)
    tmp = tmp_path_factory.mktemp(f"matrix-{request.param}")
    try:
        if request.param == "sqlite":
            yield from _build(f"sqlite:///{tmp / 'db.sqlite'}", tmp)
        else:
            with throwaway_postgres() as url:
                yield from _build(url, tmp)
    finally:
        mp.undo()


def _build(uri: str, tmp: Path) -> Iterator[dict[str, Any]]:
    settings = Settings(
        backend_store_uri=uri, artifacts_destination=str(tmp / "artifacts"), auth=True
    )
    app = create_app(settings)
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=60) as client:

        def call(method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
            url = path if path.startswith("/") else f"/api/2.0/mlflow/{path}"
            if method == "GET":
                resp = client.get(url, params=body, headers=ADMIN_HEADERS)
            else:
                resp = client.request(method, url, json=body, headers=ADMIN_HEADERS)
            assert resp.status_code == 200, resp.text
            return resp.json()  # type: ignore[no-any-return]

        exp_id = call("POST", "experiments/create", {"name": "matrix"})["experiment_id"]
        run_id = call("POST", "runs/create", {"experiment_id": exp_id})["run"]["info"]["run_id"]
        logged = call("POST", "logged-models", {"experiment_id": exp_id})["model"]["info"]
        call("POST", "registered-models/create", {"name": "M"})
        call(
            "POST",
            "model-versions/create",
            {"name": "M", "source": f"runs:/{run_id}/model", "run_id": run_id},
        )
        for role, on_exp, on_model in ROLES:
            call("POST", "users/create", {"username": role, "password": PASSWORD})
            if on_exp:
                call(
                    "POST",
                    "experiments/permissions/create",
                    {"experiment_id": exp_id, "username": role, "permission": on_exp},
                )
            if on_model:
                call(
                    "POST",
                    "registered-models/permissions/create",
                    {"name": "M", "username": role, "permission": on_model},
                )
        # From here on, no handler runs: each guarded route answers REACHED.
        routes = _inner(app).router.routes
        for route in routes:
            if isinstance(route, Route) and isinstance(route.app, Guard):
                route.app.app = Response(status_code=REACHED)
        yield {
            "client": client,
            "routes": routes,
            "values": {
                "experiment_id": exp_id,
                "experiment_ids": [exp_id],
                "experiment_name": "matrix",
                "run_id": run_id,
                "run_uuid": run_id,
                "run_ids": [run_id],
                "run": [run_id],
                "model_id": logged["model_id"],
                "name": "M",
                "version": "1",
                "tag_key": "t",
                "artifact_path": f"{exp_id}/{run_id}/artifacts/file.txt",
                "path": f"{exp_id}/{run_id}/artifacts",
            },
        }


def test_every_route_has_a_rule(matrix: dict[str, Any]) -> None:
    missing = [f"{m} {p}" for m, p, rule in route_table(matrix["routes"]) if rule is None]
    assert not missing, "routes without a permission rule (add one in http/auth_rules.py):\n" + (
        "\n".join(missing)
    )


def _rank(role: str, rule: Rule) -> int:
    if role == "admin":
        return RANK["MANAGE"]
    grants = {r[0]: r for r in ROLES}[role]
    on_model = rule.resource == "model"
    granted = grants[2] if on_model else grants[1]
    return RANK[granted or "READ"]


def _expected(role: str, rule: Rule, self_target: bool) -> set[int]:
    if rule.need == "public":
        return {REACHED}
    if role == "anonymous":
        return {401, 303}
    if rule.need == "user":
        return {REACHED}
    if rule.need == "admin":
        return {REACHED} if role == "admin" else {403}
    if rule.need == "self":
        return {REACHED} if self_target or role == "admin" else {403}
    return {REACHED} if _rank(role, rule) >= RANK[rule.need] else {403}


def _request(
    client: httpx.Client,
    method: str,
    path: str,
    rule: Rule,
    values: dict[str, Any],
    role: str,
    username: str,
) -> int:
    url = re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: str(values.get(m.group(1), "x")), path)
    args: dict[str, Any] = {}
    for name in rule.args[:1]:
        if name == "username":
            args[name] = username
        elif name in values and f"{{{name}" not in path:
            value = values[name]
            args[name] = value if rule.many or not isinstance(value, list) else value[0]
    headers = {} if role == "anonymous" else basic(*ADMIN) if role == "admin" else basic(role)
    if method in ("GET", "HEAD"):
        resp = client.request(method, url, params=args, headers=headers, follow_redirects=False)
    else:
        query = {k: v for k, v in args.items() if not isinstance(v, list)}
        resp = client.request(
            method, url, params=query, json=args, headers=headers, follow_redirects=False
        )
    if resp.status_code == 401:
        assert resp.headers.get("www-authenticate") == 'Basic realm="mlflow"'
    return resp.status_code


@pytest.mark.parametrize("role", ALL_ROLES)
def test_matrix(matrix: dict[str, Any], role: str) -> None:
    """Each route reaches its handler exactly for the roles its rule admits."""
    client: httpx.Client = matrix["client"]
    wrong: list[str] = []
    checked = 0
    for method, path, rule in route_table(matrix["routes"]):
        assert rule is not None, f"{method} {path} has no rule"
        url_path = "/static/app.css" if path == "/static" else path
        targets = [(role, True)]
        if rule.need == "self" and role not in ("anonymous",):
            targets.append(("reader" if role != "reader" else "editor", False))
        for username, is_self in targets:
            got = _request(
                client,
                method,
                url_path,
                rule,
                matrix["values"],
                role,
                username if not is_self else (ADMIN[0] if role == "admin" else role),
            )
            expected = _expected(role, rule, is_self)
            if path == "/static" and got == 200:
                got = REACHED
            checked += 1
            if got not in expected:
                wrong.append(f"{method} {path} as {role} (self={is_self}): {got}, want {expected}")
    assert checked > 100
    assert not wrong, "\n".join(wrong)
