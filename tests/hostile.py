"""Hostile request bodies for every operation of the OpenAPI document that takes one (no tests here): where
each operation's valid body comes from, where the hostile values go, and how to see that a refused request
wrote nothing. tests/unit/test_api_hostile_bodies.py sends them to the handler (every value),
tests/e2e/test_hostile_bodies.py over HTTP to moto's DynamoDB (the oversized ones)."""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest

DOCUMENT: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[1] / "docs" / "openapi.json").read_text(encoding="utf-8")
)
PROBLEM_JSON = "application/problem+json"
SITE = {"name": "Plant", "timezone": "Europe/Berlin"}
METER = {"site_id": "site-1", "utility": "electricity", "unit": "kWh", "kind": "main", "interval_minutes": 15}
TARIFF = {
    "name": "Flat",
    "currency": "EUR",
    "fixed": [{"description": "Standing charge", "amount": "12.00"}],
    "energy": {"periods": [{"name": "all", "tiers": [{"rate": "0.30"}]}]},
    "taxes": [{"name": "VAT", "percent": "19"}],
}
EXCHANGE = {"timestamp": "2026-02-01T12:00:00+01:00", "old_final": "1234.5", "new_initial": "0.0"}
ASSIGNMENT = {
    "meter_id": "mtr-1",
    "customer_id": "cus-1",
    "tariff_id": "flat",
    "effective_from": "2026-01-01",
}
WORLD = [  # what each account fuzzed holds before: objects to replace and to refer to
    ("/v1/sites", {"id": "site-1", **SITE}),
    ("/v1/meters", {"id": "mtr-1", **METER}),
    ("/v1/customers", {"id": "cus-1", "name": "Ada"}),
    ("/v1/tariffs", {"id": "flat", **TARIFF}),
    ("/v1/assignments", {"id": "asg-1", **ASSIGNMENT, "share": "0.5"}),
]

# --- hostile values: JSON text spliced in where a placeholder stands ----------------------------------------

VALUES = {
    "oversized": json.dumps("x" * 450_000),  # a 450 kB text: more than a DynamoDB item holds
    "long-list": json.dumps(["x"] * 60_000),
    "nested": "[" * 100 + "1" + "]" * 100,
    "nan": "NaN",
    "infinity": "-Infinity",
    "huge": "1e400",
}
DATE_VALUES = {"day-one": json.dumps("0001-01-01"), "last-day": json.dumps("9999-12-31")}
TIMESTAMP_VALUES = {
    "first-instant": json.dumps("0001-01-01T00:00:00+14:00"),
    "last-instant": json.dumps("9999-12-31T23:59:59-14:00"),
}
_MARK = "\u2063hostile\u2063"


def with_hostile(body: Any, path: tuple[str | int, ...], variant: str) -> str:
    """``body`` as JSON text with the value at ``path`` replaced by the hostile JSON text of ``variant``."""
    document = json.loads(json.dumps(body))
    target = document
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = _MARK
    return json.dumps(document).replace(
        json.dumps(_MARK), {**VALUES, **DATE_VALUES, **TIMESTAMP_VALUES}[variant]
    )


def field_name(path: tuple[str | int, ...]) -> str:
    name = ""
    for part in path:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else part)
    return name


def case_id(name: str) -> str:
    """A stable id of its own for each case (no two cases touch the same object)."""
    return f"fz-{zlib.crc32(name.encode()):08x}"


class Answer(Protocol):
    status: int
    content_type: str

    def document(self) -> Any: ...


class Client(Protocol):
    def send(self, method: str, path: str, text: str | None = None) -> Answer: ...


def names_the_field(document: Any, field: str) -> bool:
    fields = [error["field"] for error in document.get("errors", [])]
    return any(f == field or f.startswith((f"{field}.", f"{field}[")) for f in fields)


# --- the operations ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    """How to send one operation a valid body, and how to see that a refused one wrote nothing."""

    method: str
    template: str
    path: str
    body: Callable[[str], Any]  # the case's id -> a valid body
    fields: tuple[tuple[str | int, ...], ...]  # where hostile values go
    readback: Callable[[str], str]  # the case's id -> what to GET: the same answer before and after

    @property
    def label(self) -> str:
        return f"{self.method} {self.template}"

    def state(self, client: Client, case: str) -> Any:
        answer = client.send("GET", self.readback(case))
        return answer.status, answer.document()


def typed_fields(schema_name: str) -> tuple[tuple[str | int, ...], ...]:
    return tuple((name,) for name in DOCUMENT["components"]["schemas"][schema_name]["properties"])


def date_field(path: tuple[str | int, ...]) -> bool:
    return path[-1] in ("effective_from", "effective_to", "from", "to")


