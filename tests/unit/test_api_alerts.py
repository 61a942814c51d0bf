"""Alerts and their rules over HTTP: list (newest first, filtered, paged), read with the history and what
mutes them, acknowledge (the key's id and the time; a resolved alert → 409), the rules document (checked
whole, If-Match), each account its own, and the scopes (read for GET, admin for changes)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from meterbill.alerts.model import Subject
from tests.fakes import FIXED_NOW, FakeStores
from tests.unit.alert_api_support import (
    KEY_ID,
    NOW,
    raise_alert,
)
from tests.unit.api_support import ACCOUNT, OTHER_ACCOUNT, AlertFakes, ApiClient, handler_client, problem

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")


@pytest.fixture
def api(fakes: FakeStores) -> ApiClient:
    return handler_client()


METER = Subject("meter", "mtr-1", "site-1")
SITE = Subject("site", "site-1", "site-1")
ELEVEN = "2026-03-01T11:00:00Z"  # raise_alert's default: an hour before the clock


# --- reading alerts -----------------------------------------------------------------------------------------


def test_an_alert_reads_with_its_facts_history_and_what_mutes_it(api: ApiClient, alerts: AlertFakes) -> None:
    offline = raise_alert(alerts, subject=METER)
    evasion = raise_alert(
        alerts,
        kind="energy_evasion",
        subject=SITE,
        at=FIXED_NOW - timedelta(minutes=30),
        facts={"missing_kwh": "12.5", "missing_percent": "8.3"},
        depends_on=(METER,),
    )

    answer = api.get(f"/v1/alerts/{evasion.id}")

    assert answer.status == 200
    assert answer.json == {
        "id": evasion.id,
        "fingerprint": evasion.fingerprint,
        "kind": "energy_evasion",
        "subject": {"kind": "site", "id": "site-1", "site_id": "site-1"},
        "state": "firing",
        "severity": "warning",
        "summary": "energy_evasion on site-1",
        "facts": {"missing_kwh": "12.5", "missing_percent": "8.3"},
        "depends_on": [{"kind": "meter", "id": "mtr-1", "site_id": "site-1"}],
        "first_seen": "2026-03-01T11:30:00Z",
        "last_seen": "2026-03-01T11:30:00Z",
        "active_since": "2026-03-01T11:30:00Z",
        "fired_at": "2026-03-01T11:30:00Z",
        "resolved_at": None,
        "acknowledged_at": None,
        "acknowledged_by": None,
        "inhibited": True,  # its meter is offline: the verdict would be false
        "inhibited_by": [offline.id],
        "silenced": False,
        "silenced_by": [],
        "last_notified_at": None,  # muted: nobody was told
        "history": [
            {"at": "2026-03-01T11:30:00Z", "event": "pending", "detail": "energy_evasion on site-1"},
            {"at": "2026-03-01T11:30:00Z", "event": "firing", "detail": ""},
            {"at": "2026-03-01T11:30:00Z", "event": "inhibited", "detail": offline.id},
        ],
    }


def test_alerts_are_listed_newest_first_a_page_at_a_time(api: ApiClient, alerts: AlertFakes) -> None:
    ids = [
        raise_alert(
            alerts, subject=Subject("meter", f"mtr-{n}", "site-1"), at=FIXED_NOW - timedelta(hours=n)
        ).id
        for n in (3, 1, 2)
    ]
    oldest, newest, middle = ids

    first = api.get("/v1/alerts", limit="2")
    second = api.get("/v1/alerts", limit="2", cursor=first.json["next_cursor"])

    assert [a["id"] for a in first.json["items"]] == [newest, middle]
    assert [a["id"] for a in second.json["items"]] == [oldest]
    assert second.json["next_cursor"] is None
    assert "history" not in first.json["items"][0]  # the list is a summary; GET /v1/alerts/{id} has it


def test_every_given_filter_must_match(api: ApiClient, alerts: AlertFakes) -> None:
    quiet = raise_alert(alerts, subject=METER)
    raise_alert(alerts, kind="flat_line", subject=Subject("meter", "mtr-2", "site-2"))
    critical = raise_alert(
        alerts, kind="collector_offline", subject=Subject("collector", "c-1", "site-1"), severity="critical"
    )
    resolved = raise_alert(alerts, subject=METER, at=FIXED_NOW - timedelta(minutes=5), active=False)

    def listed(**query: str) -> list[str]:
        return [a["id"] for a in api.get("/v1/alerts", **query).json["items"]]

    assert resolved.id == quiet.id
    assert listed(kind="communication") == [quiet.id]
    assert listed(state="resolved") == [quiet.id]
    assert listed(severity="critical") == [critical.id]
    assert listed(site_id="site-1", state="firing") == [critical.id]
    assert listed(site_id="site-2", kind="communication") == []


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("state", "burning", "Input should be 'pending', 'firing' or 'resolved'"),
        ("severity", "urgent", "Input should be 'info', 'warning' or 'critical'"),
        ("kind", "fire", "Input should be 'communication', 'collector_offline', 'collector_warning', "
         "'energy_evasion', 'negative_consumption', 'meter_exchange', 'phase_sum', 'abnormal_usage', "
         "'flat_line', 'estimated_data' or 'bill_shock'"),
        ("limit", "0", "Input should be greater than or equal to 1"),
        ("cursor", "elsewhere", "is not a cursor of this listing"),
    ],
)  # fmt: skip
def test_an_unknown_filter_value_is_refused_naming_the_parameter(
    api: ApiClient, name: str, value: str, reason: str
) -> None:
    answer = api.get("/v1/alerts", **{name: value})

    assert answer.json == problem(422, f"{name}: {reason}", (name, reason))


def test_a_cursor_of_another_accounts_alerts_is_refused(api: ApiClient, alerts: AlertFakes) -> None:
    for n in (1, 2):
        raise_alert(alerts, account=OTHER_ACCOUNT, subject=Subject("meter", f"mtr-{n}", "site-1"))
    others_cursor = api.as_key(OTHER_ACCOUNT, "read").get("/v1/alerts", limit="1").json["next_cursor"]

    answer = api.get("/v1/alerts", limit="1", cursor=others_cursor)

    reason = "is not a cursor of this listing"
    assert others_cursor is not None
    assert answer.json == problem(422, f"cursor: {reason}", ("cursor", reason))


def test_an_alert_of_another_account_is_not_found_like_one_of_nobody(
    api: ApiClient, alerts: AlertFakes
) -> None:
    others = raise_alert(alerts, account=OTHER_ACCOUNT)

    answer = api.get(f"/v1/alerts/{others.id}")
    listed = api.get("/v1/alerts")

    assert answer.json == problem(404, f"alert {others.id!r} not found")
    assert listed.json == {"items": [], "next_cursor": None}
    assert api.get("/v1/alerts/nobodys").json == problem(404, "alert 'nobodys' not found")


# --- acknowledging ------------------------------------------------------------------------------------------


def test_acknowledging_records_the_key_and_the_time(api: ApiClient, alerts: AlertFakes) -> None:
    alert = raise_alert(alerts)

    answer = api.post(f"/v1/alerts/{alert.id}/ack")

    assert answer.status == 200
    assert (answer.json["acknowledged_at"], answer.json["acknowledged_by"]) == (NOW, KEY_ID)
    assert answer.json["history"][-1] == {"at": NOW, "event": "acknowledged", "detail": KEY_ID}
    assert answer.json["state"] == "firing"  # still firing: a person has it in hand
    stored = alerts.store.get_alert(ACCOUNT, alert.id)
    assert (stored.acknowledged_at, stored.acknowledged_by) == (FIXED_NOW, KEY_ID)


def test_acknowledging_again_changes_nothing(api: ApiClient, alerts: AlertFakes) -> None:
    alert = raise_alert(alerts)
    first = api.post(f"/v1/alerts/{alert.id}/ack")

    again = api.as_key(ACCOUNT, "admin").post(f"/v1/alerts/{alert.id}/ack")

    assert again.json == first.json


def test_a_resolved_alert_cannot_be_acknowledged(api: ApiClient, alerts: AlertFakes) -> None:
    alert = raise_alert(alerts)
    raise_alert(alerts, at=FIXED_NOW - timedelta(minutes=5), active=False)

    answer = api.post(f"/v1/alerts/{alert.id}/ack")

    detail = f"alert {alert.id!r} is resolved: cannot acknowledge"
    assert answer.json == problem(409, f"state: {detail}", ("state", detail))
    assert alerts.store.get_alert(ACCOUNT, alert.id).acknowledged_at is None


def test_acknowledging_another_accounts_alert_is_not_found_and_changes_nothing(
    api: ApiClient, alerts: AlertFakes
) -> None:
    others = raise_alert(alerts, account=OTHER_ACCOUNT)

    answer = api.post(f"/v1/alerts/{others.id}/ack")

    assert answer.json == problem(404, f"alert {others.id!r} not found")
    assert alerts.store.get_alert(OTHER_ACCOUNT, others.id).acknowledged_at is None


# --- rules --------------------------------------------------------------------------------------------------


def test_the_rules_read_empty_without_an_etag_before_the_first_put(api: ApiClient) -> None:
    answer = api.get("/v1/alert-rules")

    assert (answer.status, answer.json) == (200, {"document": {}, "etag": None})
    assert "etag" not in answer.headers


RULES: dict[str, Any] = {
    "energy_evasion": {"min_percent": 7.5, "window_hours": 12},
    "sites": {"site-1": {"energy_evasion": {"min_percent": "8"}}},
    "lifecycle": {"repeat_interval_minutes": 60},
}
RULES_AS_STORED = {
    "energy_evasion": {"min_percent": "7.5", "window_hours": 12},  # exact: a decimal, as its text
    "sites": {"site-1": {"energy_evasion": {"min_percent": "8"}}},
    "lifecycle": {"repeat_interval_minutes": 60},
}


def test_put_rules_stores_the_document_exactly_and_answers_its_new_etag(
    api: ApiClient, alerts: AlertFakes
) -> None:
    answer = api.put("/v1/alert-rules", RULES)
    read = api.get("/v1/alert-rules")

    assert (answer.status, answer.headers["etag"]) == (200, '"rules-1"')
    assert answer.json == {"document": RULES_AS_STORED, "etag": "rules-1"}
    assert (read.json, read.headers["etag"]) == (answer.json, '"rules-1"')
    assert alerts.store.rules[ACCOUNT] == (RULES_AS_STORED, "rules-1")


def test_put_rules_with_the_current_etag_replaces_them(api: ApiClient) -> None:
    first = api.put("/v1/alert-rules", RULES)

    second = api.put(
        "/v1/alert-rules", {"flat_line": {"hours": 8}}, headers={"If-Match": first.headers["etag"]}
    )

    assert (second.status, second.json) == (200, {"document": {"flat_line": {"hours": 8}}, "etag": "rules-2"})


def test_put_rules_with_a_stale_etag_is_refused_and_changes_nothing(
    api: ApiClient, alerts: AlertFakes
) -> None:
    api.put("/v1/alert-rules", RULES)

    answer = api.put("/v1/alert-rules", {"flat_line": {"hours": 8}}, headers={"If-Match": '"rules-0"'})

    reason = f"is not the current ETag of alert-rules {ACCOUNT!r}; read it again"
    assert answer.json == problem(412, f"If-Match: {reason}", ("If-Match", reason))
    assert alerts.store.rules[ACCOUNT] == (RULES_AS_STORED, "rules-1")


@pytest.mark.parametrize(
    ("document", "field", "reason"),
    [
        ({"energy_evasion": {"min_percent": 101}}, "energy_evasion.min_percent", "must be between 0 and 100"),
        ({"energy_evasion": {"min_percent": "lots"}}, "energy_evasion.min_percent", "must be a number"),
        ({"flat_line": {"hours": 1.5}}, "flat_line.hours", "must be a whole number"),
        ({"flat_line": {"hours": True}}, "flat_line.hours", "must be a whole number"),
        ({"flat_line": {"days": 1}}, "flat_line.days", "unknown field; known: hours, severity"),
        (
            {"phase_sum": {"severity": "urgent"}},
            "phase_sum.severity",
            "must be one of info, warning, critical",
        ),
        (
            {"sites": {"site-1": {"energy_evasion": {"loss_percent": "100"}}}},
            "sites.site-1.energy_evasion.loss_percent",
            "must be between 0 and 99.99",
        ),
        (
            {"meters": {"mtr-1": {"lifecycle": {}}}},
            "meters.mtr-1.lifecycle",
            "cannot be set per meter; known: communication, registers, energy_evasion, phase_sum, "
            "abnormal_usage, flat_line, estimated_data",
        ),
        (
            {"lifecycle": {"for_minutes": {"fire": 5}}},
            "lifecycle.for_minutes.fire",
            "must be one of communication, collector_offline, collector_warning, energy_evasion, "
            "negative_consumption, meter_exchange, phase_sum, abnormal_usage, flat_line, estimated_data, "
            "bill_shock",
        ),
        (
            {"thresholds": {}},
            "thresholds",
            "unknown section; known: abnormal_usage, bill_shock, communication, energy_evasion, "
            "estimated_data, flat_line, lifecycle, meters, phase_sum, registers, sites",
        ),
    ],
)
def test_a_bad_rules_document_names_the_dotted_field_and_changes_nothing(
    api: ApiClient, alerts: AlertFakes, document: dict[str, Any], field: str, reason: str
) -> None:
    api.put("/v1/alert-rules", RULES)

    answer = api.put("/v1/alert-rules", document)

    assert answer.json == problem(422, f"{field}: {reason}", (field, reason))
    assert alerts.store.rules[ACCOUNT] == (RULES_AS_STORED, "rules-1")


def test_a_rules_body_that_is_not_an_object_is_refused(api: ApiClient) -> None:
    answer = api.put("/v1/alert-rules", [1, 2])

    assert answer.json == problem(
        422, "body: Input should be a valid dictionary", ("body", "Input should be a valid dictionary")
    )


def test_each_account_has_its_own_rules(api: ApiClient) -> None:
    api.put("/v1/alert-rules", RULES)

    others = api.as_key(OTHER_ACCOUNT, "read").get("/v1/alert-rules")

    assert others.json == {"document": {}, "etag": None}


# --- scopes -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/alerts/a-1/ack", None),
        ("PUT", "/v1/alert-rules", {"flat_line": {"hours": 8}}),
    ],
)
def test_a_read_key_may_not_change_alerts_or_rules(
    api: ApiClient, alerts: AlertFakes, method: str, path: str, body: Any
) -> None:
    answer = api.as_key(ACCOUNT, "read").request(method, path, json_body=body)

    detail = "this API key's scopes (read) do not allow this operation; it needs 'admin'"
    assert answer.json == problem(403, detail)
    assert alerts.store.rules == {}


@pytest.mark.parametrize("path", ["/v1/alerts", "/v1/alerts/a-1", "/v1/alert-rules"])
def test_an_ingest_key_may_not_read_alerts(api: ApiClient, path: str) -> None:
    answer = api.as_key(ACCOUNT, "ingest").get(path)

    detail = "this API key's scopes (ingest) do not allow this operation; it needs 'read'"
    assert answer.json == problem(403, detail)


def test_a_read_key_reads_alerts_and_rules(api: ApiClient, alerts: AlertFakes) -> None:
    alert = raise_alert(alerts)
    reader = api.as_key(ACCOUNT, "read")

    assert [a["id"] for a in reader.get("/v1/alerts").json["items"]] == [alert.id]
    assert reader.get(f"/v1/alerts/{alert.id}").json["first_seen"] == ELEVEN
    assert reader.get("/v1/alert-rules").status == 200


@pytest.mark.parametrize(
    ("text", "field", "reason"),
    [
        (
            '{"energy_evasion": {"min_percent": 1e999999999}}',
            "energy_evasion.min_percent",
            "must be between 0 and 100",
        ),
        ('{"flat_line": {"hours": 1e999999999}}', "flat_line.hours", "must be a whole number"),
        ('{"energy_evasion": {"min_percent": 5.0000000001}}', None, None),
    ],
)
def test_numbers_are_read_exactly_and_a_huge_exponent_is_refused_at_once(
    api: ApiClient, alerts: AlertFakes, text: str, field: str | None, reason: str | None
) -> None:
    answer = api.request("PUT", "/v1/alert-rules", body=text, headers={"Content-Type": "application/json"})

    if field is None:
        assert answer.json["document"] == {"energy_evasion": {"min_percent": "5.0000000001"}}
    else:
        assert answer.json == problem(422, f"{field}: {reason}", (field, reason))


def test_an_acknowledgement_takes_no_comment_rather_than_dropping_it(
    api: ApiClient, alerts: AlertFakes
) -> None:
    alert = raise_alert(alerts)

    with_comment = api.post(f"/v1/alerts/{alert.id}/ack", {"comment": "on my way"})
    empty = api.post(f"/v1/alerts/{alert.id}/ack", {})

    reason = "this route takes no body (an acknowledgement records no comment)"
    assert with_comment.json == problem(422, f"body: {reason}", ("body", reason))
    assert (empty.status, empty.json["acknowledged_by"]) == (200, KEY_ID)
