"""`preservation ...`: the console entry point. One line on stderr and a non-zero exit for any
failure (1) or bad input (2); tracebacks only with -v."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Callable
from typing import Any

from preservation.cli import commands
from preservation.errors import InvalidInput, PreservationError, SettingsError

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT = 0, 1, 2


class ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own exits with 2 too; keep one line
        self.exit(EXIT_BAD_INPUT, f"preservation: {message}\n")


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="preservation", description="Preservation dispatcher")
    parser.add_argument("-v", "--verbose", action="store_true", help="show tracebacks")
    parser.add_argument("--version", action="version", version=f"preservation {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=ArgumentParser)
    for register in commands.REGISTRARS:
        register(sub)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("preservation-dispatcher")
    except PackageNotFoundError:  # a checkout run without installing
        return "unknown (not installed)"


def emit(result: Any, *, as_json: bool, text: Callable[[Any], str] | None = None) -> None:
    if as_json:
        print(json.dumps(result, indent=2, default=str, ensure_ascii=False))
    elif text is not None:
        print(text(result))
    elif isinstance(result, str):
        print(result)
    else:
        print(json.dumps(result, indent=2, default=str, ensure_ascii=False))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        from preservation.cli.core import cmd_db_upgrade, cmd_serve
        from preservation.cli.database import check_database

        # Every command here opens a database: name it, and create none but these two. A command
        # an MTA runs (`mail receive`) answers in its own exit codes and checks this itself.
        if not getattr(args, "mta", False):
            check_database(args, creates={cmd_serve, cmd_db_upgrade})
        outcome = args.func(args)
        if asyncio.iscoroutine(outcome):
            outcome = asyncio.run(outcome)
        return int(outcome or EXIT_OK)
    except (InvalidInput, SettingsError) as exc:
        _fail(args, exc)
        return EXIT_BAD_INPUT
    except PreservationError as exc:
        _fail(args, exc)
        return EXIT_BAD_INPUT if exc.status < 500 else EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_FAILURE
    except Exception as exc:  # noqa: BLE001 - the CLI's last resort: one line, no traceback
        _fail(args, exc)
        return EXIT_FAILURE


def _fail(args: argparse.Namespace, exc: BaseException) -> None:
    if getattr(args, "verbose", False):
        logging.getLogger(__name__).exception("command failed")
    # One line: the message already names each field ("unit: ...; role: ...").
    message = " ".join(str(exc).split()) or type(exc).__name__
    print(f"preservation: {message}", file=sys.stderr)
