"""What every command shares: exit codes, the error for input a command cannot use, the parser that reports a
usage error on one line, and reading the options and files several commands take."""

from __future__ import annotations

import argparse
import json
from decimal import Decimal
from typing import TYPE_CHECKING, NoReturn
from zoneinfo import ZoneInfo

from meterbill.timeutil import UnknownTimeZoneError, zone

EXIT_OK = 0
EXIT_UNAVAILABLE = 1
EXIT_BAD_INPUT = 2
EXIT_BROKEN_PIPE = 141  # what a shell reports for a process ended by SIGPIPE


class InputError(ValueError):
    """Input the command cannot use; the message names the file or option, the line or field, the reason."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: {message} (see {self.prog} --help)\n")


if TYPE_CHECKING:  # generic only to type checkers
    Commands = argparse._SubParsersAction[Parser]  # what a command group adds its commands to


def time_zone(name: str) -> ZoneInfo:
    """``--tz``: an IANA time zone."""
    try:
        return zone(name)
    except UnknownTimeZoneError as err:
        raise InputError(f"--tz: {err}") from None


def json_document(path: str) -> object:
    """A JSON file's content, numbers with a fraction as exact decimals."""
    try:
        with open(path, encoding="utf-8") as file:
            document: object = json.load(file, parse_float=Decimal)
    except OSError as err:
        raise InputError(f"{path}: cannot read the file: {err.strerror or err}") from None
    except UnicodeDecodeError as err:
        raise InputError(f"{path}: not UTF-8 text: {err.reason}") from None
    except json.JSONDecodeError as err:
        raise InputError(f"{path}: invalid JSON at line {err.lineno} column {err.colno}: {err.msg}") from None
    return document
