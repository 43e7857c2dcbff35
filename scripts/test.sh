#!/usr/bin/env bash
# The whole test suite on a fresh machine of this project's kind (Debian, root,
# PostgreSQL installed): everything the tests need is installed or started here.
set -euo pipefail
cd "$(dirname "$0")/.."

# PostgreSQL at 127.0.0.1:5432 (trust auth) is installed on these machines but may be stopped.
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
    for _ in $(seq 1 50); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 0.2; done
fi

# The browser tests (tests/ui) drive Debian's chromium; Playwright's own browser download
# is not available here.
command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

python3 -m venv .venv
.venv/bin/pip install -q -e '.[test]'
exec .venv/bin/python -m pytest -n 2 "$@"
