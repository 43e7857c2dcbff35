r"""The deterministic part of a cold start: `modelyard server` until uvicorn would serve.

The wall-clock cold start (`bench_cold_start.py`) on a shared machine moves by
tens of milliseconds between rounds, more than most start-up changes are worth.
This probe runs the real `modelyard server` command (argument parsing, the port
check, migrations, uvicorn's config, `create_app`) in a fresh temporary
directory and exits the process at the moment uvicorn's `Server.run` would
start its event loop. Count it with a tool whose figure does not depend on the
load:

    valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        .venv/bin/python bench/start_path_probe.py
    perf stat -r 10 -e task-clock .venv/bin/python bench/start_path_probe.py

To compare another checkout's sources with this venv:
`PYTHONPATH=<checkout>/src .venv/bin/python bench/start_path_probe.py`
(compile its bytecode first: `.venv/bin/python -m compileall -q <checkout>/src/modelyard`).
What comes after (the lifespan, binding the socket, the first request) is in
`bench_cold_start.py`'s figures.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import socket
import sys
import tempfile
from collections.abc import Sequence
from types import ModuleType
from typing import Any


class StopAtServe(importlib.abc.MetaPathFinder):
    """Patches `uvicorn.server.Server.run` as the module loads, to exit the process."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "uvicorn.server":
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        assert spec is not None and spec.loader is not None
        load = spec.loader.exec_module

        def exec_module(module: ModuleType) -> None:
            load(module)

            def run(self: Any, sockets: Any = None) -> None:
                os._exit(0)  # the application is built; uvicorn would start its loop here

            module.Server.run = run

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


if __name__ == "__main__":
    sys.meta_path.insert(0, StopAtServe())
    os.chdir(tempfile.mkdtemp(prefix="modelyard-start-probe-"))
    sys.argv = ["modelyard", "server", "--port", str(free_port()), "--log-level", "warning"]
    from modelyard.cli import main

    main()
    raise SystemExit("start_path_probe: uvicorn's Server.run was never reached")
