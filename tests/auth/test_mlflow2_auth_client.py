"""MLflow 2.x's `AuthServiceClient` against `modelyard server --auth`, unchanged.

One script, run once with the 2.x environment's python (see `tests/mlflow2.py`),
drives the 2.x basic-auth client as the admin (users, experiment and
registered-model permissions) and the 2.x `MlflowClient` as the new user (the
Production gate before and after a MANAGE grant), then prints what it saw as
JSON for the assertions here.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest
from mlflow2 import mlflow2_python  # noqa: F401  (the shared 2.x fixture)
from servers import ServerProcess

from auth.authkit import ADMIN

pytestmark = pytest.mark.timeout(600)

SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException
    from mlflow.server import get_app_client

    url, admin, admin_pw = sys.argv[1:4]
    out = {"client": mlflow.__version__}

    def as_(user, password):
        os.environ["MLFLOW_TRACKING_USERNAME"] = user
        os.environ["MLFLOW_TRACKING_PASSWORD"] = password

    def refused(call):
        try:
            call()
        except MlflowException as e:
            return {"code": e.error_code, "status": e.get_http_status_code()}
        return None


    as_(admin, admin_pw)
    auth = get_app_client("basic-auth", tracking_uri=url)
    out["auth_class"] = type(auth).__name__
    user = auth.create_user("vera", "vera-password-1")
    out["created"] = {"username": user.username, "is_admin": user.is_admin, "id": user.id}
    out["duplicate"] = refused(lambda: auth.create_user("vera", "vera-password-1"))

    admin_client = MlflowClient(tracking_uri=url)
    exp_id = admin_client.create_experiment("v2-auth")
    run = admin_client.create_run(exp_id)
    admin_client.create_registered_model("v2-model")
    mv = admin_client.create_model_version(
        "v2-model", f"runs:/{run.info.run_id}/model", run.info.run_id)

    e = auth.create_experiment_permission(exp_id, "vera", "READ")
    out["exp_created"] = {"experiment_id": e.experiment_id, "permission": e.permission,
                          "user_id": e.user_id}
    out["exp_get"] = auth.get_experiment_permission(exp_id, "vera").permission
    auth.update_experiment_permission(exp_id, "vera", "EDIT")
    out["exp_updated"] = auth.get_experiment_permission(exp_id, "vera").permission
    auth.delete_experiment_permission(exp_id, "vera")
    out["exp_after_delete"] = refused(lambda: auth.get_experiment_permission(exp_id, "vera"))

    r = auth.create_registered_model_permission("v2-model", "vera", "READ")
    out["rm_created"] = {"name": r.name, "permission": r.permission, "user_id": r.user_id}
    out["rm_get"] = auth.get_registered_model_permission("v2-model", "vera").permission
    auth.update_registered_model_permission("v2-model", "vera", "EDIT")
    out["rm_updated"] = auth.get_registered_model_permission("v2-model", "vera").permission
    auth.delete_registered_model_permission("v2-model", "vera")
    out["rm_after_delete"] = refused(
        lambda: auth.get_registered_model_permission("v2-model", "vera"))

    got = auth.get_user("vera")
    out["user"] = {"username": got.username, "id": got.id, "is_admin": got.is_admin,
                   "experiment_permissions": len(got.experiment_permissions),
                   "registered_model_permissions": len(got.registered_model_permissions)}
    auth.update_user_password("vera", "vera-password-2")

    as_("vera", "vera-password-1")
    out["old_password"] = refused(lambda: MlflowClient(tracking_uri=url).search_experiments())
    as_("vera", "vera-password-2")
    vera = MlflowClient(tracking_uri=url)
    promote = lambda: vera.transition_model_version_stage("v2-model", mv.version, "Production")
    out["promote_without_right"] = refused(promote)

    as_(admin, admin_pw)
    auth.create_registered_model_permission("v2-model", "vera", "MANAGE")
    as_("vera", "vera-password-2")
    out["promoted"] = promote().current_stage
    out["stage_seen_by_vera"] = vera.get_model_version("v2-model", mv.version).current_stage
    print(json.dumps(out))
    """
)


def test_mlflow2_auth_client_users_permissions_and_the_production_gate(
    mlflow2_python: Path,  # noqa: F811
    sqlite_auth_server: ServerProcess,
    tmp_path: Path,
) -> None:
    (tmp_path / "auth2.py").write_text(SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.pop("PYTHONPATH", None)
    env["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
    done = subprocess.run(
        [str(mlflow2_python), "auth2.py", sqlite_auth_server.url, *ADMIN],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["client"].startswith("2.22")
    assert out["auth_class"] == "AuthServiceClient"
    assert out["created"]["username"] == "vera" and out["created"]["is_admin"] is False
    assert out["duplicate"] == {"code": "RESOURCE_ALREADY_EXISTS", "status": 400}
    user_id = out["created"]["id"]
    assert out["exp_created"]["permission"] == "READ"
    assert out["exp_created"]["user_id"] == user_id
    assert (out["exp_get"], out["exp_updated"]) == ("READ", "EDIT")
    assert out["exp_after_delete"] == {"code": "RESOURCE_DOES_NOT_EXIST", "status": 404}
    assert out["rm_created"] == {"name": "v2-model", "permission": "READ", "user_id": user_id}
    assert (out["rm_get"], out["rm_updated"]) == ("READ", "EDIT")
    assert out["rm_after_delete"] == {"code": "RESOURCE_DOES_NOT_EXIST", "status": 404}
    assert out["user"] == {
        "username": "vera",
        "id": user_id,
        "is_admin": False,
        "experiment_permissions": 0,
        "registered_model_permissions": 0,
    }
    assert out["old_password"] == {"code": "UNAUTHENTICATED", "status": 401}
    assert out["promote_without_right"] == {"code": "PERMISSION_DENIED", "status": 403}
    assert out["promoted"] == "Production"
    assert out["stage_seen_by_vera"] == "Production"
