"""Detector 1: a meter that goes quiet, a collector's Modbus error, a collector without heartbeats, a
collector's own warnings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from meterbill.alerts.communication import (
    CommunicationRules,
    Heartbeat,
    MeterStatus,
    collector_warnings,
    communication_findings,
    meter_communication,
)
from meterbill.alerts.model import Finding, Subject
from meterbill.domain import Meter
from meterbill.ports import RawReading

BERLIN = ZoneInfo("Europe/Berlin")


def meter(meter_id: str = "m1", **fields: Any) -> Meter:
    defaults: dict[str, Any] = {
        "id": meter_id,
        "account_id": "acc",
        "site_id": "site1",
        "utility": "electricity",
        "unit": "kWh",
        "kind": "main",
    }
    return Meter(**(defaults | fields))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def intervals(meter_id: str, start: datetime, count: int, minutes: int = 15) -> list[RawReading]:
    """``count`` interval readings from ``start`` on, stepped in real time and shown in Berlin time."""
    first = start.astimezone(UTC)
    return [
        RawReading(
            meter_id,
            (first + timedelta(minutes=minutes * k)).astimezone(BERLIN),
            Decimal("1.5"),
            "interval",
            minutes,
        )
        for k in range(count)
    ]


def register(meter_id: str, moment: datetime, value: str = "100") -> RawReading:
    return RawReading(meter_id, moment, Decimal(value), "register")


def test_a_meter_quiet_for_three_intervals_fires_with_the_gaps_start_and_length() -> None:
    # The last interval 10:00-10:15 arrived; 10:30, 10:45 and 11:00 did not: 3 intervals missed at 11:00.
    readings = intervals("m1", at("2026-06-01T08:00+02:00"), 9)  # 08:00 ... 10:00 (+15 min)
    finding = meter_communication(meter(), readings, at("2026-06-01T09:00Z"), zone=BERLIN)
    assert finding == Finding(
        "communication",
        Subject("meter", "m1", "site1"),
        "warning",
        True,
        at("2026-06-01T11:00+02:00"),
        "meter m1: no reading for 3 intervals of 15 min since 2026-06-01 10:15 CEST",
        {
            "gap_start": "2026-06-01T08:15:00+00:00",  # facts: ISO 8601 on ``now``'s offset
            "gap_minutes": "45",
            "missed_intervals": "3",
            "interval_minutes": "15",
        },
    )


def test_two_missed_intervals_stay_quiet() -> None:
    readings = intervals("m1", at("2026-06-01T08:00+02:00"), 9)
    finding = meter_communication(meter(), readings, at("2026-06-01T10:59+02:00"))
    assert finding is not None
    assert (finding.active, finding.facts) == (
        False,
        {"last_reading_at": "2026-06-01T10:15:00+02:00", "interval_minutes": "15"},
    )


def test_the_count_is_in_the_meters_own_intervals_and_the_rules_n() -> None:
    hourly = meter(interval_minutes=60)
    readings = [register("m1", at("2026-06-01T08:00+02:00"))]
    two_hours = meter_communication(hourly, readings, at("2026-06-01T10:00+02:00"))
    strict = meter_communication(
        hourly, readings, at("2026-06-01T10:00+02:00"), CommunicationRules(missed_intervals=2)
    )
    assert two_hours is not None and strict is not None
    assert (two_hours.active, strict.active, strict.facts["missed_intervals"]) == (False, True, "2")


def test_when_readings_resume_the_finding_is_inactive_with_the_gaps_length() -> None:
    before = intervals("m1", at("2026-06-01T08:00+02:00"), 4)  # heard last at 09:00
    after = intervals("m1", at("2026-06-01T14:00+02:00"), 2)  # 14:00-14:15 heard at 14:15
    finding = meter_communication(meter(), before + after, at("2026-06-01T14:35+02:00"))
    assert finding is not None
    assert not finding.active
    assert finding.summary == "meter m1: reporting again after 5 h 15 min"
    assert finding.facts == {
        "last_reading_at": "2026-06-01T14:30:00+02:00",
        "interval_minutes": "15",
        "gap_start": "2026-06-01T09:00:00+02:00",
        "gap_end": "2026-06-01T14:15:00+02:00",
        "gap_minutes": str(14 * 60 + 15 - 9 * 60),  # 315
        "missed_intervals": str(315 // 15 - 1),  # 20: the reading heard at 14:15 arrived
    }


def test_a_meter_never_commissioned_gets_no_finding_even_with_a_modbus_error() -> None:
    beat = Heartbeat("c1", at("2026-06-01T10:59+02:00"), (MeterStatus("m1", error="timeout"),))
    now = at("2026-06-01T11:00+02:00")
    assert meter_communication(meter(), [], now) is None
    assert meter_communication(meter(), [], now, collector=beat) is None
    null_only = [RawReading("m1", at("2026-06-01T08:00+02:00"), Decimal(0), "interval", 15, "N")]
    assert meter_communication(meter(), null_only, now) is None


def test_a_modbus_error_in_a_heartbeat_raises_at_once() -> None:
    readings = intervals("m1", at("2026-06-01T10:00+02:00"), 3)  # heard at 10:45, nothing missed at 10:50
    beat = Heartbeat(
        "c1", at("2026-06-01T10:49+02:00"), (MeterStatus("m1", error="Modbus exception 0x0B"),), "site1"
    )
    finding = meter_communication(meter(), readings, at("2026-06-01T10:50+02:00"), collector=beat)
    assert finding is not None
    assert finding.active
    assert finding.summary == "meter m1: collector c1 reports Modbus exception 0x0B"
    assert finding.facts == {
        "collector_id": "c1",
        "error": "Modbus exception 0x0B",
        "reported_at": "2026-06-01T10:49:00+02:00",
        "last_reading_at": "2026-06-01T10:45:00+02:00",
    }
    assert finding.depends_on == (Subject("collector", "c1", "site1"),)


def test_spring_forward_counts_real_hours_not_wall_clock() -> None:
    # 2026-03-29 in Berlin has 23 hours: 00:00+01:00 to 03:00+02:00 is 2 real hours (3 on the wall clock).
    hourly = meter(interval_minutes=60)
    readings = [register("m1", datetime(2026, 3, 29, 0, 0, tzinfo=BERLIN))]
    finding = meter_communication(hourly, readings, datetime(2026, 3, 29, 3, 0, tzinfo=BERLIN))
    assert finding is not None
    assert finding.active is False


def test_fall_back_counts_real_hours_not_wall_clock() -> None:
    # 2026-10-25 in Berlin has 25 hours: 01:00+02:00 to 03:00+01:00 is 3 real hours (2 on the wall clock).
    hourly = meter(interval_minutes=60)
    readings = [register("m1", datetime(2026, 10, 25, 1, 0, tzinfo=BERLIN))]
    now = datetime(2026, 10, 25, 3, 0, tzinfo=BERLIN)
    finding = meter_communication(hourly, readings, now)
    assert finding is not None
    assert finding.active
    assert finding.facts == {
        "gap_start": "2026-10-25T01:00:00+02:00",
        "gap_minutes": str(3 * 60),
        "missed_intervals": "3",
        "interval_minutes": "60",
    }


@pytest.mark.parametrize(
    ("day", "quarter_hours"),
    [("2026-03-29", 23 * 4), ("2026-10-25", 25 * 4)],
)
def test_a_full_dst_day_of_quarter_hours_has_no_gap(day: str, quarter_hours: int) -> None:
    midnight = datetime.fromisoformat(day).replace(tzinfo=BERLIN)
    readings = intervals("m1", midnight, quarter_hours)  # every quarter hour of the day, in real time
    next_midnight = (midnight + timedelta(days=1)).replace(tzinfo=BERLIN)
    finding = meter_communication(meter(), readings, next_midnight)
    assert finding is not None
    assert (finding.active, finding.facts) == (
        False,
        {"last_reading_at": next_midnight.isoformat(), "interval_minutes": "15"},
    )


def test_an_offline_collector_is_one_finding_not_one_per_meter() -> None:
    now = at("2026-06-01T12:00+02:00")
    statuses = (MeterStatus("m1", at("2026-06-01T09:00+02:00")), MeterStatus("m2"))
    beats = [
        Heartbeat("c1", at("2026-06-01T09:05+02:00"), statuses, "site1"),
        Heartbeat("c1", at("2026-06-01T09:00+02:00"), statuses, "site1"),  # an older one, out of order
    ]
    old = intervals("m1", at("2026-06-01T08:00+02:00"), 4)
    stale = intervals("m2", at("2026-06-01T08:00+02:00"), 4)
    elsewhere = intervals("m3", at("2026-06-01T08:00+02:00"), 4)  # read by no collector we know
    findings = list(
        communication_findings(
            [(meter("m1"), old), (meter("m2"), stale), (meter("m3"), elsewhere)], beats, now
        )
    )
    assert [(f.kind, f.subject.id, f.active) for f in findings] == [
        ("collector_offline", "c1", True),
        ("communication", "m3", True),
    ]
    collector = findings[0]
    assert collector.subject == Subject("collector", "c1", "site1")
    assert collector.severity == "critical"
    assert collector.facts == {
        "last_heartbeat_at": "2026-06-01T09:05:00+02:00",
        "silent_minutes": str(12 * 60 - (9 * 60 + 5)),  # 175
        "allowance_minutes": "15",
        "meters": "m1,m2",
    }
    assert collector.summary == "collector c1: silent for 2 h 55 min (allowance 15 min)"


def test_an_online_collectors_meters_depend_on_it() -> None:
    now = at("2026-06-01T12:00+02:00")
    beats = [Heartbeat("c1", at("2026-06-01T11:55+02:00"), (MeterStatus("m1"),), "site1")]
    quiet = intervals("m1", at("2026-06-01T08:00+02:00"), 4)
    findings = list(communication_findings([(meter("m1"), quiet)], beats, now))
    assert [(f.kind, f.subject.id, f.active) for f in findings] == [
        ("collector_offline", "c1", False),
        ("communication", "m1", True),
    ]
    assert findings[1].depends_on == (Subject("collector", "c1", "site1"),)
    assert findings[1].facts["missed_intervals"] == str((12 * 60 - 9 * 60) // 15)  # 12


def test_naive_times_are_refused_naming_the_field() -> None:
    readings = intervals("m1", at("2026-06-01T08:00+02:00"), 1)
    with pytest.raises(ValueError, match=r"^now: 2026-06-01T11:00:00 must be timezone-aware$"):
        meter_communication(meter(), readings, datetime(2026, 6, 1, 11, 0))
    naive = [RawReading("m1", datetime(2026, 6, 1, 8, 0), Decimal(1), "register")]
    with pytest.raises(ValueError, match=r"^reading of m1: timestamp: 2026-06-01T08:00:00 must be"):
        meter_communication(meter(), naive, at("2026-06-01T11:00+02:00"))
    with pytest.raises(ValueError, match=r"^heartbeat c1: received_at: 2026-06-01T08:00:00 must be"):
        Heartbeat("c1", datetime(2026, 6, 1, 8, 0))


def test_a_collector_that_reads_the_meter_but_delivers_nothing_shows_its_last_read() -> None:
    now = at("2026-06-01T12:00+02:00")
    status = MeterStatus("m1", last_read_at=at("2026-06-01T11:58+02:00"))
    beat = Heartbeat("c1", at("2026-06-01T11:59+02:00"), (status,), "site1")
    quiet = intervals("m1", at("2026-06-01T11:00+02:00"), 1)  # heard at 11:15
    finding = meter_communication(meter(), quiet, now, collector=beat)
    assert finding is not None
    assert finding.active
    assert finding.facts == {
        "gap_start": "2026-06-01T11:15:00+02:00",
        "gap_minutes": "45",
        "missed_intervals": "3",
        "interval_minutes": "15",
        "collector_last_read_at": "2026-06-01T11:58:00+02:00",
    }
    assert finding.depends_on == (Subject("collector", "c1", "site1"),)


# --- a collector's own warnings -------------------------------------------------------------------------

THINNED = "spool at its 512 MB quota: 8,640 unsent reads of main thinned to hourly (totals kept)"


def test_a_heartbeat_with_warnings_raises_a_collector_warning_with_their_text() -> None:
    now = at("2026-06-01T12:00+02:00")
    beat = Heartbeat(
        "c1", at("2026-06-01T11:58+02:00"), (MeterStatus("m1"),), "site1", (THINNED, "clock 90 s behind NTP")
    )

    (finding,) = collector_warnings([beat], now)

    assert finding == Finding(
        "collector_warning",
        Subject("collector", "c1", "site1"),
        "warning",
        True,
        now,
        f"collector c1: warns: {THINNED} (and 1 more)",
        {
            "reported_at": "2026-06-01T11:58:00+02:00",
            "warning_count": "2",
            "warning_1": THINNED,
            "warning_2": "clock 90 s behind NTP",
        },
        (Subject("collector", "c1", "site1"),),  # an offline collector's alert mutes its last warnings
    )


def test_only_the_latest_heartbeat_counts_so_one_without_warnings_resolves_it() -> None:
    now = at("2026-06-01T12:00+02:00")
    beats = [
        Heartbeat("c2", at("2026-06-01T11:50+02:00"), (), None, ("one",)),
        Heartbeat("c1", at("2026-06-01T11:55+02:00")),  # the latest of c1: all is well again
        Heartbeat("c1", at("2026-06-01T11:50+02:00"), (), None, (THINNED,)),  # older, out of order
    ]

    findings = list(collector_warnings(beats, now))

    assert [(f.subject.id, f.active, f.summary, dict(f.facts)) for f in findings] == [
        ("c1", False, "collector c1: no warnings",
         {"reported_at": "2026-06-01T11:55:00+02:00", "warning_count": "0"}),
        ("c2", True, "collector c2: warns: one",
         {"reported_at": "2026-06-01T11:50:00+02:00", "warning_count": "1", "warning_1": "one"}),
    ]  # fmt: skip


def test_a_heartbeat_made_before_warnings_existed_has_none_and_warns_of_nothing() -> None:
    beat = Heartbeat("c1", at("2026-06-01T11:55+02:00"), (MeterStatus("m1"),), "site1")

    (finding,) = collector_warnings([beat], at("2026-06-01T12:00+02:00"))

    assert beat.warnings == ()
    assert (finding.kind, finding.active, finding.facts["warning_count"]) == ("collector_warning", False, "0")


def test_warnings_do_not_change_the_communication_findings() -> None:
    now = at("2026-06-01T12:00+02:00")
    beat = Heartbeat("c1", at("2026-06-01T11:55+02:00"), (MeterStatus("m1"),), "site1", (THINNED,))
    readings = intervals("m1", at("2026-06-01T11:00+02:00"), 4)

    findings = list(communication_findings([(meter("m1"), readings)], [beat], now))

    assert [(f.kind, f.subject.id, f.active) for f in findings] == [
        ("collector_offline", "c1", False),
        ("communication", "m1", False),
    ]
