"""Savings reports (Alpiron): what switching nodes off saved, per node, per installation and in total.

A node is an ``on_time`` meter; an installation is its site. Over a span [start, end) of the site's local
calendar (two local midnights: a DST day has 23 or 25 hours) a node was on for the hours its meter counted
and off for the rest: ``off = span hours - on`` (never below 0). Switched off, it did not draw its power
rating, so

    savings = off hours x rating W x price per kWh / 1000

the formula of the tariff engine's savings component (``tariffs.engine._savings_line``), with the rating and
the price as that component prices them for the node (``tariffs.engine.savings_terms``).

Rounding happens once per node row, half-up to the currency's minor unit, as the engine rounds each line; an
installation's total is the sum of its rounded rows and the report's total the sum of the installations'
totals, so every figure on the report adds up to the cent (never a total that is "off by one" from its rows).
Totals are per currency: a report never adds up euros and dollars.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import groupby
from typing import Final

from meterbill.money import round_money
from meterbill.timeutil import next_month

SECONDS_PER_HOUR: Final = Decimal(3600)
THOUSAND: Final = Decimal(1000)


@dataclass(frozen=True, slots=True)
class NodeUsage:
    """What the report needs of one node over one span (timezone-aware ``start`` and ``end``): how long it was
    on, and the rating and price its savings are priced at."""

    node_id: str
    installation_id: str
    installation_name: str
    start: datetime
    end: datetime
    on_hours: Decimal
    power_rating_w: Decimal
    price_per_kwh: Decimal
    currency: str

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError(f"node {self.node_id!r}: start and end must be timezone-aware")
        if self.end.astimezone(UTC) <= self.start.astimezone(UTC):
            raise ValueError(f"node {self.node_id!r}: end {self.end} is not after start {self.start}")


@dataclass(frozen=True, slots=True)
class NodeSavings:
    """One row of the report: the node's hours on and off in [start, end), rating, price and savings (rounded
    to the currency's minor unit)."""

    node_id: str
    start: datetime
    end: datetime
    hours: Decimal  # of the span: 24 a day, 23 or 25 on a DST day
    on_hours: Decimal
    off_hours: Decimal
    power_rating_w: Decimal
    price_per_kwh: Decimal
    currency: str
    savings: Decimal


@dataclass(frozen=True, slots=True)
class InstallationSavings:
    installation_id: str
    name: str
    nodes: tuple[NodeSavings, ...]
    totals: Mapping[str, Decimal]  # currency -> the sum of its nodes' rounded savings


@dataclass(frozen=True, slots=True)
class SavingsReport:
    installations: tuple[InstallationSavings, ...]
    totals: Mapping[str, Decimal]  # currency -> the sum of the installations' totals


def node_savings(usage: NodeUsage) -> NodeSavings:
    # In UTC: two times of one zone subtract as wall-clock times in Python (a 25-hour day would be 24).
    elapsed = usage.end.astimezone(UTC) - usage.start.astimezone(UTC)
    hours = Decimal(int(elapsed.total_seconds())) / SECONDS_PER_HOUR
    off_hours = max(hours - usage.on_hours, Decimal(0))
    exact = off_hours * usage.power_rating_w * usage.price_per_kwh / THOUSAND
    return NodeSavings(
        node_id=usage.node_id,
        start=usage.start,
        end=usage.end,
        hours=hours,
        on_hours=usage.on_hours,
        off_hours=off_hours,
        power_rating_w=usage.power_rating_w,
        price_per_kwh=usage.price_per_kwh,
        currency=usage.currency,
        savings=round_money(exact, usage.currency),  # the one rounding: per row
    )


def savings_report(usages: Iterable[NodeUsage]) -> SavingsReport:
    """The report of the nodes' usages: installations by id, their nodes by id then start."""
    ordered = sorted(usages, key=lambda u: (u.installation_id, u.node_id, u.start))
    installations = []
    for installation_id, group in groupby(ordered, key=lambda u: u.installation_id):
        members = list(group)
        rows = tuple(node_savings(u) for u in members)
        installations.append(
            InstallationSavings(
                installation_id=installation_id,
                name=members[0].installation_name,
                nodes=rows,
                totals=_sums((row.currency, row.savings) for row in rows),
            )
        )
    overall = _sums((c, amount) for inst in installations for c, amount in inst.totals.items())
    return SavingsReport(installations=tuple(installations), totals=overall)


def _sums(amounts: Iterable[tuple[str, Decimal]]) -> dict[str, Decimal]:
    sums: dict[str, Decimal] = {}
    for currency, amount in amounts:
        sums[currency] = sums.get(currency, Decimal(0)) + amount
    return dict(sorted(sums.items()))


# --- the schedule's periods ---------------------------------------------------------------------------------

SCHEDULES: Final = ("daily", "weekly", "monthly")


def schedule_period(schedule: str, start: date) -> tuple[date, date]:
    """The period [start, end) of ``schedule`` that begins on ``start``: a day, an ISO week (from a Monday)
    or a calendar month (from the 1st). ValueError naming the schedule or the day otherwise."""
    if schedule == "daily":
        return start, start + timedelta(days=1)
    if schedule == "weekly":
        if start.weekday() != 0:
            raise ValueError(f"a weekly report starts on a Monday, not on {start} ({start:%A})")
        return start, start + timedelta(days=7)
    if schedule == "monthly":
        if start.day != 1:
            raise ValueError(f"a monthly report starts on the 1st, not on {start}")
        return start, next_month(start)
    raise ValueError(f"{schedule!r} is not a schedule; expected one of {', '.join(SCHEDULES)}")


def last_ended_period(schedule: str, today: date) -> tuple[date, date]:
    """The latest period of ``schedule`` that has ended by the start of ``today`` (local): yesterday, last
    week (Monday to Monday) or last month."""
    if schedule == "daily":
        return schedule_period(schedule, today - timedelta(days=1))
    if schedule == "weekly":
        this_monday = today - timedelta(days=today.weekday())
        return schedule_period(schedule, this_monday - timedelta(days=7))
    if schedule == "monthly":
        first = today.replace(day=1)
        return schedule_period(schedule, (first - timedelta(days=1)).replace(day=1))
    raise ValueError(f"{schedule!r} is not a schedule; expected one of {', '.join(SCHEDULES)}")
