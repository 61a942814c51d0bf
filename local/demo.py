"""``meterbill demo`` (``make demo``, after the tariff tour): the whole platform on one laptop.

The local platform starts on moto (DynamoDB, SQS, S3 with Object Lock, SES, SNS, Secrets Manager) behind the
local API Gateway, and the demo portfolio (``local/portfolio.py``: an office building, a colocation room, a
compute cluster and a machine park) is set up through the hosted API with the admin key. Its two months of
readings (``local/portfolio_history.py``, with four faults) arrive in the order they happened while the
schedules fire on a test clock, as ``meterbill schedules run rate|invoice|alerts --at TIME`` fires them: the
rating pass, the alerts passes (their emails through SNS into the mail folder), the bill run on the bill days
and again after the grace days, its work through SQS to the invoice worker (each invoice numbered, its signed
PDF/A-3 stored once in S3, emailed through SES). A late corrected reading re-rates an issued invoice into a
credit note. Then a collector reads simulated Modbus meters at the machine park and pushes live readings.

The summary lists the invoices with their numbers and totals, the shared parts of each bill (the common area
and the water, split by floor area), the emails, the alerts (exactly the four injected) and the savings
report. ``--out DIR`` (default ./demo-out) receives the mail folder; ``--serve`` keeps the platform and the
console up afterwards on 127.0.0.1:8080 until Ctrl-C or SIGTERM; without it nothing is left running.

History up to 25 November goes straight through the ingest service into the stores (the same checks as
``POST /v1/readings``, without HTTP: ~6,000 readings/s here against ~4,300 through the API in requests of
1,000, one meter's days each); the last days and the collector's readings through the API. The time of each
phase and the total are printed at the end (``MB_DEMO_TIMINGS=1``: each phase on stderr as it ends).
"""

from __future__ import annotations

import argparse
import email
import email.policy
import logging
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import FrameType
from typing import Any, Final

import requests
from rich.console import Console
from rich.table import Table

from local import demo_collector, demo_out, portfolio
from local import portfolio_history as history
from local.alerts import deliver_alert_mail
from local.mail import drain_email_queue
from local.schedules import drain_invoice_queue, fire
from local.serve import (
    EXIT_CANNOT_LISTEN,
    EXIT_INTERRUPTED,
    AccountKeys,
    CannotListenError,
    LocalPlatform,
)
from meterbill.api.gate import CONSOLE_PREFIX, OPENAPI_PATH
from meterbill.billing.invoice import Invoice
from meterbill.ports import InvoiceRecord, Scope
from meterbill.services import invoicing
from meterbill.services.apikeys import create_key
from meterbill.services.ingest import ReadingIn, store_readings

ZONE: Final = history.ZONE
DEFAULT_OUT: Final = Path("demo-out")
SERVE_PORT: Final = 8080
API_BATCH: Final = 1_000  # readings per request, one meter's days at a time
DIRECT_BATCH: Final = 20_000  # readings per call of the ingest service
BIG_LOAD: Final = 1_000  # loads of more readings are printed
# The story's last days arrive through the API, as the collectors send them.
THROUGH_API_FROM: Final = datetime(2026, 11, 25, 1, 0, tzinfo=ZONE)
# The account's billing settings (seller, sender); the console's browser tests bill with its seller too.
SETTINGS: Final = portfolio.BILLING_SETTINGS
# the usage chart's meters: the quiet day (atelier, 12 Nov) and the evening spike (practice, 20 Nov) show
CHART_METERS: Final = ("shop-baker", "law-a", "atelier", "practice")
EXPECTED_ALERTS: Final = (
    ("communication", history.QUIET_METER),
    ("negative_consumption", history.DROP_METER),
    ("abnormal_usage", history.SPIKE_METER),
    ("energy_evasion", history.EVASION_METER),
)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZONE)


