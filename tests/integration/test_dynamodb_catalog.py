"""CatalogStore on DynamoDB (moto): what each call stores, item by item, and how each one fails."""

from __future__ import annotations

from decimal import Decimal

import pytest
from botocore.awsrequest import AWSResponse

from meterbill.errors import (
    AlreadyExistsError,
    InvalidInputError,
    NotFoundError,
    PreconditionFailedError,
    StorageUnavailableError,
)
from meterbill.ports import Stored, Stores
from tests.integration.conftest import ATTEMPTS, Clock, Faults, Tables

CREATED = "2026-03-01T09:00:00.000000+0000"  # the clock fixture's time, as pynamodb stores datetimes
UPDATED = "2026-03-01T10:30:00.000000+0000"


def meter_body(meter_id: str, external_id: str | None = None, **more: object) -> dict[str, object]:
    return {"id": meter_id, "site_id": "site-1", "external_id": external_id, **more}


def claim(external_id: str, meter_id: str, account: str = "acme") -> dict[str, object]:
    return {
        "pk": {"S": f"account#{account}#meter-external-id"},
        "sk": {"S": external_id},
        "meter_id": {"S": meter_id},
    }


# --- create and get -----------------------------------------------------------------------------------------


def test_create_stores_one_item_with_the_body_as_exact_json_and_a_new_etag(
    stores: Stores, tables: Tables, clock: Clock
) -> None:
    stored = stores.catalog.create("acme", "customer", "cus-1", {"id": "cus-1", "name": "Ada", "vip": True})

    assert tables.catalog("account#acme#customer", "cus-1") == {
        "pk": {"S": "account#acme#customer"},
        "sk": {"S": "cus-1"},
        "body": {"S": '{"id":"cus-1","name":"Ada","vip":true}'},
        "etag": {"S": "etag-1"},
        "created_at": {"S": CREATED},
        "updated_at": {"S": CREATED},
    }
    assert (stored.kind, stored.item_id, stored.etag) == ("customer", "cus-1", "etag-1")
    assert stored.created_at == stored.updated_at == clock.now


def test_get_returns_what_create_stored(stores: Stores, clock: Clock) -> None:
    stores.catalog.create("acme", "customer", "cus-1", {"id": "cus-1", "name": "Ada"})

    got = stores.catalog.get("acme", "customer", "cus-1")

    assert got == Stored(
        kind="customer",
        item_id="cus-1",
        body={"id": "cus-1", "name": "Ada"},
        etag="etag-1",
        created_at=clock.now,
        updated_at=clock.now,
    )
    assert got.created_at.utcoffset() is not None


def test_decimals_come_back_as_the_same_decimals_never_floats(stores: Stores, tables: Tables) -> None:
    body = {"id": "m", "multiplier": Decimal("12345.678"), "register_max": Decimal("100000"), "digits": 5}
    stores.catalog.create("acme", "meter", "m", body)

    got = stores.catalog.get("acme", "meter", "m").body

    assert got == {
        "id": "m",
        "multiplier": Decimal("12345.678"),
        "register_max": Decimal("100000"),
        "digits": 5,
    }
    assert [type(got[name]) for name in ("multiplier", "register_max", "digits")] == [Decimal, Decimal, int]
    assert str(got["multiplier"]) == "12345.678"
    assert tables.catalog("account#acme#meter", "m")["body"] == {  # type: ignore[index]
        "S": '{"id":"m","multiplier":12345.678,"register_max":100000E0,"digits":5}'
    }


def test_a_float_in_a_body_is_stored_as_the_text_it_was_parsed_from(stores: Stores) -> None:
    stores.catalog.create("acme", "tariff", "t@000001", {"rate": 0.1, "items": [0.2, {"x": 1e-7}]})

    assert stores.catalog.get("acme", "tariff", "t@000001").body == {
        "rate": Decimal("0.1"),
        "items": [Decimal("0.2"), {"x": Decimal("1E-7")}],
    }


