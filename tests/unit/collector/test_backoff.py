"""Back-off after failed pushes: exponential from the base, capped, with full jitter from the given rng."""

from __future__ import annotations

import random

import pytest

from meterbill_collector.pushing import Backoff


def test_each_delay_is_drawn_uniformly_below_a_ceiling_that_doubles_up_to_the_cap() -> None:
    backoff = Backoff(5.0, 900.0, rng=random.Random(2026))
    same_draws = random.Random(2026)
    ceilings = [5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 320.0, 640.0, 900.0, 900.0, 900.0]

    seen_ceilings, delays = [], []
    for _ in ceilings:
        seen_ceilings.append(backoff.ceiling())
        delays.append(backoff.next())

    assert seen_ceilings == ceilings
    assert delays == [same_draws.uniform(0, ceiling) for ceiling in ceilings]
    assert all(0 <= delay <= ceiling for delay, ceiling in zip(delays, ceilings, strict=True))


def test_a_success_starts_the_back_off_again_from_the_base() -> None:
    backoff = Backoff(5.0, 900.0, rng=random.Random(1))
    for _ in range(6):
        backoff.next()
    assert backoff.ceiling() == 320.0

    backoff.reset()

    assert (backoff.failures, backoff.ceiling()) == (0, 5.0)


def test_the_default_is_five_seconds_to_fifteen_minutes() -> None:
    backoff = Backoff(rng=random.Random(1))

    assert (backoff.base, backoff.cap) == (5.0, 900.0)


def test_a_long_outage_stays_at_the_cap_without_overflowing() -> None:
    backoff = Backoff(5.0, 900.0, rng=random.Random(3))
    for _ in range(10_000):
        backoff.next()

    assert backoff.ceiling() == 900.0


@pytest.mark.parametrize(("base", "cap"), [(0.0, 10.0), (-1.0, 10.0), (20.0, 10.0)])
def test_a_base_that_is_not_positive_or_above_the_cap_is_refused(base: float, cap: float) -> None:
    with pytest.raises(ValueError, match=f"need 0 < base <= cap, got base {base} and cap {cap}"):
        Backoff(base, cap, rng=random.Random(1))
