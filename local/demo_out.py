"""What ``make demo`` leaves behind in ``demo-out/``: an account's documents, emails, alerts and a usage
chart, read back from the local platform (never recomputed), so a person opens what the platform produced.

``write_from(sources, account, out_dir, chart_meters=..., start=..., end=...)`` writes (``platform_sources``
gives the running local platform's sources; the tests give moto's in-process)

- ``invoices/<number>.pdf``: every issued invoice and note of the account whose document is stored, the very
  bytes the invoices bucket holds (checked against the SHA-256 on the invoice's record);
- ``emails/*.eml``: every email the account's customers and subscribers got, copied from the mail folder:
  each invoice email the deliveries record a message id for (as ``<number>-<attempt>.eml``), and each alert
  email whose body is the account's (under its own name);
- ``alerts.json``: every alert of the account (kind, subject, site, severity, state, the times on the site's
  clock as ISO 8601 with their offset, the facts it carries), sorted by first seen, kind, subject and id, with
  sorted keys: two runs of the same demo diff cleanly;
- ``usage.png``: the chart meters' daily usage over [start, end) (``local/usage_chart.py``).

It first removes the files of those kinds a previous run left there (``invoices/*.pdf``, ``emails/*.eml``,
``alerts.json``, ``usage.png``) and nothing else: other files in ``out_dir`` stay. The mail folder may be
inside ``out_dir`` (``demo-out/mail``), but not its ``emails/``, which is cleared.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import json
import re
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo

from local.usage_chart import daily_usage, render_chart
from meterbill.alerts.lifecycle import Alert
from meterbill.alerts.ports import AlertFilter, AlertStore
from meterbill.errors import NotFoundError
from meterbill.ports import DocumentStore, InvoiceRecord, Stores

if TYPE_CHECKING:
    from local.serve import LocalPlatform

INVOICES_DIR: Final = "invoices"
EMAILS_DIR: Final = "emails"
ALERTS_FILE: Final = "alerts.json"
CHART_FILE: Final = "usage.png"
# The files this module owns in out_dir (and removes before writing): (folder, glob).
OWNED: Final = ((INVOICES_DIR, "*.pdf"), (EMAILS_DIR, "*.eml"), (".", ALERTS_FILE), (".", CHART_FILE))
PAGE: Final = 100
_UNSAFE: Final = re.compile(r"[^A-Za-z0-9._-]+")  # as local/mail.py names the files
_ALERT_MAIL: Final = "-alert-"  # in the names local/alert_mail.py gives the alert emails


@dataclass(frozen=True, slots=True)
class Sources:
    """Where the outputs come from: the stores, the invoices bucket, the alerts' store, the mail folder."""

    stores: Stores
    documents: DocumentStore
    alerts: AlertStore
    mail_dir: Path


@dataclass(frozen=True, slots=True)
class Outputs:
    """What ``write_from`` wrote (paths inside ``out_dir``) and what it removed first."""

    out_dir: Path
    invoices: tuple[Path, ...]
    emails: tuple[Path, ...]
    alerts: Path
    alert_count: int
    chart: Path
    removed: tuple[Path, ...]
    not_stored: tuple[str, ...] = ()  # numbers of issued documents not stored yet (no PDF to copy)

    def lines(self) -> list[str]:
        """A few lines for the demo's summary."""
        lines = [
            f"{self.out_dir}/: {_count(len(self.invoices), 'PDF')} in {INVOICES_DIR}/, "
            f"{_count(len(self.emails), 'email')} in {EMAILS_DIR}/ (.eml), "
            f"{_count(self.alert_count, 'alert')} in {ALERTS_FILE}, the usage chart {CHART_FILE}",
        ]
        if self.not_stored:
            lines.append(f"issued but not stored yet (no PDF): {', '.join(self.not_stored)}")
        if self.removed:
            lines.append(f"{_count(len(self.removed), 'file')} of an earlier run removed first")
        return lines


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def platform_sources(platform: LocalPlatform) -> Sources:
    """The running local platform's stores, its invoices bucket and alerts' store on moto, its mail folder."""
    from meterbill.adapters.dynamodb import build_alert_store
    from meterbill.adapters.s3 import S3DocumentStore

    environment = platform.environment
    documents = S3DocumentStore(
        environment["INVOICES_BUCKET"], region=platform.region, endpoint_url=environment["S3_ENDPOINT_URL"]
    )
    alerts = build_alert_store(platform.settings.storage)
    return Sources(platform.stores, documents, alerts, platform.mail_dir)