TARIFF_FIELDS: tuple[tuple[str | int, ...], ...] = (
    ("name",),
    ("currency",),
    ("effective_from",),
    ("fixed",),
    ("fixed", 0, "description"),
    ("fixed", 0, "amount"),
    ("energy",),
    ("energy", "periods", 0, "name"),
    ("energy", "periods", 0, "tiers", 0, "rate"),
    ("taxes", 0, "percent"),
    ("variables",),
)

BILLING_SETTINGS = {
    "bill_day": 5,
    "invoice_number_prefix": "HPO-2026-",
    "credit_note_number_prefix": "HPO-CN-",
    "seller": {
        "legal_name": "Hausverwaltung Ost GmbH",
        "address": {"lines": ["Hauptstraße 1"], "city": "Berlin", "country": "DE"},
        "vat_id": "DE123456789",
        "contact": {"email": "billing@hpo.example"},
        "bank_account": {"iban": "DE89370400440532013000", "bic": "COBADEFFXXX"},
    },
}
BILLING_SETTINGS_FIELDS: tuple[tuple[str | int, ...], ...] = (
    *typed_fields("BillingSettingsInput"),
    *(("seller", name) for name in DOCUMENT["components"]["schemas"]["Seller"]["properties"]),
    ("seller", "address", "lines", 0),
    ("seller", "contact", "email"),
    ("seller", "bank_account", "iban"),
    ("seller", "bank_account", "bic"),
)
SETTLEMENT = {"customer_id": "cus-1", "from": "2026-01-01", "to": "2026-01-02", "reason": "move-out"}
SETTLEMENT_FIELDS: tuple[tuple[str | int, ...], ...] = (("customer_id",), ("from",), ("to",), ("reason",))
ALERT_RULES = {
    "energy_evasion": {"min_percent": "5", "min_absolute": "10"},
    "sites": {"site-1": {"flat_line": {"hours": 8}}},
}
ALERT_RULES_FIELDS: tuple[tuple[str | int, ...], ...] = (
    ("energy_evasion",),
    ("energy_evasion", "min_percent"),
    ("energy_evasion", "min_absolute"),
    ("sites",),
    ("sites", "site-1"),
    ("sites", "site-1", "flat_line", "hours"),
)
SILENCE_FIELDS: tuple[tuple[str | int, ...], ...] = (
    *typed_fields("AlertSilenceInput"),
    ("matchers", 0, "name"),
    ("matchers", 0, "value"),
)
SUBSCRIPTION_FIELDS: tuple[tuple[str | int, ...], ...] = (
    *typed_fields("AlertSubscriptionInput"),
    ("kinds", 0),
    ("site_ids", 0),
)

OPERATIONS = [
    Operation("POST", "/v1/customers", "/v1/customers", lambda i: {"id": i, "name": "Bo"},
              typed_fields("CustomerInput"), lambda i: f"/v1/customers/{i}"),
    Operation("PUT", "/v1/customers/{customer_id}", "/v1/customers/cus-1", lambda i: {"name": "Ada"},
              typed_fields("CustomerInput"), lambda i: "/v1/customers/cus-1"),
    Operation("POST", "/v1/sites", "/v1/sites", lambda i: {"id": i, **SITE},
              typed_fields("SiteInput"), lambda i: f"/v1/sites/{i}"),
    Operation("PUT", "/v1/sites/{site_id}", "/v1/sites/site-1", lambda i: SITE,
              typed_fields("SiteInput"), lambda i: "/v1/sites/site-1"),
    Operation("POST", "/v1/meters", "/v1/meters", lambda i: {"id": i, **METER},
              typed_fields("MeterInput"), lambda i: f"/v1/meters/{i}"),
    Operation("PUT", "/v1/meters/{meter_id}", "/v1/meters/mtr-1", lambda i: METER,
              typed_fields("MeterInput"), lambda i: "/v1/meters/mtr-1"),
    Operation("POST", "/v1/meters/{meter_id}/exchanges", "/v1/meters/mtr-1/exchanges", lambda i: EXCHANGE,
              typed_fields("ExchangeInput"), lambda i: "/v1/meters/mtr-1"),
    Operation("POST", "/v1/assignments", "/v1/assignments", lambda i: {"id": i, **ASSIGNMENT, "share": "0.5"},
              typed_fields("AssignmentInput"), lambda i: f"/v1/assignments/{i}"),
    Operation("PUT", "/v1/assignments/{assignment_id}", "/v1/assignments/asg-1",
              lambda i: {**ASSIGNMENT, "share": "0.5"}, typed_fields("AssignmentInput"),
              lambda i: "/v1/assignments/asg-1"),
    Operation("POST", "/v1/tariffs", "/v1/tariffs", lambda i: {"id": i, **TARIFF},
              TARIFF_FIELDS, lambda i: f"/v1/tariffs/{i}"),
    Operation("POST", "/v1/tariffs/{tariff_id}/versions", "/v1/tariffs/flat/versions",
              lambda i: {"id": "flat", **TARIFF, "effective_from": "2026-06-01"}, TARIFF_FIELDS,
              lambda i: "/v1/tariffs/flat/versions"),
    Operation("POST", "/v1/api-keys", "/v1/api-keys", lambda i: {"name": i, "scopes": ["read"]},
              typed_fields("ApiKeyInput"), lambda i: "/v1/api-keys?limit=100"),
    Operation("PUT", "/v1/settings/billing", "/v1/settings/billing", lambda i: BILLING_SETTINGS,
              BILLING_SETTINGS_FIELDS, lambda i: "/v1/settings/billing"),
    Operation("POST", "/v1/invoices", "/v1/invoices", lambda i: SETTLEMENT,
              SETTLEMENT_FIELDS, lambda i: "/v1/invoices?customer_id=cus-1"),
    Operation("PUT", "/v1/alert-rules", "/v1/alert-rules", lambda i: ALERT_RULES,
              ALERT_RULES_FIELDS, lambda i: "/v1/alert-rules"),
    Operation("POST", "/v1/alert-silences", "/v1/alert-silences",
              lambda i: {"matchers": [{"name": "subject_id", "value": i}], "ends_at": "2026-03-02T00:00:00Z",
                         "comment": "maintenance"},
              SILENCE_FIELDS, lambda i: "/v1/alert-silences?limit=100"),
    Operation("POST", "/v1/alert-subscriptions", "/v1/alert-subscriptions",
              lambda i: {"email": f"{i}@example.com", "kinds": ["communication"], "site_ids": ["site-1"]},
              SUBSCRIPTION_FIELDS, lambda i: "/v1/alert-subscriptions?limit=100"),
]  # fmt: skip
# A collector's heartbeat has its own hostile cases: tests/unit/test_api_heartbeats.py (nothing GETs it back).
OWN_TESTS = frozenset(
    {
        "POST /v1/collectors/{collector_id}/heartbeats",
        "POST /v1/sessions",  # a key, not an object: tests/unit/test_api_sessions.py (bad bodies, keys)
    }
)
BY_LABEL = {operation.label: operation for operation in OPERATIONS}
READING_FIELDS: tuple[str, ...] = tuple(
    DOCUMENT["components"]["schemas"]["ReadingBatch"]["properties"]["readings"]["items"]["properties"]
)


