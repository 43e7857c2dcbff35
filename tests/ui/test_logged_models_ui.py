"""MLflow 3 logged models in a browser: the run page lists them with their files; the
version page shows the files, flavors, signature, a readable source and the run's metrics."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from servers import ServerProcess


@pytest.fixture
def fluent(ui_server: ServerProcess, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", ui_server.url)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    mlflow.set_tracking_uri(ui_server.url)
    yield mlflow
    while mlflow.active_run() is not None:
        mlflow.end_run()


def test_sklearn_logged_model_on_run_and_version_pages(page: Any, fluent: Any, unique: str) -> None:
    import numpy as np
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    mlflow = fluent
    name = f"clf_{unique}"
    x = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0]])
    model = LogisticRegression().fit(x, np.array([0, 0, 1, 1]))
    exp_id = mlflow.create_experiment(f"logged-{unique}")
    with mlflow.start_run(experiment_id=exp_id) as run:
        mlflow.log_metric("accuracy", 0.97)
        info = mlflow.sklearn.log_model(
            model,
            name="clf",
            signature=infer_signature(x, model.predict(x)),
            registered_model_name=name,
            pip_requirements=["scikit-learn"],
        )
    run_id = run.info.run_id

    page.goto(f"/runs/{run_id}")
    row = page.locator(f'#logged-models-table tr[data-model-id="{info.model_id}"]')
    expect(row).to_contain_text("clf")
    expect(row.locator(".col-flavor")).to_contain_text("sklearn")
    expect(row.locator(".col-flavor")).to_contain_text("python_function")
    expect(row.locator(".col-status")).to_have_text("READY")
    # The run's own artifacts are empty; the model's files are one click away.
    expect(page.locator("#no-files")).to_contain_text("logged models keep their files apart")
    row.get_by_role("link", name="Browse files").click()
    tree = page.locator("#artifact-tree")
    tree.get_by_role("link", name="MLmodel").click()
    expect(page.locator("#artifact-preview pre")).to_contain_text("sklearn_version")
    with page.expect_download() as download:
        page.locator("#download-link").click()
    assert b"flavors" in Path(download.value.path()).read_bytes()

    page.goto(f"/models/{name}/versions/1")
    expect(page.locator('#flavors-table tr[data-flavor="sklearn"]')).to_be_visible()
    inputs = page.locator("#signature .signature-inputs")
    expect(inputs).to_contain_text("tensor float64 (-1, 2)")
    expect(page.locator("#signature .signature-outputs")).to_contain_text("tensor int64 (-1,)")
    expect(page.locator("#version-source")).to_have_text(f"models:/{info.model_id}")
    expect(page.locator("#artifact-tree")).to_contain_text("python_env.yaml")
    expect(page.locator("#source-run-metrics")).to_contain_text("accuracy")
    expect(page.locator("#source-run-metrics")).to_contain_text("0.97")
    page.locator("#artifact-tree").get_by_role("link", name="MLmodel").click()
    expect(page.locator("#artifact-preview pre")).to_contain_text("python_function")
    page.locator("#browse-in-run").click()
    expect(page).to_have_url(f"/runs/{run_id}?files={info.model_id}#artifacts")
    expect(page.locator("#artifact-tree")).to_contain_text("python_env.yaml")


def test_plain_folder_version_shows_runs_source_and_its_files(
    page: Any, fluent: Any, unique: str, tmp_path: Path
) -> None:
    mlflow = fluent
    name = f"plain_{unique}"
    folder = tmp_path / "output_model"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(b"\x00\x01")
    (folder / "config.json").write_text('{"layers": 3}')
    exp_id = mlflow.create_experiment(f"plain-{unique}")
    with mlflow.start_run(experiment_id=exp_id) as run:
        mlflow.log_artifacts(str(folder))
        mlflow.register_model(f"runs:/{run.info.run_id}", name)
    page.goto(f"/models/{name}/versions/1")
    # Never the internal models:/m-run-… id.
    expect(page.locator("#version-source")).to_have_text(f"runs:/{run.info.run_id}")
    expect(page.locator("#version-mlmodel")).to_have_count(0)  # a plain folder: no MLmodel
    page.locator("#artifact-tree").get_by_role("link", name="config.json").click()
    expect(page.locator("#artifact-preview pre")).to_contain_text('"layers": 3')
    page.locator("#browse-in-run").click()
    expect(page).to_have_url(f"/runs/{run.info.run_id}#artifacts")
    expect(page.locator("#artifact-tree")).to_contain_text("weights.bin")
