"""The readings worker's judgement: the register detectors and the spike check on the meters a
``ReadingsArrived`` names, read around the new readings only. Time comes in as ``now``;
``services.alerting`` owns the lease, the lifecycle and publishing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from meterbill.alerts.model import Finding
from meterbill.alerts.ports import ReadingsArrived
from meterbill.alerts.registers import register_findings
from meterbill.alerts.rules import AlertRules
from meterbill.alerts.usage import abnormal_usage
from meterbill.domain import Meter, Site
from meterbill.errors import NotFoundError
from meterbill.services import catalog as catalog_service
from meterbill.services.alert_inputs import (
    READ_SLACK,
    AlertSources,
    baseline_days,
    interval_series,
    local_hour_start,
    rated_series,
)


def arrival_findings(
    item: ReadingsArrived, now: datetime, rules: AlertRules, sources: AlertSources
) -> Iterator[Finding]:
    """The register detectors and the spike check on the meters ``item`` names (a meter deleted since the
    readings were stored is skipped)."""
    account = item.account
    sites: dict[str, Site] = {}
    for meter_id in sorted(set(item.meter_ids)):
        try:
            meter = catalog_service.get(account, Meter, meter_id, sources.catalog).value
            if meter.site_id not in sites:
                sites[meter.site_id] = catalog_service.get(
                    account, Site, meter.site_id, sources.catalog
                ).value
        except NotFoundError:  # deleted since the readings were stored: nothing to judge
            continue
        yield from _meter_arrival(account, meter, sites[meter.site_id].zone(), item, now, rules, sources)


def _meter_arrival(
    account: str,
    meter: Meter,
    zone: ZoneInfo,
    item: ReadingsArrived,
    now: datetime,
    rules: AlertRules,
    sources: AlertSources,
) -> Iterator[Finding]:
    mine = rules.for_meter(meter.id, meter.site_id)
    length = timedelta(minutes=meter.interval_minutes)
    # One read: the touched local hours whole (for the spike check) and an interval before the earliest.
    start = min(item.earliest - length, local_hour_start(item.earliest, zone))
    end = local_hour_start(item.latest, zone) + timedelta(hours=1) + length
    reads = list(sources.readings.between(account, meter.id, start, max(end, item.latest + READ_SLACK)))
    registers = [r for r in reads if r.type == "register"]
    if registers and not any(r.timestamp < item.earliest for r in registers):
        # The read before the earliest new one, however long ago (register reads may be daily).
        before = list(sources.readings.between(account, meter.id, item.earliest - timedelta(days=1), start))
        registers = [r for r in before if r.type == "register"][-1:] + registers
    yield from register_findings(meter, registers, now, mine.registers, zone)
    # The spike check: the touched hours against the same hour of the same weekday 1..weeks weeks before.
    # Only an active verdict is passed on: the daily pass judges the whole day and resolves it.
    series = interval_series(reads, meter)
    touched = sorted({s.astimezone(zone).date() for s in series})
    for day in touched:
        history = rated_series(baseline_days(sources.metering, account, meter.id, day, mine.abnormal_usage))
        if not history:
            continue
        today = {s: v for s, v in series.items() if s.astimezone(zone).date() == day}
        finding = abnormal_usage(meter, {**history, **today}, zone, day, mine.abnormal_usage, now)
        if finding is not None and finding.active:
            yield finding
