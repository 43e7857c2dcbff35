"""Authentication end to end against a real `modelyard server --auth` on SQLite and PostgreSQL.

Credentials, tokens, throttling, creators' MANAGE, stage rights and protected
aliases, with the handlers really running.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from servers import ServerProcess, free_port

from auth.authkit import ADMIN, ADMIN_HEADERS, PASSWORD, api, basic, make_user

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def server(auth_server: ServerProcess) -> Iterator[ServerProcess]:
    yield auth_server


@pytest.fixture(scope="module")
def client(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as c:
        yield c


@pytest.fixture(scope="module")
def people(client: httpx.Client) -> dict[str, str]:
    for name in ("alice", "bob", "carol", "dave"):
        make_user(client, name)
    return {"owner": "alice", "reader": "bob", "promoter": "carol", "editor": "dave"}


def _get_exp(client: httpx.Client, headers: dict[str, str]) -> httpx.Response:
    return client.get(
        "/api/2.0/mlflow/experiments/get", params={"experiment_id": "0"}, headers=headers
    )


def test_anonymous_gets_401_with_mlflows_realm(client: httpx.Client) -> None:
    resp = _get_exp(client, {})
    assert resp.status_code == 401
    assert resp.headers["www-authenticate"] == 'Basic realm="mlflow"'
    assert resp.json()["error_code"] == "UNAUTHENTICATED"
    assert client.get("/health").status_code == 200


def test_wrong_password_is_401_and_right_one_works(client: httpx.Client, people: dict) -> None:
    assert _get_exp(client, basic("bob", "not-the-password")).status_code == 401
    assert _get_exp(client, basic("nobody-here")).status_code == 401
    assert _get_exp(client, basic("bob")).status_code == 200


def test_creator_gets_manage_and_others_only_read(client: httpx.Client, people: dict) -> None:
    alice, bob = basic("alice"), basic("bob")
    resp = client.post("/api/2.0/mlflow/experiments/create", json={"name": "alices"}, headers=alice)
    assert resp.status_code == 200, resp.text
    exp_id = resp.json()["experiment_id"]
    got = api(
        client, "GET", "experiments/permissions/get", {"experiment_id": exp_id, "username": "alice"}
    )
    assert got["experiment_permission"]["permission"] == "MANAGE"
    # bob reads (the default) but may not write or delete.
    assert (
        client.get(
            "/api/2.0/mlflow/experiments/get", params={"experiment_id": exp_id}, headers=bob
        ).status_code
        == 200
    )
    refused = client.post(
        "/api/2.0/mlflow/runs/create", json={"experiment_id": exp_id}, headers=bob
    )
    assert refused.status_code == 403
    assert refused.json()["error_code"] == "PERMISSION_DENIED"
    assert "EDIT" in refused.json()["message"] and "bob has READ" in refused.json()["message"]
    # alice's run: she logs into it; bob may not.
    run = client.post(
        "/api/2.0/mlflow/runs/create", json={"experiment_id": exp_id}, headers=alice
    ).json()
    run_id = run["run"]["info"]["run_id"]
    body = {"run_id": run_id, "key": "m", "value": 1.0, "timestamp": 1, "step": 0}
    assert (
        client.post("/api/2.0/mlflow/runs/log-metric", json=body, headers=alice).status_code == 200
    )
    assert client.post("/api/2.0/mlflow/runs/log-metric", json=body, headers=bob).status_code == 403
    assert (
        client.post(
            "/api/2.0/mlflow/experiments/delete", json={"experiment_id": exp_id}, headers=bob
        ).status_code
        == 403
    )


def test_bearer_token_shown_once_hashed_and_revocable(
    client: httpx.Client, people: dict, server: ServerProcess
) -> None:
    dave = basic("dave")
    made = client.post(
        "/api/modelyard/v1/tokens/create", json={"name": "ci", "expires_in_days": 30}, headers=dave
    )
    assert made.status_code == 200, made.text
    secret = made.json()["secret"]
    bearer = {"Authorization": f"Bearer {secret}"}
    assert _get_exp(client, bearer).status_code == 200
    listed = client.get("/api/modelyard/v1/tokens/list", headers=dave).json()["tokens"]
    assert [t["name"] for t in listed] == ["ci"] and "expiry_time" in listed[0]
    assert secret not in str(listed)
    # Another user may not revoke dave's token; dave may.
    other = client.post(
        "/api/modelyard/v1/tokens/revoke",
        json={"username": "dave", "name": "ci"},
        headers=basic("bob"),
    )
    assert other.status_code == 403
    assert (
        client.post(
            "/api/modelyard/v1/tokens/revoke", json={"name": "ci"}, headers=dave
        ).status_code
        == 200
    )
    assert _get_exp(client, bearer).status_code == 401
    assert secret not in server.log()


def test_failed_logins_are_throttled_per_user(
    client: httpx.Client, people: dict, server: ServerProcess
) -> None:
    make_user(client, "target")
    codes = [_get_exp(client, basic("target", f"guess-{i}-xxxx")).status_code for i in range(10)]
    assert codes == [401] * 10
    # Past the limit even the right password waits.
    blocked = _get_exp(client, basic("target"))
    assert blocked.status_code == 429
    assert "try again in" in blocked.json()["message"]
    log = server.log()
    assert "guess-3-xxxx" not in log and PASSWORD not in log and ADMIN[1] not in log


def test_promotion_needs_the_stage_right_and_history_names_the_user(
    client: httpx.Client, people: dict
) -> None:
    alice, bob, carol, dave = (basic(n) for n in ("alice", "bob", "carol", "dave"))
    exp_id = client.post(
        "/api/2.0/mlflow/experiments/create", json={"name": "promo"}, headers=alice
    ).json()["experiment_id"]
    run_id = client.post(
        "/api/2.0/mlflow/runs/create", json={"experiment_id": exp_id}, headers=alice
    ).json()["run"]["info"]["run_id"]
    assert (
        client.post(
            "/api/2.0/mlflow/registered-models/create", json={"name": "churn"}, headers=alice
        ).status_code
        == 200
    )
    mv = client.post(
        "/api/2.0/mlflow/model-versions/create",
        json={"name": "churn", "source": f"runs:/{run_id}/model", "run_id": run_id},
        headers=alice,
    )
    assert mv.status_code == 200, mv.text
    for user, level in (("carol", "MANAGE_PRODUCTION_VERSIONS"), ("dave", "EDIT")):
        client.post(
            "/api/2.0/mlflow/registered-models/permissions/create",
            json={"name": "churn", "username": user, "permission": level},
            headers=alice,
        ).raise_for_status()
    move = {
        "name": "churn",
        "version": "1",
        "stage": "Production",
        "archive_existing_versions": False,
    }
    for who in (bob, dave):
        refused = client.post(
            "/api/2.0/mlflow/model-versions/transition-stage", json=move, headers=who
        )
        assert refused.status_code == 403, refused.text
        message = refused.json()["message"]
        assert "MANAGE_PRODUCTION_VERSIONS" in message and "alice" in message, message
    ok = client.post("/api/2.0/mlflow/model-versions/transition-stage", json=move, headers=carol)
    assert ok.status_code == 200, ok.text
    assert ok.json()["model_version"]["current_stage"] == "Production"
    events = client.get(
        "/api/modelyard/v1/registered-models/history", params={"name": "churn"}, headers=bob
    ).json()["events"]
    moved = [e for e in events if e["action"] == "transition"]
    assert moved[0]["user_id"] == "carol"
    # EDIT moves between None and Archived but not out of Production.
    back = {**move, "stage": "Archived"}
    assert (
        client.post(
            "/api/2.0/mlflow/model-versions/transition-stage", json=back, headers=dave
        ).status_code
        == 403
    )
    # The protected alias 'champion' needs the Production right too; other aliases EDIT.
    alias = {"name": "churn", "alias": "champion", "version": "1"}
    assert (
        client.post("/api/2.0/mlflow/registered-models/alias", json=alias, headers=dave).status_code
        == 403
    )
    assert (
        client.post(
            "/api/2.0/mlflow/registered-models/alias",
            json={**alias, "alias": "candidate"},
            headers=dave,
        ).status_code
        == 200
    )
    assert (
        client.post(
            "/api/2.0/mlflow/registered-models/alias", json=alias, headers=carol
        ).status_code
        == 200
    )
    # Per-model protected aliases (MANAGE to change): now 'candidate' is protected.
    set_aliases = {"name": "churn", "aliases": ["candidate"]}
    assert (
        client.post(
            "/api/modelyard/v1/registered-models/protected-aliases", json=set_aliases, headers=dave
        ).status_code
        == 403
    )
    assert (
        client.post(
            "/api/modelyard/v1/registered-models/protected-aliases", json=set_aliases, headers=alice
        ).status_code
        == 200
    )
    assert (
        client.request(
            "DELETE",
            "/api/2.0/mlflow/registered-models/alias",
            json={"name": "churn", "alias": "candidate"},
            headers=dave,
        ).status_code
        == 403
    )


def test_auth_without_admin_password_refuses_to_start(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "modelyard.cli",
            "server",
            "--auth",
            "--port",
            str(free_port()),
            "--backend-store-uri",
            f"sqlite:///{tmp_path / 'db.sqlite'}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={k: v for k, v in __import__("os").environ.items() if "ADMIN" not in k},
    )
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines == [lines[-1]] and "MODELYARD_ADMIN_PASSWORD" in lines[-1]


def test_admin_api_is_admin_only(client: httpx.Client, people: dict) -> None:
    bob = basic("bob")
    assert (
        client.post(
            "/api/2.0/mlflow/users/create",
            json={"username": "eve", "password": PASSWORD},
            headers=bob,
        ).status_code
        == 403
    )
    assert (
        client.get(
            "/api/2.0/mlflow/users/get", params={"username": "alice"}, headers=bob
        ).status_code
        == 403
    )
    me = client.get("/api/2.0/mlflow/users/get", params={"username": "bob"}, headers=bob).json()[
        "user"
    ]
    assert set(me) >= {
        "id",
        "username",
        "is_admin",
        "experiment_permissions",
        "registered_model_permissions",
        "scorer_permissions",
    }
    dup = client.post(
        "/api/2.0/mlflow/users/create",
        json={"username": "bob", "password": PASSWORD},
        headers=ADMIN_HEADERS,
    )
    assert dup.status_code == 400 and dup.json()["error_code"] == "RESOURCE_ALREADY_EXISTS"


def test_searches_return_only_readable_with_correct_pages(
    client: httpx.Client, people: dict
) -> None:
    """NO_PERMISSIONS hides experiments and models from searches, filtered in SQL so
    every page is full and the page tokens still reach every visible item."""
    make_user(client, "hidden-from")
    who = basic("hidden-from")
    names = [f"vis-{i}" for i in range(7)]
    ids = [api(client, "POST", "experiments/create", {"name": n})["experiment_id"] for n in names]
    for n in names:
        api(client, "POST", "registered-models/create", {"name": n})
    for i in (1, 2, 4):
        api(
            client,
            "POST",
            "experiments/permissions/create",
            {"experiment_id": ids[i], "username": "hidden-from", "permission": "NO_PERMISSIONS"},
        )
        api(
            client,
            "POST",
            "registered-models/permissions/create",
            {"name": names[i], "username": "hidden-from", "permission": "NO_PERMISSIONS"},
        )
    want = [names[i] for i in (0, 3, 5, 6)]

    def walk(path: str, key: str, field: str, params: dict) -> list[list[str]]:
        pages, token = [], None
        while True:
            query = {**params, "max_results": 2, **({"page_token": token} if token else {})}
            body = client.get(f"/api/2.0/mlflow/{path}", params=query, headers=who).json()
            pages.append([item[field] for item in body.get(key, [])])
            token = body.get("next_page_token")
            if not token:
                return pages

    exp_pages = walk(
        "experiments/search",
        "experiments",
        "name",
        {"filter": "name LIKE 'vis-%'", "order_by": "name ASC"},
    )
    assert exp_pages == [want[:2], want[2:]]
    model_pages = walk(
        "registered-models/search",
        "registered_models",
        "name",
        {"filter": "name LIKE 'vis-%'", "order_by": "name ASC"},
    )
    assert model_pages == [want[:2], want[2:]]
    # The admin still sees all seven.
    everything = client.get(
        "/api/2.0/mlflow/registered-models/search",
        params={"filter": "name LIKE 'vis-%'"},
        headers=ADMIN_HEADERS,
    ).json()
    assert len(everything["registered_models"]) == 7
    # And a hidden experiment is refused outright.
    refused = client.get(
        "/api/2.0/mlflow/experiments/get", params={"experiment_id": ids[1]}, headers=who
    )
    assert refused.status_code == 403


def test_classic_permission_routes_as_mlflow_2_clients_call_them(
    client: httpx.Client, people: dict
) -> None:
    """The 2.x AuthServiceClient's routes: create POST, get GET, update PATCH, delete DELETE."""
    make_user(client, "classic")
    exp_id = api(client, "POST", "experiments/create", {"name": "classic-exp"})["experiment_id"]
    api(client, "POST", "registered-models/create", {"name": "classic-model"})
    for kind, field, value, key in (
        ("experiments", "experiment_id", exp_id, "experiment_permission"),
        ("registered-models", "name", "classic-model", "registered_model_permission"),
    ):
        ident = {field: value, "username": "classic"}
        made = api(client, "POST", f"{kind}/permissions/create", {**ident, "permission": "EDIT"})
        assert made[key]["permission"] == "EDIT" and made[key][field] == value
        again = client.post(
            f"/api/2.0/mlflow/{kind}/permissions/create",
            json={**ident, "permission": "READ"},
            headers=ADMIN_HEADERS,
        )
        assert again.status_code == 400 and again.json()["error_code"] == "RESOURCE_ALREADY_EXISTS"
        api(client, "PATCH", f"{kind}/permissions/update", {**ident, "permission": "MANAGE"})
        assert api(client, "GET", f"{kind}/permissions/get", ident)[key]["permission"] == "MANAGE"
        bad = client.patch(
            f"/api/2.0/mlflow/{kind}/permissions/update",
            json={**ident, "permission": "OWNER"},
            headers=ADMIN_HEADERS,
        )
        assert bad.status_code == 400 and "Valid permissions are" in bad.json()["message"]
        api(client, "DELETE", f"{kind}/permissions/delete", ident)
        gone = client.get(
            f"/api/2.0/mlflow/{kind}/permissions/get", params=ident, headers=ADMIN_HEADERS
        )
        assert gone.status_code == 404 and gone.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    user = api(client, "GET", "users/get", {"username": "classic"})["user"]
    assert user["experiment_permissions"] == [] and user["registered_model_permissions"] == []
    # Changing one's own password needs the current one; an admin needs none.
    mine = basic("classic")
    no_current = client.patch(
        "/api/2.0/mlflow/users/update-password",
        json={"username": "classic", "password": "new-password-1"},
        headers=mine,
    )
    assert no_current.status_code == 400
    changed = client.patch(
        "/api/2.0/mlflow/users/update-password",
        json={"username": "classic", "password": "new-password-1", "current_password": PASSWORD},
        headers=mine,
    )
    assert changed.status_code == 200, changed.text
    assert _get_exp(client, basic("classic", "new-password-1")).status_code == 200
    assert _get_exp(client, mine).status_code == 401
    api(client, "PATCH", "users/update-password", {"username": "classic", "password": PASSWORD})
    assert _get_exp(client, mine).status_code == 200
