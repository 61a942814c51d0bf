"""The alert passes on the fakes with a test clock: the 5-minute schedule over a small catalog whose
readings arrive as time passes, the readings worker, and a test renderer standing in for
``alerts.messages.render`` (written in parallel)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from meterbill.alerts.communication import Heartbeat, MeterStatus
from meterbill.alerts.lifecycle import Alert, Notification, fingerprint
from meterbill.alerts.model import Subject
from meterbill.alerts.ports import AlertMessage, CollectorHeartbeat, ReadingsArrived
from meterbill.alerts.silences import Matcher, Silence
from meterbill.domain import Assignment, Customer, Meter, Site
from meterbill.errors import StorageUnavailableError
from meterbill.ports import AccountRecord, RatedDay, RawReading, RunningCost
from meterbill.services import catalog as catalog_service
from meterbill.services.alert_inputs import daily_day
from meterbill.services.alerting import (
    AlertSources,
    LeaseHeldError,
    PassReport,
    readings_arrived,
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


def render(notification: Notification) -> AlertMessage:
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


# --- the tests ----------------------------------------------------------------------------------------------

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday; Berlin is UTC+1


def quiet_fp(meter_id: str, account: str = A) -> str:
    return fingerprint(account, "communication", Subject("meter", meter_id, "site-a"))


def test_a_three_day_outage_is_one_alert_pending_firing_reminded_17_times_and_resolved_once() -> None:
    world = World()
    world.account()
    world.meter("m1")
    # Readings from the day before; silent for 72 hours from T0 (the last interval heard ends at T0).
    world.interval_feed("m1", T0 - timedelta(days=1), silent=(T0, T0 + timedelta(hours=72)))

    world.run(T0, T0 + timedelta(hours=72, minutes=30))

    pending_at = T0 + timedelta(minutes=45)  # 3 missed intervals of 15 minutes
    (alert,) = world.alerts()
    assert alert.id == f"{quiet_fp('m1')}-20260302T084500Z"
    assert (alert.state, alert.first_seen, alert.fired_at) == ("resolved", pending_at, pending_at + QUARTER)
    assert alert.resolved_at == T0 + timedelta(hours=72, minutes=15)  # the first interval back is heard
    assert [c.event for c in alert.history] == ["pending", "firing", "resolved"]
    assert dict(alert.facts) == {
        "last_reading_at": "2026-03-05T08:15:00+00:00",
        "interval_minutes": "15",
        "gap_start": "2026-03-02T08:00:00+00:00",
        "gap_end": "2026-03-05T08:15:00+00:00",
        "gap_minutes": str(72 * 60 + 15),
        "missed_intervals": str((72 * 60 + 15) // 15 - 1),
    }
    fired = pending_at + QUARTER
    # Each notice waits group_wait (30 s) and goes out with the next pass, 5 minutes later.
    assert sent(world.publisher) == [
        ("firing", "communication", fired + FIVE),
        *[("reminder", "communication", fired + k * timedelta(hours=4) + FIVE) for k in range(1, 18)],
        ("resolved", "communication", T0 + timedelta(hours=72, minutes=20)),
    ]
    # The 17 reminders fall at +4:15 ... +68:15 after the alert opened.
    reminders = [at - FIVE - pending_at for reasons, _, at in sent(world.publisher) if reasons == "reminder"]
    assert (reminders[0], reminders[-1]) == (timedelta(hours=4, minutes=15), timedelta(hours=68, minutes=15))
    assert world.store.unsent[A] == () and world.store.leases == {}


def test_an_offline_main_meter_inhibits_the_evasion_alert_which_stays_visible_and_silent() -> None:
    world = World()
    world.account()
    world.meter("main")
    world.meter("s1", kind="sub", parent_id="main")
    world.meter("s2", kind="sub", parent_id="main")
    day = date(2026, 3, 2)
    # 1 March 01:00 in Berlin (UTC+1) is midnight UTC: the daily pass judges 2 March... the day before.
    daily = datetime(2026, 3, 3, 0, 0, tzinfo=UTC)
    for meter_id, per_interval in (("main", 12), ("s1", 4), ("s2", 4)):
        world.metering.put_day(A, rated_day(meter_id, day, per_interval))
    world.interval_feed("main", daily - timedelta(days=1), until=daily - timedelta(hours=1))  # quiet for 1 h
    for sub in ("s1", "s2"):
        world.interval_feed(sub, daily - timedelta(days=1))

    world.run(daily, daily + timedelta(minutes=40))

    quiet, evasion = sorted(world.alerts(), key=lambda a: a.kind)
    assert (quiet.kind, quiet.subject.id, quiet.state) == ("communication", "main", "firing")
    assert (evasion.kind, evasion.state, evasion.inhibited, evasion.inhibited_by) == (
        "energy_evasion",
        "firing",
        True,
        (quiet.id,),
    )
    assert {k: evasion.facts[k] for k in ("main_usage", "sub_usage", "unmetered", "unmetered_percent")} == {
        "main_usage": str(96 * 12),
        "sub_usage": str(2 * 96 * 4),
        "unmetered": str(96 * 12 - 2 * 96 * 4),
        "unmetered_percent": "33.33",  # 384 * 100 / 1152
    }
    assert (evasion.facts["window_start"], evasion.facts["window_end"]) == (
        "2026-03-02T00:00:00+01:00",
        "2026-03-03T00:00:00+01:00",
    )
    assert not evasion.announced
    assert sent(world.publisher) == [("firing", "communication", daily + timedelta(minutes=20))]


def test_a_silence_mutes_the_alert_and_after_it_expires_the_firing_goes_out() -> None:
    world = World()
    world.account()
    world.meter("m1")
    world.interval_feed("m1", T0 - timedelta(days=1), until=T0)
    world.store.put_silence(
        A,
        Silence(
            (Matcher("subject_id", "m1"),), T0, T0 + timedelta(hours=2), "meter room rewired", id="sil-1"
        ),
    )

    world.run(T0, T0 + timedelta(hours=3))

    (alert,) = world.alerts()
    assert (alert.state, alert.silenced, alert.silenced_by) == ("firing", False, ())
    assert [c.event for c in alert.history] == ["pending", "silenced", "firing", "unsilenced"]
    ended = T0 + timedelta(hours=2)
    assert sent(world.publisher) == [("firing", "communication", ended + FIVE)]


def test_a_collector_that_stops_sending_heartbeats_is_one_alert_not_one_per_meter() -> None:
    world = World()
    world.account()
    for meter_id in ("m1", "m2", "m3"):
        world.meter(meter_id)
        world.interval_feed(meter_id, T0 - timedelta(days=1), until=T0)
    statuses = tuple(MeterStatus(m, last_read_at=T0) for m in ("m1", "m2", "m3"))
    world.store.put_heartbeat(
        A, CollectorHeartbeat(Heartbeat("col-1", T0, statuses, site_id="site-a"), "1.4.0", 0)
    )

    world.run(T0, T0 + timedelta(hours=2))

    (alert,) = world.alerts()
    assert (alert.kind, alert.subject, alert.state) == (
        "collector_offline",
        Subject("collector", "col-1", "site-a"),
        "firing",
    )
    assert alert.first_seen == T0 + timedelta(minutes=20)  # 20 minutes silent > 15 allowed
    assert alert.facts["meters"] == "m1,m2,m3"
    assert sent(world.publisher) == [("firing", "collector_offline", T0 + timedelta(minutes=40))]


THINNED = "spool at its 512 MB quota: 8,640 unsent reads of main thinned to hourly (totals kept)"


def warned(at: datetime, *warnings: str) -> CollectorHeartbeat:
    return CollectorHeartbeat(Heartbeat("col-1", at, (), "site-a", warnings), "1.4.0", 8_640)


def test_a_collectors_warning_fires_at_once_and_resolves_when_a_heartbeat_carries_none() -> None:
    world = World()
    world.account()
    world.store.put_heartbeat(A, warned(T0, THINNED))

    world.run(T0, T0 + timedelta(minutes=10))
    (alert,) = world.alerts()
    assert (alert.kind, alert.subject, alert.severity, alert.state, alert.fired_at) == (
        "collector_warning",
        Subject("collector", "col-1", "site-a"),
        "warning",
        "firing",
        T0,
    )
    assert dict(alert.facts) == {
        "reported_at": T0.isoformat(),
        "warning_count": "1",
        "warning_1": THINNED,
    }
    world.store.put_heartbeat(A, warned(T0 + timedelta(minutes=7)))  # the spool drained: no warning
    world.run(T0 + timedelta(minutes=10), T0 + timedelta(minutes=25))

    (alert,) = world.alerts()
    assert (alert.state, alert.resolved_at) == ("resolved", T0 + timedelta(minutes=10))
    assert alert.facts == {"reported_at": (T0 + timedelta(minutes=7)).isoformat(), "warning_count": "0"}
    assert sent(world.publisher) == [
        ("firing", "collector_warning", T0 + FIVE),  # group_wait (30 s): with the next pass
        ("resolved", "collector_warning", T0 + timedelta(minutes=15)),
    ]


def test_an_offline_collectors_last_warning_is_muted_by_its_offline_alert() -> None:
    world = World()
    world.account()
    world.store.put_heartbeat(A, warned(T0, THINNED))  # and then nothing more

    world.run(T0, T0 + timedelta(hours=1))

    warning, offline = world.alerts()
    assert (warning.kind, offline.kind, offline.first_seen) == (
        "collector_warning",
        "collector_offline",
        T0 + timedelta(minutes=20),
    )
    assert (warning.state, warning.inhibited, warning.inhibited_by) == ("firing", True, (offline.id,))
    assert sent(world.publisher) == [
        ("firing", "collector_warning", T0 + FIVE),
        ("firing", "collector_offline", T0 + timedelta(minutes=40)),
    ]


def test_a_modbus_error_in_a_heartbeat_raises_communication_at_once() -> None:
    world = World()
    world.account()
    world.meter("m1")
    world.interval_feed("m1", T0 - timedelta(days=1))
    error = "Modbus exception 0x0B: gateway target device failed to respond"
    world.store.put_heartbeat(
        A, CollectorHeartbeat(Heartbeat("col-1", T0, (MeterStatus("m1", error=error),), "site-a"), "1.4.0", 2)
    )

    world.at(T0)

    (alert,) = world.alerts()
    assert (alert.kind, alert.state, alert.first_seen) == ("communication", "pending", T0)
    assert dict(alert.facts) == {
        "collector_id": "col-1",
        "error": error,
        "reported_at": T0.isoformat(),
        "last_reading_at": T0.isoformat(),
    }


def test_a_meter_not_yet_commissioned_stays_quiet() -> None:
    world = World()
    world.account()
    world.meter("m1")  # no reading ever

    reports = world.run(T0, T0 + timedelta(hours=6))

    assert world.alerts() == [] and world.publisher.messages == []
    assert world.store.saves == 0  # nothing changed: nothing written, pass after pass
    assert {s.findings for r in reports for s in r.steps} == {0}


def register(meter_id: str, at: datetime, value: str) -> RawReading:
    return RawReading(meter_id, at, Decimal(value), "register")


def test_a_register_drop_fires_negative_consumption_and_recording_the_exchange_resolves_it() -> None:
    world = World()
    world.account()
    world.meter("m1")
    world.readings.put_new(
        A,
        [register("m1", T0 - timedelta(hours=1), "1000"), register("m1", T0 - timedelta(minutes=30), "1010")],
    )
    world.readings.put_new(A, [register("m1", T0, "900")])
    arrived = ReadingsArrived(A, ("m1",), T0, T0)

    report = readings_arrived(
        arrived, T0 + timedelta(minutes=1), world.sources, world.store, world.publisher, render
    )

    (alert,) = world.alerts()
    assert (alert.kind, alert.state, report.opened, report.published) == (
        "negative_consumption",
        "firing",
        1,
        0,
    )
    assert {k: alert.facts[k] for k in ("previous_value", "value", "drop")} == {
        "previous_value": "1010",
        "value": "900",
        "drop": "110",
    }
    world.at(T0 + timedelta(minutes=5))  # the schedule sends what waited group_wait
    assert sent(world.publisher) == [("firing", "negative_consumption", T0 + timedelta(minutes=5))]

    exchange = {
        "timestamp": (T0 - timedelta(minutes=15)).isoformat(),
        "old_final": "1015",
        "new_initial": "890",
    }
    catalog_service.record_exchange(A, "m1", exchange, world.catalog, world.readings, if_match=None)
    later = T0 + timedelta(minutes=10)
    readings_arrived(arrived, later, world.sources, world.store, world.publisher, render)
    world.at(T0 + timedelta(minutes=15))

    (alert,) = world.alerts()
    assert (alert.state, alert.resolved_at) == ("resolved", later)
    assert sent(world.publisher) == [
        ("firing", "negative_consumption", T0 + timedelta(minutes=5)),
        ("resolved", "negative_consumption", T0 + timedelta(minutes=15)),
    ]


def test_readings_of_a_meter_deleted_since_are_skipped() -> None:
    world = World()
    world.account()
    arrived = ReadingsArrived(A, ("gone",), T0, T0)

    report = readings_arrived(arrived, T0, world.sources, world.store, world.publisher, render)

    assert (report.leased, report.findings, world.alerts()) == (True, 0, [])


def test_the_readings_worker_raises_a_retryable_error_while_another_step_holds_the_lease() -> None:
    world = World()
    world.account()
    world.meter("m1")
    world.store.lease(A, "schedule-run-7", T0, seconds=300)

    with pytest.raises(LeaseHeldError) as raised:
        readings_arrived(
            ReadingsArrived(A, ("m1",), T0, T0), T0, world.sources, world.store, world.publisher, render
        )

    assert isinstance(raised.value, StorageUnavailableError) and raised.value.account == A
    assert world.store.leases[A][0] == "schedule-run-7"  # left alone


def test_a_crashed_publish_is_published_by_the_next_step_exactly_once() -> None:
    world = World()
    world.account()
    world.meter("m1")
    world.interval_feed("m1", T0 - timedelta(days=1), until=T0)
    world.run(T0, T0 + timedelta(minutes=65))  # firing at +60, waiting for group_wait
    world.publisher.fail_next = 1

    failed = world.at(T0 + timedelta(minutes=65))
    assert (failed.steps[0].published, failed.steps[0].unsent, len(world.store.unsent[A])) == (0, 1, 1)
    assert world.publisher.messages == []

    again = world.at(T0 + timedelta(minutes=70))
    world.run(T0 + timedelta(minutes=75), T0 + timedelta(hours=2))

    assert (again.steps[0].republished, again.steps[0].published, again.steps[0].unsent) == (1, 1, 0)
    assert sent(world.publisher) == [("firing", "communication", T0 + timedelta(minutes=65))]
    assert world.store.unsent[A] == ()


def test_nothing_changes_while_another_owner_holds_the_lease() -> None:
    world = World()
    world.account()
    world.meter("m1")
    world.interval_feed("m1", T0 - timedelta(days=1), until=T0)
    world.store.lease(A, "readings-worker-3", T0, seconds=3600)

    reports = world.run(T0, T0 + timedelta(minutes=30))

    assert {tuple(r.busy) for r in reports} == {(A,)}
    assert (world.alerts(), world.store.saves, world.publisher.messages) == ([], 0, [])
    assert world.store.leases[A][0] == "readings-worker-3"


def test_two_accounts_never_see_each_others_alerts() -> None:
    world = World()
    for account in (A, B):
        world.account(account)
        world.meter("m1", account)  # the same meter id in both accounts
    world.interval_feed("m1", T0 - timedelta(days=1), account=A, until=T0)
    world.interval_feed("m1", T0 - timedelta(days=1), account=B)  # B's keeps reporting

    world.run(T0, T0 + timedelta(hours=2))

    (alert,) = world.alerts(A)
    assert (alert.account_id, alert.fingerprint) == (A, quiet_fp("m1", A))
    assert world.alerts(B) == []
    assert [m.attributes["account_id"] for m in world.publisher.messages] == [A]


def test_a_stored_rules_document_that_no_longer_parses_does_not_break_the_other_accounts() -> None:
    world = World()
    for account in (A, B):
        world.account(account)
        world.meter("m1", account)
        world.interval_feed("m1", T0 - timedelta(days=1), account=account, until=T0)
    world.store.rules[A] = ({"communication": {"missed_intervals": 0}}, "rules-1")
    world.store.rules[B] = ({"communication": {"missed_intervals": 8}}, "rules-2")

    reports = world.run(T0, T0 + timedelta(hours=3))

    assert reports[0].rule_errors == {A: "communication.missed_intervals: must be between 1 and 10000"}
    assert reports[0].failures == {}
    # A is judged with the defaults (3 intervals), B with its own 8.
    assert [a.first_seen for a in world.alerts(A)] == [T0 + timedelta(minutes=45)]
    assert [a.first_seen for a in world.alerts(B)] == [T0 + timedelta(hours=2)]


def test_only_active_findings_and_those_about_open_alerts_are_kept() -> None:
    world = World()
    world.account()
    for n in range(50):
        world.meter(f"m{n:02d}")
        world.interval_feed(f"m{n:02d}", T0 - timedelta(days=1))

    report = world.at(T0)

    assert (report.meters, report.steps[0].findings, world.store.saves) == (50, 0, 0)


@pytest.mark.parametrize(
    ("zone", "first", "judged_at"),
    [
        # Berlin: 29 March has 23 hours, 25 October 25; 01:00 local each day, whatever the offset.
        ("Europe/Berlin", date(2026, 3, 28), ["2026-03-28T00:00", "2026-03-29T00:00", "2026-03-29T23:00"]),
        ("Europe/Berlin", date(2026, 10, 24), ["2026-10-23T23:00", "2026-10-24T23:00", "2026-10-26T00:00"]),
        # London skips 01:00-02:00 on 29 March: the instant of the skip (01:00 UTC) is its daily pass.
        ("Europe/London", date(2026, 3, 28), ["2026-03-28T01:00", "2026-03-29T01:00", "2026-03-30T00:00"]),
        # New York repeats 01:00-02:00 on 1 November: only the first 01:00 (EDT, 05:00 UTC) counts.
        (
            "America/New_York",
            date(2026, 10, 31),
            ["2026-10-31T05:00", "2026-11-01T05:00", "2026-11-02T06:00"],
        ),
    ],
)
def test_each_local_day_is_judged_by_exactly_one_pass_of_the_5_minute_schedule(
    zone: str, first: date, judged_at: list[str]
) -> None:
    tz = ZoneInfo(zone)
    start = local_midnight(first, tz).astimezone(UTC)
    end = local_midnight(first + timedelta(days=3), tz).astimezone(UTC)

    judged = [(now, day) for now in ticks(start, end) if (day := daily_day(now, tz, FIVE)) is not None]

    assert [(now.strftime("%Y-%m-%dT%H:%M"), day) for now, day in judged] == [
        (at, first + timedelta(days=n - 1)) for n, at in enumerate(judged_at)
    ]


def test_the_23_hour_day_is_judged_once_with_its_92_quarter_hours() -> None:
    world = World()
    world.account()
    world.meter("main")
    world.meter("s1", kind="sub", parent_id="main")
    dst = date(2026, 3, 29)
    for meter_id, per_interval in (("main", 10), ("s1", 8)):
        world.metering.put_day(A, rated_day(meter_id, dst, per_interval))
    world.interval_feed("main", datetime(2026, 3, 28, tzinfo=UTC))
    world.interval_feed("s1", datetime(2026, 3, 28, tzinfo=UTC))

    start = datetime(2026, 3, 29, 12, tzinfo=UTC)
    reports = world.run(start, datetime(2026, 3, 31, tzinfo=UTC))

    daily = [start + n * FIVE for n, r in enumerate(reports) if r.daily_sites]
    # 01:00 CEST on the 30th judges the 29th, on the 31st the 30th (no rated day: nothing to compare).
    assert daily == [datetime(2026, 3, 29, 23, tzinfo=UTC), datetime(2026, 3, 30, 23, tzinfo=UTC)]
    (evasion,) = world.alerts()
    assert evasion.first_seen == datetime(2026, 3, 29, 23, tzinfo=UTC)
    assert {k: evasion.facts[k] for k in ("window_start", "window_end", "main_usage", "sub_usage")} == {
        "window_start": "2026-03-29T00:00:00+01:00",
        "window_end": "2026-03-30T00:00:00+02:00",
        "main_usage": str(92 * 10),  # 23 hours of quarter hours
        "sub_usage": str(92 * 8),
    }
    assert evasion.facts["unmetered_percent"] == "20.00"  # (920 - 736) * 100 / 920


class CountingMetering(FakeMeteringStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads: list[tuple[str, date, date]] = []

    def days(
        self, account: str, meter_id: str, first: date, end: date, *, consistent: bool = True
    ) -> list[RatedDay]:
        self.reads.append((meter_id, first, end))
        return super().days(account, meter_id, first, end, consistent=consistent)


def test_new_readings_far_above_the_same_hour_of_past_weeks_raise_a_spike_reading_only_those_days() -> None:
    world = World(metering=CountingMetering())
    world.account()
    world.meter("m1")
    monday = date(2026, 3, 2)
    for weeks in range(1, 5):
        world.metering.put_day(A, rated_day("m1", monday - timedelta(weeks=weeks), 1))
    # 10:00-11:00 in Berlin (09:00 UTC): four quarter hours of 5 kWh against a baseline of 4 × 1 kWh.
    start = datetime(2026, 3, 2, 9, tzinfo=UTC)
    world.readings.put_new(
        A, [RawReading("m1", start + n * QUARTER, Decimal(5), "interval", 15) for n in range(4)]
    )
    world.metering.reads.clear()
    now = start + timedelta(hours=1, minutes=2)

    report = readings_arrived(
        ReadingsArrived(A, ("m1",), start, start + 3 * QUARTER),
        now,
        world.sources,
        world.store,
        world.publisher,
        render,
    )

    (alert,) = world.alerts()
    assert (alert.kind, alert.state, report.opened) == ("abnormal_usage", "firing", 1)
    assert {k: alert.facts[k] for k in ("worst_hour", "hour_usage", "hour_baseline", "hours_above")} == {
        "worst_hour": "2026-03-02T10:00:00+01:00",
        "hour_usage": "20",  # 4 × 5
        "hour_baseline": "4",  # 4 × 1, the median of 4 weeks
        "hours_above": "1",
    }
    assert world.metering.reads == [
        ("m1", monday - timedelta(weeks=w), monday - timedelta(weeks=w) + timedelta(days=1))
        for w in range(1, 5)
    ]


def test_normal_new_readings_pass_nothing_on() -> None:
    world = World()
    world.account()
    world.meter("m1")
    monday = date(2026, 3, 2)
    for weeks in range(1, 5):
        world.metering.put_day(A, rated_day("m1", monday - timedelta(weeks=weeks), 1))
    start = datetime(2026, 3, 2, 9, tzinfo=UTC)
    world.readings.put_new(
        A, [RawReading("m1", start + n * QUARTER, Decimal(1), "interval", 15) for n in range(4)]
    )

    report = readings_arrived(
        ReadingsArrived(A, ("m1",), start, start + 3 * QUARTER),
        start + timedelta(hours=1),
        world.sources,
        world.store,
        world.publisher,
        render,
    )

    assert (report.findings, world.alerts(), world.store.saves) == (0, [], 0)


def test_a_sub_meter_whose_day_is_not_rated_whole_keeps_its_main_from_being_judged() -> None:
    world = World()
    world.account()
    world.meter("main")
    world.meter("s1", kind="sub", parent_id="main")
    world.meter("s2", kind="sub", parent_id="main")
    day = date(2026, 3, 2)
    world.metering.put_day(A, rated_day("main", day, 12))
    world.metering.put_day(A, rated_day("s1", day, 4))
    partial = rated_day("s2", day, 4)
    world.metering.put_day(A, replace(partial, values=partial.values[:60], qualities=partial.qualities[:60]))

    report = world.at(datetime(2026, 3, 3, 0, 0, tzinfo=UTC))

    assert report.daily_sites == 1
    assert world.alerts() == []  # 1152 - 384 would be "evasion" if s2's missing day were taken as zero


def test_the_daily_pass_judges_estimated_data_and_bill_shock_of_a_period_about_to_be_invoiced() -> None:
    world = World()
    world.account()
    world.meter("m1")
    tariff = {
        "id": "flat",
        "name": "Flat",
        "currency": "EUR",
        "energy": {"periods": [{"name": "all", "tiers": [{"rate": "0.30"}]}]},
        "effective_from": "2026-01-01",
    }
    catalog_service.create_tariff(A, tariff, world.catalog)
    catalog_service.create(A, Customer, {"id": "c1", "name": "C1"}, world.catalog)
    assignment = {"id": "as1", "meter_id": "m1", "customer_id": "c1", "tariff_id": "flat"}
    catalog_service.create(A, Assignment, {**assignment, "effective_from": "2026-01-01"}, world.catalog)
    # March so far (bill day 1): 5 days of it estimated (E) from the 10th.
    for n in range(29):
        day = date(2026, 3, 1) + timedelta(days=n)
        rated = rated_day("m1", day, 1)
        if date(2026, 3, 10) <= day < date(2026, 3, 15):
            rated = replace(rated, qualities="E" * len(rated.values))
        world.metering.put_day(A, rated)
    world.store.rules[A] = (
        {"bill_shock": {"customers": {"c1": {"threshold": "100", "currency": "EUR"}}}},
        "r1",
    )
    world.metering.put_running_cost(
        A,
        RunningCost(
            "c1",
            date(2026, 3, 1),
            date(2026, 4, 1),
            date(2026, 3, 30),
            "EUR",
            (),
            Decimal("120.00"),
            Decimal("128.28"),
            datetime(2026, 3, 29, 22, 30, tzinfo=UTC),
        ),
    )
    daily = datetime(2026, 3, 29, 23, 0, tzinfo=UTC)  # 01:00 CEST on the 30th: judges the 29th

    world.at(daily)

    shock, estimated = sorted(world.alerts(), key=lambda a: a.kind)
    assert (estimated.kind, estimated.state, shock.kind, shock.state) == (
        "estimated_data",
        "firing",
        "bill_shock",
        "firing",
    )
    intervals = 28 * 96 + 92  # 1 to 29 March; the 29th has 23 hours
    assert {k: estimated.facts[k] for k in ("intervals", "estimated_intervals", "estimated_percent")} == {
        "intervals": str(intervals),
        "estimated_intervals": str(5 * 96),
        "estimated_percent": "17.27",  # 480 * 100 / 2780
    }
    assert estimated.facts["period_start"] == "2026-03-01T00:00:00+01:00"
    assert (shock.subject, shock.facts["projected_cost"]) == (Subject("customer", "c1", "site-a"), "128.29")
    # 120.00 * 743 h (March in Berlin) / 695 h (1 March 00:00 to 30 March 00:00) = 128.2877...
    assert shock.first_seen == daily


def test_a_meter_silent_since_before_the_lookback_is_quiet_not_uncommissioned() -> None:
    world = World()
    world.account()
    world.meter("m1")
    last = T0 - timedelta(days=3)  # silent for 3 days when the first pass runs
    world.readings.put_new(
        A, [RawReading("m1", last - (n + 1) * QUARTER, Decimal("1.1"), "interval", 15) for n in range(8)]
    )
    world.metering.put_day(A, rated_day("m1", last.date(), 1))

    world.at(T0)

    (alert,) = world.alerts()
    assert (alert.kind, alert.state) == ("communication", "pending")
    assert (alert.facts["gap_start"], alert.facts["gap_minutes"]) == (last.isoformat(), str(3 * 24 * 60))


def test_an_account_whose_catalog_no_longer_validates_is_reported_and_the_others_still_judged() -> None:
    world = World()
    for account in (A, B):
        world.account(account)
        world.meter("m1", account)
        world.interval_feed("m1", T0 - timedelta(days=1), account=account, until=T0)
    stored = world.catalog.items[(A, "meter", "m1")]
    world.catalog.items[(A, "meter", "m1")] = replace(stored, body={**stored.body, "unit": "parsec"})

    reports = world.run(T0, T0 + timedelta(hours=1))

    assert set(reports[-1].failures) == {A} and "unit" in reports[-1].failures[A]
    assert [s.account for s in reports[-1].steps] == [B]
    assert [a.kind for a in world.alerts(B)] == ["communication"]
    assert world.store.leases == {}  # A's lease was given back


def test_an_exchange_recorded_days_after_the_drop_resolves_it_on_the_next_pass() -> None:
    world = World()
    world.account()
    world.meter("m1", interval_minutes=60)  # hourly register reads
    world.readings.put_new(A, [register("m1", T0 - timedelta(hours=1), "1000"), register("m1", T0, "900")])
    world.at(T0 + timedelta(minutes=5))
    world.at(T0 + timedelta(minutes=10))
    (alert,) = world.alerts()
    assert (alert.kind, alert.state) == ("negative_consumption", "firing")
    # Three days on, the drop is far outside the one-day lookback; the register has gone on counting.
    three_days = T0 + timedelta(days=3)
    world.readings.put_new(A, [register("m1", three_days - timedelta(hours=1), "950")])
    world.at(three_days)
    assert world.alerts()[0].state == "firing"  # still judged: the read starts before the drop

    exchange = {
        "timestamp": (T0 - timedelta(minutes=30)).isoformat(),
        "old_final": "1001",
        "new_initial": "890",
    }
    catalog_service.record_exchange(A, "m1", exchange, world.catalog, world.readings, if_match=None)
    world.at(three_days + timedelta(minutes=5))

    (alert,) = world.alerts()
    assert (alert.state, alert.resolved_at) == ("resolved", three_days + timedelta(minutes=5))
