"""The model registry over real HTTP: `create_app` served by uvicorn in a thread.

Covers MLflow's registered-models, model-versions and logged-models endpoints
(JSON shapes, error codes and messages), the seed's stage rule, source
validation, modelyard's history/stage-holder/rollback routes, the stock 3.x
client's flows (a logged sklearn model, and the seed's plain folder) and the
concurrency guarantees with two app instances sharing one database.
"""

from __future__ import annotations

import base64
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn
from servers import throwaway_postgres

from modelyard.app import create_app
from modelyard.settings import Settings

T = TypeVar("T")
API = "/api/2.0/mlflow"
MY = "/api/modelyard/v1/registered-models"


@contextmanager
def serve(settings: Settings) -> Iterator[str]:
    """The app on a socket that is listening before the thread starts."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    host, port = sock.getsockname()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def settings_for(data_dir: Path, store_uri: str | None = None, **kw: Any) -> Settings:
    return Settings(
        backend_store_uri=store_uri or f"sqlite:///{data_dir / 'modelyard.db'}",
        artifacts_destination=str(data_dir / "artifacts"),
        **kw,
    )


class Api:
    """A JSON client that returns (status, body) and names MLflow's paths briefly."""

    def __init__(self, url: str, user: str | None = None) -> None:
        headers = {}
        if user:
            token = base64.b64encode(f"{user}:pw".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=60, headers=headers)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        full = path if path.startswith("/") else f"{API}/{path}"
        if method == "GET":
            r = self.http.request(method, full, params=body)
        else:
            r = self.http.request(method, full, json=body or {})
        return r.status_code, r.json()

    def ok(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        status, out = self.call(method, path, body)
        assert status == 200, out
        return out

    def error(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        status, out = self.call(method, path, body)
        assert status != 200, out
        return status, out["error_code"], out["message"]

    def run(self, experiment: str = "0") -> dict[str, Any]:
        info: dict[str, Any] = self.ok("POST", "runs/create", {"experiment_id": experiment})["run"][
            "info"
        ]
        return info

    def version(self, name: str, run: dict[str, Any], path: str = "model") -> dict[str, Any]:
        src = f"runs:/{run['run_id']}/{path}"
        mv: dict[str, Any] = self.ok(
            "POST", "model-versions/create", {"name": name, "source": src, "run_id": run["run_id"]}
        )["model_version"]
        return mv

    def stage(self, name: str, version: str, stage: str, archive: bool = False) -> dict[str, Any]:
        mv: dict[str, Any] = self.ok(
            "POST",
            "model-versions/transition-stage",
            {
                "name": name,
                "version": version,
                "stage": stage,
                "archive_existing_versions": archive,
            },
        )["model_version"]
        return mv

    def stages(self, name: str) -> dict[str, str]:
        out = self.ok("GET", "model-versions/search", {"filter": f"name = '{name}'"})
        return {mv["version"]: mv["current_stage"] for mv in out.get("model_versions", [])}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve(settings_for(tmp_path_factory.mktemp("registry"))) as url:
        yield url


@pytest.fixture
def make_api(server: str) -> Iterator[Callable[..., Api]]:
    """Clients for the module's server (as a given user), closed after the test."""
    made: list[Api] = []

    def make(user: str | None = None, url: str | None = None) -> Api:
        made.append(Api(url or server, user))
        return made[-1]

    yield make
    for api in made:
        api.http.close()


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    return make_api()


_counter = iter(range(1_000_000))


@pytest.fixture
def name() -> str:
    """A fresh model name per test (the server is shared by the module)."""
    return f"model-{next(_counter)}"


# -- registered models -------------------------------------------------------------


def test_registered_model_crud_and_shapes(api: Api, name: str) -> None:
    rm = api.ok(
        "POST",
        "registered-models/create",
        {"name": name, "tags": [{"key": "team", "value": "a"}], "description": "d"},
    )["registered_model"]
    assert set(rm) == {
        "name",
        "creation_timestamp",
        "last_updated_timestamp",
        "description",
        "tags",
    }
    assert rm["tags"] == [{"key": "team", "value": "a"}]
    assert api.error("POST", "registered-models/create", {"name": name}) == (
        400,
        "RESOURCE_ALREADY_EXISTS",
        f"Registered Model (name={name}) already exists.",
    )
    assert api.error("GET", "registered-models/get", {"name": "nope-x"}) == (
        404,
        "RESOURCE_DOES_NOT_EXIST",
        "Registered Model with name=nope-x not found",
    )
    status, code, message = api.error("POST", "registered-models/create", {"name": "a/b"})
    assert (status, code) == (400, "INVALID_PARAMETER_VALUE") and "cannot contain" in message
    status, code, message = api.error("POST", "registered-models/create", {})
    assert "Missing value for required parameter 'name'" in message
    renamed = api.ok("POST", "registered-models/rename", {"name": name, "new_name": name + "-r"})
    assert renamed["registered_model"]["name"] == name + "-r"
    updated = api.ok(
        "PATCH", "registered-models/update", {"name": name + "-r", "description": "new"}
    )["registered_model"]
    assert updated["description"] == "new"
    api.ok("POST", "registered-models/set-tag", {"name": name + "-r", "key": "k", "value": "v"})
    api.ok("DELETE", "registered-models/delete-tag", {"name": name + "-r", "key": "team"})
    got = api.ok("GET", "registered-models/get", {"name": name + "-r"})["registered_model"]
    assert got["tags"] == [{"key": "k", "value": "v"}]
    api.ok("DELETE", "registered-models/delete", {"name": name + "-r"})
    assert api.error("DELETE", "registered-models/delete", {"name": name + "-r"})[0] == 404


def test_search_registered_models_pages_and_limits(api: Api, name: str) -> None:
    for i in range(5):
        api.ok("POST", "registered-models/create", {"name": f"{name}-s{i}"})
    seen: list[str] = []
    token: str | None = None
    while True:
        body: dict[str, Any] = {"filter": f"name LIKE '{name}-s%'", "max_results": 2}
        if token:
            body["page_token"] = token
        out = api.ok("GET", "registered-models/search", body)
        seen.extend(rm["name"] for rm in out.get("registered_models", []))
        token = out.get("next_page_token")
        if not token:
            break
    assert seen == [f"{name}-s{i}" for i in range(5)]
    desc = api.ok(
        "GET",
        "registered-models/search",
        {"filter": f"name LIKE '{name}-s%'", "order_by": ["name DESC"], "max_results": 1},
    )
    assert desc["registered_models"][0]["name"] == f"{name}-s4"
    status, code, message = api.error("GET", "registered-models/search", {"max_results": 1001})
    assert (status, code) == (400, "INVALID_PARAMETER_VALUE") and "at most 1000" in message
    assert api.error("GET", "registered-models/search", {"filter": "foo = 'x'"})[1] == (
        "INVALID_PARAMETER_VALUE"
    )


# -- model versions ---------------------------------------------------------------------


def test_model_version_lifecycle(api: Api, name: str) -> None:
    api.ok("POST", "registered-models/create", {"name": name})
    run = api.run()
    mv = api.version(name, run)
    assert mv == {
        "name": name,
        "version": "1",
        "creation_timestamp": mv["creation_timestamp"],
        "last_updated_timestamp": mv["creation_timestamp"],
        "current_stage": "None",
        "description": "",
        "source": f"runs:/{run['run_id']}/model",
        "run_id": run["run_id"],
        "status": "READY",
        "run_link": "",
    }
    assert api.version(name, run)["version"] == "2"
    api.ok("DELETE", "model-versions/delete", {"name": name, "version": "2"})
    assert api.version(name, run)["version"] == "3"  # numbers are never reused
    assert api.error("GET", "model-versions/get", {"name": name, "version": "2"}) == (
        404,
        "RESOURCE_DOES_NOT_EXIST",
        f"Model Version (name={name}, version=2) not found",
    )
    assert api.error("GET", "model-versions/get", {"name": name, "version": "x"}) == (
        400,
        "INVALID_PARAMETER_VALUE",
        "Parameter 'version' must be an integer, got 'x'.",
    )
    updated = api.ok(
        "PATCH", "model-versions/update", {"name": name, "version": "1", "description": "hi"}
    )["model_version"]
    assert updated["description"] == "hi"
    api.ok(
        "POST", "model-versions/set-tag", {"name": name, "version": "1", "key": "k", "value": "v"}
    )
    got = api.ok("GET", "model-versions/get", {"name": name, "version": "1"})["model_version"]
    assert got["tags"] == [{"key": "k", "value": "v"}]
    api.ok("DELETE", "model-versions/delete-tag", {"name": name, "version": "1", "key": "k"})
    uri = api.ok("GET", "model-versions/get-download-uri", {"name": name, "version": "1"})
    assert uri == {"artifact_uri": f"runs:/{run['run_id']}/model"}
    found = api.ok("GET", "model-versions/search", {"filter": f"run_id = '{run['run_id']}'"})
    # Newest update first: version 1's description changed after 3 was made.
    assert [mv["version"] for mv in found["model_versions"]] == ["1", "3"]
    assert api.error("POST", "model-versions/create", {"name": "nope-y", "source": "x"})[0] in (
        400,
        404,
    )


def test_stages_follow_the_seed_rule(api: Api, name: str) -> None:
    api.ok("POST", "registered-models/create", {"name": name})
    run = api.run()
    for _ in range(4):
        api.version(name, run)
    assert api.stage(name, "1", "production")["current_stage"] == "Production"
    # archive_existing_versions=false is overruled: Production holds one version.
    api.stage(name, "2", "Production", archive=False)
    api.stage(name, "3", "STAGING")
    api.stage(name, "4", "staging")
    assert api.stages(name) == {"1": "Archived", "2": "Production", "3": "Archived", "4": "Staging"}
    assert api.error(
        "POST",
        "model-versions/transition-stage",
        {"name": name, "version": "1", "stage": "bogus", "archive_existing_versions": False},
    ) == (
        400,
        "INVALID_PARAMETER_VALUE",
        "Invalid Model Version stage: bogus. Value must be one of None, Staging, Production, "
        "Archived.",
    )
    latest = api.ok(
        "POST", "registered-models/get-latest-versions", {"name": name, "stages": ["Production"]}
    )
    assert [mv["version"] for mv in latest["model_versions"]] == ["2"]
    latest_all = api.ok("GET", "registered-models/get-latest-versions", {"name": name})
    assert {(mv["current_stage"], mv["version"]) for mv in latest_all["model_versions"]} == {
        ("Archived", "3"),
        ("Production", "2"),
        ("Staging", "4"),
    }


def test_mlflow_stage_policy_is_permissive(tmp_path: Path, make_api: Callable[..., Api]) -> None:
    with serve(settings_for(tmp_path, stage_policy="mlflow")) as url:
        api = make_api(url=url)
        api.ok("POST", "registered-models/create", {"name": "m"})
        run = api.run()
        for _ in range(3):
            api.version("m", run)
        api.stage("m", "1", "Production")
        api.stage("m", "2", "Production")
        assert api.stages("m") == {"1": "Production", "2": "Production", "3": "None"}
        api.stage("m", "3", "Production", archive=True)
        assert api.stages("m") == {"1": "Archived", "2": "Archived", "3": "Production"}


def test_aliases(api: Api, name: str) -> None:
    api.ok("POST", "registered-models/create", {"name": name})
    run = api.run()
    api.version(name, run)
    api.version(name, run)
    api.ok("POST", "registered-models/alias", {"name": name, "alias": "champ", "version": "1"})
    api.ok("POST", "registered-models/alias", {"name": name, "alias": "champ", "version": "2"})
    mv = api.ok("GET", "registered-models/alias", {"name": name, "alias": "champ"})
    assert mv["model_version"]["version"] == "2" and mv["model_version"]["aliases"] == ["champ"]
    rm = api.ok("GET", "registered-models/get", {"name": name})["registered_model"]
    assert rm["aliases"] == [{"alias": "champ", "version": "2"}]
    latest = api.ok("GET", "registered-models/alias", {"name": name, "alias": "latest"})
    assert latest["model_version"]["version"] == "2"
    for bad, message in (
        ("latest", "'latest' alias name (case insensitive) is reserved."),
        ("v1", "Version alias name 'v1' is reserved."),
        (
            "a b",
            "Invalid alias name: 'a b'. Names may only contain alphanumerics, "
            "underscores (_), and dashes (-).",
        ),
    ):
        assert api.error(
            "POST", "registered-models/alias", {"name": name, "alias": bad, "version": "1"}
        ) == (400, "INVALID_PARAMETER_VALUE", message)
    api.ok("DELETE", "registered-models/alias", {"name": name, "alias": "champ"})
    assert api.error("GET", "registered-models/alias", {"name": name, "alias": "champ"}) == (
        400,
        "INVALID_PARAMETER_VALUE",
        "Registered model alias champ not found.",
    )


# -- promotion history ----------------------------------------------------------------------


def test_history_stage_holder_and_rollback(make_api: Callable[..., Api], name: str) -> None:
    alice, bob = make_api("alice"), make_api("bob")
    alice.ok("POST", "registered-models/create", {"name": name})
    run = alice.run()
    for _ in range(3):
        alice.version(name, run)
    alice.ok(
        "POST",
        "model-versions/transition-stage",
        {"name": name, "version": "1", "stage": "Production", "comment": "first release"},
    )
    v2 = bob.stage(name, "2", "Production")
    bob.ok("POST", "registered-models/alias", {"name": name, "alias": "champ", "version": "2"})
    events = alice.ok("GET", f"{MY}/history", {"name": name})["events"]
    assert [(e["action"], e["version"], e.get("to_stage"), e.get("user_id")) for e in events] == [
        ("alias_set", "2", None, "bob"),
        ("transition", "2", "Production", "bob"),
        ("transition", "1", "Archived", "bob"),
        ("transition", "1", "Production", "alice"),
        ("created", "3", "None", "alice"),
        ("created", "2", "None", "alice"),
        ("created", "1", "None", "alice"),
    ]
    assert events[3]["comment"] == "first release" and events[2]["cause"] == "displaced"
    page = alice.ok("GET", f"{MY}/history", {"name": name, "version": "1", "max_results": 2})
    assert len(page["events"]) == 2 and "next_page_token" in page
    # Which version held Production at a given time.
    t2 = v2["last_updated_timestamp"]
    holder = alice.ok("GET", f"{MY}/stage-holder", {"name": name, "stage": "production", "at": t2})
    assert (holder["stage"], holder["version"], holder["since"]) == ("Production", "2", t2)
    assert holder["model_version"]["current_stage"] == "Production"
    before = alice.ok("GET", f"{MY}/stage-holder", {"name": name, "stage": "Staging", "at": t2})
    assert "version" not in before
    # Roll back: version 1 returns, version 2 is archived, and it is recorded.
    back = make_api("ops").ok(
        "POST", f"{MY}/rollback", {"name": name, "stage": "Production", "comment": "bad model"}
    )
    assert back["model_version"]["version"] == "1"
    assert alice.stages(name) == {"1": "Production", "2": "Archived", "3": "None"}
    last = alice.ok("GET", f"{MY}/history", {"name": name, "max_results": 1})["events"][0]
    assert (last["cause"], last["user_id"], last["comment"]) == ("rollback", "ops", "bad model")
    # The UI's path family serves the same routes.
    ajax = alice.http.get(f"/ajax-api/modelyard/v1/registered-models/history?name={name}")
    assert ajax.status_code == 200 and ajax.json()["events"][0]["cause"] == "rollback"
    fresh = name + "-fresh"
    alice.ok("POST", "registered-models/create", {"name": fresh})
    assert alice.error("POST", f"{MY}/rollback", {"name": fresh, "stage": "Production"})[1] == (
        "INVALID_STATE"
    )
    assert alice.error("POST", f"{MY}/rollback", {"name": fresh, "stage": "None"})[1] == (
        "INVALID_PARAMETER_VALUE"
    )


# -- sources -------------------------------------------------------------------------------------


def test_source_validation(api: Api, name: str) -> None:
    api.ok("POST", "registered-models/create", {"name": name})
    run, other = api.run(), api.run()
    rid = run["run_id"]

    def refused(source: str, **ids: str) -> str:
        status, code, message = api.error(
            "POST", "model-versions/create", {"name": name, "source": source, **ids}
        )
        assert (status, code) == (400, "INVALID_PARAMETER_VALUE"), message
        assert message.startswith(f"Invalid model version source: '{source}'")
        return message

    refused("/etc")
    refused("/etc", run_id=rid)
    refused("file:///etc/passwd", run_id=rid)
    refused("s3://bucket/model")
    refused(f"runs:/{rid}/../../etc")
    refused(f"runs:/{rid}/%2e%2e/x")
    refused(f"runs:/{rid}/%252e%252e/x")
    refused(f"runs:/{rid}/./model")
    refused(f"runs:/{rid}/model", run_id=other["run_id"])
    refused("runs:/0123456789abcdef0123456789abcdef/model")
    refused("mlflow-artifacts:/0/elsewhere/artifacts", run_id=rid)
    refused(f"{run['artifact_uri']}/../../other", run_id=rid)
    refused("models:/m-doesnotexist")
    # As MLflow: a copy of a version that does not exist is a missing resource.
    assert api.error(
        "POST", "model-versions/create", {"name": name, "source": f"models:/{name}/7"}
    )[:2] == (404, "RESOURCE_DOES_NOT_EXIST")
    assert "NUL" in refused(f"runs:/{rid}/model%00")

    def accepted(source: str, **ids: str) -> dict[str, Any]:
        mv: dict[str, Any] = api.ok(
            "POST", "model-versions/create", {"name": name, "source": source, **ids}
        )["model_version"]
        return mv

    assert accepted(f"runs:/{rid}/model")["run_id"] == rid  # run_id may be left out
    assert accepted(f"{run['artifact_uri']}/model", run_id=rid)["run_id"] == rid
    seed = accepted(f"run:/{rid}")
    uri = api.ok(
        "GET", "model-versions/get-download-uri", {"name": name, "version": seed["version"]}
    )
    assert uri["artifact_uri"] == run["artifact_uri"]
    copy = accepted(f"models:/{name}/1")
    assert (copy["source"], copy["run_id"]) == (f"models:/{name}/1", rid)
    folder = accepted(f"models:/m-run-{rid}")
    assert folder["run_id"] == rid and folder["model_id"] == f"m-run-{rid}"


# -- logged models ---------------------------------------------------------------------------------


def test_logged_models(api: Api) -> None:
    exp = api.ok("POST", "experiments/create", {"name": "lm-exp"})["experiment_id"]
    run = api.run(exp)
    created = api.ok(
        "POST",
        "logged-models",
        {
            "experiment_id": exp,
            "name": "model",
            "source_run_id": run["run_id"],
            "model_type": "sklearn",
            "params": [{"key": "alpha", "value": "0.1"}],
            "tags": [{"key": "t", "value": "1"}],
        },
    )["model"]
    info = created["info"]
    model_id = info["model_id"]
    assert model_id.startswith("m-")
    assert info["artifact_uri"] == f"mlflow-artifacts:/{exp}/models/{model_id}/artifacts"
    assert info["status"] == "LOGGED_MODEL_PENDING"
    assert created["data"] == {"params": [{"key": "alpha", "value": "0.1"}]}
    done = api.ok(
        "PATCH", f"logged-models/{model_id}", {"model_id": model_id, "status": "LOGGED_MODEL_READY"}
    )
    assert done["model"]["info"]["status"] == "LOGGED_MODEL_READY"
    api.ok("PATCH", f"logged-models/{model_id}/tags", {"tags": [{"key": "u", "value": "2"}]})
    api.ok("POST", f"logged-models/{model_id}/params", {"params": [{"key": "l1", "value": "0"}]})
    api.ok("DELETE", f"logged-models/{model_id}/tags/t")
    assert api.error("DELETE", f"logged-models/{model_id}/tags/t")[0] == 404
    got = api.ok("GET", f"logged-models/{model_id}")["model"]
    assert got["info"]["tags"] == [{"key": "u", "value": "2"}]
    assert got["data"]["params"] == [
        {"key": "alpha", "value": "0.1"},
        {"key": "l1", "value": "0"},
    ]
    found = api.ok(
        "POST",
        "logged-models/search",
        {
            "experiment_ids": [exp],
            "filter": "name = 'model' AND params.alpha = '0.1'",
            "order_by": [{"field_name": "creation_timestamp", "ascending": False}],
        },
    )
    assert [m["info"]["model_id"] for m in found["models"]] == [model_id]
    # Files: uploaded through the artifact proxy, listed and fetched per model.
    put = api.http.put(
        f"/api/2.0/mlflow-artifacts/artifacts/{exp}/models/{model_id}/artifacts/MLmodel",
        content=b"flavors: {}\n",
    )
    assert put.status_code == 200
    listing = api.ok("GET", f"logged-models/{model_id}/artifacts/directories")
    assert listing["files"] == [{"path": "MLmodel", "is_dir": False, "file_size": 12}]
    blob = api.http.get(
        f"/ajax-api/2.0/mlflow/logged-models/{model_id}/artifacts/files",
        params={"artifact_file_path": "MLmodel"},
    )
    assert blob.status_code == 200 and blob.content == b"flavors: {}\n"
    api.ok("DELETE", f"logged-models/{model_id}")
    assert api.error("GET", f"logged-models/{model_id}") == (
        404,
        "RESOURCE_DOES_NOT_EXIST",
        f"Logged model with ID '{model_id}' not found.",
    )
    assert api.ok("GET", f"logged-models/{model_id}", {"allow_deleted": "true"})["model"]


def test_run_root_lookup_offers_the_run_folder(api: Api, name: str) -> None:
    exp = api.ok("POST", "experiments/create", {"name": f"{name}-exp"})["experiment_id"]
    runs = [api.run(exp) for _ in range(3)]
    found = api.ok(
        "POST", "logged-models/search", {"experiment_ids": [exp], "filter": "name = 'None'"}
    )
    ids = {m["info"]["model_id"] for m in found["models"]}
    assert ids == {f"m-run-{r['run_id']}" for r in runs}
    page = api.ok(
        "POST",
        "logged-models/search",
        {"experiment_ids": [exp], "filter": "name = 'None'", "max_results": 2},
    )
    rest = api.ok(
        "POST",
        "logged-models/search",
        {
            "experiment_ids": [exp],
            "filter": "name = 'None'",
            "max_results": 2,
            "page_token": page["next_page_token"],
        },
    )
    assert {m["info"]["model_id"] for m in page["models"] + rest["models"]} == ids
    assert "next_page_token" not in rest
    # A real model of that name comes first; paging one by one sees everything once.
    real = api.ok("POST", "logged-models", {"experiment_id": exp, "name": "None"})["model"]
    seen: list[str] = []
    token = None
    while True:
        body: dict[str, Any] = {
            "experiment_ids": [exp],
            "filter": "name = 'None'",
            "max_results": 1,
        }
        if token:
            body["page_token"] = token
        out = api.ok("POST", "logged-models/search", body)
        seen.extend(m["info"]["model_id"] for m in out.get("models", []))
        token = out.get("next_page_token")
        if not token:
            break
    assert seen[0] == real["info"]["model_id"] and sorted(seen[1:]) == sorted(ids)
    one = api.ok(
        "POST",
        "logged-models/search",
        {
            "experiment_ids": [exp],
            "filter": f"source_run_id = '{runs[1]['run_id']}' AND name = 'None'",
        },
    )
    (model,) = one["models"]
    assert model["info"]["artifact_uri"] == runs[1]["artifact_uri"]
    # Any other search leaves run folders out.
    listed = api.ok("POST", "logged-models/search", {"experiment_ids": [exp]})["models"]
    assert [m["info"]["model_id"] for m in listed] == [real["info"]["model_id"]]
    got = api.ok("GET", f"logged-models/m-run-{runs[0]['run_id']}")["model"]["info"]
    assert got["source_run_id"] == runs[0]["run_id"]


def test_model_version_get_artifact(api: Api, name: str) -> None:
    run = api.run()
    root = run["artifact_uri"].removeprefix("mlflow-artifacts:")
    put = api.http.put(f"/api/2.0/mlflow-artifacts/artifacts{root}/weights.bin", content=b"w1")
    assert put.status_code == 200
    api.ok("POST", "registered-models/create", {"name": name})
    api.ok("POST", "model-versions/create", {"name": name, "source": f"run:/{run['run_id']}"})
    api.ok(
        "POST",
        "model-versions/create",
        {"name": name, "source": f"runs:/{run['run_id']}", "run_id": run["run_id"]},
    )
    for version in ("1", "2"):
        r = api.http.get(
            "/model-versions/get-artifact",
            params={"name": name, "version": version, "path": "weights.bin"},
        )
        assert (r.status_code, r.content) == (200, b"w1")
    r = api.http.get(
        "/model-versions/get-artifact", params={"name": name, "version": "1", "path": "../x"}
    )
    assert r.status_code == 400


# -- the stock MLflow 3 client --------------------------------------------------------------------


@pytest.fixture
def mlflow_at(server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", server)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    mlflow.set_tracking_uri(server)
    yield mlflow
    while mlflow.active_run() is not None:
        mlflow.end_run()


def test_stock_client_logs_registers_and_loads_a_model(mlflow_at: Any, name: str) -> None:
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    mlflow = mlflow_at
    x = np.array([[0.0], [1.0], [2.0], [3.0]])
    model = LogisticRegression().fit(x, np.array([0, 0, 1, 1]))
    with mlflow.start_run():
        # Explicit requirements spare the client its dependency-inference subprocess.
        info = mlflow.sklearn.log_model(
            model, name="model", registered_model_name=name, pip_requirements=["scikit-learn"]
        )
    client = mlflow.MlflowClient()
    client.transition_model_version_stage(name, info.registered_model_version, "Production")
    loaded = mlflow.pyfunc.load_model(f"models:/{name}/Production")
    assert list(loaded.predict(x)) == [0, 0, 1, 1]
    mv = client.get_model_version(name, info.registered_model_version)
    assert mv.source == f"models:/{info.model_id}"
    assert "mlflow.modelVersions" in client.get_logged_model(info.model_id).tags


def test_stock_client_registers_the_seeds_plain_folder(
    mlflow_at: Any, name: str, tmp_path: Path
) -> None:
    mlflow = mlflow_at
    folder = tmp_path / "output_model"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(b"\x00\x01")
    (folder / "config.json").write_text("{}")
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(folder))
        seed = mlflow.register_model(f"run:/{run.info.run_id}", name)  # the seed's spelling
        proper = mlflow.register_model(f"runs:/{run.info.run_id}", name)
    assert (seed.name, seed.version, proper.version) == (name, "1", "2")
    client = mlflow.MlflowClient()
    client.transition_model_version_stage(name, seed.version, stage="Staging")
    client.transition_model_version_stage(name, proper.version, stage="Staging")
    assert {v.version: v.current_stage for v in client.search_model_versions(f"name='{name}'")} == {
        "1": "Archived",
        "2": "Staging",
    }
    for uri in (f"models:/{name}/1", f"models:/{name}/Staging"):
        local = Path(mlflow.artifacts.download_artifacts(uri, dst_path=str(tmp_path / "dl")))
        assert sorted(p.name for p in local.iterdir()) == ["config.json", "weights.bin"]
        assert (local / "weights.bin").read_bytes() == b"\x00\x01"


# -- concurrency across two app instances ------------------------------------------------------


def run_threads(n: int, work: Callable[[int], T]) -> list[T]:
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def body(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    return results


@pytest.fixture(params=["sqlite", "postgresql"])
def two_instances(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[Api]]:
    """Two apps (two connection pools, as two server processes) on one database."""

    @contextmanager
    def store_uri() -> Iterator[str]:
        if request.param == "sqlite":
            yield f"sqlite:///{tmp_path / 'shared.db'}"
        else:
            with throwaway_postgres() as url:
                yield url

    with store_uri() as uri:
        settings = settings_for(tmp_path, uri)
        with serve(settings) as first, serve(settings) as second:
            apis = [Api(first), Api(second)]
            yield apis
            for api in apis:
                api.http.close()


def test_concurrent_registrations_and_promotions(two_instances: list[Api]) -> None:
    a, _ = two_instances
    a.ok("POST", "registered-models/create", {"name": "m"})
    run = a.run()

    def register(i: int) -> list[int]:
        api = two_instances[i % 2]
        return [int(api.version("m", run)["version"]) for _ in range(5)]

    numbers = sorted(v for batch in run_threads(8, register) for v in batch)
    assert numbers == list(range(1, 41))

    def promote(i: int) -> None:
        two_instances[i % 2].stage("m", str(i + 1), "Production")

    run_threads(16, promote)
    final = a.stages("m")
    holders = [v for v, s in final.items() if s == "Production"]
    assert len(holders) == 1
    assert sorted(int(v) for v, s in final.items() if s == "Archived") == sorted(
        set(range(1, 17)) - {int(holders[0])}
    )
    assert all(s == "None" for v, s in final.items() if int(v) > 16)
