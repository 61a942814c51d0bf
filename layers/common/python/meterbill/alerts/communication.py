"""Detector 1: meters that go quiet, and collectors that stop sending heartbeats.

A meter is quiet when none of its readings arrived for ``missed_intervals`` of its intervals (default 3, the
debounce of OpenEMS' "3 failed reads in a row"), counted in real time (UTC), so a DST day's 23 or 25 hours
count 92 or 100 quarter hours, not 96. A meter that never sent a reading (not yet commissioned) is not judged.
A collector's heartbeat that reports a Modbus error for a meter raises that meter's finding at once. A
collector whose last heartbeat is older than ``heartbeat_allowance`` raises one ``collector_offline`` finding;
its meters get no communication finding of their own (the collector's alert stands for them), and every
finding about a meter a collector serves names that collector in ``depends_on``, so the lifecycle mutes it
while the collector is offline.

A collector's latest heartbeat may carry warnings (its spool reached its disk quota and thinned the oldest
unsent reads to hourly, say): one ``collector_warning`` finding per collector, active while the latest
heartbeat carries any (their text in the facts), inactive once a later one carries none. It depends on the
collector, so an offline collector's last warnings are muted while its ``collector_offline`` alert stands.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Final

from meterbill.alerts.model import Finding, Subject, minutes_words, on_clock, require_aware
from meterbill.domain import Meter
from meterbill.ports import RawReading


@dataclass(frozen=True, slots=True)
class CommunicationRules:
    """When a meter counts as quiet and a collector as offline."""

    missed_intervals: int = 3  # of the meter's own interval length
    heartbeat_allowance: timedelta = timedelta(minutes=15)

    def __post_init__(self) -> None:
        if self.missed_intervals < 1:
            raise ValueError(f"missed_intervals: {self.missed_intervals} must be 1 or more")
        if self.heartbeat_allowance <= timedelta(0):
            raise ValueError(f"heartbeat_allowance: {self.heartbeat_allowance} must be positive")


@dataclass(frozen=True, slots=True)
class MeterStatus:
    """What a collector's heartbeat says about one meter: its last successful read, or the Modbus error."""

    meter_id: str
    last_read_at: datetime | None = None
    error: str | None = None


MAX_WARNINGS: Final = 10  # in one heartbeat
MAX_WARNING_LENGTH: Final = 500  # characters of one warning


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """A collector's latest heartbeat (aware ``received_at``) with the status of each meter it reads and the
    collector's own warnings (none: all is well)."""

    collector_id: str
    received_at: datetime
    meters: tuple[MeterStatus, ...] = ()
    site_id: str | None = None
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        require_aware(self.received_at, f"heartbeat {self.collector_id}: received_at")
        for status in self.meters:
            if status.last_read_at is not None:
                require_aware(
                    status.last_read_at, f"heartbeat {self.collector_id}: {status.meter_id}: last_read_at"
                )


