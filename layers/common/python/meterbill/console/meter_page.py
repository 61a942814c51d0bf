"""The console's meter page: the window a resolution shows, the chart's series (embedded as JSON for
``static/meter.js``), and the exchange form's fields. Pure: time comes in as a value."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final, Literal, get_args
from zoneinfo import ZoneInfo

from meterbill.errors import InvalidInputError
from meterbill.services.usage import UsageBucket, UsageReport

ChartResolution = Literal["hour", "day", "week", "month"]
CHART_RESOLUTIONS: Final[tuple[str, ...]] = get_args(ChartResolution)
# How far back each resolution looks from today (the local day of "now", included).
_WINDOW_DAYS: Final[Mapping[str, int]] = {"hour": 2, "day": 31, "week": 84, "month": 365}
EXCHANGE_FIELDS: Final = ("timestamp", "old_serial", "old_final", "new_serial", "new_initial", "note")


@dataclass(frozen=True, slots=True)
class Window:
    resolution: ChartResolution
    start: date
    end: date  # exclusive
    service_resolution: str  # what services.usage is asked for (weeks are summed from days)


def window(query: Mapping[str, str], today: date) -> Window:
    """The chart's resolution and [from, to) (local dates) from the page's query; InvalidInputError naming
    the parameter."""
    resolution = query.get("resolution") or "day"
    if resolution not in CHART_RESOLUTIONS:
        raise InvalidInputError("resolution", f"{resolution!r} is not one of: hour, day, week, month")
    end = _date(query, "to") or today + timedelta(days=1)
    start = _date(query, "from")
    if start is None:
        start = end - timedelta(days=_WINDOW_DAYS[resolution])
        if resolution == "week":
            start -= timedelta(days=start.weekday())
        elif resolution == "month":
            start = start.replace(day=1)
    if end <= start:
        raise InvalidInputError("to", f"{end.isoformat()} is not after from {start.isoformat()}")
    service = "day" if resolution == "week" else resolution
    return Window(resolution, start, end, service)  # type: ignore[arg-type]  # checked above


def _date(query: Mapping[str, str], name: str) -> date | None:
    text = query.get(name)
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(name, f"{text!r} is not a date (YYYY-MM-DD)") from None


def buckets(report: UsageReport, resolution: str) -> list[UsageBucket]:
    """The report's buckets; for ``week`` its days summed by local ISO week (Monday to Monday)."""
    if resolution != "week":
        return list(report.buckets)
    weeks: list[UsageBucket] = []
    for day in report.buckets:
        monday = day.start.date() - timedelta(days=day.start.weekday())
        if weeks and weeks[-1].start.date() - timedelta(days=weeks[-1].start.weekday()) == monday:
            last = weeks[-1]
            q, d = last.qualities, day.qualities
            weeks[-1] = UsageBucket(
                start=last.start,
                end=day.end,
                total=last.total + day.total,
                qualities=type(q)(
                    actual=q.actual + d.actual,
                    estimated=q.estimated + d.estimated,
                    substituted=q.substituted + d.substituted,
                    final_substitute=q.final_substitute + d.final_substitute,
                    missing=q.missing + d.missing,
                ),
            )
        else:
            weeks.append(day)
    return weeks


def estimated(bucket: UsageBucket) -> bool:
    """Whether any interval of the bucket is not an actual reading (estimated, substituted or missing)."""
    q = bucket.qualities
    return bool(q.estimated or q.substituted or q.final_substitute or q.missing)


