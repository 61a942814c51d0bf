"""The demo's portfolio, smaller, run through the local platform on a test clock (``PORTFOLIO.md``'s story for
November 2026 only): what ``tests/e2e/test_portfolio_scenario.py`` checks.

Run as ``python -m tests.e2e.portfolio_scenario OUT_DIR`` in a process of its own (moto servers in one process
share their backends, and a second platform stopping would empty the tables of the e2e tests' platform). It
writes into OUT_DIR: ``result.json`` (the invoices as stored, the alerts as ``GET /v1/alerts`` answers them,
every notification SNS took, the passes' answers), ``s3/<key>`` (each invoice's stored document, read back
from S3) and ``mail/`` (the invoice emails SES sent and the alert emails SNS would send, as ``.eml``).

The portfolio, with simple loads so that a person can bill it by hand (kWh a quarter hour, the same every day,
different from one hour to the next so that nothing looks stuck):

- office ``office-berlin`` (Europe/Berlin, DE-BE): main ``office-main`` with sub-meters ``law-a`` and
  ``law-b`` (Kanzlei Roth, ``law``, two meters on ``office-power``: TOU + graduated tiers + monthly fixed +
  19 % VAT) and ``studio`` (Studio Vier, ``studio``, same tariff, moves out on 16 Nov); the common area, the
  main's residual, shared by floor area (law 300 m², studio 100 m²) on ``office-common``; the flat ``flat-3``
  on its own supply (H. Berger, ``berger``, a senior citizen on ``flat-power``, whose first tier is larger for
  seniors); the gas register ``office-gas`` (hourly, unbilled here);
- colocation ``colo-fra`` (Europe/Berlin, DE-HE): phase master ``colo-l1`` over the register PDUs ``r01-a``
  and ``r02-b`` of Nordwind Hosting (``nordwind``, ``colo-power``: rack feed, energy, peak demand, VAT);
  ``r02-b`` is swapped on 16 Nov at 10:00 (the exchange recorded: old final read, new one from 0.50);
- compute: ``rw-node-1`` at ``colo-fra``, busy seconds per quarter hour of Rechenwerk AI (``rechenwerk``,
  ``compute-batch``: per session a fare for the first 30 minutes, then every started 5 minutes).

Faults: ``law-b`` silent all of Thu 12 Nov; from Tue 24 Nov 0.300 kWh a quarter hour passes ``office-main``
but no sub-meter (evasion); the gas register drops 100 m³ at 12:00 on Wed 18 Nov; ``law-a`` draws 2 kWh more
each quarter hour on Fri 20 Nov 19:00-20:00 (a spike).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

ZONE: Final = ZoneInfo("Europe/Berlin")
START: Final = datetime(2026, 11, 1, tzinfo=ZONE)  # Sunday; no DST change and no Berlin holiday in November
END: Final = datetime(2026, 12, 1, tzinfo=ZONE)
# The readings sent (exclusive): past the last alert pass (1 December 01:05), so no meter looks quiet then.
DATA_END: Final = datetime(2026, 12, 1, 1, 15, tzinfo=ZONE)
QUARTER: Final = timedelta(minutes=15)
OFFICE, COLO = "office-berlin", "colo-fra"
SUBSCRIBER: Final = "facility@hv-roth.example"

# --- loads (kWh a quarter hour by local hour h, every day alike) --------------------------------------------


def law_a(h: int) -> Decimal:
    return Decimal("0.20") + Decimal("0.01") * h


def law_b(h: int) -> Decimal:
    return Decimal("0.100") + Decimal("0.005") * h


def studio(h: int) -> Decimal:
    return Decimal("0.30") + Decimal("0.02") * h


def flat_3(h: int) -> Decimal:
    return Decimal("0.050") + Decimal("0.005") * h


def r01_a(h: int) -> Decimal:
    return Decimal("0.50") + Decimal("0.02") * h


def r02_b(h: int) -> Decimal:
    return Decimal("0.40") + Decimal("0.01") * h


def gas(h: int) -> Decimal:
    """m³ an hour."""
    return Decimal("0.5") + Decimal("0.1") * (h % 3)


COMMON: Final = Decimal("0.080")  # the common area: the main's residual, a quarter hour
EVASION: Final = Decimal("0.300")
EVASION_FROM: Final = datetime(2026, 11, 24, tzinfo=ZONE)
QUIET_DAY: Final = datetime(2026, 11, 12, tzinfo=ZONE)
# The spike: 8 kWh more in law-a's 19:00 hour on top of 1.56, far above 3 x 1.56; the main meter sees it too,
# but on top of 5.38 kWh (the tenants and the common area at 19:00) it stays below 3 x 5.38, as it should.
SPIKE: Final = Decimal("2.000")
SPIKE_FROM, SPIKE_TO = datetime(2026, 11, 20, 19, tzinfo=ZONE), datetime(2026, 11, 20, 20, tzinfo=ZONE)
GAS_START: Final = Decimal("5000.0")
GAS_DROP: Final = Decimal(100)
GAS_DROP_AT: Final = datetime(2026, 11, 18, 12, tzinfo=ZONE)
SWAP_AT: Final = datetime(2026, 11, 16, 10, tzinfo=ZONE)
R01_A_START, R02_B_START, R02_B_NEW = Decimal("10000.00"), Decimal("20000.00"), Decimal("0.50")
# Busy seconds of the compute node: three jobs, each a run of busy quarter hours.
SESSIONS: Final = (
    (datetime(2026, 11, 2, 10, tzinfo=ZONE), (900, 900, 300)),  # 2100 s
    (datetime(2026, 11, 4, 14, tzinfo=ZONE), (600,)),  # 600 s
    (datetime(2026, 11, 6, 9, tzinfo=ZONE), (900, 900, 900, 100)),  # 2800 s
)

# --- the catalog --------------------------------------------------------------------------------------------

PEAK_HOURS: Final = range(8, 20)  # Mon-Fri 08:00-20:00
WEEKDAYS = [[1 if h in PEAK_HOURS else 0 for h in range(24)] for _ in range(12)]
WEEKENDS = [[0] * 24 for _ in range(12)]

SITES: Final = (
    {
        "id": OFFICE,
        "name": "Bürohaus Friedrichstraße",
        "timezone": "Europe/Berlin",
        "holiday_country": "DE",
        "holiday_subdivision": "BE",
    },
    {
        "id": COLO,
        "name": "Colo Frankfurt",
        "timezone": "Europe/Berlin",
        "holiday_country": "DE",
        "holiday_subdivision": "HE",
    },
)


def _electricity(meter_id: str, site: str, kind: str, **more: Any) -> dict[str, Any]:
    return {
        "id": meter_id,
        "site_id": site,
        "utility": "electricity",
        "unit": "kWh",
        "kind": kind,
        "interval_minutes": 15,
        **more,
    }


PDU_LABELS: Final = {"room": "hall-1", "phase": "L1"}
METERS: Final = (
    _electricity("office-main", OFFICE, "main"),
    _electricity("law-a", OFFICE, "sub", parent_id="office-main"),
    _electricity("law-b", OFFICE, "sub", parent_id="office-main"),
    _electricity("studio", OFFICE, "sub", parent_id="office-main"),
    _electricity("flat-3", OFFICE, "main"),
    {
        "id": "office-gas",
        "site_id": OFFICE,
        "utility": "gas",
        "unit": "m3",
        "kind": "main",
        "interval_minutes": 60,
    },
    _electricity("colo-l1", COLO, "main", labels=PDU_LABELS),
    _electricity(
        "r01-a",
        COLO,
        "sub",
        parent_id="colo-l1",
        labels={**PDU_LABELS, "rack": "R01", "feed": "A", "device": "pdu-r01-a"},
    ),
    _electricity(
        "r02-b",
        COLO,
        "sub",
        parent_id="colo-l1",
        labels={**PDU_LABELS, "rack": "R02", "feed": "B", "device": "pdu-r02-b"},
    ),
    {
        "id": "rw-node-1",
        "site_id": COLO,
        "utility": "compute",
        "unit": "s",
        "kind": "main",
        "interval_minutes": 15,
    },
)


def _address(line: str, postal_code: str, city: str) -> dict[str, Any]:
    return {"lines": [line], "postal_code": postal_code, "city": city, "country": "DE"}


CUSTOMERS: Final = (
    {
        "id": "law",
        "name": "Kanzlei Roth",
        "emails": ["buero@kanzlei-roth.example"],
        "address": _address("Friedrichstr. 10, 2. OG", "10117", "Berlin"),
        "language": "de",
        "attributes": {"floor_area": 300},
    },
    {
        "id": "studio",
        "name": "Studio Vier",
        "emails": ["hallo@studio-vier.example"],
        "address": _address("Friedrichstr. 10, 3. OG", "10117", "Berlin"),
        "language": "de",
        "attributes": {"floor_area": 100},
    },
    {
        "id": "berger",
        "name": "H. Berger",
        "emails": ["h.berger@example.org"],
        "address": _address("Friedrichstr. 10, Whg. 3", "10117", "Berlin"),
        "language": "de",
        "attributes": {"senior_citizen": True},
    },
    {
        "id": "nordwind",
        "name": "Nordwind Hosting",
        "emails": ["billing@nordwind.example"],
        "address": _address("Kaiserstr. 5", "60311", "Frankfurt am Main"),
        "language": "en",
    },
    {
        "id": "rechenwerk",
        "name": "Rechenwerk AI",
        "emails": ["ap@rechenwerk.example"],
        "address": _address("Hanauer Landstr. 100", "60314", "Frankfurt am Main"),
        "language": "en",
    },
)

VAT: Final = [{"name": "VAT", "percent": "19"}]
TARIFFS: Final = (
    {
        "id": "office-power",
        "name": "Office power: peak/off-peak, graduated",
        "currency": "EUR",
        "unit": "kWh",
        "effective_from": "2026-11-01",
        "fixed": [{"description": "Base charge", "amount": "12.00", "per": "month"}],
        "energy": {
            "tier_mode": "graduated",
            "periods": [
                {"name": "off-peak", "tiers": [{"size": "300", "rate": "0.22"}, {"rate": "0.26"}]},
                {"name": "peak", "tiers": [{"size": "200", "rate": "0.30"}, {"rate": "0.36"}]},
            ],
            "time_of_use": {"weekday_schedule": WEEKDAYS, "weekend_schedule": WEEKENDS},
        },
        "taxes": VAT,
    },
    {
        "id": "office-common",
        "name": "Office common area",
        "currency": "EUR",
        "unit": "kWh",
        "effective_from": "2026-11-01",
        "energy": {"periods": [{"name": "all day", "tiers": [{"rate": "0.30"}]}]},
        "taxes": VAT,
    },
    {
        "id": "flat-power",
        "name": "Residential flat",
        "currency": "EUR",
        "unit": "kWh",
        "effective_from": "2026-11-01",
        "fixed": [{"description": "Base charge", "amount": "9.90", "per": "month"}],
        "energy": {
            "tier_mode": "graduated",
            "periods": [
                {
                    "name": "all day",
                    "tiers": [
                        {"size": "150 if senior_citizen else 100", "rate": "0.28"},
                        {"size": "200", "rate": "0.32"},
                        {"rate": "0.36"},
                    ],
                }
            ],
        },
        "taxes": VAT,
    },
    {
        "id": "colo-power",
        "name": "Colocation: metered power per rack feed",
        "currency": "EUR",
        "unit": "kWh",
        "effective_from": "2026-11-01",
        "fixed": [{"description": "Rack feed", "amount": "50.00", "per": "month"}],
        "energy": {"periods": [{"name": "all day", "tiers": [{"rate": "0.20"}]}]},
        "demand": {
            "window_minutes": 15,
            "flat": {"periods": [{"name": "monthly peak", "tiers": [{"rate": "10.00"}]}]},
        },
        "taxes": VAT,
    },
    {
        "id": "compute-batch",
        "name": "Compute: batch jobs by the session",
        "currency": "EUR",
        "unit": "s",
        "effective_from": "2026-11-01",
        "packages": [
            {
                "description": "Job package",
                "threshold_seconds": "1800",
                "fare": "2.00",
                "unit_seconds": "300",
                "unit_rate": "0.50",
            }
        ],
        "taxes": VAT,
    },
)


def _assignment(assignment_id: str, meter: str, customer: str, tariff: str, **more: Any) -> dict[str, Any]:
    return {
        "id": assignment_id,
        "meter_id": meter,
        "customer_id": customer,
        "tariff_id": tariff,
        "effective_from": "2026-11-01",
        **more,
    }


MOVE_OUT: Final = "2026-11-16"
ASSIGNMENTS: Final = (
    _assignment("law-a-power", "law-a", "law", "office-power"),
    _assignment("law-b-power", "law-b", "law", "office-power"),
    _assignment("law-common", "office-main", "law", "office-common", basis="residual", allocation="area"),
    _assignment("studio-power", "studio", "studio", "office-power", effective_to=MOVE_OUT),
    _assignment(
        "studio-common",
        "office-main",
        "studio",
        "office-common",
        basis="residual",
        allocation="area",
        effective_to=MOVE_OUT,
    ),
    _assignment("berger-power", "flat-3", "berger", "flat-power"),
    _assignment("nordwind-r01-a", "r01-a", "nordwind", "colo-power"),
    _assignment("nordwind-r02-b", "r02-b", "nordwind", "colo-power"),
    _assignment("rechenwerk-node", "rw-node-1", "rechenwerk", "compute-batch"),
)

BILLING: Final = {
    "seller": {
        "legal_name": "Hausverwaltung Roth & Colo GmbH",
        "address": _address("Friedrichstr. 1", "10117", "Berlin"),
        "vat_id": "DE123456789",
        "registration": "HRB 12345, Amtsgericht Charlottenburg",
        "contact": {"name": "Anna Schmidt", "email": "abrechnung@hv-roth.example", "phone": "+49 30 1234567"},
        "bank_account": {"iban": "DE89370400440532013000", "bic": "COBADEFFXXX"},
    },
    "email": {"sender": "abrechnung@hv-roth.example", "sender_name": "Hausverwaltung Roth"},
}
# Spikes are judged against the same weekday of the weeks before: two Fridays of history are enough here. The
# notices of a pass go out with it (no 30 s wait to group them: the test clock's passes are hours apart).
ALERT_RULES: Final = {"abnormal_usage": {"min_weeks": 2}, "lifecycle": {"group_wait_seconds": 0}}

# --- readings -----------------------------------------------------------------------------------------------


def quarters(start: datetime = START, end: datetime = END) -> Iterator[datetime]:
    moment = start
    while moment < end:
        yield moment
        moment = (moment.astimezone(UTC) + QUARTER).astimezone(ZONE)


def _interval(meter: str, at: datetime, value: Decimal) -> dict[str, Any]:
    return {
        "meter_id": meter,
        "timestamp": at.isoformat(),
        "value": str(value),
        "type": "interval",
        "interval_minutes": 15,
    }


def _register(meter: str, at: datetime, value: Decimal) -> dict[str, Any]:
    return {"meter_id": meter, "timestamp": at.isoformat(), "value": str(value), "type": "register"}


def busy_seconds() -> dict[datetime, int]:
    busy: dict[datetime, int] = {}
    for first, seconds in SESSIONS:
        for k, value in enumerate(seconds):
            busy[(first.astimezone(UTC) + k * QUARTER).astimezone(ZONE)] = value
    return busy


def readings() -> list[dict[str, Any]]:
    """Every reading of November, as collectors would send them."""
    rows: list[dict[str, Any]] = []
    busy = busy_seconds()
    r01, r02 = R01_A_START, R02_B_START
    for at in quarters(START, DATA_END):
        h = at.hour
        a = law_a(h) + (SPIKE if SPIKE_FROM <= at < SPIKE_TO else 0)
        b, s = law_b(h), studio(h)
        main = a + b + s + COMMON + (EVASION if at >= EVASION_FROM else 0)
        rows += [_interval("office-main", at, main), _interval("law-a", at, a)]
        if not QUIET_DAY <= at < QUIET_DAY + timedelta(days=1):
            rows.append(_interval("law-b", at, b))
        rows += [
            _interval("studio", at, s),
            _interval("flat-3", at, flat_3(h)),
            _interval("colo-l1", at, r01_a(h) + r02_b(h)),
            _interval("rw-node-1", at, Decimal(busy.get(at, 0))),
        ]
        # The PDUs' registers, read at each quarter hour's start; r02-b's new device from the swap on.
        rows += [_register("r01-a", at, r01), _register("r02-b", at, r02)]
        r01 += r01_a(h)
        r02 += r02_b(h)
        if at + QUARTER == SWAP_AT:  # the old device's last read (its final) goes with it
            r02 = R02_B_NEW
    rows += [_register("r01-a", DATA_END, r01), _register("r02-b", DATA_END, r02)]
    value, at = GAS_START, START
    while at < DATA_END:
        if at == GAS_DROP_AT:
            value -= GAS_DROP
        rows.append(_register("office-gas", at, value))
        value += gas(at.hour)
        at = (at.astimezone(UTC) + timedelta(hours=1)).astimezone(ZONE)
    return rows


def swap() -> dict[str, Any]:
    """The exchange of r02-b: its old register's final read at SWAP_AT, the new one's first."""
    old_final = R02_B_START
    for at in quarters(START, SWAP_AT):
        old_final += r02_b(at.hour)
    return {
        "timestamp": SWAP_AT.isoformat(),
        "old_serial": "PDU-4711",
        "old_final": str(old_final),
        "new_serial": "PDU-9001",
        "new_initial": str(R02_B_NEW),
        "note": "PDU swapped, fan failure",
    }


# --- the test clock -----------------------------------------------------------------------------------------


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=ZONE)


# The alerts schedule's passes (every 5 minutes in AWS), at the moments that matter: 01:00 every day, when
# each site's daily detectors judge the day before, and on the quiet Thursday at noon (law-b pending since the
# 01:00 pass, firing once its 15 minutes have held).
ALERT_PASSES: Final = sorted([*(at(d, 1) for d in range(2, 31)), at(1, 1, month=12), at(12, 12)])
RATED_AT: Final = at(1, 0, 30, month=12)
# The bill run, hourly in AWS: bill day 1 December (drafts), grace 2 days: issued from 3 December 00:00.
BILL_RUNS: Final = (at(1, 0, 30, month=12), at(2, 0, 30, month=12), at(3, 0, 30, month=12))
BATCH: Final = 4_000


def run(out: Path) -> dict[str, Any]:
    import boto3  # type: ignore[import-untyped]

    from local.alerts import deliver_alert_mail
    from local.demo import Api
    from local.mail import drain_email_queue
    from local.schedules import drain_invoice_queue, fire
    from local.serve import LocalPlatform

    result: dict[str, Any] = {"passes": [], "seconds": {}, "_started": time.monotonic()}
    mail_dir = out / "mail"
    with LocalPlatform(mail_dir=mail_dir) as platform:
        keys = platform.create_account("Hausverwaltung & Colo Demo")
        account = keys.account_id
        admin, collector = Api(platform.url, keys.admin_key), Api(platform.url, keys.ingest_key)
        for site in SITES:
            admin.call("POST", "/v1/sites", site)
        for meter in METERS:
            admin.call("POST", "/v1/meters", meter)
        for customer in CUSTOMERS:
            admin.call("POST", "/v1/customers", customer)
        for tariff in TARIFFS:
            admin.call("POST", "/v1/tariffs", tariff)
        for assignment in ASSIGNMENTS:
            admin.call("POST", "/v1/assignments", assignment)
        admin.call("PUT", "/v1/settings/billing", BILLING)
        admin.call("PUT", "/v1/alert-rules", ALERT_RULES)
        admin.call("POST", "/v1/alert-subscriptions", {"email": SUBSCRIBER, "min_severity": "info"})
        admin.call("POST", "/v1/meters/r02-b/exchanges", swap())

        rows = readings()
        stored = 0
        for start in range(0, len(rows), BATCH):
            report = collector.call("POST", "/v1/readings", {"readings": rows[start : start + BATCH]})
            stored += report["accepted"]
        result["readings"] = {"sent": len(rows), "stored": stored}
        _lap(result, "readings")

        result["passes"].append({"rate": RATED_AT.isoformat(), **fire("rate", RATED_AT)})
        _lap(result, "rating")
        for moment in ALERT_PASSES:
            began = time.monotonic()
            answer = fire("alerts", moment)
            answer["seconds"] = round(time.monotonic() - began, 2)
            result["passes"].append({"alerts": moment.isoformat(), **answer})
        # What the topic published, as the email each admitting subscriber gets (named by publication time).
        deliver_alert_mail(mail_dir)
        _lap(result, "alerts")
        for moment in BILL_RUNS:
            sent = fire("invoice", moment)
            done, failed = drain_invoice_queue()
            result["passes"].append({"invoice": moment.isoformat(), **sent, "done": done, "failed": failed})
        assert platform.mailer is not None
        emails = drain_email_queue(platform.mailer)
        result["emails"] = {"done": emails[0], "failed": emails[1]}
        _lap(result, "bill runs and emails")

        s3 = boto3.client(
            "s3",
            region_name=platform.region,
            endpoint_url=platform.environment["S3_ENDPOINT_URL"],
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        bucket = platform.environment["INVOICES_BUCKET"]
        invoices = []
        for record in platform.stores.invoices.list(account, limit=100).items:
            document = record.document
            entry = {
                "invoice_id": record.invoice_id,
                "customer_id": record.customer_id,
                "kind": record.kind,
                "state": record.state,
                "number": record.number,
                "period_start": record.period_start.isoformat(),
                "period_end": record.period_end.isoformat(),
                "body": record.body,
                "document": None,
            }
            if document is not None:
                key = f"{account}/{document.key}"  # every document lives under its account's prefix
                target = out / "s3" / key
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
                entry["document"] = {"key": key, "sha256": document.sha256, "size": document.size}
            invoices.append(entry)
        result["invoices"] = invoices
        result["alerts"] = admin.call("GET", "/v1/alerts", limit="100")["items"]
        result["sns"] = _sns_messages(platform.environment["ALERTS_TOPIC_ARN"], platform.region)
    return result


def _lap(result: dict[str, Any], what: str) -> None:
    now = time.monotonic()
    result["seconds"][what] = round(now - result["_started"], 1)
    result["_started"] = now


def _sns_messages(topic_arn: str, region: str) -> list[dict[str, Any]]:
    """What the alerts topic took (moto's record of it, in this process)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    topic = sns_backends[DEFAULT_ACCOUNT_ID][region].topics[topic_arn]
    return [
        {"subject": subject, "message": message, "attributes": attributes}
        for _id, message, subject, attributes, _group in topic.sent_notifications
    ]


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    out = Path(arguments[0])
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    warnings.filterwarnings("ignore", message="No application metrics")
    result = run(out)
    (out / "result.json").write_text(json.dumps(result, indent=1, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
