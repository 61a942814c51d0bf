"""Savings reports from the hourly pass on moto (DynamoDB, S3 Object Lock, SQS, SES v2): the schedule stores
last week's report once beside the invoices and queues its email; the email worker sends it with exactly the
stored bytes; the next passes store and send nothing again."""

from __future__ import annotations

import email
import email.policy
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import boto3
import pytest
from moto.ses.models import ses_backends
from pypdf import PdfReader

from meterbill import email_wiring, invoice_wiring
from meterbill.adapters.email_queue import SqsDeliveryQueue
from meterbill.adapters.invoice_queue import SqsInvoiceWorkQueue
from meterbill.adapters.s3 import S3DocumentStore
from meterbill.adapters.ses import SesMailer
from meterbill.domain import Assignment, Customer, Meter, Site
from meterbill.money import round_money
from meterbill.ports import AccountRecord, RawReading, Stores
from meterbill.services import billing_settings
from meterbill.services import catalog as catalog_service
from meterbill.services.documents import DocumentStep
from meterbill.settings import Retention
from meterbill.timeutil import local_midnight
from tests.integration.conftest import REGION
from tests.integration.test_email_delivery import attachment_of
from tests.integration.test_invoice_run_emails import run_email_worker
from tests.unit.api_support import LambdaContextStub
from tests.unit.documents_support import CountingRender

A = "alp"
BUCKET = "meterbill-invoices"
SENDER = "berichte@alpiron.example"
BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime.now(UTC).replace(microsecond=0)  # moto locks against the real clock
TODAY = NOW.astimezone(BERLIN).date()
WEEK = (TODAY - timedelta(days=TODAY.weekday() + 7), TODAY - timedelta(days=TODAY.weekday()))


@pytest.fixture
def wired(stores: Stores, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Account alp with weekly reports to ops@kunde.example; node n1 (60 W, on_time, hourly) at site berlin
    under a 0.30 EUR/kWh savings tariff, on for the first 100 hours of last week (Berlin)."""
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "invoice")
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(
        Bucket=BUCKET,
        CreateBucketConfiguration={"LocationConstraint": REGION},
        ObjectLockEnabledForBucket=True,
    )
    boto3.client("sesv2", region_name=REGION).create_email_identity(EmailIdentity=SENDER)
    sqs = boto3.client("sqs", region_name=REGION)
    urls = {
        "invoice": sqs.create_queue(QueueName="invoice-work")["QueueUrl"],
        "email": sqs.create_queue(QueueName="email", Attributes={"VisibilityTimeout": "0"})["QueueUrl"],
    }
    at = datetime(2026, 1, 1, tzinfo=UTC)
    stores.accounts.create(AccountRecord(A, "Alpiron", at))
    settings = {
        "email": {"sender": SENDER, "sender_name": "Alpiron"},
        "reports": {"schedule": "weekly", "recipients": ["ops@kunde.example"], "timezone": "Europe/Berlin"},
    }
    billing_settings.replace(A, settings, stores.accounts, at, if_match=None)
    catalog = stores.catalog
    catalog_service.create(
        A, Site, {"id": "berlin", "name": "Berlin Plant", "timezone": "Europe/Berlin"}, catalog
    )
    catalog_service.create(A, Customer, {"id": "c1", "name": "C1"}, catalog)
    savings = {"power_rating_w": "meter.power_rating_w", "price_per_kwh": "0.30"}
    catalog_service.create_tariff(
        A,
        {"id": "alp", "name": "S", "unit": "h", "savings": savings, "effective_from": "2026-01-01"},
        catalog,
    )
    meter = {"id": "n1", "site_id": "berlin", "utility": "on_time", "unit": "h", "kind": "main"}
    catalog_service.create(
        A, Meter, {**meter, "interval_minutes": 60, "attributes": {"power_rating_w": 60}}, catalog
    )
    assignment = {"id": "as1", "meter_id": "n1", "customer_id": "c1", "tariff_id": "alp"}
    catalog_service.create(A, Assignment, {**assignment, "effective_from": "2026-01-01"}, catalog)
    start = local_midnight(WEEK[0], BERLIN).astimezone(UTC)
    stores.readings.put_new(
        A,
        [
            RawReading("n1", start + i * timedelta(hours=1), Decimal(1 if i < 100 else 0), "interval", 60)
            for i in range(-24, hours_of_the_week() + 24)
        ],
    )
    documents = S3DocumentStore(BUCKET, region=REGION, client=s3)
    email_queue = SqsDeliveryQueue(urls["email"], region=REGION)
    invoice_wiring.configure(
        stores=stores,
        queue=SqsInvoiceWorkQueue(urls["invoice"], region=REGION),
        documents=DocumentStep(documents=documents, render=CountingRender(), retention=Retention(days=1)),
        clock=lambda: NOW,
        email_queue=email_queue,
    )
    email_wiring.configure(
        stores=stores,
        documents=documents,
        mailer=SesMailer(region=REGION, configuration_set=None),
        queue=email_queue,
        clock=lambda: NOW,
    )
    yield urls
    invoice_wiring.reset()
    email_wiring.reset()


def hours_of_the_week() -> int:
    first, stop = (local_midnight(day, BERLIN) for day in WEEK)
    return int((stop.astimezone(UTC) - first.astimezone(UTC)).total_seconds()) // 3600


def test_the_hourly_pass_stores_last_weeks_report_once_and_emails_exactly_its_bytes_once(
    wired: dict[str, str],
) -> None:
    from functions.invoice import invoice_schedule_handler

    answer = invoice_schedule_handler.lambda_handler({"scheduled_time": NOW.isoformat()}, LambdaContextStub())
    report_id = f"report_savings_weekly_{WEEK[0].isoformat()}"
    assert answer["reports"] == 1
    assert run_email_worker(wired["email"]) == [report_id]

    s3 = boto3.client("s3", region_name=REGION)
    stored = s3.get_object(Bucket=BUCKET, Key=f"{A}/invoices/{report_id}.pdf")["Body"].read()
    [message] = ses_backends["123456789012"][REGION].sent_messages
    assert attachment_of(message.raw_data) == (f"savings-report-{WEEK[0].isoformat()}.pdf", stored)
    parsed = email.message_from_string(message.raw_data, policy=email.policy.default)
    assert (parsed["To"], parsed["From"]) == ("ops@kunde.example", f"Alpiron <{SENDER}>")
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(stored)).pages)
    savings = round_money(Decimal(hours_of_the_week() - 100) * 60 * Decimal("0.30") / 1000, "EUR")
    assert f"€{savings}" in text  # (hours of the week - 100 on) x 60 W x 0.30 / 1000

    # The next hours: nothing is stored or sent again.
    for hour in (1, 2):
        later = (NOW + timedelta(hours=hour)).isoformat()
        invoice_schedule_handler.lambda_handler({"scheduled_time": later}, LambdaContextStub())
    assert run_email_worker(wired["email"]) == []
    assert len(s3.list_object_versions(Bucket=BUCKET)["Versions"]) == 1
    assert len(ses_backends["123456789012"][REGION].sent_messages) == 1
