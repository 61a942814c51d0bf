"""What one customer's invoice reads, read once per bill-run message, and the fingerprint of it.

- ``CustomerCatalog``: the customer, its assignments (one Query of the customer's own item collection, not the
  account's), their meters, sites and tariff versions: one read each, passed down to the calendar and the
  bills, so the catalog cost of a message does not grow with the number of the account's customers.
- ``RatedUsage``: a meter's usage from the rated days the rating run keeps (``MeteringStore.days``) when every
  day of the span is rated whole with the meter's settings of now (``MonthRollup.rated_with``); otherwise (a
  day not rated yet, or still running, or rated at another interval length, or a multiplier or limit changed
  since) the raw readings are validated as before, and ``complete`` turns False.
- ``inputs_fingerprint``: a digest of everything the invoice's amounts depend on - the catalog objects read
  (their ETags), the billing settings, the month digests of the meters' rated days
  (``MonthRollup.digest``), the demand history when a tariff has a demand charge - that a draft keeps, so the
  hourly run recomputes a draft only when one of them changed. None (always recompute) when it cannot tell:
  a residual (shared-cost) assignment, which reads other customers' assignments and sub-meters, or no
  metering store.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Final
from zoneinfo import ZoneInfo

from meterbill.billing_settings import BillingSettings
from meterbill.domain import Assignment, Customer, Meter, Site
from meterbill.meterdata.rollups import days_digest, rated_series
from meterbill.ports import CatalogStore, MeteringStore, MonthRollup, RatedDay, ReadingStore
from meterbill.services import catalog as catalog_service
from meterbill.services.metering import settings_digest, validated_intervals
from meterbill.tariffs.model import Tariff
from meterbill.timeutil import local_midnight
from meterbill.usage import IntervalSeries

# Bumped when what an invoice computes from the same inputs changes (a new meterbill release that bills
# differently): every waiting draft is then recomputed once.
FINGERPRINT_VERSION: Final = "1"


@dataclass(frozen=True, slots=True)
class CustomerCatalog:
    """One customer's part of the catalog as one bill-run message reads it."""

    customer: Customer
    assignments: tuple[Assignment, ...]  # the customer's, in id order
    meters: Mapping[str, Meter]  # of those assignments
    sites: Mapping[str, Site]  # of those meters
    tariffs: Mapping[str, tuple[Tariff, ...]]  # of those assignments, every version, oldest first
    etags: tuple[str, ...]  # "<kind>/<id>/<etag>" of every object read, for the fingerprint


def read_customer_catalog(account: str, customer_id: str, catalog: CatalogStore) -> CustomerCatalog:
    """Raises NotFoundError for a customer that is not the account's (or a tariff with no version)."""
    customer = catalog_service.get(account, Customer, customer_id, catalog)
    assignments = catalog_service.assignments_of(account, catalog, customer_id=customer_id)
    meters = {
        meter_id: catalog_service.get(account, Meter, meter_id, catalog)
        for meter_id in sorted({a.value.meter_id for a in assignments})
    }
    sites = {
        site_id: catalog_service.get(account, Site, site_id, catalog)
        for site_id in sorted({m.value.site_id for m in meters.values()})
    }
    tariffs = {
        tariff_id: catalog_service.tariff_versions(account, tariff_id, catalog)
        for tariff_id in sorted({a.value.tariff_id for a in assignments})
    }
    etags = [
        f"customer/{customer.value.id}/{customer.etag}",
        *(f"assignment/{a.value.id}/{a.etag}" for a in assignments),
        *(f"meter/{m}/{entry.etag}" for m, entry in meters.items()),
        *(f"site/{s}/{entry.etag}" for s, entry in sites.items()),
        *(f"tariff/{t}@{v.value.version}/{v.etag}" for t, versions in tariffs.items() for v in versions),
    ]
    return CustomerCatalog(
        customer=customer.value,
        assignments=tuple(a.value for a in assignments),
        meters={m: entry.value for m, entry in meters.items()},
        sites={s: entry.value for s, entry in sites.items()},
        tariffs={t: tuple(v.value for v in versions) for t, versions in tariffs.items()},
        etags=tuple(etags),
    )


