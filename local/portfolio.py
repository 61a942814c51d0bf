"""The demo portfolio (PORTFOLIO.md) as data, and ``seed``: one account set up through the hosted API.

"Hausverwaltung & Colo Demo" (EUR) runs three sites:

- ``office-berlin``: an office building in Berlin whose main meter feeds seven sub-meters (six tenants; the
  law firm has two), its common area (the main's residual) shared among the commercial tenants by floor area,
  a gas register billed to the bakery and a water meter shared by floor area like the common area. The
  commercial tenants are on a time-of-use tariff with a tiered energy price; the flat on a residential tariff
  whose first tier is larger for a senior citizen (a formula over the customer's attributes). The studio
  moves out on 16 November (its assignments end there).
- ``colo-fra``: a colocation room in Frankfurt, hall-1, racks R01-R04 with an A and a B feed each, every PDU
  on one phase under that phase's master meter (the labels room, rack, feed, phase, device), three customers
  on energy + peak demand, billed on the 1st; PDU r02-b is swapped on 16 November. A GPU cluster's compute
  meter bills Rechenwerk AI by the job (usage packages).
- ``werk-sued``: a machine park whose three machines' on-time meters price what switching them off saved
  (a savings memo on the bill, ``GET /v1/reports/savings``), and the plant meters a collector reads over
  Modbus (``local/demo_collector.py``).

Everything is created with the admin key over HTTP, as an operator would (``seed``).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from typing import Any, Final, Protocol

from local import portfolio_history as history

ACCOUNT_ID: Final = "acc_demo"
ACCOUNT_NAME: Final = "Hausverwaltung & Colo Demo"
EXAMPLES: Final = resources.files("meterbill") / "examples"
SINCE: Final = "2026-10-01"
OFFICE, COLO, WERK = "office-berlin", "colo-fra", "werk-sued"
ALERTS_TO: Final = "leitstand@hv-colo.example"


class Api(Protocol):
    def call(self, method: str, path: str, body: Any = None, **query: str) -> Any: ...


def _address(street: str, postal_code: str, city: str) -> dict[str, Any]:
    return {"lines": [street], "postal_code": postal_code, "city": city, "country": "DE"}


SITES: Final[tuple[dict[str, Any], ...]] = (
    {
        "id": OFFICE,
        "name": "Bürohaus Friedrichstraße 112",
        "timezone": "Europe/Berlin",
        "holiday_country": "DE",
        "holiday_subdivision": "BE",
        "address": _address("Friedrichstraße 112", "10117", "Berlin"),
    },
    {
        "id": COLO,
        "name": "Rechenzentrum Frankfurt, Halle 1",
        "timezone": "Europe/Berlin",
        "holiday_country": "DE",
        "holiday_subdivision": "HE",
        "address": _address("Hanauer Landstraße 300", "60314", "Frankfurt am Main"),
    },
    {
        "id": WERK,
        "name": "Werk Süd",
        "timezone": "Europe/Berlin",
        "holiday_country": "DE",
        "holiday_subdivision": "BW",
        "address": _address("Industriestraße 7", "70565", "Stuttgart"),
    },
)


def _power(meter_id: str, floor: str, *, kind: str = "sub") -> dict[str, Any]:
    meter: dict[str, Any] = {
        "id": meter_id,
        "site_id": OFFICE,
        "utility": "electricity",
        "unit": "kWh",
        "kind": kind,
        "labels": {"room": floor, "device": meter_id},
    }
    if kind == "sub":
        meter["parent_id"] = "office-main"
    return meter


def _pdu(pdu: str) -> dict[str, Any]:
    rack, phase = history.PDUS[pdu]
    return {
        "id": pdu,
        "site_id": COLO,
        "utility": "electricity",
        "unit": "kWh",
        "kind": "sub",
        "parent_id": history.PHASE_MASTERS[phase],
        "serial": f"PDU-{pdu.upper()}-2023",
        "labels": {
            "room": "hall-1",
            "rack": rack,
            "feed": pdu[-1].upper(),
            "phase": phase,
            "device": f"pdu-{pdu}",
        },
    }


METERS: Final[tuple[dict[str, Any], ...]] = (
    _power("office-main", "UG", kind="main"),
    _power("shop-baker", "EG"),
    _power("law-a", "1. OG"),
    _power("law-b", "1. OG"),
    _power("atelier", "2. OG"),
    _power("practice", "2. OG"),
    _power("studio", "3. OG"),
    _power("flat-3", "4. OG"),
    {"id": "office-gas", "site_id": OFFICE, "utility": "gas", "unit": "m3", "kind": "main",
     "interval_minutes": 60, "labels": {"room": "UG", "device": "gas register"}},
    {"id": "office-water", "site_id": OFFICE, "utility": "water", "unit": "m3", "kind": "main",
     "interval_minutes": 60, "labels": {"room": "UG", "device": "water meter"}},
    *(
        {"id": master, "site_id": COLO, "utility": "electricity", "unit": "kWh", "kind": "main",
         "labels": {"room": "hall-1", "phase": phase, "device": f"master {phase}"}}
        for phase, master in history.PHASE_MASTERS.items()
    ),
    *(_pdu(pdu) for pdu in history.PDUS),
    {"id": "gpu-cluster", "site_id": COLO, "utility": "compute", "unit": "s", "kind": "main",
     "interval_minutes": 60, "labels": {"room": "hall-1", "rack": "R04", "device": "GPU cluster"}},
    *(
        {"id": machine, "site_id": WERK, "utility": "on_time", "unit": "h", "kind": "main",
         "interval_minutes": 60, "labels": {"room": "Halle A", "device": name},
         "attributes": {"power_rating_w": rating}}
        for machine, name, rating in (
            ("machine-1", "CNC-Fräse", 7500),
            ("machine-2", "Drehmaschine", 11000),
            ("machine-3", "Kompressor", 4000),
        )
    ),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Tenant:
    """A customer of the office building or the colocation room."""

    id: str
    name: str
    email: str
    address: dict[str, Any]
    floor_area: int | None = None  # m²: the office's commercial tenants share the common area by it


def _office_tenant(id: str, name: str, email: str, floor: str, floor_area: int) -> Tenant:
    return Tenant(id, name, email, _address(f"Friedrichstraße 112, {floor}", "10117", "Berlin"), floor_area)


OFFICE_TENANTS: Final = (
    _office_tenant("baker", "Bäckerei Krume", "buchhaltung@baeckerei-krume.example", "EG", 160),
    _office_tenant("law", "Kanzlei Roth", "kanzlei@roth-recht.example", "1. OG", 280),
    _office_tenant("atelier", "Atelier Nord", "hallo@atelier-nord.example", "2. OG", 80),
    _office_tenant("practice", "Praxis Dr. Weiss", "praxis@dr-weiss.example", "2. OG", 200),
    _office_tenant("studio", "Studio Vier", "office@studio-vier.example", "3. OG", 80),
)
COLO_TENANTS: Final = (
    Tenant("nordwind", "Nordwind Hosting GmbH", "billing@nordwind-hosting.example",
           _address("Am Sandtorkai 3", "20457", "Hamburg")),
    Tenant("pixelwerk", "Pixelwerk GmbH", "finanzen@pixelwerk.example",
           _address("Zeil 10", "60313", "Frankfurt am Main")),
    Tenant("helix", "Helix Labs GmbH", "ap@helix-labs.example",
           _address("Mainzer Landstraße 50", "60325", "Frankfurt am Main")),
)  # fmt: skip


def _customers() -> list[dict[str, Any]]:
    customers: list[dict[str, Any]] = []
    for tenant in (*OFFICE_TENANTS, *COLO_TENANTS):
        customer: dict[str, Any] = {
            "id": tenant.id,
            "name": tenant.name,
            "emails": [tenant.email],
            "address": tenant.address,
            "language": "de",
        }
        if tenant.floor_area is not None:
            customer["attributes"] = {"floor_area": tenant.floor_area}
        else:
            customer["bill_day"] = 1  # the colocation room bills on the 1st, whatever the account's day
        customers.append(customer)
    attributes = json.loads((EXAMPLES / "residential_customer.json").read_text(encoding="utf-8"))
    customers += [
        {
            "id": "berger",
            "name": "H. Berger",
            "emails": ["h.berger@example.org"],
            "address": _address("Friedrichstraße 112, Whg. 3", "10117", "Berlin"),
            "language": "de",
            "bill_title": "Wohnung 3, Friedrichstraße 112",
            "attributes": attributes,
        },
        {
            "id": "rechenwerk",
            "name": "Rechenwerk AI GmbH",
            "emails": ["invoices@rechenwerk.example"],
            "address": _address("Kaiserstraße 5", "60311", "Frankfurt am Main"),
            "language": "en",
            "bill_day": 1,
        },
        {
            "id": "sued",
            "name": "Süd Maschinenbau GmbH",
            "emails": ["energie@sued-maschinenbau.example"],
            "address": _address("Industriestraße 7", "70565", "Stuttgart"),
            "language": "de",
        },
    ]
    return customers


def _schedule(peak_from: int, peak_to: int) -> dict[str, Any]:
    weekday = [[1 if peak_from <= hour < peak_to else 0 for hour in range(24)] for _ in range(12)]
    weekend = [[0] * 24 for _ in range(12)]
    return {"weekday_schedule": weekday, "weekend_schedule": weekend}


def _tariffs() -> list[dict[str, Any]]:
    vat = [{"name": "VAT", "percent": 19}]
    flat = json.loads((EXAMPLES / "residential_flat_tariff.json").read_text(encoding="utf-8"))
    compute = json.loads((EXAMPLES / "compute_tariff.json").read_text(encoding="utf-8"))
    return [
        {
            "id": "office-power",
            "name": "Bürohaus: Strom der Gewerbemieter (HT/NT, Staffelpreis)",
            "currency": "EUR",
            "unit": "kWh",
            "holidays_as_weekends": True,
            "fixed": [{"description": "Grundpreis", "amount": 14.90, "per": "month"}],
            "energy": {
                "tier_mode": "graduated",
                "periods": [
                    {"name": "off-peak", "tiers": [{"size": 1000, "rate": 0.2290}, {"rate": 0.2140}]},
                    {"name": "peak", "tiers": [{"size": 1000, "rate": 0.3120}, {"rate": 0.2890}]},
                ],
                "time_of_use": _schedule(7, 20),
            },
            "taxes": vat,
        },
        {
            "id": "common-area",
            "name": "Bürohaus: Allgemeinstrom (Treppenhaus, Aufzug, Heizungspumpen)",
            "currency": "EUR",
            "unit": "kWh",
            "energy": {"periods": [{"name": "all day", "tiers": [{"rate": 0.2750}]}]},
            "taxes": vat,
        },
        {**flat, "id": "flat-power", "name": "Wohnung: Haushaltsstrom (Seniorentarif per Formel)"},
        {
            "id": "office-gas",
            "name": "Bürohaus: Erdgas je m³",
            "currency": "EUR",
            "unit": "m3",
            "fixed": [{"description": "Grundpreis Gas", "amount": 9.50, "per": "month"}],
            "energy": {"periods": [{"name": "all day", "tiers": [{"rate": 1.1480}]}]},
            "taxes": vat,
        },
        {
            "id": "office-water",
            "name": "Bürohaus: Wasser und Abwasser je m³",
            "currency": "EUR",
            "unit": "m3",
            "energy": {"periods": [{"name": "all day", "tiers": [{"rate": 4.3500}]}]},
            "taxes": [{"name": "VAT", "percent": 7}],
        },
        _colo_tariff(),
        {**compute, "id": "compute-packages", "taxes": vat},
        {
            "id": "machine-savings",
            "name": "Werk Süd: Energiemonitoring mit Abschalt-Einsparungen",
            "currency": "EUR",
            "unit": "h",
            "fixed": [{"description": "Energiemonitoring", "amount": 49.00, "per": "month"}],
            "savings": {"power_rating_w": "meter.power_rating_w", "price_per_kwh": "0.28"},
            "taxes": vat,
        },
    ]


def _colo_tariff() -> dict[str, Any]:
    """examples/colocation_tariff.json's energy and demand prices, per customer (no cage rent, no minimum)."""
    tariff = copy.deepcopy(json.loads((EXAMPLES / "colocation_tariff.json").read_text(encoding="utf-8")))
    for name in ("fixed", "minimum"):
        tariff.pop(name, None)
    return {**tariff, "id": "colo-power", "name": "Colocation hall-1: metered power (energy + peak demand)"}


