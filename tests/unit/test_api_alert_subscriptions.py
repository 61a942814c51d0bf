"""Email subscriptions to alerts over HTTP: one SNS email subscription per address and account, whose filter
policy admits only the account's matching alerts; its status read from SNS each time (pending until the
recipient confirms); deleted in SNS first, then forgotten. 501 without an alerts topic."""

from __future__ import annotations

from typing import Any

import pytest

from meterbill.alerts.ports import SubscriptionRecord
from tests.fakes import FIXED_NOW, FakeStores
from tests.unit.alert_api_support import NOW, SITE, plant
from tests.unit.api_support import (
    ACCOUNT,
    OTHER_ACCOUNT,
    SETTINGS,
    AlertFakes,
    ApiClient,
    fake_backend,
    handler_client,
    problem,
)

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")


@pytest.fixture
def api(fakes: FakeStores) -> ApiClient:
    return handler_client()


PATH = "/v1/alert-subscriptions"
ALL_SEVERITIES = ["info", "warning", "critical"]
ALL_KINDS = [
    "communication",
    "collector_offline",
    "collector_warning",
    "energy_evasion",
    "negative_consumption",
    "meter_exchange",
    "phase_sum",
    "abnormal_usage",
    "flat_line",
    "estimated_data",
    "bill_shock",
]


def subscribe(api: ApiClient, **body: Any) -> dict[str, Any]:
    answer = api.post(PATH, {"email": "ops@example.com", **body})
    assert answer.status == 201, answer.text
    result: dict[str, Any] = answer.json
    return result


def only_arn(alerts: AlertFakes) -> str:
    (arn,) = alerts.subscriptions.policies
    return arn


def test_an_address_alone_is_subscribed_to_the_accounts_warnings_and_above(
    api: ApiClient, alerts: AlertFakes
) -> None:
    answer = api.post(PATH, {"email": "ops@example.com"})

    subscription_id = answer.json["id"]
    assert (answer.status, answer.headers["location"]) == (201, f"{PATH}/{subscription_id}")
    assert subscription_id.startswith("sub_") and len(subscription_id) == 4 + 16
    assert answer.json == {
        "id": subscription_id,
        "email": "ops@example.com",
        "kinds": None,
        "min_severity": "warning",
        "site_ids": None,
        "status": "pending_confirmation",  # SNS mailed a link; the recipient has not followed it yet
        "created_at": NOW,
    }
    arn = only_arn(alerts)
    assert alerts.subscriptions.policies[arn] == (
        "ops@example.com",
        {"account_id": [ACCOUNT], "severity": ["warning", "critical"]},
    )
    assert alerts.store.get_subscription(ACCOUNT, subscription_id) == SubscriptionRecord(
        id=subscription_id,
        email="ops@example.com",
        kinds=(),
        min_severity="warning",
        site_ids=None,
        subscription_arn=arn,
        created_at=FIXED_NOW,
    )


def test_the_filter_policy_admits_only_the_named_kinds_severities_and_sites(
    api: ApiClient, alerts: AlertFakes
) -> None:
    plant(api)
    assert api.post("/v1/sites", {**SITE, "id": "site-2"}).status == 201

    answer = subscribe(
        api, kinds=["energy_evasion", "communication"], min_severity="warning", site_ids=["site-2", "site-1"]
    )

    assert (answer["kinds"], answer["min_severity"], answer["site_ids"]) == (
        ["energy_evasion", "communication"],
        "warning",
        ["site-2", "site-1"],
    )
    assert alerts.subscriptions.policies[only_arn(alerts)][1] == {
        "account_id": [ACCOUNT],
        "severity": ["warning", "critical"],
        "kind": ["energy_evasion", "communication"],
        "site_id": ["site-2", "site-1"],
    }


