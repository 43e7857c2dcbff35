"""The stock mlflow 3.x client against `modelyard server --auth`, unchanged.

`mlflow.server.get_app_client("basic-auth", ...)` creates users, grants and
roles; `MlflowClient` with MLFLOW_TRACKING_USERNAME/PASSWORD or
MLFLOW_TRACKING_TOKEN does the work; a reader's promotion to Production is
refused, a Production promoter's succeeds, and the history names them.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException, RestException
from mlflow.server import get_app_client
from servers import ServerProcess

from auth.authkit import ADMIN, PASSWORD

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def as_user(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    def switch(
        username: str | None, password: str | None = PASSWORD, token: str | None = None
    ) -> None:
        for var in (
            "MLFLOW_TRACKING_USERNAME",
            "MLFLOW_TRACKING_PASSWORD",
            "MLFLOW_TRACKING_TOKEN",
        ):
            monkeypatch.delenv(var, raising=False)
        if username is not None:
            monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", username)
            monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password or "")
        if token is not None:
            monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)

    yield switch


def test_stock_client_users_grants_roles_and_the_production_gate(
    sqlite_auth_server: ServerProcess, as_user: object
) -> None:
    url = sqlite_auth_server.url
    switch = as_user  # type: ignore[assignment]
    switch(*ADMIN)  # type: ignore[operator]
    auth = get_app_client("basic-auth", tracking_uri=url)
    for name in ("rita", "pete", "tess"):
        user = auth.create_user(name, PASSWORD)
        assert user.username == name and not user.is_admin
    assert auth.get_user("rita").username == "rita"
    with pytest.raises(RestException) as dup:
        auth.create_user("rita", PASSWORD)
    assert dup.value.error_code == "RESOURCE_ALREADY_EXISTS"

    client = MlflowClient(tracking_uri=url)
    exp_id = client.create_experiment("gate")
    run = client.create_run(exp_id)
    client.create_registered_model("fraud")
    mv = client.create_model_version("fraud", f"runs:/{run.info.run_id}/model", run.info.run_id)

    # 3.x per-user grant: pete may promote to Production; rita keeps the default READ.
    auth.grant_user_permission("pete", "registered_model", "fraud", "MANAGE_PRODUCTION_VERSIONS")
    got = auth.get_user_permission("pete", "registered_model", "fraud")
    assert got.permission == "MANAGE_PRODUCTION_VERSIONS" and got.allowed
    assert auth.get_user_permission("rita", "registered_model", "fraud").permission == "READ"

    # A role gives tess EDIT on every registered model.
    role = auth.create_role("default", "ml-team", description="the team")
    perm = auth.add_role_permission(role.id, "registered_model", "*", "EDIT")
    assert perm.permission == "EDIT" and perm.resource_pattern == "*"
    auth.assign_role("tess", role.id)
    assert [r.name for r in auth.list_user_roles("tess")] == ["ml-team"]
    assert [a.user_id for a in auth.list_role_users(role.id)] == [auth.get_user("tess").id]
    assert auth.get_user_permission("tess", "registered_model", "fraud").permission == "EDIT"

    # The reader is refused, with the right named; the promoter succeeds.
    switch("rita")  # type: ignore[operator]
    reader = MlflowClient(tracking_uri=url)
    assert reader.get_model_version("fraud", mv.version).current_stage == "None"
    with pytest.raises(MlflowException) as refused:
        reader.transition_model_version_stage("fraud", mv.version, "Production")
    assert refused.value.error_code == "PERMISSION_DENIED"
    assert "MANAGE_PRODUCTION_VERSIONS" in refused.value.message
    switch("tess")  # type: ignore[operator]
    with pytest.raises(MlflowException):
        MlflowClient(tracking_uri=url).transition_model_version_stage(
            "fraud", mv.version, "Production"
        )
    switch("pete")  # type: ignore[operator]
    promoted = MlflowClient(tracking_uri=url).transition_model_version_stage(
        "fraud", mv.version, "Production"
    )
    assert promoted.current_stage == "Production"
    events = httpx.get(
        f"{url}/api/modelyard/v1/registered-models/history",
        params={"name": "fraud"},
        auth=("pete", PASSWORD),
    ).json()["events"]
    assert [e["user_id"] for e in events if e["action"] == "transition"] == ["pete"]

    # Admin operations by the stock client.
    switch(*ADMIN)  # type: ignore[operator]
    auth.update_user_admin("tess", True)
    assert auth.get_user("tess").is_admin
    auth.unassign_role("tess", role.id)
    auth.revoke_user_permission("pete", "registered_model", "fraud")
    assert auth.get_user_permission("pete", "registered_model", "fraud").permission == "READ"
    auth.delete_role(role.id)
    auth.delete_user("rita")
    with pytest.raises(RestException):
        auth.get_user("rita")


def test_mlflow_tracking_token(sqlite_auth_server: ServerProcess, as_user: object) -> None:
    url = sqlite_auth_server.url
    made = httpx.post(f"{url}/api/modelyard/v1/tokens/create", json={"name": "laptop"}, auth=ADMIN)
    assert made.status_code == 200, made.text
    switch = as_user  # type: ignore[assignment]
    switch(None, token=made.json()["secret"])  # type: ignore[operator]
    client = MlflowClient(tracking_uri=url)
    exp_id = client.create_experiment("by-token")
    assert client.get_experiment(exp_id).name == "by-token"
    switch(None, token="myd_not-a-real-token")  # type: ignore[operator]
    with pytest.raises(MlflowException) as bad:
        MlflowClient(tracking_uri=url).get_experiment(exp_id)
    assert "401" in str(bad.value) or "UNAUTHENTICATED" in str(bad.value)
