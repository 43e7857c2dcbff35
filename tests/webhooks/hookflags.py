"""Server flags for webhook tests (a module of its own: `conftest` is an ambiguous
name to import from when several test folders run in one session)."""

from __future__ import annotations

SECRET_KEY = "test-secret-key-for-webhooks"

# Fast retries and polling so tests finish quickly; correctness does not depend on them.
FLAGS = [
    "--webhook-allow-http",
    "--webhook-allow-private",
    "--secret-key",
    SECRET_KEY,
    "--webhook-retry-base-ms",
    "50",
    "--webhook-poll-ms",
    "50",
    "--webhook-timeout",
    "2",
]