# The test clock (Europe/Berlin). Bill day 1, 2 grace days: a month is drafted on the 1st, issued on the 3rd.
OCTOBER_BILL_DAY, OCTOBER_ISSUED = _at("2026-11-01T00:30"), _at("2026-11-03T00:30")
NOVEMBER_BILL_DAY, NOVEMBER_ISSUED = _at("2026-12-01T00:30"), _at("2026-12-03T00:30")
CORRECTED_AT: Final = _at("2026-12-03T10:00")
# The alerts passes (every 5 minutes in AWS) that see the faults; the daily detectors judge a day at 01:00.
# The quiet meter: pending at 12:00, firing (and emailed: no group wait) once it held 15 minutes (12:15).
QUIET_PASSES: Final = tuple(_at(f"2026-11-12T12:{minute:02d}") for minute in (0, 15))
DAILY_PASSES: Final = tuple(_at(f"2026-11-{day}T01:00") for day in (19, 21, 25))


class Api:
    """HTTP to the local API with one key; JSON in and out; a 4xx or 5xx ends the demo with its body."""

    def __init__(self, url: str, key: str) -> None:
        self.url, self.session = url, requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"

    def call(self, method: str, path: str, body: Any = None, **query: str) -> Any:
        answer = self.session.request(method, self.url + path, json=body, params=query, timeout=60)
        if answer.status_code >= 400:
            raise SystemExit(f"{method} {path}: {answer.status_code} {answer.text}")
        return answer.json() if answer.content else None


@dataclass
class Stopwatch:
    """How long each phase took, printed at the end."""

    started: float = field(default_factory=time.monotonic)
    phases: list[tuple[str, float]] = field(default_factory=list)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        began = time.monotonic()
        try:
            yield
        finally:
            self.phases.append((name, time.monotonic() - began))
            if os.environ.get("MB_DEMO_TIMINGS"):
                print(f"[{name}: {time.monotonic() - began:.1f} s]", file=sys.stderr)

    def elapsed(self) -> float:
        return time.monotonic() - self.started


@dataclass
class Story:
    """The platform, the account and what the run has done so far."""

    console: Console
    platform: LocalPlatform
    keys: AccountKeys
    admin: Api
    collector: Api
    readings: list[history.Reading]
    watch: Stopwatch
    loaded_until: datetime = history.START - timedelta(microseconds=1)
    direct: int = 0
    through_api: int = 0
    published: list[str] = field(default_factory=list)

    @property
    def account(self) -> str:
        return self.keys.account_id

    def say(self, moment: datetime, text: str) -> None:
        self.console.print(f"{moment.astimezone(ZONE):%d %b %H:%M}  {text}", soft_wrap=True, markup=False)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the demo's files (./demo-out)")
    parser.add_argument("--serve", action="store_true", help="keep the platform and the console up")
    parser.add_argument("--port", type=int, default=SERVE_PORT, help="the API's port with --serve (8080)")
    arguments = parser.parse_args(argv)
    return run(arguments.out, serve=arguments.serve, port=arguments.port)


def run(out: Path, *, serve: bool = False, port: int = SERVE_PORT, console: Console | None = None) -> int:
    """The whole demo; with ``serve`` the platform stays up until SIGINT or SIGTERM."""
    # Piped (make, a test) rich would cut the tables to 80 columns: the summary needs ~130.
    console = console or Console(width=None if sys.stdout.isatty() else 132)
    watch = Stopwatch()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    logging.getLogger("meterbill_collector").setLevel(logging.ERROR)  # the demo prints what happened
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")  # the functions' INFO lines are CloudWatch's
    warnings.filterwarnings("ignore", message="No application metrics")
    mail_dir = out / "mail"
    mail_dir.mkdir(parents=True, exist_ok=True)
    for old in mail_dir.glob("*.eml"):
        old.unlink()
    with watch.phase("history generated"):
        readings = history.history()
    previous = signal.signal(signal.SIGTERM, _interrupt)  # SIGTERM too stops what was started, on the way out
    try:
        return _run(console, watch, readings, out, mail_dir, serve=serve, port=port)
    except CannotListenError as error:
        print(f"meterbill demo: {error}", file=sys.stderr)
        return EXIT_CANNOT_LISTEN
    except KeyboardInterrupt:  # everything started is stopped by now
        print("meterbill demo: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _run(
    console: Console,
    watch: Stopwatch,
    readings: list[history.Reading],
    out: Path,
    mail_dir: Path,
    *,
    serve: bool,
    port: int,
) -> int:
    with LocalPlatform(port=port if serve else 0, mail_dir=mail_dir, moto_process=True) as platform:
        with watch.phase("platform and portfolio"):
            story = _set_up(console, platform, readings, watch)
        _play(story)
        with watch.phase("collector on Modbus"):
            demo_collector.run(console, platform, story.keys)
        with watch.phase("summary"):
            _summary(story)
        with watch.phase("demo-out"):
            _write_outputs(console, platform, story, out)
        _timings(console, watch, story)
        if serve:
            return _serve(console, platform, story, mail_dir)
    return 0