def operations_with_a_body() -> set[str]:
    return {
        f"{method.upper()} {path}"
        for path, operations in DOCUMENT["paths"].items()
        for method, operation in operations.items()
        if "requestBody" in operation
    }


def field_cases(variants: tuple[str, ...], *, dates: bool) -> Iterator[Any]:
    """(operation label, field path, variant) for every field of every operation; with ``dates``, the dates
    out of range in every date field as well."""
    for operation in OPERATIONS:
        for path in operation.fields:
            extra = tuple(DATE_VALUES) if dates and date_field(path) else ()
            for variant in (*variants, *extra):
                label = f"{operation.label} {field_name(path)} {variant}"
                yield pytest.param(operation.label, path, variant, id=label)


def reading_cases(variants: tuple[str, ...], *, dates: bool) -> Iterator[Any]:
    for field in READING_FIELDS:
        extra = tuple(TIMESTAMP_VALUES) if dates and field == "timestamp" else ()
        for variant in (*variants, *extra):
            yield pytest.param(field, variant, id=f"{field} {variant}")


def hostile_value_is_refused(
    client: Client, label: str, path: tuple[str | int, ...], variant: str, name: str
) -> None:
    """The assertion every case makes: a 4xx problem document naming the field; nothing written."""
    operation = BY_LABEL[label]
    case = case_id(name)
    before = operation.state(client, case)

    answer = client.send(operation.method, operation.path, with_hostile(operation.body(case), path, variant))

    document = answer.document()
    assert 400 <= answer.status < 500, str(document)[:500]
    assert answer.content_type == PROBLEM_JSON
    assert names_the_field(document, field_name(path)), str(document)[:500]
    assert operation.state(client, case) == before


def hostile_reading_is_rejected_alone(client: Client, field: str, variant: str, name: str) -> None:
    """A batch of three readings, the middle one hostile: that one rejected naming the field, the others
    stored (each case on a day of its own)."""
    day = 1 + zlib.crc32(name.encode()) % 28
    readings = [
        {"meter_id": "mtr-1", "timestamp": f"2026-02-{day:02d}T0{hour}:00:00+01:00", "value": "1.5",
         "type": "interval", "interval_minutes": 15}
        for hour in (1, 2, 3)
    ]  # fmt: skip

    answer = client.send(
        "POST", "/v1/readings", with_hostile({"readings": readings}, ("readings", 1, field), variant)
    )

    report = answer.document()
    assert answer.status == 200, str(report)[:500]
    assert (report["accepted"] + report["duplicates"], report["rejected_count"]) == (2, 1), str(report)[:500]
    assert (report["rejected"][0]["index"], report["rejected"][0]["field"]) == (1, field)
