"""The alert passes on the fakes with a test clock: the 5-minute schedule's lifecycle, communication and
collectors, registers, the lease, isolation between accounts, and the readings worker."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from meterbill.alerts import messages
from meterbill.alerts.communication import Heartbeat, MeterStatus
from meterbill.alerts.model import Subject
from meterbill.alerts.ports import CollectorHeartbeat, ReadingsArrived
from meterbill.alerts.silences import Matcher, Silence
from meterbill.errors import StorageUnavailableError
from meterbill.ports import RawReading
from meterbill.services import catalog as catalog_service
from meterbill.services.alerting import (
    LeaseHeldError,
    readings_arrived,
    scheduled_pass,
)
from tests.unit.alerting_world import (
    FIVE,
    QUARTER,
    T0,
    A,
    B,
    World,
    quiet_fp,
    rated_day,
    render,
    sent,
    ticks,
)


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


def test_a_quiet_meters_summary_tells_the_time_on_the_sites_clock() -> None:
    world = World()
    world.account(zone="Australia/Lord_Howe")  # UTC+11 in March (daylight time), a half-hour zone
    world.meter("m1")
    world.interval_feed("m1", T0 - timedelta(days=1), silent=(T0, T0 + timedelta(hours=2)))

    world.run(T0, T0 + timedelta(hours=1))

    (alert,) = world.alerts()
    assert alert.facts["gap_start"] == "2026-03-02T08:00:00+00:00"  # facts stay ISO 8601
    assert alert.summary == "meter m1: no reading for 3 intervals of 15 min since 2026-03-02 19:00 +11"


def test_the_alert_email_tells_its_times_on_the_sites_clock_and_its_facts_in_utc() -> None:
    world = World()
    world.account(zone="Australia/Lord_Howe")  # UTC+11 in March
    world.meter("m1")
    world.interval_feed("m1", T0 - timedelta(days=1), silent=(T0, T0 + timedelta(hours=2)))
    for now in ticks(T0, T0 + timedelta(minutes=70)):
        for feed in world.feeds:
            feed(now)
        scheduled_pass(now, world.sources, world.store, world.publisher, messages.render)

    (message,) = world.publisher.messages
    assert (
        "  first seen:   2026-03-02 19:45:00 +11\n  fired:        2026-03-02 20:00:00 +11\n" in message.body
    )
    assert "1 alert at 2026-03-02 20:05:00 +11: 1 firing" in message.body
    (fired,) = messages.facts_of(message.body)["alerts"]
    assert (fired["first_seen"], fired["fired_at"]) == (
        "2026-03-02T08:45:00+00:00",
        "2026-03-02T09:00:00+00:00",
    )


def test_an_alert_whose_site_is_gone_still_goes_out_with_its_times_in_utc() -> None:
    world = World()
    world.account()
    world.meter("m1")
    world.interval_feed("m1", T0 - timedelta(days=1), silent=(T0, T0 + timedelta(hours=2)))
    world.run(T0, T0 + timedelta(minutes=65))  # pending, then firing at 09:00: the notice waits group_wait
    del world.catalog.items[(A, "site", "site-a")]  # gone from the catalog while its alert waits

    scheduled_pass(T0 + timedelta(minutes=65), world.sources, world.store, world.publisher, messages.render)

    (message,) = world.publisher.messages
    assert "  fired:        2026-03-02 09:00:00 UTC\n" in message.body


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
    # Stored in UTC, told on the site's clock (Berlin, UTC+1 in March).
    assert alert.summary == "meter m1: register fell from 1010 to 900 at 2026-03-02 09:00 CET"
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
