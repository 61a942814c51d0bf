"""``local/demo_out.py`` on moto (DynamoDB, S3 Object Lock, SQS, SES v2, in this process): an invoice issued,
stored and emailed by the deployed workers into a mail folder, two alerts in the alerts' store and their
email; ``write_from`` leaves in the output folder exactly the stored PDF, the emails, ``alerts.json`` and a
usage chart whose bars stand where the meters' daily usage puts them, and removes only its own stale files."""

from __future__ import annotations

import email
import email.policy
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import boto3
import pytest
from PIL import Image

from local.alert_mail import EmailSubscriber, write_alert_mail
from local.demo_out import Sources, write_from
from local.mail import LocalSesMailer
from local.usage_chart import HEIGHT, PALETTE, PLOT_BOTTOM, PLOT_LEFT, PLOT_RIGHT, PLOT_TOP, WIDTH
from meterbill import email_wiring
from meterbill.adapters.dynamodb import DynamoDb, alert_store_on
from meterbill.adapters.email_queue import SqsDeliveryQueue
from meterbill.adapters.s3 import S3DocumentStore
from meterbill.alerts.lifecycle import Alert, AlertBook, Notification, NotificationItem, StateChange
from meterbill.alerts.messages import render
from meterbill.alerts.model import Subject
from meterbill.errors import NotFoundError
from meterbill.ports import Stores
from tests.integration.conftest import REGION
from tests.integration.test_email_delivery import attachment_of
from tests.integration.test_invoice_handlers import received
from tests.integration.test_invoice_run_emails import BUCKET, run_email_worker, wired  # noqa: F401
from tests.unit.api_support import LambdaContextStub
from tests.unit.invoicing_support import BERLIN, A, add_meter, hourly

CHART_FROM, CHART_TO = date(2026, 2, 2), date(2026, 2, 16)  # Monday 2 to Sunday 15 February: 14 days
SUBSCRIBER = "facility@hpo.example"


def chart_meter_hour(moment: datetime) -> Decimal:
    """m-chart uses the day of the month / 8 kWh each hour: 24 x d / 8 = 3 x d kWh on day d."""
    return Decimal(moment.day) / 8


def firing_alert() -> Alert:
    seen = datetime(2026, 2, 11, 1, 0, tzinfo=BERLIN)
    return Alert(
        id="aaaa000000000001-20260211T000000Z",
        fingerprint="aaaa000000000001",
        account_id=A,
        kind="abnormal_usage",
        subject=Subject("meter", "m-chart", "berlin"),
        state="firing",
        severity="warning",
        summary="m-chart used 30 kWh on 10 Feb, 2.5 times its baseline",
        facts={"day_total": "30.000", "baseline": "12.000", "ratio": "2.50"},
        depends_on=(),
        first_seen=seen,
        last_seen=seen,
        active_since=seen,
        fired_at=seen,
        announced=True,
        history=(StateChange(seen, "pending"), StateChange(seen, "firing")),
    )


def resolved_alert() -> Alert:
    seen = datetime(2026, 2, 3, 14, 15, tzinfo=UTC)
    return Alert(
        id="bbbb000000000002-20260203T141500Z",
        fingerprint="bbbb000000000002",
        account_id=A,
        kind="communication",
        subject=Subject("meter", "m-alice", "berlin"),
        state="resolved",
        severity="critical",
        summary="m-alice sent nothing for 4 intervals",
        facts={"missed_intervals": "4"},
        depends_on=(),
        first_seen=seen,
        last_seen=seen + timedelta(hours=1),
        active_since=None,
        fired_at=seen + timedelta(minutes=15),
        resolved_at=seen + timedelta(hours=1),
        history=(StateChange(seen, "pending"),),
    )


@pytest.fixture
def mail_dir(tmp_path: Path) -> Path:
    return tmp_path / "mail"


