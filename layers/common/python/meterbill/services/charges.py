"""A customer's charges over time, from the bill preview's path (``services.preview``), and the running
period's cost the rating pass keeps.

Resolutions:

- ``month``: one preview over [from, to); its bills are already one per assignment, calendar month and tariff
  version, so a bucket is the sum of the bills of one calendar month (clipped to [from, to)) — exactly what
  the invoices of those months charge when the bill day is 1.
- ``day``: each local day is rated as a bill of its own (at most ``MAX_DAYS`` days): fixed charges are
  prorated to the day, but tiers and demand charges then apply per day, so for a tariff with monthly tiers or
  a demand charge the days do not add up to the month. The day view is for seeing when money is spent.
- ``hour``: refused (``resolution``). The tariff engine rates whole local days (the preview's unit); an hour
  has no fixed-charge proration, tier or demand window of its own, so no tariff of the catalog defines it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Final, Literal

from meterbill.errors import InvalidInputError
from meterbill.ports import CatalogStore, MeteringStore, ReadingStore, RunningCost
from meterbill.services.common import require_in_calendar
from meterbill.services.preview import PreviewBill, bill_preview

MAX_DAYS: Final = 92
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
class ChargesReport:
    customer_id: str
    start: date
    end: date
    resolution: Literal["day", "month"]
    currency: str | None
    total: Decimal
    buckets: tuple[ChargeBucket, ...]
    running: RunningCost | None


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
    if resolution == "hour":
        raise InvalidInputError(
            "resolution",
            "hour is not offered: tariffs rate whole local days (fixed charges, tiers and demand have no "
            "hourly value); use day or month",
        )
    if resolution == "day" and (end - start).days > MAX_DAYS:
        raise InvalidInputError("to", f"more than {MAX_DAYS} days after from at resolution day")

    def preview(first: date, stop: date) -> list[PreviewBill]:
        return bill_preview(account, customer_id, first, stop, catalog, readings)

    buckets = _months(start, end, preview) if resolution == "month" else _days(start, end, preview)
    currencies = sorted({b.currency for b in buckets if b.currency is not None})
    if len(currencies) > 1:
        raise InvalidInputError("customer_id", f"the customer's tariffs bill in {', '.join(currencies)}")
    currency = currencies[0] if currencies else None
    total = sum((b.total for b in buckets), Decimal(0))
    running = None if metering is None else metering.running_cost(account, customer_id)
    return ChargesReport(customer_id, start, end, resolution, currency, total, tuple(buckets), running)


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
        following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
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
