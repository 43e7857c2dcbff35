"""Measure what a client-only install of modelyard costs.

    python bench/client_footprint.py [PROJECT_DIR] [--keep] [--json]

Creates a fresh virtual environment in a temporary directory, installs
PROJECT_DIR (default: this checkout) with no extras (`pip install PROJECT_DIR`),
and reports:

* the distributions the install added to the fresh venv, and their installed
  size summed from each distribution's RECORD;
* the growth of site-packages on disk (what `du` would say);
* which modules `import modelyard` and `import modelyard.client` load, checking
  that none of the server stack is among them, and how long they take.

Targets (issue 5): at most 15 MB and 10 distributions. Exit status 1 when a
target is missed or a server module is imported.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

TARGET_MB = 15.0
TARGET_DISTS = 10
SERVER_STACK = ("starlette", "uvicorn", "psycopg", "psycopg_pool", "orjson", "jinja2")

# Run inside the new venv, from a directory outside the checkout.
PROBE = """
import json, sys, time
stack = set(json.loads(sys.argv[1]))
def tops():
    return sorted({m.split('.')[0] for m in sys.modules})
t = time.perf_counter(); import modelyard; a = time.perf_counter() - t
after_pkg = tops()
t = time.perf_counter(); import modelyard.client; b = time.perf_counter() - t
after_client = tops()
print(json.dumps({
    "import_modelyard_ms": round(a * 1000, 1),
    "import_client_ms": round(b * 1000, 1),
    "httpx_loaded_by_import_modelyard": "httpx" in after_pkg,
    "server_modules": sorted(stack & set(after_client)),
}))
"""

DISTS = """
import json
from importlib import metadata
out = {}
for d in metadata.distributions():
    size = 0
    for f in d.files or ():
        try:
            size += d.locate_file(f).stat().st_size
        except OSError:
            pass
    out[d.metadata["Name"]] = [d.version, size]
print(json.dumps(out))
"""


@dataclass
class Report:
    python: str
    install_seconds: float
    distributions: dict[str, str]  # name -> "version (size)"
    record_bytes: int
    site_packages_growth_bytes: int
    import_modelyard_ms: float
    import_client_ms: float
    httpx_loaded_by_import_modelyard: bool
    server_modules: list[str]

    @property
    def ok(self) -> bool:
        return (
            len(self.distributions) <= TARGET_DISTS
            and self.site_packages_growth_bytes / 1e6 <= TARGET_MB
            and not self.server_modules
        )


def _run(cmd: list[str], cwd: Path | None = None) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=cwd).stdout


def _du(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            total += (Path(root) / name).lstat().st_size
    return total


def measure(project: Path, workdir: Path) -> Report:
    venv = workdir / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    python = str(venv / "bin" / "python")
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(_run([python, "-c", purelib]).strip())
    before = json.loads(_run([python, "-c", DISTS]))
    size_before = _du(site)
    started = time.perf_counter()
    _run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", str(project)])
    install_seconds = round(time.perf_counter() - started, 1)
    after = json.loads(_run([python, "-c", DISTS]))
    added = {k: v for k, v in after.items() if k not in before}
    probe = json.loads(_run([python, "-c", PROBE, json.dumps(SERVER_STACK)], cwd=workdir))
    return Report(
        python=_run([python, "--version"]).strip(),
        install_seconds=install_seconds,
        distributions={k: f"{v[0]} ({v[1] / 1e6:.2f} MB)" for k, v in sorted(added.items())},
        record_bytes=sum(v[1] for v in added.values()),
        site_packages_growth_bytes=_du(site) - size_before,
        **probe,
    )


def render(report: Report, project: str) -> str:
    lines = [
        f"{report.python}; pip install {project} (no extras) in a fresh venv: "
        f"{report.install_seconds}s",
        f"distributions added: {len(report.distributions)} (target <= {TARGET_DISTS})",
        *(f"  {name} {what}" for name, what in report.distributions.items()),
        f"installed size: {report.record_bytes / 1e6:.2f} MB by RECORD, "
        f"{report.site_packages_growth_bytes / 1e6:.2f} MB site-packages growth "
        f"(target <= {TARGET_MB:g} MB)",
        f"import modelyard: {report.import_modelyard_ms} ms "
        f"(httpx loaded: {report.httpx_loaded_by_import_modelyard}); "
        f"then import modelyard.client: {report.import_client_ms} ms",
        f"server modules loaded by the client: {', '.join(report.server_modules) or 'none'}",
        "OK" if report.ok else "TARGET MISSED",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project", nargs="?", default=str(Path(__file__).resolve().parents[1]))
    parser.add_argument("--keep", action="store_true", help="keep the venv (path printed)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="modelyard-footprint-"))
    try:
        report = measure(Path(args.project), workdir)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        print(json.dumps({**asdict(report), "ok": report.ok}, indent=2))
    else:
        print(render(report, args.project))
    if args.keep:
        print(f"venv kept at {workdir / 'venv'}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
