#!/usr/bin/env bash
# Set up a virtual environment, install the service, and run it on the embedded default
# (SQLite file ./preservation.db, demo directory loaded into an empty database).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -c constraints.txt -e .
exec .venv/bin/preservation serve "$@"
