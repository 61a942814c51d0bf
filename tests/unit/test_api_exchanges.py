"""A meter's validation settings in the catalog, and ``POST /v1/meters/{meter_id}/exchanges``: a DCMS operator
records a PDU swap, and the meter's usage counts each device's register on its own from then on."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from meterbill.errors import PreconditionFailedError
from meterbill.services import catalog
from meterbill.services.metering import meter_settings
from tests.fakes import FakeCatalogStore, FakeReadingStore, FakeStores
from tests.unit.api_support import ACCOUNT, OTHER_ACCOUNT, ApiClient, handler_client, problem

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")

D = Decimal
METER = {"id": "pdu-7", "site_id": "site-1", "utility": "electricity", "unit": "kWh", "kind": "main"}
# PDU-A counts 1 kWh a quarter hour up to 1234.0 at 12:00; at 12:10 it is swapped at 1234.5 for PDU-B, which
# starts at 0.0 and counts 1 kWh a quarter hour from 0.25 at 12:15.
READS = [
    ("11:00", "1230.0"),
    ("11:15", "1231.0"),
    ("11:30", "1232.0"),
    ("11:45", "1233.0"),
    ("12:00", "1234.0"),
    ("12:15", "0.25"),
    ("12:30", "1.25"),
    ("12:45", "2.25"),
    ("13:00", "3.25"),
]
SWAP = {
    "timestamp": "2026-02-01T12:10:00+01:00",
    "old_final": "1234.5",
    "new_initial": "0.0",
    "new_serial": "PDU-B",
    "note": "PDU swapped after a fan failure",
}
SPAN = {"from": "2026-02-01T11:00:00+01:00", "to": "2026-02-01T13:00:00+01:00", "resolution": "interval"}


@pytest.fixture
def api(fakes: FakeStores) -> ApiClient:
    """PDU pdu-7 (serial PDU-A, 15 minutes) at a Berlin site, with READS stored as register reads."""
    admin = handler_client()
    admin.post("/v1/sites", {"id": "site-1", "name": "Hall 3", "timezone": "Europe/Berlin"})
    assert admin.post("/v1/meters", {**METER, "serial": "PDU-A"}).status == 201
    readings = [
        {"meter_id": "pdu-7", "timestamp": f"2026-02-01T{t}:00+01:00", "value": v, "type": "register"}
        for t, v in READS
    ]
    assert admin.post("/v1/readings", {"readings": readings}).json["accepted"] == len(READS)
    return admin


def quarter_hours(usage: dict[str, Any]) -> list[tuple[str, Decimal, str]]:
    """Each quarter hour's start time, usage and quality (the one quality its count names)."""
    return [
        (
            bucket["start"][11:16],
            D(bucket["total"]),
            next(name for name, count in bucket["qualities"].items() if count),
        )
        for bucket in usage["buckets"]
    ]


def test_a_pdu_swap_recorded_through_the_api_turns_the_estimated_step_into_exact_usage(api):
    before = api.get("/v1/meters/pdu-7/usage", **SPAN).json

    # Without the exchange the register falls from 1234.0 to 0.25: validation cannot tell a swap from a
    # fault, restarts counting and estimates the quarter hour (from its neighbours: 1.00).
    assert quarter_hours(before)[4] == ("12:00", D("1.00"), "estimated")
    assert (before["total"], before["estimated"]) == ("8.00", "1.00")
    assert [event["kind"] for event in before["events"]] == ["negative-step"]

    recorded = api.post("/v1/meters/pdu-7/exchanges", SWAP)
    after = api.get("/v1/meters/pdu-7/usage", **SPAN).json

    assert recorded.status == 201
    swapped = (D("1234.5") - D("1234.0")) + (D("0.25") - D("0.0"))  # PDU-A's last step + PDU-B's first
    assert quarter_hours(after) == [
        ("11:00", D("1231.0") - D("1230.0"), "actual"),
        ("11:15", D("1232.0") - D("1231.0"), "actual"),
        ("11:30", D("1233.0") - D("1232.0"), "actual"),
        ("11:45", D("1234.0") - D("1233.0"), "actual"),
        ("12:00", swapped, "actual"),
        ("12:15", D("1.25") - D("0.25"), "actual"),
        ("12:30", D("2.25") - D("1.25"), "actual"),
        ("12:45", D("3.25") - D("2.25"), "actual"),
    ]
    assert swapped == D("0.75")
    assert (D(after["total"]), after["estimated"]) == (7 * D("1.00") + swapped, "0.00")
    assert after["events"] == [
        {
            "at": "2026-02-01T12:10:00+01:00",
            "kind": "exchange",
            "detail": "meter exchanged: PDU-A final read 1234.5, PDU-B initial read 0.0; usage counted on "
            "each device",
        }
    ]


