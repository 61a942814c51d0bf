"""The invoice functions' settings and the moment a schedule's event is for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from meterbill.errors import InvalidInputError
from meterbill.invoice_wiring import scheduled_time
from meterbill.settings import InvoiceSettings


def test_invoice_settings_read_the_tables_and_the_queue_from_the_environment() -> None:
    settings = InvoiceSettings.from_env(
        {
            "CATALOG_TABLE": "cat",
            "READINGS_TABLE": "rea",
            "AWS_REGION": "eu-central-1",
            "INVOICE_QUEUE_URL": "https://sqs.eu-central-1.amazonaws.com/1/invoice-work",
        }
    )
    assert (settings.storage.catalog_table, settings.storage.readings_table, settings.storage.region) == (
        "cat",
        "rea",
        "eu-central-1",
    )
    assert settings.invoice_queue_url == "https://sqs.eu-central-1.amazonaws.com/1/invoice-work"


def test_the_scheduler_time_and_an_eventbridge_rules_time_are_read_with_their_offset() -> None:
    assert scheduled_time({"scheduled_time": "2026-02-01T00:30:00+01:00"}) == datetime(
        2026, 2, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))
    )
    assert scheduled_time({"time": "2026-01-31T23:30:00Z"}) == datetime(2026, 1, 31, 23, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({}, "missing: the schedule's input must name the scheduled time"),
        ({"scheduled_time": "soon"}, "'soon' is not an ISO 8601 date and time"),
        ({"scheduled_time": "2026-02-01T00:30:00"}, "'2026-02-01T00:30:00' has no UTC offset"),
    ],
)
def test_an_event_without_a_usable_time_names_it(event: dict[str, str], reason: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        scheduled_time(event)
    assert (raised.value.field, raised.value.reason) == ("scheduled_time", reason)
