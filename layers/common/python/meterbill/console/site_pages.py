"""The console's sites pages: the account's sites (meters, open alerts, month-to-date usage per utility and
unit) and a site as a tree site → room → rack → feed → phase → device, built from the meters' labels, with
each node's month-to-date usage, its share of the site's total and its status; the customers holding the
site's meters today with their month-to-date usage; each main meter's part accounted for by its sub-meters.
Pure: the meters, their month rollups, the open alerts and the assignments come in as values.

The tree. A meter hangs under the labels it has, in the order room, rack, feed, phase: a meter without a rack
hangs under its room, one without a room directly under the site (a master meter labelled room hall-1, feed A,
phase L1 is site → hall-1 → A → L1). Its leaf is named by its ``device`` label, else its id.

What a node's usage counts. Each meter of the node's subtree once, per unit (kWh never added to m³), except
what another meter of the subtree already measures: a sub-meter counts only when its main meter is not in the
subtree (a room holding the phase masters and the PDUs under them is the masters' sum; a rack holding only
PDUs is its PDUs' sum), and a check meter never counts (it measures what another meter does). A node's share
is its usage of a unit over the site's usage of that unit.

A node's status: the worst open alert (critical > warning > info) of any meter in it (and, for the site,
the alerts about the site itself or its collectors); else "no data" when none of its meters has data this
month; else "ok" (with how many of its meters have no data this month, if some).

The month is the site's local calendar month holding ``now`` (Berlin's December starts at 2026-11-30T23:00Z);
the rollups the rating pass keeps are cut at the site's local midnights already (``meterdata.rollups``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Final
from zoneinfo import ZoneInfo

from meterbill.alerts.lifecycle import Alert
from meterbill.domain import Assignment, Customer, Meter, Site
from meterbill.errors import InvalidInputError
from meterbill.ports import MonthRollup
from meterbill.timeutil import next_month

LEVELS: Final = ("room", "rack", "feed", "phase")
STATUS_TEXT: Final = {
    "critical": "critical",
    "warning": "warning",
    "info": "info",
    "no-data": "no data this month",
    "ok": "ok",
}
_SEVERITY_RANK: Final = {"info": 1, "warning": 2, "critical": 3}
_QUANTUM: Final = Decimal("0.001")
_PERCENT: Final = Decimal("0.1")


def month_of(now: datetime, zone: ZoneInfo) -> tuple[int, int]:
    """The site's local calendar month holding ``now`` (year, month)."""
    local = now.astimezone(zone)
    return local.year, local.month


def chosen_month(text: str | None, now: datetime, zone: ZoneInfo) -> tuple[int, int]:
    """The month the page shows: ``YYYY-MM`` from the query, by default the site's month holding ``now``.

    Raises InvalidInputError naming ``month``: not a month, or one that has not begun on the site's clock."""
    current = month_of(now, zone)
    if not text:
        return current
    try:
        first = date.fromisoformat(f"{text}-01")
    except ValueError:
        raise InvalidInputError("month", f"{text[:20]!r} is not a month (YYYY-MM)") from None
    if (first.year, first.month) > current:
        raise InvalidInputError("month", f"{text} has not begun on the site's clock ({zone.key})")
    return first.year, first.month


def month_links(year: int, month: int, current: tuple[int, int]) -> dict[str, str | None]:
    """The previous and the next month as ``YYYY-MM`` (no next after the current month)."""
    before = (year - 1, 12) if month == 1 else (year, month - 1)
    after = (year + 1, 1) if month == 12 else (year, month + 1)
    return {
        "previous": f"{before[0]:04d}-{before[1]:02d}",
        "next": f"{after[0]:04d}-{after[1]:02d}" if after <= current else None,
    }


def last_day(year: int, month: int, today: date) -> date:
    """The day whose assignments a month's page shows: today in the current month, else the month's last."""
    following = next_month(date(year, month, 1))
    return min(today, date.fromordinal(following.toordinal() - 1))


def has_data(rollup: MonthRollup | None) -> bool:
    """Whether the month's rollup holds any interval with data (not all null)."""
    return rollup is not None and rollup.total.intervals > rollup.total.missing


def quantity(amount: Decimal, unit: str) -> str:
    """As the sites pages show usage: three decimals, thousands separated (``1,234.500 kWh``)."""
    return f"{amount.quantize(_QUANTUM, rounding=ROUND_HALF_UP):,} {unit}"


def percent(part: Decimal, whole: Decimal) -> str | None:
    """``part`` of ``whole`` in percent with one decimal; None when the whole is not positive."""
    if whole <= 0:
        return None
    return f"{(part * 100 / whole).quantize(_PERCENT, rounding=ROUND_HALF_UP)} %"


