"""The runs table in a browser: column groups, tag columns, models, alignment, widths."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlflow.entities import Metric, Param, RunTag
from playwright.sync_api import expect


def make_runs(client: Any, unique: str, tmp_path: Path) -> tuple[str, list[str]]:
    exp_id = client.create_experiment(f"table-{unique}")
    run_ids = []
    for i in range(2):
        run_id = client.create_run(exp_id, run_name=f"run-{i}").info.run_id
        client.log_batch(
            run_id,
            metrics=[Metric("acc", 0.9 + i / 100, 0, 0)] + ([Metric("f1", 0.5, 0, 0)] if i else []),
            params=[Param("lr", "0.01"), Param("optimizer", "adam")],
            tags=[RunTag("team", "vision")],
        )
        run_ids.append(run_id)
    model = tmp_path / "model"
    model.mkdir()
    (model / "w.bin").write_bytes(b"1")
    client.log_artifacts(run_ids[1], str(model), "model")
    client.create_registered_model(f"tbl_{unique}")
    client.create_model_version(f"tbl_{unique}", f"runs:/{run_ids[1]}/model", run_id=run_ids[1])
    return exp_id, run_ids


def test_runs_table_groups_columns_aligns_cells_and_lists_models(
    page: Any, client: Any, unique: str, tmp_path: Path
) -> None:
    exp_id, run_ids = make_runs(client, unique, tmp_path)
    page.goto(f"/experiments/{exp_id}")
    groups = page.locator("#runs-table .group-row th")
    expect(groups).to_have_text(["Run", "Metrics", "Parameters", "Models"])
    older = page.locator(f'#runs-table tr[data-run-id="{run_ids[0]}"]')
    newer = page.locator(f'#runs-table tr[data-run-id="{run_ids[1]}"]')
    cells = older.locator("td")
    # check, status, name, start, duration, user | acc, f1 | lr, optimizer | models
    expect(cells.nth(6)).to_have_class("num group-start")
    expect(cells.nth(7).locator(".blank")).to_have_text("—")  # no f1 on this run
    expect(cells.nth(8)).to_have_class("num group-start")  # lr = 0.01 reads as a number
    expect(cells.nth(9)).to_have_class("text")  # optimizer = adam is text
    expect(older.locator(".col-models .blank")).to_have_text("—")
    newer.locator(".col-models").get_by_role("link", name=f"tbl_{unique} v1").click()
    expect(page).to_have_url(f"/models/tbl_{unique}/versions/1")

    # Tags are optional columns, in a group of their own.
    page.goto(f"/experiments/{exp_id}")
    page.get_by_text("Columns (").click()
    page.get_by_label("tag team").check()
    page.get_by_role("button", name="Show columns").click()
    expect(groups).to_have_text(["Run", "Metrics", "Parameters", "Tags", "Models"])
    expect(older.locator("td.text", has_text="vision")).to_have_count(1)


def test_runs_table_fits_a_phone_by_scrolling_inside_its_frame(
    page: Any, client: Any, unique: str, tmp_path: Path
) -> None:
    exp_id, _ = make_runs(client, unique, tmp_path)
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(f"/experiments/{exp_id}")
    expect(page.locator("#runs-table")).to_be_visible()
    # The page itself does not scroll sideways; the table's frame does.
    wide = page.evaluate(
        """() => [...document.querySelectorAll('body *')]
            .filter(el => !el.closest('.table-wrap, .tabs'))
            .filter(el => el.getBoundingClientRect().right > 391)
            .map(el => el.tagName + '.' + el.className + ' ' + el.textContent.slice(0, 30))"""
    )
    assert wide == []
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    frame = page.locator(".table-wrap").first
    assert frame.evaluate("el => el.scrollWidth > el.clientWidth")
