"""``meterbill serve``'s schedules (``local.schedules.LocalScheduler``): the rating pass every 15 minutes and
the hourly bill run, on the clock, through the deployed handlers and moto's SQS to the invoice worker."""

from __future__ import annotations

import queue
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from local.schedules import INVOICE_EVERY, RATE_EVERY, LocalScheduler, next_boundary
from local.serve import LocalPlatform
from meterbill.domain import Assignment, Customer, Meter, Site
from meterbill.ports import RawReading
from meterbill.services import catalog as catalog_service

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("now", "every", "fires"),
    [
        ("2026-04-03T00:59:59.800+02:00", RATE_EVERY, "2026-04-02T23:00:00+00:00"),
        ("2026-04-02T23:00:00+00:00", RATE_EVERY, "2026-04-02T23:15:00+00:00"),  # strictly after
        ("2026-04-02T23:14:00+00:00", INVOICE_EVERY, "2026-04-03T00:00:00+00:00"),
        ("2026-04-02T23:59:00+00:00", INVOICE_EVERY, "2026-04-03T00:00:00+00:00"),  # over midnight UTC
    ],
)
def test_the_schedules_fire_on_the_quarter_hours_and_hours_of_utc(
    now: str, every: timedelta, fires: str
) -> None:
    assert next_boundary(datetime.fromisoformat(now), every) == datetime.fromisoformat(fires)


def march_catalog(platform: LocalPlatform, account: str, first: date = date(2026, 3, 1)) -> None:
    """Site berlin, hourly meter m1, customer c1 on m1 at 0.30 EUR/kWh from ``first`` (default 1 March 2026;
    bill day 1)."""
    store = platform.stores.catalog
    catalog_service.create(
        account, Site, {"id": "berlin", "name": "Plant", "timezone": "Europe/Berlin"}, store
    )
    meter = {"id": "m1", "site_id": "berlin", "utility": "electricity", "unit": "kWh", "kind": "main"}
    catalog_service.create(account, Meter, {**meter, "interval_minutes": 60}, store)
    tariff = {
        "id": "flat",
        "name": "Flat",
        "currency": "EUR",
        "energy": {"periods": [{"name": "all", "tiers": [{"rate": "0.30"}]}]},
        "effective_from": first.isoformat(),
    }
    catalog_service.create_tariff(account, tariff, store)
    catalog_service.create(account, Customer, {"id": "c1", "name": "C1"}, store)
    assignment = {"id": "as1", "meter_id": "m1", "customer_id": "c1", "tariff_id": "flat"}
    catalog_service.create(account, Assignment, {**assignment, "effective_from": first.isoformat()}, store)


def test_the_servers_clock_fires_the_rating_pass_and_on_the_hour_the_bill_run_that_issues_the_invoice(
    platform: LocalPlatform,
) -> None:
    account = platform.create_account("Scheduler").account_id
    march_catalog(platform, account)
    start = datetime(2026, 3, 1, tzinfo=BERLIN).astimezone(UTC)
    end = datetime(2026, 4, 1, tzinfo=BERLIN).astimezone(UTC)
    hours = [start + timedelta(hours=n) for n in range(int((end - start) / timedelta(hours=1)))]
    platform.stores.readings.put_new(
        account, [RawReading("m1", at, Decimal("1.000"), "interval", 60) for at in hours]
    )
    passes: queue.Queue[str] = queue.Queue()
    # 3 April 01:00 in Berlin: March ended on the 1st, its 2 grace days on the 3rd at 00:00.
    just_before = datetime.fromisoformat("2026-04-03T00:59:59.800+02:00")
    scheduler = LocalScheduler(clock=lambda: just_before, on_pass=passes.put)

    scheduler.start()
    try:
        rated = passes.get(timeout=60)
        billed = passes.get(timeout=120)
    finally:
        asked = time.monotonic()
        scheduler.stop()  # waiting for the next quarter hour, it stops at once
        stopped_after = time.monotonic() - asked

    assert rated.startswith("schedule rate at 2026-04-02T23:00:00+00:00: {")
    assert billed.startswith("schedule invoice at 2026-04-02T23:00:00+00:00: {")
    (invoice,) = platform.stores.invoices.list(account, limit=10).items
    # March in Berlin has 743 hours (the clock skips 02:00 on the 29th): 743 x 1 kWh x 0.30 = 222.90.
    assert (len(hours), invoice.state, invoice.number) == (743, "issued", "INV-000001")
    assert (invoice.period_start, invoice.period_end, invoice.body["total"]) == (
        date(2026, 3, 1),
        date(2026, 4, 1),
        "222.90",
    )
    assert stopped_after < 2


def test_the_local_platform_has_the_invoices_bucket_with_object_lock(platform: LocalPlatform) -> None:
    import boto3

    variables = platform.environment
    s3 = boto3.client(
        "s3",
        region_name=variables["AWS_REGION"],
        endpoint_url=variables["S3_ENDPOINT_URL"],
        aws_access_key_id=variables["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=variables["AWS_SECRET_ACCESS_KEY"],
    )

    lock = s3.get_object_lock_configuration(Bucket=variables["INVOICES_BUCKET"])

    assert (variables["INVOICES_BUCKET"], lock["ObjectLockConfiguration"]["ObjectLockEnabled"]) == (
        "meterbill-invoices",
        "Enabled",
    )


def test_an_account_of_the_local_platform_gets_its_signing_key_at_set_up(platform: LocalPlatform) -> None:
    keys = platform.create_account("Stadtwerke Süd")

    pem = platform.signing_keys().get(keys.account_id)

    assert pem.certificate_pem.startswith("-----BEGIN CERTIFICATE-----")
    assert pem.private_key_pem.startswith("-----BEGIN PRIVATE KEY-----")
