"""A collector's heartbeat over HTTP: 202 with what was stored (received_at from the server's clock); only
the account's meters and site; per meter its last read, its error, or both; the collector's own warnings (at
most 10, 1 to 500 characters each); an ingest key may send it (and nothing else of the alert routes); hostile
values refused naming the field, nothing stored."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from meterbill.alerts.communication import Heartbeat, MeterStatus
from meterbill.alerts.ports import CollectorHeartbeat
from meterbill.errors import InvalidInputError
from meterbill.services import alert_admin
from tests.fakes import FIXED_NOW, FakeCatalogStore, FakeStores
from tests.fakes.alerts import FakeAlertStore
from tests.hostile import VALUES, field_name, names_the_field, with_hostile
from tests.unit.alert_api_support import NOW, plant
from tests.unit.api_support import ACCOUNT, OTHER_ACCOUNT, AlertFakes, ApiClient, handler_client, problem

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")


@pytest.fixture
def api(fakes: FakeStores) -> ApiClient:
    return handler_client()


PATH = "/v1/collectors/col-7/heartbeats"
BEAT: dict[str, Any] = {
    "version": "1.4.2",
    "spool_depth": 12,
    "last_push_at": "2026-03-01T12:59:00+01:00",
    "site_id": "site-1",
    "meters": [
        {"meter_id": "mtr-1", "last_read_at": "2026-03-01T12:59:30+01:00"},
        {"meter_id": "mtr-2", "error": "Modbus exception 4 (slave device failure)"},
        {"meter_id": "mtr-3", "last_read_at": "2026-03-01T11:00:00Z", "error": "timeout after 3 s"},
    ],
}


@pytest.fixture
def collector(api: ApiClient) -> ApiClient:
    """An ingest key of the account, whose site-1 has meters mtr-1 to mtr-3."""
    plant(api, "mtr-1", "mtr-2", "mtr-3")
    return api.as_key(ACCOUNT, "ingest")


def test_a_heartbeat_is_stored_as_received_now(collector: ApiClient, alerts: AlertFakes) -> None:
    answer = collector.post(PATH, BEAT)

    assert answer.status == 202
    assert answer.json == {
        "collector_id": "col-7",
        "received_at": NOW,
        "version": "1.4.2",
        "spool_depth": 12,
        "last_push_at": "2026-03-01T12:59:00+01:00",
        "site_id": "site-1",
        "meters": [
            {"meter_id": "mtr-1", "last_read_at": "2026-03-01T12:59:30+01:00", "error": None},
            {"meter_id": "mtr-2", "last_read_at": None, "error": "Modbus exception 4 (slave device failure)"},
            {"meter_id": "mtr-3", "last_read_at": "2026-03-01T11:00:00Z", "error": "timeout after 3 s"},
        ],
        "warnings": [],
    }
    assert alerts.store.heartbeats(ACCOUNT) == [
        CollectorHeartbeat(
            heartbeat=Heartbeat(
                "col-7",
                FIXED_NOW,
                (
                    MeterStatus("mtr-1", datetime.fromisoformat("2026-03-01T12:59:30+01:00")),
                    MeterStatus("mtr-2", None, "Modbus exception 4 (slave device failure)"),
                    MeterStatus(
                        "mtr-3", datetime.fromisoformat("2026-03-01T11:00:00+00:00"), "timeout after 3 s"
                    ),
                ),
                "site-1",
            ),
            version="1.4.2",
            spool_depth=12,
            last_push_at=datetime.fromisoformat("2026-03-01T12:59:00+01:00"),
        )
    ]


def test_the_smallest_heartbeat_is_a_version_and_a_spool_depth(
    collector: ApiClient, alerts: AlertFakes
) -> None:
    answer = collector.post(PATH, {"version": "1.4.2", "spool_depth": 0})

    assert (answer.status, answer.json["meters"], answer.json["site_id"], answer.json["last_push_at"]) == (
        202,
        [],
        None,
        None,
    )
    assert alerts.store.heartbeats(ACCOUNT)[0].heartbeat == Heartbeat("col-7", FIXED_NOW)


THINNED = "spool at its 512 MB quota: 8,640 unsent reads of main thinned to hourly (totals kept)"


def test_a_heartbeats_warnings_are_stored_and_answered(collector: ApiClient, alerts: AlertFakes) -> None:
    longest = "w" * 500
    answer = collector.post(PATH, {**BEAT, "warnings": [THINNED, "ü" * 500, longest]})

    assert (answer.status, answer.json["warnings"]) == (202, [THINNED, "ü" * 500, longest])
    (stored,) = alerts.store.heartbeats(ACCOUNT)
    assert stored.heartbeat.warnings == (THINNED, "ü" * 500, longest)


def test_ten_warnings_are_taken(collector: ApiClient, alerts: AlertFakes) -> None:
    ten = [f"warning {n}" for n in range(1, 11)]

    answer = collector.post(PATH, {**BEAT, "warnings": ten})

    assert answer.status == 202
    assert alerts.store.heartbeats(ACCOUNT)[0].heartbeat.warnings == tuple(ten)


def test_a_heartbeat_without_warnings_stores_none(collector: ApiClient, alerts: AlertFakes) -> None:
    for body in (BEAT, {**BEAT, "warnings": []}):
        answer = collector.post(PATH, body)

        assert (answer.status, answer.json["warnings"]) == (202, [])
        assert alerts.store.heartbeats(ACCOUNT)[0].heartbeat.warnings == ()


@pytest.mark.parametrize(
    ("warnings", "field", "reason"),
    [
        ([f"warning {n}" for n in range(1, 12)], "warnings",
         "List should have at most 10 items after validation, not 11"),
        ([THINNED, ""], "warnings[1]", "String should have at least 1 character"),
        (["x" * 501], "warnings[0]", "String should have at most 500 characters"),
        ([THINNED, 7], "warnings[1]", "Input should be a valid string"),  # strict: no number as text
        ([None], "warnings[0]", "Input should be a valid string"),
        (THINNED, "warnings", "Input should be a valid list"),
        (None, "warnings", "Input should be a valid list"),
    ],
)  # fmt: skip
def test_bad_warnings_are_refused_naming_the_warning_and_store_nothing(
    collector: ApiClient, alerts: AlertFakes, warnings: Any, field: str, reason: str
) -> None:
    answer = collector.post(PATH, {**BEAT, "warnings": warnings})

    assert answer.json == problem(422, f"{field}: {reason}", (field, reason))
    assert alerts.store.heartbeat_items == {}


@pytest.mark.parametrize(
    ("warnings", "field", "reason"),
    [
        (tuple(f"w{n}" for n in range(11)), "warnings", "11 warnings; at most 10"),
        (("ok", ""), "warnings[1]", "must be 1 to 500 characters"),
        (("x" * 501,), "warnings[0]", "must be 1 to 500 characters"),
    ],
)
def test_the_service_refuses_the_same_warnings_for_callers_without_the_schema(
    warnings: tuple[str, ...], field: str, reason: str
) -> None:
    store = FakeAlertStore()
    with pytest.raises(InvalidInputError) as refused:
        alert_admin.record_heartbeat(
            ACCOUNT,
            "col-7",
            version="1.4.2",
            spool_depth=0,
            last_push_at=None,
            site_id=None,
            meters=(),
            now=FIXED_NOW,
            store=store,
            catalog=FakeCatalogStore(),
            future_tolerance=timedelta(minutes=5),
            warnings=warnings,
        )
    assert (refused.value.field, refused.value.reason) == (field, reason)
    assert store.heartbeat_items == {}


def test_an_admin_key_may_send_a_heartbeat_too(collector: ApiClient, api: ApiClient) -> None:
    assert api.post(PATH, BEAT).status == 202


def meters(*statuses: dict[str, Any]) -> dict[str, Any]:
    return {**BEAT, "meters": list(statuses)}


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        (meters({"meter_id": "mtr-1"}, {"meter_id": "mtr-9", "error": "x"}), "meters[0]",
         "give last_read_at (the last successful read), error (the last attempt's), or both"),
        (meters({"meter_id": "mtr-1", "error": "x"}, {"meter_id": "mtr-9", "error": "x"}),
         "meters[1].meter_id", "no meter 'mtr-9'"),
        (meters({"meter_id": "mtr-8", "error": "x"}, {"meter_id": "mtr-1", "error": "x"},
                {"meter_id": "mtr-9", "error": "x"}), "meters[0].meter_id",
         "no meter 'mtr-8' (and 1 more unknown meters)"),
        (meters({"meter_id": "mtr-1", "error": "x"}, {"meter_id": "mtr-1", "error": "y"}),
         "meters[1].meter_id", "listed before, at meters[0]"),
        (meters({"meter_id": "mtr-1", "last_read_at": "2026-03-01T12:00:00"}), "meters[0].last_read_at",
         "'2026-03-01T12:00:00' has no UTC offset; add one (e.g. +01:00 or Z)"),
        (meters({"meter_id": "mtr-1", "last_read_at": "2026-03-01T12:05:01Z"}), "meters[0].last_read_at",
         "2026-03-01T12:05:01+00:00 is more than 300 s ahead of the server's clock "
         "(2026-03-01T12:00:00+00:00)"),
        (meters({"meter_id": "mtr-1", "error": ""}), "meters[0].error",
         "String should have at least 1 character"),
        (meters("mtr-1"), "meters[0]", '"mtr-1" is not an object'),
        ({**BEAT, "last_push_at": "2026-03-02"}, "last_push_at",
         "'2026-03-02' is not an ISO 8601 date-time such as 2026-03-01T00:15:00+01:00"),
        ({**BEAT, "site_id": "site-9"}, "site_id", "no site 'site-9'"),
        ({**BEAT, "spool_depth": -1}, "spool_depth", "Input should be greater than or equal to 0"),
        ({**BEAT, "spool_depth": "12"}, "spool_depth", "Input should be a valid integer"),
        ({**BEAT, "version": ""}, "version", "String should have at least 1 character"),
        ({**BEAT, "received_at": "2026-03-01T12:00:00Z"}, "received_at", "unknown field"),
    ],
)  # fmt: skip
def test_a_bad_heartbeat_is_refused_naming_the_field_and_stores_nothing(
    collector: ApiClient, alerts: AlertFakes, body: dict[str, Any], field: str, reason: str
) -> None:
    answer = collector.post(PATH, body)

    assert answer.json == problem(422, f"{field}: {reason}", (field, reason))
    assert alerts.store.heartbeat_items == {}


def test_a_collector_id_that_is_no_id_is_refused(collector: ApiClient, alerts: AlertFakes) -> None:
    answer = collector.post("/v1/collectors/col%207/heartbeats", BEAT)

    reason = "1 to 64 letters, digits and _ . : -, starting with a letter or digit"
    assert answer.json == problem(422, f"collector_id: {reason}", ("collector_id", reason))
    assert alerts.store.heartbeat_items == {}


def test_another_accounts_meters_and_site_are_refused_like_nobodys(
    collector: ApiClient, api: ApiClient, alerts: AlertFakes
) -> None:
    bobs_collector = api.as_key(OTHER_ACCOUNT, "ingest")

    with_adas_site = bobs_collector.post(PATH, BEAT)
    with_adas_meter = bobs_collector.post(PATH, {**BEAT, "site_id": None})

    assert with_adas_site.json == problem(422, "site_id: no site 'site-1'", ("site_id", "no site 'site-1'"))
    reason = "no meter 'mtr-1' (and 2 more unknown meters)"
    assert with_adas_meter.json == problem(
        422, f"meters[0].meter_id: {reason}", ("meters[0].meter_id", reason)
    )
    assert alerts.store.heartbeat_items == {}


@pytest.mark.parametrize(
    "path",
    [
        ("version",),
        ("spool_depth",),
        ("last_push_at",),
        ("site_id",),
        ("meters",),
        ("meters", 0),
        ("meters", 0, "meter_id"),
        ("meters", 0, "last_read_at"),
        ("meters", 1, "error"),
        ("warnings",),
        ("warnings", 0),
    ],
    ids=field_name,
)
@pytest.mark.parametrize("variant", list(VALUES))
def test_a_hostile_value_is_refused_naming_its_field_and_stores_nothing(
    collector: ApiClient, alerts: AlertFakes, path: tuple[str | int, ...], variant: str
) -> None:
    answer = collector.request(
        "POST",
        PATH,
        body=with_hostile({**BEAT, "warnings": [THINNED]}, path, variant),
        headers={"Content-Type": "application/json"},
    )

    assert 400 <= answer.status < 500, answer.text[:500]
    assert names_the_field(answer.json, field_name(path)), answer.text[:500]
    assert alerts.store.heartbeat_items == {}


# --- scopes -------------------------------------------------------------------------------------------------


def test_a_read_key_may_not_send_heartbeats(collector: ApiClient, api: ApiClient, alerts: AlertFakes) -> None:
    answer = api.as_key(ACCOUNT, "read").post(PATH, BEAT)

    detail = "this API key's scopes (read) do not allow this operation; it needs 'ingest'"
    assert answer.json == problem(403, detail)
    assert alerts.store.heartbeat_items == {}


@pytest.mark.parametrize(
    ("method", "path", "needs"),
    [
        ("GET", "/v1/alerts", "read"),
        ("GET", "/v1/alerts/a-1", "read"),
        ("POST", "/v1/alerts/a-1/ack", "admin"),
        ("GET", "/v1/alert-rules", "read"),
        ("PUT", "/v1/alert-rules", "admin"),
        ("GET", "/v1/alert-silences", "read"),
        ("POST", "/v1/alert-silences", "admin"),
        ("GET", "/v1/alert-silences/sil_1", "read"),
        ("DELETE", "/v1/alert-silences/sil_1", "admin"),
        ("GET", "/v1/alert-subscriptions", "read"),
        ("POST", "/v1/alert-subscriptions", "admin"),
        ("GET", "/v1/alert-subscriptions/sub_1", "read"),
        ("DELETE", "/v1/alert-subscriptions/sub_1", "admin"),
        ("POST", "/v1/collectors/col-7", "admin"),  # not a route: refused before it is looked up
    ],
)
def test_an_ingest_key_may_call_no_other_alert_route(
    api: ApiClient, method: str, path: str, needs: str
) -> None:
    answer = api.as_key(ACCOUNT, "ingest").request(
        method, path, json_body={} if method in ("POST", "PUT") else None
    )

    detail = f"this API key's scopes (ingest) do not allow this operation; it needs {needs!r}"
    assert answer.json == problem(403, detail)
