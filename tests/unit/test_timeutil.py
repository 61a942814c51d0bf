"""Calendar helpers of the core (``meterbill.timeutil``)."""

from __future__ import annotations

from datetime import date

from meterbill.timeutil import month_segments, next_month


def test_the_next_month_starts_on_its_first_day_and_december_turns_the_year() -> None:
    assert next_month(date(2026, 1, 31)) == date(2026, 2, 1)
    assert next_month(date(2026, 2, 1)) == date(2026, 3, 1)
    assert next_month(date(2026, 12, 15)) == date(2027, 1, 1)


def test_a_span_is_cut_at_each_month_boundary() -> None:
    assert list(month_segments(date(2026, 11, 20), date(2027, 1, 10))) == [
        (date(2026, 11, 20), date(2026, 12, 1)),
        (date(2026, 12, 1), date(2027, 1, 1)),
        (date(2027, 1, 1), date(2027, 1, 10)),
    ]