@pytest.fixture
def platform_sources(
    wired: dict[str, str],  # noqa: F811
    stores: Stores,
    db: DynamoDb,
    mail_dir: Path,
) -> Iterator[Sources]:
    """c-alice's February invoice issued, stored and emailed into ``mail_dir`` by the deployed workers;
    m-chart's readings; two alerts of the account (and one of another) and their emails."""
    from functions.invoice import invoice_schedule_handler, invoice_worker_handler

    add_meter(stores, "m-chart")
    stores.readings.put_new(
        A,
        hourly(
            "m-chart",
            datetime(2026, 2, 1, tzinfo=BERLIN),
            datetime(2026, 2, 16, tzinfo=BERLIN),
            chart_meter_hour,
        ),
    )
    invoice_schedule_handler.lambda_handler(
        {"scheduled_time": "2026-02-17T00:30:00+01:00"}, LambdaContextStub()
    )
    work = [w for w in received(wired["invoice"]) if json.loads(w["body"])["customer_id"] == "c-alice"]
    assert invoice_worker_handler.lambda_handler({"Records": work}, LambdaContextStub()) == {
        "batchItemFailures": []
    }
    documents = S3DocumentStore(BUCKET, region=REGION)
    email_wiring.configure(
        stores=stores,
        documents=documents,
        mailer=LocalSesMailer(mail_dir, region=REGION, endpoint_url=None),
        queue=SqsDeliveryQueue(wired["email"], region=REGION),
    )
    assert len(run_email_worker(wired["email"])) == 1

    alerts = alert_store_on(db, parallel_requests=1)
    ours = (firing_alert(), resolved_alert())
    alerts.save_book(A, AlertBook(A, ours), list(ours), [])
    theirs = replace(firing_alert(), account_id="other", id="cccc000000000003-20260211T000000Z")
    alerts.save_book("other", AlertBook("other", (theirs,)), [theirs], [])
    subscriber = [
        EmailSubscriber(SUBSCRIBER, "arn:aws:sns:eu-central-1:123456789012:meterbill-alerts:1", None)
    ]
    at = datetime(2026, 2, 11, 1, 5, tzinfo=BERLIN)
    for account, alert in ((A, ours[0]), ("other", theirs)):
        message = render(Notification(account, "berlin", at, (NotificationItem("firing", alert),)))
        write_alert_mail(mail_dir, message, f"sns-{account}", subscriber, at=at)
    yield Sources(stores=stores, documents=documents, alerts=alerts, mail_dir=mail_dir)
    email_wiring.reset()


def test_the_demo_output_holds_the_stored_pdf_its_email_the_alerts_and_the_usage_chart(
    platform_sources: Sources, stores: Stores, tmp_path: Path
) -> None:
    out = tmp_path / "demo-out"
    stale = [
        out / "invoices" / "HPO-2026-0099.pdf",
        out / "emails" / "old.eml",
        out / "alerts.json",
        out / "usage.png",
    ]
    foreign = [
        out / "notes.txt",
        out / "invoices" / "README.md",
        out / "emails" / "keep.txt",
        out / "old" / "x.pdf",
    ]
    for path in stale + foreign:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"from an earlier run")

    outputs = write_from(
        platform_sources, A, out, chart_meters=("m-alice", "m-chart"), start=CHART_FROM, end=CHART_TO
    )

    [record] = [r for r in stores.invoices.list(A, limit=20).items if r.number is not None]
    assert (record.customer_id, record.number, record.state) == ("c-alice", "HPO-2026-000001", "delivered")
    assert record.document is not None
    stored = boto3.client("s3", region_name=REGION).get_object(
        Bucket=BUCKET, Key=f"{A}/{record.document.key}"
    )
    stored_pdf = stored["Body"].read()
    assert outputs.invoices == (out / "invoices" / "HPO-2026-000001.pdf",)
    assert outputs.invoices[0].read_bytes() == stored_pdf

    # The invoice's email as SES got it, named by number and attempt, and the account's alert email; the
    # other account's alert email stays out.
    assert [p.name for p in outputs.emails] == [
        "HPO-2026-000001-1.eml",
        "20260211T000500000000Z-alert-facility@hpo.example-sns-hpo.eml",
    ]
    assert attachment_of(outputs.emails[0].read_bytes()) == ("HPO-2026-000001.pdf", stored_pdf)
    alert_mail = email.message_from_bytes(outputs.emails[1].read_bytes(), policy=email.policy.default)
    assert (
        alert_mail["Subject"] == "[warning] meterbill: abnormal_usage firing for meter m-chart at site berlin"
    )

    # Both alerts of the account, the resolved one first (first seen on 3 Feb), times on Berlin's clock.
    assert outputs.alert_count == 2
    assert outputs.alerts.read_text(encoding="utf-8") == ALERTS_JSON

    _the_chart_shows_the_daily_usage(outputs.chart)

    assert all(not path.exists() for path in stale[:2])
    assert sorted(outputs.removed) == sorted(stale)
    assert [path.read_bytes() for path in foreign] == [b"from an earlier run"] * 4
    assert outputs.lines() == [
        f"{out}/: 1 PDF in invoices/, 2 emails in emails/ (.eml), 2 alerts in alerts.json, the usage chart "
        "usage.png",
        "4 files of an earlier run removed first",
    ]


