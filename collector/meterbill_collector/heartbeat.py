"""The heartbeat's body, as ``POST /v1/collectors/{collector_id}/heartbeats`` takes it: the collector's
version, its spool's depth and last push, the site it serves, per platform meter the last good read and the
last attempt's error, and the collector's warnings (the spool's quota) when there are any."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from meterbill_collector.model import MeterHealth
from meterbill_collector.spool import Spool

MAX_METERS = 500  # the API's limit per heartbeat
MAX_ERROR_LENGTH = 500  # the API's limit on a meter's error
MAX_WARNING_LENGTH = 500


def heartbeat_body(version: str, site_id: str | None, spool: Spool) -> dict[str, Any]:
    """A meter never read nor tried yet is left out (the API wants a last read, an error, or both). Over 500
    meters, the failing ones go first."""
    body: dict[str, Any] = {
        "version": version,
        "spool_depth": spool.depth(),
        "last_push_at": _iso(spool.last_push_at()),
        "site_id": site_id,
        "meters": meters_of(spool.health()),
    }
    warnings = [warning[:MAX_WARNING_LENGTH] for warning in spool.warnings()]
    if warnings:
        body["warnings"] = warnings
    return body


def meters_of(health: list[MeterHealth]) -> list[dict[str, Any]]:
    known = [h for h in health if h.last_read_at is not None or h.error is not None]
    known.sort(key=lambda h: (h.error is None, h.meter_id))
    return [
        {
            "meter_id": h.meter_id,
            "last_read_at": _iso(h.last_read_at),
            "error": None if h.error is None else h.error[:MAX_ERROR_LENGTH],
        }
        for h in known[:MAX_METERS]
    ]


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()
