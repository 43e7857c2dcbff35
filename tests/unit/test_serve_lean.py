"""`modelyard server` loads uvicorn's serving modules without its CLI (cold start, issue 15).

`modelyard.serve.import_uvicorn_lean` registers the uvicorn package without its
`__init__` (click, the reload and multi-process supervisors); the first use of a
name that `__init__` defines runs it then. The h11 protocol is built at its first
use too. Each check runs in a fresh interpreter: the test process has imported
everything already.
"""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = r"""
import json, pickle, sys
from modelyard import serve

serve.import_uvicorn_lean()  # as `modelyard server` does, before anything imports uvicorn
from modelyard.http import header_timeout
from uvicorn.config import Config
from uvicorn.server import Server

heavy = ["click", "uvicorn.main", "uvicorn.supervisors", "watchfiles", "multiprocessing", "h11"]
out = {"before": [m for m in heavy if m in sys.modules]}
factory = header_timeout.protocol_with_header_timeout(5.0)
out["httptools_factory"] = factory.func.__name__
out["still_lean"] = [m for m in heavy if m in sys.modules]

import uvicorn  # the package as the rest of the process sees it: complete at first use

out["version"] = uvicorn.__version__
out["run_is_callable"] = callable(uvicorn.run)
out["same_config"] = uvicorn.Config is Config and uvicorn.Server is Server
try:
    uvicorn.no_such_name
except AttributeError:
    out["unknown_name"] = "AttributeError"
h11 = header_timeout.protocol_with_header_timeout(5.0, parser="h11")
out["h11_factory"] = h11.func.__name__
out["h11_pickles"] = pickle.loads(pickle.dumps(h11)).func is header_timeout.H11HeaderTimeoutProtocol
out["h11_is_h11"] = any(c.__module__ == "uvicorn.protocols.http.h11_impl" for c in h11.func.__mro__)
print(json.dumps(out))
"""


def test_serving_modules_load_without_uvicorns_cli_and_the_package_completes_on_use() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["before"] == []
    assert out["still_lean"] == []
    assert out["httptools_factory"] == "HttpToolsHeaderTimeoutProtocol"
    assert out["version"] and out["run_is_callable"] and out["same_config"]
    assert out["unknown_name"] == "AttributeError"
    assert out["h11_factory"] == "H11HeaderTimeoutProtocol"
    assert out["h11_pickles"] and out["h11_is_h11"]