ALERTS_JSON = """{
  "account": "hpo",
  "alerts": [
    {
      "acknowledged_at": null,
      "facts": {
        "missed_intervals": "4"
      },
      "fired_at": "2026-02-03T15:30:00+01:00",
      "first_seen": "2026-02-03T15:15:00+01:00",
      "id": "bbbb000000000002-20260203T141500Z",
      "kind": "communication",
      "muted": false,
      "resolved_at": "2026-02-03T16:15:00+01:00",
      "severity": "critical",
      "site_id": "berlin",
      "state": "resolved",
      "subject": {
        "id": "m-alice",
        "kind": "meter"
      },
      "summary": "m-alice sent nothing for 4 intervals"
    },
    {
      "acknowledged_at": null,
      "facts": {
        "baseline": "12.000",
        "day_total": "30.000",
        "ratio": "2.50"
      },
      "fired_at": "2026-02-11T01:00:00+01:00",
      "first_seen": "2026-02-11T01:00:00+01:00",
      "id": "aaaa000000000001-20260211T000000Z",
      "kind": "abnormal_usage",
      "muted": false,
      "resolved_at": null,
      "severity": "warning",
      "site_id": "berlin",
      "state": "firing",
      "subject": {
        "id": "m-chart",
        "kind": "meter"
      },
      "summary": "m-chart used 30 kWh on 10 Feb, 2.5 times its baseline"
    }
  ]
}
"""


def _the_chart_shows_the_daily_usage(path: Path) -> None:
    """14 days across the plot's 1096 pixels; m-alice 24 kWh a day (1 kWh an hour), m-chart 3 x d kWh on
    day d, at most 3 x 15 = 45: the axis goes to 50 (steps of 10). On Tuesday 10 February (day 8 of the
    chart, index 8) m-chart's bar (the second of the day) rises to 3 x 10 = 30 kWh."""
    image = Image.open(path)
    assert (image.format, image.size) == ("PNG", (WIDTH, HEIGHT))
    pixels = image.convert("RGB")
    day_width = (PLOT_RIGHT - PLOT_LEFT) / 14
    bar_width = day_width * 0.8 / 2  # the day's two bars share 80 % of its width
    centre = round(PLOT_LEFT + 8 * day_width + day_width * 0.1 + 1.5 * bar_width)  # m-chart's bar: the second
    top = PLOT_BOTTOM - 30 / 50 * (PLOT_BOTTOM - PLOT_TOP)
    assert pixels.getpixel((centre, round(top) + 2)) == PALETTE[1]
    assert pixels.getpixel((centre, PLOT_BOTTOM - 2)) == PALETTE[1]
    assert pixels.getpixel((centre, round(top) - 2)) != PALETTE[1]
    alice_centre = round(PLOT_LEFT + 8 * day_width + day_width * 0.1 + 0.5 * bar_width)
    alice_top = PLOT_BOTTOM - 24 / 50 * (PLOT_BOTTOM - PLOT_TOP)
    assert pixels.getpixel((alice_centre, round(alice_top) + 2)) == PALETTE[0]
    assert pixels.getpixel((alice_centre, round(alice_top) - 2)) == (255, 255, 255)  # a weekday: no shading
    # Saturday 14 February (index 12) is shaded above its bars.
    saturday = round(PLOT_LEFT + 12 * day_width + day_width * 0.05)
    assert pixels.getpixel((saturday, PLOT_TOP + 5)) == (238, 238, 242)


def test_a_chart_it_cannot_draw_leaves_the_earlier_outputs_as_they_were(
    platform_sources: Sources, tmp_path: Path
) -> None:
    out = tmp_path / "demo-out"
    earlier = [out / "invoices" / "HPO-2026-000001.pdf", out / "alerts.json", out / "usage.png"]
    for path in earlier:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"from an earlier run")

    with pytest.raises(NotFoundError, match="meter 'm-gone' not found"):
        write_from(
            platform_sources, A, out, chart_meters=("m-alice", "m-gone"), start=CHART_FROM, end=CHART_TO
        )

    assert [path.read_bytes() for path in earlier] == [b"from an earlier run"] * 3
    assert not (out / "emails").exists()