def write_from(
    sources: Sources,
    account: str,
    out_dir: Path,
    *,
    chart_meters: Sequence[str],
    start: date,
    end: date,
    chart_title: str | None = None,
) -> Outputs:
    """Removes the files an earlier run left, then writes the PDFs, the emails, ``alerts.json`` and
    ``usage.png`` of ``account`` into ``out_dir``. The chart shows ``chart_meters`` (one unit, at most six)
    per local day of [start, end); ValueError naming ``chart_meters`` otherwise."""
    emails_dir = (out_dir / EMAILS_DIR).resolve()
    mail_dir = sources.mail_dir.resolve()
    if mail_dir == emails_dir or emails_dir in mail_dir.parents:
        raise ValueError(
            f"out_dir: {out_dir / EMAILS_DIR} would be cleared of the mail folder's own .eml files "
            f"({sources.mail_dir}); give the platform another mail folder (e.g. {out_dir / 'mail'})"
        )
    # Everything is read (and the chart drawn) before anything is removed: a refused chart or an unreachable
    # store leaves the earlier run's outputs as they were.
    records = _issued(sources.stores, account)
    documents, not_stored = _documents(sources.documents, account, records)
    emails = _emails(sources, account, records)
    alerts = _alerts(sources.alerts, account)
    alerts_text = alerts_json(account, alerts, sources.stores)
    series = daily_usage(account, chart_meters, start, end, sources.stores)
    zones = sorted({one.timezone for one in series})
    title = chart_title or (
        f"Daily usage, {start:%d %b %Y} to {end - timedelta(days=1):%d %b %Y} ({', '.join(zones)})"
    )
    chart = render_chart(series, title=title).png

    out_dir.mkdir(parents=True, exist_ok=True)
    removed = tuple(_remove_owned(out_dir))
    invoices = []
    for name, body in documents:
        (out_dir / INVOICES_DIR).mkdir(exist_ok=True)
        invoices.append(out_dir / INVOICES_DIR / name)
        invoices[-1].write_bytes(body)
    copied = []
    for source, name in emails:
        (out_dir / EMAILS_DIR).mkdir(exist_ok=True)
        copied.append(out_dir / EMAILS_DIR / name)
        shutil.copyfile(source, copied[-1])
    alerts_path = out_dir / ALERTS_FILE
    alerts_path.write_text(alerts_text, encoding="utf-8")
    chart_path = out_dir / CHART_FILE
    chart_path.write_bytes(chart)
    return Outputs(
        out_dir=out_dir,
        invoices=tuple(invoices),
        emails=tuple(copied),
        alerts=alerts_path,
        alert_count=len(alerts),
        chart=chart_path,
        removed=removed,
        not_stored=not_stored,
    )


def _remove_owned(out_dir: Path) -> Iterator[Path]:
    for folder, pattern in OWNED:
        for path in sorted((out_dir / folder).glob(pattern)):
            if path.is_symlink() or path.is_file():  # a folder named like one is not ours
                path.unlink()
                yield path


# --- documents ----------------------------------------------------------------------------------------------


def _issued(stores: Stores, account: str) -> list[InvoiceRecord]:
    """The account's issued invoices and notes (any state after issuing), by number."""
    found: list[InvoiceRecord] = []
    cursor: str | None = None
    while True:
        page = stores.invoices.list(account, limit=PAGE, cursor=cursor)
        found += [record for record in page.items if record.number is not None]
        if page.cursor is None:
            return sorted(found, key=lambda record: (record.number or "", record.invoice_id))
        cursor = page.cursor