# --- the tree -----------------------------------------------------------------------------------------------


@dataclass
class Usage:
    """A month-to-date quantity of one unit and, under the site, its share of the site's total."""

    unit: str
    total: Decimal
    share: str | None = None

    @property
    def text(self) -> str:
        return quantity(self.total, self.unit)


@dataclass
class SubMetering:
    """How much of a main meter its sub-meters measured this month (one unit: the main meter's)."""

    sub_meters: int
    accounted: Decimal
    unaccounted: Decimal
    share: str | None  # accounted over the main meter's total

    def texts(self, unit: str) -> tuple[str, str]:
        return quantity(self.accounted, unit), quantity(self.unaccounted, unit)


@dataclass
class Node:
    """A site, a room, a rack, a feed, a phase (``level``, ``name``) or a device (``meter`` set)."""

    level: str
    name: str
    key: str  # unique in the page, for element ids: the path of names
    children: list[Node] = field(default_factory=list)
    meter: Meter | None = None
    usage: list[Usage] = field(default_factory=list)
    status: str = "ok"
    meters: int = 0
    without_data: int = 0
    alerts: list[str] = field(default_factory=list)  # a device's open alerts' summaries
    customers: list[tuple[str, str]] = field(default_factory=list)  # a device's holders today: (id, name)
    sub_metering: SubMetering | None = None

    @property
    def status_text(self) -> str:
        return STATUS_TEXT[self.status]

    def meter_ids(self) -> list[str]:
        if self.meter is not None:
            return [self.meter.id]
        return [m for child in self.children for m in child.meter_ids()]


def site_tree(
    site: Site,
    meters: Sequence[Meter],
    usage: Mapping[str, MonthRollup | None],
    alerts: Iterable[Alert],
    holders: Mapping[str, Sequence[tuple[str, str]]] | None = None,
    all_meters: Sequence[Meter] | None = None,
) -> Node:
    """The site's tree of its ``meters`` (those of other sites are left out). ``usage``: each meter's month
    rollup (missing or None: no data); ``alerts``: the account's open alerts; ``holders``: meter id → the
    customers (id, name) holding it today; ``all_meters``: the account's meters, to find sub-meters on other
    sites (default: ``meters``)."""
    mine = sorted((m for m in meters if m.site_id == site.id), key=_device_order)
    by_id = {m.id: m for m in mine}
    root = Node("site", site.name, "site")
    for meter in mine:
        node = root
        for level in LEVELS:
            name = getattr(meter.labels, level)
            if name is None:
                continue
            node = _child(node, level, str(name))
        node.children.append(
            Node("device", meter.labels.device or meter.id, f"{node.key}/meter:{meter.id}", meter=meter)
        )
    meter_alerts = _alerts_by_meter(alerts, by_id)
    site_alerts = [a for a in alerts if a.open and _about_the_site(a, site.id)]
    _settle(root, by_id, usage, meter_alerts, holders or {})
    if site_alerts:
        root.status = _worse(
            root.status, max((a.severity for a in site_alerts), key=_SEVERITY_RANK.__getitem__)
        )
    totals = {u.unit: u.total for u in root.usage}
    _share(root, totals)
    subs: dict[str, list[Meter]] = {}
    for m in all_meters if all_meters is not None else meters:
        if m.parent_id is not None:
            subs.setdefault(m.parent_id, []).append(m)
    _sub_metering(root, subs, usage)
    return root


def _about_the_site(alert: Alert, site_id: str) -> bool:
    """An alert about the site itself or about something on it that is not a meter (its collector)."""
    if alert.subject.kind == "site":
        return alert.subject.id == site_id
    return alert.subject.kind != "meter" and alert.site_id == site_id


def _device_order(meter: Meter) -> tuple[str, str]:
    return ((meter.labels.device or meter.id).casefold(), meter.id)


def _child(node: Node, level: str, name: str) -> Node:
    for child in node.children:
        if child.meter is None and child.level == level and child.name == name:
            return child
    child = Node(level, name, f"{node.key}/{level}:{name}")
    node.children.append(child)
    return child


def _alerts_by_meter(alerts: Iterable[Alert], by_id: Mapping[str, Meter]) -> dict[str, list[Alert]]:
    found: dict[str, list[Alert]] = {}
    for alert in alerts:
        if alert.open and alert.subject.kind == "meter" and alert.subject.id in by_id:
            found.setdefault(alert.subject.id, []).append(alert)
    return found