def utc_minutes(start: datetime, end: datetime) -> int:
    """Whole minutes from ``start`` to ``end`` in real time (aware datetimes of one ZoneInfo subtract as wall
    clocks in Python, which a DST change makes wrong by an hour)."""
    return int((end.astimezone(UTC) - start.astimezone(UTC)).total_seconds() // 60)


def _later(moment: datetime, minutes: int) -> datetime:
    """``moment`` plus real minutes, shown in ``moment``'s zone."""
    return (moment.astimezone(UTC) + timedelta(minutes=minutes)).astimezone(moment.tzinfo)


def _heard_at(reading: RawReading, interval_minutes: int) -> datetime:
    """When a reading's data was complete: an interval's end, a register read's instant."""
    require_aware(reading.timestamp, f"reading of {reading.meter_id}: timestamp")
    if reading.type == "interval":
        return _later(reading.timestamp, reading.interval_minutes or interval_minutes)
    return reading.timestamp


def _meter_subject(meter: Meter) -> Subject:
    return Subject("meter", meter.id, meter.site_id)


def _collector_subject(heartbeat: Heartbeat) -> Subject:
    return Subject("collector", heartbeat.collector_id, heartbeat.site_id)


def meter_communication(
    meter: Meter,
    readings: Iterable[RawReading],
    now: datetime,
    rules: CommunicationRules = CommunicationRules(),
    collector: Heartbeat | None = None,
    zone: tzinfo | None = None,
) -> Finding | None:
    """The communication finding of one meter from its recent readings (any order; null-quality ones count
    as absent) and the latest heartbeat of the collector that reads it, if any. None when the meter never
    sent a reading (whatever its collector says). Active when the last reading is ``missed_intervals``
    intervals old or the heartbeat reports an error for it; inactive otherwise, with the last gap of
    ``missed_intervals`` or more in the readings given (the one that just ended) in its facts. The summary
    gives times on ``zone``, the site's clock (``now``'s offset without one)."""
    require_aware(now, "now")
    interval = meter.interval_minutes
    heard = sorted(
        {
            _heard_at(r, interval).astimezone(UTC)
            for r in readings
            if r.quality != "N" and r.meter_id == meter.id
        }
    )
    if not heard:
        return None  # not commissioned yet, even if its collector already fails to read it
    depends_on = (_collector_subject(collector),) if collector is not None else ()
    status = next((s for s in collector.meters if s.meter_id == meter.id), None) if collector else None
    if status is not None and status.error is not None and collector is not None:
        facts = {"collector_id": collector.collector_id, "error": status.error}
        facts["reported_at"] = collector.received_at.isoformat()
        facts["last_reading_at"] = heard[-1].astimezone(now.tzinfo).isoformat()
        return Finding(
            "communication",
            _meter_subject(meter),
            "warning",
            True,
            now,
            f"meter {meter.id}: collector {collector.collector_id} reports {status.error}",
            facts,
            depends_on,
        )
    last = heard[-1].astimezone(now.tzinfo)
    missed = utc_minutes(last, now) // interval
    if missed >= rules.missed_intervals:
        gap: dict[str, str] = {
            "gap_start": last.isoformat(),
            "gap_minutes": str(utc_minutes(last, now)),
            "missed_intervals": str(missed),
            "interval_minutes": str(interval),
        }
        if status is not None and status.last_read_at is not None:  # read, but not delivered: its spool?
            gap["collector_last_read_at"] = status.last_read_at.isoformat()
        return Finding(
            "communication",
            _meter_subject(meter),
            "warning",
            True,
            now,
            f"meter {meter.id}: no reading for {missed} intervals of {interval} min "
            f"since {on_clock(last, zone)}",
            gap,
            depends_on,
        )
    facts = {"last_reading_at": last.isoformat(), "interval_minutes": str(interval)}
    summary = f"meter {meter.id}: reporting"
    for before, after in reversed(list(itertools.pairwise(heard))):
        gap_missed = utc_minutes(before, after) // interval - 1  # the reading at ``after`` arrived
        if gap_missed >= rules.missed_intervals:
            gap_start = before.astimezone(now.tzinfo)
            facts |= {
                "gap_start": gap_start.isoformat(),
                "gap_end": after.astimezone(now.tzinfo).isoformat(),
                "gap_minutes": str(utc_minutes(before, after)),
                "missed_intervals": str(gap_missed),
            }
            summary = f"meter {meter.id}: reporting again after {minutes_words(utc_minutes(before, after))}"
            break
    return Finding("communication", _meter_subject(meter), "warning", False, now, summary, facts, depends_on)


def collector_offline(heartbeat: Heartbeat, now: datetime, rules: CommunicationRules) -> Finding:
    """Active when the collector's latest heartbeat is older than the allowance; names its meters."""
    silent = utc_minutes(heartbeat.received_at, now)
    active = now.astimezone(UTC) - heartbeat.received_at.astimezone(UTC) > rules.heartbeat_allowance
    allowance = int(rules.heartbeat_allowance.total_seconds() // 60)
    facts = {
        "last_heartbeat_at": heartbeat.received_at.isoformat(),
        "silent_minutes": str(silent),
        "allowance_minutes": str(allowance),
        "meters": ",".join(sorted(s.meter_id for s in heartbeat.meters)),
    }
    state = (
        f"silent for {minutes_words(silent)} (allowance {minutes_words(allowance)})"
        if active
        else "sending heartbeats"
    )
    return Finding(
        "collector_offline",
        _collector_subject(heartbeat),
        "critical",
        active,
        now,
        f"collector {heartbeat.collector_id}: {state}",
        facts,
    )


def latest_heartbeats(heartbeats: Iterable[Heartbeat]) -> dict[str, Heartbeat]:
    """Collector id -> its latest heartbeat (by ``received_at`` in real time)."""
    latest: dict[str, Heartbeat] = {}
    for heartbeat in heartbeats:
        known = latest.get(heartbeat.collector_id)
        if known is None or heartbeat.received_at.astimezone(UTC) > known.received_at.astimezone(UTC):
            latest[heartbeat.collector_id] = heartbeat
    return latest


def collector_warning(heartbeat: Heartbeat, now: datetime) -> Finding:
    """Active while the collector's latest heartbeat carries warnings: their count and text (``warning_1``
    ...) and when it was received in the facts; inactive when it carries none."""
    warnings = heartbeat.warnings
    facts = {"reported_at": heartbeat.received_at.isoformat(), "warning_count": str(len(warnings))}
    facts |= {f"warning_{n}": text for n, text in enumerate(warnings, start=1)}
    if not warnings:
        state = "no warnings"
    elif len(warnings) == 1:
        state = f"warns: {warnings[0]}"
    else:
        state = f"warns: {warnings[0]} (and {len(warnings) - 1} more)"
    return Finding(
        "collector_warning",
        _collector_subject(heartbeat),
        "warning",
        bool(warnings),
        now,
        f"collector {heartbeat.collector_id}: {state}",
        facts,
        (_collector_subject(heartbeat),),
    )


def communication_findings(
    meters: Iterable[tuple[Meter, Iterable[RawReading]]],
    heartbeats: Sequence[Heartbeat],
    now: datetime,
    rules: CommunicationRules = CommunicationRules(),
) -> Iterator[Finding]:
    """Every collector's finding, then every judged meter's, one meter at a time (its readings are read only
    while it is judged, so memory stays flat in the number of meters). A meter read by an offline collector
    gets no finding: the collector's stands for it."""
    require_aware(now, "now")
    latest = latest_heartbeats(heartbeats)
    serving: Mapping[str, Heartbeat] = {
        status.meter_id: heartbeat for heartbeat in latest.values() for status in heartbeat.meters
    }
    offline: set[str] = set()
    for collector_id in sorted(latest):
        finding = collector_offline(latest[collector_id], now, rules)
        if finding.active:
            offline.add(collector_id)
        yield finding
    for meter, readings in meters:
        collector = serving.get(meter.id)
        if collector is not None and collector.collector_id in offline:
            continue
        judged = meter_communication(meter, readings, now, rules, collector)
        if judged is not None:
            yield judged


def collector_warnings(heartbeats: Sequence[Heartbeat], now: datetime) -> Iterator[Finding]:
    """One ``collector_warning`` finding per collector, by collector id, from its latest heartbeat."""
    require_aware(now, "now")
    latest = latest_heartbeats(heartbeats)
    for collector_id in sorted(latest):
        yield collector_warning(latest[collector_id], now)
