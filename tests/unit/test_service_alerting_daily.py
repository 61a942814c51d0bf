"""The alert passes on the fakes with a test clock: the daily instant of each site's local day (DST days
included), spikes in new readings, and the daily detectors."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from meterbill.alerts.model import Subject
from meterbill.alerts.ports import ReadingsArrived
from meterbill.domain import Assignment, Customer
from meterbill.ports import RatedDay, RawReading, RunningCost
from meterbill.services import catalog as catalog_service
from meterbill.services.alert_inputs import daily_day
from meterbill.services.alerting import (
    readings_arrived,
)
from meterbill.timeutil import local_midnight
from tests.fakes import FakeMeteringStore
from tests.unit.alerting_world import (
    FIVE,
    QUARTER,
    T0,
    A,
    B,
    World,
    rated_day,
    render,
    ticks,
)


@pytest.mark.parametrize(
    ("zone", "first", "judged_at"),
    [
        # Berlin: 29 March has 23 hours, 25 October 25; 01:00 local each day, whatever the offset.
        ("Europe/Berlin", date(2026, 3, 28), ["2026-03-28T00:00", "2026-03-29T00:00", "2026-03-29T23:00"]),
        ("Europe/Berlin", date(2026, 10, 24), ["2026-10-23T23:00", "2026-10-24T23:00", "2026-10-26T00:00"]),
        # London skips 01:00-02:00 on 29 March: the instant of the skip (01:00 UTC) is its daily pass.
        ("Europe/London", date(2026, 3, 28), ["2026-03-28T01:00", "2026-03-29T01:00", "2026-03-30T00:00"]),
        # New York repeats 01:00-02:00 on 1 November: only the first 01:00 (EDT, 05:00 UTC) counts.
        (
            "America/New_York",
            date(2026, 10, 31),
            ["2026-10-31T05:00", "2026-11-01T05:00", "2026-11-02T06:00"],
        ),
    ],
)
def test_each_local_day_is_judged_by_exactly_one_pass_of_the_5_minute_schedule(
    zone: str, first: date, judged_at: list[str]
) -> None:
    tz = ZoneInfo(zone)
    start = local_midnight(first, tz).astimezone(UTC)
    end = local_midnight(first + timedelta(days=3), tz).astimezone(UTC)

    judged = [(now, day) for now in ticks(start, end) if (day := daily_day(now, tz, FIVE)) is not None]

    assert [(now.strftime("%Y-%m-%dT%H:%M"), day) for now, day in judged] == [
        (at, first + timedelta(days=n - 1)) for n, at in enumerate(judged_at)
    ]


def test_the_23_hour_day_is_judged_once_with_its_92_quarter_hours() -> None:
    world = World()
    world.account()
    world.meter("main")
    world.meter("s1", kind="sub", parent_id="main")
    dst = date(2026, 3, 29)
    for meter_id, per_interval in (("main", 10), ("s1", 8)):
        world.metering.put_day(A, rated_day(meter_id, dst, per_interval))
    world.interval_feed("main", datetime(2026, 3, 28, tzinfo=UTC))
    world.interval_feed("s1", datetime(2026, 3, 28, tzinfo=UTC))

    start = datetime(2026, 3, 29, 12, tzinfo=UTC)
    reports = world.run(start, datetime(2026, 3, 31, tzinfo=UTC))

    daily = [start + n * FIVE for n, r in enumerate(reports) if r.daily_sites]
    # 01:00 CEST on the 30th judges the 29th, on the 31st the 30th (no rated day: nothing to compare).
    assert daily == [datetime(2026, 3, 29, 23, tzinfo=UTC), datetime(2026, 3, 30, 23, tzinfo=UTC)]
    (evasion,) = world.alerts()
    assert evasion.first_seen == datetime(2026, 3, 29, 23, tzinfo=UTC)
    assert {k: evasion.facts[k] for k in ("window_start", "window_end", "main_usage", "sub_usage")} == {
        "window_start": "2026-03-29T00:00:00+01:00",
        "window_end": "2026-03-30T00:00:00+02:00",
        "main_usage": str(92 * 10),  # 23 hours of quarter hours
        "sub_usage": str(92 * 8),
    }
    assert evasion.facts["unmetered_percent"] == "20.00"  # (920 - 736) * 100 / 920


class CountingMetering(FakeMeteringStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads: list[tuple[str, date, date]] = []

    def days(
        self, account: str, meter_id: str, first: date, end: date, *, consistent: bool = True
    ) -> list[RatedDay]:
        self.reads.append((meter_id, first, end))
        return super().days(account, meter_id, first, end, consistent=consistent)


def test_new_readings_far_above_the_same_hour_of_past_weeks_raise_a_spike_reading_only_those_days() -> None:
    world = World(metering=CountingMetering())
    world.account()
    world.meter("m1")
    monday = date(2026, 3, 2)
    for weeks in range(1, 5):
        world.metering.put_day(A, rated_day("m1", monday - timedelta(weeks=weeks), 1))
    # 10:00-11:00 in Berlin (09:00 UTC): four quarter hours of 5 kWh against a baseline of 4 × 1 kWh.
    start = datetime(2026, 3, 2, 9, tzinfo=UTC)
    world.readings.put_new(
        A, [RawReading("m1", start + n * QUARTER, Decimal(5), "interval", 15) for n in range(4)]
    )
    world.metering.reads.clear()
    now = start + timedelta(hours=1, minutes=2)

    report = readings_arrived(
        ReadingsArrived(A, ("m1",), start, start + 3 * QUARTER),
        now,
        world.sources,
        world.store,
        world.publisher,
        render,
    )

    (alert,) = world.alerts()
    assert (alert.kind, alert.state, report.opened) == ("abnormal_usage", "firing", 1)
    assert {k: alert.facts[k] for k in ("worst_hour", "hour_usage", "hour_baseline", "hours_above")} == {
        "worst_hour": "2026-03-02T10:00:00+01:00",
        "hour_usage": "20",  # 4 × 5
        "hour_baseline": "4",  # 4 × 1, the median of 4 weeks
        "hours_above": "1",
    }
    assert world.metering.reads == [
        ("m1", monday - timedelta(weeks=w), monday - timedelta(weeks=w) + timedelta(days=1))
        for w in range(1, 5)
    ]


def test_normal_new_readings_pass_nothing_on() -> None:
    world = World()
    world.account()
    world.meter("m1")
    monday = date(2026, 3, 2)
    for weeks in range(1, 5):
        world.metering.put_day(A, rated_day("m1", monday - timedelta(weeks=weeks), 1))
    start = datetime(2026, 3, 2, 9, tzinfo=UTC)
    world.readings.put_new(
        A, [RawReading("m1", start + n * QUARTER, Decimal(1), "interval", 15) for n in range(4)]
    )

    report = readings_arrived(
        ReadingsArrived(A, ("m1",), start, start + 3 * QUARTER),
        start + timedelta(hours=1),
        world.sources,
        world.store,
        world.publisher,
        render,
    )

    assert (report.findings, world.alerts(), world.store.saves) == (0, [], 0)


def test_a_sub_meter_whose_day_is_not_rated_whole_keeps_its_main_from_being_judged() -> None:
    world = World()
    world.account()
    world.meter("main")
    world.meter("s1", kind="sub", parent_id="main")
    world.meter("s2", kind="sub", parent_id="main")
    day = date(2026, 3, 2)
    world.metering.put_day(A, rated_day("main", day, 12))
    world.metering.put_day(A, rated_day("s1", day, 4))
    partial = rated_day("s2", day, 4)
    world.metering.put_day(A, replace(partial, values=partial.values[:60], qualities=partial.qualities[:60]))

    report = world.at(datetime(2026, 3, 3, 0, 0, tzinfo=UTC))

    assert report.daily_sites == 1
    assert world.alerts() == []  # 1152 - 384 would be "evasion" if s2's missing day were taken as zero


def test_the_daily_pass_judges_estimated_data_and_bill_shock_of_a_period_about_to_be_invoiced() -> None:
    world = World()
    world.account()
    world.meter("m1")
    tariff = {
        "id": "flat",
        "name": "Flat",
        "currency": "EUR",
        "energy": {"periods": [{"name": "all", "tiers": [{"rate": "0.30"}]}]},
        "effective_from": "2026-01-01",
    }
    catalog_service.create_tariff(A, tariff, world.catalog)
    catalog_service.create(A, Customer, {"id": "c1", "name": "C1"}, world.catalog)
    assignment = {"id": "as1", "meter_id": "m1", "customer_id": "c1", "tariff_id": "flat"}
    catalog_service.create(A, Assignment, {**assignment, "effective_from": "2026-01-01"}, world.catalog)
    # March so far (bill day 1): 5 days of it estimated (E) from the 10th.
    for n in range(29):
        day = date(2026, 3, 1) + timedelta(days=n)
        rated = rated_day("m1", day, 1)
        if date(2026, 3, 10) <= day < date(2026, 3, 15):
            rated = replace(rated, qualities="E" * len(rated.values))
        world.metering.put_day(A, rated)
    world.store.rules[A] = (
        {"bill_shock": {"customers": {"c1": {"threshold": "100", "currency": "EUR"}}}},
        "r1",
    )
    world.metering.put_running_cost(
        A,
        RunningCost(
            "c1",
            date(2026, 3, 1),
            date(2026, 4, 1),
            date(2026, 3, 30),
            "EUR",
            (),
            Decimal("120.00"),
            Decimal("128.28"),
            datetime(2026, 3, 29, 22, 30, tzinfo=UTC),
        ),
    )
    daily = datetime(2026, 3, 29, 23, 0, tzinfo=UTC)  # 01:00 CEST on the 30th: judges the 29th

    world.at(daily)

    shock, estimated = sorted(world.alerts(), key=lambda a: a.kind)
    assert (estimated.kind, estimated.state, shock.kind, shock.state) == (
        "estimated_data",
        "firing",
        "bill_shock",
        "firing",
    )
    intervals = 28 * 96 + 92  # 1 to 29 March; the 29th has 23 hours
    assert {k: estimated.facts[k] for k in ("intervals", "estimated_intervals", "estimated_percent")} == {
        "intervals": str(intervals),
        "estimated_intervals": str(5 * 96),
        "estimated_percent": "17.27",  # 480 * 100 / 2780
    }
    assert estimated.facts["period_start"] == "2026-03-01T00:00:00+01:00"
    assert (shock.subject, shock.facts["projected_cost"]) == (Subject("customer", "c1", "site-a"), "128.29")
    # 120.00 * 743 h (March in Berlin) / 695 h (1 March 00:00 to 30 March 00:00) = 128.2877...
    assert shock.first_seen == daily


def test_a_meter_silent_since_before_the_lookback_is_quiet_not_uncommissioned() -> None:
    world = World()
    world.account()
    world.meter("m1")
    last = T0 - timedelta(days=3)  # silent for 3 days when the first pass runs
    world.readings.put_new(
        A, [RawReading("m1", last - (n + 1) * QUARTER, Decimal("1.1"), "interval", 15) for n in range(8)]
    )
    world.metering.put_day(A, rated_day("m1", last.date(), 1))

    world.at(T0)

    (alert,) = world.alerts()
    assert (alert.kind, alert.state) == ("communication", "pending")
    assert (alert.facts["gap_start"], alert.facts["gap_minutes"]) == (last.isoformat(), str(3 * 24 * 60))


def test_an_account_whose_catalog_no_longer_validates_is_reported_and_the_others_still_judged() -> None:
    world = World()
    for account in (A, B):
        world.account(account)
        world.meter("m1", account)
        world.interval_feed("m1", T0 - timedelta(days=1), account=account, until=T0)
    stored = world.catalog.items[(A, "meter", "m1")]
    world.catalog.items[(A, "meter", "m1")] = replace(stored, body={**stored.body, "unit": "parsec"})

    reports = world.run(T0, T0 + timedelta(hours=1))

    assert set(reports[-1].failures) == {A} and "unit" in reports[-1].failures[A]
    assert [s.account for s in reports[-1].steps] == [B]
    assert [a.kind for a in world.alerts(B)] == ["communication"]
    assert world.store.leases == {}  # A's lease was given back