def _settle(
    node: Node,
    by_id: Mapping[str, Meter],
    usage: Mapping[str, MonthRollup | None],
    meter_alerts: Mapping[str, Sequence[Alert]],
    holders: Mapping[str, Sequence[tuple[str, str]]],
) -> None:
    """Sorts the children (rooms, racks, ... by name, then the devices) and sets usage, status, counts."""
    for child in node.children:
        _settle(child, by_id, usage, meter_alerts, holders)
    node.children.sort(key=_order)
    ids = node.meter_ids()
    inside = set(ids)
    sums: dict[str, Decimal] = {}
    for meter_id in ids:
        meter = by_id[meter_id]
        rollup = usage.get(meter_id)
        counted = meter.kind != "check" and (meter.parent_id is None or meter.parent_id not in inside)
        if counted and has_data(rollup):
            assert rollup is not None
            sums[rollup.unit] = sums.get(rollup.unit, Decimal(0)) + rollup.total.total
    node.usage = [Usage(unit, total) for unit, total in sorted(sums.items())]
    node.meters = len(ids)
    node.without_data = sum(1 for meter_id in ids if not has_data(usage.get(meter_id)))
    severities = [a.severity for meter_id in ids for a in meter_alerts.get(meter_id, ())]
    if severities:
        node.status = max(severities, key=_SEVERITY_RANK.__getitem__)
    elif node.without_data == node.meters:
        node.status = "no-data"
    else:
        node.status = "ok"
    if node.meter is not None:
        own = sorted(meter_alerts.get(node.meter.id, ()), key=lambda a: (-_SEVERITY_RANK[a.severity], a.id))
        node.alerts = [f"{a.severity}: {a.summary}" for a in own]
        node.customers = list(holders.get(node.meter.id, ()))
        if node.meter.kind == "check" and has_data(usage.get(node.meter.id)):
            rollup = usage[node.meter.id]
            assert rollup is not None
            node.usage = [Usage(rollup.unit, rollup.total.total)]  # shown, never added upward


def _order(node: Node) -> tuple[int, str, str]:
    """Rooms, then racks, feeds and phases, then devices; each by name."""
    rank = LEVELS.index(node.level) if node.level in LEVELS else len(LEVELS)
    return rank, node.name.casefold(), node.key


def _worse(status: str, severity: str) -> str:
    if status in _SEVERITY_RANK and _SEVERITY_RANK[status] >= _SEVERITY_RANK[severity]:
        return status
    return severity


def _share(node: Node, totals: Mapping[str, Decimal]) -> None:
    for child in node.children:
        for entry in child.usage:
            entry.share = percent(entry.total, totals.get(entry.unit, Decimal(0)))
        _share(child, totals)


def _sub_metering(
    node: Node, subs_of: Mapping[str, Sequence[Meter]], usage: Mapping[str, MonthRollup | None]
) -> None:
    """Sets each main meter's sub-metering: its sub-meters' month total in its unit, and what is left."""
    for child in node.children:
        _sub_metering(child, subs_of, usage)
    meter = node.meter
    if meter is None:
        return
    subs = subs_of.get(meter.id, ())
    own = usage.get(meter.id)
    if not subs or own is None or not has_data(own):
        return
    accounted = Decimal(0)
    for sub in subs:
        rollup = usage.get(sub.id)
        if has_data(rollup) and rollup is not None and rollup.unit == own.unit:
            accounted += rollup.total.total
    node.sub_metering = SubMetering(
        sub_meters=len(subs),
        accounted=accounted,
        unaccounted=own.total.total - accounted,
        share=percent(accounted, own.total.total),
    )


def as_of(tree: Node, usage: Mapping[str, MonthRollup | None]) -> datetime | None:
    """Where the month's data ends: the latest end of the tree's meters' rollups (None: no data)."""
    ends = [r.total.end for m in tree.meter_ids() if (r := usage.get(m)) is not None and has_data(r)]
    return max(ends, default=None)


# --- the customers of a site --------------------------------------------------------------------------------


@dataclass
class CustomerRow:
    """A customer holding some of the site's meters today, with their month-to-date usage there."""

    id: str
    name: str
    devices: list[tuple[str, str]]  # (meter id, device name)
    usage: list[Usage]
    residuals: list[str] = field(default_factory=list)  # residual shares not fixed: "mtr-main (by area)"


def active_today(assignments: Iterable[Assignment], today: date) -> list[Assignment]:
    """The assignments in force on ``today`` (end exclusive)."""
    return [
        a
        for a in assignments
        if a.effective_from <= today and (a.effective_to is None or today < a.effective_to)
    ]


