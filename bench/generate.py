"""Fill a modelyard server with a team-sized store, through the REST API only.

Default size (the scale benchmark's): 100,000 runs in one experiment, each with
5 params, 5 metrics and 3 tags; 10,000,000 metric points in all, of which one
run's `loss_long` metric holds 1,000,000 (for downsampled history); 10,000
registered models with one version each. `--quick` is a 1% smoke size.

Everything goes through the endpoints a client would use, batched as the API
allows: `runs/create` (MLflow has no batch create), one `runs/log-batch` per run
carrying its params, tags and metric history (at most 1,000 entries, MLflow's
limit), `log-batch` pages of 1,000 points for the long metric, and
`registered-models/create` + `model-versions/create` for the registry.
Requests go out from `--concurrency` threads, each with its own keep-alive
connection; bodies are encoded with orjson so the generator stays cheap next
to the server on a small machine.

    .venv/bin/python bench/generate.py --url http://127.0.0.1:5000 [--quick]

Prints what it made as JSON on stdout (ids the benchmark needs) and progress
on stderr.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

import httpx
import orjson

API = "/api/2.0/mlflow"
PARAMS = ("optimizer", "lr", "batch_size", "layers", "dropout")
METRICS = ("loss", "accuracy", "f1", "precision", "recall")
TAGS = ("team", "dataset", "stage")
TEAMS = ("vision", "nlp", "ranking", "speech", "fraud")
DATASETS = ("imagenet", "coco", "wiki", "clicks", "audio", "tx")
OPTIMIZERS = ("adam", "sgd", "adamw", "rmsprop")
LONG_METRIC = "loss_long"
BATCH_LIMIT = 1000  # MLflow's log-batch limit on metrics + params + tags


@dataclass(frozen=True)
class Sizes:
    runs: int = 100_000
    points: int = 10_000_000
    long_points: int = 1_000_000
    models: int = 10_000

    @property
    def steps_per_metric(self) -> int:
        """History length of each ordinary metric, so that the total is `points`."""
        return max(1, (self.points - self.long_points) // (self.runs * len(METRICS)))


QUICK = Sizes(runs=1_000, points=100_000, long_points=10_000, models=100)


@dataclass
class Made:
    url: str
    experiment_id: str
    long_run_id: str
    run_ids_sample: list[str]
    runs: int
    points: int
    models: int
    seconds: dict[str, float]


def log(msg: str) -> None:
    print(f"[generate {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Api:
    """One keep-alive connection per thread; JSON bodies encoded with orjson."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._local = threading.local()

    def _client(self) -> httpx.Client:
        client: httpx.Client | None = getattr(self._local, "client", None)
        if client is None:
            client = httpx.Client(base_url=self.url, timeout=300)
            self._local.client = client
        return client

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = self._client().post(
            f"{API}/{path}",
            content=orjson.dumps(body),
            headers={"content-type": "application/json"},
        )
        if answer.status_code != 200:
            raise RuntimeError(f"POST {path}: {answer.status_code} {answer.text[:500]}")
        result: dict[str, Any] = orjson.loads(answer.content)
        return result


def _in_parallel(
    concurrency: int, items: Iterable[Any], job: Callable[[Any], Any], label: str, total: int
) -> list[Any]:
    """Run `job` over `items` on `concurrency` threads, logging progress every ~10%."""
    done = 0
    lock = threading.Lock()
    started = time.perf_counter()
    step = max(1, total // 10)

    def wrapped(item: Any) -> Any:
        nonlocal done
        result = job(item)
        with lock:
            done += 1
            if done % step == 0:
                rate = done / (time.perf_counter() - started)
                log(f"{label}: {done:,}/{total:,} ({rate:,.0f}/s)")
        return result

    with ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(wrapped, items))