def _assignment(meter: str, customer: str, tariff: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"{customer}-{meter}",
        "meter_id": meter,
        "customer_id": customer,
        "tariff_id": tariff,
        "effective_from": SINCE,
        **extra,
    }


STUDIO_LEAVES: Final = history.MOVE_OUT.date().isoformat()  # exclusive: its last day is the 15th
RESIDUAL_SHARED: Final = {"basis": "residual", "allocation": "area"}
COMMERCIAL_AREA: Final = Decimal(sum(tenant.floor_area or 0 for tenant in OFFICE_TENANTS))  # 800 m²


def _assignments() -> list[dict[str, Any]]:
    own = {
        "baker": ["shop-baker"],
        "law": ["law-a", "law-b"],
        "atelier": ["atelier"],
        "practice": ["practice"],
        "studio": ["studio"],
    }
    assignments: list[dict[str, Any]] = []
    for tenant in OFFICE_TENANTS:
        until = {"effective_to": STUDIO_LEAVES} if tenant.id == "studio" else {}
        assignments += [_assignment(meter, tenant.id, "office-power", **until) for meter in own[tenant.id]]
        assignments.append(
            {
                **_assignment("office-main", tenant.id, "common-area", **until),
                **RESIDUAL_SHARED,
                "id": f"{tenant.id}-common",
            }
        )
        # The water meter has no sub-meters: a fixed share each, by floor area (the landlord bears a vacancy).
        share = Decimal(tenant.floor_area or 0) / COMMERCIAL_AREA
        water = _assignment("office-water", tenant.id, "office-water", **until)
        assignments.append({**water, "share": str(share), "id": f"{tenant.id}-water"})
    assignments += [
        _assignment("office-gas", "baker", "office-gas"),
        _assignment("flat-3", "berger", "flat-power"),
        *(_assignment(pdu, "nordwind", "colo-power") for pdu in ("r01-a", "r01-b", "r02-a", "r02-b")),
        *(_assignment(pdu, "pixelwerk", "colo-power") for pdu in ("r03-a", "r03-b")),
        *(_assignment(pdu, "helix", "colo-power") for pdu in ("r04-a", "r04-b")),
        _assignment("gpu-cluster", "rechenwerk", "compute-packages"),
        *(_assignment(machine, "sued", "machine-savings") for machine in history.MACHINES),
    ]
    return assignments  # fmt: skip