def _write_outputs(console: Console, platform: LocalPlatform, story: Story, out: Path) -> None:
    """The run's files, while the platform is up: every PDF as stored in S3, the emails named by their
    documents, the alerts as JSON and the office tenants' daily usage as a PNG."""
    written = demo_out.write_from(
        demo_out.platform_sources(platform),
        story.keys.account_id,
        out,
        chart_meters=CHART_METERS,
        start=history.START.date(),
        end=history.END.date(),
        chart_title="Office building, Berlin: tenants' daily electricity (kWh)",
    )
    console.rule("demo-out")
    for line in written.lines():
        console.print(line, soft_wrap=True)


# --- setting up -----------------------------------------------------------------------------------------


def _set_up(
    console: Console, platform: LocalPlatform, readings: list[history.Reading], watch: Stopwatch
) -> Story:
    console.rule("The whole platform on one laptop")
    keys = platform.create_account(portfolio.ACCOUNT_NAME, account_id=portfolio.ACCOUNT_ID)
    admin, collector = Api(platform.url, keys.admin_key), Api(platform.url, keys.ingest_key)
    console.print(
        f"local platform: API and console at {platform.url}, on moto (DynamoDB, SQS, S3 Object Lock, SES, "
        f"SNS, Secrets Manager); account {keys.account_id} ({portfolio.ACCOUNT_NAME})",
        soft_wrap=True,
    )
    seeded = portfolio.seed(admin, demo_collector.PLATFORM_METERS)
    console.print(f"seeded through the API with the admin key: {seeded.line()}", soft_wrap=True)
    return Story(console, platform, keys, admin, collector, readings, watch)


# --- the story on the test clock ----------------------------------------------------------------------------


def _play(story: Story) -> None:
    """The story in the order it happened (but for one rating pass, below). Before each pass the readings
    that had arrived by then are loaded (an interval once it has ended, a register read once taken), in a
    few large loads rather than every 15 minutes: each rating pass rates every day they touch up to its
    time, as the quarter-hourly passes in between would have."""
    console, watch = story.console, story.watch
    console.rule("Two months on the test clock")
    _advance(story, OCTOBER_BILL_DAY)
    with watch.phase("rating"):
        _rate(story, OCTOBER_BILL_DAY)
    _advance(story, OCTOBER_ISSUED)
    with watch.phase("bill runs"):  # the hourly runs of 1 and 2 November drafted; November shows them
        _bill_run(story, OCTOBER_ISSUED)
    for moment in QUIET_PASSES:
        _advance(story, moment)
        with watch.phase("alerts passes"):
            _alerts(story, moment)
    _advance(story, history.EXCHANGE_AT)
    _record_exchange(story)
    # The rating passes of every quarter hour from 12 November to 25 November 01:00, as one: the daily
    # detectors of 19, 21 and 25 November judge days it rated; every other detector reads the raw readings
    # of its own moment.
    _advance(story, DAILY_PASSES[-1])
    with watch.phase("rating"):
        _rate(story, DAILY_PASSES[-1], note=" (the quarter-hourly passes since 1 Nov, as one)")
    for moment in DAILY_PASSES:
        with watch.phase("alerts passes"):
            _alerts(story, moment)
    _advance(story, NOVEMBER_BILL_DAY)
    with watch.phase("rating"):
        _rate(story, NOVEMBER_BILL_DAY)
    with watch.phase("bill runs"):
        _bill_run(story, NOVEMBER_BILL_DAY)
        _bill_run(story, NOVEMBER_ISSUED)
    with watch.phase("correction and credit note"):
        _correction(story)


