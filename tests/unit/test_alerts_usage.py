"""Abnormal usage and flat lines (issue 11, detector 6): hand-made 15-minute series on Berlin's calendar."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from meterbill.alerts.model import Subject
from meterbill.alerts.usage import (
    AbnormalUsageRule,
    BillShockRule,
    EstimatedDataRule,
    FlatLineRule,
    abnormal_usage,
    bill_shock,
    estimated_data,
    flat_line,
)
from meterbill.domain import Meter
from meterbill.usage import IntervalSeries

D = Decimal
BERLIN = ZoneInfo("Europe/Berlin")
STEP = timedelta(minutes=15)
ONE = D(1)  # kWh in an ordinary 15-minute interval: 4 an hour, 96 a day


def meter(**fields: Any) -> Meter:
    defaults: dict[str, Any] = {
        "id": "m1",
        "account_id": "acme",
        "site_id": "fra1",
        "utility": "electricity",
        "unit": "kWh",
        "kind": "main",
    }
    return Meter(**(defaults | fields))


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=BERLIN).astimezone(UTC)


def series(
    first: date, last: date, value: Callable[[datetime], Decimal] = lambda _local: ONE
) -> dict[datetime, Decimal]:
    """15-minute intervals from ``first``'s local midnight to the end of ``last``, valued by local start."""
    out, at, end = {}, midnight(first), midnight(last + timedelta(days=1))
    while at < end:
        out[at] = value(at.astimezone(BERLIN))
        at += STEP
    return out


def spike(
    day: date, hour: int, per_interval: Decimal, utc_offset_hours: int | None = None
) -> Callable[[datetime], Decimal]:
    def value(local: datetime) -> Decimal:
        offset = local.utcoffset()
        hit = local.date() == day and local.hour == hour
        if utc_offset_hours is not None and offset != timedelta(hours=utc_offset_hours):
            hit = False
        return per_interval if hit else ONE

    return value


def end_of(day: date) -> datetime:
    return midnight(day + timedelta(days=1)) + timedelta(minutes=5)


MONDAY = date(2026, 3, 16)
FOUR_WEEKS_BEFORE = MONDAY - timedelta(weeks=4)


def test_an_hour_above_three_times_its_baseline_fires() -> None:
    data = series(FOUR_WEEKS_BEFORE, MONDAY, spike(MONDAY, 14, D(4)))

    finding = abnormal_usage(meter(), data, BERLIN, MONDAY, AbnormalUsageRule(), end_of(MONDAY))

    assert finding is not None and finding.active
    assert (finding.kind, finding.subject) == ("abnormal_usage", Subject("meter", "m1", "fra1"))
    assert finding.facts["worst_hour"] == "2026-03-16T14:00:00+01:00"
    assert finding.facts["hour_usage"] == str(4 * D(4)) == "16"  # four intervals of 4 kWh
    assert finding.facts["hour_baseline"] == str(4 * ONE) == "4"  # median of four Mondays' 14:00 hours
    assert (finding.facts["hours_judged"], finding.facts["hours_above"]) == ("24", "1")
    assert finding.facts["day_usage"] == str(23 * 4 * ONE + 16) == "108"  # 3 × 96 would be needed
    assert finding.facts["day_baseline"] == "96"
    assert finding.summary == "Meter m1 on 2026-03-16: 1 hour above 3× the baseline of the last 4 weeks"


def test_hours_and_the_whole_day_above_are_both_told() -> None:
    def three_hours(local: datetime) -> Decimal:
        return D(20) if local.date() == MONDAY and local.hour in (9, 10, 11) else ONE

    data = series(FOUR_WEEKS_BEFORE, MONDAY, three_hours)

    finding = abnormal_usage(meter(), data, BERLIN, MONDAY, AbnormalUsageRule(), end_of(MONDAY))

    assert finding is not None and finding.active
    assert finding.facts["day_usage"] == str(21 * 4 * ONE + 3 * 4 * D(20)) == "324"  # above 3 × 96 = 288
    assert finding.summary == (
        "Meter m1 on 2026-03-16: 3 hours and the day above 3× the baseline of the last 4 weeks"
    )


