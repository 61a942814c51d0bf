"""The home page's other two zones beside the alarm zone, as plain values for the templates: the account's
collectors with their latest heartbeat (offline by the same rule as the ``collector_offline`` alert), and this
month's estimated revenue so far (the customers' running costs summed per currency). Times are shown on the
clock of the site they belong to (UTC when there is none)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Final
from zoneinfo import ZoneInfo

from meterbill.alerts.communication import CommunicationRules, collector_offline
from meterbill.alerts.ports import CollectorHeartbeat
from meterbill.ports import RunningCost

_SHOWN: Final = "d MMM HH:mm"  # Babel's pattern (English for now): "4 Dec 04:06"


@dataclass(frozen=True, slots=True)
class ShownTime:
    """A moment as the page shows it: ``iso`` for ``<time datetime>``, ``text`` on the site's clock."""

    iso: str
    text: str


def shown_time(moment: datetime, zone: ZoneInfo | None) -> ShownTime:
    """``4 Dec 04:06 CET`` on ``zone``'s clock (UTC without one); a zone without a letter abbreviation shows
    its offset: ``4 Jul 13:36 UTC+10:30`` (Lord Howe)."""
    # Babel's data loads on the console's first page, not on the API's cold start.
    from babel.dates import format_datetime

    local = moment.astimezone(zone or UTC)
    return ShownTime(
        local.isoformat(timespec="minutes"),
        f"{format_datetime(local, _SHOWN, tzinfo=local.tzinfo, locale='en')} {_abbreviation(local)}",
    )


def _abbreviation(local: datetime) -> str:
    name = local.tzname() or ""
    if name.isalpha():
        return name
    offset = local.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def site_zone(site_id: str | None, zones: Mapping[str, ZoneInfo]) -> ZoneInfo | None:
    return None if site_id is None else zones.get(site_id)


@dataclass(frozen=True, slots=True)
class MeterLine:
    meter_id: str
    last_read: ShownTime | None
    error: str | None


@dataclass(frozen=True, slots=True)
class CollectorRow:
    collector_id: str
    site_id: str | None
    version: str
    last_heartbeat: ShownTime
    spool_depth: int
    offline: bool
    status: str  # what the collector_offline rule says: "silent for 20 min (allowance 15 min)"
    failing: tuple[MeterLine, ...]
    meters: int
    warnings: tuple[str, ...]


def collector_rows(
    records: Iterable[CollectorHeartbeat],
    now: datetime,
    rules_of: Callable[[str | None], CommunicationRules],
    zones: Mapping[str, ZoneInfo],
) -> list[CollectorRow]:
    """One row per collector, by id; ``rules_of(site_id)`` the communication rules the ``collector_offline``
    alert uses for that collector (the same function decides, so the page and the alerts never disagree)."""
    found: list[CollectorRow] = []
    for record in sorted(records, key=lambda r: r.heartbeat.collector_id):
        heartbeat = record.heartbeat
        finding = collector_offline(heartbeat, now, rules_of(heartbeat.site_id))
        zone = site_zone(heartbeat.site_id, zones)
        failing = tuple(
            MeterLine(
                s.meter_id,
                None if s.last_read_at is None else shown_time(s.last_read_at, zone),
                s.error,
            )
            for s in sorted(heartbeat.meters, key=lambda s: s.meter_id)
            if s.error is not None
        )
        found.append(
            CollectorRow(
                heartbeat.collector_id,
                heartbeat.site_id,
                record.version,
                shown_time(heartbeat.received_at, zone),
                record.spool_depth,
                finding.active,
                finding.summary.removeprefix(f"collector {heartbeat.collector_id}: "),
                failing,
                len(heartbeat.meters),
                heartbeat.warnings,
            )
        )
    return found


@dataclass(frozen=True, slots=True)
class RevenueLine:
    currency: str
    amount: Decimal
    text: str  # Babel: "€1,234.56"
    customers: int


@dataclass(frozen=True, slots=True)
class Revenue:
    lines: tuple[RevenueLine, ...]  # by currency, each with its customers
    as_of: ShownTime | None  # the latest rating pass that computed one of them


def shared_zone(zones: Iterable[ZoneInfo]) -> ZoneInfo | None:
    """The one zone all of ``zones`` are, or None (shown as UTC) when they differ or there are none."""
    keys = {zone.key for zone in zones}
    return ZoneInfo(keys.pop()) if len(keys) == 1 else None


def revenue(costs: Iterable[RunningCost], zone: ZoneInfo | None = None) -> Revenue:
    """The running costs' month-to-date ``cost`` summed per currency (exact Decimals). One without a
    currency priced nothing yet and is left out: the rating pass stores the tariff's currency even on the
    first day of a bill period now, but rows stored before that have currency "". ``as_of`` is on ``zone``'s
    clock (the sites' one zone, ``shared_zone``), else UTC labelled "UTC"."""
    from meterbill.documents.locale import format_money  # Babel: see shown_time

    sums: dict[str, Decimal] = {}
    counts: dict[str, int] = {}
    latest: datetime | None = None
    for cost in costs:
        if not cost.currency:
            continue
        sums[cost.currency] = sums.get(cost.currency, Decimal(0)) + cost.cost
        counts[cost.currency] = counts.get(cost.currency, 0) + 1
        if latest is None or cost.computed_at > latest:
            latest = cost.computed_at
    lines = tuple(
        RevenueLine(currency, sums[currency], format_money(sums[currency], currency, "en"), counts[currency])
        for currency in sorted(sums)
    )
    return Revenue(lines, None if latest is None else shown_time(latest, zone))
