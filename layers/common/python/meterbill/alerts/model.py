"""What detectors report and the lifecycle consumes: a finding about one subject at one moment.

A detector is a pure function of meter data, catalog objects and rules; it returns a ``Finding`` for every
subject it judged, active (the condition holds) or not (it does not, so a firing alert can resolve). The
lifecycle (``alerts.lifecycle``) turns findings into alerts: states, notifications, inhibition and silences.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Final, Literal, get_args

Severity = Literal["info", "warning", "critical"]
SEVERITIES: Final[tuple[Severity, ...]] = get_args(Severity)  # in rising order

AlertKind = Literal[
    "communication",  # a meter that stopped reporting (or whose collector reports a Modbus error)
    "collector_offline",  # a collector that stopped sending heartbeats
    "collector_warning",  # a collector whose latest heartbeat carries warnings (its spool thinned, say)
    "energy_evasion",  # a main meter minus its sub-meters, less declared losses, above thresholds
    "negative_consumption",  # a register that went down without a rollover or a recorded exchange
    "meter_exchange",  # an exchange or rollover detected, for a person to confirm
    "phase_sum",  # a feed and phase's PDUs disagree with its master meter
    "abnormal_usage",  # an interval or day far above its baseline
    "flat_line",  # a stuck meter
    "estimated_data",  # too much estimated data in a period about to be invoiced
    "bill_shock",  # month-to-date projected cost above the customer's threshold
]
ALERT_KINDS: Final[tuple[AlertKind, ...]] = get_args(AlertKind)

SubjectKind = Literal["meter", "site", "collector", "customer"]


@dataclass(frozen=True, slots=True)
class Subject:
    """What an alert is about; with the kind and the account, what identifies it (its fingerprint)."""

    kind: SubjectKind
    id: str
    site_id: str | None = None  # for grouping notifications by site and for subscriptions' site filter


@dataclass(frozen=True, slots=True)
class Finding:
    """A detector's verdict on ``subject`` at ``observed_at`` (aware): ``active`` when the condition holds.

    ``facts`` are the numbers behind it as text (Decimals written exactly, times in ISO 8601), shown in the
    notification and the API; ``summary`` is one readable line. ``depends_on`` names the meters and
    collectors whose data the verdict relies on: when one of them is offline the alert is inhibited (muted,
    still visible), since the verdict would be false."""

    kind: AlertKind
    subject: Subject
    severity: Severity
    active: bool
    observed_at: datetime
    summary: str
    facts: Mapping[str, str] = field(default_factory=dict)
    depends_on: tuple[Subject, ...] = ()


def require_aware(moment: datetime, name: str) -> None:
    """A naive datetime in the core is a bug: say which field holds one."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name}: {moment.isoformat()} must be timezone-aware")


def on_clock(moment: datetime, zone: tzinfo | None = None) -> str:
    """``moment`` as a person at the site reads it: ``2026-11-18 12:00 CET`` on ``zone`` (the moment's own
    offset without one); seconds only when there are any. Summaries use it; facts keep ISO 8601."""
    local = moment.astimezone(zone) if zone is not None else moment
    shown = f"{local:%Y-%m-%d %H:%M:%S}" if local.second or local.microsecond else f"{local:%Y-%m-%d %H:%M}"
    return f"{shown} {local.tzname()}"


def minutes_words(minutes: int) -> str:
    """A span as a person reads it: ``45 min``, ``2 h``, ``24 h 15 min``."""
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h {rest} min" if rest else f"{hours} h"
