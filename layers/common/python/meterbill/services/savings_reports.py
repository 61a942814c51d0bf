"""Savings reports on each account's schedule: made once a period has ended, stored once, emailed once.

An account with ``reports`` in its billing settings gets one report per period of its schedule (a day, an
ISO week, a calendar month of ``reports.timezone``). At ``now`` the due report is the latest period that has
ended there (``billing.savings.last_ended_period``); the hourly run (``run``) makes it:

1. Its identity is deterministic: ``report_savings_<schedule>_<first day>`` (``delivery.report_id``), its
   PDF's key ``invoices/<id>.pdf``. A stored report is never rendered again (``head`` first).
2. The figures (``services.savings``) become the PDF (``documents.savings_pdf``, dated the period's end,
   so a retry renders the same bytes from the same data) and are written with ``DocumentStore.put_once``.
   A key written meanwhile (a crashed run, late readings making other bytes) keeps what is stored.
3. The first delivery attempt is queued (``DeliveryStore.queue``: attempt 1 exists once) to the
   recipients, and its message sent while the attempt is ``queued``. The email worker sends it at most once
   (``services.delivery``: claimed before SES is called, reconciled by SES's Send event) with the stored
   bytes attached.

A crash between any two steps is repaired by the next hourly run: 1-2 stores nothing twice, 2-3 finds the
PDF and queues, after 3 the attempt exists and its message is sent again only while it is still queued
(the worker sends nothing twice). So: one PDF and one email per (account, schedule, period).

Only the latest ended period is made: an account that turns reports on does not receive its history, and a
run missed for a whole period (the schedule down for a day) skips that period's report.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Final

from meterbill.billing.savings import last_ended_period
from meterbill.billing_settings import BillingSettings, ReportSettings
from meterbill.errors import AlreadyExistsError, MeterbillError, NotFoundError
from meterbill.ports import (
    AccountRecord,
    DeliveryQueue,
    DeliveryRecord,
    DeliveryStore,
    DeliveryWork,
    DocumentStore,
    NewDelivery,
    StoredDocument,
    Stores,
)
from meterbill.services.billing_settings import settings_of
from meterbill.services.common import require_aware
from meterbill.services.delivery import report_id
from meterbill.services.savings import savings_figures
from meterbill.settings import Retention
from meterbill.timeutil import local_midnight, zone

PDF: Final = "application/pdf"
ACCOUNTS_PAGE: Final = 100


@dataclass(frozen=True, slots=True)
class MadeReport:
    """One account's due report: its id and period, the stored PDF, and the first delivery (None: the
    account names no email sender, so the report is stored and not emailed)."""

    account: str
    report_id: str
    start: date
    end: date
    document: StoredDocument
    delivery: DeliveryRecord | None


@dataclass(frozen=True, slots=True)
class ReportRun:
    made: tuple[MadeReport, ...] = ()
    failed: tuple[tuple[str, str], ...] = field(default=())  # (account, reason)


def due_period(reports: ReportSettings, now: datetime) -> tuple[date, date]:
    """The latest period of the schedule that has ended at ``now`` in the reports' zone."""
    require_aware(now, "now")
    return last_ended_period(reports.schedule, now.astimezone(zone(reports.timezone)).date())


def report_key(document_id: str) -> str:
    """Beside the invoices (``invoices/``): the prefix the bucket's roles already write and the email worker
    reads; the id's ``report_savings_`` prefix keeps it apart from ``inv_`` and ``note_``."""
    return f"invoices/{document_id}.pdf"


