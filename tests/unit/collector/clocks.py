"""Clocks for the collector's tests."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta


class RealClock:
    """Real time (fakes' latencies and timeouts, a simulator's answers are real sleeps), counted from an
    instant set by the test."""

    def __init__(self, start: datetime) -> None:
        self.set(start)

    def set(self, start: datetime) -> None:
        self._start, self._t0 = start, time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=time.monotonic() - self._t0)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
