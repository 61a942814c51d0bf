"""S3DocumentStore on moto with an Object Lock bucket: a document is written once, under its account's
prefix, with its SHA-256 checksum and a compliance-mode retention that refuses deletion; a retry of the same
bytes answers what is stored; other bytes are refused; a presigned URL downloads the stored bytes."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
import requests
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from meterbill.adapters.s3 import S3DocumentStore
from meterbill.errors import AlreadyExistsError, InvalidInputError, NotFoundError, StorageUnavailableError
from meterbill.ports import StoredDocument
from tests.integration.conftest import REGION

BUCKET = "meterbill-invoices"
KEY = "invoices/2026/02/inv_alice.pdf"
PDF = b"%PDF-1.7\n" + "Rechnung für Zoë Łukasz 中 €".encode() + b"\n%%EOF\n"


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
def documents(s3: Any) -> S3DocumentStore:
    return S3DocumentStore(BUCKET, region=REGION, client=s3)


@pytest.fixture
def until() -> datetime:
    # moto checks the lock against the real clock: a day from now keeps the version locked for the test.
    return (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)


def test_a_document_is_stored_once_under_its_account_with_checksum_and_compliance_retention(
    documents: S3DocumentStore, s3: Any, until: datetime
) -> None:
    stored = documents.put_once("acme", KEY, PDF, content_type="application/pdf", retain_until=until)

    head = s3.head_object(Bucket=BUCKET, Key=f"acme/{KEY}", ChecksumMode="ENABLED")
    assert (head["ObjectLockMode"], head["ObjectLockRetainUntilDate"].astimezone(UTC)) == (
        "COMPLIANCE",
        until,
    )
    assert head["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(PDF).digest()).decode()
    assert stored == StoredDocument(
        key=KEY,
        sha256=hashlib.sha256(PDF).hexdigest(),
        size=len(PDF),
        content_type="application/pdf",
        retain_until=until,
        version_id=head["VersionId"],
    )
    assert documents.head("acme", KEY) == stored
    assert documents.get("acme", KEY) == PDF


def test_a_compliance_locked_version_cannot_be_deleted(
    documents: S3DocumentStore, s3: Any, until: datetime
) -> None:
    stored = documents.put_once("acme", KEY, PDF, content_type="application/pdf", retain_until=until)

    with pytest.raises(ClientError) as refused:
        s3.delete_object(Bucket=BUCKET, Key=f"acme/{KEY}", VersionId=stored.version_id)

    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert documents.get("acme", KEY) == PDF


def test_a_retry_with_the_same_bytes_answers_the_stored_object_and_other_bytes_are_refused(
    documents: S3DocumentStore, s3: Any, until: datetime
) -> None:
    first = documents.put_once("acme", KEY, PDF, content_type="application/pdf", retain_until=until)

    again = documents.put_once(
        "acme", KEY, PDF, content_type="application/pdf", retain_until=until + timedelta(days=1)
    )
    with pytest.raises(AlreadyExistsError) as refused:
        documents.put_once("acme", KEY, PDF + b" ", content_type="application/pdf", retain_until=until)

    assert again == first
    assert str(refused.value) == f"document {KEY!r} already exists"
    versions = s3.list_object_versions(Bucket=BUCKET)["Versions"]
    assert [(v["Key"], v["VersionId"]) for v in versions] == [(f"acme/{KEY}", first.version_id)]
    assert documents.get("acme", KEY) == PDF


def test_accounts_do_not_see_each_others_documents(documents: S3DocumentStore, until: datetime) -> None:
    documents.put_once("acme", KEY, PDF, content_type="application/pdf", retain_until=until)

    with pytest.raises(NotFoundError):
        documents.get("other", KEY)
    with pytest.raises(NotFoundError):
        documents.download_url("other", KEY, expires_in=timedelta(minutes=5))
    other = documents.put_once(
        "other", KEY, b"%PDF other", content_type="application/pdf", retain_until=until
    )
    assert (other.size, documents.get("acme", KEY)) == (10, PDF)


@pytest.mark.parametrize(
    ("account", "key", "field"),
    [("acme", "../other/x.pdf", "key"), ("acme", "/x.pdf", "key"), ("ac/me", "x.pdf", "account")],
)
def test_a_key_that_would_leave_the_account_prefix_is_refused(
    documents: S3DocumentStore, until: datetime, account: str, key: str, field: str
) -> None:
    with pytest.raises(InvalidInputError) as refused:
        documents.put_once(account, key, PDF, content_type="application/pdf", retain_until=until)
    assert refused.value.field == field


def test_the_download_url_is_a_presigned_get_of_5_minutes_that_returns_the_stored_bytes(
    documents: S3DocumentStore, until: datetime
) -> None:
    documents.put_once("acme", KEY, PDF, content_type="application/pdf", retain_until=until)

    url = documents.download_url("acme", KEY, expires_in=timedelta(minutes=5))

    query = parse_qs(urlsplit(url).query)
    assert (urlsplit(url).path.endswith(f"/acme/{KEY}"), query["X-Amz-Expires"]) == (True, ["300"])
    assert requests.get(url, timeout=5).content == PDF


# --- the race, with a stubbed client ------------------------------------------------------------------------


@pytest.fixture
def stubbed(aws: None) -> Iterator[tuple[S3DocumentStore, Stubber]]:
    client = boto3.client("s3", region_name=REGION)
    with Stubber(client) as stubber:
        yield S3DocumentStore(BUCKET, region=REGION, client=client), stubber


def head_answer(body: bytes, until: datetime) -> dict[str, Any]:
    return {
        "ContentLength": len(body),
        "ContentType": "application/pdf",
        "ChecksumSHA256": base64.b64encode(hashlib.sha256(body).digest()).decode(),
        "ObjectLockMode": "COMPLIANCE",
        "ObjectLockRetainUntilDate": until,
        "VersionId": "v-winner",
    }


def test_a_put_that_races_another_write_of_the_same_bytes_answers_the_winner(
    stubbed: tuple[S3DocumentStore, Stubber], until: datetime
) -> None:
    documents, stubber = stubbed
    stubber.add_client_error("put_object", "ConditionalRequestConflict", http_status_code=409)
    stubber.add_response("head_object", head_answer(PDF, until))

    stored = documents.put_once("acme", KEY, PDF, content_type="application/pdf", retain_until=until)

    assert (stored.sha256, stored.version_id) == (hashlib.sha256(PDF).hexdigest(), "v-winner")
    stubber.assert_no_pending_responses()


def test_a_put_that_races_a_write_not_landed_yet_asks_for_a_retry(
    stubbed: tuple[S3DocumentStore, Stubber], until: datetime
) -> None:
    documents, stubber = stubbed
    stubber.add_client_error("put_object", "ConditionalRequestConflict", http_status_code=409)
    stubber.add_client_error("head_object", "404", http_status_code=404)

    with pytest.raises(StorageUnavailableError, match="being written by another request"):
        documents.put_once("acme", KEY, PDF, content_type="application/pdf", retain_until=until)


def test_a_put_that_races_other_bytes_is_refused(
    stubbed: tuple[S3DocumentStore, Stubber], until: datetime
) -> None:
    documents, stubber = stubbed
    stubber.add_client_error("put_object", "PreconditionFailed", http_status_code=412)
    stubber.add_response("head_object", head_answer(b"%PDF another", until))

    with pytest.raises(AlreadyExistsError):
        documents.put_once("acme", KEY, PDF, content_type="application/pdf", retain_until=until)
