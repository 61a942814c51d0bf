"""The one way the collector's loops wait (``clock.sleep_or_stop``, ``clock.sleep_until``): on their clock,
until stopped or woken, leaving no wait pending."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from meterbill_collector.clock import sleep_or_stop, sleep_until

T0 = datetime(2026, 12, 4, 3, 15, tzinfo=UTC)


class StepClock:
    """Time moves only when someone sleeps, by what they sleep; a sleep longer than ``max_step`` ends after
    ``max_step`` (a clock that wakes early). ``slept``: the seconds each sleep was asked for."""

    def __init__(self, *, max_step: float = 1e9) -> None:
        self.at, self.max_step = T0, max_step
        self.slept: list[float] = []

    def now(self) -> datetime:
        return self.at

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.at += timedelta(seconds=min(seconds, self.max_step))
        await asyncio.sleep(0)


class NeverEnds(StepClock):
    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        await asyncio.Event().wait()


def test_the_time_passes_and_nothing_is_left_pending() -> None:
    clock = StepClock()

    async def scenario() -> tuple[str, int]:
        waited = await sleep_or_stop(clock, 30, asyncio.Event())
        return waited, len(asyncio.all_tasks()) - 1

    assert asyncio.run(scenario()) == ("slept", 0)
    assert clock.slept == [30]


def test_already_stopped_it_does_not_sleep_at_all() -> None:
    clock, stop = StepClock(), asyncio.Event()
    stop.set()
    assert asyncio.run(sleep_or_stop(clock, 30, stop)) == "stopped"
    assert asyncio.run(sleep_until(clock, T0 + timedelta(seconds=30), stop)) is False
    assert clock.slept == []


def test_a_stop_or_a_wake_ends_the_sleep_and_a_stop_wins_over_a_wake() -> None:
    async def scenario(*, wake_set: bool, stop_set: bool) -> tuple[str, int]:
        stop, wake = asyncio.Event(), asyncio.Event()
        loop = asyncio.get_running_loop()
        if wake_set:
            loop.call_soon(wake.set)
        if stop_set:
            loop.call_soon(stop.set)
        waited = await sleep_or_stop(NeverEnds(), 3600, stop, wake=wake)
        return waited, len(asyncio.all_tasks()) - 1

    assert asyncio.run(scenario(wake_set=True, stop_set=False)) == ("woken", 0)
    assert asyncio.run(scenario(wake_set=False, stop_set=True)) == ("stopped", 0)
    assert asyncio.run(scenario(wake_set=True, stop_set=True)) == ("stopped", 0)


def test_sleeping_until_a_moment_sleeps_again_when_the_clock_wakes_early() -> None:
    clock = StepClock(max_step=20)
    assert asyncio.run(sleep_until(clock, T0 + timedelta(seconds=50), asyncio.Event())) is True
    assert (clock.slept, clock.at) == ([50, 30, 10], T0 + timedelta(seconds=50))
