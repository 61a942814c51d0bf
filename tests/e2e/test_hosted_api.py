"""The API as a client sees it: HTTP to 127.0.0.1, through the local API Gateway, the REQUEST authorizer and
the API handler, into moto's DynamoDB — the account's catalog built with its admin key, a day of readings
pushed with its collector's ingest key, read back as usage and priced as a bill."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.conftest import Client

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")

BERLIN = ZoneInfo("Europe/Berlin")
DAY = date(2026, 3, 2)  # a Monday of Berlin's winter time (UTC+01:00): 24 hours, 96 quarter hours
PEAK_HOURS = range(8, 20)  # weekdays 08:00-20:00 local
# 12 months x 24 hours: period 1 (peak) in PEAK_HOURS on weekdays, else period 0 (off-peak)
WEEKDAYS = [[1 if hour in PEAK_HOURS else 0 for hour in range(24)] for _ in range(12)]
WEEKENDS = [[0] * 24 for _ in range(12)]
TARIFF = {
    "id": "tou-2026",
    "name": "Time of use 2026",
    "currency": "EUR",
    "unit": "kWh",
    "fixed": [{"description": "Metering", "amount": "0.40", "per": "day"}],
    "energy": {
        "periods": [
            {"name": "off-peak", "tiers": [{"rate": "0.20"}]},
            {"name": "peak", "tiers": [{"rate": "0.30"}]},
        ],
        "time_of_use": {"weekday_schedule": WEEKDAYS, "weekend_schedule": WEEKENDS},
    },
    "taxes": [{"name": "VAT", "percent": "19"}],
}


def quarter_hour_value(hour: int) -> Decimal:
    """Each quarter hour of local hour h uses (h + 1) / 10 kWh: 0.1 kWh in every quarter of 00:00-01:00."""
    return Decimal(hour + 1).scaleb(-1)


def readings_of(day: date, meter_id: str, hours: range = range(24)) -> list[dict[str, Any]]:
    midnight = datetime(day.year, day.month, day.day, tzinfo=BERLIN)
    return [
        {
            "meter_id": meter_id,
            "timestamp": (midnight + timedelta(hours=hour, minutes=minute)).isoformat(),
            "value": str(quarter_hour_value(hour)),
            "type": "interval",
            "interval_minutes": 15,
        }
        for hour in hours
        for minute in (0, 15, 30, 45)
    ]


@pytest.fixture
def billed_meter(admin: Client) -> str:
    """Site site-1 in Berlin with meter mtr-1 (kWh every 15 minutes), billed to customer cus-1 at tou-2026
    since 2026-01-01."""
    created = [
        admin.post("/v1/sites", {"id": "site-1", "name": "Plant", "timezone": "Europe/Berlin"}),
        admin.post(
            "/v1/meters",
            {"id": "mtr-1", "site_id": "site-1", "utility": "electricity", "unit": "kWh", "kind": "main"},
        ),
        admin.post("/v1/customers", {"id": "cus-1", "name": "Ada"}),
        admin.post("/v1/tariffs", TARIFF),
        admin.post(
            "/v1/assignments",
            {
                "id": "asg-1",
                "meter_id": "mtr-1",
                "customer_id": "cus-1",
                "tariff_id": "tou-2026",
                "effective_from": "2026-01-01",
            },
        ),
    ]
    assert [answer.status_code for answer in created] == [201] * 5
    return "mtr-1"


def cents(amount: Decimal) -> str:
    """Money as the bill writes it: rounded half-up to the cent."""
    return str(amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def hour_totals(usage: dict[str, Any]) -> list[tuple[str, str]]:
    return [(bucket["start"], bucket["total"]) for bucket in usage["buckets"]]


def test_a_day_of_quarter_hours_comes_back_as_hourly_usage_on_the_sites_clock(
    billed_meter: str, collector: Client, admin: Client
) -> None:
    pushed = collector.post("/v1/readings", {"readings": readings_of(DAY, billed_meter)})

    usage = admin.get(
        f"/v1/meters/{billed_meter}/usage", **{"from": "2026-03-02", "to": "2026-03-03", "resolution": "hour"}
    )

    assert (pushed.status_code, pushed.json()) == (
        200,
        {"accepted": 96, "duplicates": 0, "rejected": [], "rejected_count": 0, "replaced": 0},
    )
    assert usage.status_code == 200
    assert hour_totals(usage.json()) == [
        (f"2026-03-02T{hour:02d}:00:00+01:00", str(4 * quarter_hour_value(hour))) for hour in range(24)
    ]
    assert hour_totals(usage.json())[:3] == [
        ("2026-03-02T00:00:00+01:00", "0.4"),
        ("2026-03-02T01:00:00+01:00", "0.8"),
        ("2026-03-02T02:00:00+01:00", "1.2"),
    ]
    assert (usage.json()["total"], usage.json()["estimated"]) == ("120.0", "0.0")  # 0.4 * (1 + ... + 24)
    assert usage.json()["qualities"] == {
        "actual": 96,
        "estimated": 0,
        "substituted": 0,
        "final_substitute": 0,
        "missing": 0,
    }


def test_a_read_key_reads_the_usage_the_ingest_key_pushed(
    billed_meter: str, collector: Client, admin: Client
) -> None:
    collector.post("/v1/readings", {"readings": readings_of(DAY, billed_meter, hours=range(1))})
    created = admin.post("/v1/api-keys", {"name": "dashboard", "scopes": ["read"]})
    reader = admin.with_key(created.json()["key"])

    usage = reader.get(
        f"/v1/meters/{billed_meter}/usage",
        **{"from": "2026-03-02T00:00:00+01:00", "to": "2026-03-02T01:00:00+01:00", "resolution": "hour"},
    )

    assert (usage.status_code, hour_totals(usage.json())) == (200, [("2026-03-02T00:00:00+01:00", "0.4")])


def test_the_bill_preview_prices_the_day_to_the_cent(
    billed_meter: str, collector: Client, admin: Client
) -> None:
    collector.post("/v1/readings", {"readings": readings_of(DAY, billed_meter)})

    preview = admin.get("/v1/customers/cus-1/bill-preview", **{"from": "2026-03-02", "to": "2026-03-03"})

    off_peak_kwh = Decimal("0.4") * (sum(range(1, 9)) + sum(range(21, 25)))  # hours 0-7 and 20-23: 50.4
    peak_kwh = Decimal("0.4") * sum(range(9, 21))  # hours 8-19: 69.6
    metering = 1 * Decimal("0.40")
    off_peak = off_peak_kwh * Decimal("0.20")  # 10.08
    peak = peak_kwh * Decimal("0.30")  # 20.88
    subtotal = metering + off_peak + peak  # 31.36
    vat = subtotal * Decimal("0.19")  # 5.9584, rounded half-up to 5.96
    assert preview.status_code == 200
    (bill,) = preview.json()["bills"]
    assert (bill["assignment_id"], bill["share"], bill["bill"]["tariff"]) == (
        "asg-1",
        "1",
        {"id": "tou-2026", "version": 1},
    )
    assert [
        (line["description"], line["quantity"], line["rate"], line["amount"])
        for line in bill["bill"]["lines"]
    ] == [
        ("Metering", "1", "0.40", cents(metering)),
        ("Energy, off-peak", str(off_peak_kwh), "0.20", cents(off_peak)),
        ("Energy, peak", str(peak_kwh), "0.30", cents(peak)),
        ("VAT (19%)", cents(subtotal), "0.19", cents(vat)),
    ]
    assert (bill["bill"]["subtotal"], bill["bill"]["taxes"], bill["bill"]["total"]) == (
        cents(subtotal),
        cents(vat),
        "37.32",  # the rounded lines added up: 31.36 + 5.96
    )


def test_the_same_batch_sent_again_is_stored_once_and_counted_as_duplicates(
    billed_meter: str, collector: Client, admin: Client
) -> None:
    batch = {"readings": readings_of(DAY, billed_meter)}

    first = collector.post("/v1/readings", batch)
    again = collector.post("/v1/readings", batch)

    usage = admin.get(f"/v1/meters/{billed_meter}/usage", **{"from": "2026-03-02", "to": "2026-03-03"})
    assert (first.json()["accepted"], again.json()["accepted"], again.json()["duplicates"]) == (96, 0, 96)
    assert usage.json()["total"] == "120.0"


def test_an_idempotency_key_sent_again_replays_the_first_answer(
    billed_meter: str, collector: Client, admin: Client
) -> None:
    batch = {"readings": readings_of(DAY, billed_meter, hours=range(2))}
    key = {"Idempotency-Key": "collector-7/2026-03-02T00"}

    first = collector.post("/v1/readings", batch, headers=key)
    replayed = collector.post("/v1/readings", batch, headers=key)

    answer = {"accepted": 8, "duplicates": 0, "rejected": [], "rejected_count": 0, "replaced": 0}
    assert (first.status_code, first.json(), first.headers.get("Idempotent-Replayed")) == (200, answer, None)
    assert (replayed.status_code, replayed.json(), replayed.headers["Idempotent-Replayed"]) == (
        200,
        answer,
        "true",
    )
    usage = admin.get(
        f"/v1/meters/{billed_meter}/usage",
        **{"from": "2026-03-02T00:00:00+01:00", "to": "2026-03-02T02:00:00+01:00"},
    )
    assert usage.json()["total"] == "1.2"  # 4 * 0.1 + 4 * 0.2, stored once


def test_an_idempotency_key_sent_again_with_another_body_is_refused(
    billed_meter: str, collector: Client
) -> None:
    key = {"Idempotency-Key": "collector-7/2026-03-02T00"}
    collector.post("/v1/readings", {"readings": readings_of(DAY, billed_meter, hours=range(1))}, headers=key)

    other = collector.post(
        "/v1/readings", {"readings": readings_of(DAY, billed_meter, hours=range(2))}, headers=key
    )

    assert (other.status_code, other.headers["Content-Type"]) == (422, "application/problem+json")
    assert other.json()["errors"] == [
        {
            "field": "Idempotency-Key",
            "reason": "was used before for a different request body; use a new key for a new request",
        }
    ]


def test_the_gateway_refuses_a_request_without_a_key_before_the_api_sees_it(admin: Client) -> None:
    anonymous = admin.with_key(None)

    refused = anonymous.get("/v1/sites")

    # As the deployed stack's gateway response for UNAUTHORIZED answers (infra/cdk/constructs/api.py).
    assert (refused.status_code, refused.json(), refused.headers["x-amzn-ErrorType"]) == (
        401,
        {
            "type": "about:blank",
            "title": "Unauthorized",
            "status": 401,
            "detail": "this route needs a valid API key: Authorization: Bearer <key>",
            "errors": [],
        },
        "UnauthorizedException",
    )


def test_an_ingest_key_cannot_manage_the_catalog(collector: Client) -> None:
    refused = collector.post("/v1/sites", {"name": "Elsewhere", "timezone": "Europe/Berlin"})

    assert (refused.status_code, refused.json()["detail"]) == (
        403,
        "this API key's scopes (ingest) do not allow this operation; it needs 'admin'",
    )


def test_the_openapi_document_is_public(admin: Client) -> None:
    document = admin.with_key(None).get("/v1/openapi.json")

    assert (document.status_code, document.json()["info"]["title"]) == (200, "meterbill API")
