"""A customer's charges over time, from the bill preview's path (``services.preview``), and the running
period's cost the rating pass keeps.

Resolutions:

- ``month``: one preview over [from, to); its bills are already one per assignment, calendar month and tariff
  version, so a bucket is the sum of the bills of one calendar month (clipped to [from, to)) — exactly what
  the invoices of those months charge when the bill day is 1.
- ``day``: each local day is rated as a bill of its own (at most ``MAX_DAYS`` days): fixed charges are
  prorated to the day, but tiers and demand charges then apply per day, so for a tariff with monthly tiers or
  a demand charge the days do not add up to the month. The day view is for seeing when money is spent.
- ``hour``: the day buckets (at most ``MAX_HOUR_DAYS`` days), each taken apart by the site's wall-clock hours
  (``tariffs.hourly``: 23 or 25 hours on DST days, 30 or 90 minutes around Lord Howe's shift): the energy and
  package lines are spread over the hours they were used in, to the cent, and the rest of the day's bill
  (fixed charges, demand, minimums, shared costs, credits, discounts, surcharges, taxes: charges of the whole
  day or month, which an hour has none of) is the day's ``unallocated``, by component. The hours and
  ``unallocated`` of a day add up to its total exactly. A customer whose meters are on sites in different time
  zones has no one clock to cut hours on (``resolution``).

``sessions``: the sessions a compute customer's usage packages bill (``busy_sessions`` of its nodes' busy
time, on the preview's path), each with its node, duration, the started units beyond the package's threshold
and what it costs; ``above_threshold`` keeps those that went beyond it (the XtremWeb-HEP detail records).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Final, Literal
from zoneinfo import ZoneInfo

from meterbill.errors import InvalidInputError
from meterbill.ports import CatalogStore, MeteringStore, Page, ReadingStore, RunningCost
from meterbill.services.common import require_in_calendar
from meterbill.services.preview import PreviewBill, bill_preview
from meterbill.tariffs.engine import priced_sessions
from meterbill.tariffs.hourly import ClockHour, split_by_hour
from meterbill.timeutil import next_month, utc_seconds

MAX_DAYS: Final = 92
MAX_HOUR_DAYS: Final = 31
MAX_SESSION_DAYS: Final = 92
Resolution = Literal["hour", "day", "month"]
Preview = Callable[[date, date], list[PreviewBill]]


@dataclass(frozen=True, slots=True)
class ChargeBucket:
    start: date
    end: date
    currency: str | None
    subtotal: Decimal
    taxes: Decimal
    total: Decimal


@dataclass(frozen=True, slots=True)
class HourCharge:
    """One wall-clock hour [start, end) of a local day, what the hour's energy and sessions cost."""

    start: datetime
    end: datetime
    hour: int
    minutes: int  # of real time: 60, or 30 around a half-hour shift
    amount: Decimal


@dataclass(frozen=True, slots=True)
class HourlyBucket:
    """A local day at resolution hour: its totals, its hours, and the charges of the whole day."""

    day: ChargeBucket
    hours: tuple[HourCharge, ...]
    unallocated: tuple[tuple[str, Decimal], ...]


@dataclass(frozen=True, slots=True)
class ChargesReport:
    customer_id: str
    start: date
    end: date
    resolution: Resolution
    currency: str | None
    total: Decimal
    buckets: tuple[ChargeBucket, ...]
    running: RunningCost | None
    hourly: tuple[HourlyBucket, ...] = ()  # resolution hour: one per bucket, in order


