"""The savings report's arithmetic (billing/savings.py): off hours x W x price / 1000 per node, rounded once
per row; installations and the report add up their rounded rows to the cent."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from meterbill.billing.savings import NodeUsage, savings_report
from meterbill.timeutil import local_midnight

D = Decimal
BERLIN = ZoneInfo("Europe/Berlin")
# The week of the autumn change: Monday 2026-10-19 to Monday 2026-10-26, the clocks go back on the 25th.
WEEK = (local_midnight(date(2026, 10, 19), BERLIN), local_midnight(date(2026, 10, 26), BERLIN))


def node(node_id: str, site: str, on: str, watts: str, price: str, span=WEEK, currency="EUR") -> NodeUsage:
    return NodeUsage(node_id, site, site.title(), span[0], span[1], D(on), D(watts), D(price), currency)


def test_a_week_over_the_autumn_change_has_169_hours_and_each_installation_adds_up_its_nodes() -> None:
    report = savings_report(
        [
            node("n2", "berlin", "0.5", "250", "0.30"),
            node("n3", "munich", "40.25", "1000", "0.28"),
            node("n1", "berlin", "100", "60", "0.30"),
        ]
    )
    berlin, munich = report.installations
    assert [(r.node_id, r.hours, r.off_hours) for r in berlin.nodes] == [
        ("n1", D(169), D(169) - D(100)),
        ("n2", D(169), D(169) - D("0.5")),
    ]
    # 69 h x 60 W x 0.30 / 1000 = 1.242 -> 1.24; 168.5 h x 250 W x 0.30 / 1000 = 12.6375 -> 12.64 (half up)
    assert [r.savings for r in berlin.nodes] == [D("1.24"), D("12.64")]
    assert berlin.totals == {"EUR": D("1.24") + D("12.64")}
    # 128.75 h x 1000 W x 0.28 / 1000 = 36.05
    assert munich.nodes[0].savings == D("128.75") * 1000 * D("0.28") / 1000
    assert munich.totals == {"EUR": D("36.05")}
    assert report.totals == {"EUR": D("13.88") + D("36.05")}
    assert report.totals["EUR"] == D("49.93")


def test_totals_are_sums_of_rounded_rows_so_they_add_up_to_the_cent() -> None:
    # Each node: 0.1 h off x 40 W x 1.00 / 1000 = 0.004 -> 0.00; the total is 0.00, not round(0.012) = 0.01.
    day = (local_midnight(date(2026, 3, 2), BERLIN), local_midnight(date(2026, 3, 3), BERLIN))
    report = savings_report([node(f"n{i}", "berlin", "23.9", "40", "1.00", span=day) for i in range(3)])
    (berlin,) = report.installations
    assert [r.savings for r in berlin.nodes] == [D("0.00")] * 3
    assert berlin.totals == report.totals == {"EUR": D("0.00")}


def test_the_spring_day_has_23_hours() -> None:
    day = (local_midnight(date(2026, 3, 29), BERLIN), local_midnight(date(2026, 3, 30), BERLIN))
    (row,) = savings_report([node("n1", "berlin", "3", "100", "0.50", span=day)]).installations[0].nodes
    # (23 - 3) h x 100 W x 0.50 / 1000 = 1.00
    assert (row.hours, row.off_hours, row.savings) == (D(23), D(20), D(20) * 100 * D("0.50") / 1000)


def test_a_node_on_longer_than_the_span_saved_nothing() -> None:
    (row,) = savings_report([node("n1", "berlin", "170", "100", "0.50")]).installations[0].nodes
    assert (row.off_hours, row.savings) == (D(0), D("0.00"))


def test_totals_are_per_currency_and_rounded_to_its_minor_unit() -> None:
    report = savings_report(
        [
            node("n1", "berlin", "69", "100", "0.30"),  # 100 h x 100 W x 0.30 / 1000 = 3.00 EUR
            node("n2", "tokyo", "69", "100", "33.3", currency="JPY"),  # 100 x 100 x 33.3 / 1000 = 333 JPY
        ]
    )
    assert report.totals == {"EUR": D("3.00"), "JPY": D("333")}


def test_a_naive_span_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        NodeUsage("n1", "s", "S", datetime(2026, 1, 1), datetime(2026, 1, 2), D(0), D(1), D(1), "EUR")
    with pytest.raises(ValueError, match="not after start"):
        node("n1", "s", "0", "1", "1", span=(WEEK[0], WEEK[0] - timedelta(hours=1)))
