"""The front page (`/`): a small script that routes MLflow's hash links."""

from __future__ import annotations

from modelyard.ui.render import Page
from modelyard.ui.web import UiRequest


def home(req: UiRequest) -> Page:
    """The front page: MLflow clients print links such as
    `/#/experiments/1/runs/<id>`, whose hash never reaches the server, so this
    page's script (static/deeplink.js) routes them to the matching page; with
    no hash it opens the experiments list."""
    return Page("front.html")
