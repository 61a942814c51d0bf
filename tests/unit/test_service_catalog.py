"""The catalog: bodies validated by the domain models, the account set from the key, references checked."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from meterbill.domain import Assignment, Customer, Meter, Site
from meterbill.errors import AlreadyExistsError, InvalidInputError, NotFoundError, PreconditionFailedError
from meterbill.services import catalog
from tests.fakes import FIXED_NOW, FakeCatalogStore

A, B = "acc-a", "acc-b"


def site(site_id: str = "berlin", **fields: Any) -> dict[str, Any]:
    return {"id": site_id, "name": "Berlin plant", "timezone": "Europe/Berlin", **fields}


def meter(meter_id: str = "m1", **fields: Any) -> dict[str, Any]:
    return {
        "id": meter_id,
        "site_id": "berlin",
        "utility": "electricity",
        "unit": "kWh",
        "kind": "main",
        **fields,
    }


def customer(customer_id: str = "c1", **fields: Any) -> dict[str, Any]:
    return {"id": customer_id, "name": "Bäckerei Schulz", **fields}


def assignment(assignment_id: str = "as1", **fields: Any) -> dict[str, Any]:
    return {
        "id": assignment_id,
        "meter_id": "m1",
        "customer_id": "c1",
        "tariff_id": "flat",
        "effective_from": "2026-01-01",
        **fields,
    }


def flat_tariff(**fields: Any) -> dict[str, Any]:
    periods = [{"name": "all", "tiers": [{"rate": "0.30"}]}]
    return {"id": "flat", "name": "Flat", "currency": "EUR", "energy": {"periods": periods}, **fields}


@pytest.fixture
def store() -> FakeCatalogStore:
    return FakeCatalogStore()


@pytest.fixture
def world(store: FakeCatalogStore) -> FakeCatalogStore:
    """Account A with site berlin, main meter m1, customer c1 and tariff flat."""
    catalog.create(A, Site, site(), store)
    catalog.create(A, Meter, meter(), store)
    catalog.create(A, Customer, customer(), store)
    catalog.create_tariff(A, flat_tariff(), store)
    return store


def invalid(call: Any, *args: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(InvalidInputError) as err:
        call(*args, **kwargs)
    return err.value.field, err.value.reason


# --- create, get, replace, delete ---------------------------------------------------------------------------


def test_a_created_object_carries_the_account_of_the_key_and_is_stored_as_json(
    store: FakeCatalogStore,
) -> None:
    entry = catalog.create(A, Site, site(holiday_country="DE", holiday_subdivision="BE"), store)
    assert entry.value == Site(
        id="berlin",
        account_id=A,
        name="Berlin plant",
        timezone="Europe/Berlin",
        holiday_country="DE",
        holiday_subdivision="BE",
    )
    stored = store.items[(A, "site", "berlin")]
    assert stored.body == {
        "id": "berlin",
        "account_id": A,
        "name": "Berlin plant",
        "timezone": "Europe/Berlin",
        "holiday_country": "DE",
        "holiday_subdivision": "BE",
        "address": None,
        "attributes": {},
    }
    assert (entry.etag, entry.created_at, entry.updated_at) == (stored.etag, FIXED_NOW, FIXED_NOW)


def test_a_body_may_not_set_the_account(store: FakeCatalogStore) -> None:
    assert invalid(catalog.create, A, Site, site(account_id=B), store) == ("account_id", "unknown field")
    assert store.items == {}


def test_an_object_without_an_id_gets_one(store: FakeCatalogStore) -> None:
    body = site()
    del body["id"]
    entry = catalog.create(A, Site, body, store)
    assert entry.value.id.startswith("site_") and len(entry.value.id) == len("site_") + 16
    assert list(store.items) == [(A, "site", entry.value.id)]


def test_an_id_is_taken_once_per_account(store: FakeCatalogStore) -> None:
    catalog.create(A, Site, site(), store)
    with pytest.raises(AlreadyExistsError, match="site 'berlin' already exists"):
        catalog.create(A, Site, site(name="Other"), store)
    assert catalog.create(B, Site, site(), store).value.account_id == B  # another account's namespace


def test_a_body_the_model_refuses_names_the_field_and_the_reason(store: FakeCatalogStore) -> None:
    assert invalid(catalog.create, A, Site, site(timezone="Mars/Olympus"), store) == (
        "timezone",
        "unknown time zone 'Mars/Olympus' (expected an IANA name like 'Europe/Berlin')",
    )
    assert invalid(catalog.create, A, Customer, customer(colour="red"), store) == ("colour", "unknown field")
    assert invalid(catalog.create, A, Customer, customer(emails=["nobody"], name=""), store) == (
        "name",
        "String should have at least 1 character (and 1 more problem)",
    )


def test_another_accounts_id_is_not_found_like_a_missing_one(world: FakeCatalogStore) -> None:
    with pytest.raises(NotFoundError, match="meter 'm1' not found"):
        catalog.get(B, Meter, "m1", world)
    with pytest.raises(NotFoundError, match="meter 'm1' not found"):
        catalog.replace(B, Meter, "m1", meter(), world, if_match=None)
    with pytest.raises(NotFoundError, match="meter 'm1' not found"):
        catalog.delete(B, Meter, "m1", world, if_match=None)
    with pytest.raises(NotFoundError, match="meter 'nope' not found"):
        catalog.get(A, Meter, "nope", world)


def test_replacing_with_the_current_etag_stores_the_new_body_and_a_new_etag(world: FakeCatalogStore) -> None:
    before = catalog.get(A, Customer, "c1", world)
    after = catalog.replace(A, Customer, "c1", customer(bill_day=15), world, if_match=before.etag)
    assert after.value.bill_day == 15
    assert after.etag != before.etag
    assert world.items[(A, "customer", "c1")].body["bill_day"] == 15


def test_replacing_with_a_stale_etag_changes_nothing(world: FakeCatalogStore) -> None:
    stale = catalog.get(A, Customer, "c1", world).etag
    current = catalog.replace(A, Customer, "c1", customer(bill_day=2), world, if_match=stale)
    with pytest.raises(PreconditionFailedError, match="customer 'c1' has changed"):
        catalog.replace(A, Customer, "c1", customer(bill_day=3), world, if_match=stale)
    with pytest.raises(PreconditionFailedError):
        catalog.delete(A, Customer, "c1", world, if_match=stale)
    assert world.items[(A, "customer", "c1")].etag == current.etag
    assert world.items[(A, "customer", "c1")].body["bill_day"] == 2


def test_a_replacement_keeps_its_id(world: FakeCatalogStore) -> None:
    assert invalid(catalog.replace, A, Customer, "c1", customer("c2"), world, if_match=None) == (
        "id",
        "'c2' is not the id of the object replaced ('c1')",
    )


def test_deleting_removes_the_object(world: FakeCatalogStore) -> None:
    etag = catalog.get(A, Customer, "c1", world).etag
    catalog.delete(A, Customer, "c1", world, if_match=etag)
    assert (A, "customer", "c1") not in world.items


# --- references ---------------------------------------------------------------------------------------------


def test_a_meter_needs_a_site_of_its_account(world: FakeCatalogStore) -> None:
    catalog.create(B, Site, site("hamburg"), world)
    assert invalid(catalog.create, A, Meter, meter("m2", site_id="hamburg"), world) == (
        "site_id",
        "no site 'hamburg'",
    )


def test_a_sub_meter_needs_its_parent(world: FakeCatalogStore) -> None:
    assert invalid(catalog.create, A, Meter, meter("sub", kind="sub", parent_id="m9"), world) == (
        "parent_id",
        "no meter 'm9'",
    )
    entry = catalog.create(A, Meter, meter("sub", kind="sub", parent_id="m1"), world)
    assert entry.value.parent_id == "m1"


def test_meters_cannot_be_each_others_parents(world: FakeCatalogStore) -> None:
    catalog.create(A, Meter, meter("sub", kind="sub", parent_id="m1"), world)
    assert invalid(
        catalog.replace, A, Meter, "m1", meter(kind="check", parent_id="sub"), world, if_match=None
    ) == ("parent_id", "meter 'sub' is below 'm1' already")


def test_an_external_id_belongs_to_one_meter_of_the_account(world: FakeCatalogStore) -> None:
    catalog.replace(A, Meter, "m1", meter(external_id="NMI1-E1"), world, if_match=None)
    assert invalid(catalog.create, A, Meter, meter("m2", external_id="NMI1-E1"), world) == (
        "external_id",
        "'NMI1-E1' is meter 'm1''s already",
    )
    catalog.replace(A, Meter, "m1", meter(external_id="NMI1-E1", serial="X"), world, if_match=None)  # its own


def test_an_assignment_needs_its_meter_customer_and_tariff(world: FakeCatalogStore) -> None:
    assert invalid(catalog.create, A, Assignment, assignment(meter_id="m9"), world) == (
        "meter_id",
        "no meter 'm9'",
    )
    assert invalid(catalog.create, A, Assignment, assignment(customer_id="c9"), world) == (
        "customer_id",
        "no customer 'c9'",
    )
    assert invalid(catalog.create, A, Assignment, assignment(tariff_id="t9"), world) == (
        "tariff_id",
        "no tariff 't9'",
    )
    entry = catalog.create(A, Assignment, assignment(share="0.5"), world)
    assert (entry.value.share, entry.value.effective_from) == (Decimal("0.5"), date(2026, 1, 1))


def test_an_assignment_tariff_must_price_what_the_meter_measures(world: FakeCatalogStore) -> None:
    catalog.create_tariff(A, flat_tariff(id="per-m3", unit="m3"), world)
    assert invalid(catalog.create, A, Assignment, assignment(tariff_id="per-m3"), world) == (
        "tariff_id",
        "tariff 'per-m3' prices 'm3' but meter 'm1' measures 'kWh'",
    )


def test_a_meters_assignments_never_share_out_more_than_all_of_it(world: FakeCatalogStore) -> None:
    catalog.create(A, Customer, customer("c2"), world)
    catalog.create(A, Assignment, assignment("as1", share="0.6", effective_to="2026-07-01"), world)
    assert invalid(
        catalog.create, A, Assignment, assignment("as2", customer_id="c2", share="0.5"), world
    ) == ("share", "meter 'm1': assignments 'as1', 'as2' overlap from 2026-01-01 with total share 1.1 > 1")
    entry = catalog.create(
        A, Assignment, assignment("as2", customer_id="c2", share="0.5", effective_from="2026-07-01"), world
    )
    assert entry.value.share == Decimal("0.5")
    # replacing an assignment does not count it twice
    catalog.replace(
        A, Assignment, "as1", assignment("as1", share="1", effective_to="2026-07-01"), world, if_match=None
    )


def test_creating_an_assignment_checks_the_meters_own_assignments_not_the_accounts(
    world: FakeCatalogStore,
) -> None:
    for n in range(2, 40):  # an import: 38 more customers and meters, one assignment each
        catalog.create(A, Meter, meter(f"m{n}"), world)
        catalog.create(A, Customer, customer(f"c{n}"), world)
        catalog.create(A, Assignment, assignment(f"as{n}", meter_id=f"m{n}", customer_id=f"c{n}"), world)
    world.list_calls, world.assignment_queries = {}, 0

    catalog.create(A, Assignment, assignment("as1", share="0.6"), world)

    # one Query of m1's assignments (and the tariff's versions), never a listing of the account's 38
    assert (world.list_calls, world.assignment_queries) == ({"tariff": 1}, 1)
    assert invalid(catalog.create, A, Assignment, assignment("as-more", share="0.5"), world) == (
        "share",
        "meter 'm1': assignments 'as-more', 'as1' overlap from 2026-01-01 with total share 1.1 > 1",
    )


def test_nothing_is_deleted_while_something_refers_to_it(world: FakeCatalogStore) -> None:
    catalog.create(A, Meter, meter("sub", kind="sub", parent_id="m1"), world)
    catalog.create(A, Assignment, assignment(meter_id="sub"), world)
    assert invalid(catalog.delete, A, Site, "berlin", world, if_match=None) == (
        "id",
        "site 'berlin' is still used by meter 'm1'; change that first",
    )
    assert invalid(catalog.delete, A, Meter, "m1", world, if_match=None) == (
        "id",
        "meter 'm1' is still used by meter 'sub'; change that first",
    )
    assert invalid(catalog.delete, A, Meter, "sub", world, if_match=None) == (
        "id",
        "meter 'sub' is still used by assignment 'as1'; change that first",
    )
    assert invalid(catalog.delete, A, Customer, "c1", world, if_match=None) == (
        "id",
        "customer 'c1' is still used by assignment 'as1'; change that first",
    )
    assert invalid(catalog.delete_tariff, A, "flat", world, if_match=None) == (
        "id",
        "tariff 'flat' is still used by assignment 'as1'; change that first",
    )
    catalog.delete(A, Assignment, "as1", world, if_match=None)
    catalog.delete(A, Meter, "sub", world, if_match=None)
    catalog.delete(A, Meter, "m1", world, if_match=None)
    catalog.delete(A, Site, "berlin", world, if_match=None)
    assert {(kind, item_id) for _, kind, item_id in world.items} == {
        ("customer", "c1"),
        ("tariff", "flat@000001"),
    }


# --- pagination ---------------------------------------------------------------------------------------------


def test_listing_pages_through_one_accounts_objects_in_id_order(store: FakeCatalogStore) -> None:
    for name in ("c3", "c1", "c5", "c2", "c4"):
        catalog.create(A, Customer, customer(name), store)
    catalog.create(B, Customer, customer("c0"), store)
    first = catalog.list_page(A, Customer, store, limit=2)
    second = catalog.list_page(A, Customer, store, limit=2, cursor=first.cursor)
    third = catalog.list_page(A, Customer, store, limit=2, cursor=second.cursor)
    assert [[e.value.id for e in page.items] for page in (first, second, third)] == [
        ["c1", "c2"],
        ["c3", "c4"],
        ["c5"],
    ]
    assert third.cursor is None
    assert [e.value.id for e in catalog.list_page(B, Customer, store).items] == ["c0"]


def test_a_page_holds_1_to_100_objects(store: FakeCatalogStore) -> None:
    assert invalid(catalog.list_page, A, Customer, store, limit=0) == ("limit", "must be 1 to 100, got 0")
    assert invalid(catalog.list_page, A, Customer, store, limit=101) == ("limit", "must be 1 to 100, got 101")


def test_a_cursor_that_is_not_one_is_refused(store: FakeCatalogStore) -> None:
    assert invalid(catalog.list_page, A, Customer, store, cursor="c1") == (
        "cursor",
        "not a cursor of this listing",
    )
