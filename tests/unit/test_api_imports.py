"""POST /v1/imports: a meter-data file as the body (text, or base64 as API Gateway passes binary media types),
read through the core importers, with the same report as a batch of readings."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from meterbill.ports import RawReading
from tests.fakes import FakeStores
from tests.unit.api_support import ACCOUNT, ApiClient, HttpAnswer, handler_client, problem

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")

BERLIN = ZoneInfo("Europe/Berlin")
CSV = b"start,value\n2026-02-01T00:00,0.25\n2026-02-01T00:15,0.50\n"


@pytest.fixture
def api(fakes: FakeStores) -> ApiClient:
    """Site site-1 (Berlin) with meter mtr-1 (15 minutes, external id NMI0000001-E1) and meter mtr-30
    (30 minutes, NMI0000002-E1); the client holds an ingest key."""
    admin = handler_client()
    admin.post("/v1/sites", {"id": "site-1", "name": "Plant", "timezone": "Europe/Berlin"})
    for meter_id, minutes, external_id in (("mtr-1", 15, "NMI0000001-E1"), ("mtr-30", 30, "NMI0000002-E1")):
        meter = {
            "id": meter_id,
            "site_id": "site-1",
            "utility": "electricity",
            "unit": "kWh",
            "kind": "main",
            "interval_minutes": minutes,
            "external_id": external_id,
        }
        assert admin.post("/v1/meters", meter).status == 201
    return admin.as_key(ACCOUNT, "ingest")


def nem12(nmi: str, value: str) -> str:
    """One 30-minute day (2026-02-27) of one channel, all 48 values the same."""
    return "\n".join(
        [
            "100,NEM12,202603010000,MDP1,RETAILER1",
            f"200,{nmi},E1,1,E1,N1,MTR,kWh,30,",
            ",".join(["300", "20260227", *[value] * 48, "A,,,20260228000000,"]),
            "900",
        ]
    )


def upload(api: ApiClient, data: bytes | str, *, base64_encoded: bool = False, **query: str) -> HttpAnswer:
    body = data.decode() if isinstance(data, bytes) else data
    if base64_encoded:
        body = base64.b64encode(body.encode()).decode()
    return api.request(
        "POST",
        "/v1/imports",
        body=body,
        query=query,
        headers={"Content-Type": "text/csv"},
        base64_encoded=base64_encoded,
    )


def test_a_csv_file_is_one_named_meters_intervals_on_its_sites_clock(api, fakes):
    answer = upload(api, CSV, format="csv", meter_id="mtr-1")

    assert (answer.status, answer.json) == (
        200,
        {"accepted": 2, "duplicates": 0, "rejected": [], "rejected_count": 0, "replaced": 0},
    )
    assert fakes.readings.items[ACCOUNT] == [
        RawReading("mtr-1", datetime(2026, 2, 1, 0, 0, tzinfo=BERLIN), Decimal("0.25"), "interval", 15, "A"),
        RawReading("mtr-1", datetime(2026, 2, 1, 0, 15, tzinfo=BERLIN), Decimal("0.50"), "interval", 15, "A"),
    ]


def test_a_file_sent_as_base64_is_the_same_file(api, fakes):
    answer = upload(api, CSV, format="csv", meter_id="mtr-1", base64_encoded=True)

    assert answer.json["accepted"] == 2
    assert len(fakes.readings.items[ACCOUNT]) == 2


def test_a_nem12_file_maps_its_meters_by_external_id_and_a_resend_stores_nothing_twice(api, fakes):
    first = upload(api, nem12("NMI0000002", "0.500"), format="nem12")
    again = upload(api, nem12("NMI0000002", "0.500"), format="nem12")

    assert (first.json["accepted"], again.json["accepted"], again.json["duplicates"]) == (48, 0, 48)
    readings = fakes.readings.items[ACCOUNT]
    assert {r.meter_id for r in readings} == {"mtr-30"}
    assert readings[0].timestamp == datetime(2026, 2, 26, 14, 0, tzinfo=UTC)  # midnight NEM time (UTC+10)
    assert sum(r.value for r in readings) == 48 * Decimal("0.500")


def test_a_file_none_of_whose_readings_is_stored_answers_422_with_the_report(api, fakes):
    answer = upload(api, nem12("NMI0000009", "0.5"), format="nem12")

    reason = "no meter 'NMI0000009-E1'"
    assert answer.status == 422
    assert (answer.json["detail"], answer.json["rejected_count"], len(answer.json["rejected"])) == (
        "no reading was stored: 48 rejected",
        48,
        48,
    )
    assert answer.json["errors"][0] == {"field": "file[0].meter_id", "reason": reason}
    assert fakes.readings.items == {}


def test_a_file_that_cannot_be_read_stores_nothing_and_names_the_line(api, fakes):
    broken = nem12("NMI0000002", "0.5").replace("\n900", "\n300,20260228,1,2,3\n900")

    answer = upload(api, broken, format="nem12")

    assert answer.status == 422
    assert answer.json["errors"][0]["field"] == "body"
    assert answer.json["errors"][0]["reason"].startswith("line 4: ")
    assert fakes.readings.items == {}


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ({"format": "csv"}, ("meter_id", "a CSV file holds one meter's intervals: say which meter")),
        ({"format": "csv", "meter_id": "mtr-9"}, ("meter_id", "no meter 'mtr-9'")),
        ({"format": "xlsx"}, ("format", "Input should be 'nem12', 'greenbutton' or 'csv'")),
        ({}, ("format", "required field is missing")),
    ],
)
def test_a_missing_or_wrong_format_or_meter_answers_422_naming_it(api, fakes, query, error):
    answer = upload(api, CSV, **query)

    assert answer.json == problem(422, f"{error[0]}: {error[1]}", error)


def test_a_file_over_five_megabytes_answers_413(api, fakes):
    data = "start,value\n" + "2026-02-01T00:00,0.25\n" * 240_000  # 5,280,012 bytes

    answer = upload(api, data, format="csv", meter_id="mtr-1")

    assert answer.json == problem(413, "the request body has 5280012 bytes; this route takes at most 5000000")


def test_a_file_of_up_to_five_megabytes_is_read(api, fakes):
    data = "start,value\n" + "".join(
        f"2026-02-{1 + i // 96:02d}T{i % 96 // 4:02d}:{i % 4 * 15:02d},0.25\n" for i in range(2688)
    )
    padding = "\n" * (1_500_000 - len(data))  # bigger than a JSON body may be

    answer = upload(api, data + padding, format="csv", meter_id="mtr-1")

    assert (answer.status, answer.json["accepted"]) == (200, 2688)


@pytest.mark.parametrize("media_type", ["application/json", "multipart/form-data; boundary=x"])
def test_a_file_in_a_media_type_that_is_not_a_file_answers_415(api, media_type):
    answer = api.request(
        "POST",
        "/v1/imports",
        body=CSV.decode(),
        query={"format": "csv"},
        headers={"Content-Type": media_type},
    )

    assert answer.status == 415
    assert answer.json["errors"][0]["field"] == "Content-Type"


def test_broken_base64_answers_400(api, fakes):
    answer = api.request(
        "POST",
        "/v1/imports",
        body="not base64!",
        query={"format": "csv", "meter_id": "mtr-1"},
        base64_encoded=True,
    )

    assert answer.json == problem(400, "body: not valid base64", ("body", "not valid base64"))
