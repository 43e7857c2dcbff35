"""The webhooks pages: every webhook the caller may manage, and one webhook's
delivery log with each attempt and a "Redeliver" button.

Reads and the redelivery go through `WebhookService`, the calls the REST API
makes, so the same permission rule applies (admins; MANAGE on the model for a
model's own webhooks). Secrets are never shown: the service does not have
them in clear outside a delivery.
"""

from __future__ import annotations

from starlette.responses import Response

from modelyard.http.auth_rules import USER, Rule
from modelyard.ui.render import Page, url_quote
from modelyard.ui.web import UiRequest, redirect

DELIVERIES_PER_PAGE = 50
NOTICES = {"redelivered": "Delivery queued again; it goes out within a moment."}


def webhooks_list(req: UiRequest) -> Page:
    service = req.services.webhooks
    hooks = service.list(req.user, None, max_results=1000).items
    return Page("webhooks.html", {"hooks": hooks})


def webhook_page(req: UiRequest) -> Page:
    service = req.services.webhooks
    hook = service.get(req.user, req.path_params["webhook_id"], None)
    page = service.deliveries(
        req.user,
        hook.webhook_id,
        max_results=DELIVERIES_PER_PAGE,
        page_token=req.arg("page") or None,
    )
    return Page(
        "webhook.html",
        {
            "hook": hook,
            "deliveries": page.items,
            "next_page": page.next_page_token,
            "notice": NOTICES.get(req.arg("done")),
        },
    )


def redeliver(req: UiRequest) -> Response:
    hook_id = req.path_params["webhook_id"]
    req.services.webhooks.redeliver(req.user, hook_id, req.path_params["delivery_id"])
    return redirect(f"/webhooks/{url_quote(hook_id)}?done=redelivered")


# The pages list and show only what the caller may manage (the service decides).
PERMISSIONS: dict[tuple[str, str], Rule] = {
    ("GET", "/webhooks"): USER,
    ("GET", "/webhooks/{webhook_id}"): USER,
    ("POST", "/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"): USER,
}
