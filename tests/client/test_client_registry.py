"""The client's registry calls and model downloads: the seed's workflow,
promotion under the one-version-per-stage rule, aliases, history, rollback,
downloads by stage / version / alias / latest compared byte for byte, and bad
input. Against modelyard (live on SQLite and PostgreSQL, and in-process), with
a smoke test against stock MLflow for the calls in MLflow's namespace."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from servers import ServerProcess

import modelyard
from modelyard.client import Client, InvalidArgument
from modelyard.errors import (
    EndpointNotFound,
    InvalidParameterValue,
    InvalidState,
    ModelyardError,
    ResourceDoesNotExist,
)

from .helpers import tree, unique


def _registered_run(client: Client, files: Path) -> str:
    run_id = client.create_run(client.create_experiment(unique("exp"))).info.run_id
    client.log_artifacts(run_id, files)
    client.set_terminated(run_id)
    return run_id


class RegistrySuite:
    def test_promotion_archives_the_previous_holder_and_rolls_back(
        self, client: Client, model_dir: Path
    ) -> None:
        name = unique("model")
        run_id = _registered_run(client, model_dir)
        v1 = client.register_model(f"runs:/{run_id}", name)
        v2 = client.register_model(f"runs:/{run_id}", name)
        assert (v1.version, v2.version, v1.current_stage) == (1, 2, "None")
        assert v1.run_id == run_id

        staged = client.transition_model_version_stage(name, v1.version, "Staging")
        assert staged.current_stage == "Staging"
        client.transition_model_version_stage(name, 1, "production", comment="ship it")
        client.transition_model_version_stage(name, "2", "Production")
        assert client.get_model_version(name, 1).current_stage == "Archived"
        assert [v.version for v in client.get_latest_versions(name, ["Production"])] == [2]

        events = client.get_model_history(name).items
        assert events[0].version == 2 and events[0].to_stage == "Production"
        displaced = [e for e in events if e.cause == "displaced"]
        assert [(e.version, e.from_stage, e.to_stage) for e in displaced] == [
            (1, "Production", "Archived")
        ]
        assert any(e.comment == "ship it" for e in events)
        assert {e.version for e in client.get_model_history(name, version=1).items} == {1}

        back = client.rollback_model_stage(name, "Production", comment="v2 is broken")
        assert (back.version, back.current_stage) == (1, "Production")
        assert client.get_model_version(name, 2).current_stage == "Archived"
        assert client.get_stage_holder(name, "Production").version == 1

    def test_download_by_stage_version_alias_and_latest(
        self, client: Client, model_dir: Path, tmp_path: Path
    ) -> None:
        name = unique("model")
        first = _registered_run(client, model_dir)
        (model_dir / "weights.bin").write_bytes(b"second model" * 1000)
        second = _registered_run(client, model_dir)
        client.register_model(f"runs:/{first}", name)
        client.register_model(f"runs:/{second}", name)
        client.transition_model_version_stage(name, 1, "Production")
        client.transition_model_version_stage(name, 2, "Staging")
        client.set_registered_model_alias(name, "champion", 1)
        expected = {
            1: tree(client.download_artifacts(first, None, tmp_path / "run1")),
            2: tree(client.download_artifacts(second, None, tmp_path / "run2")),
        }
        assert expected[2] == tree(model_dir) and expected[1] != expected[2]
        for uri, version in [
            (f"models:/{name}/Production", 1),
            (f"models:/{name}/staging", 2),
            (f"models:/{name}/1", 1),
            (f"models:/{name}/latest", 2),
            (f"models:/{name}@champion", 1),
        ]:
            dst = tmp_path / uri.replace(":", "_").replace("/", "_").replace("@", "_")
            assert client.download_model(uri, dst) == dst
            assert tree(dst) == expected[version], uri
        mv, path = client.download_model_version(f"models:/{name}@champion", tmp_path / "c")
        assert (mv.version, mv.current_stage, path) == (1, "Production", tmp_path / "c")

    def test_subfolder_source_and_seed_spelling(
        self, client: Client, model_dir: Path, tmp_path: Path
    ) -> None:
        name = unique("model")
        run_id = client.create_run(client.create_experiment(unique("exp"))).info.run_id
        client.log_artifacts(run_id, model_dir, "output_model")
        client.log_artifact(run_id, model_dir / "README.txt", "other")
        sub = client.register_model(f"runs:/{run_id}/output_model", name)
        seed = client.register_model(f"run:/{run_id}/output_model", name)  # the seed's typo
        assert (sub.version, seed.version) == (1, 2)
        for version in (1, 2):
            dst = client.download_model(f"models:/{name}/{version}", tmp_path / str(version))
            assert tree(dst) == tree(model_dir)

    def test_aliases_tags_and_search(self, client: Client, model_dir: Path) -> None:
        name = unique("model")
        run_id = _registered_run(client, model_dir)
        client.create_registered_model(name, tags={"owner": "vision"}, description="digits")
        client.register_model(f"runs:/{run_id}", name, tags={"data": "mnist"})
        client.register_model(f"runs:/{run_id}", name)
        client.set_registered_model_alias(name, "champion", 2)
        assert client.get_model_version_by_alias(name, "champion").version == 2
        model = client.get_registered_model(name)
        assert [(a.alias, a.version) for a in model.aliases] == [("champion", 2)]
        assert model.description == "digits"
        assert {t.key: t.value for t in model.tags} == {"owner": "vision"}
        assert {t.key: t.value for t in client.get_model_version(name, 1).tags} == {"data": "mnist"}
        client.set_registered_model_tag(name, "tier", "gold")
        client.delete_registered_model_tag(name, "owner")
        client.set_model_version_tag(name, 2, "checked", "yes")
        client.delete_model_version_tag(name, 1, "data")
        assert {t.key for t in client.get_registered_model(name).tags} == {"tier"}
        assert client.get_model_version(name, 1).tags == ()
        assert [m.name for m in client.search_registered_models(f"name = '{name}'").items] == [name]
        versions = client.search_model_versions(f"name = '{name}'").items
        assert sorted(v.version for v in versions) == [1, 2]
        client.delete_registered_model_alias(name, "champion")
        # MLflow's code for an unknown alias is INVALID_PARAMETER_VALUE, not a 404.
        with pytest.raises(InvalidParameterValue, match="champion not found"):
            client.get_model_version_by_alias(name, "champion")

    def test_bad_input_gives_clear_errors(self, client: Client, model_dir: Path) -> None:
        missing = unique("missing")
        with pytest.raises(ResourceDoesNotExist, match=missing):
            client.get_registered_model(missing)
        with pytest.raises(ResourceDoesNotExist, match=missing):
            client.download_model(f"models:/{missing}/1", "unused")
        name = unique("model")
        client.register_model(f"runs:/{_registered_run(client, model_dir)}", name)
        with pytest.raises(InvalidParameterValue, match=r"(?i)stage"):
            client.transition_model_version_stage(name, 1, "Producton")
        client.transition_model_version_stage(name, 1, "Production")
        with pytest.raises(InvalidState, match="Production"):
            client.rollback_model_stage(name)  # no earlier holder
        client.transition_model_version_stage(name, 1, "Archived")
        with pytest.raises(ResourceDoesNotExist, match="Production"):
            client.download_model(f"models:/{name}/Production", "unused")
        with pytest.raises(ResourceDoesNotExist):
            client.get_model_version(name, 7)
        with pytest.raises(InvalidArgument, match="not a version number"):
            client.download_model(f"models:/{name}/Producton", "unused")
        with pytest.raises(InvalidArgument):
            client.download_model(name, "unused")  # no version, stage or alias
        with pytest.raises(ModelyardError):
            client.register_model("runs:/" + "0" * 32, name)  # no such run


class TestOnModelyard(RegistrySuite):
    @pytest.fixture
    def client(self, live_server: ServerProcess) -> Iterator[Client]:
        with Client(live_server.url) as client:
            yield client


class TestInProcess(RegistrySuite):
    @pytest.fixture
    def client(self, inproc_client: Client) -> Client:
        return inproc_client


def test_seed_workflow(
    live_server: ServerProcess, fluent_at: Any, model_dir: Path, tmp_path: Path
) -> None:
    """The seed's code, with `modelyard` where it has `mlflow`."""
    fluent_at(live_server.url)
    name = unique("mnist_test")
    results = []
    for _ in range(2):
        with modelyard.start_run() as run:
            modelyard.log_artifacts(model_dir)  # trainer.save_model() wrote output_model/
            model_uri = f"runs:/{run.info.run_id}"
            register_result = modelyard.register_model(model_uri, name)
            results.append(register_result)
    assert [(r.name, r.version) for r in results] == [(name, 1), (name, 2)]

    client = modelyard.Client(tracking_uri=live_server.url)
    staged = client.transition_model_version_stage(
        name=results[1].name, version=results[1].version, stage="Staging"
    )
    assert staged.current_stage == "Staging"
    model = client.get_registered_model(name)
    assert {v.current_stage: v.version for v in model.latest_versions} == {
        "None": 1,
        "Staging": 2,
    }
    dst = client.download_model(f"models:/{name}/Staging", tmp_path / "staging")
    assert tree(dst) == tree(model_dir)
    client.close()


def test_registry_on_stock_mlflow(mlflow_server: str, model_dir: Path, tmp_path: Path) -> None:
    """MLflow's registry endpoints answer the same calls; modelyard's own do not exist."""
    with Client(mlflow_server) as client:
        name = unique("model")
        run_id = client.create_run("0").info.run_id
        client.log_artifacts(run_id, model_dir, "model")
        mv = client.register_model(f"runs:/{run_id}/model", name)
        client.transition_model_version_stage(name, mv.version, "Staging")
        client.set_registered_model_alias(name, "candidate", mv.version)
        for uri in (f"models:/{name}/Staging", f"models:/{name}@candidate", f"models:/{name}/1"):
            dst = client.download_model(uri, tmp_path / str(abs(hash(uri))))
            assert tree(dst) == tree(model_dir)
        with pytest.raises(EndpointNotFound, match="modelyard server"):
            client.get_model_history(name)
