"""`meterbill schedules run invoice --at MOMENT`: one pass of a schedule as of MOMENT (a test clock, as
Stripe's and Kill Bill's), against the tables of a local server (DYNAMODB_ENDPOINT_URL, as `meterbill serve`
prints it) or, with --aws, the AWS tables the environment names. The bill run's work goes through an
in-process queue to the worker, as SQS would carry it to the worker function, so a month's run takes
seconds: fire it at successive moments to watch drafts wait for their grace and then be issued."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from meterbill.cli.common import EXIT_OK, EXIT_UNAVAILABLE, InputError
from meterbill.errors import MeterbillError
from meterbill.ports import InvoiceWork, InvoiceWorkQueue

if TYPE_CHECKING:
    from meterbill.cli.common import Commands


def add_commands(commands: Commands) -> None:
    schedules = commands.add_parser("schedules", help="fire the platform's schedules once, as of a moment")
    schedule_commands = schedules.add_subparsers(dest="schedules_command", required=True, metavar="COMMAND")
    running = schedule_commands.add_parser("run", help="one pass of a schedule as of --at")
    which = running.add_subparsers(dest="schedule", required=True, metavar="SCHEDULE")
    invoice = which.add_parser("invoice", help="the hourly bill run and its worker", description=__doc__)
    invoice.add_argument(
        "--at",
        type=moment,
        required=True,
        help="the moment of the pass, with its offset: 2026-02-01T00:30+01:00",
    )
    invoice.add_argument("--aws", action="store_true", help="the AWS tables the environment names")
    invoice.set_defaults(run=_run_invoice)


def moment(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 date and time") from None
    if value.utcoffset() is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no UTC offset (e.g. 2026-02-01T00:30+01:00)")
    return value


class _InProcessQueue(InvoiceWorkQueue):
    def __init__(self) -> None:
        self.items: list[InvoiceWork] = []

    def send(self, items: Sequence[InvoiceWork]) -> None:
        self.items += items


def _run_invoice(args: argparse.Namespace) -> int:
    from meterbill.adapters.dynamodb import build_stores  # loads pynamodb and botocore: only this command
    from meterbill.cli.platform import storage_settings_from_environment
    from meterbill.services import billrun

    settings = storage_settings_from_environment(aws=args.aws)
    stores = build_stores(settings)
    queue = _InProcessQueue()
    try:
        report = billrun.run(args.at, stores, queue)
    except MeterbillError as err:
        raise InputError(f"--at {args.at.isoformat()}: {err}") from None
    print(f"bill run at {args.at.isoformat()}: {report.accounts} accounts, {report.sent} work items")
    failed = 0
    for item in queue.items:
        where = f"{item.account} {item.customer_id} {item.period_start}..{item.period_end}"
        try:
            record = billrun.work(item, stores)
        except MeterbillError as err:  # in AWS: retried, then the DLQ
            failed += 1
            print(f"meterbill schedules: {where}: {err}", file=sys.stderr)
            continue
        total = record.body.get("total")
        currency = record.body.get("currency")
        print(f"{record.state:7} {record.number or '-':>18} {where} {total} {currency}")
    return EXIT_UNAVAILABLE if failed else EXIT_OK