def test_recording_an_exchange_answers_201_with_the_meter_its_etag_and_its_new_serial(api, fakes):
    answer = api.post("/v1/meters/pdu-7/exchanges", SWAP)

    stored = fakes.catalog.items[(ACCOUNT, "meter", "pdu-7")]
    assert (answer.status, answer.headers["etag"], answer.headers["location"]) == (
        201,
        f'"{stored.etag}"',
        "/v1/meters/pdu-7",
    )
    assert answer.json["serial"] == "PDU-B"  # the new device is the meter's device now
    assert answer.json["exchanges"] == [
        {
            "timestamp": "2026-02-01T12:10:00+01:00",
            "old_serial": "PDU-A",  # the meter's serial until the swap
            "old_final": "1234.5",
            "new_serial": "PDU-B",
            "new_initial": "0.0",
            "note": "PDU swapped after a fan failure",
        }
    ]
    assert api.get("/v1/meters/pdu-7").json == answer.json


def test_an_exchange_marks_its_utc_day_for_the_rating_run_and_a_refused_one_marks_nothing(api, fakes):
    fakes.readings.marks.clear()  # the day's readings were rated

    api.post("/v1/meters/pdu-7/exchanges", {**SWAP, "timestamp": "2026-02-02T00:30:00+01:00"})
    api.post("/v1/meters/pdu-7/exchanges", {**SWAP, "timestamp": "2026-02-01T00:30:00+01:00"})  # refused

    # 2026-02-02T00:30+01:00 is 2026-02-01T23:30Z: the UTC day the rating run's marks count in
    assert fakes.readings.marks == {(ACCOUNT, "pdu-7", date(2026, 2, 1)): 1}


@pytest.mark.parametrize(
    ("timestamp", "reason"),
    [
        (
            "2026-02-01T11:00:00+01:00",
            "2026-02-01T11:00:00+01:00 is not after the meter's last exchange, at 2026-02-01T12:10:00+01:00",
        ),
        (
            "2026-02-01T11:10:00Z",  # the same instant written in UTC
            "2026-02-01T11:10:00+00:00 is not after the meter's last exchange, at 2026-02-01T12:10:00+01:00",
        ),
    ],
)
def test_an_exchange_not_after_the_meters_last_one_is_refused_on_timestamp(api, fakes, timestamp, reason):
    api.post("/v1/meters/pdu-7/exchanges", SWAP)
    before = fakes.catalog.items[(ACCOUNT, "meter", "pdu-7")]

    answer = api.post("/v1/meters/pdu-7/exchanges", {**SWAP, "timestamp": timestamp, "new_serial": "PDU-C"})

    assert answer.json == problem(422, f"timestamp: {reason}", ("timestamp", reason))
    assert fakes.catalog.items[(ACCOUNT, "meter", "pdu-7")] == before


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        (
            {"timestamp": "2026-02-01T12:10:00"},
            "timestamp",
            "'2026-02-01T12:10:00' has no UTC offset; add one (e.g. +01:00 or Z)",
        ),
        (
            {"timestamp": "1999-12-31T23:00:00+00:00"},
            "timestamp",
            "1999-12-31T23:00:00+00:00 is outside the supported calendar, 2000-01-01 to 2100-01-01",
        ),
        ({"old_final": "-1"}, "old_final", "Input should be greater than or equal to 0"),
        ({"new_initial": "1e15"}, "new_initial", "Input should be less than 1000000000000000"),
        (
            {"new_initial": None},
            "new_initial",
            "Decimal input should be an integer, float, string or Decimal object",
        ),
        ({"old_serial": "x" * 65}, "old_serial", "String should have at most 64 characters"),
        ({"firmware": "2.1"}, "firmware", "unknown field"),
    ],
)
def test_a_bad_exchange_is_refused_naming_the_field_and_nothing_changes(api, fakes, change, field, reason):
    before = fakes.catalog.items[(ACCOUNT, "meter", "pdu-7")]

    answer = api.post("/v1/meters/pdu-7/exchanges", {**SWAP, **change})

    assert (answer.status, answer.json["errors"][0]) == (422, {"field": field, "reason": reason})
    assert fakes.catalog.items[(ACCOUNT, "meter", "pdu-7")] == before


