"""Tariffs in the catalog: native or URDB documents, versions effective from a date, old versions kept."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from meterbill.errors import AlreadyExistsError, InvalidInputError, NotFoundError, PreconditionFailedError
from meterbill.services import catalog
from tests.fakes import FakeCatalogStore

A, B = "acc-a", "acc-b"
URDB = Path(__file__).parents[1] / "data" / "urdb"


def flat(rate: str, **fields: Any) -> dict[str, Any]:
    periods = [{"name": "all", "tiers": [{"rate": rate}]}]
    return {"id": "flat", "name": "Flat", "currency": "EUR", "energy": {"periods": periods}, **fields}


def rate_of(entry: catalog.CatalogEntry[Any]) -> Decimal:
    return entry.value.energy.periods[0].tiers[0].rate  # type: ignore[no-any-return]


def invalid(call: Any, *args: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(InvalidInputError) as err:
        call(*args, **kwargs)
    return err.value.field, err.value.reason


@pytest.fixture
def store() -> FakeCatalogStore:
    return FakeCatalogStore()


def test_a_new_tariff_is_version_1_stored_under_its_versioned_id(store: FakeCatalogStore) -> None:
    entry = catalog.create_tariff(A, flat("0.30"), store)
    assert (entry.value.id, entry.value.version, entry.value.effective_from, rate_of(entry)) == (
        "flat",
        1,
        None,
        Decimal("0.30"),
    )
    assert list(store.items) == [(A, "tariff", "flat@000001")]
    assert (
        store.items[(A, "tariff", "flat@000001")].body["energy"]["periods"][0]["tiers"][0]["rate"] == "0.30"
    )


def test_a_tariff_is_created_once(store: FakeCatalogStore) -> None:
    catalog.create_tariff(A, flat("0.30"), store)
    with pytest.raises(AlreadyExistsError, match="tariff 'flat' already exists"):
        catalog.create_tariff(A, flat("0.31"), store)


def test_a_urdb_rate_becomes_a_native_tariff_named_by_its_label_or_the_id_given(
    store: FakeCatalogStore,
) -> None:
    document = json.loads((URDB / "aps_et2_tou.json").read_text())
    by_label = catalog.create_tariff(A, document, store)
    assert (by_label.value.id, by_label.value.effective_from) == (
        "574613aa5457a3557e906f5b",
        date(2016, 5, 3),
    )
    by_choice = catalog.create_tariff(A, document, store, tariff_id="aps-et2")
    assert (by_choice.value.id, by_choice.value.source) == ("aps-et2", "urdb:574613aa5457a3557e906f5b")
    assert sorted(item_id for _, _, item_id in store.items) == [
        "574613aa5457a3557e906f5b@000001",
        "aps-et2@000001",
    ]


def test_a_document_that_is_no_tariff_names_the_field(store: FakeCatalogStore) -> None:
    assert invalid(catalog.create_tariff, A, flat("NaN"), store) == (
        "energy.periods[0].tiers[0].rate",
        "NaN is not a finite number",
    )
    assert invalid(catalog.create_tariff, A, flat("0.3", colour="red"), store) == ("colour", "unknown field")
    assert invalid(catalog.create_tariff, A, flat("0.3", version=3), store) == (
        "version",
        "versions are numbered by meterbill: this would be version 1",
    )
    assert store.items == {}


def test_a_new_version_takes_effect_from_its_date_and_the_old_one_stays(store: FakeCatalogStore) -> None:
    first = catalog.create_tariff(A, flat("0.30", effective_from="2026-01-01"), store)
    second = catalog.new_tariff_version(
        A, "flat", flat("0.35"), store, effective_from=date(2026, 4, 1), if_match=first.etag
    )
    assert (second.value.version, second.value.effective_from, rate_of(second)) == (
        2,
        date(2026, 4, 1),
        Decimal("0.35"),
    )
    versions = catalog.tariff_versions(A, "flat", store)
    assert [(v.value.version, v.value.effective_from, rate_of(v)) for v in versions] == [
        (1, date(2026, 1, 1), Decimal("0.30")),
        (2, date(2026, 4, 1), Decimal("0.35")),
    ]
    assert catalog.get_tariff(A, "flat", store).value.version == 2
    assert rate_of(catalog.get_tariff(A, "flat", store, version=1)) == Decimal("0.30")
    assert sorted(item_id for _, _, item_id in store.items) == ["flat@000001", "flat@000002"]


def test_the_date_may_come_from_the_document_and_the_id_from_the_path(store: FakeCatalogStore) -> None:
    catalog.create_tariff(A, flat("0.30"), store)
    document = flat("0.32", effective_from="2026-02-01")
    del document["id"]
    entry = catalog.new_tariff_version(A, "flat", document, store)
    assert (entry.value.id, entry.value.version, entry.value.effective_from) == ("flat", 2, date(2026, 2, 1))


def test_a_new_version_needs_a_date_after_the_latest_versions(store: FakeCatalogStore) -> None:
    catalog.create_tariff(A, flat("0.30", effective_from="2026-01-01"), store)
    assert invalid(catalog.new_tariff_version, A, "flat", flat("0.35"), store) == (
        "effective_from",
        "a new version needs the date it takes effect",
    )
    assert invalid(
        catalog.new_tariff_version, A, "flat", flat("0.35"), store, effective_from=date(2026, 1, 1)
    ) == ("effective_from", "2026-01-01 is not after 2026-01-01, when version 1 took effect")
    assert invalid(
        catalog.new_tariff_version,
        A,
        "flat",
        flat("0.35", effective_from="2026-03-01"),
        store,
        effective_from=date(2026, 4, 1),
    ) == ("effective_from", "the document says 2026-03-01, the request 2026-04-01")
    assert invalid(
        catalog.new_tariff_version,
        A,
        "flat",
        flat("0.35", id="other"),
        store,
        effective_from=date(2026, 4, 1),
    ) == ("id", "'other' is not the id of this tariff ('flat')")
    assert list(store.items) == [(A, "tariff", "flat@000001")]


def test_a_new_version_on_a_stale_etag_is_refused(store: FakeCatalogStore) -> None:
    first = catalog.create_tariff(A, flat("0.30"), store)
    catalog.new_tariff_version(
        A, "flat", flat("0.31"), store, effective_from=date(2026, 2, 1), if_match=first.etag
    )
    with pytest.raises(PreconditionFailedError, match="tariff 'flat' has changed"):
        catalog.new_tariff_version(
            A, "flat", flat("0.32"), store, effective_from=date(2026, 3, 1), if_match=first.etag
        )
    assert len(store.items) == 2


def test_another_accounts_tariff_is_not_found(store: FakeCatalogStore) -> None:
    catalog.create_tariff(A, flat("0.30"), store)
    with pytest.raises(NotFoundError, match="tariff 'flat' not found"):
        catalog.get_tariff(B, "flat", store)
    with pytest.raises(NotFoundError, match="tariff 'flat' not found"):
        catalog.new_tariff_version(B, "flat", flat("0.1"), store, effective_from=date(2026, 2, 1))
    with pytest.raises(NotFoundError, match="tariff version 'flat@7' not found"):
        catalog.get_tariff(A, "flat", store, version=7)


def test_tariffs_list_a_page_at_a_time_each_as_its_latest_version(store: FakeCatalogStore) -> None:
    months = ["2026-01-01", "2026-02-01", "2026-03-01"]
    for tariff_id, count in (("a", 3), ("a-b", 1), ("c", 2), ("d", 1), ("e", 2)):
        catalog.create_tariff(A, flat("0.1", id=tariff_id, effective_from=months[0]), store)
        for month in months[1:count]:
            catalog.new_tariff_version(
                A, tariff_id, flat("0.1", id=tariff_id), store, effective_from=date.fromisoformat(month)
            )
    catalog.create_tariff(B, flat("0.1", id="b-only"), store)
    pages = []
    cursor = None
    while True:
        page = catalog.list_tariffs(A, store, limit=2, cursor=cursor)
        pages.append([(e.value.id, e.value.version) for e in page.items])
        if page.cursor is None:
            break
        cursor = page.cursor
    # The store lists "<id>@<version>" ids, and "-" sorts before "@": "a-b@000001" < "a@000001".
    assert pages == [[("a-b", 1), ("a", 3)], [("c", 2), ("d", 1)], [("e", 2)]]


def test_deleting_a_tariff_removes_every_version(store: FakeCatalogStore) -> None:
    catalog.create_tariff(A, flat("0.30"), store)
    latest = catalog.new_tariff_version(A, "flat", flat("0.31"), store, effective_from=date(2026, 2, 1))
    catalog.delete_tariff(A, "flat", store, if_match=latest.etag)
    assert store.items == {}


def test_each_version_keeps_who_stored_it_beside_the_tariff(store):
    first = catalog.create_tariff(A, flat("0.30"), store, changed_by="key-1")
    catalog.new_tariff_version(
        A, "flat", flat("0.35"), store, effective_from=date(2026, 4, 1), changed_by="key-2"
    )
    catalog.new_tariff_version(A, "flat", flat("0.40"), store, effective_from=date(2026, 5, 1))

    assert (first.changed_by, store.items[(A, "tariff", "flat@000001")].body["changed_by"]) == (
        "key-1",
        "key-1",
    )
    assert [(v.value.version, v.changed_by) for v in catalog.tariff_versions(A, "flat", store)] == [
        (1, "key-1"),
        (2, "key-2"),
        (3, None),
    ]
    assert "changed_by" not in store.items[(A, "tariff", "flat@000003")].body
    assert catalog.get_tariff(A, "flat", store, version=2).value == catalog.tariff_of(
        store.items[(A, "tariff", "flat@000002")].body
    )


def test_latest_tariffs_names_each_tariff_by_its_latest_version_in_this_account(
    store: FakeCatalogStore,
) -> None:
    first = catalog.create_tariff(A, flat("0.30", effective_from="2026-01-01"), store)
    catalog.new_tariff_version(
        A, "flat", flat("0.35", name="Flat 2026"), store, effective_from=date(2026, 4, 1), if_match=first.etag
    )
    catalog.create_tariff(A, flat("0.20", id="night", name="Night"), store)
    catalog.create_tariff(B, flat("0.99", id="other", name="B's"), store)

    latest = catalog.latest_tariffs(A, store)

    assert {t_id: (t.version, t.name, t.energy.periods[0].tiers[0].rate) for t_id, t in latest.items()} == {
        "flat": (2, "Flat 2026", Decimal("0.35")),
        "night": (1, "Night", Decimal("0.20")),
    }