# How the chart's axis and legend write a time (``Intl.DateTimeFormat`` options, on the site's clock, in
# ``LOCALE``): day first, never US-style "11/4": "4 Nov", "14:00", "Nov 2026".
LOCALE: Final = "en-GB"
_DAY: Final[Mapping[str, str]] = {"day": "numeric", "month": "short"}
_TIME: Final[Mapping[str, str]] = {"hour": "2-digit", "minute": "2-digit", "hourCycle": "h23"}
_MONTH: Final[Mapping[str, str]] = {"month": "short", "year": "numeric"}
_TICKS: Final[Mapping[str, Mapping[str, str]]] = {"hour": _TIME, "day": _DAY, "week": _DAY, "month": _MONTH}
_LEGEND: Final[Mapping[str, Mapping[str, str]]] = {
    "hour": {**_DAY, "year": "numeric", **_TIME},
    "day": {"weekday": "short", **_DAY, "year": "numeric"},
    "week": {**_DAY, "year": "numeric"},
    "month": {"month": "long", "year": "numeric"},
}


def axis(resolution: str, timezone: str) -> dict[str, Any]:
    """How ``static/meter.js`` labels the time axis: ``ticks`` for a tick, ``midnight`` for a tick at the
    site's local midnight (hours: the day it starts, "4 Nov"; else none), ``legend`` for the hovered
    bucket."""
    return {
        "locale": LOCALE,
        "timezone": timezone,
        "ticks": dict(_TICKS[resolution]),
        "midnight": dict(_DAY) if resolution == "hour" else None,
        "legend": dict(_LEGEND[resolution]),
    }


def x_range(shown: list[UsageBucket]) -> list[int] | None:
    """The x scale: from half the first bucket before its start to half the last one after its start, so
    that bars centred on their start are drawn whole (a DST day's half is 11.5 or 12.5 hours). Today's
    bucket ends early (at the last whole interval): it is padded by half the bucket before it, as wide as
    uPlot draws its bar."""
    if not shown:
        return None
    # instants, not wall clocks: two datetimes of one zone subtract by wall clock (a DST day as 24 hours)
    starts = [int(b.start.timestamp()) for b in shown]
    spans = [int(b.end.timestamp()) - start for b, start in zip(shown, starts, strict=True)]
    half_first = spans[0] // 2
    half_last = max(spans[-1], starts[-1] - starts[-2] if len(starts) > 1 else 0) // 2
    return [starts[0] - half_first, starts[-1] + half_last]


def series(report: UsageReport, resolution: str) -> dict[str, Any]:
    """The chart's data: each bucket's start (Unix seconds and local ISO), its total (a JSON number for
    uPlot; ``totals`` keeps the exact decimal text) and whether it holds estimated intervals; the x range
    (``x_range``), where bars start on the y axis (``bars_y_min``: 0, or the lowest total when one is
    negative: a bar's height is its total) and how times are written (``axis``)."""
    shown = buckets(report, resolution)
    return {
        "meter_id": report.meter_id,
        "unit": report.unit,
        "timezone": report.timezone,
        "resolution": resolution,
        "x": [int(b.start.timestamp()) for b in shown],
        "starts": [b.start.isoformat() for b in shown],
        "y": [float(b.total) for b in shown],
        "totals": [str(b.total) for b in shown],
        "estimated": [estimated(b) for b in shown],
        "x_range": x_range(shown),
        "bars_y_min": min([0.0, *(float(b.total) for b in shown)]),
        "axis": axis(resolution, report.timezone),
    }


def series_json(data: Mapping[str, Any]) -> str:
    """JSON safe inside ``<script type="application/json">`` (no ``</script>``: ``<`` ``>`` ``&`` escaped)."""
    text = json.dumps(data, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def exchange_body(form: Mapping[str, str], zone: ZoneInfo) -> dict[str, Any]:
    """The exchange service's body from the form: blank fields left out; a ``datetime-local`` timestamp
    (no offset) is the site's local time."""
    body: dict[str, Any] = {
        name: form[name].strip() for name in EXCHANGE_FIELDS if form.get(name, "").strip()
    }
    stamp = body.get("timestamp")
    if stamp is not None:
        try:
            moment = datetime.fromisoformat(stamp)
        except ValueError:
            raise InvalidInputError("timestamp", f"{stamp!r} is not a date and time") from None
        if moment.tzinfo is None:
            body["timestamp"] = moment.replace(tzinfo=zone).isoformat()
    return body
