"""Helpers for the alert routes' tests (no tests here): alerts raised through the lifecycle as the alerts
functions raise them, and a site with meters."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from meterbill.alerts.lifecycle import Alert, LifecycleRules, advance, fingerprint
from meterbill.alerts.model import AlertKind, Finding, Severity, Subject
from tests.fakes import FIXED_NOW
from tests.unit.api_support import ACCOUNT, AlertFakes, ApiClient

NOW = "2026-03-01T12:00:00Z"  # the fakes' clock, as the API writes it
KEY_ID = "0123456789abcdef"  # the key id api_support's authorizer context carries
SITE = {"id": "site-1", "name": "Plant", "timezone": "Europe/Berlin"}
FIRE_AT_ONCE = LifecycleRules(for_by_kind={})
METER = Subject("meter", "mtr-1", "site-1")


def meter_body(meter_id: str, site_id: str = "site-1") -> dict[str, Any]:
    return {
        "id": meter_id,
        "site_id": site_id,
        "utility": "electricity",
        "unit": "kWh",
        "kind": "main",
        "interval_minutes": 15,
    }


def plant(api: ApiClient, *meter_ids: str) -> None:
    """Site ``site-1`` with the given meters."""
    assert api.post("/v1/sites", SITE).status == 201
    for meter_id in meter_ids:
        assert api.post("/v1/meters", meter_body(meter_id)).status == 201


def raise_alert(
    alerts: AlertFakes,
    *,
    account: str = ACCOUNT,
    kind: AlertKind = "communication",
    subject: Subject = METER,
    severity: Severity = "warning",
    at: datetime = FIXED_NOW - timedelta(hours=1),
    active: bool = True,
    facts: Mapping[str, str] | None = None,
    depends_on: tuple[Subject, ...] = (),
) -> Alert:
    """One step of the lifecycle with one finding (firing at once), saved as the alerts functions save it."""
    loaded = alerts.store.load_book(account)
    finding = Finding(
        kind,
        subject,
        severity,
        active,
        at,
        f"{kind} on {subject.id}",
        facts if facts is not None else {"gap_minutes": "45"},
        depends_on,
    )
    book, _ = advance(loaded.book, [finding], at, FIRE_AT_ONCE)
    alerts.store.save_book(account, book, book.alerts, ())
    fp = fingerprint(account, kind, subject)
    latest = max((a for a in book.alerts if a.fingerprint == fp), key=lambda a: a.first_seen)
    return alerts.store.get_alert(account, latest.id)


def alert_id(account: str, kind: AlertKind, subject: Subject, *, opened: datetime) -> str:
    """What the lifecycle names an alert: its fingerprint and the moment it opened (UTC)."""
    return f"{fingerprint(account, kind, subject)}-{opened:%Y%m%dT%H%M%SZ}"
