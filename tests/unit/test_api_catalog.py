"""Customers, sites, meters and assignments over HTTP: what each answer holds, what the store holds after it,
and how each kind of bad request is refused (4xx naming the field)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.fakes import FakeStores
from tests.unit.api_support import (
    ACCOUNT,
    OTHER_ACCOUNT,
    ApiClient,
    handler_client,
    problem,
)

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")


@pytest.fixture
def api(fakes: FakeStores) -> ApiClient:
    return handler_client()


NOW = "2026-03-01T12:00:00Z"  # the fake store's clock


def etag_of(fakes: FakeStores, kind: str, item_id: str, account: str = ACCOUNT) -> str:
    return fakes.catalog.items[(account, kind, item_id)].etag  # type: ignore[index]  # kind: str, not CatalogKind


def stamps(etag: str) -> dict[str, str]:
    return {"etag": etag, "created_at": NOW, "updated_at": NOW}


def add_site(api: ApiClient, site_id: str = "site-1") -> None:
    assert api.post("/v1/sites", {"id": site_id, "name": "Plant", "timezone": "Europe/Berlin"}).status == 201


def add_meter(api: ApiClient, meter_id: str = "mtr-1", **fields: Any) -> None:
    body = {
        "id": meter_id,
        "site_id": "site-1",
        "utility": "electricity",
        "unit": "kWh",
        "kind": "main",
        **fields,
    }
    assert api.post("/v1/meters", body).status == 201


# --- create -------------------------------------------------------------------------------------------------


def test_creating_a_customer_answers_its_record_with_location_and_etag_and_stores_it(api, fakes):
    answer = api.post(
        "/v1/customers",
        {
            "id": "cus-1",
            "name": "Ada Lovelace",
            "emails": ["ada@example.com"],
            "attributes": {"floor_area": 120.5, "rooms": "4", "vip": True},
        },
    )

    etag = etag_of(fakes, "customer", "cus-1")
    assert answer.status == 201
    assert answer.headers["location"] == "/v1/customers/cus-1"
    assert answer.headers["etag"] == f'"{etag}"'
    fields = {
        "id": "cus-1",
        "name": "Ada Lovelace",
        "emails": ["ada@example.com"],
        "phone": None,
        "address": None,
        "bill_title": None,
        "logo_ref": None,
        "attributes": {"floor_area": "120.5", "rooms": "4", "vip": True},
        "bill_day": None,  # the account's (billing settings)
        "language": "en",
        "vat_id": None,
        "buyer_reference": None,
    }
    assert answer.json == {**fields, **stamps(etag)}
    assert fakes.catalog.items[(ACCOUNT, "customer", "cus-1")].body == {**fields, "account_id": ACCOUNT}


def test_a_customer_without_an_id_gets_a_generated_one(api, fakes):
    answer = api.post("/v1/customers", {"name": "Bob"})

    assert answer.status == 201
    assert re.fullmatch(r"cus_[0-9a-f]{16}", answer.json["id"])
    assert answer.headers["location"] == f"/v1/customers/{answer.json['id']}"
    assert [key[2] for key in fakes.catalog.items] == [answer.json["id"]]


def test_a_meter_keeps_its_decimals_exactly_whether_sent_as_number_or_text(api, fakes):
    add_site(api)
    api.request(
        "POST",
        "/v1/meters",
        body='{"id": "mtr-1", "site_id": "site-1", "utility": "electricity", "unit": "kWh", "kind": "main",'
        ' "multiplier": 0.1000000000000000055511151231257827, "register_max": "99999.9"}',
    )

    stored = fakes.catalog.items[(ACCOUNT, "meter", "mtr-1")].body
    assert (stored["multiplier"], stored["register_max"]) == (
        "0.1000000000000000055511151231257827",
        "99999.9",
    )
    assert api.get("/v1/meters/mtr-1").json["multiplier"] == "0.1000000000000000055511151231257827"


def test_creating_an_id_taken_in_the_account_answers_409(api, fakes):
    api.post("/v1/customers", {"id": "cus-1", "name": "Ada"})

    answer = api.post("/v1/customers", {"id": "cus-1", "name": "Another Ada"})

    assert answer.status == 409
    assert answer.json == problem(
        409, "id: customer 'cus-1' already exists", ("id", "customer 'cus-1' already exists")
    )
    assert fakes.catalog.items[(ACCOUNT, "customer", "cus-1")].body["name"] == "Ada"


def test_the_same_id_in_another_account_is_another_object(api, fakes):
    api.post("/v1/customers", {"id": "cus-1", "name": "Ada"})

    answer = api.as_key(OTHER_ACCOUNT, "admin").post("/v1/customers", {"id": "cus-1", "name": "Bea"})

    assert answer.status == 201
    assert fakes.catalog.items[(OTHER_ACCOUNT, "customer", "cus-1")].body["name"] == "Bea"
    assert fakes.catalog.items[(ACCOUNT, "customer", "cus-1")].body["name"] == "Ada"


# --- refused bodies -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"name": "Ada", "account_id": OTHER_ACCOUNT}, [("account_id", "unknown field")]),
        ({"name": "Ada", "etag": "x"}, [("etag", "unknown field")]),
        ({"name": "Ada", "created_at": "2026-01-01T00:00:00Z"}, [("created_at", "unknown field")]),
        ({}, [("name", "required field is missing")]),
        ({"name": 5}, [("name", "Input should be a valid string")]),
        ({"name": "Ada", "bill_day": True}, [("bill_day", "Input should be a valid integer")]),
        ({"name": "Ada", "bill_day": "3"}, [("bill_day", "Input should be a valid integer")]),
        ({"name": "Ada", "bill_day": 29}, [("bill_day", "Input should be less than or equal to 28")]),
        ({"name": "Ada", "emails": "ada@example.com"}, [("emails", "Input should be a valid list")]),
        (
            {"name": "Ada", "emails": ["nobody"]},
            [("emails[0]", "'nobody' is not an email address (expected name@domain.tld)")],
        ),
        (
            {"name": 5, "phone": "0301234"},
            [
                ("name", "Input should be a valid string"),
                ("phone", "'0301234' is not an E.164 phone number (expected '+' then 6-15 digits)"),
            ],
        ),
    ],
)
def test_a_customer_body_of_the_wrong_shape_answers_422_naming_each_field(api, fakes, body, errors):
    answer = api.post("/v1/customers", body)

    assert answer.status == 422
    assert answer.content_type == "application/problem+json"
    assert answer.json["errors"] == [{"field": field, "reason": reason} for field, reason in errors]
    assert fakes.catalog.items == {}


def test_the_first_problem_and_the_count_of_the_others_make_the_detail(api):
    answer = api.post("/v1/customers", {"name": 5, "bill_day": "3", "emails": "x"})

    assert answer.json == problem(
        422,
        "name: Input should be a valid string (and 2 more problems)",
        ("name", "Input should be a valid string"),
        ("emails", "Input should be a valid list"),
        ("bill_day", "Input should be a valid integer"),
    )


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"interval_minutes": True}, ("interval_minutes", "true is not an integer")),
        ({"interval_minutes": "15"}, ("interval_minutes", '"15" is not an integer')),
        ({"interval_minutes": 15.0}, ("interval_minutes", "15.0 is not an integer")),
        ({"interval_minutes": [1.5]}, ("interval_minutes", '["1.5"] is not an integer')),
        ({"interval_minutes": 10}, ("interval_minutes", "Input should be 1, 5, 15, 30 or 60")),
        ({"multiplier": 0}, ("multiplier", "Input should be greater than 0")),
        (
            {"multiplier": True},
            ("multiplier", "Decimal input should be an integer, float, string or Decimal object"),
        ),
        (
            {"utility": "steam"},
            ("utility", "Input should be 'electricity', 'gas', 'water', 'thermal', 'on_time' or 'compute'"),
        ),
    ],
)
def test_a_meter_body_of_the_wrong_shape_answers_422_naming_the_field(api, fakes, fields, error):
    add_site(api)
    body = {"site_id": "site-1", "utility": "electricity", "unit": "kWh", "kind": "main", **fields}

    answer = api.post("/v1/meters", body)

    assert (answer.status, answer.json["errors"]) == (422, [{"field": error[0], "reason": error[1]}])


def test_what_the_catalog_refuses_is_named_by_the_field_at_fault(api, fakes):
    add_site(api)

    wrong_unit = api.post(
        "/v1/meters", {"site_id": "site-1", "utility": "water", "unit": "kWh", "kind": "main"}
    )
    no_site = api.post("/v1/meters", {"site_id": "site-9", "utility": "water", "unit": "m3", "kind": "main"})
    bad_zone = api.post("/v1/sites", {"name": "Moon", "timezone": "Moon/Base"})

    assert wrong_unit.json["errors"] == [
        {"field": "unit", "reason": "unit 'kWh' does not fit utility 'water'; expected one of: L, m3"}
    ]
    assert no_site.json == problem(422, "site_id: no site 'site-9'", ("site_id", "no site 'site-9'"))
    assert bad_zone.json["errors"] == [
        {
            "field": "timezone",
            "reason": "unknown time zone 'Moon/Base' (expected an IANA name like 'Europe/Berlin')",
        }
    ]


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"effective_from": 0}, ("effective_from", "0 is not a date written YYYY-MM-DD")),
        ({"effective_from": "2026-02-30"}, ("effective_from", "day is out of range for month")),
        ({"effective_from": "20260201"}, ("effective_from", "'20260201' is not a date written YYYY-MM-DD")),
        (
            {"effective_from": "2026-02-01T00:00:00"},
            ("effective_from", "'2026-02-01T00:00:00' is not a date written YYYY-MM-DD"),
        ),
        ({"share": "1.5"}, ("share", "Input should be less than or equal to 1")),
    ],
)
def test_an_assignment_body_of_the_wrong_shape_answers_422_naming_the_field(api, fields, error):
    body = {
        "meter_id": "mtr-1",
        "customer_id": "cus-1",
        "tariff_id": "t",
        "effective_from": "2026-01-01",
        **fields,
    }

    answer = api.post("/v1/assignments", body)

    assert (answer.status, answer.json["errors"]) == (422, [{"field": error[0], "reason": error[1]}])


# --- list ---------------------------------------------------------------------------------------------------


def test_a_list_is_paged_in_id_order_with_a_cursor_to_the_next_page(api, fakes):
    for customer_id in ("cus-3", "cus-1", "cus-2"):
        api.post("/v1/customers", {"id": customer_id, "name": customer_id.upper()})

    first = api.get("/v1/customers", limit="2")
    second = api.get("/v1/customers", limit="2", cursor=first.json["next_cursor"])

    assert [c["id"] for c in first.json["items"]] == ["cus-1", "cus-2"]
    assert first.json["next_cursor"] == "after:cus-2"
    assert second.json == {
        "items": [
            {
                "id": "cus-3",
                "name": "CUS-3",
                "emails": [],
                "phone": None,
                "address": None,
                "bill_title": None,
                "logo_ref": None,
                "attributes": {},
                "bill_day": None,
                "language": "en",
                "vat_id": None,
                "buyer_reference": None,
                **stamps(etag_of(fakes, "customer", "cus-3")),
            }
        ],
        "next_cursor": None,
    }


def test_a_list_shows_the_callers_account_only(api):
    api.post("/v1/sites", {"id": "site-a", "name": "A", "timezone": "Europe/Berlin"})
    other = api.as_key(OTHER_ACCOUNT, "admin")
    other.post("/v1/sites", {"id": "site-b", "name": "B", "timezone": "Europe/Vienna"})

    assert [s["id"] for s in api.get("/v1/sites").json["items"]] == ["site-a"]
    assert [s["id"] for s in other.get("/v1/sites").json["items"]] == ["site-b"]


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ({"limit": "0"}, ("limit", "Input should be greater than or equal to 1")),
        ({"limit": "101"}, ("limit", "Input should be less than or equal to 100")),
        (
            {"limit": "ten"},
            ("limit", "Input should be a valid integer, unable to parse string as an integer"),
        ),
        ({"cursor": "page-2"}, ("cursor", "not a cursor of this listing")),
    ],
)
def test_a_bad_page_size_or_cursor_answers_422_naming_it(api, query, error):
    answer = api.get("/v1/meters", **query)

    assert answer.json == problem(422, f"{error[0]}: {error[1]}", error)


# --- read ---------------------------------------------------------------------------------------------------


def test_reading_an_object_answers_it_with_its_etag(api, fakes):
    add_site(api)

    answer = api.get("/v1/sites/site-1")

    etag = etag_of(fakes, "site", "site-1")
    assert answer.status == 200
    assert answer.headers["etag"] == f'"{etag}"'
    assert answer.json == {
        "id": "site-1",
        "name": "Plant",
        "timezone": "Europe/Berlin",
        "holiday_country": None,
        "holiday_subdivision": None,
        "address": None,
        "attributes": {},
        **stamps(etag),
    }


FLAT_TARIFF = {
    "id": "flat",
    "name": "Flat",
    "energy": {"periods": [{"name": "all", "tiers": [{"rate": "0.30"}]}]},
}
REPLACEMENTS = {
    "customers": {"name": "mine"},
    "sites": {"name": "mine", "timezone": "UTC"},
    "meters": {"site_id": "x-1", "utility": "gas", "unit": "m3", "kind": "main"},
    "assignments": {
        "meter_id": "x-1",
        "customer_id": "x-1",
        "tariff_id": "flat",
        "effective_from": "2026-01-01",
    },
}


def add_one_of_each(api: ApiClient, item_id: str) -> None:
    api.post("/v1/customers", {"id": item_id, "name": "Ada"})
    api.post("/v1/sites", {"id": item_id, "name": "Plant", "timezone": "Europe/Berlin"})
    add_meter(api, item_id, site_id=item_id)
    api.post("/v1/tariffs", FLAT_TARIFF)
    body = {"id": item_id, "meter_id": item_id, "customer_id": item_id, "tariff_id": "flat"}
    assert api.post("/v1/assignments", {**body, "effective_from": "2026-01-01"}).status == 201


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
@pytest.mark.parametrize("resource", ["customers", "sites", "meters", "assignments"])
def test_another_accounts_id_is_not_found_exactly_like_a_missing_id(api, fakes, resource, method):
    add_one_of_each(api, "x-1")
    stored = dict(fakes.catalog.items)
    intruder = api.as_key(OTHER_ACCOUNT, "admin")
    body = REPLACEMENTS[resource] if method == "PUT" else None

    theirs = intruder.request(method, f"/v1/{resource}/x-1", json_body=body)
    missing = intruder.request(method, f"/v1/{resource}/x-2", json_body=body)

    kind = resource.removesuffix("s")
    assert theirs.json == problem(404, f"{kind} 'x-1' not found")
    assert missing.json == problem(404, f"{kind} 'x-2' not found")
    assert fakes.catalog.items == stored


# --- replace ------------------------------------------------------------------------------------------------


def test_replacing_with_the_current_etag_stores_the_new_body_and_answers_a_new_etag(api, fakes):
    api.post("/v1/customers", {"id": "cus-1", "name": "Ada", "bill_day": 5})
    before = etag_of(fakes, "customer", "cus-1")

    answer = api.put("/v1/customers/cus-1", {"name": "Ada Lovelace"}, headers={"If-Match": f'"{before}"'})

    after = etag_of(fakes, "customer", "cus-1")
    assert answer.status == 200
    assert after != before
    assert answer.headers["etag"] == f'"{after}"'
    assert (answer.json["name"], answer.json["bill_day"]) == ("Ada Lovelace", None)  # replaced as a whole
    assert fakes.catalog.items[(ACCOUNT, "customer", "cus-1")].body["name"] == "Ada Lovelace"


@pytest.mark.parametrize("if_match", ["*", None])
def test_replacing_without_a_specific_etag_replaces_whatever_is_current(api, fakes, if_match):
    api.post("/v1/customers", {"id": "cus-1", "name": "Ada"})
    headers = {"If-Match": if_match} if if_match else {}

    answer = api.put("/v1/customers/cus-1", {"name": "Ada L."}, headers=headers)

    assert (answer.status, fakes.catalog.items[(ACCOUNT, "customer", "cus-1")].body["name"]) == (
        200,
        "Ada L.",
    )


@pytest.mark.parametrize("stale", ['"0000000000000000"', 'W/"{etag}"', "0000000000000000"])
def test_replacing_with_an_etag_that_is_not_current_answers_412_and_changes_nothing(api, fakes, stale):
    api.post("/v1/customers", {"id": "cus-1", "name": "Ada"})
    etag = etag_of(fakes, "customer", "cus-1")

    answer = api.put("/v1/customers/cus-1", {"name": "Eve"}, headers={"if-match": stale.format(etag=etag)})

    reason = "is not the current ETag of customer 'cus-1'; read it again"
    assert answer.json == problem(412, f"If-Match: {reason}", ("If-Match", reason))
    assert fakes.catalog.items[(ACCOUNT, "customer", "cus-1")].body["name"] == "Ada"


def test_an_if_match_with_several_etags_answers_422(api, fakes):
    api.post("/v1/customers", {"id": "cus-1", "name": "Ada"})

    answer = api.put("/v1/customers/cus-1", {"name": "Eve"}, headers={"If-Match": '"a", "b"'})

    reason = "give the one ETag the change is based on"
    assert answer.json == problem(422, f"If-Match: {reason}", ("If-Match", reason))


def test_a_replacement_naming_another_id_answers_422(api, fakes):
    api.post("/v1/customers", {"id": "cus-1", "name": "Ada"})

    answer = api.put("/v1/customers/cus-1", {"id": "cus-2", "name": "Ada"})

    reason = "'cus-2' is not the id of the object replaced ('cus-1')"
    assert answer.json == problem(422, f"id: {reason}", ("id", reason))


# --- delete -------------------------------------------------------------------------------------------------


def test_deleting_answers_204_and_removes_the_object(api, fakes):
    api.post("/v1/customers", {"id": "cus-1", "name": "Ada"})
    etag = etag_of(fakes, "customer", "cus-1")

    answer = api.delete("/v1/customers/cus-1", headers={"If-Match": f'"{etag}"'})

    assert (answer.status, answer.text) == (204, "")
    assert fakes.catalog.items == {}
    assert api.get("/v1/customers/cus-1").status == 404


def test_deleting_with_a_stale_etag_answers_412_and_keeps_the_object(api, fakes):
    api.post("/v1/customers", {"id": "cus-1", "name": "Ada"})

    answer = api.delete("/v1/customers/cus-1", headers={"If-Match": '"stale"'})

    assert answer.status == 412
    assert (ACCOUNT, "customer", "cus-1") in fakes.catalog.items


def test_an_object_still_referred_to_is_not_deleted(api, fakes):
    add_site(api)
    add_meter(api)

    answer = api.delete("/v1/sites/site-1")

    reason = "site 'site-1' is still used by meter 'mtr-1'; change that first"
    assert answer.json == problem(422, f"id: {reason}", ("id", reason))
    assert (ACCOUNT, "site", "site-1") in fakes.catalog.items


# --- assignments --------------------------------------------------------------------------------------------


def test_an_assignment_links_a_meter_to_a_customer_under_a_tariff(api, fakes):
    add_site(api)
    add_meter(api)
    api.post("/v1/customers", {"id": "cus-1", "name": "Ada"})
    api.post("/v1/tariffs", FLAT_TARIFF)

    answer = api.post(
        "/v1/assignments",
        {
            "id": "asg-1",
            "meter_id": "mtr-1",
            "customer_id": "cus-1",
            "tariff_id": "flat",
            "share": 0.5,
            "effective_from": "2026-01-01",
        },
    )

    assert answer.status == 201
    assert answer.json == {
        "id": "asg-1",
        "meter_id": "mtr-1",
        "customer_id": "cus-1",
        "tariff_id": "flat",
        "share": "0.5",
        "effective_from": "2026-01-01",
        "effective_to": None,
        "basis": "meter",
        "allocation": "share",
        **stamps(etag_of(fakes, "assignment", "asg-1")),
    }
    assert fakes.catalog.items[(ACCOUNT, "assignment", "asg-1")].body == {
        "id": "asg-1",
        "account_id": ACCOUNT,
        "meter_id": "mtr-1",
        "customer_id": "cus-1",
        "tariff_id": "flat",
        "share": "0.5",
        "effective_from": "2026-01-01",
        "effective_to": None,
        "basis": "meter",
        "allocation": "share",
    }


def test_a_residual_assignment_needs_a_main_meter_with_sub_meters(api, fakes):
    add_site(api)
    add_meter(api)
    api.post("/v1/customers", {"id": "cus-1", "name": "Ada"})
    api.post("/v1/tariffs", FLAT_TARIFF)
    residual = {
        "id": "asg-1",
        "meter_id": "mtr-1",
        "customer_id": "cus-1",
        "tariff_id": "flat",
        "effective_from": "2026-01-01",
        "basis": "residual",
        "allocation": "area",
    }

    alone = api.post("/v1/assignments", residual)
    add_meter(api, "mtr-1a", kind="sub", parent_id="mtr-1")
    with_sub = api.post("/v1/assignments", residual)

    assert (alone.status, alone.json["errors"]) == (
        422,
        [{"field": "basis", "reason": "residual needs sub-meters; no meter has parent_id 'mtr-1'"}],
    )
    assert (with_sub.status, with_sub.json["basis"], with_sub.json["allocation"]) == (201, "residual", "area")
