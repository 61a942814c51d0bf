"""What a customer's bill would be under another tariff (``services.preview.compare_tariff``): the same
usage priced under the chosen tariff's versions and under the tariffs its assignments have, to the cent; an
assignment measuring another unit left out; a period not begun yet, a customer without a meter of the unit,
a tariff not in force and another account's customer refused with the field named."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from meterbill.domain import Assignment, Customer, Meter, Site
from meterbill.errors import InvalidInputError, NotFoundError
from meterbill.ports import RawReading
from meterbill.services import catalog as catalog_service
from meterbill.services.preview import compare_tariff
from meterbill.tariffs.model import Tariff
from tests.builders import UTC
from tests.fakes import FakeCatalogStore, FakeReadingStore
from tests.unit.test_service_preview import eur, flat

A, B = "acc-a", "acc-b"
D = Decimal
NOW = datetime(2026, 4, 2, 9, tzinfo=UTC)
MARCH = (date(2026, 3, 1), date(2026, 4, 1))


TIERED: dict[str, Any] = {
    "id": "tiered",
    "name": "Two tiers",
    "currency": "EUR",
    "fixed": [{"description": "Base", "amount": "8.00"}],
    "energy": {"periods": [{"name": "all", "tiers": [{"size": "200", "rate": "0.25"}, {"rate": "0.35"}]}]},
    "taxes": [{"name": "VAT", "percent": "19"}],
}
GAS: dict[str, Any] = {
    "id": "gas",
    "name": "Gas",
    "currency": "EUR",
    "unit": "m3",
    "energy": {"periods": [{"name": "all", "tiers": [{"rate": "1.10"}]}]},
}


@pytest.fixture
def catalog() -> FakeCatalogStore:
    """Account A: site berlin; customer c1 with hourly meter m1 on tariff flat (0.30 EUR/kWh, 0.36 from
    2026-03-16) and gas meter g1 on tariff gas; tariff tiered (no customer on it)."""
    store = FakeCatalogStore()
    catalog_service.create(A, Site, {"id": "berlin", "name": "Plant", "timezone": "Europe/Berlin"}, store)
    meter = {"id": "m1", "site_id": "berlin", "utility": "electricity", "unit": "kWh", "kind": "main"}
    meter["interval_minutes"] = 60
    catalog_service.create(A, Meter, meter, store)
    catalog_service.create(A, Meter, {**meter, "id": "g1", "utility": "gas", "unit": "m3"}, store)
    catalog_service.create_tariff(A, flat("0.30", effective_from="2026-01-01"), store)
    catalog_service.new_tariff_version(A, "flat", flat("0.36"), store, effective_from=date(2026, 3, 16))
    catalog_service.create_tariff(A, TIERED, store)
    catalog_service.create_tariff(A, GAS, store)
    catalog_service.create(A, Customer, {"id": "c1", "name": "C1"}, store)
    for assignment_id, meter_id, tariff_id in (("as-m1", "m1", "flat"), ("as-g1", "g1", "gas")):
        assignment = {
            "id": assignment_id,
            "meter_id": meter_id,
            "customer_id": "c1",
            "tariff_id": tariff_id,
            "effective_from": "2026-01-01",
        }
        catalog_service.create(A, Assignment, assignment, store)
    return store


@pytest.fixture
def readings() -> FakeReadingStore:
    """1.5 kWh every hour of March 2026 on m1 (743 hours: the clocks skip one on the 29th) and the days
    around it."""
    store = FakeReadingStore()
    start = datetime(2026, 2, 27, 23, tzinfo=UTC)  # 2026-02-28 00:00 in Berlin
    store.put_new(
        A, [RawReading("m1", start + i * timedelta(hours=1), D("1.5"), "interval", 60) for i in range(791)]
    )
    return store


def versions(catalog: FakeCatalogStore, tariff_id: str, account: str = A) -> list[Tariff]:
    return [e.value for e in catalog_service.tariff_versions(account, tariff_id, catalog)]


def test_a_month_under_another_tariff_beside_what_the_customer_pays_now(catalog, readings):
    comparison = compare_tariff(A, "c1", versions(catalog, "tiered"), *MARCH, catalog, readings, now=NOW)

    usage = 743 * D("1.5")
    assert usage == D("1114.5")
    (under,) = comparison.under
    assert (under.assignment_id, under.bill.tariff_id, under.bill.usage.total) == ("as-m1", "tiered", usage)
    # Two tiers: 200 × 0.25 = 50.00, 914.5 × 0.35 = 320.075 → 320.08; base 8.00; VAT 19 % of 378.08 = 71.8352
    energy = eur(200 * D("0.25")) + eur((usage - 200) * D("0.35"))
    subtotal = D("8.00") + energy
    assert (subtotal, under.bill.total) == (D("378.08"), subtotal + eur(subtotal * D("0.19")))
    assert under.bill.total == D("449.92")

    # Now: flat at 0.30 for 1-16 March (15 × 24 h), at 0.36 from the 16th (16 × 24 - 1 h), a share of the
    # standing charge each; VAT on each bill.
    first = eur(15 * 24 * D("1.5") * D("0.30")) + eur(D("12.00") * 15 / 31)  # 162.00 + 5.81
    second = eur((16 * 24 - 1) * D("1.5") * D("0.36")) + eur(D("12.00") * 16 / 31)  # 206.82 + 6.19
    now = first + eur(first * D("0.19")) + second + eur(second * D("0.19"))
    assert [(b.bill.tariff_id, b.bill.tariff_version) for b in comparison.current] == [
        ("flat", 1),
        ("flat", 2),
    ]
    assert sum(b.bill.total for b in comparison.current) == now == D("199.69") + D("253.48")
    assert under.bill.total - now == D("-3.25")
    # the gas meter measures m3: not priced under a kWh tariff, on either side
    assert comparison.left_out == ("as-g1",)


def test_the_tariff_the_customer_is_on_compares_equal(catalog, readings):
    comparison = compare_tariff(A, "c1", versions(catalog, "flat"), *MARCH, catalog, readings, now=NOW)
    assert [b.bill for b in comparison.under] == [b.bill for b in comparison.current]


def test_a_period_not_begun_on_the_sites_clock_has_no_usage_to_price(catalog, readings):
    # 2026-04-02 09:00 UTC: the 2nd has begun in Berlin, the 3rd has not
    begun = compare_tariff(
        A, "c1", versions(catalog, "tiered"), date(2026, 4, 2), date(2026, 4, 3), catalog, readings, now=NOW
    )
    assert len(begun.under) == 1
    with pytest.raises(InvalidInputError) as err:
        compare_tariff(
            A,
            "c1",
            versions(catalog, "tiered"),
            date(2026, 4, 3),
            date(2026, 5, 1),
            catalog,
            readings,
            now=NOW,
        )
    assert (err.value.field, err.value.reason) == (
        "from",
        "2026-04-03 has not begun on the clock of site 'berlin': no usage to price yet",
    )


def test_a_customer_without_a_meter_of_the_tariffs_unit_in_the_period_is_refused(catalog, readings):
    with pytest.raises(InvalidInputError) as err:
        compare_tariff(
            A,
            "c1",
            versions(catalog, "tiered"),
            date(2025, 3, 1),
            date(2025, 4, 1),
            catalog,
            readings,
            now=NOW,
        )
    assert (err.value.field, err.value.reason) == (
        "customer_id",
        "customer 'c1' has no meter measuring kWh assigned from 2025-03-01 to 2025-04-01",
    )


def test_days_no_version_of_the_tariff_covers_name_the_tariff(catalog, readings):
    catalog_service.create_tariff(A, {**TIERED, "id": "later", "effective_from": "2026-03-10"}, catalog)
    with pytest.raises(InvalidInputError) as err:
        compare_tariff(A, "c1", versions(catalog, "later"), *MARCH, catalog, readings, now=NOW)
    assert (err.value.field, err.value.reason) == (
        "tariff_id",
        "tariff 'later' (for assignment 'as-m1'): "
        "no version of the tariff is in force from 2026-03-01 to 2026-03-10",
    )


def test_the_period_is_checked_before_anything_is_read(catalog, readings):
    with pytest.raises(InvalidInputError) as err:
        compare_tariff(
            A,
            "c1",
            versions(catalog, "tiered"),
            date(2026, 3, 2),
            date(2026, 3, 1),
            catalog,
            readings,
            now=NOW,
        )
    assert (err.value.field, err.value.reason) == ("to", "2026-03-01 is not after from 2026-03-02")


def test_another_accounts_customer_is_not_found(catalog, readings):
    with pytest.raises(NotFoundError, match="customer 'c1' not found"):
        compare_tariff(B, "c1", versions(catalog, "tiered"), *MARCH, catalog, readings, now=NOW)