def customer_charges(
    account: str,
    customer_id: str,
    start: date,
    end: date,
    resolution: Resolution,
    catalog: CatalogStore,
    readings: ReadingStore,
    metering: MeteringStore | None,
) -> ChargesReport:
    """The customer's charges over [start, end) in day or month buckets, and its running cost if the rating
    pass keeps one. InvalidInputError naming ``resolution``, ``from`` or ``to``; NotFoundError for a customer
    that is not the account's; the preview's errors for a tariff that cannot be applied."""
    require_in_calendar(start, "from")
    require_in_calendar(end, "to")
    if end <= start:
        raise InvalidInputError("to", f"{end} is not after from {start}")
    if resolution == "day" and (end - start).days > MAX_DAYS:
        raise InvalidInputError("to", f"more than {MAX_DAYS} days after from at resolution day")
    if resolution == "hour" and (end - start).days > MAX_HOUR_DAYS:
        raise InvalidInputError("to", f"more than {MAX_HOUR_DAYS} days after from at resolution hour")

    def preview(first: date, stop: date) -> list[PreviewBill]:
        return bill_preview(account, customer_id, first, stop, catalog, readings)

    hourly: tuple[HourlyBucket, ...] = ()
    if resolution == "month":
        buckets = _months(start, end, preview)
    elif resolution == "day":
        buckets = _days(start, end, preview)
    else:
        hourly = tuple(_hours(start, end, preview))
        buckets = [h.day for h in hourly]
    currencies = sorted({b.currency for b in buckets if b.currency is not None})
    if len(currencies) > 1:
        raise InvalidInputError("customer_id", f"the customer's tariffs bill in {', '.join(currencies)}")
    currency = currencies[0] if currencies else None
    total = sum((b.total for b in buckets), Decimal(0))
    running = None if metering is None else metering.running_cost(account, customer_id)
    return ChargesReport(
        customer_id, start, end, resolution, currency, total, tuple(buckets), running, hourly
    )


def _bucket(first: date, stop: date, bills: Sequence[PreviewBill]) -> ChargeBucket:
    if not bills:
        zero = Decimal(0)
        return ChargeBucket(first, stop, None, zero, zero, zero)
    currency = bills[0].bill.currency
    return ChargeBucket(
        first,
        stop,
        currency,
        sum((b.bill.subtotal for b in bills), Decimal(0)),
        sum((b.bill.taxes for b in bills), Decimal(0)),
        sum((b.bill.total for b in bills), Decimal(0)),
    )


def _months(start: date, end: date, preview: Preview) -> list[ChargeBucket]:
    bills = preview(start, end)
    buckets = []
    first = start
    while first < end:
        following = next_month(first)
        stop = min(following, end)
        mine = [b for b in bills if first <= _local_date(b) < stop]
        buckets.append(_bucket(first, stop, mine))
        first = stop
    return buckets


def _local_date(bill: PreviewBill) -> date:
    return bill.bill.start.date()  # the engine's instants are in the site's zone: their date is local


def _days(start: date, end: date, preview: Preview) -> list[ChargeBucket]:
    buckets = []
    day = start
    while day < end:
        following = day + timedelta(days=1)
        buckets.append(_bucket(day, following, preview(day, following)))
        day = following
    return buckets


def _hours(start: date, end: date, preview: Preview) -> Iterator[HourlyBucket]:
    day = start
    while day < end:
        following = day + timedelta(days=1)
        bills = preview(day, following)
        yield _hourly_bucket(day, following, bills)
        day = following


def _hourly_bucket(day: date, following: date, bills: Sequence[PreviewBill]) -> HourlyBucket:
    zones = sorted({str(b.rated_from.period.tz) for b in bills if b.rated_from is not None})
    if len(zones) > 1:
        raise InvalidInputError(
            "resolution",
            f"the customer's meters are on sites in different time zones ({', '.join(zones)}): their days "
            "have different hours; use day or month",
        )
    clock: list[ClockHour] = []
    tz: ZoneInfo | None = None
    amounts: dict[int, Decimal] = {}
    unallocated: dict[str, Decimal] = {}
    for bill in bills:
        rated = bill.rated_from
        assert rated is not None  # the preview says what each bill was rated from
        split = split_by_hour(
            bill.bill,
            rated.tariff,
            rated.period,
            rated.usage,
            holidays=rated.holidays,
            attributes=rated.attributes,
        )
        clock, tz = list(split.hours), rated.period.tz
        for hour, amount in zip(split.hours, split.amounts, strict=True):
            amounts[hour.start] = amounts.get(hour.start, Decimal(0)) + amount
        for component, amount in split.unallocated:
            unallocated[component] = unallocated.get(component, Decimal(0)) + amount
    hours = tuple(
        HourCharge(
            datetime.fromtimestamp(h.start, tz),
            datetime.fromtimestamp(h.end, tz),
            h.hour,
            (h.end - h.start) // 60,
            amounts.get(h.start, Decimal(0)),
        )
        for h in clock
    )
    return HourlyBucket(_bucket(day, following, bills), hours, tuple(sorted(unallocated.items())))