def test_a_body_with_nan_is_refused(stores: Stores) -> None:
    with pytest.raises(ValueError, match="no JSON spelling"):
        stores.catalog.create("acme", "customer", "cus-1", {"balance": Decimal("NaN")})


def test_creating_an_id_that_exists_raises_already_exists_and_keeps_the_first(
    stores: Stores, tables: Tables
) -> None:
    stores.catalog.create("acme", "customer", "cus-1", {"name": "first"})

    with pytest.raises(AlreadyExistsError) as raised:
        stores.catalog.create("acme", "customer", "cus-1", {"name": "second"})

    assert (raised.value.kind, raised.value.item_id) == ("customer", "cus-1")
    assert tables.catalog("account#acme#customer", "cus-1")["body"] == {"S": '{"name":"first"}'}  # type: ignore[index]


def test_the_same_id_in_another_account_or_of_another_kind_is_another_object(stores: Stores) -> None:
    stores.catalog.create("acme", "customer", "x-1", {"name": "acme's customer"})
    stores.catalog.create("globex", "customer", "x-1", {"name": "globex's customer"})
    stores.catalog.create("acme", "site", "x-1", {"name": "acme's site"})

    assert [
        stores.catalog.get(account, kind, "x-1").body["name"]  # type: ignore[arg-type]
        for account, kind in (("acme", "customer"), ("globex", "customer"), ("acme", "site"))
    ] == ["acme's customer", "globex's customer", "acme's site"]


def test_get_of_an_unknown_id_or_another_accounts_id_is_not_found(stores: Stores) -> None:
    stores.catalog.create("acme", "customer", "cus-1", {"name": "Ada"})

    for account, item_id in (("acme", "cus-2"), ("globex", "cus-1")):
        with pytest.raises(NotFoundError) as raised:
            stores.catalog.get(account, "customer", item_id)
        assert (raised.value.kind, raised.value.item_id) == ("customer", item_id)


def test_an_account_id_with_the_key_separator_is_refused(stores: Stores) -> None:
    with pytest.raises(InvalidInputError) as raised:
        stores.catalog.get("acme#customer", "customer", "x")
    assert raised.value.field == "account"


# --- list and cursors ---------------------------------------------------------------------------------------


def test_list_pages_through_five_objects_two_at_a_time_in_id_order(stores: Stores) -> None:
    for item_id in ("cus-c", "cus-a", "cus-e", "cus-b", "cus-d"):
        stores.catalog.create("acme", "customer", item_id, {"id": item_id})
    stores.catalog.create("acme", "site", "cus-f", {"id": "a site, not a customer"})
    stores.catalog.create("globex", "customer", "cus-0", {"id": "another account's"})

    pages = []
    cursor = None
    while True:
        page = stores.catalog.list("acme", "customer", limit=2, cursor=cursor)
        pages.append([stored.item_id for stored in page.items])
        if page.cursor is None:
            break
        cursor = page.cursor

    assert pages == [["cus-a", "cus-b"], ["cus-c", "cus-d"], ["cus-e"]]


def test_a_listing_that_fits_one_page_has_no_cursor(stores: Stores) -> None:
    stores.catalog.create("acme", "customer", "cus-a", {})
    stores.catalog.create("acme", "customer", "cus-b", {})

    page = stores.catalog.list("acme", "customer", limit=2)

    assert ([stored.item_id for stored in page.items], page.cursor) == (["cus-a", "cus-b"], None)
    assert stores.catalog.list("globex", "customer", limit=2).items == []


