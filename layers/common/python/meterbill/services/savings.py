"""The savings report's figures for an account over [from, to): its nodes' on- and off-time and what the off
hours saved (``billing/savings.py``).

A node is a meter of utility ``on_time`` (its series counts on-time in ``h`` or ``s`` per interval); an
installation is its site; the span is local calendar days of each site (a DST day has 23 or 25 hours).

The rating (W) and the price per kWh are what the tariff engine prices the node's savings at: the ``savings``
component of the tariff its assignment runs under (the version in force each day), its operands read with the
customer's, the site's and the meter's attributes (so ``"power_rating_w": "meter.power_rating_w"`` takes each
node's own rating). One source for both the bill's savings line and the report, so they never disagree. A node
whose assignment's tariff has no savings component (or that has no assignment) on some days is not reported
for those days. When several assignments share a node on a day (shares of one meter), the first by
``effective_from`` then id decides its tariff that day: the node was off once, whoever pays for it.

Consecutive days priced alike (same rating, price and currency) make one row; a price change in the span
splits the node into one row per price.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Final

from meterbill.billing.savings import NodeUsage, SavingsReport, savings_report
from meterbill.domain import Assignment, Customer, Meter, Site, assignments_for
from meterbill.errors import InvalidInputError
from meterbill.ports import CatalogStore, ReadingStore
from meterbill.services import catalog as catalog_service
from meterbill.services.common import require_in_calendar
from meterbill.services.metering import validated_intervals
from meterbill.tariffs.engine import BillPeriod, ScopedAttributes, TariffError, savings_terms
from meterbill.tariffs.model import Tariff
from meterbill.tariffs.versions import NoTariffInForceError, in_force
from meterbill.timeutil import local_midnight

MAX_SPAN: Final = timedelta(days=366)
NODE_UTILITY: Final = "on_time"
SECONDS_PER_HOUR: Final = Decimal(3600)


def savings_figures(
    account: str, start: date, end: date, catalog: CatalogStore, readings: ReadingStore
) -> SavingsReport:
    """The account's savings over [start, end) (local days of each node's site).

    InvalidInputError naming ``from`` or ``to`` for a day outside 2000-01-01 ... 2100-01-01, an end not after
    the start or a span over 366 days; ``tariff.savings.<operand>`` (with the assignment and version) for a
    savings component that cannot be priced for a node (a formula reading an attribute the node lacks)."""
    require_in_calendar(start, "from")
    require_in_calendar(end, "to")
    if end <= start:
        raise InvalidInputError("to", f"{end} is not after from {start}")
    if end - start > MAX_SPAN:
        raise InvalidInputError("to", f"more than {MAX_SPAN.days} days after from {start}")
    nodes = [m for m in catalog_service.all_of(account, Meter, catalog) if m.utility == NODE_UTILITY]
    if not nodes:
        return savings_report(())
    sites = {s.id: s for s in catalog_service.all_of(account, Site, catalog)}
    customers = {c.id: c for c in catalog_service.all_of(account, Customer, catalog)}
    assignments = list(catalog_service.all_of(account, Assignment, catalog))
    tariffs: dict[str, list[Tariff]] = {}
    usages: list[NodeUsage] = []
    for meter in sorted(nodes, key=lambda m: m.id):
        try:
            active = assignments_for(assignments, meter.id, start, end)
        except ValueError as err:  # the catalog refuses such assignments; one stored before that rule
            raise InvalidInputError("assignment.share", str(err)) from None
        site = sites[meter.site_id]
        for assignment, first, stop in _owners(active, start, end):
            if assignment.tariff_id not in tariffs:
                tariffs[assignment.tariff_id] = [
                    e.value for e in catalog_service.tariff_versions(account, assignment.tariff_id, catalog)
                ]
            try:
                spans = in_force(tariffs[assignment.tariff_id], first, stop)
            except NoTariffInForceError as err:
                raise InvalidInputError(
                    "assignment.tariff_id", f"assignment {assignment.id!r}: {err}"
                ) from None
            customer = customers[assignment.customer_id]
            attributes = ScopedAttributes(customer.attributes, site.attributes, meter.attributes)
            for lo, hi, tariff in spans:
                if tariff.savings is not None:
                    usages.append(
                        _node_usage(account, meter, site, assignment, tariff, lo, hi, attributes, readings)
                    )
    return savings_report(_merged(usages))


def _owners(active: list[Assignment], start: date, end: date) -> Iterable[tuple[Assignment, date, date]]:
    """[first, stop) runs of days each decided by one assignment: the first (by effective_from, id) active
    that day; days no assignment covers are left out."""
    run: tuple[Assignment, date] | None = None
    day = start
    while day <= end:
        owner = None
        if day < end:
            owner = next((a for a in active if a.active_days(day, day + timedelta(days=1))), None)
        if run is not None and (owner is None or owner.id != run[0].id):
            yield run[0], run[1], day
            run = None
        if owner is not None and run is None:
            run = (owner, day)
        day += timedelta(days=1)


def _node_usage(
    account: str,
    meter: Meter,
    site: Site,
    assignment: Assignment,
    tariff: Tariff,
    lo: date,
    hi: date,
    attributes: ScopedAttributes,
    readings: ReadingStore,
) -> NodeUsage:
    zone = site.zone()
    try:
        watts, price = savings_terms(tariff, BillPeriod(lo, hi, zone), attributes)
    except TariffError as err:
        where = f"assignment {assignment.id!r}, tariff {tariff.id!r} version {tariff.version}"
        raise InvalidInputError(f"tariff.{err.field}", f"{where}: {err.reason}") from None
    first, stop = local_midnight(lo, zone), local_midnight(hi, zone)
    counted = validated_intervals(account, meter, first, stop, readings).total()
    on_hours = counted if meter.unit == "h" else counted / SECONDS_PER_HOUR
    return NodeUsage(
        node_id=meter.id,
        installation_id=site.id,
        installation_name=site.name,
        start=first,
        end=stop,
        on_hours=on_hours,
        power_rating_w=watts,
        price_per_kwh=price,
        currency=tariff.currency,
    )


def _merged(usages: list[NodeUsage]) -> list[NodeUsage]:
    """Back-to-back spans of one node at the same rating, price and currency as one."""
    merged: list[NodeUsage] = []
    for usage in usages:
        last = merged[-1] if merged else None
        if last is not None and _same_row(last, usage):
            merged[-1] = replace(last, end=usage.end, on_hours=last.on_hours + usage.on_hours)
        else:
            merged.append(usage)
    return merged


def _same_row(a: NodeUsage, b: NodeUsage) -> bool:
    key: Mapping[str, object] = {
        "node": a.node_id,
        "w": a.power_rating_w,
        "p": a.price_per_kwh,
        "c": a.currency,
    }
    other = {"node": b.node_id, "w": b.power_rating_w, "p": b.price_per_kwh, "c": b.currency}
    return key == other and a.end == b.start