def test_an_hour_at_exactly_three_times_its_baseline_stays_quiet() -> None:
    data = series(FOUR_WEEKS_BEFORE, MONDAY, spike(MONDAY, 14, D(3)))  # 4 × 3 = 12 = 3 × 4, not above
    finding = abnormal_usage(meter(), data, BERLIN, MONDAY, AbnormalUsageRule(), end_of(MONDAY))
    assert finding is not None and not finding.active
    assert finding.facts["hour_usage"] == "12"
    assert finding.summary == "Meter m1 on 2026-03-16: no hour above 3× the baseline of the last 4 weeks"


@pytest.mark.parametrize(("per_interval", "active"), [(D("4.75"), True), (D("4.5"), False)])
def test_the_baseline_is_the_median_of_the_same_hour_on_the_same_weekday(
    per_interval: Decimal, active: bool
) -> None:
    past = {MONDAY - timedelta(weeks=k): v for k, v in [(1, D(1)), (2, D(1)), (3, D(2)), (4, D(10))]}

    def value(local: datetime) -> Decimal:
        if local.hour != 14:
            return ONE
        return per_interval if local.date() == MONDAY else past.get(local.date(), ONE)

    data = series(FOUR_WEEKS_BEFORE, MONDAY, value)
    finding = abnormal_usage(meter(), data, BERLIN, MONDAY, AbnormalUsageRule(), end_of(MONDAY))

    assert finding is not None and finding.active is active
    assert finding.facts["hour_baseline"] == str((4 * D(1) + 4 * D(2)) / 2) == "6"  # median of 4, 4, 8, 40
    # 4 × 4.75 = 19 > 3 × 6 = 18 fires; 4 × 4.5 = 18 does not


def test_without_enough_history_nothing_is_judged() -> None:
    two_weeks = series(MONDAY - timedelta(weeks=2), MONDAY, spike(MONDAY, 14, D(9)))
    assert abnormal_usage(meter(), two_weeks, BERLIN, MONDAY, AbnormalUsageRule(), end_of(MONDAY)) is None


def test_an_incomplete_past_hour_is_no_history_and_an_unfinished_hour_is_not_judged() -> None:
    data = series(FOUR_WEEKS_BEFORE, MONDAY)
    del data[datetime(2026, 3, 9, 13, 15, tzinfo=UTC)]  # 14:15 Berlin a week before: that hour is incomplete
    rule = AbnormalUsageRule(min_weeks=4)
    finding = abnormal_usage(meter(), data, BERLIN, MONDAY, rule, end_of(MONDAY))
    assert finding is not None and finding.facts["hours_judged"] == "23"  # 14:00 has 3 of 4 weeks
    at_noon = abnormal_usage(meter(), data, BERLIN, MONDAY, rule, datetime(2026, 3, 16, 11, 50, tzinfo=UTC))
    assert at_noon is not None and at_noon.facts["hours_judged"] == "12"  # 00:00-11:00; 12:00 not over
    assert "day_usage" not in at_noon.facts  # the day is not over


SPRING = date(2026, 3, 29)  # Sunday: 02:00 → 03:00, 23 hours
AUTUMN = date(2026, 10, 25)  # Sunday: 03:00 → 02:00, 25 hours


def test_a_23_hour_day_judges_its_23_hours_and_its_day_against_24_hour_days() -> None:
    data = series(SPRING - timedelta(weeks=4), SPRING, spike(SPRING, 3, D(4)))

    finding = abnormal_usage(meter(), data, BERLIN, SPRING, AbnormalUsageRule(), end_of(SPRING))

    assert finding is not None and finding.active
    assert finding.facts["hours_judged"] == "23"
    assert finding.facts["worst_hour"] == "2026-03-29T03:00:00+02:00"
    assert finding.facts["hour_baseline"] == "4"  # 03:00 on the four Sundays before
    assert finding.facts["day_usage"] == str(22 * 4 * ONE + 4 * D(4)) == "104"
    assert finding.facts["day_baseline"] == str(24 * 4 * ONE) == "96"


def test_a_quiet_23_hour_day_is_a_complete_day() -> None:
    data = series(SPRING - timedelta(weeks=4), SPRING)
    finding = abnormal_usage(meter(), data, BERLIN, SPRING, AbnormalUsageRule(), end_of(SPRING))
    assert finding is not None and not finding.active
    assert finding.facts["day_usage"] == str(23 * 4 * ONE) == "92"


