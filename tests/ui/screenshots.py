"""Take the README's screenshots with the browser tests' own tooling.

    .venv/bin/python tests/ui/screenshots.py [--out docs/screenshots]

Starts a fresh `modelyard server` (tests/servers.py), fills it through the
stock mlflow client with a small, realistic project (an MNIST experiment and
three registered models at different stages), and saves PNGs of both views
taken by the same headless chromium the tests use. Not collected by pytest.
"""

from __future__ import annotations

import argparse
import math
import random
import struct
import sys
import tempfile
import zlib
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from conftest import launch_chromium  # noqa: E402
from servers import modelyard_server  # noqa: E402

T0 = 1_717_200_000_000  # 2024-06-01
FULL_PAGE = {"run.png", "version.png"}


def png(width: int, height: int, pixel: Any) -> bytes:
    """A small RGB PNG from pixel(x, y) -> (r, g, b), with no imaging library."""
    raw = b"".join(
        b"\0" + b"".join(bytes(pixel(x, y)) for x in range(width)) for y in range(height)
    )

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def fill(url: str, workdir: Path) -> dict[str, str]:
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=url, registry_uri=url)
    rng = random.Random(3)
    exp_id = client.create_experiment("mnist-cnn", tags={"team": "vision"})
    runs: list[str] = []
    for i in range(14):
        lr = [0.1, 0.03, 0.01, 0.003][i % 4]
        optimizer = ["adam", "sgd"][i % 2]
        start = T0 + i * 3_600_000
        run = client.create_run(
            exp_id,
            start_time=start,
            tags={"mlflow.user": ["jiyoung", "minho", "sora"][i % 3]},
            run_name=f"cnn-{optimizer}-lr{lr}-{i}",
        )
        run_id = run.info.run_id
        quality = 0.9 + 0.08 * (1 - abs(math.log10(lr) + 2) / 2) + rng.uniform(-0.01, 0.01)
        metrics = []
        for step in range(60):
            t = start + step * 20_000
            loss = 2.3 * math.exp(-step / (8 + 10 * quality)) + (1 - quality) + rng.uniform(0, 0.03)
            metrics += [
                Metric("loss", loss, t, step),
                Metric("val_loss", loss * 1.08 + rng.uniform(0, 0.04), t, step),
                Metric("accuracy", min(0.999, quality * (1 - math.exp(-step / 6))), t, step),
            ]
        client.log_batch(
            run_id,
            metrics=metrics,
            params=[
                Param("lr", str(lr)),
                Param("optimizer", optimizer),
                Param("batch_size", "64" if i % 3 else "128"),
                Param("epochs", "60"),
            ],
            tags=[RunTag("team", "vision")],
        )
        if i == 13:
            files = workdir / "output_model"
            files.mkdir(exist_ok=True)
            (files / "MLmodel").write_text(
                "artifact_path: output_model\nflavors:\n  pytorch:\n    model_data: data\n"
                "    pytorch_version: 2.3.0\n"
                "  python_function:\n    loader_module: mlflow.pytorch\n"
            )
            (files / "model.pth").write_bytes(rng.randbytes(48_000))
            (files / "requirements.txt").write_text("torch==2.3.0\ntorchvision==0.18.0\n")
            client.log_artifacts(run_id, str(files), "output_model")
            plots = workdir / "plots"
            plots.mkdir(exist_ok=True)
            (plots / "confusion_matrix.png").write_bytes(
                png(
                    200,
                    200,
                    lambda x, y: (
                        (255 - x // 20 * 20, 240 - y // 20 * 15, 255)
                        if x // 20 != y // 20
                        else (36, 86, 214)
                    ),
                )
            )
            client.log_artifacts(run_id, str(plots), "plots")
        client.set_terminated(
            run_id, "FAILED" if i == 5 else "FINISHED", end_time=start + 1_260_000
        )
        runs.append(run_id)

    def register(name: str, count: int, newest: int) -> None:
        client.create_registered_model(name, description=f"{name}: production candidate models")
        for k in range(count):
            run_id = runs[newest - count + 1 + k]
            client.create_model_version(name, f"runs:/{run_id}/output_model", run_id=run_id)

    register("mnist_test", 4, newest=13)
    for version, stage in (("1", "Production"), ("2", "Production"), ("3", "Staging")):
        client.transition_model_version_stage("mnist_test", version, stage)
    client.set_registered_model_alias("mnist_test", "champion", "2")
    client.set_registered_model_alias("mnist_test", "challenger", "3")
    client.update_model_version("mnist_test", "3", "Retrained on the June data; +0.4% accuracy.")
    client.set_model_version_tag("mnist_test", "3", "validated", "pending")
    register("fraud-detector", 2, newest=9)
    client.transition_model_version_stage("fraud-detector", "2", "Production")
    register("churn-xgb", 1, newest=6)
    client.transition_model_version_stage("churn-xgb", "1", "Staging")
    logged = log_sklearn_model(url)
    return {"experiment": exp_id, "run": runs[-1], "logged": logged}


def log_sklearn_model(url: str) -> str:
    """An MLflow 3 logged model (sklearn, with a signature), registered: its version page."""
    import mlflow
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    mlflow.set_tracking_uri(url)
    rng = random.Random(5)
    frame = pd.DataFrame(
        {
            "amount": [rng.uniform(1, 900) for _ in range(60)],
            "hour": [rng.randint(0, 23) for _ in range(60)],
            "merchant_risk": [rng.random() for _ in range(60)],
        }
    )
    labels = (frame["merchant_risk"] > 0.7).astype(int)
    model = LogisticRegression().fit(frame, labels)
    experiment = mlflow.set_experiment("fraud-detection")
    with mlflow.start_run(experiment_id=experiment.experiment_id, run_name="logreg-baseline"):
        mlflow.log_params({"C": 1.0, "solver": "lbfgs"})
        mlflow.log_metrics({"auc": 0.962, "precision": 0.91, "recall": 0.88})
        mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(frame, model.predict(frame)),
            registered_model_name="fraud-logreg",
            pip_requirements=["scikit-learn"],
        )
    return "fraud-logreg"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE.parents[1] / "docs" / "screenshots")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, modelyard_server(Path(tmp) / "server") as server:
        ids = fill(server.url, Path(tmp))
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            context = browser.new_context(
                base_url=server.url,
                viewport={"width": 1280, "height": 800},
                locale="en-GB",
                timezone_id="UTC",
            )
            page = context.new_page()
            shots = [
                ("experiments.png", f"/experiments/{ids['experiment']}", None),
                (
                    "run.png",
                    f"/runs/{ids['run']}?artifact=plots/confusion_matrix.png",
                    ".chart",
                ),
                (
                    "charts.png",
                    f"/experiments/{ids['experiment']}/charts?smooth=0.6",
                    ".panel-chart",
                ),
                (
                    "plots.png",
                    f"/experiments/{ids['experiment']}/plots?sx=params.lr&sy=metrics.accuracy",
                    "#parallel",
                ),
                ("models.png", "/models", None),
                ("model.png", "/models/mnist_test", None),
                ("version.png", f"/models/{ids['logged']}/versions/1?artifact=MLmodel", None),
            ]
            for name, path, ready in shots:
                page.goto(path)
                if ready:
                    for chart in page.locator(ready.split("[")[0]).all():
                        chart.scroll_into_view_if_needed()
                        chart.and_(page.locator("[data-ready]")).wait_for()
                    page.evaluate("window.scrollTo(0, 0)")
                page.screenshot(path=str(args.out / name), full_page=name in FULL_PAGE)
                print(args.out / name)
            browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
