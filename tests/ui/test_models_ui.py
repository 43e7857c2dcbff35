"""The deployment view in a browser: Models table, promotion by clicking, history, aliases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import expect


def register_versions(client: Any, tmp_path: Path, name: str, count: int) -> list[str]:
    """`count` versions of `name`, each from its own run with a small model folder."""
    exp_id = client.create_experiment(f"exp-{name}")
    model_dir = tmp_path / "model"
    model_dir.mkdir(exist_ok=True)
    client.create_registered_model(name)
    run_ids = []
    for i in range(count):
        run = client.create_run(exp_id, run_name=f"train-{i}")
        (model_dir / "weights.bin").write_bytes(bytes([i]) * 100)
        client.log_artifacts(run.info.run_id, str(model_dir), "model")
        client.set_terminated(run.info.run_id)
        client.create_model_version(name, f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
        run_ids.append(run.info.run_id)
    return run_ids


def test_models_page_shows_latest_staging_and_production(
    page: Any, client: Any, tmp_path: Path, unique: str
) -> None:
    name = f"mnist_{unique}"
    register_versions(client, tmp_path, name, 3)
    client.transition_model_version_stage(name, "1", "Production")
    client.transition_model_version_stage(name, "2", "Staging")
    client.set_registered_model_alias(name, "champion", "1")

    page.goto(f"/models?q={name}")
    row = page.locator(f'#models-table tr[data-model="{name}"]')
    expect(row.locator(".col-latest")).to_have_text("Version 3")
    expect(row.locator(".col-staging")).to_have_text("Version 2")
    expect(row.locator(".col-production")).to_have_text("Version 1")
    expect(row.locator(".col-aliases")).to_contain_text("@champion → v1")

    row.locator(".col-staging a").click()
    expect(page).to_have_url(f"/models/{name}/versions/2")
    expect(page.locator("#current-stage")).to_have_text("Staging")


def test_promoting_by_clicking_archives_the_previous_holder(
    page: Any, client: Any, tmp_path: Path, unique: str
) -> None:
    name = f"promo_{unique}"
    register_versions(client, tmp_path, name, 2)
    client.transition_model_version_stage(name, "1", "Production")

    page.goto(f"/models/{name}/versions/2")
    page.get_by_role("link", name="Production", exact=True).click()
    consequences = page.locator("#consequences")
    expect(consequences).to_contain_text("moves from None to Production")
    expect(consequences.locator(".will-archive")).to_contain_text(
        "Version 1, now in Production, will be moved to Archived"
    )
    page.get_by_label("Comment").fill("better on the holdout set")
    page.locator("#confirm-stage").click()

    expect(page).to_have_url(f"/models/{name}/versions/2?done=stage&archived=1")
    expect(page.locator(".alert.ok")).to_have_text("Stage changed. Version 1 moved to Archived.")
    expect(page.locator("#current-stage")).to_have_text("Production")
    assert client.get_model_version(name, "1").current_stage == "Archived"

    page.goto(f"/models/{name}")
    expect(page.locator('#versions-table tr[data-version="1"] .col-stage')).to_have_text("Archived")
    expect(page.locator('#versions-table tr[data-version="2"] .col-stage')).to_have_text(
        "Production"
    )
    events = page.locator(".timeline .event")
    # Newest first: the displaced version's archiving and the promotion it caused.
    expect(events.filter(has_text="Version 1: Production → Archived")).to_contain_text(
        "archived because another version took Production"
    )
    expect(events.filter(has_text="Version 2: None → Production")).to_contain_text(
        "better on the holdout set"
    )
    page.goto("/models?q=" + name)
    expect(page.locator(f'tr[data-model="{name}"] .col-production')).to_have_text("Version 2")


def test_alias_description_and_tags_from_the_version_page(
    page: Any, client: Any, tmp_path: Path, unique: str
) -> None:
    name = f"alias_{unique}"
    register_versions(client, tmp_path, name, 2)
    client.set_registered_model_alias(name, "champion", "1")

    page.goto(f"/models/{name}/versions/2")
    page.get_by_label("Alias name").fill("champion")
    page.get_by_role("button", name="Set alias…").click()
    expect(page.locator("#consequences")).to_contain_text(
        "now points to version 1; it will point to version 2 instead"
    )
    page.locator("#confirm-alias").click()
    expect(page.locator(".alert.ok")).to_have_text("Alias set.")
    assert client.get_model_version_by_alias(name, "champion").version == "2"

    page.get_by_label("Description").fill("<b>not bold</b> retrained")
    page.get_by_role("button", name="Save description").click()
    expect(page.get_by_label("Description")).to_have_value("<b>not bold</b> retrained")
    assert client.get_model_version(name, "2").description == "<b>not bold</b> retrained"

    page.get_by_label("Tag key").fill("validated")
    page.get_by_label("Tag value").fill("yes")
    page.get_by_role("button", name="Set tag").click()
    expect(page.locator("#version-tags")).to_contain_text("validated")
    assert client.get_model_version(name, "2").tags == {"validated": "yes"}

    page.get_by_role("link", name="Remove…").click()
    expect(page.locator("#consequences")).to_contain_text("stops pointing to version 2")
    page.locator("#confirm-alias").click()
    expect(page.locator(".alert.ok")).to_have_text("Alias removed.")

    page.get_by_label("Alias name").fill("bad alias!")
    page.get_by_role("button", name="Set alias…").click()
    expect(page.locator(".error-message")).to_contain_text("Invalid alias name")


def test_version_download_is_a_zip_of_its_files(
    page: Any, client: Any, tmp_path: Path, unique: str
) -> None:
    import io
    import zipfile

    name = f"dl_{unique}"
    register_versions(client, tmp_path, name, 1)
    page.goto(f"/models/{name}/versions/1")
    with page.expect_download() as info:
        page.locator("#version-download").click()
    data = Path(info.value.path()).read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.read("weights.bin") == bytes([0]) * 100


def test_empty_registry_tells_a_new_user_what_to_do(page: Any, unique: str) -> None:
    page.goto(f"/models?q=nothing-{unique}")
    expect(page.locator(".empty")).to_contain_text("No model matches")
