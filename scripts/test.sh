#!/usr/bin/env bash
# Set up a virtual environment with the test extra and run the whole test suite.
# PostgreSQL tests run when PRESERVATION_TEST_POSTGRES names a server
# (e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test); otherwise they are reported skipped.
# The versions installed are those of constraints.txt (refreshed by scripts/lock.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -c constraints.txt -e '.[test]'
exec .venv/bin/python -m pytest "$@"