def test_list_with_a_prefix_lists_the_versions_of_one_tariff(stores: Stores) -> None:
    for item_id in ("t1@000001", "t1@000002", "t10@000001", "t2@000001", "t1@000003"):
        stores.catalog.create("acme", "tariff", item_id, {"id": item_id})

    first = stores.catalog.list("acme", "tariff", limit=2, prefix="t1@")
    second = stores.catalog.list("acme", "tariff", limit=2, prefix="t1@", cursor=first.cursor)

    assert [stored.item_id for stored in first.items] == ["t1@000001", "t1@000002"]
    assert ([stored.item_id for stored in second.items], second.cursor) == (["t1@000003"], None)


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda cursor: cursor[:-3], id="cut short"),
        pytest.param(lambda cursor: cursor + "!!", id="not base64"),
        pytest.param(lambda cursor: "bm90IGpzb24", id="not json"),
        pytest.param(
            lambda cursor: "eyJwayI6eyJTIjoiYWNjb3VudCNhY21lI2N1c3RvbWVyIn19", id="key half missing"
        ),
        pytest.param(lambda cursor: "W10", id="a list"),
        pytest.param(lambda cursor: "", id="empty"),
    ],
)
def test_a_tampered_cursor_is_invalid_input(stores: Stores, tamper: object) -> None:
    for item_id in ("cus-a", "cus-b", "cus-c"):
        stores.catalog.create("acme", "customer", item_id, {})
    cursor = stores.catalog.list("acme", "customer", limit=1).cursor
    assert cursor is not None

    with pytest.raises(InvalidInputError) as raised:
        stores.catalog.list("acme", "customer", limit=1, cursor=tamper(cursor))  # type: ignore[operator]

    assert raised.value.field == "cursor"


def test_a_cursor_of_another_account_kind_or_prefix_is_invalid_input_and_shows_nothing(
    stores: Stores,
) -> None:
    for account in ("acme", "globex"):
        for item_id in ("t1@000001", "t1@000002", "t2@000001"):
            stores.catalog.create(account, "tariff", item_id, {"secret": f"{account} {item_id}"})
    globex_cursor = stores.catalog.list("globex", "tariff", limit=1).cursor
    tariff_cursor = stores.catalog.list("acme", "tariff", limit=1).cursor

    for listing in (
        lambda: stores.catalog.list("acme", "tariff", limit=5, cursor=globex_cursor),
        lambda: stores.catalog.list("acme", "customer", limit=5, cursor=tariff_cursor),
        lambda: stores.catalog.list("acme", "tariff", limit=5, cursor=tariff_cursor, prefix="t2@"),
    ):
        with pytest.raises(InvalidInputError) as raised:
            listing()
        assert (raised.value.field, raised.value.reason) == ("cursor", "is not a cursor of this listing")


def test_a_limit_below_one_is_invalid_input(stores: Stores) -> None:
    with pytest.raises(InvalidInputError) as raised:
        stores.catalog.list("acme", "customer", limit=0)
    assert raised.value.field == "limit"


# --- replace and delete -------------------------------------------------------------------------------------


def test_replace_with_the_current_etag_stores_the_new_body_and_a_new_etag(
    stores: Stores, tables: Tables, clock: Clock
) -> None:
    stores.catalog.create("acme", "customer", "cus-1", {"name": "Ada"})
    clock.advance(minutes=90)

    replaced = stores.catalog.replace("acme", "customer", "cus-1", {"name": "Ada L."}, if_match="etag-1")

    assert tables.catalog("account#acme#customer", "cus-1") == {
        "pk": {"S": "account#acme#customer"},
        "sk": {"S": "cus-1"},
        "body": {"S": '{"name":"Ada L."}'},
        "etag": {"S": "etag-2"},
        "created_at": {"S": CREATED},
        "updated_at": {"S": UPDATED},
    }
    assert (replaced.etag, replaced.body, replaced.updated_at) == ("etag-2", {"name": "Ada L."}, clock.now)


def test_replace_without_if_match_replaces_whatever_is_there(stores: Stores) -> None:
    stores.catalog.create("acme", "site", "site-1", {"v": 1})
    stores.catalog.replace("acme", "site", "site-1", {"v": 2}, if_match=None)

    assert stores.catalog.replace("acme", "site", "site-1", {"v": 3}, if_match=None).etag == "etag-3"
    assert stores.catalog.get("acme", "site", "site-1").body == {"v": 3}


