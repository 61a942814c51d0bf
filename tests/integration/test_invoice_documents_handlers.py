"""The invoice functions with documents, end to end on moto: the worker issues the portfolio's invoices on
DynamoDB and stores each one's document once in an Object Lock bucket (compliance retention, SHA-256
checksum), the invoice marked ``stored`` with the SHA-256 of the stored bytes; messages delivered again
store nothing twice."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from meterbill import invoice_wiring
from meterbill.adapters.invoice_queue import SqsInvoiceWorkQueue
from meterbill.adapters.s3 import S3DocumentStore
from meterbill.ports import Stores
from meterbill.services.documents import DocumentStep
from meterbill.settings import Retention
from tests.integration.conftest import REGION
from tests.integration.test_invoice_handlers import received
from tests.unit.api_support import LambdaContextStub
from tests.unit.documents_support import SELLER, CountingRender
from tests.unit.invoicing_support import BERLIN, A, populate

BUCKET = "meterbill-invoices"


@pytest.fixture
def s3(aws: None) -> Any:
    client = boto3.client("s3", region_name=REGION)
    client.create_bucket(
        Bucket=BUCKET,
        CreateBucketConfiguration={"LocationConstraint": REGION},
        ObjectLockEnabledForBucket=True,
    )
    return client


@pytest.fixture
def render() -> CountingRender:
    return CountingRender()


@pytest.fixture
def wired(stores: Stores, s3: Any, render: CountingRender, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from meterbill.services import billing_settings

    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "invoice")
    populate(stores, readings_to=datetime(2026, 2, 16, tzinfo=BERLIN))
    current = billing_settings.settings_of(A, stores.accounts).model_dump(mode="json")
    billing_settings.replace(
        A, {**current, "seller": SELLER}, stores.accounts, datetime(2026, 1, 1, tzinfo=UTC), if_match=None
    )
    queue_url: str = boto3.client("sqs", region_name=REGION).create_queue(QueueName="invoice-work")[
        "QueueUrl"
    ]
    step = DocumentStep(
        documents=S3DocumentStore(BUCKET, region=REGION, client=s3),
        render=render,
        retention=Retention(days=1),
        logo=lambda account: None,
    )
    stored_at = datetime.now(UTC).replace(microsecond=0)  # moto locks against the real clock
    invoice_wiring.configure(
        stores=stores,
        queue=SqsInvoiceWorkQueue(queue_url, region=REGION),
        documents=step,
        clock=lambda: stored_at,
    )
    yield queue_url
    invoice_wiring.reset()


def test_every_issued_invoice_is_stored_once_with_retention_and_its_sha256_on_the_record(
    wired: str, stores: Stores, s3: Any, render: CountingRender
) -> None:
    from functions.invoice import invoice_schedule_handler, invoice_worker_handler

    invoice_schedule_handler.lambda_handler(
        {"scheduled_time": "2026-02-17T00:30:00+01:00"}, LambdaContextStub()
    )
    records = received(wired)

    assert invoice_worker_handler.lambda_handler({"Records": records}, LambdaContextStub()) == {
        "batchItemFailures": []
    }

    stored = stores.invoices.list(A, state="stored", limit=10).items
    assert sorted(r.customer_id for r in stored) == ["c-alice", "c-bob", "c-carol", "c-dave", "c-rack"]
    for record in stored:
        assert record.document is not None
        head = s3.head_object(Bucket=BUCKET, Key=f"{A}/{record.document.key}", ChecksumMode="ENABLED")
        body = s3.get_object(Bucket=BUCKET, Key=f"{A}/{record.document.key}")["Body"].read()
        assert body.startswith(f"%PDF {record.number} rendering ".encode())  # the renderer's bytes
        assert record.document.sha256 == hashlib.sha256(body).hexdigest()
        assert base64.b64decode(head["ChecksumSHA256"]).hex() == record.document.sha256
        assert head["ObjectLockMode"] == "COMPLIANCE"
        assert head["ObjectLockRetainUntilDate"] == record.document.stored_at + timedelta(days=1)
    assert len(render.documents) == 5

    # The same messages delivered again, and the next hour's run, store nothing twice.
    assert invoice_worker_handler.lambda_handler({"Records": records}, LambdaContextStub()) == {
        "batchItemFailures": []
    }
    report = invoice_schedule_handler.lambda_handler({"time": "2026-02-17T01:30:00Z"}, LambdaContextStub())
    assert (report["sent"], len(render.documents)) == (0, 5)
    assert len(s3.list_object_versions(Bucket=BUCKET)["Versions"]) == 5
