"""What meters and files deliver: register reads and interval values, each with a NEM12 quality flag."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

# AEMO NEM12 vocabulary: Actual, Estimated, Substituted, Final substitute, Null.
Quality = Literal["A", "E", "S", "F", "N"]
# Which value wins when two arrive for the same interval: actual beats any substitute, a final substitute
# beats a provisional one, anything beats null.
QUALITY_RANK: dict[str, int] = {"A": 4, "F": 3, "S": 2, "E": 1, "N": 0}


def replaces(new_quality: str, stored_quality: str) -> bool:
    """Whether a later version of an interval replaces the stored one: when its quality ranks the same or
    higher (a correction, or an actual value for an estimate), as in NEM12 practice. A quality outside
    QUALITY_RANK ranks below all of them."""
    return QUALITY_RANK.get(new_quality, -1) >= QUALITY_RANK.get(stored_quality, -1)


@dataclass(frozen=True, slots=True)
class IntervalReading:
    """Consumption in [start, end) as the source reported it (or as validation produced it)."""

    meter: str
    start: datetime
    end: datetime
    value: Decimal
    unit: str
    quality: Quality = "A"
    method: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class RegisterRead:
    """A cumulative counter read: kWh, m3 index, on-time hours. ``serial`` tells devices apart (swaps)."""

    meter: str
    timestamp: datetime
    value: Decimal
    unit: str
    serial: str | None = None
    quality: Quality = "A"


@dataclass(frozen=True, slots=True)
class MeterExchange:
    """A device swap: the old device's final read and the new one's initial read at ``timestamp``."""

    meter: str
    timestamp: datetime
    old_serial: str | None
    old_final: Decimal
    new_serial: str | None
    new_initial: Decimal