def test_replace_with_a_stale_etag_fails_with_the_current_one_and_changes_nothing(
    stores: Stores, tables: Tables
) -> None:
    stores.catalog.create("acme", "customer", "cus-1", {"name": "Ada"})
    stores.catalog.replace("acme", "customer", "cus-1", {"name": "Ada L."}, if_match="etag-1")

    with pytest.raises(PreconditionFailedError) as raised:
        stores.catalog.replace("acme", "customer", "cus-1", {"name": "Bob"}, if_match="etag-1")

    assert str(raised.value) == "customer 'cus-1' has changed: If-Match 'etag-1', current ETag 'etag-2'"
    assert tables.catalog("account#acme#customer", "cus-1")["body"] == {"S": '{"name":"Ada L."}'}  # type: ignore[index]


def test_replace_of_an_unknown_or_another_accounts_id_is_not_found_and_creates_nothing(
    stores: Stores, tables: Tables
) -> None:
    stores.catalog.create("acme", "customer", "cus-1", {"name": "Ada"})

    for account, item_id, if_match in (
        ("acme", "cus-2", None),
        ("acme", "cus-2", "etag-1"),
        ("globex", "cus-1", None),
    ):
        with pytest.raises(NotFoundError):
            stores.catalog.replace(account, "customer", item_id, {"name": "Eve"}, if_match=if_match)

    assert [item["sk"]["S"] for item in tables.all("meterbill-catalog")] == ["cus-1"]


def test_delete_with_the_current_etag_removes_the_item(stores: Stores, tables: Tables) -> None:
    stores.catalog.create("acme", "customer", "cus-1", {"name": "Ada"})

    stores.catalog.delete("acme", "customer", "cus-1", if_match="etag-1")

    assert tables.catalog("account#acme#customer", "cus-1") is None
    with pytest.raises(NotFoundError):
        stores.catalog.get("acme", "customer", "cus-1")


def test_delete_with_a_stale_etag_fails_and_keeps_the_item(stores: Stores, tables: Tables) -> None:
    stores.catalog.create("acme", "customer", "cus-1", {"name": "Ada"})

    with pytest.raises(PreconditionFailedError) as raised:
        stores.catalog.delete("acme", "customer", "cus-1", if_match="etag-0")

    assert "current ETag 'etag-1'" in str(raised.value)
    assert tables.catalog("account#acme#customer", "cus-1") is not None


def test_delete_of_an_unknown_or_another_accounts_id_is_not_found(stores: Stores, tables: Tables) -> None:
    stores.catalog.create("acme", "customer", "cus-1", {"name": "Ada"})

    for account, item_id in (("acme", "cus-2"), ("globex", "cus-1")):
        with pytest.raises(NotFoundError):
            stores.catalog.delete(account, "customer", item_id, if_match=None)

    assert tables.catalog("account#acme#customer", "cus-1") is not None


def test_a_deleted_and_recreated_object_never_matches_an_old_etag(stores: Stores) -> None:
    stores.catalog.create("acme", "customer", "cus-1", {"v": 1})
    stores.catalog.delete("acme", "customer", "cus-1", if_match="etag-1")
    stores.catalog.create("acme", "customer", "cus-1", {"v": 2})

    with pytest.raises(PreconditionFailedError):
        stores.catalog.replace("acme", "customer", "cus-1", {"v": 3}, if_match="etag-1")


# --- assignments, listed by customer and by meter -----------------------------------------------------------


