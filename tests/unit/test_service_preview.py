"""A bill preview: the customer's assignments, the meters' usage times their shares, the tariff versions in
force, rated by the engine now."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from meterbill.domain import Assignment, Customer, Meter, Site
from meterbill.errors import InvalidInputError, NotFoundError
from meterbill.money import round_money
from meterbill.ports import RawReading
from meterbill.services import catalog as catalog_service
from meterbill.services.preview import bill_preview
from tests.builders import UTC
from tests.fakes import FakeCatalogStore, FakeReadingStore

A, B = "acc-a", "acc-b"
D = Decimal


def eur(amount: Decimal) -> Decimal:
    return round_money(amount, "EUR")


def flat(rate: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": "flat",
        "name": "Flat with VAT",
        "currency": "EUR",
        "fixed": [{"description": "Standing charge", "amount": "12.00"}],
        "energy": {"periods": [{"name": "all", "tiers": [{"rate": rate}]}]},
        "taxes": [{"name": "VAT", "percent": "19"}],
        **fields,
    }


@pytest.fixture
def catalog() -> FakeCatalogStore:
    """Account A: site berlin, hourly meter m1 shared half and half by customers c1 and c2 from 2026-01-01,
    tariff flat at 0.30 EUR/kWh, and from 2026-03-16 at 0.36 EUR/kWh."""
    store = FakeCatalogStore()
    catalog_service.create(A, Site, {"id": "berlin", "name": "Plant", "timezone": "Europe/Berlin"}, store)
    meter = {"id": "m1", "site_id": "berlin", "utility": "electricity", "unit": "kWh", "kind": "main"}
    catalog_service.create(A, Meter, {**meter, "interval_minutes": 60}, store)
    catalog_service.create_tariff(A, flat("0.30", effective_from="2026-01-01"), store)
    catalog_service.new_tariff_version(A, "flat", flat("0.36"), store, effective_from=date(2026, 3, 16))
    for customer_id in ("c1", "c2"):
        catalog_service.create(A, Customer, {"id": customer_id, "name": customer_id.upper()}, store)
        assignment = {
            "id": f"as-{customer_id}",
            "meter_id": "m1",
            "customer_id": customer_id,
            "tariff_id": "flat",
            "share": "0.5",
            "effective_from": "2026-01-01",
        }
        catalog_service.create(A, Assignment, assignment, store)
    return store


@pytest.fixture
def readings() -> FakeReadingStore:
    """1.5 kWh every hour of March 2026 (743 hours: the clocks skip one on the 29th) and the day around it."""
    store = FakeReadingStore()
    start = datetime(2026, 2, 28, 23, tzinfo=UTC)  # 2026-03-01 00:00 in Berlin
    hours = 24 + 743 + 24
    store.put_new(
        A,
        [
            RawReading("m1", start + i * timedelta(hours=1), D("1.5"), "interval", 60)
            for i in range(hours - 24)
        ]
        + [RawReading("m1", start - timedelta(hours=24 - i), D("1.5"), "interval", 60) for i in range(24)],
    )
    return store


def test_a_month_with_a_tariff_change_is_two_bills_computed_to_the_cent(
    catalog: FakeCatalogStore, readings: FakeReadingStore
) -> None:
    bills = bill_preview(A, "c1", date(2026, 3, 1), date(2026, 4, 1), catalog, readings)
    assert [(b.assignment_id, b.meter_id, b.share, b.bill.tariff_version) for b in bills] == [
        ("as-c1", "m1", D("0.5"), 1),
        ("as-c1", "m1", D("0.5"), 2),
    ]
    first, second = (b.bill for b in bills)

    # 1-16 March: 15 days of 24 hours at half of 1.5 kWh, 0.30 EUR/kWh; the standing charge for 15 of 31 days.
    energy = 15 * 24 * D("1.5") * D("0.5")
    assert energy == D("270.00")
    standing = eur(D("12.00") * 15 / 31)
    charges = eur(energy * D("0.30")) + standing
    vat = eur(charges * D("0.19"))
    assert [(line.component, line.amount) for line in first.lines] == [
        ("fixed", standing),
        ("energy", eur(energy * D("0.30"))),
        ("tax", vat),
    ]
    assert first.total == charges + vat == D("5.81") + D("81.00") + D("16.49")
    assert (first.usage.total, first.start.isoformat(), first.end.isoformat()) == (
        energy,
        "2026-03-01T00:00:00+01:00",
        "2026-03-16T00:00:00+01:00",
    )

    # 16-31 March: 16 days, one of them 23 hours long, at 0.36 EUR/kWh.
    energy = (16 * 24 - 1) * D("1.5") * D("0.5")
    assert energy == D("287.25")
    standing = eur(D("12.00") * 16 / 31)
    charges = eur(energy * D("0.36")) + standing
    vat = eur(charges * D("0.19"))
    assert second.total == charges + vat == D("6.19") + D("103.41") + D("20.82")


def test_a_move_out_settlement_bills_the_days_until_the_assignment_ends(
    catalog: FakeCatalogStore, readings: FakeReadingStore
) -> None:
    ended = catalog_service.get(A, Assignment, "as-c2", catalog).value.model_dump(exclude={"account_id"})
    catalog_service.replace(
        A, Assignment, "as-c2", {**ended, "effective_to": date(2026, 3, 11)}, catalog, if_match=None
    )
    (settlement,) = bill_preview(A, "c2", date(2026, 3, 1), date(2026, 4, 1), catalog, readings)
    energy = 10 * 24 * D("1.5") * D("0.5")
    standing = eur(D("12.00") * 10 / 31)
    charges = eur(energy * D("0.30")) + standing
    assert settlement.bill.total == charges + eur(charges * D("0.19")) == D("3.87") + D("54.00") + D("11.00")
    assert settlement.bill.end.isoformat() == "2026-03-11T00:00:00+01:00"


def test_a_period_over_two_months_is_a_bill_per_month(
    catalog: FakeCatalogStore, readings: FakeReadingStore
) -> None:
    bills = bill_preview(A, "c1", date(2026, 2, 28), date(2026, 3, 2), catalog, readings)
    assert [
        (b.bill.start.date().isoformat(), b.bill.end.date().isoformat(), b.bill.usage.total) for b in bills
    ] == [
        ("2026-02-28", "2026-03-01", D("18.00")),
        ("2026-03-01", "2026-03-02", D("18.00")),
    ]


def test_a_customer_without_assignments_in_the_period_has_no_bills(
    catalog: FakeCatalogStore, readings: FakeReadingStore
) -> None:
    assert bill_preview(A, "c1", date(2025, 3, 1), date(2025, 4, 1), catalog, readings) == []


def test_another_accounts_customer_is_not_found(
    catalog: FakeCatalogStore, readings: FakeReadingStore
) -> None:
    with pytest.raises(NotFoundError, match="customer 'c1' not found"):
        bill_preview(B, "c1", date(2026, 3, 1), date(2026, 4, 1), catalog, readings)


def test_days_no_tariff_version_covers_cannot_be_previewed(
    catalog: FakeCatalogStore, readings: FakeReadingStore
) -> None:
    early = catalog_service.get(A, Assignment, "as-c1", catalog).value.model_dump(exclude={"account_id"})
    catalog_service.replace(
        A, Assignment, "as-c1", {**early, "effective_from": date(2025, 12, 1)}, catalog, if_match=None
    )
    with pytest.raises(InvalidInputError) as err:
        bill_preview(A, "c1", date(2025, 12, 1), date(2026, 1, 1), catalog, readings)
    assert (err.value.field, err.value.reason) == (
        "assignment.tariff_id",
        "assignment 'as-c1': no version of tariff flat is in force from 2025-12-01 to 2026-01-01",
    )


@pytest.mark.parametrize(
    ("start", "end", "reason"),
    [
        (date(2026, 3, 2), date(2026, 3, 1), "2026-03-01 is not after from 2026-03-02"),
        (date(2025, 1, 1), date(2026, 1, 3), "more than 366 days after from"),
    ],
)
def test_a_period_must_be_forward_and_at_most_a_year(
    catalog: FakeCatalogStore, readings: FakeReadingStore, start: date, end: date, reason: str
) -> None:
    with pytest.raises(InvalidInputError) as err:
        bill_preview(A, "c1", start, end, catalog, readings)
    assert (err.value.field, err.value.reason) == ("to", reason)
