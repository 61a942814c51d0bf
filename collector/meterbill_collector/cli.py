"""``meterbill-collector``: run, check, status and simulate.

Exit status: 0 done; 1 ``check`` found a meter it could not read; 2 the config (or the command line) is wrong,
with the meter and the field named on stderr; ``run`` itself only returns when stopped."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from meterbill_collector import VERSION, logs
from meterbill_collector.clock import SystemClock
from meterbill_collector.config import CollectorConfig, ConfigError, load_config

USAGE_ERROR = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="meterbill-collector",
        description="Reads meters over Modbus and delivers every reading to the meterbill API.",
    )
    parser.add_argument("--version", action="version", version=f"meterbill-collector {VERSION}")
    parser.add_argument(
        "--log-format", choices=("text", "json"), default="text", help="json: one object a line"
    )
    parser.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser("run", help="poll, spool and push until stopped (SIGTERM, Ctrl-C)")
    run.add_argument("config", type=Path)
    check = commands.add_parser("check", help="read every meter once and print its values or its error")
    check.add_argument("config", type=Path)
    status = commands.add_parser("status", help="spool depth, last push, failing meters, warnings")
    status.add_argument("config", type=Path)
    commands.add_parser(
        "simulate", help="simulated meters on 127.0.0.1 (Modbus TCP and RTU framing)", add_help=False
    )
    return parser


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    stdout, stderr = out or sys.stdout, err or sys.stderr
    parser = _parser()
    if "simulate" in arguments:  # its own options: everything after the word is the simulator's
        at = arguments.index("simulate")
        options = parser.parse_args([*arguments[:at], "simulate"])
        logs.configure(options.log_format, options.log_level)
        from meterbill_collector.simulate_command import simulate_main

        return simulate_main(arguments[at + 1 :])
    options = parser.parse_args(arguments)
    logs.configure(options.log_format, options.log_level)
    try:
        config = load_config(options.config, os.environ, require_key=options.command == "run")
    except ConfigError as error:
        _refuse(options.config, error, stderr)
        return USAGE_ERROR
    if options.command == "run":
        from meterbill_collector.runner import serve

        serve(config, SystemClock())
        return 0
    if options.command == "check":
        return _check(config, stdout)
    return _status(config, stdout)


def _refuse(path: Path, error: ConfigError, err: TextIO) -> None:
    """One line naming the file and how many problems, then each problem (meter, field, reason) on its own."""
    if str(error).startswith(str(path)):  # the file itself (unreadable, not TOML) names the path already
        print(f"meterbill-collector: {error}", file=err)
        return
    count = len(error.problems)
    print(f"meterbill-collector: {path}: {count} problem{'s' if count > 1 else ''}", file=err)
    for problem in error.problems:
        print(f"  {problem}", file=err)


def _check(config: CollectorConfig, out: TextIO) -> int:
    from meterbill_collector.check import CheckTable, check, format_check
    from meterbill_collector.modbus import open_line

    async def read_all() -> CheckTable:
        lines = {name: open_line(transport) for name, transport in config.transports.items()}
        try:
            return await check(config, lines, SystemClock())
        finally:
            for line in lines.values():
                await line.close()

    table = asyncio.run(read_all())
    out.write(format_check(table))
    return 1 if table.errors else 0


def _status(config: CollectorConfig, out: TextIO) -> int:
    from meterbill_collector.spool import Spool
    from meterbill_collector.status import format_status, spool_status

    if not config.spool.path.exists():
        out.write(f"no spool yet at {config.spool.path}: the collector has not run with this config\n")
        return 0
    with Spool(config.spool.path, quota_bytes=config.spool.quota_bytes, zone=config.timezone) as spool:
        out.write(format_status(spool_status(spool)))
    return 0
