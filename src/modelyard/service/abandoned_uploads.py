"""Cleaning up after uploads a killed server could not finish.

A server killed mid-upload (kill -9, out-of-memory killer, power loss) leaves a
temporary file in the local artifact folder or a multipart upload in the S3
bucket, and nothing in that process survives to remove it. So every server
start-up sweeps the --artifacts-destination store once, in a background thread
(walking a large folder or bucket must not delay serving). What counts as
abandoned is the store's business (`ArtifactStore.remove_abandoned_uploads`):
a temporary file no live process holds a lock on, or an S3 multipart upload
with no part for `--abandoned-upload-age` seconds.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

log = logging.getLogger(__name__)


def sweep(services: Any) -> int:
    """Remove abandoned uploads from the served artifact store; return how many."""
    artifacts = services.artifacts
    if artifacts is None or artifacts.proxied is None:
        return 0
    store = artifacts.proxied
    removed = int(store.remove_abandoned_uploads(services.settings.abandoned_upload_age))
    if removed:
        log.info("removed %d upload(s) left unfinished in %s by an earlier server", removed, store)
    return removed


def sweep_in_background(services: Any) -> threading.Thread:
    """Start `sweep` on a daemon thread; a failure is logged, never fatal to serving."""

    def run() -> None:
        try:
            sweep(services)
        except Exception:
            log.warning("could not sweep abandoned uploads", exc_info=True)

    thread = threading.Thread(target=run, name="abandoned-upload-sweep", daemon=True)
    thread.start()
    return thread
