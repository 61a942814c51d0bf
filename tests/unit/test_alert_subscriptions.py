"""Alert subscriptions: what a request may ask for, its SNS filter policy, SNS's matching of the policy."""

from __future__ import annotations

from typing import Any

import pytest

from meterbill.alerts.model import ALERT_KINDS
from meterbill.alerts.subscriptions import SubscriptionRequest, admits, filter_policy
from meterbill.errors import InvalidInputError

ACCOUNT = "acct-a"


def attributes(**changes: str) -> dict[str, str]:
    base = {
        "account_id": "acct-a",
        "kind": '["communication"]',
        "severity": "warning",
        "site_id": "berlin-office",
        "state": '["firing"]',
    }
    return base | changes


def refused(**fields: Any) -> InvalidInputError:
    request = {"email": "ops@example.com"} | fields
    with pytest.raises(InvalidInputError) as caught:
        SubscriptionRequest(**request)
    return caught.value


# --- validation -------------------------------------------------------------------------------------------


def test_a_request_takes_warning_every_kind_and_every_site_by_default() -> None:
    request = SubscriptionRequest("ops@example.com")
    assert (request.kinds, request.min_severity, request.site_ids) == ((), "warning", None)


@pytest.mark.parametrize(
    ("email", "reason"),
    [
        ("", "must not be empty"),
        ("ops example.com", "must not contain spaces or control characters"),
        (" ops@example.com", "must not contain spaces or control characters"),
        ("ops@example.com\n", "must not contain spaces or control characters"),
        ("Ops <ops@example.com>", "must not contain spaces or control characters"),
        (
            "ops@example.com,boss@example.com",
            "must be one plain address (name@example.com), without a display name",
        ),
        ("<ops@example.com>", "must be one plain address (name@example.com), without a display name"),
        ("ops.example.com", "must contain exactly one @"),
        ("ops@@example.com", "must contain exactly one @"),
        ("@example.com", "the part before @ must have 1 to 64 characters"),
        ("o" * 65 + "@example.com", "the part before @ must have 1 to 64 characters"),
        ("ops@localhost", "the domain must contain a dot and no empty labels (example.com)"),
        ("ops@example.", "the domain must contain a dot and no empty labels (example.com)"),
        ("ops@example..com", "the domain must contain a dot and no empty labels (example.com)"),
        ("ops@" + "d" * 247 + ".com", "at most 254 characters"),  # 255 characters
    ],
)
def test_a_bad_email_is_refused_naming_the_field(email: str, reason: str) -> None:
    error = refused(email=email)
    assert (error.field, error.reason) == ("email", reason)


def test_lists_from_a_json_body_are_kept_as_tuples() -> None:
    request = SubscriptionRequest("ops@example.com", ["energy_evasion"], "critical", ["hamburg"])  # type: ignore[arg-type]
    assert (request.kinds, request.site_ids) == (("energy_evasion",), ("hamburg",))


def test_the_longest_plain_address_is_accepted() -> None:
    email = "o" * 64 + "@" + "d" * 185 + ".com"  # 254 characters
    assert SubscriptionRequest(email).email == email


def test_an_unknown_kind_is_refused_at_its_index() -> None:
    error = refused(kinds=("communication", "meter_on_fire"))
    assert error.field == "kinds[1]"
    assert error.reason.startswith(
        "must be one of communication, collector_offline, collector_warning, energy_evasion,"
    )


def test_a_kind_listed_twice_is_refused() -> None:
    error = refused(kinds=("energy_evasion", "communication", "energy_evasion"))
    assert (error.field, error.reason) == ("kinds[2]", "'energy_evasion' is listed twice")


def test_an_unknown_severity_is_refused() -> None:
    error = refused(min_severity="fatal")
    assert (error.field, error.reason) == ("min_severity", "must be one of info, warning, critical")


def test_an_empty_site_list_is_refused_rather_than_read_as_every_site() -> None:
    error = refused(site_ids=())
    assert (error.field, error.reason) == (
        "site_ids",
        "must name at least one site (leave it out for every site)",
    )


def test_a_bad_or_repeated_site_id_is_refused_at_its_index() -> None:
    assert (refused(site_ids=("berlin", "bad id")).field, refused(site_ids=("berlin", "bad id")).reason) == (
        "site_ids[1]",
        "must be a site id",
    )
    assert refused(site_ids=("berlin", "berlin")).field == "site_ids[1]"


def test_more_than_100_sites_are_refused() -> None:
    error = refused(
        kinds=("energy_evasion",), min_severity="critical", site_ids=tuple(f"s-{n}" for n in range(101))
    )
    assert (error.field, error.reason) == ("site_ids", "at most 100 sites")


