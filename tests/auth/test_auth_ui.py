"""The UI with authentication on, in a real browser (Debian's chromium via Playwright).

Sign-in through the login page (wrong password first), the user's name in the
navigation bar, a reader's promotion refused with the missing right named, a
Production promoter's promotion going through, sign-out, CSRF on forms, and
the admin page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from servers import ServerProcess

from auth.authkit import ADMIN, ADMIN_HEADERS, PASSWORD, api, make_user

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: the browser tests need Debian's chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def model(sqlite_auth_server: ServerProcess) -> str:
    with httpx.Client(base_url=sqlite_auth_server.url, timeout=60) as c:
        make_user(c, "ui-reader")
        make_user(c, "ui-promoter")
        exp = api(c, "POST", "experiments/create", {"name": "ui-auth"})["experiment_id"]
        run = api(c, "POST", "runs/create", {"experiment_id": exp})["run"]["info"]["run_id"]
        api(c, "POST", "registered-models/create", {"name": "ui-model"})
        api(
            c,
            "POST",
            "model-versions/create",
            {"name": "ui-model", "source": f"runs:/{run}/model", "run_id": run},
        )
        api(
            c,
            "POST",
            "registered-models/permissions/create",
            {
                "name": "ui-model",
                "username": "ui-promoter",
                "permission": "MANAGE_PRODUCTION_VERSIONS",
            },
        )
    return "ui-model"


def _sign_in(page: Any, url: str, target: str, user: str, password: str = PASSWORD) -> None:
    page.goto(url + target)
    page.wait_for_url(re.compile(r"/login\?next="))
    page.fill("#username", user)
    page.fill("#password", password)
    page.click("#sign-in")


def test_login_refused_and_allowed_promotion(
    browser: Any, sqlite_auth_server: ServerProcess, model: str
) -> None:
    from playwright.sync_api import expect

    url = sqlite_auth_server.url
    confirm = f"/models/{model}/versions/1/stage?to=Production"
    context = browser.new_context()
    page = context.new_page()
    try:
        _sign_in(page, url, confirm, "ui-reader", "wrong-password")
        expect(page.locator("#login-error")).to_contain_text("Incorrect username or password")
        page.fill("#password", PASSWORD)
        page.click("#sign-in")
        page.wait_for_url(re.compile(re.escape(confirm)))
        expect(page.locator("#signed-in-user")).to_have_text("ui-reader")
        cookie = next(c for c in context.cookies() if c["name"] == "modelyard_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
        # The version page offers no direct move to Production, and says why...
        page.goto(url + f"/models/{model}/versions/1")
        expect(page.locator(".stage-refusal", has_text="to Production")).to_contain_text(
            "needs MANAGE_PRODUCTION_VERSIONS"
        )
        expect(page.locator(".stage-refusal", has_text="to Production")).to_contain_text(
            "ui-reader has READ"
        )
        expect(page.locator("a.stage-move-production")).to_have_count(0)
        # ...and a request made anyway is refused by the server with the same reason.
        page.goto(url + confirm)
        page.click("#confirm-stage")
        expect(page.locator(".error-status")).to_have_text("403")
        expect(page.locator(".error-message")).to_contain_text("MANAGE_PRODUCTION_VERSIONS")
        page.click("#sign-out")
        page.wait_for_url(re.compile(r"/login"))
        _sign_in(page, url, f"/models/{model}/versions/1", "ui-promoter")
        page.click(".stage-move-production")
        page.wait_for_url(re.compile(re.escape(confirm)))
        page.click("#confirm-stage")
        page.wait_for_url(re.compile(r"done=stage"))
    finally:
        context.close()
    got = httpx.get(
        f"{url}/api/2.0/mlflow/model-versions/get",
        params={"name": model, "version": "1"},
        headers=ADMIN_HEADERS,
    ).json()
    assert got["model_version"]["current_stage"] == "Production"


def test_forms_need_the_csrf_token_and_admin_page(
    browser: Any, sqlite_auth_server: ServerProcess, model: str
) -> None:
    from playwright.sync_api import expect

    url = sqlite_auth_server.url
    context = browser.new_context()
    page = context.new_page()
    try:
        _sign_in(page, url, "/admin", *ADMIN)
        page.wait_for_url(re.compile(r"/admin$"))
        expect(page.locator("#users")).to_contain_text("ui-promoter")
        grant = page.locator("#grant-form")
        grant.locator("input[name=username]").fill("ui-reader")
        grant.locator("input[name=resource]").fill(model)
        grant.locator("select[name=permission]").select_option("EDIT")
        grant.locator("button").click()
        expect(page.locator("#admin-done")).to_contain_text("granted EDIT on ui-model to ui-reader")
        session = next(c for c in context.cookies() if c["name"] == "modelyard_session")
    finally:
        context.close()
    # The same session without the token: refused.
    forged = httpx.post(
        f"{url}/models/{model}/versions/1/description",
        data={"description": "forged"},
        cookies={"modelyard_session": session["value"]},
        headers={"Origin": url},
    )
    assert forged.status_code == 403
    assert "CSRF" in forged.text
    # A reader is not shown the admin page.
    with httpx.Client(base_url=url) as c:
        assert c.get("/admin", auth=("ui-promoter", PASSWORD)).status_code == 403
