"""What a bill is rated from: a regular interval series, or usage sessions (a compute job, a machine run)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from meterbill.timeutil import utc_seconds

ALLOWED_INTERVAL_MINUTES = (1, 5, 15, 30, 60)
MAX_DECIMALS = 9


class UsageError(ValueError):
    """Usage that cannot be rated; `where` names the offending item (an index, a timestamp, a line)."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


@dataclass(frozen=True, slots=True)
class IntervalSeries:
    """Consumption per interval, held as integers so sums are exact and fast.

    The quantity of interval i is ``values[i] * 10**exponent`` in ``unit`` (exponent -3 on kWh means Wh), and
    interval i covers [start + i*interval, start + (i+1)*interval).
    """

    start: datetime
    interval_minutes: int
    values: Sequence[int]
    exponent: int
    unit: str
    estimated: frozenset[int] = field(default_factory=frozenset)
    # Intervals with no data behind them at all (held as zero): a bill counts them rather than hide them.
    missing: frozenset[int] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise UsageError("start", "must carry a UTC offset or time zone")
        if self.interval_minutes not in ALLOWED_INTERVAL_MINUTES:
            raise UsageError("interval", f"{self.interval_minutes} min; allowed: {ALLOWED_INTERVAL_MINUTES}")

    @classmethod
    def from_decimals(
        cls,
        start: datetime,
        interval_minutes: int,
        quantities: Sequence[Decimal],
        unit: str,
        estimated: Iterable[int] = (),
    ) -> IntervalSeries:
        exponent = 0
        for i, q in enumerate(quantities):
            if not q.is_finite():
                raise UsageError(f"interval {i}", f"value {q} is not a finite number")
            if q < 0:
                raise UsageError(f"interval {i}", f"negative consumption {q}")
            exp = q.as_tuple().exponent
            assert isinstance(exp, int)
            if exp < exponent:
                exponent = exp
        if exponent < -MAX_DECIMALS:
            raise UsageError("values", f"more than {MAX_DECIMALS} decimal places")
        scale = 10**-exponent
        values = [int(q * scale) for q in quantities]
        return cls(start, interval_minutes, values, exponent, unit, frozenset(estimated))

    @property
    def interval(self) -> timedelta:
        return timedelta(minutes=self.interval_minutes)

    @property
    def end(self) -> datetime:
        """The instant the last interval ends (added in UTC: zone arithmetic follows the wall clock)."""
        return (self.start.astimezone(UTC) + self.interval * len(self.values)).astimezone(self.start.tzinfo)

    def quantity(self, raw: int) -> Decimal:
        """A raw integer sum of values as an exact Decimal in the series' unit."""
        return Decimal(raw).scaleb(self.exponent)

    def total(self) -> Decimal:
        return self.quantity(sum(self.values))


@dataclass(frozen=True, slots=True)
class Session:
    """One usage session: a job or a machine run, billed as a whole by usage packages.

    Start and end are instants; lengths are elapsed real time, measured in UTC (two datetimes in the same zone
    subtract on the wall clock, which is an hour off across a DST change).
    """

    id: str
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise UsageError(f"session {self.id}", "start and end must carry a UTC offset or time zone")
        if self.end_second < self.start_second:
            raise UsageError(f"session {self.id}", "ends before it starts")

    @property
    def start_second(self) -> int:
        """UTC epoch seconds of the start."""
        return utc_seconds(self.start)

    @property
    def end_second(self) -> int:
        return utc_seconds(self.end)

    @property
    def seconds(self) -> int:
        return self.end_second - self.start_second


@dataclass(frozen=True, slots=True)
class SharedUsage:
    """This customer's allocated part of a common meter's usage, priced at the tariff's shared rate."""

    description: str
    quantity: Decimal
    unit: str


@dataclass(frozen=True, slots=True)
class SharedCost:
    """This customer's allocated part of a common cost, billed as it is."""

    description: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Usage:
    series: IntervalSeries | None = None
    sessions: Sequence[Session] = ()
    shared: Sequence[SharedUsage | SharedCost] = ()


def busy_sessions(series: IntervalSeries, node: str) -> list[Session]:
    """The sessions a compute node's busy-time series (in ``s`` or ``h``) shows, for its usage packages: each
    run of consecutive intervals with time in them is one session, from the start of the run's first
    interval for the busy time measured in the run (rounded to the second), named ``<node>@<start>``.

    A meter sees busy time per interval, not jobs: two jobs back to back in one run are one session."""
    if series.unit not in ("s", "h"):
        raise UsageError("unit", f"sessions need busy time in s or h, not {series.unit!r}")
    per_unit = 1 if series.unit == "s" else 3600
    first = series.start.astimezone(UTC)
    sessions: list[Session] = []
    values = series.values
    i = 0
    while i < len(values):
        if values[i] <= 0:
            i += 1
            continue
        j = i
        while j < len(values) and values[j] > 0:
            j += 1
        busy = (series.quantity(sum(values[i:j])) * per_unit).to_integral_value(rounding=ROUND_HALF_UP)
        start = first + i * series.interval
        sessions.append(Session(f"{node}@{start.isoformat()}", start, start + timedelta(seconds=int(busy))))
        i = j
    return sessions
