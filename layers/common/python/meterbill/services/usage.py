"""A meter's validated usage, in buckets of the site's local calendar, with how much of it is actual.

The raw readings are validated on every request (``services.metering``, the one validation path: a pure
function of the raw readings, so late data shows at once). Buckets follow the site's clock: an hour is a local
hour (the hour the clocks go back happens twice, as two buckets), a day runs from local midnight to local
midnight (23 or 25 hours on a DST day), a month from the 1st to the 1st. Each bucket counts its intervals by
NEM12 quality flag.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import groupby
from typing import Final, Literal, get_args
from zoneinfo import ZoneInfo

from meterbill.domain import Meter, Site
from meterbill.errors import InvalidInputError
from meterbill.meterdata.vee import DataQualityEvent, ValidatedIntervals
from meterbill.ports import CatalogStore, ReadingStore
from meterbill.services.common import require_aware, require_in_calendar
from meterbill.services.metering import settled_end
from meterbill.services.metering import validated_intervals as validated_intervals  # preview imports it here
from meterbill.timeutil import local_midnight

Resolution = Literal["interval", "hour", "day", "month"]
RESOLUTIONS: Final = frozenset[str](get_args(Resolution))
MAX_SPAN: Final = timedelta(days=366)
MAX_BUCKETS: Final = 10_000


@dataclass(frozen=True, slots=True)
class QualityCounts:
    """How many intervals carry each NEM12 flag; ``missing`` (N) ones had no data to estimate from."""

    actual: int = 0
    estimated: int = 0
    substituted: int = 0
    final_substitute: int = 0
    missing: int = 0

    @classmethod
    def of(cls, flags: str) -> QualityCounts:
        return cls(
            actual=flags.count("A"),
            estimated=flags.count("E"),
            substituted=flags.count("S"),
            final_substitute=flags.count("F"),
            missing=flags.count("N"),
        )


@dataclass(frozen=True, slots=True)
class UsageBucket:
    """Usage in [start, end) (site-local times) and the quality of the intervals that make it."""

    start: datetime
    end: datetime
    total: Decimal
    qualities: QualityCounts


@dataclass(frozen=True, slots=True)
class UsageReport:
    meter_id: str
    unit: str
    timezone: str
    resolution: Resolution
    interval_minutes: int
    start: datetime
    end: datetime
    total: Decimal
    estimated: Decimal  # the part of the total that is not actual
    qualities: QualityCounts
    buckets: list[UsageBucket]
    events: list[DataQualityEvent]


def meter_usage(
    account: str,
    meter_id: str,
    start: date | datetime,
    end: date | datetime,
    resolution: str,
    catalog: CatalogStore,
    readings: ReadingStore,
    *,
    now: datetime | None = None,
) -> UsageReport:
    """Validated usage of a meter over [start, end); a date means the site's local midnight starting it.
    With ``now``, the span ends no later than the last whole interval before it and, in the day still
    running, where the meter's data ends (``services.metering.settled_end``): the unfinished part of today
    is neither a gap nor estimated.

    Raises NotFoundError for a meter that is not the account's, and InvalidInputError for a naive time, a
    date outside 2000-01-01 ... 2100-01-01, an end not after the start, a span longer than 366 days or not a
    whole number of the meter's intervals, an unknown resolution, or more than 10,000 buckets.
    """
    if resolution not in RESOLUTIONS:
        raise InvalidInputError("resolution", f"{resolution!r} is not one of: interval, hour, day, month")
    meter = Meter.model_validate(catalog.get(account, "meter", meter_id).body)
    site = Site.model_validate(catalog.get(account, "site", meter.site_id).body)
    zone = site.zone()
    first, stop = _instant(start, zone, "from"), _instant(end, zone, "to")
    if now is not None and first < stop:
        stop = settled_end(account, meter, stop, require_aware(now, "now"), zone, readings)
        if stop <= first:
            raise InvalidInputError("from", f"no whole interval has ended since {first.isoformat()} yet")
    _check_span(first, stop, meter, "from", "to")
    if resolution == "interval" and (stop - first) // timedelta(minutes=meter.interval_minutes) > MAX_BUCKETS:
        raise InvalidInputError("to", f"more than {MAX_BUCKETS} intervals; choose a coarser resolution")
    validated = validated_intervals(account, meter, first, stop, readings)
    buckets = _buckets(validated, resolution)
    if len(buckets) > MAX_BUCKETS:
        raise InvalidInputError("to", f"more than {MAX_BUCKETS} buckets; choose a coarser resolution")
    return UsageReport(
        meter_id=meter.id,
        unit=meter.unit,
        timezone=site.timezone,
        resolution=resolution,  # type: ignore[arg-type]  # checked against RESOLUTIONS above
        interval_minutes=validated.interval_minutes,  # the meter's, or the grid its local intervals lie on
        start=first,
        end=stop,
        total=validated.total(),
        estimated=validated.estimated_total(),
        qualities=QualityCounts.of(validated.qualities),
        buckets=buckets,
        events=list(validated.events),
    )


def _check_span(start: datetime, end: datetime, meter: Meter, start_field: str, end_field: str) -> None:
    """InvalidInputError unless [start, end) is a non-empty span of whole intervals of at most 366 days."""
    if end <= start:
        raise InvalidInputError(
            end_field, f"{end.isoformat()} is not after {start_field} {start.isoformat()}"
        )
    if end - start > MAX_SPAN:
        raise InvalidInputError(end_field, f"more than {MAX_SPAN.days} days after {start_field}")
    if (end - start) % timedelta(minutes=meter.interval_minutes):
        raise InvalidInputError(
            end_field, f"not a whole number of meter {meter.id!r}'s {meter.interval_minutes}-minute intervals"
        )


def _instant(moment: date | datetime, zone: ZoneInfo, field: str) -> datetime:
    require_in_calendar(moment, field)
    if isinstance(moment, datetime):
        return require_aware(moment, field).astimezone(zone)
    return local_midnight(moment, zone)


def _buckets(validated: ValidatedIntervals, resolution: str) -> list[UsageBucket]:
    starts = [validated.interval_start(i) for i in range(len(validated) + 1)]
    keys: Sequence[Hashable]
    if resolution == "interval":
        keys = range(len(validated))
    elif resolution == "hour":  # the offset tells the two 02:00 hours of the night the clocks go back apart
        keys = [(s.date(), s.hour, s.utcoffset()) for s in starts[:-1]]
    elif resolution == "day":
        keys = [s.date() for s in starts[:-1]]
    else:
        keys = [(s.year, s.month) for s in starts[:-1]]
    buckets = []
    for _, group in groupby(range(len(validated)), key=keys.__getitem__):
        indices = list(group)
        first, last = indices[0], indices[-1]
        buckets.append(
            UsageBucket(
                start=starts[first],
                end=starts[last + 1],
                total=Decimal(sum(validated.values[first : last + 1])).scaleb(validated.exponent),
                qualities=QualityCounts.of(validated.qualities[first : last + 1]),
            )
        )
    return buckets