def _advance(story: Story, moment: datetime) -> None:
    """The readings that had arrived by ``moment``: through the ingest service until THROUGH_API_FROM,
    then through the API."""
    api = story.loaded_until >= THROUGH_API_FROM
    with story.watch.phase("readings (API)" if api else "readings (service)"):
        _load(story, moment, through_api=api)


def _record_exchange(story: Story) -> None:
    exchange = history.exchange()
    story.admin.call(
        "POST",
        f"/v1/meters/{exchange.meter_id}/exchanges",
        {
            "timestamp": exchange.timestamp.isoformat(),
            "old_final": str(exchange.old_final),
            "new_serial": "PDU-R02-B-2026",
            "new_initial": str(exchange.new_initial),
            "note": "PDU swapped after a fan failure",
        },
    )
    story.say(
        exchange.timestamp,
        f"exchange recorded: PDU {exchange.meter_id} swapped, the old register's final read "
        f"{exchange.old_final} kWh, the new one starts at {exchange.new_initial} kWh",
    )


def _load(story: Story, until: datetime, *, through_api: bool = False) -> None:
    """The readings that arrived in (loaded_until, until]: through the ingest service, or the API."""
    start, story.loaded_until = story.loaded_until, until
    after, upto = start.astimezone(UTC), until.astimezone(UTC)
    batch = [r for r in story.readings if after < _arrived(r) <= upto]
    batch.sort(key=lambda r: (r.meter_id, r.timestamp.astimezone(UTC)))
    if through_api:
        stored = _through_api(story.collector, batch)
        story.through_api += stored
        how = "POST /v1/readings with the ingest key"
    else:
        stored = _through_service(story, batch)
        story.direct += stored
        how = "the ingest service, straight into the stores"
    if stored > BIG_LOAD:  # the few readings of the minutes between two passes go unmentioned
        story.console.print(
            f"readings {max(start, history.START):%d %b %H:%M} to {until.astimezone(ZONE):%d %b %H:%M}: "
            f"{stored:,} stored through {how}",
            soft_wrap=True,
        )


def _arrived(reading: history.Reading) -> datetime:
    """When a reading exists: an interval once it has ended, a register read when taken (UTC)."""
    minutes = reading.interval_minutes if reading.type == "interval" else 0
    return reading.timestamp.astimezone(UTC) + timedelta(minutes=minutes or 0)


def _through_service(story: Story, batch: list[history.Reading]) -> int:
    stores = story.platform.stores
    stored = 0
    for first in range(0, len(batch), DIRECT_BATCH):
        items = [
            ReadingIn(r.meter_id, r.timestamp, r.value, r.type, r.interval_minutes)
            for r in batch[first : first + DIRECT_BATCH]
        ]
        report = store_readings(story.account, items, stores.catalog, stores.readings, datetime.now(UTC))
        if report.rejected_count:
            raise SystemExit(f"readings rejected: {report.rejected[:3]}")
        stored += report.accepted
    return stored


def _through_api(collector: Api, batch: list[history.Reading]) -> int:
    stored = 0
    for first in range(0, len(batch), API_BATCH):
        body = [_reading_json(r) for r in batch[first : first + API_BATCH]]
        report = collector.call("POST", "/v1/readings", {"readings": body})
        if report["rejected_count"]:
            raise SystemExit(f"readings rejected: {report['rejected'][:3]}")
        stored += report["accepted"]
    return stored


def _reading_json(reading: history.Reading) -> dict[str, Any]:
    body: dict[str, Any] = {
        "meter_id": reading.meter_id,
        "timestamp": reading.timestamp.isoformat(),
        "value": str(reading.value),
        "type": reading.type,
    }
    if reading.interval_minutes is not None:
        body["interval_minutes"] = reading.interval_minutes
    return body