def test_a_read_above_the_registers_maximum_is_refused_on_the_read(api):
    api.put("/v1/meters/pdu-7", {**METER, "register_max": "9999.9"})

    answer = api.post("/v1/meters/pdu-7/exchanges", {**SWAP, "old_final": "12345.6"})

    reason = "12345.6 is above the meter's register_max, 9999.9"
    assert answer.json == problem(422, f"old_final: {reason}", ("old_final", reason))


def test_an_exchange_on_a_stale_etag_answers_412_and_on_the_current_one_is_recorded(api, fakes):
    etag = fakes.catalog.items[(ACCOUNT, "meter", "pdu-7")].etag
    api.put("/v1/meters/pdu-7", {**METER, "serial": "PDU-A2"})  # someone changed the meter meanwhile

    stale = api.post("/v1/meters/pdu-7/exchanges", SWAP, headers={"If-Match": f'"{etag}"'})
    current = fakes.catalog.items[(ACCOUNT, "meter", "pdu-7")].etag
    fresh = api.post("/v1/meters/pdu-7/exchanges", SWAP, headers={"If-Match": f'"{current}"'})

    reason = "is not the current ETag of meter 'pdu-7'; read it again"
    assert stale.json == problem(412, f"If-Match: {reason}", ("If-Match", reason))
    assert (fresh.status, fresh.json["exchanges"][0]["old_serial"]) == (201, "PDU-A2")


def test_another_accounts_meter_is_not_found_and_keeps_its_exchanges(api, fakes):
    answer = api.as_key(OTHER_ACCOUNT, "admin").post("/v1/meters/pdu-7/exchanges", SWAP)

    assert answer.json == problem(404, "meter 'pdu-7' not found")
    assert fakes.catalog.items[(ACCOUNT, "meter", "pdu-7")].body["exchanges"] == []


def test_a_read_key_may_not_record_an_exchange(api):
    answer = api.as_key(ACCOUNT, "read").post("/v1/meters/pdu-7/exchanges", SWAP)

    assert answer.status == 403


class RacingCatalog(FakeCatalogStore):
    """A catalog where another writer changes the meter (its serial) just before each of the first
    ``races`` replaces: they fail on the ETag read before."""

    def __init__(self, races: int) -> None:
        super().__init__()
        self.races = races

    def replace(self, account, kind, item_id, body, *, if_match):  # type: ignore[no-untyped-def]
        if self.races:
            self.races -= 1
            current = self.items[(account, kind, item_id)]
            super().replace(account, kind, item_id, {**current.body, "serial": "PDU-A2"}, if_match=None)
        return super().replace(account, kind, item_id, body, if_match=if_match)


def racing_catalog(races: int) -> RacingCatalog:
    store = RacingCatalog(races)
    catalog.create(
        ACCOUNT, catalog.Site, {"id": "site-1", "name": "Hall", "timezone": "Europe/Berlin"}, store
    )
    catalog.create(ACCOUNT, catalog.Meter, {**METER, "serial": "PDU-A"}, store)
    return store


def test_an_exchange_without_if_match_that_loses_a_race_is_appended_to_the_meter_as_it_is_now():
    store = racing_catalog(races=2)

    entry = catalog.record_exchange(ACCOUNT, "pdu-7", SWAP, store, FakeReadingStore(), if_match=None)

    assert (store.races, entry.value.serial, entry.value.exchanges[0].old_serial) == (0, "PDU-B", "PDU-A2")
    assert len(store.items[(ACCOUNT, "meter", "pdu-7")].body["exchanges"]) == 1