# --- the sessions behind a compute customer's package lines ----------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionCharge:
    """One session as one usage package of the customer's tariff prices it."""

    session_id: str
    meter_id: str  # the node
    assignment_id: str
    start: datetime
    end: datetime
    seconds: int
    package: int  # the index in the tariff's packages
    description: str
    threshold_seconds: Decimal
    units: int  # started units beyond the threshold
    unit_seconds: Decimal
    amount: Decimal  # fare + units x unit_rate, unrounded (the package line rounds the sum of its sessions)
    currency: str

    @property
    def key(self) -> str:
        return f"{utc_seconds(self.start):012d}|{self.meter_id}|{self.session_id}|{self.package:04d}"


def customer_sessions(
    account: str,
    customer_id: str,
    start: date,
    end: date,
    catalog: CatalogStore,
    readings: ReadingStore,
    *,
    above_threshold: bool = True,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[SessionCharge]:
    """The sessions starting in [start, end) that the customer's tariffs price by usage package, in order of
    start (then node), those beyond the package's threshold only unless ``above_threshold`` is False; one
    page of ``limit``. InvalidInputError naming ``from``, ``to`` (not after from, more than
    ``MAX_SESSION_DAYS`` days) or ``cursor``; the preview's errors otherwise."""
    require_in_calendar(start, "from")
    require_in_calendar(end, "to")
    if end <= start:
        raise InvalidInputError("to", f"{end} is not after from {start}")
    if (end - start).days > MAX_SESSION_DAYS:
        raise InvalidInputError("to", f"more than {MAX_SESSION_DAYS} days after from")
    after = _cursor_key(cursor)
    records: list[SessionCharge] = []
    for bill in bill_preview(account, customer_id, start, end, catalog, readings):
        rated = bill.rated_from
        assert rated is not None  # the preview says what each bill was rated from
        if not rated.tariff.packages or not rated.usage.sessions:
            continue
        priced = priced_sessions(
            rated.tariff, rated.period, rated.usage.sessions, attributes=rated.attributes
        )
        tz = rated.period.tz
        for p in priced:
            package = rated.tariff.packages[p.package]
            if above_threshold and p.units == 0:
                continue
            records.append(
                SessionCharge(
                    session_id=p.session.id,
                    meter_id=bill.meter_id,
                    assignment_id=bill.assignment_id,
                    start=p.session.start.astimezone(tz),
                    end=p.session.end.astimezone(tz),
                    seconds=p.session.seconds,
                    package=p.package,
                    description=package.description,
                    threshold_seconds=p.threshold_seconds,
                    units=p.units,
                    unit_seconds=p.unit_seconds,
                    amount=p.amount,
                    currency=rated.tariff.currency,
                )
            )
    records.sort(key=lambda r: r.key)
    if after is not None:
        records = [r for r in records if r.key > after]
    page = records[:limit]
    more = len(records) > limit
    return Page(items=page, cursor=_encode_cursor(page[-1].key) if more else None)


_CURSOR_PREFIX: Final = "sessions:"


def _encode_cursor(key: str) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{key}".encode()).rstrip(b"=").decode("ascii")


def _cursor_key(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, ValueError):
        raise InvalidInputError("cursor", "is not a valid cursor") from None
    if not text.startswith(_CURSOR_PREFIX) or len(text) == len(_CURSOR_PREFIX):
        raise InvalidInputError("cursor", "is not a cursor of this listing")
    return text[len(_CURSOR_PREFIX) :]
