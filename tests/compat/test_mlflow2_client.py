"""The seed's code with an MLflow 2.x client (mlflow-skinny 2.22), in a second
virtual environment the tests create (and reuse while its pin is unchanged)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import textwrap
from pathlib import Path

from mlflow2 import mlflow2_python  # noqa: F401  (the shared 2.x fixture)
from servers import ServerProcess

SEED = textwrap.dedent(
    """
    import json, os, sys
    import mlflow

    name = sys.argv[1]
    out = []
    for seed in (1, 2):
        os.makedirs(f"train{seed}/output_model/sub", exist_ok=True)
        os.chdir(f"train{seed}")
        with open("output_model/config.json", "w") as f:
            f.write(json.dumps({"seed": seed}))
        with open("output_model/sub/weights.bin", "wb") as f:
            f.write(bytes(range(256)) * (100 + seed))
        with mlflow.start_run() as run:
            mlflow.log_artifacts('output_model')
            model_uri = f'runs:/{run.info.run_id}'
            register_result = mlflow.register_model(model_uri, name)
            mlflow_client = mlflow.tracking.MlflowClient()
            mlflow_client.transition_model_version_stage(
                name=register_result.name, version=register_result.version, stage='Staging',
            )
        os.chdir("..")
        out.append({"version": register_result.version, "name": register_result.name})
    dst = mlflow.artifacts.download_artifacts(f"models:/{name}/Staging", dst_path="dl")
    stages = {v.version: v.current_stage
              for v in mlflow.tracking.MlflowClient().search_model_versions(f"name='{name}'")}
    print(json.dumps({"registered": out, "download": dst, "stages": stages,
                      "client": mlflow.__version__}))
    """
)


def test_seed_workflow_with_mlflow2_client(
    mlflow2_python: Path,  # noqa: F811
    live_server: ServerProcess,
    tmp_path: Path,
) -> None:
    name = f"mnist_test_{tmp_path.name[-8:]}"
    (tmp_path / "seed.py").write_text(SEED)
    env = {**os.environ, "MLFLOW_TRACKING_URI": live_server.url}
    env.pop("PYTHONPATH", None)
    done = subprocess.run(
        [str(mlflow2_python), "seed.py", name],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["client"].startswith("2.22")
    assert [r["version"] for r in result["registered"]] == ["1", "2"]
    assert result["stages"] == {"1": "Archived", "2": "Staging"}
    got = Path(result["download"])
    want = tmp_path / "train2" / "output_model"
    for rel in ("config.json", "sub/weights.bin"):
        assert (
            hashlib.sha256((got / rel).read_bytes()).digest()
            == hashlib.sha256((want / rel).read_bytes()).digest()
        ), rel
