"""The `modelyard` command as a newcomer meets it: help everywhere with examples,
options before or after the command, experiment names for IDs, page counts and
chosen columns in `runs list`, usage errors for out-of-range values, readable
sizes, and a `promote` that says which version it archived."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from servers import ServerProcess, free_port

from modelyard.cli import build_parser
from modelyard.client import Client
from modelyard.entities import Metric, Param

from .helpers import unique
from .test_client_cli import CLIENT_GROUPS, Cli, _commands, _model_with_versions


def test_plain_modelyard_prints_help(cli: Cli) -> None:
    code, out, err = cli()
    assert code == 0 and err == ""
    assert out.startswith("usage: modelyard")
    for command in ("server", "runs", "models", "artifacts", "experiments"):
        assert f"\n    {command} " in out


def test_every_command_has_an_example_and_positional_help(cli: Cli) -> None:
    parser = build_parser()
    leaves = []
    for command in _commands(parser):
        sub = parser
        for name in command:
            action = next(a for a in sub._actions if isinstance(a, argparse._SubParsersAction))
            sub = action.choices[name]
        if any(isinstance(a, argparse._SubParsersAction) for a in sub._actions):
            continue  # a group: its commands are checked
        leaves.append(command)
        for action in sub._actions:
            if not action.option_strings:  # a positional argument
                assert action.help, (command, action.dest)
        code, out, _ = cli(*command, "--help")
        assert code == 0 and "example" in out, command
    assert ("runs", "list") in leaves and ("server",) in leaves and ("db", "upgrade") in leaves


def test_tracking_uri_before_or_after_the_command(live_server: ServerProcess, cli: Cli) -> None:
    name = unique("exp")
    with Client(live_server.url) as client:
        client.create_experiment(name)
    for argv in (
        ("--tracking-uri", live_server.url, "experiments", "list", "--json"),
        ("--tracking-uri", live_server.url, "--json", "experiments", "list"),
        ("experiments", "list", "--tracking-uri", live_server.url, "--json"),
    ):
        code, out, err = cli(*argv)
        assert code == 0, (argv, err)
        assert name in {e["name"] for e in json.loads(out)}
    dead = f"http://127.0.0.1:{free_port()}"
    code, _, err = cli("--tracking-uri", dead, "experiments", "list")
    assert code == 3 and dead in err
    # Given after the command too, the later value wins (argparse's usual rule).
    code, _, _ = cli(
        "--tracking-uri", dead, "experiments", "list", "--tracking-uri", live_server.url
    )
    assert code == 0


@pytest.fixture(scope="module")
def busy_experiment(live_server: ServerProcess) -> tuple[str, str]:
    """An experiment with 130 runs, each with an `acc` metric and an `lr` param."""
    name = unique("busy")
    with Client(live_server.url) as client:
        exp = client.create_experiment(name)
        for i in range(130):
            run_id = client.create_run(exp).info.run_id
            client.log_batch(
                run_id,
                metrics=[Metric("acc", i / 1000, 0, 0)],
                params=[Param("lr", f"0.{i:03d}")],
            )
    return name, exp


def test_runs_list_counts_pages_and_all(
    live_server: ServerProcess, cli: Cli, busy_experiment: tuple[str, str]
) -> None:
    name, exp_id = busy_experiment
    url = live_server.url
    code, out, err = cli("runs", "list", "-e", name, "--tracking-uri", url)
    assert code == 0, err
    assert "showing 100 of 130 runs" in out
    assert (
        len([line for line in out.splitlines() if line.startswith(tuple("0123456789abcdef"))])
        == 100
    )
    code, out, _ = cli("runs", "list", "-e", exp_id, "--all", "--json", "--tracking-uri", url)
    assert code == 0 and len(json.loads(out)) == 130
    code, out, _ = cli("runs", "list", "-e", name, "--all", "--tracking-uri", url)
    assert code == 0 and "showing" not in out
    code, out, _ = cli("runs", "list", "-e", name, "--max-results", "130", "--tracking-uri", url)
    assert code == 0 and "showing" not in out


def test_runs_list_columns(
    live_server: ServerProcess, cli: Cli, busy_experiment: tuple[str, str]
) -> None:
    name, _ = busy_experiment
    code, out, err = cli(
        "runs", "list", "-e", name, "--columns", "metrics.acc,params.lr",
        "--order-by", "metrics.acc DESC", "--max-results", "3", "--tracking-uri", live_server.url,
    )  # fmt: skip
    assert code == 0, err
    header, first = out.splitlines()[:2]
    assert header.split()[-2:] == ["metrics.acc", "params.lr"]
    assert first.split()[-2:] == ["0.129", "0.129"]
    code, _, err = cli("runs", "list", "--columns", "acc", "--tracking-uri", live_server.url)
    assert code == 2 and "metrics.KEY" in err


def test_unknown_experiment_name_is_a_usage_error(live_server: ServerProcess, cli: Cli) -> None:
    missing = unique("no_such_experiment")
    code, _, err = cli("runs", "list", "-e", missing, "--tracking-uri", live_server.url)
    assert code == 2 and missing in err


@pytest.mark.parametrize(
    "argv",
    [
        ("runs", "list", "--max-results", "0"),
        ("runs", "list", "--max-results", "-5"),
        ("runs", "list", "--max-results", "50001"),
        ("experiments", "list", "--max-results", "0"),
        ("models", "list", "--max-results", "1001"),
        ("models", "history", "m", "--max-results", "0"),
    ],
)
def test_out_of_range_values_are_usage_errors(cli: Cli, argv: tuple[str, ...]) -> None:
    code, out, err = cli(*argv)
    assert code == 2 and out == ""
    assert "a whole number from 1 to" in err


def test_promote_names_the_archived_version(
    live_server: ServerProcess, cli: Cli, model_dir: Path
) -> None:
    name, _ = _model_with_versions(live_server.url, model_dir, n=2)
    url = live_server.url
    code, out, err = cli(
        "models", "promote", name, "1", "--to", "Production", "--tracking-uri", url
    )
    assert code == 0, err
    assert "is now Archived" not in out
    code, out, err = cli(
        "models", "promote", name, "2", "--to", "production", "--tracking-uri", url
    )
    assert code == 0, err
    assert f"{name} version 2 is now in Production" in out
    assert f"{name} version 1 (was in Production) is now Archived" in out
    code, out, _ = cli(
        "models", "promote", name, "1", "--to", "Staging", "--json", "--tracking-uri", url
    )
    body = json.loads(out)
    assert code == 0 and body["current_stage"] == "Staging" and body["archived_versions"] == []


def test_artifact_sizes_are_human_readable(
    live_server: ServerProcess, cli: Cli, tmp_path: Path
) -> None:
    with Client(live_server.url) as client:
        run_id = client.create_run(client.create_experiment(unique("sizes"))).info.run_id
        (tmp_path / "weights.bin").write_bytes(b"\0" * (3 * 1024 * 1024 + 512 * 1024))
        (tmp_path / "small.txt").write_bytes(b"x" * 10)
        client.log_artifacts(run_id, tmp_path)
    code, out, _ = cli("artifacts", "list", run_id, "--tracking-uri", live_server.url)
    assert code == 0
    assert "3.5 MiB" in out and "10 B" in out
    code, out, _ = cli("artifacts", "list", run_id, "--json", "--tracking-uri", live_server.url)
    sizes = {f["path"]: f["file_size"] for f in json.loads(out)}
    assert sizes == {"small.txt": 10, "weights.bin": 3 * 1024 * 1024 + 512 * 1024}


def test_groups_without_a_command_are_usage_errors(cli: Cli) -> None:
    for group in CLIENT_GROUPS:
        code, _, err = cli(group)
        assert code == 2 and "required" in err