def test_an_exchange_with_if_match_that_loses_a_race_is_412_not_retried():
    store = racing_catalog(races=1)
    etag = store.items[(ACCOUNT, "meter", "pdu-7")].etag

    with pytest.raises(PreconditionFailedError):
        catalog.record_exchange(ACCOUNT, "pdu-7", SWAP, store, FakeReadingStore(), if_match=etag)

    assert store.items[(ACCOUNT, "meter", "pdu-7")].body["exchanges"] == []


# --- the settings on the meter ------------------------------------------------------------------------------


SETTINGS = {
    "multiplier": 40,
    "register_max": "99999.9",
    "multipliers": [{"effective_from": "2026-03-02T00:45:00+01:00", "multiplier": 80}],
    "exchanges": [{"timestamp": "2026-03-01T08:00:00+01:00", "old_final": "99990.5", "new_initial": "0.0"}],
    "limits": {"short_gap_minutes": 30, "rollover_margin": "0.2"},
}


def test_a_meters_settings_are_written_with_it_and_are_how_its_readings_are_validated(api, fakes):
    answer = api.put("/v1/meters/pdu-7", {**METER, **SETTINGS})

    assert answer.status == 200
    assert (answer.json["multipliers"], answer.json["limits"]["short_gap_minutes"]) == (
        [{"effective_from": "2026-03-02T00:45:00+01:00", "multiplier": "80"}],
        30,
    )
    entry = catalog.get(ACCOUNT, catalog.Meter, "pdu-7", fakes.catalog)
    settings = meter_settings(entry.value)
    assert settings.model_dump(mode="json", exclude_defaults=True) == {
        "interval_minutes": 15,
        "multiplier": "40",
        "register_max": "99999.9",
        "multipliers": [{"effective_from": "2026-03-02T00:45:00+01:00", "multiplier": "80"}],
        "exchanges": [
            {
                "timestamp": "2026-03-01T08:00:00+01:00",
                "old_final": "99990.5",
                "new_initial": "0.0",
            }
        ],
        "short_gap_minutes": 30,
        "rollover_margin": "0.2",
    }


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"limits": {"rollover_margin": "0.7"}}, "limits.rollover_margin", "0.7 must be between 0 and 0.5"),
        ({"limits": {"spike_factor": "1"}}, "limits.spike_factor", "1 must be more than 1"),
        (
            {"limits": {"short_gap_minutes": 10**9}},
            "limits.short_gap_minutes",
            "Input should be less than or equal to 527040",
        ),
        (
            {
                "exchanges": [
                    {"timestamp": "2026-03-02T08:00:00+01:00", "old_final": "5", "new_initial": "0"},
                    {"timestamp": "2026-03-01T08:00:00+01:00", "old_final": "5", "new_initial": "0"},
                ]
            },
            "exchanges",
            "item 1: timestamp 2026-03-01T08:00:00+01:00 is not after that of the item before it "
            "(2026-03-02T08:00:00+01:00); list them in time order",
        ),
        (
            {"register_max": "9999.9", "exchanges": [{**SWAP, "new_initial": "10000"}]},
            "exchanges[0].new_initial",
            "10000 is above the meter's register_max, 9999.9",
        ),
        (
            {"multipliers": [{"effective_from": "2026-03-02T00:45:00+01:00", "multiplier": 0}]},
            "multipliers[0].multiplier",
            "Input should be greater than 0",
        ),
        (
            {"exchanges": [SWAP] * 51},
            "exchanges",
            "List should have at most 50 items after validation, not 51",
        ),
    ],
)
def test_settings_validation_would_refuse_are_refused_when_the_meter_is_written(
    api, fakes, change, field, reason
):
    before = fakes.catalog.items[(ACCOUNT, "meter", "pdu-7")]

    answer = api.put("/v1/meters/pdu-7", {**METER, **change})

    assert (answer.status, answer.json["errors"][0]) == (422, {"field": field, "reason": reason})
    assert fakes.catalog.items[(ACCOUNT, "meter", "pdu-7")] == before