SHARED_ASSIGNMENTS: Final = frozenset(
    f"{tenant.id}-{part}" for tenant in OFFICE_TENANTS for part in ("common", "water")
)

BILLING_SETTINGS: Final[dict[str, Any]] = {
    "bill_day": 1,
    "grace_days": 2,
    "payment_terms_days": 14,
    "default_language": "de",
    "seller": {
        "legal_name": "Hausverwaltung & Colo Demo GmbH",
        "address": _address("Friedrichstraße 112", "10117", "Berlin"),
        "vat_id": "DE123456789",
        "registration": "HRB 12345, Amtsgericht Charlottenburg",
        "contact": {"name": "Anna Schmidt", "email": "abrechnung@hv-colo.example", "phone": "+49 30 1234567"},
        "bank_account": {"iban": "DE89370400440532013000", "bic": "COBADEFFXXX"},
    },
    "email": {"sender": "abrechnung@hv-colo.example", "sender_name": "Hausverwaltung & Colo Demo"},
}


# The detectors' defaults; the control room wants each notice at once, not grouped for 30 seconds.
ALERT_RULES: Final[dict[str, Any]] = {"lifecycle": {"group_wait_seconds": 0}}


@dataclass(frozen=True, slots=True)
class Seeded:
    """What ``seed`` created, by kind."""

    counts: Mapping[str, int]

    def line(self) -> str:
        return ", ".join(f"{count} {kind}" for kind, count in self.counts.items())


