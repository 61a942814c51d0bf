"""Re-rating candidates: a meter's rated days that change after an invoice (or note) covering them was issued.

The rating pass calls ``record_candidates`` with the local days of a meter whose rated values it is about to
write (a late or corrected reading, or a day rated for the first time), before writing them: a pass that dies
in between has not written the days either, so the next one finds them changed again. For each customer
assigned to the meter on those days (or sharing the residual of its main meter, when it is a sub-meter):

- days from the customer's current bill period on need no invoice lookup: no invoice covers them yet; days
  from today on (today's readings, the common case) not even the customer's bill day;
- for days before it, the customer's issued documents whose period starts in the ``LOOKBACK`` before the
  first such day and up to the last one are listed (one Query of the customer's partition of the invoice
  index, in period order), and each one whose period overlaps a day gets ``ReratingCandidate(document,
  meter, day start, day end, received_at=now)`` — the meter's local day, one candidate per day.

The invoice is never written: the candidate is kept beside it and the store keeps the first ``received_at``
of the same (document, meter, start, end), so a second pass over the same data (which changes no day) adds
nothing and a retried one changes nothing. Drafts get none: they are recomputed on every bill-run pass until
issued. A note covers its original's period, so a day on an invoice that has notes gets a candidate on each.

The customer's calendar is the bill run's (``invoicing.customer_calendar``): zone of its first meter's site,
its bill day or the account's, 1 for colocation. A document's period dates and an assignment's dates are
compared with the meter's local days as dates, as the invoice bills them (``services.preview`` rates each
meter over those dates on its own site's calendar).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from meterbill.billing.invoice import is_issued
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
ONE_DAY: Final = timedelta(days=1)


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
    ``days`` (the meter's local days; ``zone`` its site's) on which that customer is assigned the meter, if
    the day is before the customer's current bill period. Returns how many candidates it recorded (or found
    recorded already). ``assignments`` are the account's."""
    require_aware(now, "now")
    changed = sorted(set(days))
    customers = sorted({a.customer_id for a in assignments if _billed_from(a, meter)})
    if not changed or not customers:
        return 0
    settings: BillingSettings | None = None
    recorded = 0
    for customer_id in customers:
        theirs = [a for a in assignments if a.customer_id == customer_id]
        if changed[0] >= _today(account, theirs, meter, zone, now, ports):
            continue  # today's readings: in the current period whatever the bill day
        settings = settings or settings_of(account, ports.accounts)
        calendar = _calendar(account, customer_id, theirs, meter, ports, settings)
        current = period_containing(now.astimezone(calendar.zone).date(), calendar.bill_day)
        on_meter = [a for a in theirs if _billed_from(a, meter)]
        earlier = [
            day
            for day in changed
            if day < current.start and any(a.active_days(day, day + ONE_DAY) for a in on_meter)
        ]
        if not earlier:
            continue
        for document in _issued(account, customer_id, earlier[0] - LOOKBACK, earlier[-1] + ONE_DAY, ports):
            for day in earlier:
                if document.period_start <= day < document.period_end:
                    start, end = local_midnight(day, zone), local_midnight(day + ONE_DAY, zone)
                    candidate = ReratingCandidate(document.invoice_id, meter.id, start, end, now)
                    ports.invoices.add_rerating_candidate(account, candidate)
                    recorded += 1
    return recorded


def _billed_from(assignment: Assignment, meter: Meter) -> bool:
    """Whether ``meter``'s usage is part of what the assignment bills: its own meter, or a sub-meter of the
    main meter whose residual (main minus sub-meters) it shares."""
    return assignment.meter_id == meter.id or (
        assignment.basis == "residual"
        and meter.parent_id is not None
        and assignment.meter_id == meter.parent_id
    )


def _today(
    account: str,
    theirs: Sequence[Assignment],
    meter: Meter,
    zone: ZoneInfo,
    now: datetime,
    ports: RatingStores,
) -> date:
    """Today on the customer's calendar (the zone of its first meter's site, as ``customer_calendar`` has
    it); no read when that meter is ``meter``."""
    first = min(theirs, key=lambda a: (a.effective_from, a.meter_id)).meter_id
    if first != meter.id:
        site_id = catalog_service.get(account, Meter, first, ports.catalog).value.site_id
        zone = catalog_service.get(account, Site, site_id, ports.catalog).value.zone()
    return now.astimezone(zone).date()


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


def _issued(
    account: str, customer_id: str, start: date, end: date, ports: RatingStores
) -> list[InvoiceRecord]:
    """The customer's issued documents (stored or delivered too) whose period starts in [start, end), in
    period order."""
    found: list[InvoiceRecord] = []
    cursor: str | None = None
    while True:
        page = ports.invoices.list(
            account, customer_id=customer_id, start=start, end=end, limit=PAGE, cursor=cursor
        )
        found += (record for record in page.items if is_issued(record.state))
        if page.cursor is None:
            return found
        cursor = page.cursor