def _rate(story: Story, moment: datetime, *, note: str = "") -> None:
    rated = fire("rate", moment)
    if rated["failures"]:
        raise SystemExit(f"the rating pass failed: {rated['failures']}")
    story.say(
        moment,
        f"rating pass: {rated['meters']} meters, {rated['days_written']} days validated and rolled up{note}",
    )


def _bill_run(story: Story, moment: datetime) -> None:
    """The hourly bill run as of ``moment``, its worker on the queue, then the email worker."""
    sent = fire("invoice", moment)
    done, failed = drain_invoice_queue()
    if failed:
        raise SystemExit("the invoice worker failed: see the log above")
    assert story.platform.mailer is not None
    emailed, _ = drain_email_queue(story.platform.mailer)
    records = _invoices(story)
    issued = [r for r in records if r.number and r.period_start < moment.date()]
    drafts = [r for r in records if r.state == "draft"]
    story.say(
        moment,
        f"bill run: {sent['sent']} sent, {done} done; {len(drafts)} drafts, {len(issued)} issued so far; "
        f"{emailed} emails sent",
    )


def _alerts(story: Story, moment: datetime) -> None:
    answer = fire("alerts", moment)
    written = deliver_alert_mail(story.platform.mail_dir)
    story.say(
        moment,
        f"alerts pass: {answer['meters']} meters, {answer['daily_sites']} sites judged for the day, "
        f"{answer['published']} published",
    )
    for path in written:
        mail = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        story.published.append(str(mail["Subject"]))
        story.console.print(f"  email to {mail['To']}: {mail['Subject']}", soft_wrap=True, markup=False)


def _correction(story: Story) -> None:
    """The bakery's head end corrects a reading after November's invoice was issued: re-rate, credit note."""
    meter, moment = history.LATE_CORRECTION_METER, history.LATE_CORRECTION_AT
    sent = next(r for r in story.readings if r.meter_id == meter and r.timestamp == moment)
    corrected = sent.value - history.LATE_CORRECTION_ERROR
    body = {**_reading_json(sent), "value": str(corrected)}
    report = story.collector.call("POST", "/v1/readings", {"readings": [body]})
    story.say(
        CORRECTED_AT,
        f"corrected reading {meter} {moment:%d %b %H:%M}: {corrected} kWh, not {sent.value} "
        f"({report['replaced']} replaced)",
    )
    fire("rate", CORRECTED_AT)
    invoice = next(
        r
        for r in _invoices(story)
        if r.customer_id == "baker" and r.period_start == date(2026, 11, 1) and r.kind == "invoice"
    )
    stores = story.platform.stores
    rerating = invoicing.rerate(story.account, invoice.invoice_id, CORRECTED_AT, stores)
    if rerating.difference is None:
        raise SystemExit(f"re-rating {invoice.number} found no difference")
    difference = rerating.difference
    story.say(
        CORRECTED_AT,
        f"rerate {invoice.number}: {rerating.rerated.total}, not {rerating.original.total} "
        f"{rerating.original.currency}: {difference.kind.replace('_', ' ')} {difference.total}",
    )
    note = invoicing.adjust(
        story.account, invoice.invoice_id, CORRECTED_AT, stores, reason="corrected reading"
    )
    if note is None:
        raise SystemExit(f"adjusting {invoice.number} issued nothing")
    story.say(CORRECTED_AT, f"{note.number} issued, correcting {invoice.number}: {note.body['total']} EUR")
    _bill_run(story, CORRECTED_AT + timedelta(hours=1))  # stores the note's document and emails it


def _invoices(story: Story) -> list[InvoiceRecord]:
    records: list[InvoiceRecord] = []
    cursor: str | None = None
    while True:
        page = story.platform.stores.invoices.list(story.account, limit=100, cursor=cursor)
        records += page.items
        cursor = page.cursor
        if cursor is None:
            return records


# --- the summary ------------------------------------------------------------------------------------------


