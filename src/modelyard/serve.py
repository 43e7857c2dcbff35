"""Running uvicorn for `modelyard server` without importing uvicorn's command line.

`import uvicorn` (or any `uvicorn.x` submodule: a package's `__init__` runs first)
imports `uvicorn.main`, which brings click, the reload and multi-process
supervisors (watchfiles, multiprocessing) and their dependencies: 20-30 ms of
CPU in a cold start of about 200 ms, for machinery a one-process server never
uses. `import_uvicorn_lean` registers the `uvicorn` package without running its
`__init__`, so `uvicorn.config`, `uvicorn.server` and the protocol modules load
alone; the first access to any attribute the `__init__` would have defined
(`uvicorn.run`, `uvicorn.Config`, `uvicorn.__version__`, ...) runs the
`__init__` then, so other code in the process sees the whole package.

`run` does what `uvicorn.run` does for one process (build a `Config`, load the
application, run a `Server`, exit with uvicorn's start-up failure code when it
did not start), and hands anything else (--workers, WEB_CONCURRENCY) to
`uvicorn.run` itself.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import threading
from types import ModuleType
from typing import Any


def import_uvicorn_lean() -> ModuleType:
    """The `uvicorn` package, its `__init__` deferred to the first attribute it defines.

    Raises ModuleNotFoundError when uvicorn is not installed. A no-op when
    uvicorn is imported already.
    """
    loaded = sys.modules.get("uvicorn")
    if loaded is not None:
        return loaded
    spec = importlib.util.find_spec("uvicorn")
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError("No module named 'uvicorn'", name="uvicorn")
    package = importlib.util.module_from_spec(spec)
    lock = threading.Lock()

    def complete(name: str) -> Any:
        # Runs the __init__ once: its names then live in the module's dict and
        # this hook is gone, so a name it does not define raises as usual. The
        # lock makes a second thread that asks meanwhile wait for the whole
        # package instead of seeing it half-initialised.
        with lock:
            if package.__dict__.pop("__getattr__", None) is not None:
                spec.loader.exec_module(package)  # type: ignore[union-attr]
        return getattr(package, name)

    package.__dict__["__getattr__"] = complete
    sys.modules["uvicorn"] = package
    return package


def run(app: str, **options: Any) -> None:
    """`uvicorn.run(app, **options)`, without uvicorn's CLI imports for one process."""
    workers = options.get("workers")
    if (
        options.get("reload")
        or (workers or 1) > 1
        or (
            workers is None and "WEB_CONCURRENCY" in os.environ  # uvicorn reads it then
        )
    ):
        import uvicorn

        uvicorn.run(app, **options)
        return
    import_uvicorn_lean()
    from uvicorn.config import STARTUP_FAILURE, Config
    from uvicorn.server import Server

    config = Config(app, **options)
    config.load_app()
    server = Server(config=config)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: uvicorn has shut down already
        server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)