def test_a_policy_beyond_snss_150_combinations_is_refused_naming_site_ids() -> None:
    # 2 kinds x 3 severities (info and up) x 26 sites = 156 > 150; 25 sites make 150.
    kinds = ("energy_evasion", "communication")
    sites = tuple(f"s-{n}" for n in range(26))
    error = refused(kinds=kinds, min_severity="info", site_ids=sites)
    assert error.field == "site_ids"
    assert error.reason == (
        "26 sites x 2 kinds x 3 severities make 156 filter combinations; SNS allows at most 150: "
        "name at most 25 sites with these kinds and min_severity "
        "(or fewer kinds, a higher min_severity, or every site)"
    )
    assert SubscriptionRequest("ops@example.com", kinds, "info", sites[:25]).site_ids == sites[:25]


def test_every_kind_listed_counts_as_one_value_since_the_policy_leaves_kind_out() -> None:
    sites = tuple(f"s-{n}" for n in range(50))  # 10 kinds x 2 severities x 50 sites would be 1,000
    request = SubscriptionRequest("ops@example.com", ALERT_KINDS, "warning", sites)
    assert "kind" not in request.filter_policy(ACCOUNT)


# --- the filter policy ------------------------------------------------------------------------------------


def test_the_policy_of_every_kind_and_site_names_the_account_and_the_severities() -> None:
    assert SubscriptionRequest("ops@example.com").filter_policy(ACCOUNT) == {
        "account_id": ["acct-a"],
        "severity": ["warning", "critical"],
    }


def test_the_policy_of_chosen_kinds_and_sites() -> None:
    request = SubscriptionRequest("ops@example.com", ("energy_evasion", "phase_sum"), "critical", ("berlin",))
    assert request.filter_policy("acct-b") == {
        "account_id": ["acct-b"],
        "severity": ["critical"],
        "kind": ["energy_evasion", "phase_sum"],
        "site_id": ["berlin"],
    }


def test_info_and_up_lists_every_severity() -> None:
    assert filter_policy(ACCOUNT, (), "info", None)["severity"] == ["info", "warning", "critical"]


def test_a_policy_needs_an_account() -> None:
    with pytest.raises(InvalidInputError) as caught:
        filter_policy("", (), "warning", None)
    assert caught.value.field == "account_id"


# --- SNS's matching ---------------------------------------------------------------------------------------

POLICY_A = {"account_id": ["acct-a"], "severity": ["warning", "critical"]}
POLICY_B = {
    "account_id": ["acct-b"],
    "severity": ["critical"],
    "kind": ["energy_evasion"],
    "site_id": ["hamburg"],
}


def test_a_policy_admits_its_accounts_matching_message() -> None:
    assert admits(POLICY_A, attributes())


def test_another_accounts_message_is_never_admitted() -> None:
    assert not admits(POLICY_A, attributes(account_id="acct-b"))


def test_a_severity_below_the_minimum_is_not_admitted() -> None:
    assert not admits(POLICY_A, attributes(severity="info"))


def test_an_array_attribute_matches_when_any_element_does() -> None:
    grouped = attributes(
        account_id="acct-b", severity="critical", site_id="hamburg", kind='["communication","energy_evasion"]'
    )
    assert admits(POLICY_B, grouped)
    assert not admits(POLICY_B, grouped | {"kind": '["communication","phase_sum"]'})


def test_every_key_must_match() -> None:
    b_message = attributes(
        account_id="acct-b", severity="critical", site_id="hamburg", kind='["energy_evasion"]'
    )
    assert admits(POLICY_B, b_message)
    assert not admits(POLICY_B, b_message | {"site_id": "berlin-office"})
    assert not admits(POLICY_B, b_message | {"severity": "warning"})


def test_matching_is_exact_and_case_sensitive() -> None:
    assert not admits(POLICY_A, attributes(account_id="ACCT-A"))
    assert not admits(POLICY_A, attributes(account_id="acct-a "))


def test_a_message_without_a_policy_key_is_not_admitted() -> None:
    message = attributes()
    del message["severity"]
    assert not admits(POLICY_A, message)


def test_a_plain_string_where_an_array_is_expected_matches_nothing() -> None:
    assert not admits(
        POLICY_B | {"account_id": ["acct-a"], "severity": ["warning"], "site_id": ["berlin-office"]},
        attributes(kind="energy_evasion"),
    )


def test_an_empty_policy_admits_everything() -> None:
    assert admits({}, attributes())