def _summary(story: Story) -> None:
    console = story.console
    console.rule("What the platform did")
    records = sorted(
        (r for r in _invoices(story) if r.number),
        key=lambda r: (r.kind != "invoice", r.number or ""),
    )
    table = Table(title="Invoices and credit notes: numbered, stored as PDF/A-3 in S3, emailed")
    for column in ("number", "customer", "period", "total EUR", "shared parts", "estimated", "state"):
        table.add_column(column, justify="right" if column in ("total EUR", "shared parts") else "left")
    grand = Decimal(0)
    for record in records:
        invoice = Invoice.from_json(record.body)
        shared = sum(
            (line.amount for line in invoice.lines if line.assignment_id in portfolio.SHARED_ASSIGNMENTS),
            Decimal(0),
        )
        estimated: dict[str, Decimal] = {}
        for usage in invoice.meter_usage:
            if usage.estimated:
                estimated[usage.unit] = estimated.get(usage.unit, Decimal(0)) + usage.estimated
        last = invoice.period_end - timedelta(days=1)
        table.add_row(
            record.number or "",
            invoice.customer_id,
            f"{invoice.period_start:%d.%m.}-{last:%d.%m.%Y}",
            str(invoice.total),
            str(shared) if shared else "",
            ", ".join(f"{quantity.normalize():f} {unit}" for unit, quantity in estimated.items()),
            record.state,
        )
        grand += invoice.total
    console.print(table)
    console.print(
        f"{len(records)} documents, {grand} EUR in all. Shared parts: the common area (the main meter's "
        "residual) and the water, split by floor area among the commercial tenants (net of VAT); estimated: "
        "the usage validation estimated (the quiet day, the gas register's restart)",
        soft_wrap=True,
    )
    _emails(story)
    _alerts_raised(story)
    _savings(story)


def _emails(story: Story) -> None:
    mails = sorted(story.platform.mail_dir.glob("*.eml"))
    invoices = [m for m in mails if "-alert-" not in m.name]
    alerts = [m for m in mails if "-alert-" in m.name]
    story.console.print(
        f"emails sent: {len(invoices)} invoices and notes to the customers (SES), {len(alerts)} alert emails "
        f"(SNS), as .eml in {story.platform.mail_dir}/",
        soft_wrap=True,
    )


def _alerts_raised(story: Story) -> None:
    alerts = story.admin.call("GET", "/v1/alerts")["items"]
    table = Table(title="Alerts raised (GET /v1/alerts), by when first seen")
    for column in ("kind", "meter", "site", "severity", "state", "fired"):
        table.add_column(column)
    ordered = sorted(alerts, key=lambda a: a["first_seen"])
    for alert in ordered:
        fired = datetime.fromisoformat(alert["fired_at"]).astimezone(ZONE) if alert["fired_at"] else None
        table.add_row(
            alert["kind"],
            alert["subject"]["id"],
            alert["subject"]["site_id"] or "",
            alert["severity"],
            alert["state"],
            f"{fired:%d %b %H:%M}" if fired else "",
        )
    story.console.print(table)
    for alert in ordered:
        story.console.print(f"- {alert['summary']}", soft_wrap=True, markup=False)
    raised = sorted((a["kind"], a["subject"]["id"]) for a in alerts)
    if raised != sorted(EXPECTED_ALERTS):
        raise SystemExit(f"expected exactly the alerts {sorted(EXPECTED_ALERTS)}, got {raised}")
    story.console.print(f"exactly the {len(EXPECTED_ALERTS)} injected faults raised alerts, nothing else")


def _savings(story: Story) -> None:
    report = story.admin.call("GET", "/v1/reports/savings", **{"from": "2026-10-01", "to": "2026-12-01"})
    table = Table(title="Savings report, October and November (GET /v1/reports/savings)")
    for column in ("machine", "hours", "on", "off", "W", "EUR/kWh", "saved EUR"):
        table.add_column(column, justify="left" if column == "machine" else "right")
    for installation in report["installations"]:
        by_node: dict[str, list[dict[str, Any]]] = {}
        for row in installation["nodes"]:
            by_node.setdefault(row["node_id"], []).append(row)
        for node, rows in by_node.items():
            sums = {
                name: sum((Decimal(r[name]) for r in rows), Decimal(0))
                for name in ("hours", "on_hours", "off_hours", "savings")
            }
            table.add_row(
                node,
                str(sums["hours"]),
                str(sums["on_hours"]),
                str(sums["off_hours"]),
                rows[0]["power_rating_w"],
                rows[0]["price_per_kwh"],
                str(sums["savings"]),
            )
    story.console.print(table)
    totals = ", ".join(f"{t['amount']} {t['currency']}" for t in report["totals"])
    story.console.print(f"switching the machines off saved {totals}")


