"""Re-rating candidates: a meter's rated days that change after an invoice (or note) covering them was issued.

The rating pass calls ``record_candidates`` with the local days of a meter whose rated values it is about to
write (a late or corrected reading, or a day rated for the first time), before writing them: a pass that dies
in between has not written the days either, so the next one finds them changed again. For each customer
assigned to the meter on those days:

- days from the customer's current bill period on (today's readings, the common case) need no invoice lookup:
  no invoice covers them yet;
- for days before it, the customer's issued documents whose period starts in the ``LOOKBACK`` before the
  first such day and up to the last one are listed (one Query of the customer's partition of the invoice
  index, in period order), and each one whose period overlaps a day gets ``ReratingCandidate(document,
  meter, day start, day end, received_at=now)`` — the meter's local day, one candidate per day.

The invoice is never written: the candidate is kept beside it and the store keeps the first ``received_at``
of the same (document, meter, start, end), so a second pass over the same data (which changes no day) adds
nothing and a retried one changes nothing. Drafts get none: they are recomputed on every bill-run pass until
issued. A note covers its original's period, so a day on an invoice that has notes gets a candidate on each.

The customer's calendar is the bill run's (``invoicing.customer_calendar``): zone of its first meter's site,
its bill day or the account's, 1 for colocation. Period dates and assignment dates are days of that calendar;
a meter day is compared with them as the instants it spans, so a meter in another zone than its customer's
first meter finds the documents whose local days it overlaps.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from meterbill.billing.periods import period_containing
from meterbill.billing_settings import BillingSettings
from meterbill.domain import Assignment, Customer, Meter, Site
from meterbill.ports import InvoiceRecord, RatingStores, ReratingCandidate
from meterbill.services import catalog as catalog_service
from meterbill.services.billing_settings import settings_of
from meterbill.services.common import require_aware
from meterbill.services.invoicing import CustomerCalendar, customer_calendar
from meterbill.timeutil import local_midnight

# How long before a changed day a document covering it may start: a bill period is at most 31 days; a
# settlement may be longer, up to a year is found (older documents can no longer be re-rated anyway).
LOOKBACK: Final = timedelta(days=366)
PAGE: Final = 200


def record_candidates(
    account: str,
    meter: Meter,
    zone: ZoneInfo,
    days: Iterable[date],
    assignments: Sequence[Assignment],
    now: datetime,
    ports: RatingStores,
) -> int:
    """Records a candidate on every issued document of a customer of ``meter`` whose period overlaps one of
    ``days`` (the meter's local days, in ``zone``) on which that customer is assigned the meter, if the day
    is before the customer's current bill period. Returns how many candidates it recorded (or found
    recorded already). ``assignments`` are the account's."""
    require_aware(now, "now")
    spans = [
        (local_midnight(d, zone), local_midnight(d + timedelta(days=1), zone)) for d in sorted(set(days))
    ]
    customers = sorted({a.customer_id for a in assignments if a.meter_id == meter.id})
    if not spans or not customers:
        return 0
    settings = settings_of(account, ports.accounts)
    recorded = 0
    for customer_id in customers:
        theirs = [a for a in assignments if a.customer_id == customer_id]
        calendar = _calendar(account, customer_id, theirs, meter, ports, settings)
        current = period_containing(now.astimezone(calendar.zone).date(), calendar.bill_day)
        current_start = local_midnight(current.start, calendar.zone)
        on_meter = [a for a in theirs if a.meter_id == meter.id]
        earlier = [
            (start, end)
            for start, end in spans
            if start < current_start and _assigned(on_meter, start, end, calendar.zone)
        ]
        if not earlier:
            continue
        first = _local_days(earlier[0], calendar.zone)[0]
        last = _local_days(earlier[-1], calendar.zone)[1]
        for document in _issued(account, customer_id, first - LOOKBACK, last + timedelta(days=1), ports):
            begins = local_midnight(document.period_start, calendar.zone)
            ends = local_midnight(document.period_end, calendar.zone)
            for start, end in earlier:
                if start < ends and begins < end:
                    candidate = ReratingCandidate(document.invoice_id, meter.id, start, end, now)
                    ports.invoices.add_rerating_candidate(account, candidate)
                    recorded += 1
    return recorded


def _calendar(
    account: str,
    customer_id: str,
    theirs: Sequence[Assignment],
    meter: Meter,
    ports: RatingStores,
    settings: BillingSettings,
) -> CustomerCalendar:
    customer = catalog_service.get(account, Customer, customer_id, ports.catalog).value
    meters = {meter.id: meter}
    for meter_id in sorted({a.meter_id for a in theirs} - {meter.id}):
        meters[meter_id] = catalog_service.get(account, Meter, meter_id, ports.catalog).value
    sites = {
        site_id: catalog_service.get(account, Site, site_id, ports.catalog).value
        for site_id in {m.site_id for m in meters.values()}
    }
    calendar = customer_calendar(customer, theirs, meters, sites, settings)
    assert calendar is not None  # ``theirs`` holds at least the assignment of ``meter``
    return calendar


def _local_days(span: tuple[datetime, datetime], zone: ZoneInfo) -> tuple[date, date]:
    """The first and last day of ``zone``'s calendar the instants [start, end) fall on."""
    start, end = span
    return start.astimezone(zone).date(), (end - timedelta(microseconds=1)).astimezone(zone).date()


def _assigned(on_meter: Sequence[Assignment], start: datetime, end: datetime, zone: ZoneInfo) -> bool:
    first, last = _local_days((start, end), zone)
    return any(a.active_days(first, last + timedelta(days=1)) is not None for a in on_meter)


def _issued(
    account: str, customer_id: str, start: date, end: date, ports: RatingStores
) -> list[InvoiceRecord]:
    """The customer's issued documents whose period starts in [start, end), in period order."""
    found: list[InvoiceRecord] = []
    cursor: str | None = None
    while True:
        page = ports.invoices.list(
            account, customer_id=customer_id, state="issued", start=start, end=end, limit=PAGE, cursor=cursor
        )
        found += page.items
        if page.cursor is None:
            return found
        cursor = page.cursor
