"""The alert passes' test world: a small catalog on the fakes whose readings arrive as a test clock
passes, the stores, and a test renderer standing in for ``alerts.messages.render``."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from meterbill.alerts.lifecycle import Alert, Notification, fingerprint
from meterbill.alerts.model import Subject
from meterbill.alerts.ports import AlertMessage
from meterbill.domain import Meter, Site
from meterbill.ports import AccountRecord, RatedDay, RawReading
from meterbill.services import catalog as catalog_service
from meterbill.services.alerting import (
    AlertSources,
    PassReport,
    scheduled_pass,
)
from meterbill.timeutil import local_midnight
from tests.fakes import FakeAccountStore, FakeCatalogStore, FakeMeteringStore, FakeReadingStore
from tests.fakes.alerts import FakeAlertPublisher, FakeAlertStore

A = "acc-a"
B = "acc-b"
BERLIN = ZoneInfo("Europe/Berlin")
FIVE = timedelta(minutes=5)
QUARTER = timedelta(minutes=15)


def render(notification: Notification, zone: ZoneInfo | None = None) -> AlertMessage:
    """A stand-in for ``alerts.messages.render``: what the tests assert on, as message attributes."""
    return AlertMessage(
        subject=notification.title[:100],
        body=json.dumps([{"reason": i.reason, "alert_id": i.alert.id} for i in notification.items]),
        attributes={
            "account_id": notification.account_id,
            "site_id": notification.site_id or "none",
            "at": notification.at.isoformat(),
            "reasons": ",".join(i.reason for i in notification.items),
            "kinds": ",".join(i.alert.kind for i in notification.items),
            "alert_ids": ",".join(i.alert.id for i in notification.items),
            "zone": "none" if zone is None else zone.key,
        },
    )


def sent(publisher: FakeAlertPublisher) -> list[tuple[str, str, datetime]]:
    """(reasons, kinds, when) of every published message, in order."""
    return [
        (m.attributes["reasons"], m.attributes["kinds"], datetime.fromisoformat(m.attributes["at"]))
        for m in publisher.messages
    ]


@dataclass
class World:
    """The fakes of one test and the schedule driving them."""

    catalog: FakeCatalogStore = field(default_factory=FakeCatalogStore)
    readings: FakeReadingStore = field(default_factory=FakeReadingStore)
    metering: FakeMeteringStore = field(default_factory=FakeMeteringStore)
    accounts: FakeAccountStore = field(default_factory=FakeAccountStore)
    store: FakeAlertStore = field(default_factory=FakeAlertStore)
    publisher: FakeAlertPublisher = field(default_factory=FakeAlertPublisher)
    feeds: list[Callable[[datetime], None]] = field(default_factory=list)

    @property
    def sources(self) -> AlertSources:
        return AlertSources(self.catalog, self.readings, self.metering, self.accounts)

    def account(self, account: str = A, *, zone: str = "Europe/Berlin", site: str = "site-a") -> None:
        self.accounts.create(AccountRecord(account, f"Account {account}", datetime(2026, 1, 1, tzinfo=UTC)))
        self.site(account, site, zone)

    def site(self, account: str, site: str, zone: str = "Europe/Berlin") -> None:
        catalog_service.create(account, Site, {"id": site, "name": site, "timezone": zone}, self.catalog)

    def meter(self, meter_id: str, account: str = A, **fields: Any) -> Meter:
        body = {
            "id": meter_id,
            "site_id": "site-a",
            "utility": "electricity",
            "unit": "kWh",
            "kind": "main",
            **fields,
        }
        return catalog_service.create(account, Meter, body, self.catalog).value

    def interval_feed(
        self,
        meter_id: str,
        start: datetime,
        *,
        account: str = A,
        silent: tuple[datetime, datetime] | None = None,
        until: datetime | None = None,
    ) -> None:
        """15-minute readings from ``start`` on (1.0, 1.1, 1.2, 1.3 kWh in turn: no flat line), each stored
        once its interval is over (as a collector sends them), none whose interval starts in ``silent``
        [from, to), none from ``until``."""
        state = {"next": start}

        def feed(now: datetime) -> None:
            batch = []
            while state["next"] + QUARTER <= now and (until is None or state["next"] < until):
                at = state["next"]
                if silent is None or not silent[0] <= at < silent[1]:
                    value = Decimal(10 + at.minute // 15) / 10
                    batch.append(RawReading(meter_id, at, value, "interval", 15))
                state["next"] = at + QUARTER
            if batch:
                self.readings.put_new(account, batch)

        self.feeds.append(feed)

    def run(self, start: datetime, end: datetime, every: timedelta = FIVE) -> list[PassReport]:
        """One scheduled pass every ``every`` from ``start`` (inclusive) to ``end`` (exclusive)."""
        reports = []
        for now in ticks(start, end, every):
            reports.append(self.at(now))
        return reports

    def at(self, now: datetime) -> PassReport:
        for feed in self.feeds:
            feed(now)
        return scheduled_pass(now, self.sources, self.store, self.publisher, render, owner="schedule")

    def alerts(self, account: str = A) -> list[Alert]:
        return sorted(
            (a for (acc, _), a in self.store.alerts.items() if acc == account),
            key=lambda a: (a.first_seen, a.id),
        )


def ticks(start: datetime, end: datetime, every: timedelta = FIVE) -> Iterator[datetime]:
    now = start
    while now < end:
        yield now
        now += every


def rated_day(meter_id: str, day: date, per_interval: int, zone: ZoneInfo = BERLIN) -> RatedDay:
    """A whole local day of 15-minute intervals (92, 96 or 100 of them), each ``per_interval`` kWh, actual."""
    start = local_midnight(day, zone)
    count = (local_midnight(day + timedelta(days=1), zone).astimezone(UTC) - start.astimezone(UTC)) // QUARTER
    return RatedDay(meter_id, day, start, 15, "kWh", 0, (per_interval,) * count, "A" * count)


T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday; Berlin is UTC+1


def quiet_fp(meter_id: str, account: str = A) -> str:
    return fingerprint(account, "communication", Subject("meter", meter_id, "site-a"))