def make_report(
    account: str,
    settings: BillingSettings,
    start: date,
    end: date,
    *,
    stores: Stores,
    documents: DocumentStore,
    retention: Retention,
    now: datetime,
) -> tuple[str, StoredDocument]:
    """The report of [start, end) stored once (steps 1-2); a report stored already is returned unchanged."""
    from meterbill.documents.savings_pdf import SavingsReportDocument, savings_pdf  # fpdf2: loaded here

    reports = settings.reports
    assert reports is not None
    document_id = report_id(reports.schedule, start)
    key = report_key(document_id)
    try:
        return document_id, documents.head(account, key)
    except NotFoundError:
        pass
    report_zone = zone(reports.timezone)
    figures = savings_figures(account, start, end, stores.catalog, stores.readings)
    pdf = savings_pdf(
        SavingsReportDocument(
            figures,
            start,
            end,
            issuer=_issuer(account, settings),
            language=reports.language,
            made_at=local_midnight(end, report_zone),
        )
    )
    retain_until = retention.until(stored_at=now, issue_date=end, zone=report_zone)
    try:
        stored = documents.put_once(account, key, pdf, content_type=PDF, retain_until=retain_until)
    except AlreadyExistsError:  # stored meanwhile (a crashed run; other bytes after late readings)
        stored = documents.head(account, key)
    return document_id, stored


def queue_report(
    account: str,
    document_id: str,
    stored: StoredDocument,
    settings: BillingSettings,
    *,
    deliveries: DeliveryStore,
    queue: DeliveryQueue,
    now: datetime,
) -> DeliveryRecord:
    """The report's first email queued once (step 3); its message sent while the attempt is ``queued``."""
    reports, email = settings.reports, settings.email
    assert reports is not None and email is not None
    record = deliveries.queue(
        account,
        NewDelivery(
            invoice_id=document_id,
            kind="first",
            to=tuple(reports.recipients),
            cc=tuple(a for a in email.cc if a not in reports.recipients),
            language=reports.language,
            customer_name=_issuer(account, settings),
            document_key=stored.key,
            document_sha256=stored.sha256,
        ),
        at=now,
    )
    if record.state == "queued":
        queue.send([DeliveryWork(account, document_id, record.attempt)])
    return record


def account_report(
    account: str,
    settings: BillingSettings,
    now: datetime,
    *,
    stores: Stores,
    documents: DocumentStore,
    queue: DeliveryQueue | None,
    retention: Retention,
) -> MadeReport | None:
    """The account's due report made, stored and queued (None: the account has no reports)."""
    if settings.reports is None:
        return None
    start, end = due_period(settings.reports, now)
    document_id, stored = make_report(
        account, settings, start, end, stores=stores, documents=documents, retention=retention, now=now
    )
    delivery = None
    if settings.email is not None and queue is not None and stores.deliveries is not None:
        delivery = queue_report(
            account, document_id, stored, settings, deliveries=stores.deliveries, queue=queue, now=now
        )
    return MadeReport(account, document_id, start, end, stored, delivery)


def run(
    now: datetime,
    stores: Stores,
    *,
    documents: DocumentStore,
    queue: DeliveryQueue | None,
    retention: Retention,
) -> ReportRun:
    """Every account's due report (the hourly schedule); an account whose report fails (a tariff that
    cannot be priced, storage down) is reported and the others made."""
    require_aware(now, "now")
    made: list[MadeReport] = []
    failed: list[tuple[str, str]] = []
    for record in _accounts(stores):
        try:
            settings = settings_of(record.account_id, stores.accounts)
            done = account_report(
                record.account_id,
                settings,
                now,
                stores=stores,
                documents=documents,
                queue=queue,
                retention=retention,
            )
        except MeterbillError as error:
            failed.append((record.account_id, str(error)))
            continue
        if done is not None:
            made.append(done)
    return ReportRun(tuple(made), tuple(failed))


def _accounts(stores: Stores) -> Iterator[AccountRecord]:
    cursor: str | None = None
    while True:
        page = stores.accounts.list(limit=ACCOUNTS_PAGE, cursor=cursor)
        yield from page.items
        if page.cursor is None:
            return
        cursor = page.cursor


def _issuer(account: str, settings: BillingSettings) -> str:
    """Who the report is from: the seller's trading or legal name, the email's sender name, or the account."""
    if settings.seller is not None:
        return settings.seller.trading_name or settings.seller.legal_name
    if settings.email is not None and settings.email.sender_name:
        return settings.email.sender_name
    return account