@pytest.mark.parametrize(
    ("min_severity", "severities"), [("info", ALL_SEVERITIES), ("critical", ["critical"])]
)
def test_min_severity_admits_it_and_every_higher_one(
    api: ApiClient, alerts: AlertFakes, min_severity: str, severities: list[str]
) -> None:
    subscribe(api, min_severity=min_severity)

    assert alerts.subscriptions.policies[only_arn(alerts)][1]["severity"] == severities


def test_naming_every_kind_is_every_kind(api: ApiClient, alerts: AlertFakes) -> None:
    answer = subscribe(api, kinds=ALL_KINDS)

    assert answer["kinds"] == ALL_KINDS
    assert alerts.subscriptions.policies[only_arn(alerts)][1] == {
        "account_id": [ACCOUNT],
        "severity": ["warning", "critical"],
    }


def test_the_status_is_read_from_sns_each_time(api: ApiClient, alerts: AlertFakes) -> None:
    created = subscribe(api)
    alerts.subscriptions.confirm(only_arn(alerts))

    read = api.get(f"{PATH}/{created['id']}")
    listed = api.get(PATH)

    assert read.json == {**created, "status": "confirmed"}
    assert listed.json == {"items": [read.json], "next_cursor": None}


def test_subscriptions_are_listed_oldest_first_a_page_at_a_time(api: ApiClient) -> None:
    first_id, second_id = (subscribe(api, email=f"ops{n}@example.com")["id"] for n in (1, 2))
    in_order = sorted([first_id, second_id])  # the same created_at: then by id

    first = api.get(PATH, limit="1")
    second = api.get(PATH, limit="1", cursor=first.json["next_cursor"])

    assert [s["id"] for s in first.json["items"] + second.json["items"]] == in_order
    assert second.json["next_cursor"] is None


def test_deleting_unsubscribes_in_sns_then_forgets_it(api: ApiClient, alerts: AlertFakes) -> None:
    created = subscribe(api)
    arn = only_arn(alerts)

    answer = api.delete(f"{PATH}/{created['id']}")

    assert (answer.status, answer.text) == (204, "")
    assert alerts.subscriptions.statuses[arn] == "deleted"
    assert alerts.subscriptions.policies == {}
    assert alerts.store.subscription_items == {}
    assert api.get(f"{PATH}/{created['id']}").json == problem(
        404, f"alert-subscription {created['id']!r} not found"
    )


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"email": "ops"}, "email", "'ops' is not an email address (expected name@domain.tld)"),
        ({"email": None}, "email", "Input should be a valid string"),
        ({"kinds": ["fire"]}, "kinds[0]", "Input should be " + ", ".join(f"'{k}'" for k in ALL_KINDS[:-1])
         + f" or '{ALL_KINDS[-1]}'"),
        ({"kinds": []}, "kinds", "List should have at least 1 item after validation, not 0"),
        ({"kinds": ["communication", "communication"]}, "kinds[1]", "'communication' is listed twice"),
        ({"min_severity": "urgent"}, "min_severity", "Input should be 'info', 'warning' or 'critical'"),
        ({"site_ids": []}, "site_ids", "List should have at least 1 item after validation, not 0"),
        ({"site_ids": ["site-9"]}, "site_ids[0]", "no site 'site-9'"),
        ({"site_ids": ["bad id"]}, "site_ids[0]", "String should match pattern "
         "'^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$'"),
        ({"filter_policy": {}}, "filter_policy", "unknown field"),
    ],
)  # fmt: skip
def test_a_bad_subscription_is_refused_naming_the_field_and_subscribes_nobody(
    api: ApiClient, alerts: AlertFakes, body: dict[str, Any], field: str, reason: str
) -> None:
    answer = api.post(PATH, {"email": "ops@example.com", **body})

    assert answer.json == problem(422, f"{field}: {reason}", (field, reason))
    assert (alerts.subscriptions.policies, alerts.store.subscription_items) == ({}, {})


