"""The alert lifecycle with a test clock: pending -> firing -> resolved, reminders, grouping, inhibition,
silences and acknowledgement, driven by hand-made findings the way the 5-minute schedule would."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from meterbill.alerts.lifecycle import (
    AlertBook,
    LifecycleRules,
    Notification,
    acknowledge,
    advance,
    fingerprint,
)
from meterbill.alerts.model import AlertKind, Finding, Subject
from meterbill.alerts.silences import Matcher, Silence
from meterbill.errors import InvalidInputError, InvalidStateError, NotFoundError

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
STEP = timedelta(minutes=5)
MAIN = Subject("meter", "main-1", site_id="site-a")
SUB1 = Subject("meter", "sub-1", site_id="site-a")
SUB2 = Subject("meter", "sub-2", site_id="site-a")
SITE_A = Subject("site", "site-a", site_id="site-a")


def quiet(meter: Subject, at: datetime, active: bool = True) -> Finding:
    return Finding(
        kind="communication",
        subject=meter,
        severity="critical",
        active=active,
        observed_at=at,
        summary=f"{meter.id} silent" if active else f"{meter.id} reporting again",
        facts={"last_reading_at": T0.isoformat(), "checked_at": at.isoformat()},
    )


def finding(kind: AlertKind, subject: Subject, at: datetime, active: bool = True) -> Finding:
    return Finding(kind, subject, "warning", active, at, f"{kind} on {subject.id}")


def evasion(at: datetime, active: bool = True) -> Finding:
    return Finding(
        kind="energy_evasion",
        subject=SITE_A,
        severity="warning",
        active=active,
        observed_at=at,
        summary="main minus sub-meters above threshold",
        facts={"missing_kwh": "412.5", "missing_percent": "12.4"},
        depends_on=(MAIN, SUB1, SUB2),
    )


def ticks(start: datetime, end: datetime, step: timedelta = STEP) -> Iterator[datetime]:
    now = start
    while now < end:
        yield now
        now += step


def run(
    book: AlertBook,
    start: datetime,
    end: datetime,
    findings_at: Callable[[datetime], list[Finding]],
    rules: LifecycleRules | None = None,
    silences: tuple[Silence, ...] = (),
) -> tuple[AlertBook, list[Notification]]:
    sent: list[Notification] = []
    for now in ticks(start, end):
        book, notifications = advance(book, findings_at(now), now, rules, silences)
        sent.extend(notifications)
    return book, sent


def reasons(sent: list[Notification]) -> list[tuple[datetime, str, str]]:
    return [(n.at, i.reason, i.alert.kind) for n in sent for i in n.items]


def test_a_three_day_outage_is_one_alert_pending_then_firing_reminded_every_4_h_and_resolved_once() -> None:
    outage_end = T0 + timedelta(days=3)
    states: dict[datetime, str] = {}

    def findings_at(now: datetime) -> list[Finding]:
        return [quiet(MAIN, now, active=now < outage_end)]

    book, sent = AlertBook("acct-1"), list[Notification]()
    for now in ticks(T0, outage_end + timedelta(minutes=10)):
        book, notifications = advance(book, findings_at(now), now)
        sent.extend(notifications)
        states[now] = book.alerts[0].state

    (alert,) = book.alerts  # one alert for three days, never a duplicate
    assert alert.id == f"{fingerprint('acct-1', 'communication', MAIN)}-20260302T080000Z"
    # pending until `for` (15 min) held, then firing; resolved when readings return.
    assert [states[T0 + timedelta(minutes=m)] for m in (0, 5, 10, 15)] == ["pending"] * 3 + ["firing"]
    assert (alert.state, alert.fired_at, alert.resolved_at) == (
        "resolved",
        T0 + timedelta(minutes=15),
        outage_end,
    )
    # Values follow the latest finding; the one after the resolve finds nothing open and changes nothing.
    assert alert.last_seen == outage_end
    assert alert.summary == "main-1 reporting again"
    assert [c.event for c in alert.history] == ["pending", "firing", "resolved"]
    # Raised at 0:15 and every 4 h while firing (4:15 ... 68:15), each sent one 5-minute tick later
    # (group_wait 30 s); the resolve raised at 72:00 goes out at 72:05.
    reminder_minutes = range(4 * 60 + 15, 72 * 60, 4 * 60)
    assert len(reminder_minutes) == 17
    assert reasons(sent) == [
        (T0 + timedelta(minutes=20), "firing", "communication"),
        *[(T0 + timedelta(minutes=m + 5), "reminder", "communication") for m in reminder_minutes],
        (outage_end + timedelta(minutes=5), "resolved", "communication"),
    ]
    assert {n.site_id for n in sent} == {"site-a"}


def test_a_condition_flapping_faster_than_for_never_notifies() -> None:
    # Quiet for 10 minutes, reporting for 5, over and over: each run is shorter than the 15-minute `for`.
    def findings_at(now: datetime) -> list[Finding]:
        minute = int((now - T0).total_seconds() // 60)
        return [quiet(MAIN, now, active=minute % 15 < 10)]

    book, sent = run(AlertBook("acct-1"), T0, T0 + timedelta(hours=3), findings_at)

    assert sent == []
    assert len(book.alerts) == 12  # each recurrence opens a new alert (own id) ...
    assert len({a.id for a in book.alerts}) == 12
    assert all(a.state == "resolved" and a.fired_at is None for a in book.alerts)  # ... that never fired
    assert book.alerts[0].history[-1].detail == "cleared while pending"


def test_an_offline_main_meter_inhibits_the_evasion_alert_and_releases_it_when_it_reports_again() -> None:
    back = T0 + timedelta(hours=2)

    def findings_at(now: datetime) -> list[Finding]:
        found = [quiet(MAIN, now, active=now < back)]
        if now >= T0 + timedelta(hours=1):
            found.append(evasion(now))
        return found

    book, sent = run(AlertBook("acct-1"), T0, back, findings_at)
    comms, evaded = book.alerts
    assert (evaded.kind, evaded.state, evaded.inhibited, evaded.inhibited_by) == (
        "energy_evasion",
        "firing",
        True,
        (comms.id,),
    )
    assert reasons(sent) == [(T0 + timedelta(minutes=20), "firing", "communication")]  # evasion muted

    book, sent = run(book, back, back + timedelta(minutes=10), findings_at)
    comms, evaded = book.alerts
    assert (comms.state, evaded.inhibited, evaded.inhibited_by) == ("resolved", False, ())
    assert [c.event for c in evaded.history] == ["pending", "firing", "inhibited", "released"]
    # The main meter's resolve and the evasion (still firing, never announced) go out as one site message.
    (message,) = sent
    assert (message.at, message.site_id) == (back + timedelta(minutes=5), "site-a")
    assert [(i.reason, i.alert.kind) for i in message.items] == [
        ("resolved", "communication"),
        ("firing", "energy_evasion"),
    ]


def test_an_evasion_alert_that_clears_while_inhibited_is_never_announced() -> None:
    def findings_at(now: datetime) -> list[Finding]:
        ok = now >= T0 + timedelta(hours=2)
        return [quiet(MAIN, now, active=not ok), evasion(now, active=now < T0 + timedelta(hours=1))]

    book, sent = run(AlertBook("acct-1"), T0, T0 + timedelta(hours=3), findings_at)

    assert {(n.items[0].reason, n.items[0].alert.kind) for n in sent} == {
        ("firing", "communication"),
        ("resolved", "communication"),
    }
    assert all(a.state == "resolved" for a in book.alerts)


def test_a_silence_mutes_matching_alerts_then_expires_by_itself() -> None:
    window = Silence(
        matchers=(Matcher("kind", "communication"), Matcher("site_id", "site-a")),
        starts_at=T0,
        ends_at=T0 + timedelta(hours=1),
        comment="meter room rewiring",
        id="sil-1",
    )

    def findings_at(now: datetime) -> list[Finding]:
        return [quiet(MAIN, now), quiet(Subject("meter", "m-b", site_id="site-b"), now)]

    book, sent = run(AlertBook("acct-1"), T0, T0 + timedelta(hours=1), findings_at, silences=(window,))
    silenced, other = sorted(book.alerts, key=lambda a: a.subject.id != "main-1")
    assert (silenced.state, silenced.silenced, silenced.silenced_by) == ("firing", True, ("sil-1",))
    assert other.silenced is False
    assert [(n.site_id, n.items[0].reason) for n in sent] == [("site-b", "firing")]  # site-a muted

    book, sent = run(book, T0 + timedelta(hours=1), T0 + timedelta(hours=2), findings_at, silences=(window,))
    silenced = next(a for a in book.alerts if a.subject == MAIN)
    assert (silenced.silenced, silenced.silenced_by) == (False, ())
    assert [c.event for c in silenced.history] == ["pending", "silenced", "firing", "unsilenced"]
    # Announced once the window ends (raised at 1:00, sent at 1:05), no earlier.
    assert [(n.at, n.site_id, n.items[0].reason) for n in sent] == [
        (T0 + timedelta(minutes=65), "site-a", "firing")
    ]


def test_a_silence_needs_matchers_an_order_and_a_reason() -> None:
    with pytest.raises(InvalidInputError) as error:
        Silence((Matcher("kind", "communication"),), T0, T0, "x")
    assert (error.value.field, error.value.reason) == ("ends_at", "must be after starts_at")
    with pytest.raises(InvalidInputError) as error:
        Silence((), T0, T0 + STEP, "x")
    assert error.value.field == "matchers"
    with pytest.raises(InvalidInputError) as error:
        Silence((Matcher("site_id", "site-a"),), T0, T0 + STEP, "  ")
    assert error.value.field == "comment"
    with pytest.raises(InvalidInputError) as error:
        Silence((Matcher("site_id", "site-a"),), T0.replace(tzinfo=None), T0 + STEP, "x")
    assert error.value.field == "starts_at"


def test_group_wait_groups_two_alerts_of_one_site_but_not_alerts_of_two_sites() -> None:
    other_site = Subject("meter", "m-b", site_id="site-b")
    rules = LifecycleRules()  # group_wait 30 s; abnormal usage fires at once
    arrivals = {
        T0: [finding("abnormal_usage", MAIN, T0)],
        T0 + timedelta(seconds=10): [
            finding("abnormal_usage", SUB1, T0 + timedelta(seconds=10)),
            finding("abnormal_usage", other_site, T0 + timedelta(seconds=10)),
        ],
    }
    book, out = AlertBook("acct-1"), dict[int, tuple[Notification, ...]]()
    for seconds in (0, 10, 30, 40):
        now = T0 + timedelta(seconds=seconds)
        book, out[seconds] = advance(book, arrivals.get(now, []), now, rules)
        if seconds == 10:
            assert book.next_flush_at(rules) == T0 + timedelta(seconds=30)

    assert (out[0], out[10]) == ((), ())
    (site_a,) = out[30]
    assert (site_a.site_id, [i.alert.subject.id for i in site_a.items]) == ("site-a", ["main-1", "sub-1"])
    assert site_a.title == "[warning] 2 alert(s) at site site-a: 2 firing"
    (site_b,) = out[40]
    assert (site_b.site_id, [i.alert.subject.id for i in site_b.items]) == ("site-b", ["m-b"])
    assert book.outbox == ()


def test_an_acknowledged_alert_is_not_reminded_but_its_resolve_is_announced() -> None:
    end = T0 + timedelta(hours=24)

    def findings_at(now: datetime) -> list[Finding]:
        return [quiet(MAIN, now, active=now < end)]

    book, sent = run(AlertBook("acct-1"), T0, T0 + timedelta(hours=1), findings_at)
    (alert,) = book.alerts
    book = acknowledge(book, alert.id, "ops@example.com", T0 + timedelta(hours=1))
    book, later = run(book, T0 + timedelta(hours=1), end + timedelta(minutes=10), findings_at)

    assert [r for _, r, _ in reasons(sent + later)] == ["firing", "resolved"]  # no reminder in 23 h
    (alert,) = book.alerts
    assert (alert.acknowledged_at, alert.acknowledged_by) == (T0 + timedelta(hours=1), "ops@example.com")
    assert "acknowledged" in [c.event for c in alert.history]
    with pytest.raises(InvalidStateError):
        acknowledge(book, alert.id, "ops@example.com", end + timedelta(hours=1))


def test_the_fingerprint_is_per_account_kind_and_subject() -> None:
    base = fingerprint("acct-1", "communication", MAIN)
    assert base == fingerprint("acct-1", "communication", Subject("meter", "main-1", site_id="moved"))
    assert (
        len(
            {
                base,
                fingerprint("acct-2", "communication", MAIN),
                fingerprint("acct-1", "flat_line", MAIN),
                fingerprint("acct-1", "communication", SUB1),
            }
        )
        == 4
    )


def test_a_firing_notice_still_waiting_when_its_alert_resolves_is_withdrawn() -> None:
    book, first = advance(AlertBook("acct-1"), [finding("abnormal_usage", MAIN, T0)], T0)
    later = T0 + timedelta(seconds=10)
    book, second = advance(book, [finding("abnormal_usage", MAIN, later, active=False)], later)
    book, third = advance(book, [], T0 + timedelta(minutes=5))

    assert (first, second, third, book.outbox) == ((), (), (), ())
    (alert,) = book.alerts
    assert [c.event for c in alert.history] == ["pending", "firing", "resolved"]
    with pytest.raises(NotFoundError):
        acknowledge(book, "no-such-alert", "ops@example.com", T0)
