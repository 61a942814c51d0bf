"""What the rating pass stores, and its fan-out queue, in memory."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from meterbill.ports import (
    MeteringStore,
    MonthRollup,
    RatedDay,
    RunningCost,
    WorkQueue,
)


class FakeMeteringStore(MeteringStore):
    """``days[(account, meter, day)]``, ``months[(account, meter, year, month)]``, ``running[(account,
    customer)]``; ``writes`` counts every put (what a second pass over the same data must not increase);
    ``stale[(account, meter, day)]``: what an eventually consistent ``days`` answers instead."""

    def __init__(self) -> None:
        self.rated: dict[tuple[str, str, date], RatedDay] = {}
        # What an eventually consistent read answers instead of the stored day (a replica lagging behind).
        self.stale: dict[tuple[str, str, date], RatedDay] = {}
        self.monthly: dict[tuple[str, str, int, int], MonthRollup] = {}
        self.running: dict[tuple[str, str], RunningCost] = {}
        self.writes = 0

    def days(
        self, account: str, meter_id: str, first: date, end: date, *, consistent: bool = True
    ) -> list[RatedDay]:
        if consistent:
            return self.latest_days(account, meter_id, first, end)
        return [
            self.stale.get((account, meter_id, d.day), d)
            for d in self.latest_days(account, meter_id, first, end)
        ]

    def latest_days(self, account: str, meter_id: str, first: date, end: date) -> list[RatedDay]:
        return [
            day
            for (a, m, d), day in sorted(self.rated.items())
            if a == account and m == meter_id and first <= d < end
        ]

    def put_day(self, account: str, day: RatedDay) -> None:
        self.writes += 1
        self.rated[(account, day.meter_id, day.day)] = day

    def rated_span(self, account: str, meter_id: str) -> tuple[date, date] | None:
        days = [d for (a, m, d) in self.rated if (a, m) == (account, meter_id)]
        return (min(days), max(days)) if days else None

    def month(self, account: str, meter_id: str, year: int, month: int) -> MonthRollup | None:
        return self.monthly.get((account, meter_id, year, month))

    def put_month(self, account: str, rollup: MonthRollup) -> None:
        self.writes += 1
        self.monthly[(account, rollup.meter_id, rollup.year, rollup.month)] = rollup

    def running_cost(self, account: str, customer_id: str) -> RunningCost | None:
        return self.running.get((account, customer_id))

    def put_running_cost(self, account: str, running: RunningCost) -> None:
        self.writes += 1
        self.running[(account, running.customer_id)] = running

    def running_costs(self, account: str) -> list[RunningCost]:
        return [self.running[key] for key in sorted(self.running) if key[0] == account]


class FakeWorkQueue(WorkQueue):
    """``messages`` in the order sent (JSON round-tripped, as SQS would carry them)."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def send(self, messages: Sequence[Mapping[str, Any]]) -> None:
        self.messages += [json.loads(json.dumps(message)) for message in messages]
