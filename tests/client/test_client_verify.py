"""`modelyard models verify` and the light client's download check, against a live server
(SQLite and PostgreSQL): the seed's flow (log a folder, register from the run, promote),
then a frozen file damaged on the server's disk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from servers import ServerProcess

from modelyard.cli import main
from modelyard.client import Client
from modelyard.client.digests import DigestMismatch

from .helpers import unique


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_models_verify_and_download_check(
    live_server: ServerProcess, model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = live_server.url
    name = unique("mnist_test")
    with Client(url) as client:
        experiment = client.create_experiment(unique("exp"))
        run = client.create_run(experiment)
        client.log_artifacts(run.info.run_id, model_dir)
        mv = client.register_model(f"runs:/{run.info.run_id}", name)
        client.transition_model_version_stage(name, mv.version, "Production")

    code, out, err = run_cli(
        capsys, "models", "verify", f"{name}/Production", "--tracking-uri", url
    )
    assert (code, err) == (0, "")
    assert f"{name} version 1 (sha256:" in out and "4 frozen file(s) intact" in out

    weights = (
        live_server.data_dir
        / "artifacts"
        / experiment
        / run.info.run_id
        / "artifacts"
        / "weights.bin"
    )
    assert weights.is_file()
    weights.write_bytes(b"truncated")

    code, out, err = run_cli(
        capsys, "models", "verify", f"models:/{name}/1", "--json", "--tracking-uri", url
    )
    assert code == 1 and "does not match its manifest" in err
    result = json.loads(out)
    assert [(d["path"], d["problem"], d["found_size"]) for d in result["differences"]] == [
        ("weights.bin", "changed", 9)
    ]
    code, _, err = run_cli(
        capsys,
        "models",
        "download",
        f"{name}/Production",
        str(tmp_path / "dl"),
        "--tracking-uri",
        url,
    )
    assert code == 1 and "Integrity check failed" in err and "[DATA_LOSS]" in err
    with Client(url) as client, pytest.raises(DigestMismatch):
        client.download_model(f"models:/{name}/Production", tmp_path / "dl2")
