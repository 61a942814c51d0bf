"""The savings figures of an account (services/savings.py): its on_time meters' validated on-time, the rating
and price their tariff's savings component prices them at, per site, over local calendar days."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from meterbill.domain import Assignment, Customer, Meter, Site
from meterbill.errors import InvalidInputError
from meterbill.ports import RawReading
from meterbill.services import catalog as catalog_service
from meterbill.services.savings import savings_figures
from tests.builders import UTC
from tests.fakes import FakeCatalogStore, FakeReadingStore

A, B = "acc-a", "acc-b"
D = Decimal
WEEK = (date(2026, 10, 19), date(2026, 10, 26))  # 169 hours in Berlin: the clocks go back on the 25th
WEEK_START = datetime(2026, 10, 18, 22, tzinfo=UTC)  # 2026-10-19 00:00 in Berlin (CEST)


def savings_tariff(tariff_id: str = "alpiron", price: str = "0.30", **fields: Any) -> dict[str, Any]:
    return {
        "id": tariff_id,
        "name": "Off-time savings",
        "currency": "EUR",
        "unit": "h",
        "savings": {"power_rating_w": "meter.power_rating_w", "price_per_kwh": price},
        **fields,
    }


def node(
    store: FakeCatalogStore, account: str, meter_id: str, site: str, watts: str | None, **extra: Any
) -> None:
    attributes = {} if watts is None else {"power_rating_w": watts}
    meter = {"id": meter_id, "site_id": site, "utility": "on_time", "unit": "h", "kind": "main"}
    catalog_service.create(account, Meter, {**meter, "interval_minutes": 60, "attributes": attributes}, store)
    assignment = {
        "id": f"as-{meter_id}",
        "meter_id": meter_id,
        "customer_id": "c1",
        "tariff_id": "alpiron",
        "effective_from": "2026-01-01",
        **extra,
    }
    catalog_service.create(account, Assignment, assignment, store)


@pytest.fixture
def catalog() -> FakeCatalogStore:
    """Account A: sites berlin and munich (both Europe/Berlin), nodes n1 (60 W) and n2 (250 W) in berlin, n3
    (1000 W) in munich, all under tariff alpiron (0.30 EUR/kWh); an electricity meter e1 in berlin."""
    store = FakeCatalogStore()
    for site_id, name in (("berlin", "Berlin Plant"), ("munich", "München Depot")):
        catalog_service.create(A, Site, {"id": site_id, "name": name, "timezone": "Europe/Berlin"}, store)
    catalog_service.create(A, Customer, {"id": "c1", "name": "C1"}, store)
    catalog_service.create_tariff(A, savings_tariff(effective_from="2026-01-01"), store)
    node(store, A, "n1", "berlin", "60")
    node(store, A, "n2", "berlin", "250")
    node(store, A, "n3", "munich", "1000")
    electricity = {"id": "e1", "site_id": "berlin", "utility": "electricity", "unit": "kWh", "kind": "main"}
    catalog_service.create(A, Meter, electricity, store)
    return store


def on_hours(
    store: FakeReadingStore, meter_id: str, on: int, hours: int = 169, start: datetime = WEEK_START
) -> None:
    """The meter on for the first ``on`` hours, off for the rest (1 h or 0 h an hour); a day either side."""
    first = start - timedelta(hours=24)
    values = [D(0)] * 24 + [D(1) if i < on else D(0) for i in range(hours)] + [D(0)] * 24
    store.put_new(
        A,
        [
            RawReading(meter_id, first + i * timedelta(hours=1), v, "interval", 60)
            for i, v in enumerate(values)
        ],
    )


@pytest.fixture
def readings() -> FakeReadingStore:
    store = FakeReadingStore()
    on_hours(store, "n1", 100)
    on_hours(store, "n2", 0)
    on_hours(store, "n3", 41)
    return store


def test_three_nodes_at_two_sites_over_the_autumn_week(catalog, readings) -> None:
    report = savings_figures(A, *WEEK, catalog, readings)
    berlin, munich = report.installations
    assert (berlin.name, munich.name) == ("Berlin Plant", "München Depot")
    rows = [
        (r.node_id, r.hours, r.on_hours, r.off_hours, r.power_rating_w, r.price_per_kwh, r.savings)
        for r in berlin.nodes + munich.nodes
    ]
    assert rows == [
        # 69 h x 60 W x 0.30 / 1000 = 1.242
        ("n1", D(169), D(100), D(69), D(60), D("0.30"), D("1.24")),
        # 169 h x 250 W x 0.30 / 1000 = 12.675 -> 12.68 (half up)
        ("n2", D(169), D(0), D(169), D(250), D("0.30"), D("12.68")),
        # 128 h x 1000 W x 0.30 / 1000 = 38.40
        ("n3", D(169), D(41), D(128), D(1000), D("0.30"), D(128) * 1000 * D("0.30") / 1000),
    ]
    assert berlin.totals == {"EUR": D("1.24") + D("12.68")}
    assert report.totals == {"EUR": D("1.24") + D("12.68") + D("38.40")}


def test_a_price_change_mid_span_splits_the_node_into_a_row_per_price(catalog, readings) -> None:
    catalog_service.new_tariff_version(
        A, "alpiron", savings_tariff(price="0.40"), catalog, effective_from=date(2026, 10, 22)
    )
    report = savings_figures(A, *WEEK, catalog, readings)
    n2 = [r for r in report.installations[0].nodes if r.node_id == "n2"]
    # 19-22 Oct: 72 h off x 250 W x 0.30 / 1000 = 5.40;
    # 22-26 Oct: 97 h (the 25th has 25) x 250 W x 0.40 / 1000 = 9.70
    assert [(r.hours, r.price_per_kwh, r.savings) for r in n2] == [
        (D(72), D("0.30"), D(72) * 250 * D("0.30") / 1000),
        (D(97), D("0.40"), D(97) * 250 * D("0.40") / 1000),
    ]


def test_a_node_whose_rating_formula_has_no_attribute_is_refused_naming_the_operand(
    catalog, readings
) -> None:
    node(catalog, A, "n4", "munich", None)
    with pytest.raises(InvalidInputError) as raised:
        savings_figures(A, *WEEK, catalog, readings)
    assert raised.value.field == "tariff.savings.power_rating_w"
    assert "as-n4" in raised.value.reason


def test_days_before_a_nodes_assignment_are_not_reported(catalog, readings) -> None:
    node(catalog, A, "n5", "munich", "10", effective_from="2026-10-25")
    on_hours(readings, "n5", 0)
    report = savings_figures(A, *WEEK, catalog, readings)
    (n5,) = [r for r in report.installations[1].nodes if r.node_id == "n5"]
    # only the 25th (25 h): 25 h off x 10 W x 0.30 / 1000 = 0.075 -> 0.08
    assert (n5.start.date(), n5.hours, n5.savings) == (date(2026, 10, 25), D(25), D("0.08"))


def test_another_accounts_nodes_are_not_in_the_report(catalog, readings) -> None:
    assert savings_figures(B, *WEEK, catalog, readings).installations == ()


@pytest.mark.parametrize(
    ("start", "end", "field", "reason"),
    [
        (date(2026, 10, 26), date(2026, 10, 19), "to", "2026-10-19 is not after from 2026-10-26"),
        (date(2026, 1, 1), date(2027, 1, 3), "to", "more than 366 days after from 2026-01-01"),
        (date(1999, 12, 31), date(2000, 1, 2), "from", None),
    ],
)
def test_a_bad_span_names_from_or_to(catalog, readings, start, end, field, reason) -> None:
    with pytest.raises(InvalidInputError) as raised:
        savings_figures(A, start, end, catalog, readings)
    assert raised.value.field == field
    if reason is not None:
        assert raised.value.reason == reason
