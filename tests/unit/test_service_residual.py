"""Shared costs through the services (fakes): a common area's main meter minus its sub-meters, split among the
customers sharing it by share, area or usage, in the bill preview and on one invoice.

The building (Berlin, hourly meters, 2 March 2026, no DST change): main meter ``main`` reads 10 kWh an hour,
its sub-meters ``sub-a`` (customer c-a, 60 m²) 4 and ``sub-b`` (customer c-b, 40 m²) 3: the residual is
10 - 4 - 3 = 3 kWh an hour, 72 kWh in the day. Tariff flat 0.30 EUR/kWh, no taxes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from meterbill.billing.invoice import Invoice
from meterbill.domain import Assignment
from meterbill.errors import InvalidInputError
from meterbill.services import catalog as catalog_service
from meterbill.services import invoicing
from meterbill.services.preview import PreviewBill, bill_preview
from tests.fakes import FakeStores
from tests.unit.invoicing_support import (
    BERLIN,
    A,
    add_customer,
    add_meter,
    add_site,
    hourly,
    new_account,
    tariff,
)

D = Decimal
RATE = D("0.30")
DAY = date(2026, 3, 2)
NEXT = date(2026, 3, 3)


def give(stores: Any, customer: str, meter: str, share: str = "1", **fields: Any) -> None:
    body = {
        "id": f"as-{customer}-{meter}",
        "meter_id": meter,
        "customer_id": customer,
        "tariff_id": "flat",
        "share": share,
        "effective_from": "2026-03-01",
        **fields,
    }
    catalog_service.create(A, Assignment, body, stores.catalog)


def constant(value: str) -> Callable[[datetime], Decimal]:
    return lambda _moment: D(value)


def building(
    *,
    areas: tuple[Any, Any] = (60, 40),
    sub_a: Callable[[datetime], Decimal] | None = None,
) -> FakeStores:
    stores = FakeStores.empty()
    new_account(stores, bill_day=2)
    add_site(stores)
    catalog_service.create_tariff(A, tariff("flat", "0.30"), stores.catalog)
    add_meter(stores, "main")
    add_meter(stores, "sub-a", kind="sub", parent_id="main")
    add_meter(stores, "sub-b", kind="sub", parent_id="main")
    for customer, area in zip(("c-a", "c-b"), areas, strict=True):
        attributes = {} if area is None else {"floor_area": area}
        add_customer(stores, customer, attributes=attributes)
    give(stores, "c-a", "sub-a")
    give(stores, "c-b", "sub-b")
    start, end = datetime(2026, 3, 2, tzinfo=BERLIN), datetime(2026, 3, 3, tzinfo=BERLIN)
    stores.readings.put_new(A, hourly("main", start, end, constant("10")))
    stores.readings.put_new(A, hourly("sub-a", start, end, sub_a or constant("4")))
    stores.readings.put_new(A, hourly("sub-b", start, end, constant("3")))
    return stores


def share_residual(stores: Any, allocation: str, shares: tuple[str, str] = ("1", "1")) -> None:
    for customer, share in zip(("c-a", "c-b"), shares, strict=True):
        give(stores, customer, "main", share, basis="residual", allocation=allocation)


def residual_bill(stores: Any, customer: str) -> PreviewBill:
    bills = bill_preview(A, customer, DAY, NEXT, stores.catalog, stores.readings)
    (bill,) = [b for b in bills if b.meter_id == "main"]
    return bill


def usage_and_amount(stores: Any, customer: str) -> tuple[Decimal, Decimal]:
    bill = residual_bill(stores, customer).bill
    return bill.usage.total, bill.total


def test_the_residual_split_by_share_half_and_half() -> None:
    stores = building()
    share_residual(stores, "share", ("0.5", "0.5"))

    assert usage_and_amount(stores, "c-a") == (D(72) * D("0.5"), D(36) * RATE) == (D(36), D("10.80"))
    assert usage_and_amount(stores, "c-b") == (D(36), D("10.80"))


def test_the_residual_split_by_floor_area_60_and_40_square_metres() -> None:
    stores = building()
    share_residual(stores, "area")

    a, b = usage_and_amount(stores, "c-a"), usage_and_amount(stores, "c-b")

    assert a == (D(72) * 60 / 100, D("43.2") * RATE) == (D("43.2"), D("12.96"))
    assert b == (D(72) * 40 / 100, D("28.8") * RATE) == (D("28.8"), D("8.64"))


def test_the_residual_split_by_sub_metered_usage_adds_up_to_exactly_72_kwh() -> None:
    stores = building()
    share_residual(stores, "usage")

    (a_usage, a_amount), (b_usage, b_amount) = (
        usage_and_amount(stores, "c-a"),
        usage_and_amount(stores, "c-b"),
    )

    # Weights: c-a's sub-meter 24 * 4 = 96 kWh, c-b's 24 * 3 = 72 kWh. Each hour's 3 kWh splits in nanokWh as
    # 1.714285714 + 1.285714286 (the 1 nanokWh the floors leave goes to the larger remainder, c-b's 0.714).
    assert a_usage == 24 * D("1.714285714") == D("41.142857136")  # exact: 72 * 96/168 = 41.142857142857...
    assert b_usage == 24 * D("1.285714286") == D("30.857142864")  # exact: 72 * 72/168 = 30.857142857142...
    assert a_usage + b_usage == D(72)
    assert (a_amount, b_amount) == (D("12.34"), D("9.26"))  # 41.142857136 * 0.30 = 12.3428..., 9.2571...


def test_hours_where_the_sub_meters_exceed_the_main_meter_bill_zero_and_are_counted() -> None:
    # sub-a reads 8 kWh from midnight to 06:00: 10 - 8 - 3 < 0 in 6 hours -> 0, 3 kWh in the other 18.
    stores = building(sub_a=lambda moment: D(8) if moment.hour < 6 else D(4))
    share_residual(stores, "share", ("0.5", "0.5"))

    bill = residual_bill(stores, "c-a").bill

    assert bill.usage.total == 18 * D(3) * D("0.5") == D(27)
    assert bill.total == D(27) * RATE == D("8.10")
    assert [(m.component, m.quantity, m.unit, m.amount) for m in bill.memos] == [
        ("residual_fault", D(6), "intervals", D("0.00"))
    ]


def test_sharing_by_area_without_a_floor_area_is_422_naming_the_attribute() -> None:
    stores = building(areas=(60, None))
    share_residual(stores, "area")

    with pytest.raises(InvalidInputError) as raised:
        bill_preview(A, "c-a", DAY, NEXT, stores.catalog, stores.readings)

    assert raised.value.field == "customer.attributes.floor_area"
    assert "customer 'c-b'" in raised.value.reason


def test_a_residual_on_a_meter_without_sub_meters_is_refused_by_the_catalog() -> None:
    stores = building()

    with pytest.raises(InvalidInputError) as raised:
        give(stores, "c-a", "sub-a", "1", basis="residual", id="as-residual-on-sub")

    assert (raised.value.field, raised.value.reason) == (
        "basis",
        "residual needs a main meter; meter 'sub-a' is 'sub'",
    )


def test_residual_shares_count_apart_from_the_main_meters_own_assignments() -> None:
    stores = building()
    give(stores, "c-a", "main", "1", id="as-landlord")  # the whole main meter, as before
    share_residual(stores, "share", ("0.5", "0.5"))  # and its residual, halved: both allowed

    with pytest.raises(InvalidInputError) as raised:
        give(stores, "c-a", "main", "0.5", basis="residual", id="as-one-too-many")

    assert raised.value.field == "share"
    assert "residual assignments" in raised.value.reason and "total share 1.5 > 1" in raised.value.reason


def test_one_invoice_holds_the_customers_sub_meter_and_its_residual_share_to_the_cent() -> None:
    stores = building()
    share_residual(stores, "share", ("0.5", "0.5"))
    now = datetime(2026, 3, 5, 1, 0, tzinfo=BERLIN)  # bill day 2, two days' grace: issued

    record = invoicing.invoice_period(A, "c-a", (DAY, NEXT), now, stores.ports())

    invoice = Invoice.from_json(record.body)
    assert [(line.meter_id, line.quantity, line.rate, line.amount) for line in invoice.lines] == [
        ("main", D(72) * D("0.5"), RATE, D("10.80")),  # the residual 3 kWh/h * 24 h, halved
        ("sub-a", D(4) * 24, RATE, D("28.80")),  # its own sub-meter
    ]
    assert invoice.total == D("10.80") + D("28.80") == D("39.60")
    assert [(u.meter_id, u.total) for u in invoice.meter_usage] == [("main", D(36)), ("sub-a", D(96))]
    assert record.state == "issued"


def test_a_move_out_leaves_the_whole_residual_to_the_remaining_customer() -> None:
    stores = building()
    give(stores, "c-a", "main", basis="residual", allocation="area", effective_to="2026-03-02")
    give(stores, "c-b", "main", basis="residual", allocation="area")

    assert usage_and_amount(stores, "c-b") == (D(72), D(72) * RATE)
    assert [b.meter_id for b in bill_preview(A, "c-a", DAY, NEXT, stores.catalog, stores.readings)] == [
        "sub-a"
    ]


def test_customers_sharing_a_residual_at_the_same_time_share_one_way_of_splitting_it() -> None:
    stores = building()
    give(stores, "c-a", "main", basis="residual", allocation="area", effective_to="2026-03-02")
    give(
        stores, "c-b", "main", basis="residual", allocation="usage", effective_from="2026-03-02"
    )  # after c-a

    with pytest.raises(InvalidInputError) as raised:
        give(stores, "c-b", "main", basis="residual", allocation="share", id="as-overlapping")

    assert raised.value.field == "allocation"
    assert "split by area in assignment 'as-c-a-main'" in raised.value.reason
