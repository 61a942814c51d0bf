"""Bill periods on the site's calendar: what is due when, what a settlement leaves, when a draft is issued."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meterbill.billing.periods import (
    DateSpan,
    PeriodError,
    bill_date_on_or_before,
    clip,
    due_periods,
    issue_at,
    issue_due,
    period_containing,
    period_ending,
    periods,
    settled_until,
    subtract,
)

BERLIN = ZoneInfo("Europe/Berlin")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")  # +10:30, +11:00 in summer: a half-hour DST shift
SANTIAGO = ZoneInfo("America/Santiago")  # DST starts at midnight: 2026-09-06 has no 00:00
D = date


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def span(start: str, end: str) -> DateSpan:
    return DateSpan(D.fromisoformat(start), D.fromisoformat(end))


# --- the calendar ------------------------------------------------------------------------------------------


def test_bill_day_15_runs_from_the_15th_to_the_14th() -> None:
    assert period_containing(D(2026, 1, 20), 15) == span("2026-01-15", "2026-02-15")
    assert period_containing(D(2026, 1, 15), 15) == span("2026-01-15", "2026-02-15")
    assert period_containing(D(2026, 1, 14), 15) == span("2025-12-15", "2026-01-15")
    assert period_ending(D(2026, 2, 15), 15) == span("2026-01-15", "2026-02-15")


def test_bill_day_1_is_the_calendar_month_and_february_2028_has_29_days() -> None:
    february = period_containing(D(2028, 2, 29), 1)
    assert february == span("2028-02-01", "2028-03-01")
    assert (february.end - february.start).days == 29
    assert periods(D(2028, 1, 20), D(2028, 3, 10), 1) == [
        span("2028-01-20", "2028-02-01"),
        span("2028-02-01", "2028-03-01"),
        span("2028-03-01", "2028-03-10"),
    ]


def test_bill_day_28_periods_cross_the_year_and_a_leap_february() -> None:
    assert period_containing(D(2028, 1, 2), 28) == span("2027-12-28", "2028-01-28")
    assert period_containing(D(2028, 2, 29), 28) == span("2028-02-28", "2028-03-28")


@pytest.mark.parametrize("bill_day", [0, 29, 31, -1, True])
def test_a_bill_day_outside_1_to_28_is_refused_naming_the_field(bill_day: int) -> None:
    with pytest.raises(PeriodError) as caught:
        bill_date_on_or_before(D(2026, 1, 1), bill_day)
    assert caught.value.field == "bill_day"
    assert "from 1 to 28" in caught.value.reason


def test_a_period_ends_on_a_bill_date_only() -> None:
    with pytest.raises(PeriodError, match=r"end: 2026-02-14 is not a bill date \(bill_day 15\)"):
        period_ending(D(2026, 2, 14), 15)


# --- due at a moment ---------------------------------------------------------------------------------------

ALWAYS = [(D(2020, 1, 1), None)]
DECEMBER_DONE = [span("2025-12-15", "2026-01-15")]


def test_bill_day_15_in_berlin_is_due_once_the_15th_has_begun_there() -> None:
    def due(now: str) -> list[DateSpan]:
        return due_periods(at(now), BERLIN, 15, active=ALWAYS, invoiced=DECEMBER_DONE, since=D(2025, 12, 15))

    assert due("2026-02-14T23:30+01:00") == []  # 22:30Z: still the 14th in Berlin
    assert due("2026-02-14T23:30+00:00") == [span("2026-01-15", "2026-02-15")]  # 00:30 on the 15th in Berlin
    assert due("2026-02-15T00:30+01:00") == [span("2026-01-15", "2026-02-15")]


def test_lord_howe_bill_day_begins_at_its_own_midnight_on_the_night_dst_ends() -> None:
    # 2026-04-05 02:00 +11:00 -> 01:30 +10:30; the 5th begins at 00:00 +11:00, 2026-04-04T13:00Z.
    invoiced = [span("2026-02-05", "2026-03-05")]

    def due(now: str) -> list[DateSpan]:
        return due_periods(at(now), LORD_HOWE, 5, active=ALWAYS, invoiced=invoiced, since=D(2026, 2, 5))

    assert due("2026-04-04T12:59:59+00:00") == []
    assert due("2026-04-04T13:00:00+00:00") == [span("2026-03-05", "2026-04-05")]


def test_lord_howe_bill_day_on_the_night_dst_starts_begins_at_midnight_plus_10_30() -> None:
    invoiced = [span("2026-08-04", "2026-09-04")]

    def due(now: str) -> list[DateSpan]:
        return due_periods(at(now), LORD_HOWE, 4, active=ALWAYS, invoiced=invoiced, since=D(2026, 8, 4))

    assert due("2026-10-03T13:29:59+00:00") == []
    assert due("2026-10-03T13:30:00+00:00") == [span("2026-09-04", "2026-10-04")]


def test_a_bill_day_whose_midnight_is_skipped_begins_when_the_day_does() -> None:
    # Santiago springs from 2026-09-05 24:00 -04:00 to 2026-09-06 01:00 -03:00: the 6th begins at 04:00Z.
    invoiced = [span("2026-07-06", "2026-08-06")]

    def due(now: str) -> list[DateSpan]:
        return due_periods(at(now), SANTIAGO, 6, active=ALWAYS, invoiced=invoiced, since=D(2026, 7, 6))

    assert due("2026-09-06T03:59:59+00:00") == []
    assert due("2026-09-06T04:00:00+00:00") == [span("2026-08-06", "2026-09-06")]


def test_the_repeated_hour_before_a_bill_day_is_still_the_day_before() -> None:
    # Santiago falls back at 2026-04-05 00:00 -03:00 to 2026-04-04 23:00 -04:00: 03:30Z is 23:30 on the 4th.
    invoiced = [span("2026-02-05", "2026-03-05")]

    def due(now: str) -> list[DateSpan]:
        return due_periods(at(now), SANTIAGO, 5, active=ALWAYS, invoiced=invoiced, since=D(2026, 2, 5))

    assert due("2026-04-05T03:30:00+00:00") == []
    assert due("2026-04-05T04:00:00+00:00") == [span("2026-03-05", "2026-04-05")]


def test_a_naive_moment_is_refused() -> None:
    with pytest.raises(PeriodError, match="now: naive datetime"):
        due_periods(datetime(2026, 2, 1), BERLIN, 1, active=ALWAYS, invoiced=[])


def test_periods_missed_while_the_schedule_was_down_are_all_due_oldest_first() -> None:
    due = due_periods(
        at("2026-04-01T09:00+02:00"), BERLIN, 1, active=ALWAYS, invoiced=[span("2025-12-01", "2026-01-01")],
        since=D(2025, 12, 1),
    )  # fmt: skip
    assert due == [
        span("2026-01-01", "2026-02-01"),
        span("2026-02-01", "2026-03-01"),
        span("2026-03-01", "2026-04-01"),
    ]


# --- settlements, move-in and move-out ---------------------------------------------------------------------


def test_after_a_move_out_settlement_the_scheduled_run_bills_only_the_rest_of_the_month() -> None:
    settled = span("2026-01-01", "2026-01-20")
    due = due_periods(
        at("2026-02-01T00:30+01:00"), BERLIN, 1, active=ALWAYS, invoiced=[settled], since=D(2026, 1, 1)
    )
    assert due == [span("2026-01-20", "2026-02-01")]


def test_a_customer_who_moved_out_with_a_settlement_has_nothing_left_to_bill() -> None:
    moved_out = [(D(2025, 6, 1), D(2026, 1, 20))]
    settled = span("2026-01-01", "2026-01-20")
    due = due_periods(
        at("2026-02-01T00:30+01:00"), BERLIN, 1, active=moved_out, invoiced=[settled], since=D(2026, 1, 1)
    )
    assert due == []


def test_a_move_out_without_settlement_is_billed_up_to_the_move_out_on_the_bill_day() -> None:
    moved_out = [(D(2025, 6, 1), D(2026, 1, 20))]
    due = due_periods(
        at("2026-02-01T00:30+01:00"), BERLIN, 1, active=moved_out, invoiced=[], since=D(2026, 1, 1)
    )
    assert due == [span("2026-01-01", "2026-01-20")]


def test_a_move_in_mid_month_starts_the_first_period_at_the_move_in() -> None:
    moved_in = [(D(2026, 1, 10), None)]
    due = due_periods(at("2026-02-01T00:30+01:00"), BERLIN, 1, active=moved_in, invoiced=[])
    assert due == [span("2026-01-10", "2026-02-01")]


def test_a_customer_without_assignments_is_never_due() -> None:
    assert due_periods(at("2026-02-01T00:30+01:00"), BERLIN, 1, active=[], invoiced=[]) == []


def test_settled_until_skips_invoiced_days_and_days_without_an_assignment() -> None:
    moved = [(D(2027, 10, 1), D(2028, 3, 15)), (D(2028, 4, 10), None)]  # a gap from 15 March to 10 April
    monthly = [(D(2027, m, 1), D(2027, m + 1, 1)) for m in (10, 11)] + [(D(2027, 12, 1), D(2028, 1, 1))]

    assert settled_until(moved, []) == D(2027, 10, 1)
    assert settled_until(moved, monthly) == D(2028, 1, 1)
    assert settled_until(moved, [*monthly, (D(2028, 1, 1), D(2028, 3, 15))]) == D(2028, 4, 10)  # the gap
    assert settled_until(moved, [(D(2027, 11, 1), D(2027, 12, 1))]) == D(2027, 10, 1)  # October is not
    assert settled_until([(D(2027, 10, 1), D(2028, 2, 29))], [(D(2027, 10, 1), D(2028, 2, 29))]) == D.max


@settings(max_examples=200, deadline=None)
@given(
    starts=st.lists(st.integers(0, 400), min_size=1, max_size=3),
    lengths=st.lists(st.one_of(st.none(), st.integers(1, 120)), min_size=3, max_size=3),
    invoiced=st.lists(st.tuples(st.integers(0, 500), st.integers(1, 60)), max_size=6),
    bill_day=st.integers(1, 28),
    hours=st.integers(0, 600 * 24),
)
def test_due_periods_from_settled_until_are_those_of_the_whole_history(
    starts: list[int], lengths: list[int | None], invoiced: list[tuple[int, int]], bill_day: int, hours: int
) -> None:
    origin = D(2027, 1, 1)
    active = [
        (origin + timedelta(days=start), None if length is None else origin + timedelta(days=start + length))
        for start, length in zip(starts, lengths, strict=False)
    ]
    covered = [(origin + timedelta(days=lo), origin + timedelta(days=lo + n)) for lo, n in invoiced]
    now = datetime(2027, 1, 1, tzinfo=UTC) + timedelta(hours=hours)

    whole = due_periods(now, BERLIN, bill_day, active=active, invoiced=covered)
    since = settled_until(active, covered)

    assert due_periods(now, BERLIN, bill_day, active=active, invoiced=covered, since=since) == whole
    assert all(span.start >= since for span in whole)


def test_subtract_keeps_the_parts_no_invoice_covers() -> None:
    january = span("2026-01-01", "2026-02-01")
    assert subtract(january, [span("2026-01-10", "2026-01-20")]) == [
        span("2026-01-01", "2026-01-10"),
        span("2026-01-20", "2026-02-01"),
    ]
    assert subtract(january, [span("2025-12-15", "2026-02-10")]) == []
    assert subtract(january, [span("2026-02-01", "2026-03-01")]) == [january]


def test_clip_keeps_one_span_from_the_first_to_the_last_active_day() -> None:
    january = span("2026-01-01", "2026-02-01")
    gap = [(D(2025, 1, 1), D(2026, 1, 10)), (D(2026, 1, 20), D(2026, 1, 25))]
    assert clip(january, gap) == span("2026-01-01", "2026-01-25")
    assert clip(january, [(D(2026, 2, 1), None)]) is None


# --- grace -------------------------------------------------------------------------------------------------


def test_bill_day_1_with_grace_2_issues_at_local_midnight_of_the_3rd() -> None:
    assert issue_at(D(2026, 2, 1), BERLIN, 2) == at("2026-02-03T00:00+01:00")
    assert not issue_due(D(2026, 2, 1), BERLIN, 2, at("2026-02-02T22:59:59+00:00"))
    assert issue_due(D(2026, 2, 1), BERLIN, 2, at("2026-02-02T23:00:00+00:00"))


def test_grace_zero_issues_when_the_bill_day_begins_and_negative_grace_is_refused() -> None:
    assert issue_at(D(2026, 4, 5), LORD_HOWE, 0) == at("2026-04-04T13:00+00:00")
    with pytest.raises(PeriodError, match="grace_days: -1 is not a whole number of days >= 0"):
        issue_at(D(2026, 2, 1), BERLIN, -1)


def test_grace_across_the_spring_forward_night_counts_local_days() -> None:
    # Berlin springs forward 2026-03-29: the 29th has 23 hours; grace ends at local midnight of the 30th.
    assert issue_at(D(2026, 3, 28), BERLIN, 2) == at("2026-03-30T00:00+02:00")


# --- the calendar, run as the hourly schedule would, for 13+ months ---------------------------------------

ZONES = ["Europe/Berlin", "Australia/Lord_Howe", "America/Santiago", "America/New_York", "Pacific/Chatham"]


@settings(max_examples=60, deadline=None)
@given(
    bill_day=st.integers(1, 28),
    zone_name=st.sampled_from(ZONES),
    move_in=st.dates(D(2026, 1, 1), D(2027, 12, 31)),
    months_stayed=st.one_of(st.none(), st.integers(0, 14)),
    extra_days=st.integers(1, 27),
    step_hours=st.integers(1, 30),
)
def test_the_hourly_run_bills_every_day_once_over_13_months_through_dst_and_29_february(
    bill_day: int, zone_name: str, move_in: date, months_stayed: int | None, extra_days: int, step_hours: int
) -> None:
    zone = ZoneInfo(zone_name)
    move_out = None if months_stayed is None else move_in + timedelta(days=30 * months_stayed + extra_days)
    active = [(move_in, move_out)]
    horizon = datetime.combine(move_in, datetime.min.time(), UTC) + timedelta(days=420)
    now = datetime.combine(move_in, datetime.min.time(), UTC) - timedelta(days=1)
    invoiced: list[DateSpan] = []
    while now < horizon:
        for due in due_periods(now, zone, bill_day, active=active, invoiced=invoiced):
            # never before the bill day that ends its period has begun on the site's clock
            today = now.astimezone(zone).date()
            assert period_containing(due.start, bill_day).end <= bill_date_on_or_before(today, bill_day)
            # within one bill period
            assert period_containing(due.start, bill_day).end >= due.end
            invoiced.append(due)
        last_run = now
        now += timedelta(hours=step_hours)
    last_bill_date = bill_date_on_or_before(last_run.astimezone(zone).date(), bill_day)
    end = last_bill_date if move_out is None else min(move_out, last_bill_date)
    billed_days = [start + timedelta(days=d) for start, stop in invoiced for d in range((stop - start).days)]
    expected = [move_in + timedelta(days=d) for d in range(max((end - move_in).days, 0))]
    assert (
        sorted(billed_days) == expected
    )  # no day twice, none skipped, nothing before move-in or after move-out
    if move_out is None:
        assert len(invoiced) >= 13  # 420 days hold at least 13 bill dates
