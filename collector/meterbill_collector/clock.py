"""The wall clock, for the running collector (tests pass a clock of their own), and the one way the
collector's loops wait: on their clock, until a moment or a number of seconds, unless stopped (or woken)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Literal

from meterbill_collector.model import Clock

Waited = Literal["slept", "stopped", "woken"]


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0))


async def sleep_or_stop(
    clock: Clock, seconds: float, stop: asyncio.Event, *, wake: asyncio.Event | None = None
) -> Waited:
    """Sleeps ``seconds`` on ``clock``, or less: ``"stopped"`` when ``stop`` is set (at once, without
    sleeping, when it is set already), ``"woken"`` when ``wake`` (if given) is set first, else ``"slept"``.
    The waits it started are cancelled and awaited before it returns: nothing is left pending."""
    if stop.is_set():
        return "stopped"
    sleeping = asyncio.ensure_future(clock.sleep(seconds))
    stopping = asyncio.ensure_future(stop.wait())
    waking = asyncio.ensure_future(wake.wait()) if wake is not None else None
    waits = [w for w in (sleeping, stopping, waking) if w is not None]
    try:
        done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
        await asyncio.gather(*waits, return_exceptions=True)
    if stop.is_set():
        return "stopped"
    return "woken" if waking is not None and waking in done else "slept"


async def sleep_until(clock: Clock, moment: datetime, stop: asyncio.Event) -> bool:
    """Sleeps on ``clock`` until ``moment`` (aware); False when ``stop`` was set first. A clock whose sleep
    ends early (or late) is asked again for the time, and slept on for what remains."""
    while (remaining := (moment - clock.now()).total_seconds()) > 0:
        if await sleep_or_stop(clock, remaining, stop) == "stopped":
            return False
    return not stop.is_set()