class RatedUsage:
    """A series source (``services.preview.SeriesSource``) billing from rated days; ``complete`` is False
    once any span had to be validated from the raw readings instead. ``months`` holds the meters' month
    items read already (``inputs_fingerprint`` fills it), by (meter id, year, month)."""

    def __init__(
        self,
        account: str,
        metering: MeteringStore,
        readings: ReadingStore,
        months: dict[tuple[str, int, int], MonthRollup | None] | None = None,
    ) -> None:
        self._account = account
        self._metering = metering
        self._readings = readings
        self._months = {} if months is None else months
        self.complete = True

    def __call__(self, meter: Meter, start: datetime, end: datetime) -> IntervalSeries:
        zone = start.tzinfo
        assert isinstance(zone, ZoneInfo)  # the preview's spans start at a site's local midnight
        first, stop = start.date(), end.date()
        if self._rated_with_current_settings(meter, first, stop):
            days = self._days(meter.id, first, stop)
            if len(days) == (stop - first).days and all(_whole(day, zone, meter) for day in days):
                return rated_series(days, start, end, meter.interval_minutes, meter.unit)
        self.complete = False
        return validated_intervals(self._account, meter, start, end, self._readings).as_interval_series()

    def _days(self, meter_id: str, first: date, stop: date) -> list[RatedDay]:
        """The rated days of [first, stop): for whole calendar months, read eventually consistent (half the
        units) and kept if each month's days are those its month item's digest describes (read strongly
        consistent before, by the fingerprint); otherwise, and when they are not, strongly consistent."""
        months = months_of(first, stop)
        whole = first.day == 1 and stop.day == 1
        if whole:
            days = self._metering.days(self._account, meter_id, first, stop, consistent=False)
            by_month: dict[tuple[int, int], list[RatedDay]] = {month: [] for month in months}
            for day in days:
                by_month.setdefault((day.day.year, day.day.month), []).append(day)
            if all(
                (rollup := self._months.get((meter_id, *month))) is not None
                and rollup.digest == days_digest(month_days)
                for month, month_days in by_month.items()
            ):
                return days
        return self._metering.days(self._account, meter_id, first, stop)

    def _rated_with_current_settings(self, meter: Meter, first: date, stop: date) -> bool:
        """Every month of the span was rated with the meter's settings as the catalog has them now (a
        multiplier or limit changed since: the raw readings are validated with the new ones)."""
        current = settings_digest(meter)
        for year, month in months_of(first, stop):
            key = (meter.id, year, month)
            if key not in self._months:
                self._months[key] = self._metering.month(self._account, meter.id, year, month)
            rollup = self._months[key]
            if rollup is None or rollup.rated_with != current:
                return False
        return True


def _whole(day: RatedDay, zone: ZoneInfo, meter: Meter) -> bool:
    """The rated day covers its whole local day (not a day still running) at the meter's interval length."""
    midnight = local_midnight(day.day, zone).astimezone(UTC)
    next_midnight = local_midnight(day.day + timedelta(days=1), zone).astimezone(UTC)
    return (
        day.interval_minutes == meter.interval_minutes
        and day.start.astimezone(UTC) == midnight
        and day.end.astimezone(UTC) == next_midnight
    )


def months_of(start: date, end: date) -> list[tuple[int, int]]:
    """The calendar months the days [start, end) touch."""
    last = end - timedelta(days=1)
    months = []
    year, month = start.year, start.month
    while (year, month) <= (last.year, last.month):
        months.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def has_demand_charge(tariffs: Mapping[str, Sequence[Tariff]]) -> bool:
    return any(version.demand is not None for versions in tariffs.values() for version in versions)


def inputs_fingerprint(
    account: str,
    customer: CustomerCatalog,
    settings: BillingSettings,
    start: date,
    end: date,
    metering: MeteringStore | None,
    demand_history: Callable[[], Mapping[str, Sequence[Decimal]]],
    months: dict[tuple[str, int, int], MonthRollup | None] | None = None,
) -> str | None:
    """The digest of the inputs of the customer's invoice of [start, end), or None when it cannot be told
    (see the module's docstring). ``demand_history`` is called only when a tariff has a demand charge;
    ``months`` receives the month items read (for ``RatedUsage``)."""
    if metering is None or any(a.basis == "residual" for a in customer.assignments):
        return None
    parts = [FINGERPRINT_VERSION, f"{start}/{end}", settings.model_dump_json(), *customer.etags]
    active = sorted({a.meter_id for a in customer.assignments if a.overlaps(start, end)})
    for meter_id in active:
        for year, month in months_of(start, end):
            rollup = metering.month(account, meter_id, year, month)
            if months is not None:
                months[(meter_id, year, month)] = rollup
            if rollup is None or not rollup.digest:
                return None  # not rated (yet): billed from raw readings, recomputed on every pass
            parts.append(f"rated/{meter_id}/{year:04d}-{month:02d}/{rollup.digest}")
    if has_demand_charge(customer.tariffs):
        for meter_id, peaks in sorted(demand_history().items()):
            parts.append(f"demand/{meter_id}/{','.join(map(str, peaks))}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]