def _documents(
    documents: DocumentStore, account: str, records: Sequence[InvoiceRecord]
) -> tuple[list[tuple[str, bytes]], tuple[str, ...]]:
    """(file name, stored bytes) of each stored document; the numbers of those not stored yet."""
    found: list[tuple[str, bytes]] = []
    not_stored: list[str] = []
    for record in records:
        assert record.number is not None  # _issued keeps only numbered records
        if record.document is None:
            not_stored.append(record.number)
            continue
        body = documents.get(account, record.document.key)
        if hashlib.sha256(body).hexdigest() != record.document.sha256:
            raise ValueError(
                f"document: the stored PDF of {record.number} is not the one its invoice records "
                f"(sha256 {record.document.sha256})"
            )
        found.append((f"{_safe(record.number)}.pdf", body))
    return found, tuple(not_stored)


# --- emails -------------------------------------------------------------------------------------------------


def _emails(sources: Sources, account: str, records: Sequence[InvoiceRecord]) -> list[tuple[Path, str]]:
    """(file in the mail folder, name to copy it as) of each email of the account: the invoice emails its
    deliveries name by message id, then the alert emails whose body is the account's."""
    mail = sorted(sources.mail_dir.glob("*.eml")) if sources.mail_dir.is_dir() else []
    copies: list[tuple[Path, str]] = []
    deliveries = sources.stores.deliveries
    for record in records if deliveries is not None else ():
        assert deliveries is not None and record.number is not None
        for attempt in deliveries.of_invoice(account, record.invoice_id):
            if attempt.message_id is None:
                continue
            ending = f"-{_safe(attempt.message_id)}.eml"
            for path in mail:
                if path.name.endswith(ending) and _ALERT_MAIL not in path.name:
                    copies.append((path, f"{_safe(record.number)}-{attempt.attempt}.eml"))
    heading = f"meterbill alerts of account {account},"
    for path in mail:
        if _ALERT_MAIL in path.name and _alert_body(path).startswith(heading):
            copies.append((path, path.name))
    return copies


def _alert_body(path: Path) -> str:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    body = message.get_body(("plain",))
    return "" if body is None else str(body.get_content())


# --- alerts -------------------------------------------------------------------------------------------------


def _alerts(store: AlertStore, account: str) -> list[Alert]:
    found: list[Alert] = []
    cursor: str | None = None
    while True:
        page = store.list_alerts(account, AlertFilter(), limit=PAGE, cursor=cursor)
        found += page.items
        if page.cursor is None:
            return sorted(found, key=_alert_order)
        cursor = page.cursor


def _alert_order(alert: Alert) -> tuple[datetime, str, str, str, str]:
    return (alert.first_seen.astimezone(UTC), alert.kind, alert.subject.kind, alert.subject.id, alert.id)


def alerts_json(account: str, alerts: Sequence[Alert], stores: Stores) -> str:
    """The alerts as ``alerts.json``'s text: times on the site's clock (UTC without a site), sorted keys."""
    zones: dict[str | None, ZoneInfo] = {}

    def zone_of(site_id: str | None) -> ZoneInfo:
        if site_id not in zones:
            zones[site_id] = _site_zone(stores, account, site_id)
        return zones[site_id]

    document = {
        "account": account,
        "alerts": [_alert_json(alert, zone_of(alert.site_id)) for alert in sorted(alerts, key=_alert_order)],
    }
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _alert_json(alert: Alert, zone: ZoneInfo) -> dict[str, Any]:
    def when(moment: datetime | None) -> str | None:
        return None if moment is None else moment.astimezone(zone).isoformat()

    return {
        "id": alert.id,
        "kind": alert.kind,
        "subject": {"kind": alert.subject.kind, "id": alert.subject.id},
        "site_id": alert.site_id,
        "severity": alert.severity,
        "state": alert.state,
        "summary": alert.summary,
        "first_seen": when(alert.first_seen),
        "fired_at": when(alert.fired_at),
        "resolved_at": when(alert.resolved_at),
        "acknowledged_at": when(alert.acknowledged_at),
        "muted": alert.muted,
        "facts": dict(alert.facts),
    }


def _site_zone(stores: Stores, account: str, site_id: str | None) -> ZoneInfo:
    if site_id is None:
        return ZoneInfo("UTC")
    try:
        timezone = stores.catalog.get(account, "site", site_id).body.get("timezone")
    except NotFoundError:
        return ZoneInfo("UTC")
    return ZoneInfo(timezone) if isinstance(timezone, str) else ZoneInfo("UTC")


def _safe(text: str) -> str:
    return _UNSAFE.sub("_", text)
