"""Energy that disappears: a main meter against its sub-meters (evasion), a phase's PDUs against its master.

Pure functions of the catalog's meters and each meter's usage over one window (a mapping meter id → total
in the meter's unit, Decimal); they return a ``Finding`` for every subject they could judge. A subject whose
usage is missing for any meter involved is not judged (no finding): the communication detector speaks for
the silent meter, and the lifecycle's inhibition keeps a half-known verdict from paging anyone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from meterbill.alerts.model import Finding, Severity, Subject, on_clock
from meterbill.domain import Meter

HUNDRED = Decimal(100)
PERCENT_SHOWN = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class EvasionRule:
    """Energy evasion: unmetered = main − Σ sub-meters − declared losses (``loss_percent`` of the main);
    active when unmetered is above BOTH ``min_percent`` of the main and ``min_absolute`` (meter unit)."""

    window: timedelta = timedelta(days=1)  # what the schedule judges; the detector takes the bounds
    min_percent: Decimal = Decimal(5)
    min_absolute: Decimal = Decimal(10)
    loss_percent: Decimal = Decimal(0)
    severity: Severity = "warning"

    def __post_init__(self) -> None:
        _at_least_zero("min_percent", self.min_percent)
        _at_least_zero("min_absolute", self.min_absolute)
        _at_least_zero("loss_percent", self.loss_percent)
        if self.loss_percent >= HUNDRED:
            raise ValueError(f"loss_percent {self.loss_percent} must be below 100")
        if self.window <= timedelta(0):
            raise ValueError(f"window {self.window} must be positive")


@dataclass(frozen=True, slots=True)
class PhaseSumRule:
    """Phase-sum mismatch: |Σ PDUs − master| above ``tolerance_percent`` of the master → active."""

    tolerance_percent: Decimal = Decimal(2)
    severity: Severity = "warning"

    def __post_init__(self) -> None:
        _at_least_zero("tolerance_percent", self.tolerance_percent)


def _at_least_zero(name: str, value: Decimal) -> None:
    if not value.is_finite() or value < 0:
        raise ValueError(f"{name} {value} must be a finite number of at least 0")


def _check_window(start: datetime, end: datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("window start and end must be timezone-aware")
    if end <= start:
        raise ValueError(f"window end {end.isoformat()} must be after its start {start.isoformat()}")


def _meter(meter: Meter) -> Subject:
    return Subject("meter", meter.id, meter.site_id)


def _percent(part: Decimal, whole: Decimal) -> Decimal | None:
    return None if whole == 0 else part * HUNDRED / whole


def _shown(percent: Decimal | None) -> str:
    return "n/a" if percent is None else str(percent.quantize(PERCENT_SHOWN))


def energy_evasion(
    meters: Iterable[Meter],
    usage: Mapping[str, Decimal],
    start: datetime,
    end: datetime,
    rule: EvasionRule,
    now: datetime,
) -> list[Finding]:
    """One finding per main meter that has sub-meters and whose usage (and all its subs') is known. The
    window (local midnights, as the pass gives it) is shown on its own clock."""
    _check_window(start, end)
    catalog = list(meters)
    subs_of: dict[str, list[Meter]] = {}
    for meter in catalog:
        if meter.kind == "sub" and meter.parent_id is not None:
            subs_of.setdefault(meter.parent_id, []).append(meter)
    findings = []
    for main in sorted((m for m in catalog if m.kind == "main"), key=lambda m: m.id):
        subs = sorted(subs_of.get(main.id, []), key=lambda m: m.id)
        if not subs or any(m.id not in usage for m in (main, *subs)):
            continue
        main_usage = usage[main.id]
        sub_usage = sum((usage[m.id] for m in subs), Decimal(0))
        losses = main_usage * rule.loss_percent / HUNDRED
        unmetered = main_usage - sub_usage - losses
        percent = _percent(unmetered, main_usage)
        active = percent is not None and unmetered > rule.min_absolute and percent > rule.min_percent
        summary = (
            f"Main meter {main.id}: {unmetered} {main.unit} ({_shown(percent)} %) unmetered beyond its "
            f"{len(subs)} sub-meter(s) from {on_clock(start)} to {on_clock(end)}"
        )
        findings.append(
            Finding(
                kind="energy_evasion",
                subject=_meter(main),
                severity=rule.severity,
                active=active,
                observed_at=now,
                summary=summary,
                facts={
                    "window_start": start.isoformat(),
                    "window_end": end.isoformat(),
                    "unit": main.unit,
                    "main_usage": str(main_usage),
                    "sub_usage": str(sub_usage),
                    "declared_losses": str(losses),
                    "unmetered": str(unmetered),
                    "unmetered_percent": _shown(percent),
                    "min_percent": str(rule.min_percent),
                    "min_absolute": str(rule.min_absolute),
                    "sub_meters": ",".join(m.id for m in subs),
                },
                depends_on=tuple(_meter(m) for m in (main, *subs)),
            )
        )
    return findings


def phase_sum_mismatch(
    meters: Iterable[Meter],
    usage: Mapping[str, Decimal],
    start: datetime,
    end: datetime,
    rule: PhaseSumRule,
    now: datetime,
) -> list[Finding]:
    """One finding per (site, feed, phase) with exactly one master and at least one PDU, usage all known.

    The meters labelled with a feed and a phase form a group per site; its master is the one meter of kind
    ``main`` or ``check``, its PDUs the ``sub`` meters. A group with no master, several or no PDU is not
    judged (the catalog does not say what to compare)."""
    _check_window(start, end)
    groups: dict[tuple[str, str, str], list[Meter]] = {}
    for meter in meters:
        feed, phase = meter.labels.feed, meter.labels.phase
        if feed is not None and phase is not None:
            groups.setdefault((meter.site_id, feed, phase), []).append(meter)
    findings = []
    for (_site, group_feed, group_phase), members in sorted(groups.items(), key=lambda item: item[0]):
        masters = [m for m in members if m.kind in ("main", "check")]
        pdus = sorted((m for m in members if m.kind == "sub"), key=lambda m: m.id)
        if len(masters) != 1 or not pdus:
            continue
        master = masters[0]
        if any(m.id not in usage for m in (master, *pdus)):
            continue
        master_usage = usage[master.id]
        pdu_usage = sum((usage[m.id] for m in pdus), Decimal(0))
        difference = pdu_usage - master_usage
        percent = _percent(abs(difference), master_usage)
        active = difference != 0 if percent is None else percent > rule.tolerance_percent
        findings.append(
            Finding(
                kind="phase_sum",
                subject=_meter(master),
                severity=rule.severity,
                active=active,
                observed_at=now,
                summary=(
                    f"Feed {group_feed} phase {group_phase}: {len(pdus)} PDU(s) sum to {pdu_usage} "
                    f"{master.unit}, master {master.id} measured {master_usage} ({_shown(percent)} % apart)"
                ),
                facts={
                    "window_start": start.isoformat(),
                    "window_end": end.isoformat(),
                    "unit": master.unit,
                    "feed": group_feed,
                    "phase": group_phase,
                    "master_usage": str(master_usage),
                    "pdu_usage": str(pdu_usage),
                    "difference": str(difference),
                    "difference_percent": _shown(percent),
                    "tolerance_percent": str(rule.tolerance_percent),
                    "pdus": ",".join(m.id for m in pdus),
                },
                depends_on=tuple(_meter(m) for m in (master, *pdus)),
            )
        )
    return findings
