"""The run page in a browser: metric charts, artifact browser and download, versions."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from mlflow.entities import Metric, Param
from playwright.sync_api import expect

PAYLOAD = os.urandom(3000) + b"\x00\xff" * 500  # binary, not valid UTF-8


def make_run(client: Any, tmp_path: Path, unique: str) -> str:
    exp_id = client.create_experiment(f"run-page-{unique}")
    run = client.create_run(exp_id, run_name="resnet")
    run_id: str = run.info.run_id
    t0 = 1_700_000_000_000
    client.log_batch(
        run_id,
        metrics=[Metric("loss", 1.0 / (s + 1), t0 + s * 1000, s) for s in range(300)],
        params=[Param("lr", "0.01")],
    )
    files = tmp_path / "files"
    (files / "model").mkdir(parents=True)
    (files / "model" / "weights.bin").write_bytes(PAYLOAD)
    (files / "model" / "MLmodel").write_text("flavors:\n  python_function: {}\n")
    (files / "metrics.json").write_text(json.dumps({"auc": 0.91, "note": "<script>x</script>"}))
    client.log_artifacts(run_id, str(files))
    client.set_terminated(run_id)
    return run_id


def test_run_page_draws_its_metric_chart(
    page: Any, client: Any, tmp_path: Path, unique: str
) -> None:
    run_id = make_run(client, tmp_path, unique)
    page.goto(f"/runs/{run_id}")
    expect(page.locator("h1.run-title")).to_have_text("resnet")
    chart = page.locator('.chart[data-key="loss"]')
    expect(chart).to_have_attribute("data-ready", "1")
    expect(chart.locator("canvas")).to_have_count(1)
    expect(page.locator(".chart-box", has=chart).locator(".chart-note")).to_have_text("300 points")
    box = chart.locator("canvas").bounding_box()
    assert box is not None and box["width"] > 200 and box["height"] > 100

    page.get_by_role("link", name="By time").click()
    expect(page).to_have_url(f"/runs/{run_id}?x=time")
    expect(page.locator('.chart[data-key="loss"][data-x="time"]')).to_have_attribute(
        "data-ready", "1"
    )


def test_artifact_browser_previews_and_downloads_byte_exact(
    page: Any, client: Any, tmp_path: Path, unique: str
) -> None:
    run_id = make_run(client, tmp_path, unique)
    page.goto(f"/runs/{run_id}")
    tree = page.locator("#artifact-tree")
    tree.get_by_role("link", name="metrics.json").click()
    preview = page.locator("#artifact-preview")
    expect(preview.locator("pre")).to_contain_text('"note": "<script>x</script>"')
    expect(page).to_have_url(f"/runs/{run_id}?artifact=metrics.json#artifacts")

    tree.get_by_role("link", name="model").click()
    tree.get_by_role("link", name="MLmodel").click()
    expect(preview.locator("pre")).to_contain_text("python_function")
    page.go_back()
    expect(preview.locator(".preview")).to_have_attribute("data-path", "model")

    tree.get_by_role("link", name="weights.bin").click()
    expect(preview).to_contain_text("No preview for this kind of file")
    with page.expect_download() as info:
        preview.get_by_role("link", name="Download").click()
    download = info.value
    assert download.suggested_filename == "weights.bin"
    assert Path(download.path()).read_bytes() == PAYLOAD

    # The same view from its URL alone (deep link, no script involved).
    page.goto(f"/runs/{run_id}?artifact=model/weights.bin")
    expect(page.locator("#artifact-preview .preview")).to_have_attribute(
        "data-path", "model/weights.bin"
    )


def test_run_page_lists_versions_registered_from_it(
    page: Any, client: Any, tmp_path: Path, unique: str
) -> None:
    run_id = make_run(client, tmp_path, unique)
    client.create_registered_model(f"from_run_{unique}")
    client.create_model_version(f"from_run_{unique}", f"runs:/{run_id}/model", run_id=run_id)
    page.goto(f"/runs/{run_id}")
    link = page.get_by_role("link", name=f"from_run_{unique}")
    expect(link).to_be_visible()
    page.get_by_role("link", name="Version 1").click()
    expect(page).to_have_url(f"/models/from_run_{unique}/versions/1")
    page.get_by_role("link", name="Browse files in the run").click()
    expect(page.locator("#artifact-preview .preview")).to_have_attribute("data-path", "model")


def test_unknown_run_is_a_readable_404_page(page: Any) -> None:
    response = page.goto("/runs/0123456789abcdef")
    assert response is not None and response.status == 404
    expect(page.locator(".error-message")).to_contain_text("0123456789abcdef")


def test_zooming_a_downsampled_chart_fetches_the_visible_range(
    page: Any, client: Any, unique: str
) -> None:
    from modelyard.ui.downsample import RAW_LIMIT

    exp_id = client.create_experiment(f"zoom-{unique}")
    run_id = client.create_run(exp_id, run_name="long").info.run_id
    n = RAW_LIMIT + 5000
    for lo in range(0, n, 1000):
        client.log_batch(
            run_id,
            metrics=[
                Metric("loss", (s % 97) / 97, 1_700_000_000_000 + s, s)
                for s in range(lo, lo + 1000)
            ],
        )
    page.goto(f"/runs/{run_id}")
    chart = page.locator('.chart[data-key="loss"]')
    expect(chart).to_have_attribute("data-ready", "1")
    note = page.locator(".chart-box", has=chart).locator(".chart-note")
    expect(note).to_contain_text(f"{n:,} points, drawn from")

    box = chart.locator(".u-over").bounding_box()
    assert box is not None
    with page.expect_request(lambda r: "/ui/series" in r.url and "lo=" in r.url):
        page.mouse.move(box["x"] + box["width"] * 0.40, box["y"] + box["height"] / 2)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.45, box["y"] + box["height"] / 2, steps=4)
        page.mouse.up()
    expect(note).to_have_text(re.compile(r"^zoomed: [\d,]+ points$"))  # raw: few enough now
    chart.locator(".u-over").dblclick()
    expect(note).to_contain_text(f"{n:,} points, drawn from")