def test_an_assignment_is_copied_under_its_customer_and_its_meter_and_the_copies_follow_it(
    stores: Stores, tables: Tables
) -> None:
    body = {"id": "as-1", "customer_id": "cus-1", "meter_id": "m-1", "tariff_id": "flat", "share": "1"}
    stores.catalog.create("acme", "assignment", "as-1", body)
    stores.catalog.create("acme", "assignment", "as-2", {**body, "id": "as-2", "customer_id": "cus-2"})

    by_customer = stores.catalog.assignments_of("acme", customer_id="cus-1")
    assert by_customer == [stores.catalog.get("acme", "assignment", "as-1")]
    assert [s.item_id for s in stores.catalog.assignments_of("acme", meter_id="m-1")] == ["as-1", "as-2"]
    main = tables.catalog("account#acme#assignment", "as-1")
    copy = tables.catalog("account#acme#assignment-by-customer#cus-1", "as-1")
    assert main is not None and copy is not None
    assert {k: v for k, v in copy.items() if k != "pk"} == {k: v for k, v in main.items() if k != "pk"}

    # moved to another customer and meter: the copies move in the same transaction
    moved = {**body, "customer_id": "cus-2", "meter_id": "m-2"}
    stores.catalog.replace("acme", "assignment", "as-1", moved, if_match="etag-1")
    assert stores.catalog.assignments_of("acme", customer_id="cus-1") == []
    assert [s.item_id for s in stores.catalog.assignments_of("acme", customer_id="cus-2")] == ["as-1", "as-2"]
    assert [s.item_id for s in stores.catalog.assignments_of("acme", meter_id="m-1")] == ["as-2"]
    assert [s.body for s in stores.catalog.assignments_of("acme", meter_id="m-2")] == [moved]
    assert tables.catalog("account#acme#assignment-by-customer#cus-1", "as-1") is None

    stores.catalog.delete("acme", "assignment", "as-1", if_match=None)
    assert [s.item_id for s in stores.catalog.assignments_of("acme", customer_id="cus-2")] == ["as-2"]
    assert stores.catalog.assignments_of("acme", meter_id="m-2") == []
    assert stores.catalog.assignments_of("globex", customer_id="cus-2") == []


def test_an_assignment_replaced_with_a_stale_etag_leaves_it_and_its_copies_unchanged(stores: Stores) -> None:
    body = {"id": "as-1", "customer_id": "cus-1", "meter_id": "m-1", "tariff_id": "flat"}
    stores.catalog.create("acme", "assignment", "as-1", body)

    with pytest.raises(PreconditionFailedError):
        stores.catalog.replace("acme", "assignment", "as-1", {**body, "customer_id": "cus-2"}, if_match="x")

    assert [s.body for s in stores.catalog.assignments_of("acme", customer_id="cus-1")] == [body]
    assert stores.catalog.assignments_of("acme", customer_id="cus-2") == []


# --- meters and their external ids --------------------------------------------------------------------------


def test_creating_a_meter_with_an_external_id_claims_it_in_the_same_transaction(
    stores: Stores, tables: Tables
) -> None:
    stores.catalog.create("acme", "meter", "mtr-1", meter_body("mtr-1", "NMI-4001"))

    assert tables.catalog("account#acme#meter-external-id", "NMI-4001") == claim("NMI-4001", "mtr-1")
    assert tables.catalog("account#acme#meter", "mtr-1")["body"] == {  # type: ignore[index]
        "S": '{"id":"mtr-1","site_id":"site-1","external_id":"NMI-4001"}'
    }


def test_meters_by_external_id_answers_only_this_accounts_known_external_ids(stores: Stores) -> None:
    stores.catalog.create("acme", "meter", "mtr-1", meter_body("mtr-1", "NMI-1"))
    stores.catalog.create("acme", "meter", "mtr-2", meter_body("mtr-2", "NMI-2"))
    stores.catalog.create("acme", "meter", "mtr-3", meter_body("mtr-3"))
    stores.catalog.create("globex", "meter", "mtr-9", meter_body("mtr-9", "NMI-3"))

    found = stores.catalog.meters_by_external_id("acme", ["NMI-1", "NMI-2", "NMI-2", "NMI-3", "unknown"])

    assert found == {"NMI-1": "mtr-1", "NMI-2": "mtr-2"}
    assert stores.catalog.meters_by_external_id("acme", []) == {}


def test_meters_by_external_id_asks_in_batches_of_one_hundred(stores: Stores, faults: Faults) -> None:
    for number in range(120):
        stores.catalog.create("acme", "meter", f"mtr-{number}", meter_body(f"mtr-{number}", f"E{number:03d}"))

    found = stores.catalog.meters_by_external_id("acme", [f"E{number:03d}" for number in range(130)])

    assert found == {f"E{number:03d}": f"mtr-{number}" for number in range(120)}
    assert faults.calls["BatchGetItem"] == 2


