"""`meterbill schedules run rate|invoice --at TIME`: fire a schedule once as of a moment, as EventBridge
Scheduler would at that time (a test clock, as Stripe's and Kill Bill's: a month of passes in seconds),
against the tables of a local server (DYNAMODB_ENDPOINT_URL, as `meterbill serve` prints it) or, with --aws,
the AWS tables the environment names. The bill run's work goes through an in-process queue to the worker, as
SQS would carry it to the worker function: fire it at successive moments to watch drafts wait for their grace
and then be issued."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from meterbill.cli.common import EXIT_OK, EXIT_UNAVAILABLE, InputError
from meterbill.cli.platform import put_checkout_on_path, storage_settings_from_environment
from meterbill.errors import MeterbillError, StorageUnavailableError
from meterbill.ports import InvoiceWork, InvoiceWorkQueue

if TYPE_CHECKING:
    from meterbill.cli.common import Commands

SCHEDULES = ("rate", "invoice", "alerts")


def add_commands(commands: Commands) -> None:
    schedules = commands.add_parser("schedules", help="run the platform's schedules by hand")
    schedule_commands = schedules.add_subparsers(dest="schedules_command", required=True, metavar="COMMAND")
    running = schedule_commands.add_parser(
        "run", help="fire one schedule as of a moment", description=_run.__doc__
    )
    running.add_argument(
        "schedule",
        choices=SCHEDULES,
        help=(
            "which schedule (rate: the rating pass; invoice: the bill run and its worker; alerts: the "
            "readings worker on the alerts queue, then the alerts pass)"
        ),
    )
    running.add_argument(
        "--at", required=True, type=_aware, metavar="TIME", help="the moment, ISO 8601 with its offset"
    )
    running.add_argument(
        "--aws",
        action="store_true",
        help="use the AWS tables the environment names instead of a local server",
    )
    running.set_defaults(run=_run)


def _aware(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no UTC offset (e.g. 2026-02-01T00:30+01:00)")
    return moment


def _run(args: argparse.Namespace) -> int:
    """Fire the schedule once as of --at: its Lambda handler runs in this process with the event the schedule
    would send, against the tables the environment names (CATALOG_TABLE, READINGS_TABLE, AWS_REGION; without
    --aws DYNAMODB_ENDPOINT_URL must name a local server: meterbill serve prints the variables to export).
    Prints the pass's report as JSON. Without RATE_QUEUE_URL the pass rates every marked meter itself."""
    if args.schedule == "invoice":
        return _run_invoice(args)
    settings = storage_settings_from_environment(aws=args.aws)
    put_checkout_on_path()
    schedules = importlib.import_module("local.schedules")
    try:
        if args.schedule == "alerts":  # what ingest queued first, as the event source mapping would have
            importlib.import_module("local.alerts").drain_alerts_queue()
        answer = schedules.fire(args.schedule, args.at)
    except StorageUnavailableError as err:
        where = settings.endpoint_url or f"AWS {settings.region}"
        print(f"meterbill schedules: DynamoDB at {where}: {err}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except ValueError as err:
        raise InputError(str(err)) from None
    print(json.dumps(answer, indent=2, sort_keys=True, default=str))
    return EXIT_OK


class _InProcessQueue(InvoiceWorkQueue):
    def __init__(self) -> None:
        self.items: list[InvoiceWork] = []

    def send(self, items: Sequence[InvoiceWork]) -> None:
        self.items += items


def _run_invoice(args: argparse.Namespace) -> int:
    """One bill run as of --at, then its worker on every work item it sent; prints each invoice's state."""
    from meterbill.adapters.dynamodb import build_stores  # loads pynamodb and botocore: only this command
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
