"""The approval policy card on the model page: a manager sets it there, everyone
else reads it with the reason they cannot change it, and the version page follows
the new rule. The form post goes through the same cross-site check as every form."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from access_double import StageRights
from test_approvals_ui import _post, page_as, serve
from test_ui_http import HTML, InprocClient, app_client, services_of  # noqa: F401  (fixture)

from modelyard.app import create_app
from modelyard.service.search_filter import Comparison
from modelyard.settings import Settings


class Rights(StageRights):
    """`StageRights` plus the `Access` methods added since it was written
    (nothing protected, nothing hidden, creators get nothing extra)."""

    def require_alias_change(self, user: str | None, model: str, alias: str) -> None:
        return None

    def visibility(self, user: str | None, kind: str) -> Comparison | None:
        return None

    def record_creator(self, user: str | None, kind: str, resource: str) -> None:
        return None


@pytest.fixture(scope="module")
def policy_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """No server-wide --require-approval: each model starts with nothing required.
    carol manages every model; alice has no stage right; bob has Production."""
    data = tmp_path_factory.mktemp("approval-policy-ui")
    app = create_app(
        Settings(
            backend_store_uri=f"sqlite:///{data / 'modelyard.db'}",
            artifacts_destination=str(data / "artifacts"),
        )
    )
    services_of(app).access = Rights({"bob": {"Production"}}, admins=frozenset({"carol"}))
    with serve(app) as url:
        yield url


def test_manager_requires_production_approval_on_the_model_page(
    browser: Any, policy_server: str
) -> None:
    from playwright.sync_api import expect

    url = policy_server
    name = f"mnist_test_{uuid.uuid4().hex[:8]}"
    run_id = _post(url, "runs/create", {"experiment_id": "0"})["run"]["info"]["run_id"]
    _post(url, "registered-models/create", {"name": name})
    _post(url, "model-versions/create", {"name": name, "source": f"runs:/{run_id}/m"})
    production_rule = '.approval-rule[data-stage="Production"]'

    with page_as(browser, url, "alice") as page:
        page.goto(f"/models/{name}")
        expect(page.locator(production_rule)).to_contain_text("no approval needed")
        expect(page.locator(production_rule)).to_contain_text("server default")
        # Not a manager: read-only, with the reason.
        expect(page.locator("#approval-policy-form")).to_have_count(0)
        expect(page.locator(".policy-refusal")).to_contain_text("needs the manage right")
        page.goto(f"/models/{name}/versions/1")
        expect(page.locator("#requests")).to_contain_text("Production: no approval needed")

    with page_as(browser, url, "carol") as page:
        page.goto(f"/models/{name}")
        form = page.locator("#approval-policy-form")
        form.get_by_label("Production").check()
        form.get_by_role("button", name="Save approval policy").click()
        expect(page.get_by_role("status")).to_contain_text("Approval policy saved.")
        expect(page.locator(production_rule)).to_contain_text("approval required")
        expect(page.locator(production_rule)).to_contain_text("this model's policy")
        # The untouched stage keeps following the server's default.
        expect(page.locator('.approval-rule[data-stage="Staging"]')).to_contain_text(
            "server default"
        )
        expect(page.locator("#approval-policy-form").get_by_label("Production")).to_be_checked()

    policy = httpx_get_policy(url, name)
    assert {"stage": "Production", "required": True} in [
        {"stage": s["stage"], "required": s["required"]} for s in policy["stages"]
    ]

    with page_as(browser, url, "alice") as page:
        page.goto(f"/models/{name}/versions/1")
        expect(page.locator("#requests")).to_contain_text("Production: approval required")
        # No direct move for her: the Production button is shown disabled with the reason.
        expect(page.locator("a.stage-move-production")).to_have_count(0)
        expect(page.locator(".stage-move-production")).to_have_attribute("aria-disabled", "true")
        expect(page.get_by_role("button", name="Request promotion")).to_be_visible()
        # A direct move now names the model's approval rule and how to request.
        page.goto(f"/models/{name}/versions/1/stage?to=Production")
        page.locator("#confirm-stage").click()
        expect(page.locator("body")).to_contain_text(
            f"Registered model '{name}' requires approval to enter Production"
        )


def httpx_get_policy(url: str, name: str) -> dict[str, Any]:
    import httpx

    resp = httpx.get(
        f"{url}/api/modelyard/v1/registered-models/approval-policy",
        params={"name": name},
        auth=("carol", "x"),
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def test_cross_site_policy_post_is_refused(
    app_client: tuple[InprocClient, Any],  # noqa: F811
) -> None:
    client, services = app_client
    services.registry.create_registered_model("m")
    path = "/models/m/approval-policy"

    def production_required() -> bool:
        rules = services.approvals.approval_rules("m")
        return any(r.stage == "Production" and r.required for r in rules)

    evil = {**HTML, "origin": "https://evil.example"}
    assert client.post(path, data={"stage": "Production"}, headers=evil).status_code == 403
    fetch = {**HTML, "sec-fetch-site": "cross-site"}
    assert client.post(path, data={"stage": "Production"}, headers=fetch).status_code == 403
    assert not production_required()

    same_site = client.post(path, data={"stage": "Production"}, headers=HTML)
    assert same_site.status_code == 303
    assert same_site.headers["location"] == "/models/m?done=policy#approval-policy"
    assert production_required()