def test_a_25_hour_day_judges_the_repeated_hour_twice_against_the_same_baseline() -> None:
    second_two_oclock = spike(AUTUMN, 2, D(4), utc_offset_hours=1)  # 02:00+01:00, after the clocks went back
    data = series(AUTUMN - timedelta(weeks=4), AUTUMN, second_two_oclock)

    finding = abnormal_usage(meter(), data, BERLIN, AUTUMN, AbnormalUsageRule(), end_of(AUTUMN))

    assert finding is not None and finding.active
    assert (finding.facts["hours_judged"], finding.facts["hours_above"]) == ("25", "1")
    assert finding.facts["worst_hour"] == "2026-10-25T02:00:00+01:00"
    assert (finding.facts["hour_usage"], finding.facts["hour_baseline"]) == ("16", "4")
    assert finding.facts["day_usage"] == str(24 * 4 * ONE + 4 * D(4)) == "112"


def test_the_week_after_the_spring_change_has_one_week_less_for_02_00() -> None:
    week_after = SPRING + timedelta(weeks=1)
    data = series(week_after - timedelta(weeks=4), week_after)
    three = abnormal_usage(
        meter(), data, BERLIN, week_after, AbnormalUsageRule(min_weeks=3), end_of(week_after)
    )
    four = abnormal_usage(
        meter(), data, BERLIN, week_after, AbnormalUsageRule(min_weeks=4), end_of(week_after)
    )
    assert three is not None and four is not None
    assert (three.facts["hours_judged"], four.facts["hours_judged"]) == ("24", "23")
    assert three.facts["day_baseline"] == str((96 + 96) / D(2)) == "96"  # median of 96, 96, 96 and 92


def test_a_rule_with_more_minimum_weeks_than_weeks_is_refused() -> None:
    with pytest.raises(ValueError, match="min_weeks 5 must be between 1 and weeks"):
        AbnormalUsageRule(min_weeks=5)


# Flat line: the latest intervals holding one non-zero value for N hours.

START = datetime(2026, 3, 16, 6, tzinfo=UTC)


def run(values: list[str], start: datetime = START) -> dict[datetime, Decimal]:
    return {start + i * STEP: D(v) for i, v in enumerate(values)}


def test_six_hours_of_one_non_zero_value_is_a_flat_line() -> None:
    data = run(["1.1", "0.9"] + ["2.5"] * 24)  # 24 × 15 min = 6 h
    now = START + 26 * STEP

    finding = flat_line(meter(), data, FlatLineRule(hours=6), now)

    assert finding is not None and finding.active
    assert (finding.kind, finding.depends_on) == ("flat_line", (Subject("meter", "m1", "fra1"),))
    assert finding.facts["value"] == "2.5"
    assert finding.facts["run_intervals"] == "24"
    assert finding.facts["run_start"] == (START + 2 * STEP).isoformat()
    assert finding.facts["run_end"] == now.isoformat()


@pytest.mark.parametrize(
    ("values", "intervals"),
    [
        (["1.1"] + ["2.5"] * 23, "23"),  # 5 h 45 min
        (["0"] * 40, "0"),  # an idle meter reads 0: not stuck
        (["2.5"] * 12 + ["2.6"] + ["2.5"] * 12, "12"),  # a different value ends the run
    ],
)
def test_shorter_runs_changes_and_zeros_are_not_a_flat_line(values: list[str], intervals: str) -> None:
    finding = flat_line(meter(), run(values), FlatLineRule(hours=6), START + len(values) * STEP)
    assert finding is not None and not finding.active
    assert finding.facts["run_intervals"] == intervals


def test_a_gap_ends_the_run() -> None:
    data = run(["2.5"] * 12) | run(["2.5"] * 12, start=START + 13 * STEP)  # one interval missing between
    finding = flat_line(meter(), data, FlatLineRule(hours=6), START + 25 * STEP)
    assert finding is not None and not finding.active
    assert finding.facts["run_intervals"] == "12"


def test_a_flat_line_through_the_repeated_hour_of_a_25_hour_night_is_one_run() -> None:
    midnight_local = datetime(2026, 10, 24, 22, tzinfo=UTC)  # 00:00+02:00 on 25 October
    # Keyed as readings arrive, with their offsets: 00:00+02:00 .. 02:45+02:00, 02:00+01:00 .. 04:45+01:00
    starts = [
        datetime.fromisoformat((midnight_local + i * STEP).astimezone(BERLIN).isoformat()) for i in range(24)
    ]
    data = dict.fromkeys(starts, D("2.5"))
    finding = flat_line(meter(), data, FlatLineRule(hours=6), midnight_local + 24 * STEP)
    assert finding is not None and finding.active
    assert finding.facts["run_intervals"] == "24"