def test_a_second_meter_with_a_taken_external_id_is_refused_and_not_stored(
    stores: Stores, tables: Tables
) -> None:
    stores.catalog.create("acme", "meter", "mtr-1", meter_body("mtr-1", "NMI-1"))

    with pytest.raises(InvalidInputError) as raised:
        stores.catalog.create("acme", "meter", "mtr-2", meter_body("mtr-2", "NMI-1"))

    assert (raised.value.field, raised.value.reason) == ("external_id", "'NMI-1' is meter 'mtr-1''s already")
    assert tables.catalog("account#acme#meter", "mtr-2") is None
    assert tables.catalog("account#acme#meter-external-id", "NMI-1") == claim("NMI-1", "mtr-1")


def test_another_account_may_use_the_same_external_id(stores: Stores) -> None:
    stores.catalog.create("acme", "meter", "mtr-1", meter_body("mtr-1", "NMI-1"))
    stores.catalog.create("globex", "meter", "mtr-1", meter_body("mtr-1", "NMI-1"))

    assert stores.catalog.meters_by_external_id("globex", ["NMI-1"]) == {"NMI-1": "mtr-1"}


def test_creating_a_meter_id_that_exists_is_already_exists_even_with_a_free_external_id(
    stores: Stores, tables: Tables
) -> None:
    stores.catalog.create("acme", "meter", "mtr-1", meter_body("mtr-1", "NMI-1"))

    with pytest.raises(AlreadyExistsError):
        stores.catalog.create("acme", "meter", "mtr-1", meter_body("mtr-1", "NMI-2"))

    assert tables.catalog("account#acme#meter-external-id", "NMI-2") is None


def test_replacing_a_meter_moves_its_external_id_claim(stores: Stores, tables: Tables) -> None:
    stores.catalog.create("acme", "meter", "mtr-1", meter_body("mtr-1", "NMI-1"))

    replaced = stores.catalog.replace(
        "acme", "meter", "mtr-1", meter_body("mtr-1", "NMI-2"), if_match="etag-1"
    )

    assert replaced.etag == "etag-2"
    assert tables.catalog("account#acme#meter-external-id", "NMI-1") is None
    assert tables.catalog("account#acme#meter-external-id", "NMI-2") == claim("NMI-2", "mtr-1")
    assert stores.catalog.meters_by_external_id("acme", ["NMI-1", "NMI-2"]) == {"NMI-2": "mtr-1"}


def test_replacing_a_meter_keeps_its_created_at(stores: Stores, tables: Tables, clock: Clock) -> None:
    stores.catalog.create("acme", "meter", "mtr-1", meter_body("mtr-1", "NMI-1"))
    clock.advance(minutes=90)

    stores.catalog.replace("acme", "meter", "mtr-1", meter_body("mtr-1", "NMI-1", unit="kWh"), if_match=None)

    item = tables.catalog("account#acme#meter", "mtr-1")
    assert item is not None
    assert (item["created_at"], item["updated_at"], item["etag"]) == (
        {"S": CREATED},
        {"S": UPDATED},
        {"S": "etag-2"},
    )
    assert tables.catalog("account#acme#meter-external-id", "NMI-1") == claim("NMI-1", "mtr-1")


def test_replacing_a_meter_without_its_external_id_releases_the_claim(stores: Stores, tables: Tables) -> None:
    stores.catalog.create("acme", "meter", "mtr-1", meter_body("mtr-1", "NMI-1"))

    stores.catalog.replace("acme", "meter", "mtr-1", meter_body("mtr-1"), if_match=None)
    stores.catalog.create("acme", "meter", "mtr-2", meter_body("mtr-2", "NMI-1"))

    assert tables.catalog("account#acme#meter-external-id", "NMI-1") == claim("NMI-1", "mtr-2")


