"""Promotion requests from the light client and the `modelyard models` commands,
against a live server on SQLite and PostgreSQL (auth off: everyone is `anonymous`
and holds every right)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from servers import ServerProcess

from modelyard.approval_entities import RequestStatus
from modelyard.cli import main
from modelyard.client import Client
from modelyard.errors import ResourceAlreadyExists, ResourceDoesNotExist

from .helpers import unique

Result = tuple[int, str, str]
Cli = Callable[..., Result]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    def run(*argv: str) -> Result:
        try:
            code = main(list(argv))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return code, out, err

    return run


def _model(client: Client, versions: int = 2) -> str:
    name = unique("mnist_test")
    run_id = client.create_run("0").info.run_id
    client.create_registered_model(name)
    for _ in range(versions):
        client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id)
    return name


def test_client_request_approve_reject_cancel_comment_and_policy(
    live_server: ServerProcess,
) -> None:
    with Client(live_server.url) as client:
        name = _model(client)
        client.transition_model_version_stage(name, 1, "Production")
        request = client.request_transition(name, 2, "Production", "acc 0.98")
        assert (request.from_stage, request.to_stage, request.user_id) == (
            "None",
            "Production",
            "anonymous",
        )
        with pytest.raises(ResourceAlreadyExists):
            client.request_transition(name, 2, "Production")
        found = client.search_transition_requests(name)
        assert [(r.version, r.status) for r in found] == [(2, RequestStatus.OPEN)]

        decision = client.approve_transition_request(name, 2, "Production", "ok")
        assert (decision.request.decided_by, decision.request.decision_comment) == (
            "anonymous",
            "ok",
        )
        assert client.get_model_version(name, 1).current_stage == "Archived"
        assert client.get_model_version(name, 2).current_stage == "Production"
        approved = client.search_transition_requests(name, statuses=(RequestStatus.APPROVED,))
        assert [r.version for r in approved] == [2]

        client.request_transition(name, 1, "Staging")
        client.reject_transition_request(name, 1, "Staging", "stale")
        client.request_transition(name, 1, "Staging")
        client.cancel_transition_request(name, 1, "Staging")
        with pytest.raises(ResourceDoesNotExist):
            client.cancel_transition_request(name, 1, "Staging")
        assert client.search_transition_requests(name) == []

        comment = client.create_comment(name, 2, "holdout AUC 0.91")
        assert client.update_comment(comment.comment_id, "holdout AUC 0.92").comment == (
            "holdout AUC 0.92"
        )
        client.delete_comment(comment.comment_id)

        rules = {r.stage: (r.required, r.source) for r in client.get_approval_policy(name)}
        assert rules["Production"] == (False, "server")
        client.set_approval_policy(name, "Production", True)
        rules = {r.stage: (r.required, r.source) for r in client.get_approval_policy(name)}
        assert rules["Production"] == (True, "model")
        client.set_approval_policy(name, "Production", None)
        rules = {r.stage: (r.required, r.source) for r in client.get_approval_policy(name)}
        assert rules["Production"] == (False, "server")

        events = [e.action for e in client.get_model_history(name).items]
        assert events[:4] == [
            "comment",
            "request_cancelled",
            "transition_requested",
            "request_rejected",
        ]


def test_cli_request_requests_approve(live_server: ServerProcess, cli: Cli) -> None:
    url = live_server.url
    with Client(url) as client:
        name = _model(client)
    code, out, err = cli(
        "models", "request", name, "2", "--to", "Production", "--comment", "acc 0.98",
        "--tracking-uri", url,
    )  # fmt: skip
    assert code == 0, err
    assert f"{name} version 2: requested None -> Production" in out
    code, out, _ = cli("models", "requests", "--model", name, "--tracking-uri", url)
    header, row = out.splitlines()
    assert header.split()[:5] == ["ID", "MODEL", "VERSION", "FROM", "TO"]
    assert row.split()[1:5] == [name, "2", "None", "Production"]
    code, out, _ = cli("models", "requests", "--model", name, "--json", "--tracking-uri", url)
    assert [r["to_stage"] for r in json.loads(out)] == ["Production"]
    assert cli("models", "comment", name, "2", "latency fine", "--tracking-uri", url)[0] == 0
    code, out, err = cli(
        "models", "approve", name, "2", "--to", "Production", "--tracking-uri", url
    )
    assert code == 0, err
    assert "approved by anonymous; now in Production" in out
    # Nothing open any more: the server's refusal, exit code 1.
    code, _, err = cli("models", "reject", name, "2", "--to", "Production", "--tracking-uri", url)
    assert code == 1 and "RESOURCE_DOES_NOT_EXIST" in err
    code, out, _ = cli("models", "approval", name, "--set", "required", "--tracking-uri", url)
    assert code == 0 and "required" in out and "model" in out
    code, _, err = cli("models", "cancel", name, "1", "--to", "Staging", "--tracking-uri", url)
    assert code == 1 and "No open transition request" in err