def test_no_intervals_no_verdict() -> None:
    assert flat_line(meter(), {}, FlatLineRule(), START) is None


# Bill at risk: estimated data in a period about to be invoiced, and bill shock.

PERIOD_START = datetime(2026, 3, 1, tzinfo=BERLIN)
PERIOD_END = datetime(2026, 4, 1, tzinfo=BERLIN)  # 743 hours: the clocks went forward on 29 March


def three_days(estimated: range, missing: range = range(0)) -> IntervalSeries:
    start = datetime(2026, 3, 29, tzinfo=UTC)
    values = [1] * 72  # 72 hourly intervals
    return IntervalSeries(start, 60, values, 0, "kWh", frozenset(estimated), frozenset(missing))


def test_a_period_about_to_be_invoiced_with_too_much_estimated_data_is_at_risk() -> None:
    series = three_days(estimated=range(4), missing=range(3, 8))  # intervals 0-7: 8 not measured
    now = series.end - timedelta(days=1)

    finding = estimated_data(meter(), series, EstimatedDataRule(max_percent=D(10)), now)

    assert finding is not None and finding.active
    assert finding.kind == "estimated_data"
    assert finding.facts["estimated_percent"] == str((D(8 * 100) / 72).quantize(D("0.01"))) == "11.11"
    assert (finding.facts["estimated_intervals"], finding.facts["missing_intervals"]) == ("4", "4")
    assert finding.facts["period_end"] == "2026-04-01T00:00:00+00:00"


def test_estimated_data_within_the_share_or_before_the_lead_time_stays_quiet() -> None:
    series = three_days(estimated=range(7))  # 7 * 100 / 72 = 9.72 %
    quiet = estimated_data(meter(), series, EstimatedDataRule(), series.end - timedelta(days=1))
    assert quiet is not None and not quiet.active
    assert quiet.facts["estimated_percent"] == "9.72"
    early = estimated_data(
        meter(), three_days(range(72)), EstimatedDataRule(), series.end - timedelta(days=4)
    )
    assert early is None  # 4 days before the end: not yet about to be invoiced (lead time 3 days)


ELEVEN_DAYS_IN = datetime(2026, 3, 11, tzinfo=BERLIN)  # 240 hours elapsed


def test_month_to_date_cost_projected_above_the_customers_threshold_is_bill_shock() -> None:
    rule = BillShockRule(threshold=D("300.00"), currency="EUR")

    finding = bill_shock("cust-1", [meter()], D("100.00"), PERIOD_START, PERIOD_END, rule, ELEVEN_DAYS_IN)

    assert finding is not None and finding.active
    assert (finding.kind, finding.subject) == ("bill_shock", Subject("customer", "cust-1", "fra1"))
    assert finding.facts["projected_cost"] == str((D("100.00") * 743 / 240).quantize(D("0.01"))) == "309.58"
    assert finding.depends_on == (Subject("meter", "m1", "fra1"),)


@pytest.mark.parametrize("threshold", [D("309.58"), D("310")])
def test_a_projection_at_or_below_the_threshold_is_no_bill_shock(threshold: Decimal) -> None:
    rule = BillShockRule(threshold=threshold, currency="EUR")
    finding = bill_shock("cust-1", [meter()], D("100.00"), PERIOD_START, PERIOD_END, rule, ELEVEN_DAYS_IN)
    assert finding is not None and not finding.active


def test_bill_shock_is_not_judged_in_the_periods_first_days() -> None:
    rule = BillShockRule(threshold=D("1"), currency="EUR")
    two_days_in = PERIOD_START + timedelta(days=2)
    assert bill_shock("cust-1", [meter()], D("50"), PERIOD_START, PERIOD_END, rule, two_days_in) is None


def test_bill_at_risk_rules_name_the_field_they_refuse() -> None:
    with pytest.raises(ValueError, match="max_percent 100 must be at least 0 and below 100"):
        EstimatedDataRule(max_percent=D(100))
    with pytest.raises(ValueError, match="threshold -5 must be a finite amount of at least 0"):
        BillShockRule(threshold=D(-5), currency="EUR")
    with pytest.raises(ValueError, match="XXQ"):
        BillShockRule(threshold=D(5), currency="XXQ")
