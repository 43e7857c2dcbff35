"""Who may manage webhooks with authentication on: admins any; a user with MANAGE
on a model that model's own (Databricks-style) webhooks; nobody else sees them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from servers import ServerProcess, modelyard_server

from auth.authkit import ADMIN_ENV, ADMIN_HEADERS, api, basic, make_user

# Disabled webhooks at a closed loopback port: nothing is ever sent anywhere.
TARGET = {"url": "http://127.0.0.1:9/hook"}
FLAGS = ["--auth", "--webhook-allow-http", "--webhook-allow-private"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir: Path = tmp_path_factory.mktemp("auth-webhooks")
    with modelyard_server(data_dir, extra_args=FLAGS, env=ADMIN_ENV) as s:
        yield s


def _create(client: httpx.Client, headers: dict[str, str], model: str | None) -> httpx.Response:
    body = {
        "events": ["MODEL_VERSION_CREATED"],
        "http_url_spec": TARGET,
        "status": "DISABLED",
        **({"model_name": model} if model else {}),
    }
    return client.post("/api/2.0/mlflow/registry-webhooks/create", json=body, headers=headers)


def test_manage_on_the_model_or_admin(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for name in ("M", "N"):
            api(client, "POST", "registered-models/create", {"name": name})
        for user, level in (("owner", "MANAGE"), ("reader", "READ")):
            make_user(client, user)
            api(
                client,
                "POST",
                "registered-models/permissions/create",
                {"name": "M", "username": user, "permission": level},
            )
        mine = _create(client, basic("owner"), "M")
        assert mine.status_code == 200, mine.text
        mine_id = mine.json()["webhook"]["id"]
        wide = _create(client, basic("owner"), None)
        assert wide.status_code == 403 and "admin" in wide.json()["message"]
        mlflow_style = client.post(
            "/api/2.0/mlflow/webhooks",
            json={
                "name": "x",
                **TARGET,
                "status": "DISABLED",
                "events": [{"entity": "MODEL_VERSION", "action": "CREATED"}],
            },
            headers=basic("owner"),
        )
        assert mlflow_style.status_code == 403
        refused = _create(client, basic("reader"), "M")
        assert refused.status_code == 403 and "MANAGE" in refused.json()["message"]
        assert _create(client, basic("owner"), "N").status_code == 403
        admin_wide = _create(client, ADMIN_HEADERS, None)
        assert admin_wide.status_code == 200
        listed = client.get("/api/2.0/mlflow/registry-webhooks/list", headers=basic("owner"))
        assert [w["id"] for w in listed.json()["webhooks"]] == [mine_id]
        everything = client.get("/api/2.0/mlflow/registry-webhooks/list", headers=ADMIN_HEADERS)
        assert len(everything.json()["webhooks"]) == 2
        hidden = client.get(
            f"/api/2.0/mlflow/webhooks/{mine_id}/deliveries", headers=basic("reader")
        )
        assert hidden.status_code == 404
        seen = client.get(f"/api/2.0/mlflow/webhooks/{mine_id}/deliveries", headers=basic("owner"))
        assert seen.status_code == 200
        anonymous = client.get("/api/2.0/mlflow/registry-webhooks/list")
        assert anonymous.status_code == 401