def holders(
    assignments: Iterable[Assignment], customers: Mapping[str, Customer]
) -> dict[str, list[tuple[str, str]]]:
    """Meter id → the customers (id, name) its ``assignments`` give it to, by name."""
    found: dict[str, set[tuple[str, str]]] = {}
    for a in assignments:
        name = customers[a.customer_id].name if a.customer_id in customers else a.customer_id
        found.setdefault(a.meter_id, set()).add((a.customer_id, name))
    return {m: sorted(h, key=lambda c: (c[1].casefold(), c[0])) for m, h in found.items()}


def customer_rows(
    tree: Node,
    assignments: Iterable[Assignment],
    customers: Mapping[str, Customer],
    usage: Mapping[str, MonthRollup | None],
) -> list[CustomerRow]:
    """The customers of today's ``assignments`` on the tree's meters, by name: each one's month-to-date usage
    per unit, the month so far of each meter they hold times their share (a residual assignment: their
    share of what the main meter measured beyond its sub-meters; one split by area or usage is named, not
    summed, its share is the bill run's to compute), with each unit's share of the site's total."""
    devices = {n.meter.id: n for n in _devices(tree) if n.meter is not None}
    totals = {u.unit: u.total for u in tree.usage}
    rows: dict[str, CustomerRow] = {}
    sums: dict[str, dict[str, Decimal]] = {}
    for a in sorted(assignments, key=lambda a: (a.meter_id, a.id)):
        node = devices.get(a.meter_id)
        if node is None:
            continue
        name = customers[a.customer_id].name if a.customer_id in customers else a.customer_id
        row = rows.setdefault(a.customer_id, CustomerRow(a.customer_id, name, [], []))
        if (a.meter_id, node.name) not in row.devices:
            row.devices.append((a.meter_id, node.name))
        rollup = usage.get(a.meter_id)
        if not has_data(rollup) or rollup is None:
            continue
        if a.basis == "meter":
            part = rollup.total.total * a.share
        elif a.fixed_share and node.sub_metering is not None:
            part = max(node.sub_metering.unaccounted, Decimal(0)) * a.share
        elif a.fixed_share:
            part = rollup.total.total * a.share  # no sub-meters: all of it is residual
        else:
            row.residuals.append(f"{node.name} (residual by {a.allocation})")
            continue
        own = sums.setdefault(a.customer_id, {})
        own[rollup.unit] = own.get(rollup.unit, Decimal(0)) + part
    for customer_id, row in rows.items():
        row.usage = [
            Usage(unit, total, percent(total, totals.get(unit, Decimal(0))))
            for unit, total in sorted(sums.get(customer_id, {}).items())
        ]
    return sorted(rows.values(), key=lambda r: (r.name.casefold(), r.id))


def _devices(node: Node) -> Iterable[Node]:
    if node.meter is not None:
        yield node
    for child in node.children:
        yield from _devices(child)


# --- the list of sites --------------------------------------------------------------------------------------


@dataclass
class SiteRow:
    id: str
    name: str
    timezone: str
    month: str  # "2026-12"
    meters: int
    open_alerts: int
    status: str
    usage: list[tuple[str, Usage]]  # (utility, usage)

    @property
    def status_text(self) -> str:
        return STATUS_TEXT[self.status]


def site_rows(
    sites: Iterable[Site],
    meters: Sequence[Meter],
    usage: Mapping[str, MonthRollup | None],
    alerts: Sequence[Alert],
    now: datetime,
) -> list[SiteRow]:
    """One row per site, by name: its meters, its open alerts (about the site or one of its meters), status
    and month-to-date usage per utility and unit (counted as the tree's root counts it)."""
    by_id = {m.id: m for m in meters}
    rows = []
    for site in sorted(sites, key=lambda s: (s.name.casefold(), s.id)):
        tree = site_tree(site, meters, usage, alerts)
        mine = set(tree.meter_ids())
        utilities: dict[tuple[str, str], Decimal] = {}
        for meter_id in mine:
            meter = by_id[meter_id]
            rollup = usage.get(meter_id)
            counted = meter.kind != "check" and (meter.parent_id is None or meter.parent_id not in mine)
            if counted and has_data(rollup) and rollup is not None:
                key = (meter.utility, rollup.unit)
                utilities[key] = utilities.get(key, Decimal(0)) + rollup.total.total
        opened = [
            a
            for a in alerts
            if a.open
            and ((a.subject.kind == "meter" and a.subject.id in mine) or _about_the_site(a, site.id))
        ]
        year, month = month_of(now, site.zone())
        rows.append(
            SiteRow(
                id=site.id,
                name=site.name,
                timezone=site.timezone,
                month=f"{year:04d}-{month:02d}",
                meters=len(mine),
                open_alerts=len(opened),
                status=tree.status,
                usage=[(utility, Usage(unit, total)) for (utility, unit), total in sorted(utilities.items())],
            )
        )
    return rows
