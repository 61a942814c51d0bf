"""Detectors 3 and 4: registers that go down (negative consumption) and exchanges or rollovers to confirm.

Each pair of consecutive register reads of a meter (in real time; null-quality reads count as absent) where
the later one is lower is judged:

- a **rollover**: ``register_max`` is known, the earlier read sits within ``rollover_margin`` (a share of
  ``register_max``, default 10 %, validation's) of the maximum and the later one within it of zero. No
  negative consumption; an informational ``meter_exchange`` finding asks a person to confirm it.
- a **recorded exchange** (one of ``meter.exchanges`` with earlier < timestamp <= later): explained, so
  the ``negative_consumption`` and ``meter_exchange`` findings are inactive (recording the exchange through
  the API resolves what the drop raised), unless the later read is below the new device's initial read.
- a **counter reset** (no record, the later read at most ``reset_share`` of the earlier one, default 1 %): it
  looks like a new device, so ``meter_exchange`` fires (info) and, the drop being unexplained until someone
  records the exchange, ``negative_consumption`` fires too.
- any other drop: ``negative_consumption``.

Reads that do not go down are not judged (these are events at a read, not standing conditions).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from decimal import Decimal

from meterbill.alerts.model import Finding, Subject, on_clock, require_aware
from meterbill.domain import Meter
from meterbill.metersettings import ExchangeSettings
from meterbill.ports import RawReading


@dataclass(frozen=True, slots=True)
class RegisterRules:
    """How a drop is told apart: a rollover's margin of ``register_max``, a reset's share of the last read."""

    rollover_margin: Decimal = Decimal("0.1")
    reset_share: Decimal = Decimal("0.01")

    def __post_init__(self) -> None:
        if not Decimal(0) < self.rollover_margin < Decimal("0.5"):
            raise ValueError(f"rollover_margin: {self.rollover_margin} must be between 0 and 0.5")
        if not Decimal(0) <= self.reset_share < Decimal(1):
            raise ValueError(f"reset_share: {self.reset_share} must be at least 0 and below 1")


def _is_rollover(meter: Meter, previous: Decimal, current: Decimal, rules: RegisterRules) -> bool:
    if meter.register_max is None:
        return False
    margin = meter.register_max * rules.rollover_margin
    return previous >= meter.register_max - margin and current <= margin


def _exchange_between(meter: Meter, earlier: datetime, later: datetime) -> ExchangeSettings | None:
    start, end = earlier.astimezone(UTC), later.astimezone(UTC)
    return next((e for e in meter.exchanges if start < e.timestamp.astimezone(UTC) <= end), None)


def register_findings(
    meter: Meter,
    readings: Iterable[RawReading],
    now: datetime,
    rules: RegisterRules = RegisterRules(),
    zone: tzinfo | None = None,
) -> list[Finding]:
    """The ``negative_consumption`` and ``meter_exchange`` findings of every drop in a meter's register
    reads (any order; interval readings and other meters' reads are ignored), in time order. Summaries
    give times on ``zone``, the site's clock (each read's own offset without one)."""
    require_aware(now, "now")
    reads = [r for r in readings if r.type == "register" and r.quality != "N" and r.meter_id == meter.id]
    for read in reads:
        require_aware(read.timestamp, f"reading of {meter.id}: timestamp")
    reads.sort(key=lambda r: r.timestamp.astimezone(UTC))
    subject = Subject("meter", meter.id, meter.site_id)
    findings: list[Finding] = []
    for before, after in itertools.pairwise(reads):
        if after.value >= before.value:
            continue
        facts = {
            "previous_value": str(before.value),
            "previous_at": before.timestamp.isoformat(),
            "value": str(after.value),
            "at": after.timestamp.isoformat(),
            "drop": str(before.value - after.value),
        }
        if meter.register_max is not None:
            facts["register_max"] = str(meter.register_max)
        exchange = _exchange_between(meter, before.timestamp, after.timestamp)
        if exchange is not None:
            recorded = facts | {
                "exchange_at": exchange.timestamp.isoformat(),
                "new_initial": str(exchange.new_initial),
            }
            below_initial = after.value < exchange.new_initial
            findings.append(
                Finding(
                    "meter_exchange",
                    subject,
                    "info",
                    False,
                    now,
                    f"meter {meter.id}: exchange at {on_clock(exchange.timestamp, zone)} recorded",
                    recorded | {"detected": "exchange"},
                )
            )
            summary = (
                f"meter {meter.id}: register {after.value} at {on_clock(after.timestamp, zone)} is below "
                f"the new device's initial read {exchange.new_initial}"
                if below_initial
                else f"meter {meter.id}: drop explained by the exchange at "
                f"{on_clock(exchange.timestamp, zone)}"
            )
            findings.append(
                Finding("negative_consumption", subject, "warning", below_initial, now, summary, recorded)
            )
            continue
        if _is_rollover(meter, before.value, after.value, rules):
            findings.append(
                Finding(
                    "meter_exchange",
                    subject,
                    "info",
                    True,
                    now,
                    f"meter {meter.id}: register rolled over from {before.value} to {after.value} "
                    f"(maximum {meter.register_max}); please confirm",
                    facts | {"detected": "rollover"},
                )
            )
            continue
        if after.value <= before.value * rules.reset_share:
            findings.append(
                Finding(
                    "meter_exchange",
                    subject,
                    "info",
                    True,
                    now,
                    f"meter {meter.id}: register reset from {before.value} to {after.value}, "
                    "a new device? Record the exchange to confirm",
                    facts | {"detected": "counter_reset"},
                )
            )
        findings.append(
            Finding(
                "negative_consumption",
                subject,
                "warning",
                True,
                now,
                f"meter {meter.id}: register fell from {before.value} to {after.value} "
                f"at {on_clock(after.timestamp, zone)}",
                facts,
            )
        )
    return findings