def test_replacing_a_meter_with_a_taken_external_id_is_refused_and_changes_nothing(
    stores: Stores, tables: Tables
) -> None:
    stores.catalog.create("acme", "meter", "mtr-1", meter_body("mtr-1", "NMI-1"))
    stores.catalog.create("acme", "meter", "mtr-2", meter_body("mtr-2", "NMI-2"))

    with pytest.raises(InvalidInputError) as raised:
        stores.catalog.replace("acme", "meter", "mtr-2", meter_body("mtr-2", "NMI-1"), if_match="etag-2")

    assert raised.value.reason == "'NMI-1' is meter 'mtr-1''s already"
    assert tables.catalog("account#acme#meter-external-id", "NMI-1") == claim("NMI-1", "mtr-1")
    assert tables.catalog("account#acme#meter-external-id", "NMI-2") == claim("NMI-2", "mtr-2")
    assert stores.catalog.get("acme", "meter", "mtr-2").etag == "etag-2"


def test_replacing_or_deleting_a_meter_with_a_stale_etag_is_a_failed_precondition(
    stores: Stores, tables: Tables
) -> None:
    stores.catalog.create("acme", "meter", "mtr-1", meter_body("mtr-1", "NMI-1"))
    stores.catalog.replace("acme", "meter", "mtr-1", meter_body("mtr-1", "NMI-1", unit="kWh"), if_match=None)

    with pytest.raises(PreconditionFailedError):
        stores.catalog.replace("acme", "meter", "mtr-1", meter_body("mtr-1", "NMI-9"), if_match="etag-1")
    with pytest.raises(PreconditionFailedError):
        stores.catalog.delete("acme", "meter", "mtr-1", if_match="etag-1")

    assert tables.catalog("account#acme#meter-external-id", "NMI-1") == claim("NMI-1", "mtr-1")
    assert tables.catalog("account#acme#meter-external-id", "NMI-9") is None


def test_deleting_a_meter_releases_its_external_id(stores: Stores, tables: Tables) -> None:
    stores.catalog.create("acme", "meter", "mtr-1", meter_body("mtr-1", "NMI-1"))

    stores.catalog.delete("acme", "meter", "mtr-1", if_match="etag-1")

    assert tables.all("meterbill-catalog") == []
    assert stores.catalog.meters_by_external_id("acme", ["NMI-1"]) == {}


def test_a_meter_whose_claim_is_missing_can_still_be_replaced_and_deleted(
    stores: Stores, tables: Tables
) -> None:
    stores.catalog.create("acme", "meter", "mtr-1", meter_body("mtr-1", "NMI-1"))
    tables.client.delete_item(  # as if the meter had been written before claims existed
        TableName="meterbill-catalog",
        Key={"pk": {"S": "account#acme#meter-external-id"}, "sk": {"S": "NMI-1"}},
    )

    stores.catalog.replace("acme", "meter", "mtr-1", meter_body("mtr-1", "NMI-2"), if_match="etag-1")
    stores.catalog.delete("acme", "meter", "mtr-1", if_match="etag-2")

    assert tables.all("meterbill-catalog") == []


def test_replacing_or_deleting_another_accounts_meter_is_not_found(stores: Stores) -> None:
    stores.catalog.create("acme", "meter", "mtr-1", meter_body("mtr-1", "NMI-1"))

    with pytest.raises(NotFoundError):
        stores.catalog.replace("globex", "meter", "mtr-1", meter_body("mtr-1"), if_match=None)
    with pytest.raises(NotFoundError):
        stores.catalog.delete("globex", "meter", "mtr-1", if_match=None)


def test_a_meter_write_that_loses_a_race_reads_again_and_applies_to_the_new_state(
    stores: Stores, tables: Tables, faults: Faults
) -> None:
    stores.catalog.create("acme", "meter", "mtr-1", meter_body("mtr-1", "NMI-1"))
    raced: list[bool] = []

    def concurrent_writer(**_: object) -> None:
        if not raced:  # just before our transaction is sent, someone else replaces the meter
            raced.append(True)
            stores.catalog.replace("acme", "meter", "mtr-1", meter_body("mtr-1", "NMI-2"), if_match=None)

    faults.events.register_first("before-call.dynamodb.TransactWriteItems", concurrent_writer)

    stores.catalog.replace("acme", "meter", "mtr-1", meter_body("mtr-1", "NMI-3"), if_match=None)

    assert [item["sk"]["S"] for item in tables.all("meterbill-catalog") if "meter_id" in item] == ["NMI-3"]
    assert stores.catalog.get("acme", "meter", "mtr-1").body["external_id"] == "NMI-3"


