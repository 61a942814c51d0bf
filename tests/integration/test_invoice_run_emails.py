"""The bill run to the customer's inbox on moto (DynamoDB, S3 Object Lock, SQS, SES v2): the invoice worker
issues the portfolio's invoices, stores each PDF once and queues its first email; the email worker sends each
one with exactly the stored bytes attached and marks the invoice delivered; messages delivered again send
nothing twice."""

from __future__ import annotations

import email
import email.policy
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto.ses.models import ses_backends

from meterbill import email_wiring, invoice_wiring
from meterbill.adapters.email_queue import SqsDeliveryQueue
from meterbill.adapters.invoice_queue import SqsInvoiceWorkQueue
from meterbill.adapters.s3 import S3DocumentStore
from meterbill.adapters.ses import SesMailer
from meterbill.ports import Stores
from meterbill.services import billing_settings
from meterbill.services.documents import DocumentStep
from meterbill.settings import Retention
from tests.integration.conftest import REGION
from tests.integration.test_email_delivery import attachment_of
from tests.integration.test_invoice_handlers import received
from tests.unit.api_support import LambdaContextStub
from tests.unit.documents_support import SELLER, CountingRender
from tests.unit.invoicing_support import BERLIN, A, populate

BUCKET = "meterbill-invoices"
SENDER = "rechnung@hpo.example"
CUSTOMERS = ("c-alice", "c-bob", "c-carol", "c-dave", "c-rack")


@pytest.fixture
def wired(stores: Stores, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
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
    populate(stores, readings_to=datetime(2026, 2, 16, tzinfo=BERLIN))
    current = billing_settings.settings_of(A, stores.accounts).model_dump(mode="json")
    billing_settings.replace(
        A,
        {**current, "seller": SELLER, "email": {"sender": SENDER}},
        stores.accounts,
        datetime(2026, 1, 1, tzinfo=UTC),
        if_match=None,
    )
    for customer_id in CUSTOMERS:
        stored = stores.catalog.get(A, "customer", customer_id)
        body = {**stored.body, "emails": [f"{customer_id}@example.org"]}
        stores.catalog.replace(A, "customer", customer_id, body, if_match=None)
    documents = S3DocumentStore(BUCKET, region=REGION, client=s3)
    now = datetime.now(UTC).replace(microsecond=0)  # moto locks against the real clock
    email_queue = SqsDeliveryQueue(urls["email"], region=REGION)
    invoice_wiring.configure(
        stores=stores,
        queue=SqsInvoiceWorkQueue(urls["invoice"], region=REGION),
        documents=DocumentStep(
            documents=documents,
            render=CountingRender(),
            retention=Retention(days=1),
            logo=lambda account: None,
        ),
        clock=lambda: now,
        email_queue=email_queue,
    )
    email_wiring.configure(
        stores=stores,
        documents=documents,
        mailer=SesMailer(region=REGION, configuration_set=None),
        queue=email_queue,
        clock=lambda: now,
    )
    yield urls
    invoice_wiring.reset()
    email_wiring.reset()


def run_email_worker(url: str) -> list[str]:
    from functions.invoice import email_worker_handler

    sqs = boto3.client("sqs", region_name=REGION)
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get(
        "Messages", []
    )
    if not messages:
        return []
    records = [
        {
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": m.get("Attributes", {}),
            "messageAttributes": {},
            "md5OfBody": m["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:eu-central-1:123456789012:email",
            "awsRegion": REGION,
        }
        for m in messages
    ]
    failed = email_worker_handler.lambda_handler({"Records": records}, LambdaContextStub())[
        "batchItemFailures"
    ]
    for m in messages:
        if m["MessageId"] not in {f["itemIdentifier"] for f in failed}:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return [json.loads(m["Body"])["invoice_id"] for m in messages]


def test_a_run_issues_stores_and_emails_each_invoice_once_with_exactly_the_stored_pdf(
    wired: dict[str, str], stores: Stores
) -> None:
    from functions.invoice import invoice_schedule_handler, invoice_worker_handler

    invoice_schedule_handler.lambda_handler(
        {"scheduled_time": "2026-02-17T00:30:00+01:00"}, LambdaContextStub()
    )
    work = received(wired["invoice"])
    assert invoice_worker_handler.lambda_handler({"Records": work}, LambdaContextStub()) == {
        "batchItemFailures": []
    }

    emailed = run_email_worker(wired["email"])

    sent = ses_backends["123456789012"][REGION].sent_messages
    assert (len(emailed), len(sent)) == (5, 5)
    s3 = boto3.client("s3", region_name=REGION)
    for message in sent:
        parsed = email.message_from_string(message.raw_data, policy=email.policy.default)
        [record] = [
            r for r in stores.invoices.list(A, limit=20).items if r.number and r.number in parsed["Subject"]
        ]
        assert record.document is not None
        stored = s3.get_object(Bucket=BUCKET, Key=f"{A}/{record.document.key}")["Body"].read()
        assert attachment_of(message.raw_data) == (f"{record.number}.pdf", stored)
        assert (parsed["To"], record.state) == (f"{record.customer_id}@example.org", "delivered")

    # The invoice messages delivered again, and the email messages again: nothing is sent twice.
    assert invoice_worker_handler.lambda_handler({"Records": work}, LambdaContextStub()) == {
        "batchItemFailures": []
    }
    assert run_email_worker(wired["email"]) == []  # all delivered: no first email queued again
    assert len(ses_backends["123456789012"][REGION].sent_messages) == 5


def test_a_crash_after_storing_and_before_queueing_the_email_still_gives_one_pdf_and_one_email(
    wired: dict[str, str], stores: Stores, monkeypatch: pytest.MonkeyPatch
) -> None:
    from functions.invoice import invoice_schedule_handler, invoice_worker_handler
    from meterbill.services import billrun

    invoice_schedule_handler.lambda_handler(
        {"scheduled_time": "2026-02-17T00:30:00+01:00"}, LambdaContextStub()
    )
    work = received(wired["invoice"])

    def crash(*_: Any, **__: Any) -> Any:
        raise RuntimeError("killed after the documents were stored, before their emails were queued")

    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    with monkeypatch.context() as patched:
        patched.setattr(billrun, "queue_emails", crash)
        with pytest.raises(BatchProcessingError):  # every message of the batch failed
            invoice_worker_handler.lambda_handler({"Records": work}, LambdaContextStub())
    assert sorted(r.state for r in stores.invoices.list(A, limit=20).items) == ["stored"] * 5
    assert run_email_worker(wired["email"]) == []

    # SQS delivers the messages again: nothing is stored twice, every stored document gets its email.
    assert invoice_worker_handler.lambda_handler({"Records": work}, LambdaContextStub()) == {
        "batchItemFailures": []
    }
    assert len(run_email_worker(wired["email"])) == 5
    s3 = boto3.client("s3", region_name=REGION)
    assert (
        len(s3.list_object_versions(Bucket=BUCKET)["Versions"]),
        len(ses_backends["123456789012"][REGION].sent_messages),
    ) == (5, 5)
    assert sorted(r.state for r in stores.invoices.list(A, limit=20).items) == ["delivered"] * 5
