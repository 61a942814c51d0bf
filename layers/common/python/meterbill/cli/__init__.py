"""`meterbill …`: the command line. Bills go to stdout (JSON for scripts, a table for people); meter data goes
to stdout as CSV (`convert`, `validate`); bad input ends with exit code 2 and one line on stderr naming the
file, the line or field, and the reason, and nothing on stdout.

One module per command group adds its commands to the parser: ``rate`` (rate), ``meterdata`` (convert,
validate), ``platform`` (serve, accounts, migrate), ``schedules`` (schedules run), ``documents`` (documents
sample). Commands parse their arguments, call the core or a service and print; what they compute lives
below.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from meterbill.cli import documents, meterdata, platform, rate, schedules
from meterbill.cli.common import EXIT_BAD_INPUT, EXIT_BROKEN_PIPE, InputError, Parser
from meterbill.meterdata.csvio import CsvFormatError
from meterbill.meterdata.importing import ImportFormatError
from meterbill.tariffs.loading import TariffFileError

INPUT_ERRORS = (InputError, TariffFileError, CsvFormatError, ImportFormatError)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, or a usage error already reported on one line
        return exit_.code if isinstance(exit_.code, int) else EXIT_BAD_INPUT
    command: Callable[[argparse.Namespace], int] = args.run
    try:
        return command(args)
    except INPUT_ERRORS as err:
        message = " ".join(str(err).split())
        print(f"meterbill {args.command}: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # the reader left early (`| head`); silence the flush at exit, as Python advises
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def _parser() -> argparse.ArgumentParser:
    parser = Parser(prog="meterbill", description="Metering and billing: price usage with tariffs.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    rate.add_commands(commands)
    meterdata.add_commands(commands)
    platform.add_commands(commands)
    schedules.add_commands(commands)
    documents.add_commands(commands)
    return parser
