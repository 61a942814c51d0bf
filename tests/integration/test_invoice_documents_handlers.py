"""The invoice functions with documents, end to end on moto: the worker issues the portfolio's invoices on
DynamoDB and stores each one's document once in an Object Lock bucket (compliance retention, SHA-256
checksum), the invoice marked ``stored`` with the SHA-256 of the stored bytes; messages delivered again
store nothing twice."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from pypdf import PdfReader

from meterbill import invoice_wiring
from meterbill.adapters.invoice_queue import SqsInvoiceWorkQueue
from meterbill.adapters.s3 import S3DocumentStore
from meterbill.billing.invoice import Invoice
from meterbill.documents.locale import format_money
from meterbill.documents.signing import SigningKey, signature_problems
from meterbill.ports import Stores
from meterbill.services.documents import DocumentStep, document_problems
from meterbill.settings import Retention
from tests.einvoice import validate
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


@pytest.fixture
def deployed_documents(stores: Stores, s3: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The worker wired as the stack wires it: the bucket and the signing keys' prefix from the environment,
    the real renderer (XML -> PDF/A-3B -> signature with a key made on the account's first document)."""
    from meterbill.services import billing_settings

    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "invoice")
    monkeypatch.setenv("INVOICES_BUCKET", BUCKET)
    monkeypatch.setenv("SIGNING_KEY_SECRET_PREFIX", "meterbill/dev/signing-key/")
    address = {"lines": ["Schönhauser Allee 1"], "postal_code": "10437", "city": "Berlin", "country": "DE"}
    populate(stores, readings_to=datetime(2026, 2, 16, tzinfo=BERLIN), address=address, language="de")
    current = billing_settings.settings_of(A, stores.accounts).model_dump(mode="json")
    billing_settings.replace(
        A, {**current, "seller": SELLER}, stores.accounts, datetime(2026, 1, 1, tzinfo=UTC), if_match=None
    )
    queue_url: str = boto3.client("sqs", region_name=REGION).create_queue(QueueName="invoice-work")[
        "QueueUrl"
    ]
    invoice_wiring.reset()
    invoice_wiring.configure(stores=stores, queue=SqsInvoiceWorkQueue(queue_url, region=REGION))
    yield queue_url
    invoice_wiring.reset()


def test_the_stored_document_is_the_signed_einvoice_pdf_of_the_invoice_record(
    deployed_documents: str, stores: Stores, s3: Any
) -> None:
    from functions.invoice import invoice_schedule_handler, invoice_worker_handler

    invoice_schedule_handler.lambda_handler(
        {"scheduled_time": "2026-02-17T00:30:00+01:00"}, LambdaContextStub()
    )
    invoice_worker_handler.lambda_handler({"Records": received(deployed_documents)}, LambdaContextStub())

    (alice,) = [
        r for r in stores.invoices.list(A, state="stored", limit=10).items if r.customer_id == "c-alice"
    ]
    assert alice.document is not None
    pdf = s3.get_object(Bucket=BUCKET, Key=f"{A}/{alice.document.key}")["Body"].read()
    assert hashlib.sha256(pdf).hexdigest() == alice.document.sha256
    # Signed with the account's key, kept in Secrets Manager from the first document on.
    secret = boto3.client("secretsmanager", region_name=REGION).get_secret_value(
        SecretId=f"meterbill/dev/signing-key/{A}"
    )
    key = json.loads(secret["SecretString"])
    trusted = SigningKey(key["private_key_pem"].encode(), key["certificate_pem"].encode())
    assert signature_problems(pdf, trusted) == []
    # What pypdf reads is what the record says: number, total, period, meters (German: the customer's).
    invoice = Invoice.from_json(alice.body)
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert alice.number is not None and alice.number in text
    assert format_money(invoice.total, "EUR", "de") in text
    assert "15.01.2026" in text and "Rechnung" in text
    assert all(usage.meter_id in text for usage in invoice.meter_usage)
    # The embedded factur-x.xml is the EN 16931 e-invoice of the same invoice, and it validates.
    xml = PdfReader(io.BytesIO(pdf)).attachments["factur-x.xml"][0]
    report = validate(xml)
    assert (report.xsd, report.failed) == ((), ())
    assert f"<ram:DuePayableAmount>{invoice.total}</ram:DuePayableAmount>".encode() in xml

    # One changed byte (a new version of the key: Object Lock keeps the signed one) fails both checks.
    tampered = bytearray(pdf)
    tampered[len(pdf) // 2] ^= 0x01
    s3.put_object(Bucket=BUCKET, Key=f"{A}/{alice.document.key}", Body=bytes(tampered))
    checking = dataclasses.replace(stores, documents=S3DocumentStore(BUCKET, region=REGION, client=s3))
    tampered_sha256 = hashlib.sha256(tampered).hexdigest()
    assert document_problems(A, alice.invoice_id, checking) == [
        f"sha256: {tampered_sha256} stored, {alice.document.sha256} recorded"
    ]
    assert signature_problems(bytes(tampered), trusted) != []
    original = s3.list_object_versions(Bucket=BUCKET, Prefix=f"{A}/{alice.document.key}")["Versions"][-1]
    kept = s3.get_object(Bucket=BUCKET, Key=f"{A}/{alice.document.key}", VersionId=original["VersionId"])
    assert kept["Body"].read() == pdf
