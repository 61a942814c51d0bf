"""What the rating pass stores: rated days, rollups, running costs, and its fan-out queue."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from meterbill.ports.accounts import AccountStore
from meterbill.ports.catalog import CatalogStore
from meterbill.ports.invoices import InvoiceStore
from meterbill.ports.readings import ReadingStore

# --- what the rating run stores (services.rating; computed by meterdata.rollups) ---------------------------


@dataclass(frozen=True, slots=True)
class Rollup:
    """Usage in [start, end) (site-local times): the total, the part of it that is not actual (flag other
    than A), how many intervals make it and how many of them are null (N: nothing to estimate from)."""

    start: datetime
    end: datetime
    total: Decimal
    estimated: Decimal
    intervals: int
    missing: int


@dataclass(frozen=True, slots=True)
class RatedDay:
    """One meter's validated intervals of one local ``day`` (a day still running ends where validation ended):
    interval i starts at ``start + i * interval_minutes`` (absolute time) and holds ``values[i] *
    10**exponent`` in ``unit``, its NEM12 flag ``qualities[i]`` and, for every interval not flagged A,
    ``substitutions[i]`` = (method, or "" for a null; reason). Its rollups are computed from it."""

    meter_id: str
    day: date
    start: datetime
    interval_minutes: int
    unit: str
    exponent: int
    values: tuple[int, ...]
    qualities: str
    substitutions: Mapping[int, tuple[str, str]] = field(default_factory=dict)

    @property
    def end(self) -> datetime:
        return self.interval_start(len(self.values))

    def interval_start(self, index: int) -> datetime:
        step = timedelta(minutes=self.interval_minutes)
        return (self.start.astimezone(UTC) + index * step).astimezone(self.start.tzinfo)

    def hours(self) -> list[Rollup]:
        """One rollup per local clock hour, told apart by its UTC offset (the hour the clocks go back is two
        rollups; where clocks move by 30 minutes, the hour of the change is a half hour), in time order."""
        rollups: list[Rollup] = []
        first = 0
        for index in range(1, len(self.values) + 1):
            if index == len(self.values) or _clock_hour(self.interval_start(index)) != _clock_hour(
                self.interval_start(first)
            ):
                rollups.append(self._rollup(first, index))
                first = index
        return rollups

    def total(self) -> Rollup:
        return self._rollup(0, len(self.values))

    def _rollup(self, first: int, stop: int) -> Rollup:
        actual = sum(self.values[i] for i in range(first, stop) if self.qualities[i] == "A")
        total = sum(self.values[first:stop])
        return Rollup(
            start=self.interval_start(first),
            end=self.interval_start(stop),
            total=Decimal(total).scaleb(self.exponent),
            estimated=Decimal(total - actual).scaleb(self.exponent),
            intervals=stop - first,
            missing=self.qualities[first:stop].count("N"),
        )


def _clock_hour(moment: datetime) -> tuple[date, int, timedelta | None]:
    return (moment.date(), moment.hour, moment.utcoffset())


@dataclass(frozen=True, slots=True)
class MonthRollup:
    """A meter's usage in the local calendar month ``year``-``month``: the sum of its ``days`` rated days
    (``total.start`` and ``total.end`` span the first and the last of them). ``digest`` changes whenever
    any of those days' intervals or flags do (a draft invoice keeps it to know it is still current);
    ``rated_with`` is the digest of the meter's validation settings they were rated with (the bill run
    validates the raw readings instead when the meter's settings changed since). Empty: not known."""

    meter_id: str
    year: int
    month: int
    unit: str
    days: int
    total: Rollup
    digest: str = ""
    rated_with: str = ""


@dataclass(frozen=True, slots=True)
class UsageSoFar:
    """A customer's usage of one unit in [period_start, as_of), its share of each meter summed."""

    unit: str
    total: Decimal
    estimated: Decimal


@dataclass(frozen=True, slots=True)
class RunningCost:
    """A customer's bill period so far: usage and cost over [period_start, as_of) (whole local days) and the
    projection to period_end (``cost * period days / elapsed days``); kept current by every rating pass."""

    customer_id: str
    period_start: date
    period_end: date
    as_of: date
    currency: str
    usage: tuple[UsageSoFar, ...]
    cost: Decimal
    projected: Decimal
    computed_at: datetime


class MeteringStore(ABC):
    """What the rating run keeps: per meter its rated days (validated intervals with flag, method and reason,
    and their hourly and daily rollups) and monthly rollups; per customer the running period's cost."""

    @abstractmethod
    def days(
        self, account: str, meter_id: str, first: date, end: date, *, consistent: bool = True
    ) -> list[RatedDay]:
        """The meter's rated days with first <= day < end, in day order. ``consistent=False``: an eventually
        consistent read, half the cost, which may miss the latest writes (for a reader that checks them
        against ``MonthRollup.digest``)."""

    @abstractmethod
    def put_day(self, account: str, day: RatedDay) -> None:
        """Stores the day (replacing the stored one of that meter and day)."""

    def put_days(self, account: str, days: Sequence[RatedDay]) -> None:
        """Stores each day as ``put_day`` does, in as few requests as the store can (no two of the same
        meter and day)."""
        for day in days:
            self.put_day(account, day)

    @abstractmethod
    def rated_span(self, account: str, meter_id: str) -> tuple[date, date] | None:
        """The meter's first and last rated day (None: none rated yet)."""

    @abstractmethod
    def month(self, account: str, meter_id: str, year: int, month: int) -> MonthRollup | None: ...

    def months(
        self, account: str, wanted: Iterable[tuple[str, int, int]]
    ) -> dict[tuple[str, int, int], MonthRollup]:
        """The rollups of several (meter id, year, month), in as few requests as the store can; one not
        stored is absent from the answer."""
        found = {key: self.month(account, *key) for key in dict.fromkeys(wanted)}
        return {key: rollup for key, rollup in found.items() if rollup is not None}

    @abstractmethod
    def put_month(self, account: str, rollup: MonthRollup) -> None: ...

    @abstractmethod
    def running_cost(self, account: str, customer_id: str) -> RunningCost | None: ...

    @abstractmethod
    def put_running_cost(self, account: str, running: RunningCost) -> None: ...

    @abstractmethod
    def running_costs(self, account: str) -> list[RunningCost]:
        """Every customer's running cost in the account, by customer id (the console's revenue so far)."""


@dataclass(frozen=True, slots=True)
class RatingStores:
    """The ports the rating run needs (the accounts for their billing settings: the customers' bill day; the
    invoices to record re-rating candidates on those already issued)."""

    readings: ReadingStore
    catalog: CatalogStore
    metering: MeteringStore
    accounts: AccountStore
    invoices: InvoiceStore


class WorkQueue(ABC):
    """Messages for workers (SQS in AWS): each a JSON object; a worker runs the step the message names."""

    @abstractmethod
    def send(self, messages: Sequence[Mapping[str, Any]]) -> None: ...
