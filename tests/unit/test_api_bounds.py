"""Bounds on what a client may store or ask for: every text, list and map of the catalog has a documented
limit (so no catalog object outgrows DynamoDB's 400 KB item), and every date lies in 2000-01-01 ... 2100-01-01
(so no local midnight, month or look-back leaves Python's calendar). Beyond a bound: 422 naming the field."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from meterbill.adapters.dynamodb import exact_json
from meterbill.domain import (
    MAX_ADDRESS_LINES,
    MAX_ATTRIBUTE_NAME_LENGTH,
    MAX_ATTRIBUTE_TEXT_LENGTH,
    MAX_ATTRIBUTES,
    MAX_EMAILS,
    MAX_LABEL_LENGTH,
    MAX_METER_CHANGES,
    MAX_REFERENCE_LENGTH,
    MAX_TEXT_LENGTH,
    Assignment,
    Customer,
    Meter,
    Site,
)
from meterbill.errors import InvalidInputError
from meterbill.services import catalog as catalog_service
from meterbill.services.preview import bill_preview
from meterbill.services.usage import meter_usage
from tests.fakes import FakeCatalogStore, FakeReadingStore, FakeStores
from tests.unit.api_support import ApiClient, handler_client, problem

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")

DYNAMODB_MAX_ITEM_BYTES = 400 * 1024
WIDE = "\U0001f50c"  # 4 bytes in UTF-8: the worst case for an item's size
CALENDAR = "is outside the supported calendar, 2000-01-01 to 2100-01-01"
WEST = timezone(timedelta(hours=-12))
TARIFF = {"id": "flat", "name": "Flat", "energy": {"periods": [{"name": "all", "tiers": [{"rate": "0.30"}]}]}}


@pytest.fixture
def api(fakes: FakeStores) -> ApiClient:
    client = handler_client()
    assert (
        client.post("/v1/sites", {"id": "site-1", "name": "Plant", "timezone": "Europe/Berlin"}).status == 201
    )
    meter = {"id": "mtr-1", "site_id": "site-1", "utility": "electricity", "unit": "kWh", "kind": "main"}
    assert client.post("/v1/meters", meter).status == 201
    assert client.post("/v1/customers", {"id": "cus-1", "name": "Ada"}).status == 201
    assert client.post("/v1/tariffs", TARIFF).status == 201
    return client


def refused(answer: Any, field: str, reason: str) -> None:
    assert (answer.status, answer.content_type) == (422, "application/problem+json"), answer.text
    assert answer.json == problem(422, f"{field}: {reason}", (field, reason))


# --- item 16: texts, lists and maps -------------------------------------------------------------------------


def test_a_450_kb_site_name_is_refused_naming_the_name(api, fakes):
    answer = api.post("/v1/sites", {"id": "site-2", "name": "x" * 450_000, "timezone": "Europe/Berlin"})

    refused(answer, "name", f"String should have at most {MAX_TEXT_LENGTH} characters")
    assert ("acc_a", "site", "site-2") not in fakes.catalog.items


def test_60000_customer_attributes_are_refused_naming_the_attributes(api, fakes):
    attributes = {f"a{i}": 1 for i in range(60_000)}

    answer = api.post("/v1/customers", {"id": "cus-2", "name": "Bo", "attributes": attributes})

    refused(
        answer,
        "attributes",
        f"Dictionary should have at most {MAX_ATTRIBUTES} items after validation, not more",
    )
    assert ("acc_a", "customer", "cus-2") not in fakes.catalog.items


def test_a_long_serial_is_refused_naming_the_serial(api):
    meter = {"site_id": "site-1", "utility": "electricity", "unit": "kWh", "kind": "main", "serial": "7" * 65}

    refused(
        api.post("/v1/meters", meter), "serial", f"String should have at most {MAX_LABEL_LENGTH} characters"
    )


def customer(**fields: Any) -> tuple[str, dict[str, Any]]:
    return "/v1/customers", {"name": "B", **fields}


def meter(**fields: Any) -> tuple[str, dict[str, Any]]:
    return "/v1/meters", {
        "site_id": "site-1",
        "utility": "electricity",
        "unit": "kWh",
        "kind": "main",
        **fields,
    }


def address(**fields: Any) -> dict[str, Any]:
    return {"lines": ["Hauptstr. 1"], "city": "Berlin", "country": "DE", **fields}


def at_most(count: int, what: str = "characters") -> str:
    return f"String should have at most {count} {what}"


def at_most_items(count: int, sent: int, kind: str = "List") -> str:
    return f"{kind} should have at most {count} items after validation, not {sent}"


TOO_MANY_DIGITS = "Decimal input should have no more than 38 digits in total"
ASSIGNMENT = {
    "meter_id": "mtr-1",
    "customer_id": "cus-1",
    "tariff_id": "flat",
    "effective_from": "2026-01-01",
}
LONG_KEY = "a" * 65


@pytest.mark.parametrize(
    ("request_", "field", "reason"),
    [
        (customer(name="x" * 201), "name", at_most(200)),
        (customer(bill_title="t" * 201), "bill_title", at_most(200)),
        (customer(logo_ref="l" * 1025), "logo_ref", at_most(1024)),
        (customer(emails=["a@b.de"] * 11), "emails", at_most_items(10, 11)),
        (customer(emails=["a" * 250 + "@b.de"]), "emails[0]", at_most(254)),
        (customer(phone="+49 " + "1" * 40), "phone", at_most(32)),
        (customer(attributes={LONG_KEY: 1}), f"attributes.{LONG_KEY}.[key]", at_most(64)),
        (
            customer(attributes={"tier": "t" * 201}),
            "attributes.tier",
            "attribute text has 201 characters; at most 200",
        ),
        (
            customer(attributes={"area": "1" * 39}),
            "attributes.area",
            f"{'1' * 39} has more than 38 significant digits",
        ),
        (customer(attributes={"area": "1e15"}), "attributes.area", "1E+15 is not less than 1e+15 in size"),
        (
            customer(attributes={"area": 10**400}),
            "attributes.area",
            "attribute value has more than 38 digits",
        ),
        (customer(address=address(lines=["l"] * 6)), "address.lines", at_most_items(5, 6, "Tuple")),
        (customer(address=address(city="c" * 201)), "address.city", at_most(200)),
        (customer(address=address(postal_code="1" * 65)), "address.postal_code", at_most(64)),
        (("/v1/sites", {"name": "S", "timezone": "E" * 65}), "timezone", at_most(64)),
        (
            (
                "/v1/sites",
                {"name": "S", "timezone": "UTC", "holiday_country": "DE", "holiday_subdivision": "B" * 65},
            ),
            "holiday_subdivision",
            at_most(64),
        ),
        (meter(unit="k" * 65), "unit", at_most(64)),
        (meter(labels={"rack": "r" * 65}), "labels.rack", at_most(64)),
        (meter(external_id="e" * 201), "external_id", at_most(200)),
        (meter(multiplier="1e400"), "multiplier", TOO_MANY_DIGITS),
        (meter(register_max="1e15"), "register_max", "Input should be less than 1000000000000000"),
        (meter(multiplier="0." + "1" * 40), "multiplier", TOO_MANY_DIGITS),
        (
            ("/v1/assignments", {**ASSIGNMENT, "share": "0." + "3" * 5000}),
            "share",
            "Decimal input should have no more than 9 decimal places",
        ),
        (("/v1/api-keys", {"name": "k", "scopes": ["read"] * 4}), "scopes", at_most_items(3, 4)),
    ],
)
def test_every_text_list_and_map_of_the_catalog_is_bounded(api, request_, field, reason):
    path, body = request_

    refused(api.post(path, body), field, reason)


def test_the_largest_customer_site_and_meter_fit_a_dynamodb_item_many_times_over():
    """Each at every bound, in 4-byte characters: the stored body (exact JSON) stays under 100 KB."""
    text, label = WIDE * MAX_TEXT_LENGTH, WIDE * MAX_LABEL_LENGTH
    address = {"lines": [text] * MAX_ADDRESS_LINES, "postal_code": label, "city": text, "country": "DE"}
    customer = Customer(
        id="c" * 64,
        account_id="a" * 64,
        name=text,
        emails=tuple(f"{'e' * 240}{i:02d}@example.com"[-254:] for i in range(MAX_EMAILS)),
        phone="+49 30 1234 5678 90",
        address=address,
        bill_title=text,
        logo_ref="l" * MAX_REFERENCE_LENGTH,
        attributes={
            f"a{i:0{MAX_ATTRIBUTE_NAME_LENGTH - 1}d}": WIDE * MAX_ATTRIBUTE_TEXT_LENGTH
            for i in range(MAX_ATTRIBUTES)
        },
    )
    site = Site(
        id="s" * 64,
        account_id="a" * 64,
        name=text,
        timezone="America/Argentina/ComodRivadavia",
        address=address,
    )
    meter = Meter(
        id="m" * 64,
        account_id="a" * 64,
        site_id="s" * 64,
        external_id=text,
        utility="electricity",
        unit="kWh",
        kind="main",
        multiplier=Decimal("9" * 15),
        register_max=Decimal("0." + "9" * 37),
        labels={"room": label, "rack": label, "feed": label, "phase": "L1", "device": label},
        serial=label,
        multipliers=[
            {
                "effective_from": datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=i),
                "multiplier": "0." + "9" * 37,
            }
            for i in range(MAX_METER_CHANGES)
        ],
        exchanges=[
            {
                "timestamp": datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=i, microseconds=1),
                "old_serial": label,
                "old_final": "0." + "9" * 37,
                "new_serial": label,
                "new_initial": "0." + "9" * 37,
                "note": text,
            }
            for i in range(MAX_METER_CHANGES)
        ],
        limits={name: "0." + "9" * 37 for name in ("register_resolution", "max_power", "sum_tolerance")},
    )

    sizes = [
        len(exact_json.dumps(value.model_dump(mode="json")).encode()) for value in (customer, site, meter)
    ]

    assert max(sizes) < DYNAMODB_MAX_ITEM_BYTES // 4, sizes


# --- item 17: dates at the calendar's ends ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field", "value"),
    [
        ({"from": "0001-01-01", "to": "2026-01-02"}, "from", "0001-01-01"),
        ({"from": "2026-01-01", "to": "9999-12-31"}, "to", "9999-12-31"),
        ({"from": "1999-12-31", "to": "2000-01-01"}, "from", "1999-12-31"),
        ({"from": "2100-01-01", "to": "2100-01-02"}, "to", "2100-01-02"),
        ({"from": "9999-12-31T00:00:00+00:00", "to": "2026-01-02"}, "from", "9999-12-31T00:00:00+00:00"),
        ({"from": "2026-01-01", "to": "0001-01-01T00:00:00+14:00"}, "to", "0001-01-01T00:00:00+14:00"),
    ],
)
def test_usage_at_the_calendars_ends_is_refused_naming_the_date(api, query, field, value):
    refused(api.get("/v1/meters/mtr-1/usage", **query), field, f"{value} {CALENDAR}")


@pytest.mark.parametrize(
    ("query", "field", "value"),
    [
        ({"from": "0001-01-01", "to": "2026-01-02"}, "from", "0001-01-01"),
        ({"from": "2026-01-01", "to": "9999-12-31"}, "to", "9999-12-31"),
    ],
)
def test_a_bill_preview_at_the_calendars_ends_is_refused_naming_the_date(api, query, field, value):
    refused(api.get("/v1/customers/cus-1/bill-preview", **query), field, f"{value} {CALENDAR}")


def test_an_assignment_from_0001_to_9999_is_refused_naming_both_dates(api, fakes):
    body = {
        "id": "asg-1",
        "meter_id": "mtr-1",
        "customer_id": "cus-1",
        "tariff_id": "flat",
        "effective_from": "0001-01-01",
        "effective_to": "9999-12-31",
    }

    answer = api.post("/v1/assignments", body)

    assert answer.status == 422
    assert answer.json["errors"] == [
        {"field": "effective_from", "reason": f"0001-01-01 {CALENDAR}"},
        {"field": "effective_to", "reason": f"9999-12-31 {CALENDAR}"},
    ]
    assert ("acc_a", "assignment", "asg-1") not in fakes.catalog.items


def test_the_calendars_own_ends_are_usable(api):
    body = {"meter_id": "mtr-1", "customer_id": "cus-1", "tariff_id": "flat", "effective_from": "2000-01-01"}
    assert api.post("/v1/assignments", {**body, "id": "asg-1", "effective_to": "2100-01-01"}).status == 201

    first = api.get("/v1/meters/mtr-1/usage", **{"from": "2000-01-01", "to": "2000-01-02"})
    last = api.get("/v1/customers/cus-1/bill-preview", **{"from": "2099-12-31", "to": "2100-01-01"})

    assert (first.status, first.json["qualities"]["missing"]) == (200, 96)
    assert (last.status, last.json["bills"][0]["bill"]["usage"]["missing_intervals"]) == (200, 96)


# The services refuse such dates themselves (the CLI and other callers do not pass the API's schemas).


@pytest.fixture
def catalog() -> FakeCatalogStore:
    store = FakeCatalogStore()
    catalog_service.create("acc", Site, {"id": "s", "name": "S", "timezone": "Pacific/Kiritimati"}, store)
    meter = {"id": "m", "site_id": "s", "utility": "electricity", "unit": "kWh", "kind": "main"}
    catalog_service.create("acc", Meter, meter, store)
    catalog_service.create("acc", Customer, {"id": "c", "name": "C"}, store)
    return store


@pytest.mark.parametrize(
    ("start", "end", "field", "value"),
    [
        (date(1, 1, 1), date(1, 1, 2), "from", "0001-01-01"),
        (date(2026, 1, 1), date(9999, 12, 31), "to", "9999-12-31"),
        (datetime(9999, 12, 31, tzinfo=WEST), date(2026, 1, 1), "from", "9999-12-31T00:00:00-12:00"),
    ],
)
def test_the_usage_service_refuses_dates_outside_the_calendar(catalog, start, end, field, value):
    with pytest.raises(InvalidInputError) as err:
        meter_usage("acc", "m", start, end, "day", catalog, FakeReadingStore())

    assert (err.value.field, err.value.reason) == (field, f"{value} {CALENDAR}")


@pytest.mark.parametrize(
    ("start", "end", "field", "value"),
    [
        (date(1, 1, 1), date(1, 1, 2), "from", "0001-01-01"),
        (date(9999, 12, 30), date(9999, 12, 31), "from", "9999-12-30"),
    ],
)
def test_the_preview_service_refuses_dates_outside_the_calendar(catalog, start, end, field, value):
    with pytest.raises(InvalidInputError) as err:
        bill_preview("acc", "c", start, end, catalog, FakeReadingStore())

    assert (err.value.field, err.value.reason) == (field, f"{value} {CALENDAR}")


def test_the_catalog_refuses_an_assignment_outside_the_calendar(catalog):
    catalog_service.create_tariff("acc", TARIFF, catalog)
    body = {"meter_id": "m", "customer_id": "c", "tariff_id": "flat", "effective_from": "2026-01-01"}

    with pytest.raises(InvalidInputError) as err:
        catalog_service.create("acc", Assignment, {**body, "effective_to": "9999-12-31"}, catalog)

    assert (err.value.field, err.value.reason) == ("effective_to", f"9999-12-31 {CALENDAR}")


# --- tariff documents ---------------------------------------------------------------------------------------


BIG_TARIFF = {**TARIFF, "id": "t2", **{f"note{i}": "n" * 9_000 for i in range(12)}}  # 12 texts of 9,000


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("document", "field", "reason"),
    [
        ({**TARIFF, "id": "t2", "name": "n" * 10_001}, "name", "a text of 10001 characters; at most 10000"),
        (
            {
                **TARIFF,
                "id": "t2",
                "energy": {"periods": [{"name": f"p{i}", "tiers": []} for i in range(1001)]},
            },
            "energy.periods",
            "1001 items; at most 1000",
        ),
        (
            {**TARIFF, "id": "t2", "variables": {"v": nested(40)}},
            "variables.v" + "[0]" * 31,
            "nested more than 32 levels deep",
        ),
        (
            BIG_TARIFF,
            "body",
            f"{len(json.dumps(BIG_TARIFF, separators=(',', ':')))} bytes as JSON; at most 100000",
        ),
        ({**TARIFF, "id": "t2", "effective_from": "0001-01-01"}, "effective_from", f"0001-01-01 {CALENDAR}"),
        ({**TARIFF, "id": "t2", "effective_to": "9999-12-31"}, "effective_to", f"9999-12-31 {CALENDAR}"),
    ],
)
def test_a_tariff_document_beyond_its_bounds_is_refused_naming_the_field(api, fakes, document, field, reason):
    refused(api.post("/v1/tariffs", document), field, reason)
    assert not [key for key in fakes.catalog.items if key[2].startswith("t2@")]


def test_a_new_tariff_version_from_0001_is_refused_naming_the_date(api):
    answer = api.post("/v1/tariffs/flat/versions", TARIFF, query={"effective_from": "0001-01-01"})

    refused(answer, "effective_from", f"0001-01-01 {CALENDAR}")
