"""functions/alerts on moto: the schedule's handler judging a silent meter pass after pass and publishing ONE
firing message to the SNS topic; the readings worker with a batch holding a register drop (an alert), a
malformed body (dropped, not retried) and an account whose lease another step holds (a batch item failure,
redelivered by SQS).

These need three modules written on other branches (the SNS adapter, the message renderer and the DynamoDB
alert store): they are skipped until the branches are merged.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
import pytest

pytest.importorskip("meterbill.adapters.sns", reason="needs the SNS adapter (branch al-sns)")
pytest.importorskip("meterbill.alerts.messages", reason="needs the message renderer (branch al-sns)")
if not hasattr(importlib.import_module("meterbill.adapters.dynamodb"), "build_alert_store"):
    pytest.skip("needs the DynamoDB alert store (branch al-store)", allow_module_level=True)

from meterbill.adapters.dynamodb import DynamoDb, build_alert_store
from meterbill.adapters.rating import rating_stores
from meterbill.alerts.ports import ReadingsArrived
from meterbill.domain import Meter, Site
from meterbill.ports import AccountRecord, RatingStores, RawReading
from meterbill.services import catalog as catalog_service
from meterbill.settings import StorageSettings
from tests.integration.conftest import CATALOG_TABLE, READINGS_TABLE, REGION
from tests.unit.api_support import LambdaContextStub

A = "acc-a"
B = "acc-b"
MOTO_ACCOUNT = "123456789012"
CONTEXT = LambdaContextStub(function_name="meterbill-alerts")
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def topic_arn(aws: None) -> str:
    arn: str = boto3.client("sns", region_name=REGION).create_topic(Name="meterbill-alerts")["TopicArn"]
    return arn


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, db: DynamoDb, topic_arn: str) -> Iterator[None]:
    monkeypatch.setenv("CATALOG_TABLE", CATALOG_TABLE)
    monkeypatch.setenv("READINGS_TABLE", READINGS_TABLE)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("ALERTS_TOPIC_ARN", topic_arn)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "meterbill-alerts")
    yield


@pytest.fixture
def rating(db: DynamoDb) -> RatingStores:
    stores = rating_stores(db)
    for account in (A, B):
        stores.accounts.create(AccountRecord(account, f"Account {account}", datetime(2026, 1, 1, tzinfo=UTC)))
        catalog_service.create(
            account, Site, {"id": "site-a", "name": "Site A", "timezone": "Europe/Berlin"}, stores.catalog
        )
        body = {"id": "m1", "site_id": "site-a", "utility": "electricity", "unit": "kWh", "kind": "main"}
        catalog_service.create(account, Meter, body, stores.catalog)
    return stores


def fresh(module: Any) -> Any:
    module.backend.cache_clear()  # each test has its own tables and topic
    return module


def published(topic_arn: str) -> list[tuple[str, dict[str, Any]]]:
    """(subject, attributes) of every message moto's topic received."""
    return [(subject, attributes) for _body, subject, attributes in sent(topic_arn)]


def sent(topic_arn: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(body, subject, attributes) of every message moto's topic received."""
    from moto.sns.models import sns_backends

    topic = sns_backends[MOTO_ACCOUNT][REGION].topics[topic_arn]
    return [
        (body, subject, attributes) for _id, body, subject, attributes, _group in topic.sent_notifications
    ]


def test_the_schedule_publishes_one_firing_message_for_a_meter_silent_for_an_hour(
    environment: None, rating: RatingStores, topic_arn: str
) -> None:
    from functions.alerts import alerts_schedule_handler

    quarter = timedelta(minutes=15)
    values = [Decimal(10 + n % 4) / 10 for n in range(96)]  # no flat line
    rating.readings.put_new(
        A,
        [
            RawReading("m1", T0 - timedelta(days=1) + n * quarter, values[n], "interval", 15)
            for n in range(96)
        ],
    )
    handler = fresh(alerts_schedule_handler)

    reports = [
        handler.lambda_handler({"time": (T0 + n * timedelta(minutes=5)).isoformat()}, CONTEXT)
        for n in range(15)
    ]

    assert [r["published"] for r in reports] == [0] * 13 + [1, 0]  # firing at +60 min, sent at +65
    assert {(r["accounts"], r["meters"]) for r in reports} == {(2, 2)}
    ((subject, attributes),) = published(topic_arn)
    assert attributes["account_id"] == {"Type": "String", "Value": A}
    assert json.loads(attributes["state"]["Value"]) == ["firing"]
    assert json.loads(attributes["kind"]["Value"]) == ["communication"]
    assert "m1" in subject or "communication" in subject
    ((body, _, _),) = sent(topic_arn)
    assert "  fired:        2026-03-02 10:00:00 CET\n" in body  # on the site's clock (09:00 UTC)


def test_the_readings_worker_judges_a_drop_drops_a_malformed_body_and_retries_a_held_lease(
    environment: None, rating: RatingStores, storage_settings: StorageSettings
) -> None:
    from functions.alerts import alerts_readings_handler
    from tests.integration.test_handlers_rate import sqs_record

    now = datetime.now(UTC).replace(microsecond=0)
    for account in (A, B):
        rating.readings.put_new(
            account,
            [
                RawReading("m1", now - timedelta(hours=1), Decimal("1010"), "register"),
                RawReading("m1", now - timedelta(minutes=1), Decimal("900"), "register"),
            ],
        )
    store = build_alert_store(storage_settings)
    store.lease(B, "schedule-other", now, seconds=600)
    drop = ReadingsArrived(A, ("m1",), now - timedelta(minutes=1), now - timedelta(minutes=1))
    held = ReadingsArrived(B, ("m1",), now - timedelta(minutes=1), now - timedelta(minutes=1))
    records = [
        sqs_record("drop", drop.to_json()),
        sqs_record("bad", "not json"),
        sqs_record("held", held.to_json()),
    ]

    answer = fresh(alerts_readings_handler).lambda_handler({"Records": records}, CONTEXT)

    assert answer == {"batchItemFailures": [{"itemIdentifier": "held"}]}
    loaded = store.load_book(A).book
    assert [(a.kind, a.state, a.facts["drop"]) for a in loaded.alerts] == [
        ("negative_consumption", "firing", "110")
    ]
    assert store.load_book(B).book.alerts == ()
