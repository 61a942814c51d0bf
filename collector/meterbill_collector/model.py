"""The values the collector's parts pass each other: a register read to send, a meter's health."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol


def require_aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must carry a UTC offset, got {value.isoformat()}")
    return value


@dataclass(frozen=True, slots=True)
class Reading:
    """One cumulative register read, as the API takes it (``type: register``).

    ``timestamp`` is the polling boundary the read belongs to (aware); ``read_at`` is when the meter actually
    answered, kept for the logs and the spool (the API is sent the boundary)."""

    meter_id: str  # the platform's meter id
    timestamp: datetime
    value: Decimal
    read_at: datetime

    def __post_init__(self) -> None:
        require_aware(self.timestamp, "timestamp")
        require_aware(self.read_at, "read_at")


@dataclass(frozen=True, slots=True)
class MeterHealth:
    """What a heartbeat says of one platform meter: its last good read, the error of its last attempt."""

    meter_id: str  # the platform's meter id
    last_read_at: datetime | None
    error: str | None  # None when the last attempt succeeded


class ReadingSink(Protocol):
    """Where polled readings go (the spool): stored durably before ``add`` returns. The poller calls it from a
    worker thread (``asyncio.to_thread``), one call at a time."""

    def add(self, readings: Iterable[Reading]) -> int:
        """Stores the readings not stored before (same meter and timestamp); returns how many were new."""
        ...


class HealthBook(Protocol):
    """Where the poller records each meter's health, for the heartbeat and ``status`` (another process). The
    poller calls ``save_health`` from a worker thread, after the poll's ``add`` has returned."""

    def save_health(self, health: Iterable[MeterHealth]) -> None: ...

    def health(self) -> list[MeterHealth]: ...


class Clock(Protocol):
    """Time, passed in: the tests and the benchmark drive the collector on a clock of their own."""

    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...