def _run_body(i: int, run_id: str, steps: int, base_ts: int) -> dict[str, Any]:
    rng = random.Random(i)
    params = [
        {"key": "optimizer", "value": OPTIMIZERS[i % len(OPTIMIZERS)]},
        {"key": "lr", "value": str(round(10 ** rng.uniform(-5, -1), 6))},
        {"key": "batch_size", "value": str(2 ** rng.randint(4, 10))},
        {"key": "layers", "value": str(rng.randint(2, 48))},
        {"key": "dropout", "value": str(round(rng.uniform(0, 0.5), 2))},
    ]
    tags = [
        {"key": "team", "value": TEAMS[i % len(TEAMS)]},
        {"key": "dataset", "value": DATASETS[(i // 7) % len(DATASETS)]},
        {"key": "stage", "value": "prod-candidate" if i % 50 == 0 else "experiment"},
    ]
    quality = rng.random()
    metrics = []
    for step in range(steps):
        progress = (step + 1) / steps
        values = {
            "loss": (1 - quality) / progress,
            "accuracy": quality * progress,
            "f1": quality * progress * 0.95,
            "precision": min(1.0, quality * progress * 1.02),
            "recall": quality * progress * 0.9,
        }
        for key in METRICS:
            metrics.append(
                {"key": key, "value": values[key], "timestamp": base_ts + step, "step": step}
            )
    return {"run_id": run_id, "params": params, "tags": tags, "metrics": metrics}


def generate(url: str, sizes: Sizes, concurrency: int = 4, seed_name: str = "scale") -> Made:
    api = Api(url)
    seconds: dict[str, float] = {}
    steps = sizes.steps_per_metric
    if len(PARAMS) + len(TAGS) + steps * len(METRICS) > BATCH_LIMIT:
        raise SystemExit(f"{steps} steps per metric do not fit one log-batch")
    exp_id = api.post("experiments/create", {"name": f"{seed_name}-{int(time.time())}"})[
        "experiment_id"
    ]
    base_ts = 1_700_000_000_000
    log(f"experiment {exp_id}: {sizes.runs:,} runs × {steps} steps × {len(METRICS)} metrics")

    started = time.perf_counter()

    def make_run(i: int) -> str:
        run = api.post(
            "runs/create",
            {"experiment_id": exp_id, "run_name": f"run-{i:06d}", "start_time": base_ts + i},
        )["run"]
        run_id: str = run["info"]["run_id"]
        api.post("runs/log-batch", _run_body(i, run_id, steps, base_ts + i * 1000))
        return run_id

    run_ids = _in_parallel(concurrency, range(sizes.runs), make_run, "runs", sizes.runs)
    seconds["runs"] = time.perf_counter() - started

    started = time.perf_counter()
    long_run = run_ids[0]
    pages = range(0, sizes.long_points, BATCH_LIMIT)

    def log_page(start: int) -> None:
        end = min(start + BATCH_LIMIT, sizes.long_points)
        metrics = [
            {"key": LONG_METRIC, "value": 1.0 / (s + 1), "timestamp": base_ts + s, "step": s}
            for s in range(start, end)
        ]
        api.post("runs/log-batch", {"run_id": long_run, "metrics": metrics})

    _in_parallel(concurrency, pages, log_page, f"{LONG_METRIC} pages", len(pages))
    seconds["long_metric"] = time.perf_counter() - started

    started = time.perf_counter()

    def make_model(i: int) -> None:
        name = f"model-{i:05d}"
        api.post(
            "registered-models/create",
            {"name": name, "tags": [{"key": "team", "value": TEAMS[i % len(TEAMS)]}]},
        )
        run_id = run_ids[i % len(run_ids)]
        api.post(
            "model-versions/create",
            {"name": name, "source": f"runs:/{run_id}/model", "run_id": run_id},
        )

    _in_parallel(concurrency, range(sizes.models), make_model, "models", sizes.models)
    seconds["models"] = time.perf_counter() - started

    ordinary = sizes.runs * len(METRICS) * steps
    return Made(
        url=url,
        experiment_id=str(exp_id),
        long_run_id=long_run,
        run_ids_sample=run_ids[:: max(1, len(run_ids) // 100)],
        runs=sizes.runs,
        points=ordinary + sizes.long_points,
        models=sizes.models,
        seconds={k: round(v, 1) for k, v in seconds.items()},
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="base URL of a running modelyard server")
    parser.add_argument("--quick", action="store_true", help="1%% size smoke run")
    parser.add_argument("--concurrency", type=int, default=4, help="client threads (default 4)")
    args = parser.parse_args(argv)
    made = generate(args.url, QUICK if args.quick else Sizes(), args.concurrency)
    print(json.dumps(asdict(made), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