def _timings(console: Console, watch: Stopwatch, story: Story) -> None:
    by_phase: dict[str, float] = {}
    for name, seconds in watch.phases:
        by_phase[name] = by_phase.get(name, 0.0) + seconds
    console.print(
        f"readings loaded: {story.direct:,} through the ingest service, {story.through_api:,} through the "
        "API",
        soft_wrap=True,
    )
    phases = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in by_phase.items())
    console.print(f"time: {phases}", soft_wrap=True)
    console.print(f"meterbill demo: elapsed {watch.elapsed():.1f} s")


# --- --serve ----------------------------------------------------------------------------------------------


def _serve(console: Console, platform: LocalPlatform, story: Story, mail_dir: Path) -> int:
    from local.alerts import AlertPump
    from local.mail import MailPump

    read_scope: frozenset[Scope] = frozenset({"read"})
    _, read_key = create_key(
        story.account, "console-read", read_scope, platform.stores.keys, datetime.now(UTC)
    )
    _purge(os.environ["ALERTS_QUEUE_URL"])  # the passes on the test clock judged these readings already
    assert platform.mailer is not None
    pumps: list[MailPump | AlertPump] = [MailPump(platform.mailer), AlertPump(mail_dir)]
    for pump in pumps:
        pump.start()
    url = platform.url
    console.rule("Serving")
    for line in (
        f"console: {url}{CONSOLE_PREFIX} (sign in with the admin or the read key)",
        f"API: {url}/v1 (OpenAPI: {url}{OPENAPI_PATH})",
        f"admin key:  {story.keys.admin_key}",
        f"read key:   {read_key}",
        f"ingest key: {story.keys.ingest_key}",
        "try:",
        f"  curl -s -H 'Authorization: Bearer {read_key}' {url}/v1/invoices",
        f"  curl -s -H 'Authorization: Bearer {read_key}' "
        f"'{url}/v1/meters/office-main/usage?from=2026-11-01&to=2026-12-01&resolution=day'",
        f"  curl -s -H 'Authorization: Bearer {story.keys.ingest_key}' -H 'Content-Type: application/json' "
        f'-d \'{{"readings": [{{"meter_id": "werk-main", "timestamp": "{_now_quarter()}", '
        f'"value": "18300.5", "type": "register"}}]}}\' {url}/v1/readings',
        f"emails: {mail_dir}/; the schedules are off (the story ran on its test clock)",
        "Ctrl-C stops.",
    ):
        console.print(line, soft_wrap=True, markup=False, highlight=False)
    sys.stdout.flush()
    try:
        _wait_for_stop()
    finally:
        for pump in pumps:
            pump.stop()
    console.print("meterbill demo: stopped")
    return 0


def _now_quarter() -> str:
    now = datetime.now(UTC).astimezone(ZONE)
    return now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0).isoformat()


def _purge(queue_url: str) -> None:
    import boto3  # type: ignore[import-untyped]

    region = os.environ.get("AWS_REGION", "eu-central-1")
    sqs = boto3.client("sqs", region_name=region, endpoint_url=os.environ.get("SQS_ENDPOINT_URL"))
    sqs.purge_queue(QueueUrl=queue_url)


def _wait_for_stop() -> None:
    """Until SIGINT (Ctrl-C) or SIGTERM."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous: dict[int, Callable[[int, FrameType | None], Any] | int | None] = {
        signum: signal.signal(signum, on_signal) for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        while not stop.wait(timeout=0.5):
            pass
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


if __name__ == "__main__":
    raise SystemExit(main())
