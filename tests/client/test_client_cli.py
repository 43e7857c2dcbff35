"""The `modelyard` client commands against live servers: tables and --json,
promotion and downloads, exit codes (0 ok, 1 server error, 2 usage, 3
unreachable), progress bars, and --help on every command. Most calls run
`modelyard.cli.main` in-process; a few run the installed command."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from servers import ServerProcess, free_port

from modelyard.cli import build_parser
from modelyard.client import Client
from modelyard.entities import Metric, Param

from .helpers import tree, unique

Result = tuple[int, str, str]
Cli = Callable[..., Result]


def _model_with_versions(url: str, model_dir: Path, n: int = 2) -> tuple[str, list[str]]:
    name = unique("mnist_test")
    runs = []
    with Client(url) as client:
        for i in range(n):
            run_id = client.create_run(client.create_experiment(unique("exp"))).info.run_id
            (model_dir / "version.txt").write_text(f"v{i + 1}\n")
            client.log_artifacts(run_id, model_dir)
            client.register_model(f"runs:/{run_id}", name)
            runs.append(run_id)
    return name, runs


def test_promote_list_show_and_download(
    live_server: ServerProcess, cli: Cli, model_dir: Path, tmp_path: Path
) -> None:
    url = live_server.url
    name, _ = _model_with_versions(url, model_dir)
    assert cli("models", "promote", name, "2", "--to", "staging", "--tracking-uri", url) == (
        0,
        f"{name} version 2 is now in Staging\n",
        "",
    )
    code, out, _ = cli("models", "list", "--filter", f"name = '{name}'", "--tracking-uri", url)
    header, row = out.splitlines()
    assert header.split() == ["NAME", "LATEST", "STAGING", "PRODUCTION", "ALIASES", "UPDATED"]
    assert row.split()[:4] == [name, "2", "2", "-"]
    code, out, _ = cli("models", "show", name, "--tracking-uri", url)
    assert code == 0 and "Versions" in out and "Staging" in out

    # Downloads by stage, version, alias and latest, byte for byte.
    assert cli("models", "alias", name, "champion", "1", "--tracking-uri", url)[0] == 0
    expected = tree(model_dir)  # version 2's files
    for spec, version in [
        (f"{name}/Staging", 2),
        (f"{name}/1", 1),
        (f"{name}@champion", 1),
        (name, 2),
        (f"models:/{name}/latest", 2),
    ]:
        dst = tmp_path / f"dl{abs(hash(spec))}"
        code, out, err = cli("models", "download", spec, str(dst), "--tracking-uri", url)
        assert (code, err) == (0, ""), err
        assert out.startswith(f"{name} version {version} ") and out.strip().endswith(str(dst))
        got = tree(dst)
        assert got.pop("version.txt") == f"v{version}\n".encode()
        assert got == {k: v for k, v in expected.items() if k != "version.txt"}

    code, out, _ = cli("models", "download", f"{name}/Staging", str(tmp_path / "j"), "--json",
                       "--tracking-uri", url)  # fmt: skip
    assert json.loads(out) == {
        "name": name,
        "version": 2,
        "stage": "Staging",
        "path": str(tmp_path / "j"),
    }


def test_history_rollback_alias_json(live_server: ServerProcess, cli: Cli, model_dir: Path) -> None:
    url = live_server.url
    name, _ = _model_with_versions(url, model_dir)
    for version in ("1", "2"):
        assert cli("models", "promote", name, version, "--to", "Production",
                   "--comment", f"release {version}", "--tracking-uri", url)[0] == 0  # fmt: skip
    code, out, _ = cli("models", "history", name, "--tracking-uri", url)
    assert code == 0
    assert "Production -> Archived" in out and "displaced" in out and "release 2" in out
    code, out, _ = cli("models", "rollback", name, "--tracking-uri", url)
    assert (code, out) == (0, f"{name}: Production rolled back to version 1\n")
    code, out, _ = cli("models", "history", name, "--version", "1", "--json", "--tracking-uri", url)
    events = json.loads(out)
    assert events[0]["cause"] == "rollback" and {e["version"] for e in events} == {1}
    code, out, _ = cli("models", "alias", name, "prod", "1", "--json", "--tracking-uri", url)
    assert json.loads(out)["aliases"] == ["prod"]
    assert cli("models", "alias", name, "prod", "--delete", "--tracking-uri", url)[0] == 0
    assert cli("models", "alias", name, "prod", "--tracking-uri", url)[0] == 2  # no VERSION


def test_errors_and_exit_codes(live_server: ServerProcess, cli: Cli, tmp_path: Path) -> None:
    url = live_server.url
    missing = unique("missing")
    code, out, err = cli("models", "show", missing, "--tracking-uri", url)
    assert (code, out) == (1, "") and missing in err and "RESOURCE_DOES_NOT_EXIST" in err
    code, _, err = cli("models", "download", f"{missing}/Production", str(tmp_path / "x"),
                       "--tracking-uri", url)  # fmt: skip
    assert code == 1 and missing in err
    assert not (tmp_path / "x").exists()
    code, _, err = cli("models", "promote", "m", "1", "--to", "Producton", "--tracking-uri", url)
    assert code == 2 and "invalid stage 'Producton'" in err
    code, _, err = cli("models", "promote", "m", "one", "--to", "Staging")
    assert code == 2 and "invalid version" in err
    code, _, err = cli("models", "download", "m/Producton", str(tmp_path), "--tracking-uri", url)
    assert code == 2 and "not a version number" in err
    code, _, err = cli("artifacts", "upload", "r", str(tmp_path / "nope"), "--tracking-uri", url)
    assert code == 2 and "No such file" in err
    dead = f"http://127.0.0.1:{free_port()}"
    code, _, err = cli("models", "list", "--tracking-uri", dead)
    assert code == 3 and f"Cannot reach the tracking server at {dead}" in err
    code, _, err = cli("models", "list", "--tracking-uri", "file:./mlruns")
    assert code == 2 and "not an http(s):// URL" in err


class TrackingCommands:
    """experiments / runs / artifacts commands; `url` is given per server below."""

    def test_experiments_runs_artifacts(
        self, url: str, cli: Cli, model_dir: Path, tmp_path: Path
    ) -> None:
        exp_name = unique("exp")
        with Client(url) as client:
            exp_id = client.create_experiment(exp_name)
            run_ids = []
            for acc in (0.5, 0.9):
                run_id = client.create_run(exp_id, run_name=f"acc{acc}").info.run_id
                client.log_batch(run_id, [Metric("acc", acc, 1, 0)], [Param("lr", "0.1")])
                client.set_terminated(run_id)
                run_ids.append(run_id)

        code, out, _ = cli("experiments", "list", "--tracking-uri", url)
        assert code == 0 and out.splitlines()[0].split()[:2] == ["ID", "NAME"]
        assert exp_name in out
        code, out, _ = cli("runs", "list", "-e", exp_name, "--filter", "metrics.acc > 0.7",
                           "--tracking-uri", url)  # fmt: skip
        assert code == 0 and run_ids[1] in out and run_ids[0] not in out
        code, out, _ = cli("runs", "list", "-e", exp_id, "--order-by", "metrics.acc ASC",
                           "--json", "--tracking-uri", url)  # fmt: skip
        assert [r["info"]["run_id"] for r in json.loads(out)] == run_ids
        code, out, _ = cli("runs", "show", run_ids[1], "--tracking-uri", url)
        assert code == 0 and "Params" in out and "acc" in out and "FINISHED" in out
        code, _, err = cli("runs", "list", "-e", exp_id, "--filter", "metrics.acc >>> 1",
                           "--tracking-uri", url)  # fmt: skip
        assert code == 1 and "INVALID_PARAMETER_VALUE" in err

        run_id = run_ids[0]
        code, out, err = cli("artifacts", "upload", run_id, str(model_dir), "--artifact-path",
                             "model", "--progress", "--tracking-uri", url)  # fmt: skip
        assert code == 0 and "100%" in err and "model" in out
        assert cli("artifacts", "upload", run_id, str(model_dir / "README.txt"),
                   "--tracking-uri", url)[0] == 0  # fmt: skip
        code, out, _ = cli("artifacts", "list", run_id, "--tracking-uri", url)
        assert {line.split()[0] for line in out.splitlines()[1:]} == {"model/", "README.txt"}
        code, _, err = cli("artifacts", "download", f"runs:/{run_id}/model", str(tmp_path / "m"),
                           "--tracking-uri", url)  # fmt: skip
        assert code == 0 and err == ""  # stderr is not a terminal: no progress bar
        assert tree(tmp_path / "m") == tree(model_dir)


class TestTrackingCommandsOnModelyard(TrackingCommands):
    @pytest.fixture
    def url(self, live_server: ServerProcess) -> str:
        return live_server.url


class TestTrackingCommandsOnStockMlflow(TrackingCommands):
    @pytest.fixture
    def url(self, mlflow_server: str) -> str:
        return mlflow_server


# -- help, and the real command ------------------------------------------------------
def _commands(
    parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()
) -> Iterator[tuple[str, ...]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*prefix, name)
                yield from _commands(sub, (*prefix, name))


CLIENT_GROUPS = ("experiments", "runs", "models", "artifacts")


def test_help_on_every_command(cli: Cli) -> None:
    commands = list(_commands(build_parser()))
    for group in CLIENT_GROUPS:
        assert (group,) in commands
    for expected in [("models", "promote"), ("models", "download"), ("models", "rollback"),
                     ("models", "history"), ("models", "alias"), ("runs", "show"),
                     ("artifacts", "upload"), ("artifacts", "download")]:  # fmt: skip
        assert expected in commands
    for command in commands:
        code, out, _ = cli(*command, "--help")
        assert code == 0 and out.startswith("usage: modelyard " + " ".join(command)), command
        if command[0] in CLIENT_GROUPS:
            assert "exit codes:" in out and "3  the tracking server could not be reached" in out


def _modelyard(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "modelyard.cli", *argv]
    return subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=60
    )


def test_installed_command_exit_codes(live_server: ServerProcess) -> None:
    env = {"MODELYARD_TRACKING_URI": live_server.url}
    done = _modelyard("models", "list", "--json", env=env)
    assert done.returncode == 0 and isinstance(json.loads(done.stdout), list)
    done = _modelyard("models", "show", unique("missing"), env=env)
    assert done.returncode == 1 and "not found" in done.stderr
    done = _modelyard("models", "promote", "m", "1", "--to", "Live", env=env)
    assert done.returncode == 2 and "invalid stage" in done.stderr
    dead = f"http://127.0.0.1:{free_port()}"
    done = _modelyard("experiments", "list", env={"MODELYARD_TRACKING_URI": dead})
    assert done.returncode == 3 and dead in done.stderr
