"""Ingest tells the alerts which meters got readings: one ``ReadingsArrived`` per request that stored readings
(POST /v1/readings and POST /v1/imports), naming the meters and the span of what was stored now; nothing for
duplicates, nothing without ALERTS_QUEUE_URL; a queue that fails is logged and never fails the request."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import pytest
from aws_lambda_powertools import Logger

from meterbill.alerts.ports import ReadingsArrived
from meterbill.api.routes import readings as readings_route
from meterbill.errors import StorageUnavailableError
from tests.fakes import FakeStores
from tests.fakes.alerts import FakeAlertWorkQueue
from tests.unit.alert_api_support import meter_body, plant
from tests.unit.api_support import ACCOUNT, SETTINGS, AlertFakes, ApiClient, fake_backend, handler_client

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")

QUEUE_URL = "https://sqs.eu-central-1.amazonaws.com/123456789012/meterbill-alert-readings"
REPORT = {"accepted": 3, "duplicates": 0, "rejected": [], "rejected_count": 0, "replaced": 0}


@pytest.fixture
def fakes(alerts: AlertFakes) -> Iterator[FakeStores]:
    with fake_backend(
        settings=SETTINGS.model_copy(update={"alerts_queue_url": QUEUE_URL}), alerts=alerts
    ) as stores:
        yield stores


@pytest.fixture
def collector(fakes: FakeStores) -> ApiClient:
    """An ingest key; site-1 has the 15-minute meters mtr-1 and mtr-2 (external id NMI0000002-E1)."""
    admin = handler_client()
    plant(admin, "mtr-1")
    assert admin.post("/v1/meters", {**meter_body("mtr-2"), "external_id": "NMI0000002-E1"}).status == 201
    return admin.as_key(ACCOUNT, "ingest")


def reading(meter_id: str, at: str, value: str = "1.5") -> dict[str, Any]:
    return {"meter_id": meter_id, "timestamp": at, "value": value, "type": "interval", "interval_minutes": 15}


BATCH = [
    reading("mtr-2", "2026-03-01T10:15:00+01:00"),
    reading("mtr-1", "2026-03-01T09:00:00Z"),
    reading("mtr-1", "2026-03-01T09:30:00Z"),
]


def test_a_batch_that_stored_readings_sends_one_message_naming_its_meters_and_span(
    collector: ApiClient, alerts: AlertFakes
) -> None:
    answer = collector.post("/v1/readings", {"readings": BATCH})

    assert (answer.status, answer.json) == (200, REPORT)
    assert alerts.queue.items == [
        ReadingsArrived(
            ACCOUNT,
            ("mtr-1", "mtr-2"),
            datetime.fromisoformat("2026-03-01T09:00:00+00:00"),  # 10:15+01:00 is 09:15Z: later
            datetime.fromisoformat("2026-03-01T09:30:00+00:00"),
        )
    ]


def test_only_the_meters_whose_readings_were_stored_now_are_named(
    collector: ApiClient, alerts: AlertFakes
) -> None:
    collector.post("/v1/readings", {"readings": BATCH[:1]})
    alerts.queue.take()

    answer = collector.post("/v1/readings", {"readings": [*BATCH, reading("mtr-9", "2026-03-01T09:00:00Z")]})

    assert (answer.json["accepted"], answer.json["duplicates"], answer.json["rejected_count"]) == (2, 1, 1)
    assert alerts.queue.items == [
        ReadingsArrived(
            ACCOUNT,
            ("mtr-1",),
            datetime.fromisoformat("2026-03-01T09:00:00+00:00"),
            datetime.fromisoformat("2026-03-01T09:30:00+00:00"),
        )
    ]


def test_a_correction_is_new_data_too(collector: ApiClient, alerts: AlertFakes) -> None:
    collector.post("/v1/readings", {"readings": BATCH[1:2]})
    alerts.queue.take()

    answer = collector.post("/v1/readings", {"readings": [reading("mtr-1", "2026-03-01T09:00:00Z", "2.5")]})

    assert (answer.json["accepted"], answer.json["replaced"]) == (1, 1)
    assert [item.meter_ids for item in alerts.queue.items] == [("mtr-1",)]


def test_a_batch_of_duplicates_sends_nothing(collector: ApiClient, alerts: AlertFakes) -> None:
    collector.post("/v1/readings", {"readings": BATCH})
    alerts.queue.take()

    again = collector.post("/v1/readings", {"readings": BATCH})

    assert again.json == {**REPORT, "accepted": 0, "duplicates": 3}
    assert alerts.queue.items == []


def test_a_batch_that_stored_nothing_sends_nothing(collector: ApiClient, alerts: AlertFakes) -> None:
    answer = collector.post("/v1/readings", {"readings": [reading("mtr-9", "2026-03-01T09:00:00Z")]})

    assert answer.status == 422
    assert alerts.queue.items == []


def test_an_import_sends_one_message_for_the_whole_file(collector: ApiClient, alerts: AlertFakes) -> None:
    day = ",".join(["300", "20260227", *["0.5"] * 96, "A,,,20260228000000,"])
    nem12 = "\n".join(["100,NEM12,202603010000,MDP1,R1", "200,NMI0000002,E1,1,E1,N1,MTR,kWh,15,", day, "900"])

    answer = collector.request(
        "POST", "/v1/imports", body=nem12, query={"format": "nem12"}, headers={"Content-Type": "text/csv"}
    )

    assert (answer.status, answer.json["accepted"]) == (200, 96)
    (arrived,) = alerts.queue.items
    assert (arrived.account, arrived.meter_ids) == (ACCOUNT, ("mtr-2",))
    assert (arrived.earliest.isoformat(), arrived.latest.isoformat()) == (  # NEM12: market time
        "2026-02-27T00:00:00+10:00",
        "2026-02-27T23:45:00+10:00",
    )


class BrokenQueue(FakeAlertWorkQueue):
    def send(self, items: Sequence[ReadingsArrived]) -> None:
        raise StorageUnavailableError("SQS is unreachable (fake)")


def test_a_queue_that_fails_is_logged_and_the_readings_are_answered_as_stored(
    fakes: FakeStores, collector: ApiClient, alerts: AlertFakes, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = AlertFakes(store=alerts.store, subscriptions=alerts.subscriptions, queue=BrokenQueue())
    log = io.StringIO()
    monkeypatch.setattr(
        readings_route,
        "logger",
        Logger(service="alerts-ingest-test", logger_handler=logging.StreamHandler(log)),
    )
    with fake_backend(
        settings=SETTINGS.model_copy(update={"alerts_queue_url": QUEUE_URL}), alerts=broken
    ) as again:
        again.catalog.items.update(fakes.catalog.items)
        answer = collector.post("/v1/readings", {"readings": BATCH})

    assert (answer.status, answer.json) == (200, REPORT)
    assert len(again.readings.items[ACCOUNT]) == 3
    (line,) = log.getvalue().splitlines()
    record = json.loads(line)
    assert (record["level"], record["message"], record["account"], record["meters"]) == (
        "ERROR",
        "could not queue ReadingsArrived; the alerts' schedule will judge these meters",
        ACCOUNT,
        2,
    )
    assert "SQS is unreachable (fake)" in record["exception"]


def test_without_an_alerts_queue_nothing_is_sent(alerts: AlertFakes) -> None:
    with fake_backend(alerts=alerts):  # SETTINGS: no ALERTS_QUEUE_URL
        admin = handler_client()
        plant(admin, "mtr-1")
        answer = admin.post("/v1/readings", {"readings": BATCH[1:]})

    assert (answer.status, answer.json["accepted"]) == (200, 2)
    assert alerts.queue.items == []
