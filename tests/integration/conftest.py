"""moto fixtures for the DynamoDB adapters: tables created fresh per test, a fixed clock and ETags so stored
items can be asserted exactly, a recorded (not slept) backoff, and fault injection through botocore's event
hooks on the adapters' one shared client."""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import botocore.loaders
import botocore.session
import pynamodb.connection.base
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError
from moto import mock_aws
from moto.dynamodb.responses import DynamoHandler

from meterbill.adapters.dynamodb import DynamoDb, RetryPolicy, create_tables, stores_on
from meterbill.ports import Stores
from meterbill.settings import StorageSettings

REGION = "eu-central-1"
CATALOG_TABLE = "meterbill-catalog"
READINGS_TABLE = "meterbill-readings"
ATTEMPTS = 6
# botocore parses the DynamoDB service model for every new session (~0.1 s a client); sharing one loader
# across the tests' sessions makes a client ~0.02 s. Nothing else about the sessions is shared.
_SHARED_LOADER = botocore.loaders.create_loader()


def _session_with_shared_loader() -> botocore.session.Session:
    session = botocore.session.get_session()
    session.register_component("data_loader", _SHARED_LOADER)
    return session


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "DYNAMODB_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setattr(pynamodb.connection.base, "get_session", _session_with_shared_loader)
    with mock_aws():
        yield


@pytest.fixture
def storage_settings() -> StorageSettings:
    return StorageSettings(catalog_table=CATALOG_TABLE, readings_table=READINGS_TABLE, region=REGION)


@pytest.fixture
def sleeps() -> list[float]:
    """Every backoff the adapters asked for, in seconds (nothing really sleeps)."""
    return []


@pytest.fixture
def db(aws: None, storage_settings: StorageSettings, sleeps: list[float]) -> DynamoDb:
    create_tables(storage_settings)
    return DynamoDb(
        storage_settings, retry=RetryPolicy(attempts=ATTEMPTS, sleep=sleeps.append, jitter=lambda: 1.0)
    )


class Clock:
    """Fixed time that tests move on by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 3, 1, 9, 0, tzinfo=UTC))


@pytest.fixture
def stores(db: DynamoDb, clock: Clock) -> Stores:
    """The four ports; ETags are ``etag-1``, ``etag-2``, ... in write order; one bucket written at a time."""
    counter = itertools.count(1)
    return stores_on(db, clock=clock, new_etag=lambda: f"etag-{next(counter)}", parallel_requests=1)


class Tables:
    """What DynamoDB holds, read with plain boto3 (DynamoDB JSON, exactly as stored)."""

    def __init__(self) -> None:
        self.client = boto3.Session(botocore_session=_session_with_shared_loader()).client(
            "dynamodb", region_name=REGION
        )

    def item(self, table: str, **key: str) -> dict[str, Any] | None:
        answer = self.client.get_item(
            TableName=table, Key={name: {"S": value} for name, value in key.items()}, ConsistentRead=True
        )
        item: dict[str, Any] | None = answer.get("Item")
        return item

    def catalog(self, pk: str, sk: str) -> dict[str, Any] | None:
        return self.item(CATALOG_TABLE, pk=pk, sk=sk)

    def bucket(self, series: str, bucket: str) -> dict[str, Any] | None:
        return self.item(READINGS_TABLE, series=series, bucket=bucket)

    def all(self, table: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for page in self.client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
            items.extend(page["Items"])
        return items


@pytest.fixture
def tables(aws: None) -> Tables:
    return Tables()


def _error_response(code: str) -> tuple[AWSResponse, dict[str, Any]]:
    status = 500 if code in ("InternalServerError", "ServiceUnavailable") else 400
    return (
        AWSResponse("https://dynamodb.invalid/", status, {}, None),
        {
            "Error": {"Code": code, "Message": "injected by the test"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
    )


class Faults:
    """Disturbs the adapters' DynamoDB calls. ``calls`` counts every call that reached the client (refused or
    not), by operation name."""

    def __init__(self, db: DynamoDb) -> None:
        self.events = db.client.meta.events
        self.calls: Counter[str] = Counter()
        self.events.register("before-call.dynamodb.*", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1

    def refuse(self, operation: str, code: str, *, when: Callable[[int], bool]) -> None:
        """Answers call n (from 1) of ``operation`` with error ``code`` if ``when(n)``; nothing is applied."""
        seen = itertools.count(1)

        def handler(**_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
            return _error_response(code) if when(next(seen)) else None

        self.events.register(f"before-call.dynamodb.{operation}", handler)

    def lose_answer(self, operation: str, *, when: Callable[[int], bool]) -> None:
        """Applies call n of ``operation`` but loses its answer (a read timeout) when ``when(n)``."""
        seen = itertools.count(1)

        def handler(**_: Any) -> None:
            if when(next(seen)):
                raise ReadTimeoutError(endpoint_url="https://dynamodb.invalid/")

        self.events.register(f"after-call.dynamodb.{operation}", handler)

    def leave_keys_unprocessed(self, *, when: Callable[[int], bool], keep: int = 0) -> None:
        """BatchGetItem call n answers only its first ``keep`` items and hands the other keys back as
        UnprocessedKeys when ``when(n)``."""
        seen = itertools.count(1)

        def handler(parsed: dict[str, Any], **_: Any) -> None:
            if not when(next(seen)):
                return
            for table, items in parsed.get("Responses", {}).items():
                held_back = items[keep:]
                del items[keep:]
                if held_back:
                    parsed.setdefault("UnprocessedKeys", {})[table] = {
                        "Keys": [{"pk": item["pk"], "sk": item["sk"]} for item in held_back],
                        "ConsistentRead": True,
                    }

        self.events.register("after-call.dynamodb.BatchGetItem", handler)


@pytest.fixture
def faults(db: DynamoDb) -> Faults:
    return Faults(db)


@pytest.fixture
def atomic_moto_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto checks a write's condition and applies the write in separate steps, so two threads can both
    pass; DynamoDB applies a conditional write atomically. A lock around moto's write handlers gives the
    concurrency tests the atomicity the real service has."""
    lock = threading.Lock()
    for operation in ("put_item", "update_item", "delete_item", "transact_write_items"):
        original = getattr(DynamoHandler, operation)

        def atomic(self: DynamoHandler, _original: Any = original) -> Any:
            with lock:
                return _original(self)

        monkeypatch.setattr(DynamoHandler, operation, atomic)
