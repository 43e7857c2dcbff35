"""What the webhook outbox costs a registry write: model versions created with
no webhook, and with five webhooks listening (five deliveries queued per
version, in the version's transaction). Direct store calls, no HTTP.

    python bench/bench_webhooks.py [--versions N] [--backend-store-uri URI]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from modelyard.store.registry import Actor, NewModelVersion
from modelyard.store.sql import migrations
from modelyard.store.sql.db import Database
from modelyard.store.sql.registry import SqlRegistryStore
from modelyard.store.sql.webhooks import SqlWebhookStore
from modelyard.webhook_entities import Flavor, Webhook


def _run(db: Database, model: str, versions: int) -> list[float]:
    store = SqlRegistryStore(db)
    store.create_registered_model(model, None, [], 1)
    new = NewModelVersion(model, "runs:/r/m", None, None, None, None, None, None)
    times = []
    for _ in range(versions):
        started = time.perf_counter()
        store.create_model_version(new, Actor(1))
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--versions", type=int, default=500)
    parser.add_argument("--backend-store-uri")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(args.backend_store_uri or f"sqlite:///{Path(tmp) / 'bench.db'}")
        migrations.upgrade(db)
        base = _run(db, "bench-plain", args.versions)
        hooks = SqlWebhookStore(db)
        for i in range(5):
            hooks.create_webhook(
                Webhook(f"bench{i}", Flavor.MLFLOW, f"b{i}", "https://8.8.8.8/",
                        ("model_version.created",), "ACTIVE", 1, 1),
                None,
                None,
            )  # fmt: skip
        hooked = _run(db, "bench-hooked", args.versions)
        db.close()
    for label, times in (("no webhook", base), ("5 webhooks", hooked)):
        q = statistics.quantiles(times, n=100)
        print(f"{label:>10}: median {statistics.median(times):.2f} ms, p95 {q[94]:.2f} ms")


if __name__ == "__main__":
    main()
