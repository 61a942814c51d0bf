"""Silences over HTTP: create one (201, id generated, created by the key), list by state as of now, read,
end it now with DELETE (an expired one → 409); every bad field named; each account its own; admin to
change, read to look."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from meterbill.alerts.silences import Matcher, Silence
from tests.fakes import FIXED_NOW, FakeStores
from tests.unit.alert_api_support import KEY_ID, NOW
from tests.unit.api_support import ACCOUNT, OTHER_ACCOUNT, AlertFakes, ApiClient, handler_client, problem

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")


@pytest.fixture
def api(fakes: FakeStores) -> ApiClient:
    return handler_client()


PATH = "/v1/alert-silences"
WINDOW: dict[str, Any] = {
    "matchers": [{"name": "site_id", "value": "site-1"}, {"name": "kind", "value": "communication"}],
    "ends_at": "2026-03-01T14:00:00Z",
    "comment": "replacing the CTs of the main board",
}
MATCHER_NAMES = "'kind', 'subject_kind', 'subject_id', 'site_id' or 'severity'"
KINDS = (
    "communication, collector_offline, collector_warning, energy_evasion, negative_consumption, "
    "meter_exchange, phase_sum, abnormal_usage, flat_line, estimated_data, bill_shock"
)


def silence(api: ApiClient, **changes: Any) -> dict[str, Any]:
    answer = api.post(PATH, {**WINDOW, **changes})
    assert answer.status == 201, answer.text
    result: dict[str, Any] = answer.json
    return result


def test_a_new_silence_starts_now_by_default_and_is_active(api: ApiClient, alerts: AlertFakes) -> None:
    answer = api.post(PATH, WINDOW)

    silence_id = answer.json["id"]
    assert answer.status == 201
    assert answer.headers["location"] == f"{PATH}/{silence_id}"
    assert silence_id.startswith("sil_") and len(silence_id) == 4 + 16
    assert answer.json == {
        "id": silence_id,
        "matchers": WINDOW["matchers"],
        "starts_at": NOW,
        "ends_at": "2026-03-01T14:00:00Z",
        "comment": "replacing the CTs of the main board",
        "created_by": KEY_ID,
        "state": "active",
    }
    assert alerts.store.get_silence(ACCOUNT, silence_id) == Silence(
        matchers=(Matcher("site_id", "site-1"), Matcher("kind", "communication")),
        starts_at=FIXED_NOW,
        ends_at=datetime.fromisoformat("2026-03-01T14:00:00+00:00"),
        comment="replacing the CTs of the main board",
        id=silence_id,
        created_by=KEY_ID,
    )


def test_a_silence_that_starts_later_is_pending_and_keeps_its_offsets(api: ApiClient) -> None:
    answer = silence(api, starts_at="2026-03-02T08:00:00+01:00", ends_at="2026-03-02T17:00:00+01:00")

    assert (answer["starts_at"], answer["ends_at"], answer["state"]) == (
        "2026-03-02T08:00:00+01:00",
        "2026-03-02T17:00:00+01:00",
        "pending",
    )


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"ends_at": "2026-03-01T14:00:00"}, "ends_at",
         "'2026-03-01T14:00:00' has no UTC offset; add one (e.g. +01:00 or Z)"),
        ({"starts_at": "tomorrow"}, "starts_at",
         "'tomorrow' is not an ISO 8601 date-time such as 2026-03-01T00:15:00+01:00"),
        ({"starts_at": "2026-03-01T15:00:00Z"}, "ends_at", "must be after starts_at"),
        ({"starts_at": "2026-03-01T14:00:00Z"}, "ends_at", "must be after starts_at"),
        ({"starts_at": "2026-03-01T09:00:00Z", "ends_at": "2026-03-01T11:00:00Z"}, "ends_at",
         "must be in the future (now is 2026-03-01T12:00:00+00:00)"),
        ({"matchers": []}, "matchers", "at least one matcher is required (a silence must not mute all)"),
        ({"matchers": [{"name": "meter", "value": "mtr-1"}]}, "matchers[0].name",
         f"Input should be {MATCHER_NAMES}"),
        ({"matchers": [{"name": "kind", "value": "fire"}]}, "matchers[0].value", f"must be one of {KINDS}"),
        ({"matchers": [{"name": "site_id", "value": "s-1"}, {"name": "severity", "value": "urgent"}]},
         "matchers[1].value", "must be one of info, warning, critical"),
        ({"matchers": [{"name": "subject_kind", "value": "pdu"}]}, "matchers[0].value",
         "must be one of meter, site, collector, customer"),
        ({"matchers": [{"name": "site_id", "value": ""}]}, "matchers[0].value",
         "String should have at least 1 character"),
        ({"matchers": [{"name": "site_id", "value": "s-1"}, {"name": "site_id", "value": "s-2"}]}, "matchers",
         "each name at most once (equality matchers are ANDed)"),
        ({"comment": "  "}, "comment", "must say why (a maintenance window, a known outage)"),
        ({"comment": None}, "comment", "Input should be a valid string"),
        ({"ends_at": None}, "ends_at", "None is not an ISO 8601 date-time such as 2026-03-01T00:15:00+01:00"),
        ({"created_by": "someone else"}, "created_by", "unknown field"),
    ],
)  # fmt: skip
def test_a_bad_silence_is_refused_naming_the_field_and_stores_nothing(
    api: ApiClient, alerts: AlertFakes, changes: dict[str, Any], field: str, reason: str
) -> None:
    answer = api.post(PATH, {**WINDOW, **changes})

    assert answer.json == problem(422, f"{field}: {reason}", (field, reason))
    assert alerts.store.silence_items == {}


def test_a_silence_without_an_end_is_refused(api: ApiClient) -> None:
    body = {name: value for name, value in WINDOW.items() if name != "ends_at"}

    answer = api.post(PATH, body)

    assert answer.json == problem(
        422, "ends_at: required field is missing", ("ends_at", "required field is missing")
    )


def test_silences_are_listed_by_their_state_as_of_now(api: ApiClient) -> None:
    active = silence(api, starts_at="2026-03-01T11:00:00Z")["id"]
    pending = silence(api, starts_at="2026-03-01T13:00:00Z")["id"]
    expired = silence(api, starts_at="2026-03-01T10:00:00Z")["id"]
    assert api.delete(f"{PATH}/{expired}").status == 200

    def listed(**query: str) -> list[tuple[str, str]]:
        return [(s["id"], s["state"]) for s in api.get(PATH, **query).json["items"]]

    assert listed() == [(pending, "pending"), (active, "active"), (expired, "expired")]  # newest start first
    assert listed(state="active") == [(active, "active")]
    assert listed(state="pending") == [(pending, "pending")]
    assert listed(state="expired") == [(expired, "expired")]


def test_silences_are_listed_a_page_at_a_time(api: ApiClient) -> None:
    later, sooner = (silence(api, starts_at=f"2026-03-01T1{h}:00:00Z")["id"] for h in (3, 2))

    first = api.get(PATH, limit="1")
    second = api.get(PATH, limit="1", cursor=first.json["next_cursor"])

    assert ([s["id"] for s in first.json["items"]], first.json["next_cursor"]) == ([later], later)
    assert ([s["id"] for s in second.json["items"]], second.json["next_cursor"]) == ([sooner], None)


@pytest.mark.parametrize(
    ("query", "field", "reason"),
    [
        ({"state": "over"}, "state", "Input should be 'pending', 'active' or 'expired'"),
        ({"cursor": "sil_0000000000000000"}, "cursor", "is not a cursor of this listing"),
    ],
)
def test_an_unknown_state_or_cursor_is_refused_naming_the_parameter(
    api: ApiClient, query: dict[str, str], field: str, reason: str
) -> None:
    answer = api.get(PATH, **query)

    assert answer.json == problem(422, f"{field}: {reason}", (field, reason))


def test_a_silence_reads_by_its_id(api: ApiClient) -> None:
    created = silence(api)

    assert api.get(f"{PATH}/{created['id']}").json == created


def test_ending_an_active_silence_sets_its_end_to_now(api: ApiClient, alerts: AlertFakes) -> None:
    created = silence(api, starts_at="2026-03-01T11:00:00Z")

    answer = api.delete(f"{PATH}/{created['id']}")

    assert answer.status == 200
    assert answer.json == {**created, "ends_at": NOW, "state": "expired"}
    assert alerts.store.get_silence(ACCOUNT, created["id"]).ends_at == FIXED_NOW
    assert api.get(f"{PATH}/{created['id']}").json == answer.json  # kept, for the record


def test_ending_a_pending_silence_means_it_never_mutes(api: ApiClient, alerts: AlertFakes) -> None:
    created = silence(api, starts_at="2026-03-01T13:00:00Z")

    answer = api.delete(f"{PATH}/{created['id']}")

    stored = alerts.store.get_silence(ACCOUNT, created["id"])
    assert (stored.starts_at, stored.ends_at) == (FIXED_NOW - timedelta(microseconds=1), FIXED_NOW)
    assert (answer.json["starts_at"], answer.json["ends_at"], answer.json["state"]) == (
        "2026-03-01T11:59:59.999999Z",
        NOW,
        "expired",
    )


def test_an_expired_silence_cannot_be_ended_again(api: ApiClient) -> None:
    created = silence(api, starts_at="2026-03-01T11:00:00Z")
    api.delete(f"{PATH}/{created['id']}")

    answer = api.delete(f"{PATH}/{created['id']}")

    detail = f"alert-silence {created['id']!r} is expired: cannot end"
    assert answer.json == problem(409, f"state: {detail}", ("state", detail))


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_another_accounts_silence_is_not_found_like_nobodys_and_stays(
    api: ApiClient, alerts: AlertFakes, method: str
) -> None:
    others = silence(api.as_key(OTHER_ACCOUNT, "admin"))["id"]

    answer = api.request(method, f"{PATH}/{others}")
    nobodys = api.request(method, f"{PATH}/sil_0000000000000000")

    assert answer.json == problem(404, f"alert-silence {others!r} not found")
    assert nobodys.json == problem(404, "alert-silence 'sil_0000000000000000' not found")
    assert alerts.store.get_silence(OTHER_ACCOUNT, others).ends_at == datetime.fromisoformat(
        WINDOW["ends_at"]
    )
    assert api.get(PATH).json == {"items": [], "next_cursor": None}


@pytest.mark.parametrize(("method", "path"), [("POST", PATH), ("DELETE", f"{PATH}/sil_1")])
def test_a_read_key_may_not_set_or_end_silences(
    api: ApiClient, alerts: AlertFakes, method: str, path: str
) -> None:
    answer = api.as_key(ACCOUNT, "read").request(method, path, json_body=WINDOW if method == "POST" else None)

    detail = "this API key's scopes (read) do not allow this operation; it needs 'admin'"
    assert answer.json == problem(403, detail)
    assert alerts.store.silence_items == {}


@pytest.mark.parametrize("path", [PATH, f"{PATH}/sil_1"])
def test_an_ingest_key_may_not_read_silences(api: ApiClient, path: str) -> None:
    answer = api.as_key(ACCOUNT, "ingest").get(path)

    assert answer.status == 403
