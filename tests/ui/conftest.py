"""Browser tests: Playwright driving Debian's chromium against a live `modelyard server`.

One server and one browser per test session (per xdist worker); each test
gets a fresh browser context and fills its own experiment or model through
the stock mlflow client, under unique names, so tests never see each other's
data. Playwright waits for what it asserts (locators, `expect`), so no test
sleeps. A failing test leaves a full-page screenshot in test-artifacts/.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from servers import ServerProcess, modelyard_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ARTIFACTS_DIR = Path(__file__).resolve().parents[2] / "test-artifacts"
_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call" and report.failed:
        item.stash[_FAILED] = True
    return report


def launch_chromium(playwright: Any) -> Any:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's chromium "
            "(apt-get install -y chromium; .ci/run installs it)."
        )
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium for one test module. Module scope, not session: while Playwright's sync
    API is open it keeps an asyncio loop marked running on the worker's main thread,
    and tests that run later on the same worker and start a loop of their own (anyio,
    asyncio.run) would fail with "Already running asyncio in this thread"."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with modelyard_server(tmp_path_factory.mktemp("ui-server")) as server:
        yield server


@pytest.fixture
def client(ui_server: ServerProcess) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=ui_server.url, registry_uri=ui_server.url)


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture
def page(browser: Any, ui_server: ServerProcess, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(
        base_url=ui_server.url, viewport={"width": 1366, "height": 900}, accept_downloads=True
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    try:
        if request.node.stash.get(_FAILED, False):
            ARTIFACTS_DIR.mkdir(exist_ok=True)
            name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
            page.screenshot(path=str(ARTIFACTS_DIR / f"{name}.png"), full_page=True)
    finally:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
