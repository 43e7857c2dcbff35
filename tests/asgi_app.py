"""Reach the Starlette app inside `create_app`'s middleware.

`create_app` returns the Starlette app wrapped in middleware (`AccessLog`, with
auth `RealmOn401`, `Door`, `BodyTimeout`), and how many layers there are depends
on the settings and on which features are merged. Tests that need the services
on `app.state` walk `.app` down instead of counting layers, so a new wrapper
does not break them.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette


def starlette_app(app: Any) -> Starlette:
    """The Starlette app inside `app`, however many middleware layers wrap it."""
    while not isinstance(app, Starlette):
        app = app.app
    return app
