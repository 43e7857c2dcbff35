"""Managing from the UI in a browser: experiments, runs, registered models and versions.

Each action goes through the same service call as the REST API, so each test
checks the result through the stock mlflow client as well as on the page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import expect
from test_models_ui import register_versions


def test_create_rename_delete_and_restore_an_experiment(
    page: Any, client: Any, unique: str
) -> None:
    page.goto("/experiments")
    page.get_by_text("New experiment").click()
    page.locator("#new-experiment-name").fill(f"made-{unique}")
    page.get_by_role("button", name="Create").click()
    expect(page.locator("#notice")).to_have_text("Experiment created.")
    expect(page.locator("#experiment-name")).to_have_text(f"made-{unique}")
    exp_id = client.get_experiment_by_name(f"made-{unique}").experiment_id
    client.create_run(exp_id, run_name="kept")

    page.get_by_role("link", name="Manage").click()
    page.locator("#experiment-new-name").fill(f"renamed-{unique}")
    page.get_by_role("button", name="Rename").click()
    expect(page.locator("#notice")).to_have_text("Renamed.")
    assert client.get_experiment(exp_id).name == f"renamed-{unique}"

    page.locator("#delete-experiment").click()
    expect(page.locator("#consequences")).to_contain_text("its 1 run disappear")
    page.locator("#confirm-delete").click()
    expect(page.locator("#experiment-deleted")).to_have_text("deleted")
    assert client.get_experiment(exp_id).lifecycle_stage == "deleted"
    page.goto(f"/experiments?deleted=1&q=renamed-{unique}")
    page.get_by_role("link", name=f"renamed-{unique}").click()
    page.get_by_role("link", name="Manage").click()
    page.locator("#restore-experiment").click()
    expect(page.locator("#notice")).to_have_text("Restored.")
    assert client.get_experiment(exp_id).lifecycle_stage == "active"


def test_an_invalid_name_is_refused_with_the_services_words(
    page: Any, client: Any, unique: str
) -> None:
    client.create_experiment(f"taken-{unique}")
    page.goto("/experiments")
    page.get_by_text("New experiment").click()
    page.locator("#new-experiment-name").fill(f"taken-{unique}")
    page.get_by_role("button", name="Create").click()
    expect(page.locator(".error-message")).to_contain_text("already exists")


def test_rename_note_tags_delete_and_restore_a_run(
    page: Any, client: Any, unique: str, tmp_path: Path
) -> None:
    name = f"runmodel_{unique}"
    (run_id,) = register_versions(client, tmp_path, name, 1)
    page.goto(f"/runs/{run_id}")
    page.locator("#run-new-name").fill("better-name")
    page.get_by_role("button", name="Rename").click()
    expect(page.locator("h1.run-title")).to_have_text("better-name")
    expect(page.locator("#notice")).to_have_text("Renamed.")

    page.locator("#run-note-input").fill("Tried a wider first layer.\n<b>not bold</b>")
    page.get_by_role("button", name="Save note").click()
    expect(page.locator("#run-note")).to_have_text("Tried a wider first layer.\n<b>not bold</b>")
    note = client.get_run(run_id).data.tags["mlflow.note.content"]
    assert note == "Tried a wider first layer.\n<b>not bold</b>"

    manage = page.locator("#manage")
    manage.get_by_label("Tag key").fill("team")
    manage.get_by_label("Tag value").fill("vision")
    manage.get_by_role("button", name="Set tag").click()
    expect(page.locator("#run-tags-edit")).to_contain_text("vision")
    assert client.get_run(run_id).data.tags["team"] == "vision"
    page.get_by_role("button", name="Remove tag team").click()
    expect(page.locator("#notice")).to_have_text("Tag removed.")
    assert "team" not in client.get_run(run_id).data.tags

    page.locator("#delete-run").click()
    consequences = page.locator("#consequences")
    expect(consequences).to_contain_text("0 metrics, 0 parameters and its artifacts")
    expect(consequences.locator(".will-orphan")).to_contain_text(f"{name} v1")
    page.locator("#confirm-delete").click()
    expect(page.locator("#notice")).to_contain_text("Deleted.")
    assert client.get_run(run_id).info.lifecycle_stage == "deleted"
    page.locator("#restore-run").click()
    expect(page.locator("#notice")).to_have_text("Restored.")
    assert client.get_run(run_id).info.lifecycle_stage == "active"


def test_edit_rename_and_delete_a_model_and_its_versions(
    page: Any, client: Any, unique: str, tmp_path: Path
) -> None:
    name = f"managed_{unique}"
    register_versions(client, tmp_path, name, 2)
    client.transition_model_version_stage(name, "2", "Production")
    client.set_registered_model_alias(name, "champion", "2")

    page.goto(f"/models/{name}")
    page.locator("#model-description").fill("Digits classifier")
    page.get_by_role("button", name="Save description").click()
    expect(page.locator("#notice")).to_have_text("Description saved.")
    assert client.get_registered_model(name).description == "Digits classifier"
    manage = page.locator("#manage")
    manage.get_by_label("Tag key").fill("owner")
    manage.get_by_label("Tag value").fill("sora")
    manage.get_by_role("button", name="Set tag").click()
    expect(page.locator("#model-tags")).to_contain_text("sora")
    assert client.get_registered_model(name).tags == {"owner": "sora"}

    page.goto(f"/models/{name}/versions/2")
    page.locator("#delete-version").click()
    consequences = page.locator("#consequences")
    expect(consequences).to_contain_text("It is in Production now")
    expect(consequences).to_contain_text("@champion")
    page.locator("#confirm-delete").click()
    expect(page.locator("#notice")).to_have_text("Version 2 deleted.")
    assert [v.version for v in client.search_model_versions(f"name='{name}'")] == ["1"]

    page.locator("#model-new-name").fill(f"renamed_{unique}")
    page.get_by_role("button", name="Rename").click()
    expect(page).to_have_url(f"/models/renamed_{unique}?done=renamed")
    page.locator("#delete-model").click()
    expect(page.locator("#consequences")).to_contain_text("All 1 version are deleted")
    page.locator("#confirm-delete").click()
    expect(page.locator("#notice")).to_have_text("Model deleted.")
    assert not client.search_registered_models(f"name='renamed_{unique}'")
