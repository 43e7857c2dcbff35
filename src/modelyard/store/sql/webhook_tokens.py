"""Whether any webhook holds a stored secret: the one question start-up asks of webhooks.

A server re-encrypts the stored webhook secrets under its key when it starts, and
refuses to start when one cannot be read (`WebhookService.rotate_secrets`). With
none stored, the common case, there is nothing to check, so `create_app` loads the
webhook modules after the server is serving instead of before.
"""

from __future__ import annotations

from modelyard.store.sql.db import Database


def any_stored_token(db: Database) -> bool:
    with db.read() as tx:
        return (
            tx.scalar(
                "SELECT 1 FROM webhooks WHERE secret_token IS NOT NULL "
                "OR authorization_token IS NOT NULL LIMIT 1"
            )
            is not None
        )
