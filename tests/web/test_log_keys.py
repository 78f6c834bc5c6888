"""A log call whose `extra` names a LogRecord attribute raises KeyError at run time (a 500 after
the work was done). Catch every such key in the source, whatever the log level of the tests."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def test_no_log_extra_key_overwrites_a_record_attribute() -> None:
    clashes = []
    for package in ("preservation", "providers", "contacts"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.keyword)
                    and node.arg == "extra"
                    and isinstance(node.value, ast.Dict)
                ):
                    for key in node.value.keys:
                        if isinstance(key, ast.Constant) and key.value in RESERVED:
                            clashes.append(f"{path.relative_to(ROOT)}:{key.lineno}: {key.value!r}")
    assert clashes == []