# --- faults -------------------------------------------------------------------------------------------------


def test_a_throttled_create_is_retried_with_backoff_and_stored_once(
    stores: Stores, faults: Faults, tables: Tables, sleeps: list[float]
) -> None:
    faults.refuse("PutItem", "ProvisionedThroughputExceededException", when=lambda call: call <= 3)

    stores.catalog.create("acme", "customer", "cus-1", {"name": "Ada"})

    assert faults.calls["PutItem"] == 4
    assert sleeps == [0.025, 0.05, 0.1]
    assert tables.catalog("account#acme#customer", "cus-1") is not None


def test_a_create_throttled_beyond_the_retries_is_storage_unavailable(
    stores: Stores, faults: Faults, tables: Tables, sleeps: list[float]
) -> None:
    faults.refuse("PutItem", "ThrottlingException", when=lambda call: True)

    with pytest.raises(StorageUnavailableError, match="still failing after 6 attempts: ThrottlingException"):
        stores.catalog.create("acme", "customer", "cus-1", {"name": "Ada"})

    assert faults.calls["PutItem"] == ATTEMPTS
    assert sleeps == [0.025, 0.05, 0.1, 0.2, 0.4]
    assert tables.catalog("account#acme#customer", "cus-1") is None


def test_a_create_whose_outcome_is_uncertain_is_not_sent_again(stores: Stores, faults: Faults) -> None:
    """A conditional create sent twice would answer "already exists" to its own first write."""
    faults.refuse("PutItem", "InternalServerError", when=lambda call: call == 1)

    with pytest.raises(StorageUnavailableError, match="InternalServerError"):
        stores.catalog.create("acme", "customer", "cus-1", {"name": "Ada"})

    assert faults.calls["PutItem"] == 1


def test_a_transaction_cancelled_by_a_conflict_is_retried(
    stores: Stores, faults: Faults, tables: Tables
) -> None:
    seen = []

    def cancel_first(**_: object) -> object:
        seen.append(1)
        if len(seen) > 1:
            return None
        return (
            AWSResponse("https://dynamodb.invalid/", 400, {}, None),
            {
                "Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
                "CancellationReasons": [{"Code": "TransactionConflict"}, {"Code": "None"}],
            },
        )

    faults.events.register("before-call.dynamodb.TransactWriteItems", cancel_first)

    stores.catalog.create("acme", "meter", "mtr-1", meter_body("mtr-1", "NMI-1"))

    assert len(seen) == 2
    assert tables.catalog("account#acme#meter-external-id", "NMI-1") == claim("NMI-1", "mtr-1")


def test_unprocessed_keys_are_asked_for_again_until_every_external_id_is_answered(
    stores: Stores, faults: Faults, sleeps: list[float]
) -> None:
    for number in range(5):
        stores.catalog.create("acme", "meter", f"mtr-{number}", meter_body(f"mtr-{number}", f"E{number}"))
    faults.leave_keys_unprocessed(when=lambda call: call <= 2, keep=2)

    found = stores.catalog.meters_by_external_id("acme", [f"E{number}" for number in range(5)])

    assert found == {f"E{number}": f"mtr-{number}" for number in range(5)}
    assert faults.calls["BatchGetItem"] == 3
    assert sleeps == [0.025, 0.05]


def test_keys_left_unprocessed_on_every_attempt_are_storage_unavailable(
    stores: Stores, faults: Faults
) -> None:
    stores.catalog.create("acme", "meter", "mtr-1", meter_body("mtr-1", "E1"))
    faults.leave_keys_unprocessed(when=lambda call: True)

    with pytest.raises(StorageUnavailableError, match="1 keys still unprocessed after 6 attempts"):
        stores.catalog.meters_by_external_id("acme", ["E1"])
