"""``meterbill-collector status``: what the spool says, read from another process than the running collector
(SQLite's WAL lets it read while the collector writes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from meterbill_collector.model import MeterHealth
from meterbill_collector.spool import Spool


@dataclass(frozen=True, slots=True)
class InFlightBatch:
    key: str
    size: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SpoolStatus:
    depth: int  # readings waiting for the API
    oldest_unsent: datetime | None
    last_push_at: datetime | None
    in_flight_batch: InFlightBatch | None
    rejected_count: int  # readings the API refused, kept in the spool's rejected table
    failing: tuple[MeterHealth, ...]  # meters whose last attempt failed
    warnings: tuple[str, ...]


def spool_status(spool: Spool) -> SpoolStatus:
    batch = spool.pending_batch()
    return SpoolStatus(
        depth=spool.depth(),
        oldest_unsent=spool.oldest_unsent(),
        last_push_at=spool.last_push_at(),
        in_flight_batch=None
        if batch is None
        else InFlightBatch(batch.key, len(batch.readings), batch.created_at),
        rejected_count=spool.rejected_count(),
        failing=tuple(h for h in spool.health() if h.error is not None),
        warnings=tuple(spool.warnings()),
    )


def format_status(status: SpoolStatus) -> str:
    """A plain table: one line per fact, then the failing meters and the warnings."""
    batch = status.in_flight_batch
    rows = [
        ("spool depth", _readings(status.depth)),
        ("oldest unsent", _time(status.oldest_unsent, "none")),
        ("last push", _time(status.last_push_at)),
        (
            "batch in flight",
            "none"
            if batch is None
            else f"{batch.key} ({_readings(batch.size)} since {_time(batch.created_at)})",
        ),
        ("rejected by the API", _readings(status.rejected_count)),
        ("failing meters", str(len(status.failing)) if status.failing else "none"),
    ]
    width = max(len(label) for label, _ in rows)
    lines = [f"{label:<{width}}  {value}" for label, value in rows]
    if status.failing:
        meter_width = max(len("meter"), *(len(h.meter_id) for h in status.failing))
        lines += ["", f"{'meter':<{meter_width}}  {'last good read':<20}  error"]
        lines += [
            f"{h.meter_id:<{meter_width}}  {_time(h.last_read_at):<20}  {h.error}" for h in status.failing
        ]
    if status.warnings:
        lines += ["", *(f"warning: {warning}" for warning in status.warnings)]
    return "\n".join(lines) + "\n"


def _readings(count: int) -> str:
    return f"{count:,} reading{'' if count == 1 else 's'}"


def _time(moment: datetime | None, absent: str = "never") -> str:
    return absent if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
