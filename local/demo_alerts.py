"""The demo's alerts: an office building whose meters misbehave in four ways on one day, and exactly the four
alerts (and the one email) that follow.

Site ``office-berlin`` (Europe/Berlin) of a second account: a main supply meter with three sub-meters (two
offices and the stairwell), the kitchen's own electricity meter, a water meter and a gas register, five
weeks of 15-minute history (hourly gas reads) up to Wednesday 11 March 2026, 01:15. On Tuesday 10 March:

- the water meter goes quiet at 14:00 (communication failure);
- 0.200 kWh a quarter hour bypasses the sub-meters all day: 19.2 kWh unmetered (energy evasion);
- the gas register drops by 100 m³ at 12:00 (negative consumption: no rollover, no exchange recorded);
- the kitchen draws 2 kWh more each quarter hour from 19:00 to 20:00 (abnormal usage against its weekday
  baseline; on its own meter, since a spike behind the supply meter is rightly the supply's spike too).

Everything else is ordinary: varied loads (no flat lines), 2 % declared losses between the supply and the
sub-meters (set through ``PUT /v1/alert-rules``). The alerts schedule fires every 5 minutes from 01:00 to
01:25.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from local.serve import LocalPlatform

ZONE: Final = ZoneInfo("Europe/Berlin")
SITE: Final = "office-berlin"
SUPPLY, OFFICE_1, OFFICE_2, STAIRWELL = "office-supply", "office-1", "office-2", "office-stairwell"
KITCHEN: Final = "office-kitchen"
WATER, GAS = "office-water", "office-gas"
HISTORY_START: Final = datetime(2026, 2, 2, tzinfo=ZONE)  # a Monday: five full weeks before the day
FAULT_DAY_START: Final = datetime(2026, 3, 10, tzinfo=ZONE)  # Tuesday
DATA_END: Final = datetime(2026, 3, 11, 1, 15, tzinfo=ZONE)  # the readings sent so far (exclusive)
WATER_QUIET_FROM: Final = datetime(2026, 3, 10, 14, 0, tzinfo=ZONE)
GAS_DROP_AT: Final = datetime(2026, 3, 10, 12, 0, tzinfo=ZONE)
SPIKE_FROM, SPIKE_TO = datetime(2026, 3, 10, 19, 0, tzinfo=ZONE), datetime(2026, 3, 10, 20, 0, tzinfo=ZONE)
# The schedule's passes, every 5 minutes from 01:00 (the daily detectors' instant) until the water meter's
# alert has held for its 15 minutes and waited its 30 seconds to be grouped.
PASSES: Final = tuple(datetime(2026, 3, 11, 1, minute, tzinfo=ZONE) for minute in range(0, 30, 5))
BYPASS: Final = Decimal("0.200")  # kWh a quarter hour on the fault day, past every sub-meter
SPIKE: Final = Decimal("2.000")
GAS_DROP: Final = Decimal(100)
LOSS_PERCENT: Final = Decimal(2)
QUARTER: Final = timedelta(minutes=15)
BATCH: Final = 1_000
SUBSCRIBER: Final = "facility@office-berlin.example"
MILLI: Final = Decimal("0.001")

METERS: Final[tuple[dict[str, Any], ...]] = (
    {"id": SUPPLY, "utility": "electricity", "unit": "kWh", "kind": "main"},
    {"id": OFFICE_1, "utility": "electricity", "unit": "kWh", "kind": "sub", "parent_id": SUPPLY},
    {"id": OFFICE_2, "utility": "electricity", "unit": "kWh", "kind": "sub", "parent_id": SUPPLY},
    {"id": STAIRWELL, "utility": "electricity", "unit": "kWh", "kind": "sub", "parent_id": SUPPLY},
    {"id": KITCHEN, "utility": "electricity", "unit": "kWh", "kind": "main"},
    {"id": WATER, "utility": "water", "unit": "m3", "kind": "main"},
    {"id": GAS, "utility": "gas", "unit": "m3", "kind": "main", "interval_minutes": 60},
)
RULES: Final[dict[str, Any]] = {"energy_evasion": {"loss_percent": str(LOSS_PERCENT)}}
EXPECTED: Final = {
    ("communication", WATER),
    ("energy_evasion", SUPPLY),
    ("negative_consumption", GAS),
    ("abnormal_usage", KITCHEN),
}


def _quarters(start: datetime, end: datetime) -> Iterator[datetime]:
    """Quarter-hour starts in real time (a DST day has 92 or 100)."""
    moment = start.astimezone(ZONE)
    while moment < end:
        yield moment
        moment = (moment.astimezone(UTC) + QUARTER).astimezone(ZONE)  # in one zone, + is wall-clock time


def _office(base: str, busy: str) -> Callable[[datetime, int], Decimal]:
    def load(at: datetime, n: int) -> Decimal:
        working = at.weekday() < 5 and 8 <= at.hour < 18
        wobble = Decimal(n % 5) * Decimal("0.003")  # no two neighbours alike: not a flat line
        return Decimal(base) + (Decimal(busy) if working else 0) + wobble

    return load


def _stairwell(at: datetime, n: int) -> Decimal:
    lit = 17 <= at.hour < 23
    return Decimal("0.040") + (Decimal("0.030") if lit else 0) + Decimal(n % 3) * Decimal("0.002")


def _water(at: datetime, n: int) -> Decimal:
    used = at.weekday() < 5 and 7 <= at.hour < 19
    return (Decimal("0.050") if used else Decimal("0.004")) + Decimal(n % 4) * Decimal("0.001")


LOADS: Final = {
    OFFICE_1: _office("0.100", "0.150"),
    OFFICE_2: _office("0.080", "0.220"),
    STAIRWELL: _stairwell,
}


def interval_readings(start: datetime, end: datetime) -> list[dict[str, Any]]:
    """The electricity and water intervals starting in [start, end), with the day's faults."""
    rows: list[dict[str, Any]] = []
    for n, at in enumerate(_quarters(start, end)):
        subs = {meter: load(at, n) for meter, load in LOADS.items()}
        kitchen = _office("0.050", "0.120")(at, n) + (SPIKE if SPIKE_FROM <= at < SPIKE_TO else 0)
        supply = sum(subs.values(), Decimal(0)) * (1 + LOSS_PERCENT / 100)
        if FAULT_DAY_START <= at < FAULT_DAY_START + timedelta(days=1):
            supply += BYPASS
        values = {**subs, SUPPLY: supply.quantize(MILLI), KITCHEN: kitchen}
        if at < WATER_QUIET_FROM:
            values[WATER] = _water(at, n)
        for meter, value in values.items():
            rows.append(_interval(meter, at, value))
    return rows