def seed(admin: Api, extra_meters: tuple[Mapping[str, Any], ...] = ()) -> Seeded:
    """The whole portfolio through the API: sites, meters (and ``extra_meters``), customers, tariffs,
    assignments, the billing settings, the alert rules and a subscription to every alert."""
    for site in SITES:
        admin.call("POST", "/v1/sites", site)
    meters = (*METERS, *extra_meters)
    for meter in meters:
        admin.call("POST", "/v1/meters", dict(meter))
    customers = _customers()
    for customer in customers:
        admin.call("POST", "/v1/customers", customer)
    tariffs = _tariffs()
    for tariff in tariffs:
        admin.call("POST", "/v1/tariffs", tariff)
    assignments = _assignments()
    for assignment in assignments:
        admin.call("POST", "/v1/assignments", assignment)
    admin.call("PUT", "/v1/settings/billing", BILLING_SETTINGS)
    admin.call("PUT", "/v1/alert-rules", ALERT_RULES)
    admin.call("POST", "/v1/alert-subscriptions", {"email": ALERTS_TO, "min_severity": "info"})
    return Seeded(
        {
            "sites": len(SITES),
            "meters": len(meters),
            "customers": len(customers),
            "tariffs": len(tariffs),
            "assignments": len(assignments),
        }
    )