def test_another_accounts_site_is_refused_like_one_of_nobody(api: ApiClient, alerts: AlertFakes) -> None:
    plant(api.as_key(OTHER_ACCOUNT, "admin"))

    answer = api.post(PATH, {"email": "ops@example.com", "site_ids": ["site-1"]})

    assert answer.json == problem(422, "site_ids[0]: no site 'site-1'", ("site_ids[0]", "no site 'site-1'"))
    assert alerts.subscriptions.policies == {}


def test_an_address_is_subscribed_once_per_account(api: ApiClient, alerts: AlertFakes) -> None:
    first = subscribe(api)

    again = api.post(PATH, {"email": "OPS@example.com", "min_severity": "critical"})

    reason = f"is subscribed already ({first['id']}): change that subscription by deleting it first"
    assert again.json == problem(422, f"email: {reason}", ("email", reason))
    assert len(alerts.subscriptions.policies) == 1


def test_a_filter_beyond_what_sns_takes_is_refused(api: ApiClient, alerts: AlertFakes) -> None:
    plant(api)
    site_ids = ["site-1"]
    for n in range(2, 7):
        assert api.post("/v1/sites", {**SITE, "id": f"site-{n}"}).status == 201
        site_ids.append(f"site-{n}")

    nine_kinds = ALL_KINDS[:-2]  # of the ten
    body = {"email": "ops@example.com", "kinds": nine_kinds, "min_severity": "info", "site_ids": site_ids}

    answer = api.post(PATH, body)

    # 6 sites × 9 kinds × 3 severities = 162 value combinations; SNS takes 150
    reason = (
        "6 sites x 9 kinds x 3 severities make 162 filter combinations; SNS allows at most 150: name at most "
        "5 sites with these kinds and min_severity (or fewer kinds, a higher min_severity, or every site)"
    )
    assert answer.json == problem(422, f"site_ids: {reason}", ("site_ids", reason))
    assert alerts.subscriptions.policies == {}


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_another_accounts_subscription_is_not_found_and_stays(
    api: ApiClient, alerts: AlertFakes, method: str
) -> None:
    others = subscribe(api.as_key(OTHER_ACCOUNT, "admin"))

    answer = api.request(method, f"{PATH}/{others['id']}")

    assert answer.json == problem(404, f"alert-subscription {others['id']!r} not found")
    assert alerts.subscriptions.statuses[only_arn(alerts)] == "pending_confirmation"
    assert api.get(PATH).json == {"items": [], "next_cursor": None}


def test_without_an_alerts_topic_subscribing_is_not_implemented() -> None:
    alerts = AlertFakes()
    with fake_backend(settings=SETTINGS.model_copy(update={"alerts_topic_arn": ""}), alerts=alerts):
        api = handler_client()
        answer = api.post(PATH, {"email": "ops@example.com"})
        listed = api.get(PATH)

    detail = (
        "email subscriptions to alerts are not available: this deployment has no alerts topic "
        "(ALERTS_TOPIC_ARN is not set)"
    )
    assert answer.json == problem(501, detail)
    assert listed.json == {"items": [], "next_cursor": None}  # nothing to read from SNS: answered
    assert (alerts.subscriptions.policies, alerts.store.subscription_items) == ({}, {})


@pytest.mark.parametrize(("method", "path"), [("POST", PATH), ("DELETE", f"{PATH}/sub_1")])
def test_a_read_key_may_not_subscribe_or_unsubscribe(
    api: ApiClient, alerts: AlertFakes, method: str, path: str
) -> None:
    body = {"email": "ops@example.com"} if method == "POST" else None

    answer = api.as_key(ACCOUNT, "read").request(method, path, json_body=body)

    detail = "this API key's scopes (read) do not allow this operation; it needs 'admin'"
    assert answer.json == problem(403, detail)
    assert alerts.subscriptions.policies == {}


@pytest.mark.parametrize("path", [PATH, f"{PATH}/sub_1"])
def test_an_ingest_key_may_not_read_subscriptions(api: ApiClient, path: str) -> None:
    assert api.as_key(ACCOUNT, "ingest").get(path).status == 403