def gas_reads(start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Hourly reads of the gas register from 4,500 m³ (0.3 to 1.5 m³ an hour), the drop at GAS_DROP_AT."""
    rows, value, at, n = [], Decimal("4500.000"), HISTORY_START, 0
    while at < end:
        if at == GAS_DROP_AT:
            value -= GAS_DROP
        if at >= start:
            rows.append(
                {"meter_id": GAS, "timestamp": at.isoformat(), "value": str(value), "type": "register"}
            )
        heating = Decimal("1.2") if 6 <= at.hour < 20 else Decimal("0.3")
        value += heating + Decimal(n % 3) * Decimal("0.1")
        at, n = (at.astimezone(UTC) + timedelta(hours=1)).astimezone(ZONE), n + 1
    return rows


def _interval(meter: str, at: datetime, value: Decimal) -> dict[str, Any]:
    return {
        "meter_id": meter,
        "timestamp": at.isoformat(),
        "value": str(value),
        "type": "interval",
        "interval_minutes": 15,
    }


class Api(Protocol):
    def call(self, method: str, path: str, body: Any = None, **query: str) -> Any: ...


def run(console: Console, platform: LocalPlatform, api: Callable[[str], Api], mail_dir: Path) -> None:
    """Sets the office up in a new account, sends the history, then the faulty day, fires the passes and
    shows the alerts raised and the email they produced. Exits when they are not exactly the four."""
    from local.alerts import deliver_alert_mail
    from local.schedules import fire

    console.rule("Alerts: a day when the office's meters misbehave")
    keys = platform.create_account("Demo facility manager")
    admin, collector = api(keys.admin_key), api(keys.ingest_key)
    admin.call("POST", "/v1/sites", {"id": SITE, "name": "Büro Friedrichstraße", "timezone": "Europe/Berlin"})
    for meter in METERS:
        admin.call("POST", "/v1/meters", {"site_id": SITE, "interval_minutes": 15, **meter})
    admin.call("PUT", "/v1/alert-rules", RULES)
    subscription = admin.call(
        "POST", "/v1/alert-subscriptions", {"email": SUBSCRIBER, "min_severity": "info"}
    )
    console.print(
        f"site {SITE}: supply meter with 3 sub-meters (2 % declared losses), water, gas; "
        f"{SUBSCRIBER} subscribed to its alerts ({subscription['status']})"
    )
    sent = _push(
        collector,
        interval_readings(HISTORY_START, FAULT_DAY_START) + gas_reads(HISTORY_START, FAULT_DAY_START),
    )
    fire("rate", FAULT_DAY_START)
    console.print(f"five weeks of history: {sent} readings, rated (the baselines)")
    today = interval_readings(FAULT_DAY_START, DATA_END) + gas_reads(FAULT_DAY_START, DATA_END)
    console.print(
        f"10 March: {_push(collector, today)} readings (water quiet from 14:00, gas −100 m³ at 12:00, …)"
    )
    fire("rate", PASSES[0])
    # Ingest queued a ReadingsArrived for each request; in AWS the readings worker judges them at once, as
    # of the wall clock. On this test clock the schedule's passes judge the same reads (registers over the
    # last day, abnormal usage at the daily instant), so the demo leaves the queue alone.
    for moment in PASSES:
        answer = fire("alerts", moment)
        console.print(
            f"{moment:%d %b %H:%M}  alerts pass: {answer['daily_sites']} sites judged for the day, "
            f"{answer['published']} published"
        )
        for path in deliver_alert_mail(mail_dir):
            mail = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            console.print(f"  email to {mail['To']}: {mail['Subject']}", soft_wrap=True, markup=False)
    alerts = admin.call("GET", "/v1/alerts")["items"]
    table = Table(title=f"GET /v1/alerts: {SITE}, newest first")
    for column in ("kind", "subject", "severity", "state", "fired at"):
        table.add_column(column)
    for alert in alerts:
        fired = datetime.fromisoformat(alert["fired_at"]).astimezone(ZONE) if alert["fired_at"] else None
        when = f"{fired:%d %b %H:%M}" if fired else ""
        table.add_row(alert["kind"], alert["subject"]["id"], alert["severity"], alert["state"], when)
    console.print(table)
    for alert in alerts:
        console.print(f"- {alert['summary']}")
    raised = {(a["kind"], a["subject"]["id"]) for a in alerts}
    if raised != EXPECTED:
        raise SystemExit(f"expected exactly the alerts {sorted(EXPECTED)}, got {sorted(raised)}")


def _push(collector: Api, readings: list[dict[str, Any]]) -> int:
    stored = 0
    for start in range(0, len(readings), BATCH):
        report = collector.call("POST", "/v1/readings", {"readings": readings[start : start + BATCH]})
        stored += report["accepted"]
    return stored
