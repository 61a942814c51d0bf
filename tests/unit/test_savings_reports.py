"""Savings reports on the account's schedule (services/savings_reports.py): the due period in the reports'
zone, one stored PDF and one email per (account, schedule, period), whatever crashes in between."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pypdf import PdfReader

from meterbill.billing.savings import last_ended_period, schedule_period
from meterbill.billing_settings import ReportSettings
from meterbill.documents.email import ReportMail, report_email
from meterbill.domain import Assignment, Customer, Meter, Site
from meterbill.errors import InvalidInputError
from meterbill.ports import AccountRecord, DeliveryWork, RawReading
from meterbill.services import billing_settings, delivery, savings_reports
from meterbill.services import catalog as catalog_service
from meterbill.settings import Retention
from tests.fakes import FakeDeliveryQueue, FakeMailer, FakeStores

A = "alp"
D = Decimal
# Monday 2026-10-26 00:30 in Berlin (CET, the clocks went back on the 25th): last week has just ended there.
MONDAY = datetime(2026, 10, 25, 23, 30, tzinfo=UTC)
WEEK_START = datetime(2026, 10, 18, 22, tzinfo=UTC)  # 2026-10-19 00:00 in Berlin (CEST)
REPORT = "report_savings_weekly_2026-10-19"
RETENTION = Retention(days=30)


class Crash(BaseException):
    """The run dies (not an error anything catches)."""


class CrashingQueue(FakeDeliveryQueue):
    def __init__(self) -> None:
        super().__init__()
        self.crashes = 1

    def send(self, items: Any) -> None:
        if self.crashes:
            self.crashes -= 1
            raise Crash("killed before the message was sent")
        super().send(items)


class CrashAfterSend(FakeMailer):
    def send(self, email: Any) -> str:
        super().send(email)
        raise Crash("killed after SES accepted it, before the message id was recorded")


class World:
    """Account alp (Berlin, weekly reports in German to two recipients, email sender set): node n1, a 60 W
    on_time meter at site berlin under a 0.30 EUR/kWh savings tariff, on for the first 100 of the 169 hours of
    the week of 19 October 2026: 69 h off x 60 W x 0.30 / 1000 = 1.242 -> 1.24 EUR."""

    def __init__(self, *, email: bool = True) -> None:
        self.stores = FakeStores.empty()
        self.queue = FakeDeliveryQueue()
        self.mailer: FakeMailer = FakeMailer()
        at = datetime(2026, 1, 1, tzinfo=UTC)
        self.stores.accounts.create(AccountRecord(A, "Alpiron", at))
        settings: dict[str, Any] = {
            "reports": {
                "schedule": "weekly",
                "recipients": ["energie@kunde.example", "chef@kunde.example"],
                "language": "de",
                "timezone": "Europe/Berlin",
            }
        }
        if email:
            settings["email"] = {"sender": "berichte@alpiron.example", "sender_name": "Alpiron"}
        billing_settings.replace(A, settings, self.stores.accounts, at, if_match=None)
        catalog = self.stores.catalog
        catalog_service.create(
            A, Site, {"id": "berlin", "name": "Berlin Plant", "timezone": "Europe/Berlin"}, catalog
        )
        catalog_service.create(A, Customer, {"id": "c1", "name": "C1"}, catalog)
        savings = {"power_rating_w": "meter.power_rating_w", "price_per_kwh": "0.30"}
        tariff = {
            "id": "alp",
            "name": "Savings",
            "unit": "h",
            "savings": savings,
            "effective_from": "2026-01-01",
        }
        catalog_service.create_tariff(A, tariff, catalog)
        meter = {"id": "n1", "site_id": "berlin", "utility": "on_time", "unit": "h", "kind": "main"}
        catalog_service.create(
            A, Meter, {**meter, "interval_minutes": 60, "attributes": {"power_rating_w": 60}}, catalog
        )
        assignment = {"id": "as1", "meter_id": "n1", "customer_id": "c1", "tariff_id": "alp"}
        catalog_service.create(A, Assignment, {**assignment, "effective_from": "2026-01-01"}, catalog)
        first = WEEK_START - timedelta(hours=24)
        values = [D(0)] * 24 + [D(1) if i < 100 else D(0) for i in range(169)] + [D(0)] * 24
        self.stores.readings.put_new(
            A,
            [
                RawReading("n1", first + i * timedelta(hours=1), v, "interval", 60)
                for i, v in enumerate(values)
            ],
        )

    def run(
        self, now: datetime = MONDAY, queue: FakeDeliveryQueue | None = None
    ) -> savings_reports.ReportRun:
        return savings_reports.run(
            now,
            self.stores.ports(),
            documents=self.stores.documents,
            queue=queue or self.queue,
            retention=RETENTION,
        )

    def deliver(self, work: DeliveryWork, now: datetime = MONDAY) -> delivery.Delivered:
        return delivery.deliver(
            work.account,
            work.invoice_id,
            work.attempt,
            invoices=self.stores.invoices,
            documents=self.stores.documents,
            deliveries=self.stores.deliveries,
            mailer=self.mailer,
            settings=billing_settings.settings_of(A, self.stores.accounts),
            now=now,
        )

    def stored_pdf(self) -> bytes:
        return self.stores.documents.get(A, f"invoices/{REPORT}.pdf")


def text_of(pdf: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages).replace("\u00a0", " ")


@pytest.mark.parametrize(
    ("schedule", "today", "period"),
    [
        ("daily", date(2026, 10, 26), (date(2026, 10, 25), date(2026, 10, 26))),
        ("weekly", date(2026, 10, 26), (date(2026, 10, 19), date(2026, 10, 26))),  # a Monday
        ("weekly", date(2026, 10, 25), (date(2026, 10, 12), date(2026, 10, 19))),  # the Sunday before
        ("monthly", date(2026, 1, 1), (date(2025, 12, 1), date(2026, 1, 1))),
        ("monthly", date(2026, 3, 31), (date(2026, 2, 1), date(2026, 3, 1))),
    ],
)
def test_the_due_period_is_the_latest_that_has_ended(schedule, today, period) -> None:
    assert last_ended_period(schedule, today) == period


def test_a_period_starts_where_its_schedule_does() -> None:
    with pytest.raises(ValueError, match="starts on a Monday"):
        schedule_period("weekly", date(2026, 10, 20))
    with pytest.raises(ValueError, match="starts on the 1st"):
        schedule_period("monthly", date(2026, 10, 2))


def test_the_week_ends_at_midnight_in_the_reports_zone_not_in_utc() -> None:
    reports = ReportSettings(schedule="weekly", recipients=("a@b.example",), timezone="Europe/Berlin")

    assert savings_reports.due_period(reports, MONDAY) == (date(2026, 10, 19), date(2026, 10, 26))
    # 23:59 UTC on Sunday is already Monday in Berlin; 22:59 UTC is still Sunday there.
    assert savings_reports.due_period(reports, MONDAY - timedelta(hours=1)) == (
        date(2026, 10, 12),
        date(2026, 10, 19),
    )


def test_the_weekly_report_is_stored_once_and_emailed_once_with_the_stored_bytes() -> None:
    world = World()

    (made,) = world.run().made
    assert (made.report_id, made.start, made.end) == (REPORT, date(2026, 10, 19), date(2026, 10, 26))
    assert world.queue.sent == [DeliveryWork(A, REPORT, 1)]
    done = world.deliver(world.queue.sent[0])

    ((_, email),) = world.mailer.sent
    pdf = world.stored_pdf()
    assert done.sent and done.record.state == "sent"
    assert email.to == ("energie@kunde.example", "chef@kunde.example")
    assert email.subject == "Einsparbericht 19.10.2026 – 25.10.2026 – Alpiron"
    assert [a.body for a in email.attachments] == [pdf]
    assert made.document.sha256 == hashlib.sha256(pdf).hexdigest()
    text = text_of(pdf)
    assert "Einsparbericht" in text and "Anlage: Berlin Plant (berlin)" in text
    assert "n1 100,00 69,00 60 0,30 € 1,24 €" in text  # 69 h x 60 W x 0.30 / 1000 = 1.242


def test_the_next_hourly_runs_store_and_send_nothing_again() -> None:
    world = World()
    world.run()
    world.deliver(world.queue.sent[0])

    for hour in range(1, 4):
        world.run(MONDAY + timedelta(hours=hour))

    assert world.stores.documents.puts == 1
    assert list(world.stores.deliveries.items) == [(A, REPORT, 1)]
    assert len(world.queue.sent) == 1 and len(world.mailer.sent) == 1


def test_a_crash_after_storing_and_before_queueing_gives_one_pdf_and_one_email() -> None:
    world = World()
    crashing = CrashingQueue()
    with pytest.raises(Crash):
        world.run(queue=crashing)  # stored, attempt 1 queued, its message lost

    world.run(MONDAY + timedelta(hours=1))  # the next hour sends the message of the queued attempt
    for work in world.queue.sent:
        world.deliver(work)
    world.run(MONDAY + timedelta(hours=2))

    assert world.stores.documents.puts == 1
    assert len(world.mailer.sent) == 1


def test_a_crash_after_sending_and_before_recording_gives_one_email() -> None:
    world = World()
    world.run()
    world.mailer = CrashAfterSend()
    with pytest.raises(Crash):
        world.deliver(world.queue.sent[0])
    [(message_id, _)] = world.mailer.sent
    # SES's Send event (tagged with account, report and attempt) records what the worker could not.
    recorded = delivery.record_event(
        A,
        REPORT,
        1,
        "sent",
        deliveries=world.stores.deliveries,
        invoices=world.stores.invoices,
        at=MONDAY + timedelta(minutes=2),
        message_id=message_id,
    )
    world.run(MONDAY + timedelta(hours=1))  # queues nothing: the attempt is sent
    again = world.deliver(world.queue.sent[0], MONDAY + timedelta(minutes=16))

    assert recorded is not None and recorded.state == "sent"
    assert (again.sent, len(world.mailer.sent), len(world.queue.sent)) == (False, 1, 1)


def test_late_readings_after_storing_keep_the_stored_report() -> None:
    world = World()
    savings_reports.make_report(
        A,
        billing_settings.settings_of(A, world.stores.accounts),
        date(2026, 10, 19),
        date(2026, 10, 26),
        stores=world.stores.ports(),
        documents=world.stores.documents,
        retention=RETENTION,
        now=MONDAY,
    )
    first = world.stored_pdf()
    world.stores.readings.put_new(
        A, [RawReading("n1", WEEK_START + timedelta(hours=150), D(1), "interval", 60)]
    )

    (made,) = world.run().made

    assert world.stored_pdf() == first and made.document.sha256 == hashlib.sha256(first).hexdigest()


def test_an_account_without_an_email_sender_gets_its_report_stored_not_emailed() -> None:
    world = World(email=False)

    (made,) = world.run().made

    assert made.delivery is None and world.stores.documents.puts == 1 and world.queue.sent == []


def test_an_account_without_reports_gets_none() -> None:
    world = World()
    billing_settings.replace(A, {}, world.stores.accounts, MONDAY, if_match=None)

    assert world.run().made == ()


@pytest.mark.parametrize(
    ("reports", "field", "reason"),
    [
        ({"schedule": "weekly", "recipients": []}, "reports.recipients", "at least 1 item"),
        (
            {"schedule": "hourly", "recipients": ["a@b.example"]},
            "reports.schedule",
            "'daily', 'weekly' or 'monthly'",
        ),
        (
            {"schedule": "daily", "recipients": ["a@b.example"], "timezone": "Mars/Olympus"},
            "reports.timezone",
            "Mars/Olympus",
        ),
    ],
)
def test_bad_report_settings_name_the_field(reports, field, reason) -> None:
    with pytest.raises(InvalidInputError) as raised:
        billing_settings.validated({"reports": reports})

    assert raised.value.field == field
    assert reason in raised.value.reason


@pytest.mark.parametrize(
    ("schedule", "start", "period"),
    [
        ("daily", date(2026, 10, 25), (date(2026, 10, 25), date(2026, 10, 26))),
        ("weekly", date(2026, 10, 19), (date(2026, 10, 19), date(2026, 10, 26))),
        ("monthly", date(2026, 12, 1), (date(2026, 12, 1), date(2027, 1, 1))),
    ],
)
def test_a_report_id_names_its_schedule_and_period(schedule, start, period) -> None:
    document_id = delivery.report_id(schedule, start)

    assert document_id == f"report_savings_{schedule}_{start.isoformat()}"
    assert delivery.report_of_id(document_id) == (schedule, *period)
    assert delivery.is_report_id(document_id) and not delivery.is_report_id("inv_ABC")


def test_the_english_report_email_names_the_period_and_what_is_attached() -> None:
    text = report_email(ReportMail("monthly", date(2026, 11, 1), date(2026, 12, 1), "Alpiron", "en"))

    assert text.subject == "Savings report 1 Nov 2026 – 30 Nov 2026 – Alpiron"
    assert "please find attached your monthly savings report for 1 Nov 2026 – 30 Nov 2026" in text.body
    assert text.filename == "savings-report-2026-11-01.pdf"
