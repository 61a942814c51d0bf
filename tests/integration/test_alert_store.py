"""The AlertStore contract, run against the in-memory fake (tests/fakes/alerts.py) and the DynamoDB adapter on
moto: exact round trips, what load_book reads, acknowledgements no save undoes, listing with filters across
pages, the lease, rules' ETags, heartbeats, silences, subscriptions and account isolation. The DynamoDB-only
tests at the end assert what the table holds and what one pass costs."""

from __future__ import annotations

import itertools
import json
import os
import re
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from meterbill.adapters.dynamodb import DynamoDb, alert_store_on
from meterbill.adapters.dynamodb.alerts import DynamoDbAlertStore
from meterbill.adapters.dynamodb.sizing import item_size, read_units, write_units
from meterbill.alerts.communication import Heartbeat, MeterStatus
from meterbill.alerts.lifecycle import (
    Alert,
    AlertBook,
    Held,
    LifecycleRules,
    Notification,
    NotificationItem,
    StateChange,
    advance,
)
from meterbill.alerts.model import Finding, Subject
from meterbill.alerts.ports import AlertFilter, AlertStore, CollectorHeartbeat, SubscriptionRecord
from meterbill.alerts.silences import Matcher, Silence
from meterbill.errors import InvalidInputError, InvalidStateError, NotFoundError, PreconditionFailedError
from tests.fakes.alerts import FakeAlertStore
from tests.integration.conftest import CATALOG_TABLE, Faults, Tables

BERLIN = ZoneInfo("Europe/Berlin")
T0 = datetime(2026, 3, 29, 1, 30, tzinfo=BERLIN)  # the night clocks go forward: +01:00, then +02:00
ACCOUNT = "acme"
OTHER = "globex"


@pytest.fixture(params=["fake", "dynamodb"])
def store(request: pytest.FixtureRequest) -> AlertStore:
    if request.param == "fake":
        return FakeAlertStore()
    request.getfixturevalue("atomic_moto_writes")
    db: DynamoDb = request.getfixturevalue("db")
    counter = itertools.count(1)
    return alert_store_on(db, new_etag=lambda: f"etag-{next(counter)}", parallel_requests=1)


@pytest.fixture
def dynamo(db: DynamoDb) -> DynamoDbAlertStore:
    counter = itertools.count(1)
    return alert_store_on(db, new_etag=lambda: f"etag-{next(counter)}", parallel_requests=1)


def alert(
    n: int = 1,
    *,
    account: str = ACCOUNT,
    state: str = "firing",
    kind: str = "communication",
    site: str | None = "site-1",
    severity: str = "warning",
    first_seen: datetime | None = None,
    **changes: Any,
) -> Alert:
    seen = first_seen or datetime(2026, 3, 1, 9, 0, tzinfo=UTC) + timedelta(minutes=n)
    made = Alert(
        id=f"fp{n:04d}-{seen.astimezone(UTC):%Y%m%dT%H%M%SZ}",
        fingerprint=f"fp{n:04d}",
        account_id=account,
        kind=kind,  # type: ignore[arg-type]
        subject=Subject("meter", f"m-{n}", site),
        state=state,  # type: ignore[arg-type]
        severity=severity,  # type: ignore[arg-type]
        summary=f"meter m-{n} is quiet",
        facts={"missed_intervals": "3"},
        depends_on=(),
        first_seen=seen,
        last_seen=seen,
        active_since=seen if state != "resolved" else None,
        fired_at=seen if state == "firing" else None,
        resolved_at=seen + timedelta(hours=1) if state == "resolved" else None,
        history=(StateChange(seen, "pending", f"meter m-{n} is quiet"),),
    )
    return replace(made, **changes)


def full_alert() -> Alert:
    """Every field set, times in three kinds of zone, facts in a deliberate (non-alphabetical) order."""
    fixed = timezone(timedelta(hours=-5))
    return Alert(
        id="0123456789abcdef-20260329T003000Z",
        fingerprint="0123456789abcdef",
        account_id=ACCOUNT,
        kind="energy_evasion",
        subject=Subject("meter", "main-1", "site-7"),
        state="firing",
        severity="critical",
        summary="main-1 minus its sub-meters: 12.345 kWh (4.1 %) unaccounted for",
        facts={
            "window_end": "2026-03-29T00:00:00+01:00",
            "gap_kwh": "12.345",
            "gap_percent": "4.10",
            "z": "",
        },
        depends_on=(Subject("meter", "sub-1", "site-7"), Subject("collector", "col-1")),
        first_seen=T0,
        last_seen=datetime(2026, 3, 29, 3, 15, 0, 123456, tzinfo=BERLIN),
        active_since=T0,
        fired_at=datetime(2026, 3, 29, 1, 45, tzinfo=UTC),
        last_notified_at=datetime(2026, 3, 28, 20, 45, tzinfo=fixed),
        inhibited=True,
        inhibited_by=("collector-alert-1",),
        silenced=True,
        silenced_by=("sil-1", "sil-2"),
        announced=True,
        history=(
            StateChange(T0, "pending", "main-1 minus its sub-meters"),
            StateChange(datetime(2026, 3, 29, 3, 0, tzinfo=BERLIN), "firing"),
            StateChange(datetime(2026, 3, 29, 3, 5, tzinfo=BERLIN), "silenced", "sil-1, sil-2"),
        ),
    )


def save(store: AlertStore, *alerts: Alert, account: str = ACCOUNT, outbox: tuple[Held, ...] = ()) -> None:
    store.save_book(account, AlertBook(account, tuple(alerts), outbox), list(alerts), [])


# --- round trips ----------------------------------------------------------------------------------------


def test_a_full_alert_round_trips_exactly(store: AlertStore) -> None:
    original = full_alert()
    save(store, original)
    loaded = store.load_book(ACCOUNT).book.alerts
    # repr compares types too: tuples stay tuples, fact order, each datetime's tzinfo (ZoneInfo, fixed, UTC).
    assert [repr(a) for a in loaded] == [repr(original)]
    assert repr(store.get_alert(ACCOUNT, original.id)) == repr(original)
    assert loaded[0].last_seen.tzinfo is BERLIN and loaded[0].last_seen.utcoffset() == timedelta(hours=2)


def test_a_resolved_alert_round_trips_exactly(store: AlertStore) -> None:
    resolved = replace(full_alert(), state="resolved", resolved_at=T0 + timedelta(hours=3), active_since=None)
    save(store, resolved)
    assert repr(store.get_alert(ACCOUNT, resolved.id)) == repr(resolved)
    assert [repr(a) for a in store.list_alerts(ACCOUNT, AlertFilter(), limit=5).items] == [repr(resolved)]


def test_outbox_and_unsent_notifications_round_trip(store: AlertStore) -> None:
    firing = full_alert()
    held = (
        Held(firing.id, "site-7", "firing", T0),
        Held(firing.id, None, "reminder", T0 + timedelta(hours=4)),
    )
    notification = Notification(ACCOUNT, "site-7", T0, (NotificationItem("firing", firing),))
    store.save_book(ACCOUNT, AlertBook(ACCOUNT, (firing,), held), [firing], [notification])
    loaded = store.load_book(ACCOUNT)
    assert repr(loaded.book.outbox) == repr(held)
    assert repr(loaded.unsent) == repr((notification,))
    store.set_unsent(ACCOUNT, [])
    assert store.load_book(ACCOUNT).unsent == ()
    assert repr(store.load_book(ACCOUNT).book.outbox) == repr(held)  # set_unsent leaves the outbox alone


# --- what load_book reads -------------------------------------------------------------------------------


def test_load_book_returns_only_the_open_alerts(store: AlertStore) -> None:
    save(store, alert(1, state="pending"), alert(2), alert(3, state="resolved"))
    assert [a.id for a in store.load_book(ACCOUNT).book.alerts] == [alert(1).id, alert(2).id]


def test_a_resolved_alert_is_no_longer_loaded_but_listed_and_gettable(store: AlertStore) -> None:
    opened = alert(1)
    save(store, opened)
    resolved = replace(opened, state="resolved", resolved_at=opened.first_seen + timedelta(hours=2))
    save(store, resolved)
    assert store.load_book(ACCOUNT).book.alerts == ()
    assert store.get_alert(ACCOUNT, opened.id) == resolved
    assert [a.state for a in store.list_alerts(ACCOUNT, AlertFilter(), limit=10).items] == ["resolved"]


def test_a_resolve_notice_waiting_for_its_group_loads_its_resolved_alert(store: AlertStore) -> None:
    """The lifecycle flushes the held resolve notice with the alert it names: load_book must bring the
    resolved alert along, or the next step cannot build the notification."""
    rules = LifecycleRules(for_by_kind={}, group_wait=timedelta(seconds=30))
    meter = Subject("meter", "m-1", "site-1")
    at = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    quiet = Finding("communication", meter, "warning", True, at, "m-1 is quiet")
    book, sent = advance(AlertBook(ACCOUNT), [quiet], at, rules)
    book, sent = advance(book, [], at + timedelta(seconds=30), rules)  # the firing notice goes out
    assert [i.reason for n in sent for i in n.items] == ["firing"]
    back = replace(quiet, active=False, observed_at=at + timedelta(minutes=5), summary="m-1 reports again")
    book, sent = advance(book, [back], at + timedelta(minutes=5), rules)
    assert sent == () and [h.reason for h in book.outbox] == ["resolved"]
    store.save_book(ACCOUNT, book, list(book.alerts), [])

    loaded = store.load_book(ACCOUNT).book
    assert [(a.id, a.state) for a in loaded.alerts] == [(book.alerts[0].id, "resolved")]
    _, sent = advance(loaded, [], at + timedelta(minutes=5, seconds=30), rules)
    assert [(i.reason, i.alert.state) for n in sent for i in n.items] == [("resolved", "resolved")]


def test_a_held_notice_whose_alert_was_never_written_is_dropped(store: AlertStore) -> None:
    kept = alert(1)
    ghost = Held("never-written", "site-1", "firing", T0)
    store.save_book(
        ACCOUNT, AlertBook(ACCOUNT, (kept,), (Held(kept.id, "site-1", "firing", T0), ghost)), [kept], []
    )
    assert [h.alert_id for h in store.load_book(ACCOUNT).book.outbox] == [kept.id]


# --- acknowledgements -----------------------------------------------------------------------------------


def test_an_acknowledgement_is_not_lost_when_save_book_rewrites_the_alert(store: AlertStore) -> None:
    opened = alert(1)
    save(store, opened)
    loaded = store.load_book(ACCOUNT).book.alerts[0]  # the pass read it before the person acknowledged
    ack_at = datetime(2026, 3, 1, 11, 0, tzinfo=BERLIN)  # 10:00 UTC
    acked = store.acknowledge(ACCOUNT, opened.id, "ops@acme.example", ack_at)
    assert (acked.acknowledged_at, acked.acknowledged_by) == (ack_at, "ops@acme.example")

    later = datetime(2026, 3, 1, 10, 5, tzinfo=UTC)
    updated = replace(loaded, last_seen=later, facts={"missed_intervals": "7"})
    store.save_book(ACCOUNT, AlertBook(ACCOUNT, (updated,)), [updated], [])

    stored = store.get_alert(ACCOUNT, opened.id)
    assert (stored.acknowledged_at, stored.acknowledged_by) == (ack_at, "ops@acme.example")
    assert stored.last_seen == later and stored.facts == {"missed_intervals": "7"}
    assert stored.history == (*opened.history, StateChange(ack_at, "acknowledged", "ops@acme.example"))
    assert store.load_book(ACCOUNT).book.alerts == (stored,)


def test_an_acknowledgement_is_not_lost_when_the_alert_resolves(store: AlertStore) -> None:
    opened = alert(1)
    save(store, opened)
    ack_at = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    store.acknowledge(ACCOUNT, opened.id, "ops@acme.example", ack_at)
    resolved = replace(opened, state="resolved", resolved_at=ack_at + timedelta(minutes=5), active_since=None)
    save(store, resolved)  # the pass's copy knew nothing of the acknowledgement
    stored = store.get_alert(ACCOUNT, opened.id)
    assert (stored.state, stored.acknowledged_at, stored.acknowledged_by) == (
        "resolved",
        ack_at,
        "ops@acme.example",
    )
    assert stored.history[-1] == StateChange(ack_at, "acknowledged", "ops@acme.example")


def test_a_second_acknowledgement_changes_nothing(store: AlertStore) -> None:
    save(store, alert(1))
    first = store.acknowledge(ACCOUNT, alert(1).id, "ann", datetime(2026, 3, 1, 10, 0, tzinfo=UTC))
    second = store.acknowledge(ACCOUNT, alert(1).id, "bob", datetime(2026, 3, 1, 11, 0, tzinfo=UTC))
    assert second == first and store.get_alert(ACCOUNT, alert(1).id) == first
    assert [c.event for c in first.history] == ["pending", "acknowledged"]


def test_acknowledging_a_resolved_alert_is_refused_and_an_unknown_one_is_not_found(store: AlertStore) -> None:
    save(store, alert(1, state="resolved"))
    with pytest.raises(InvalidStateError) as refused:
        store.acknowledge(ACCOUNT, alert(1).id, "ann", datetime(2026, 3, 1, 10, 0, tzinfo=UTC))
    assert str(refused.value) == str(InvalidStateError("alert", alert(1).id, "resolved", "acknowledge"))
    with pytest.raises(NotFoundError):
        store.acknowledge(ACCOUNT, "nope", "ann", datetime(2026, 3, 1, 10, 0, tzinfo=UTC))
    with pytest.raises(NotFoundError):
        store.get_alert(ACCOUNT, "nope")


# --- listing --------------------------------------------------------------------------------------------


def twenty_five() -> list[Alert]:
    """25 alerts a minute apart: every third on site-2, every fifth critical, every other resolved."""
    return [
        alert(
            n,
            site="site-2" if n % 3 == 0 else "site-1",
            severity="critical" if n % 5 == 0 else "warning",
            state="resolved" if n % 2 == 0 else "firing",
            kind="flat_line" if n % 4 == 0 else "communication",
        )
        for n in range(1, 26)
    ]


def pages(store: AlertStore, query: AlertFilter, limit: int) -> list[list[int]]:
    found: list[list[int]] = []
    cursor: str | None = None
    while True:
        page = store.list_alerts(ACCOUNT, query, limit=limit, cursor=cursor)
        found.append([int(a.fingerprint[2:]) for a in page.items])
        cursor = page.cursor
        if cursor is None:
            return found


def test_listing_pages_newest_first(store: AlertStore) -> None:
    save(store, *twenty_five())
    assert pages(store, AlertFilter(), 10) == [
        list(range(25, 15, -1)),
        list(range(15, 5, -1)),
        list(range(5, 0, -1)),
    ]


def test_listing_with_filters_fills_each_page(store: AlertStore) -> None:
    save(store, *twenty_five())
    # firing (odd n) on site-1 (n not a multiple of 3): 25 23 19 17 13 11 7 5 1
    assert pages(store, AlertFilter(state="firing", site_id="site-1"), 4) == [
        [25, 23, 19, 17],
        [13, 11, 7, 5],
        [1],
    ]
    assert pages(store, AlertFilter(severity="critical"), 10) == [[25, 20, 15, 10, 5]]
    assert pages(store, AlertFilter(kind="flat_line", state="resolved"), 2) == [[24, 20], [16, 12], [8, 4]]
    assert pages(store, AlertFilter(kind="bill_shock"), 10) == [[]]


def test_a_foreign_or_broken_cursor_is_refused(store: AlertStore) -> None:
    save(store, *twenty_five())
    save(store, *[alert(n, account=OTHER) for n in range(1, 4)], account=OTHER)
    other_cursor = store.list_alerts(OTHER, AlertFilter(), limit=1).cursor
    assert other_cursor is not None
    for cursor in ("garbage", other_cursor):
        with pytest.raises(InvalidInputError) as refused:
            store.list_alerts(ACCOUNT, AlertFilter(), limit=10, cursor=cursor)
        assert refused.value.field == "cursor"
    with pytest.raises(InvalidInputError) as refused:
        store.list_alerts(ACCOUNT, AlertFilter(), limit=0)
    assert refused.value.field == "limit"


# --- the lease ------------------------------------------------------------------------------------------


def test_the_lease_is_held_until_it_expires(store: AlertStore) -> None:
    at = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    assert store.lease(ACCOUNT, "pass-a", at, seconds=60) is True
    assert store.lease(ACCOUNT, "pass-b", at + timedelta(seconds=59), seconds=60) is False
    assert (
        store.lease(ACCOUNT, "pass-a", at + timedelta(seconds=30), seconds=60) is True
    )  # extended to 9:01:30
    assert store.lease(ACCOUNT, "pass-b", at + timedelta(seconds=60), seconds=60) is False
    assert store.lease(OTHER, "pass-b", at, seconds=60) is True  # another account's lease is another lease
    assert (
        store.lease(ACCOUNT, "pass-b", at + timedelta(seconds=90), seconds=60) is True
    )  # expired: taken over
    store.release(ACCOUNT, "pass-a")  # no longer theirs: left alone
    assert store.lease(ACCOUNT, "pass-a", at + timedelta(seconds=100), seconds=60) is False
    store.release(ACCOUNT, "pass-b")
    assert store.lease(ACCOUNT, "pass-a", at + timedelta(seconds=100), seconds=60) is True


# --- rules ----------------------------------------------------------------------------------------------


def test_rules_are_replaced_on_their_etag(store: AlertStore) -> None:
    assert store.get_rules(ACCOUNT) == ({}, None)
    document = {"account": {"communication": {"missed_intervals": 4}, "evasion": {"percent": Decimal("2.5")}}}
    first = store.put_rules(ACCOUNT, document, if_match=None)
    assert store.get_rules(ACCOUNT) == (document, first)
    second = store.put_rules(ACCOUNT, {"account": {}}, if_match=first)
    assert second != first
    with pytest.raises(PreconditionFailedError) as refused:
        store.put_rules(ACCOUNT, document, if_match=first)
    assert str(refused.value) == str(PreconditionFailedError("alert-rules", ACCOUNT, first, second))
    assert store.get_rules(ACCOUNT) == ({"account": {}}, second)
    with pytest.raises(PreconditionFailedError):
        store.put_rules(OTHER, document, if_match=second)  # nothing to match in another account


# --- silences, heartbeats, subscriptions ----------------------------------------------------------------


def silence(silence_id: str, starts: datetime, hours: int) -> Silence:
    return Silence(
        matchers=(Matcher("site_id", "site-1"), Matcher("kind", "communication")),
        starts_at=starts,
        ends_at=starts + timedelta(hours=hours),
        comment="maintenance",
        id=silence_id,
        created_by="ops",
    )


def test_silences_are_stored_listed_newest_first_and_replaced(store: AlertStore) -> None:
    early = silence("sil-early", datetime(2026, 3, 1, 8, 0, tzinfo=BERLIN), 2)  # ends 09:00 UTC
    late = silence("sil-late", datetime(2026, 3, 1, 9, 0, tzinfo=UTC), 1)
    store.put_silence(ACCOUNT, early)
    store.put_silence(ACCOUNT, late)
    assert [repr(s) for s in store.silences(ACCOUNT)] == [repr(late), repr(early)]
    assert store.silences(ACCOUNT, ending_after=datetime(2026, 3, 1, 9, 0, tzinfo=UTC)) == [late]
    ended = replace(late, ends_at=datetime(2026, 3, 1, 9, 30, tzinfo=UTC))
    store.replace_silence(ACCOUNT, ended)
    assert store.get_silence(ACCOUNT, "sil-late") == ended
    with pytest.raises(NotFoundError):
        store.replace_silence(ACCOUNT, silence("sil-unknown", T0, 1))
    with pytest.raises(NotFoundError):
        store.get_silence(ACCOUNT, "sil-unknown")


def heartbeat(collector: str, received: datetime, version: str = "1.4.0") -> CollectorHeartbeat:
    return CollectorHeartbeat(
        heartbeat=Heartbeat(
            collector_id=collector,
            received_at=received,
            meters=(
                MeterStatus("m-1", last_read_at=received - timedelta(minutes=1)),
                MeterStatus("m-2", error="Modbus exception 4 (slave device failure)"),
            ),
            site_id="site-1",
        ),
        version=version,
        spool_depth=12,
        last_push_at=received - timedelta(seconds=30),
    )


def test_an_older_heartbeat_does_not_replace_a_newer_one(store: AlertStore) -> None:
    newer = heartbeat("col-1", datetime(2026, 3, 1, 10, 0, tzinfo=BERLIN), "1.5.0")
    store.put_heartbeat(ACCOUNT, newer)
    store.put_heartbeat(ACCOUNT, heartbeat("col-1", datetime(2026, 3, 1, 8, 59, tzinfo=UTC), "1.4.0"))
    store.put_heartbeat(ACCOUNT, heartbeat("col-0", datetime(2026, 3, 1, 8, 0, tzinfo=UTC)))
    assert [repr(h) for h in store.heartbeats(ACCOUNT)] == [
        repr(heartbeat("col-0", datetime(2026, 3, 1, 8, 0, tzinfo=UTC))),
        repr(newer),
    ]
    newest = heartbeat("col-1", datetime(2026, 3, 1, 9, 1, tzinfo=UTC), "1.6.0")
    store.put_heartbeat(ACCOUNT, newest)
    assert [h.version for h in store.heartbeats(ACCOUNT)] == ["1.4.0", "1.6.0"]


THINNED = "spool at its 512 MB quota: 8,640 unsent reads of main thinned to hourly (totals kept)"


def test_a_heartbeats_warnings_round_trip_in_order(store: AlertStore) -> None:
    plain = heartbeat("col-0", datetime(2026, 3, 1, 9, 0, tzinfo=UTC))
    warned = replace(
        heartbeat("col-1", datetime(2026, 3, 1, 9, 0, tzinfo=UTC)),
        heartbeat=replace(plain.heartbeat, collector_id="col-1", warnings=(THINNED, "ü" * 500, "x")),
    )
    store.put_heartbeat(ACCOUNT, plain)
    store.put_heartbeat(ACCOUNT, warned)

    assert [repr(h) for h in store.heartbeats(ACCOUNT)] == [repr(plain), repr(warned)]
    assert [h.heartbeat.warnings for h in store.heartbeats(ACCOUNT)] == [(), (THINNED, "ü" * 500, "x")]


def subscription(sub_id: str, created: datetime, site_ids: tuple[str, ...] | None) -> SubscriptionRecord:
    return SubscriptionRecord(
        id=sub_id,
        email=f"{sub_id}@acme.example",
        kinds=("communication", "energy_evasion"),
        min_severity="warning",
        site_ids=site_ids,
        subscription_arn=f"arn:aws:sns:eu-central-1:000000000000:meterbill-alerts:{sub_id}",
        created_at=created,
    )


def test_subscriptions_are_created_listed_read_and_deleted(store: AlertStore) -> None:
    second = subscription("sub-b", datetime(2026, 3, 1, 10, 0, tzinfo=UTC), None)
    first = subscription("sub-a", datetime(2026, 3, 1, 10, 0, tzinfo=BERLIN), ())  # 09:00 UTC; no site
    store.put_subscription(ACCOUNT, second)
    store.put_subscription(ACCOUNT, first)
    assert [repr(r) for r in store.subscriptions(ACCOUNT)] == [repr(first), repr(second)]
    assert store.get_subscription(ACCOUNT, "sub-b").site_ids is None
    assert store.get_subscription(ACCOUNT, "sub-a").site_ids == ()
    store.delete_subscription(ACCOUNT, "sub-a")
    assert store.subscriptions(ACCOUNT) == [second]
    with pytest.raises(NotFoundError):
        store.delete_subscription(ACCOUNT, "sub-a")
    with pytest.raises(NotFoundError):
        store.get_subscription(ACCOUNT, "sub-a")


# --- isolation ------------------------------------------------------------------------------------------


def test_another_account_sees_none_of_the_items(store: AlertStore) -> None:
    save(store, alert(1), alert(2, state="resolved"))
    store.put_silence(ACCOUNT, silence("sil-1", T0, 1))
    store.put_heartbeat(ACCOUNT, heartbeat("col-1", T0))
    store.put_subscription(ACCOUNT, subscription("sub-a", T0, None))
    store.put_rules(ACCOUNT, {"account": {}}, if_match=None)
    store.lease(ACCOUNT, "pass-a", T0, seconds=60)

    loaded = store.load_book(OTHER)
    assert (loaded.book.alerts, loaded.book.outbox, loaded.unsent) == ((), (), ())
    assert store.list_alerts(OTHER, AlertFilter(), limit=10).items == []
    for alert_id in (alert(1).id, alert(2).id):
        with pytest.raises(NotFoundError):
            store.get_alert(OTHER, alert_id)
    with pytest.raises(NotFoundError):
        store.acknowledge(OTHER, alert(1).id, "mallory", T0)
    assert store.get_alert(ACCOUNT, alert(1).id).acknowledged_at is None
    with pytest.raises(NotFoundError):
        store.get_silence(OTHER, "sil-1")
    with pytest.raises(NotFoundError):
        store.get_subscription(OTHER, "sub-a")
    with pytest.raises(NotFoundError):
        store.delete_subscription(OTHER, "sub-a")
    assert (store.silences(OTHER), store.heartbeats(OTHER), store.subscriptions(OTHER)) == ([], [], [])
    assert store.get_rules(OTHER) == ({}, None)
    store.release(OTHER, "pass-a")
    assert store.lease(ACCOUNT, "pass-b", T0, seconds=60) is False  # A's lease untouched


# --- DynamoDB: what the table holds ---------------------------------------------------------------------


def test_the_stored_acknowledgement_attributes_survive_save_book(
    dynamo: DynamoDbAlertStore, tables: Tables
) -> None:
    opened = alert(1)
    save(dynamo, opened)
    dynamo.acknowledge(ACCOUNT, opened.id, "ops@acme.example", datetime(2026, 3, 1, 11, 0, tzinfo=BERLIN))
    save(dynamo, replace(opened, last_seen=datetime(2026, 3, 1, 9, 30, tzinfo=UTC)))
    item = tables.catalog("account#acme#alert", f"open#{opened.id}")
    assert item is not None
    assert item["acknowledged_at"] == {"S": "2026-03-01T11:00:00+01:00[Europe/Berlin]"}
    assert item["acknowledged_by"] == {"S": "ops@acme.example"}
    assert item["last_seen"] == {"S": "2026-03-01T09:30:00+00:00"}
    assert item["history"]["L"][-1] == {
        "M": {
            "at": {"S": "2026-03-01T11:00:00+01:00[Europe/Berlin]"},
            "event": {"S": "acknowledged"},
            "detail": {"S": "ops@acme.example"},
        }
    }
    assert (item["account_pk"], item["account_sk"]) == (
        {"S": "account#acme#alert#listing"},
        {"S": f"2026-03-01T09:01:00.000000Z#{opened.id}"},
    )


def test_resolving_moves_the_alert_out_of_the_open_keys(dynamo: DynamoDbAlertStore, tables: Tables) -> None:
    opened = alert(1)
    save(dynamo, opened)
    save(dynamo, replace(opened, state="resolved", resolved_at=opened.first_seen + timedelta(hours=1)))
    assert tables.catalog("account#acme#alert", f"open#{opened.id}") is None
    moved = tables.catalog("account#acme#alert", f"resolved#{opened.id}")
    assert moved is not None and moved["state"] == {"S": "resolved"}


def test_load_book_reads_no_resolved_alert(dynamo: DynamoDbAlertStore, db: DynamoDb) -> None:
    save(dynamo, alert(1), *[alert(n, state="resolved") for n in range(2, 40)])
    read: list[str] = []

    def record(parsed: dict[str, Any], **_: Any) -> None:
        read.extend(item["sk"]["S"] for item in parsed.get("Items", []))

    db.client.meta.events.register("after-call.dynamodb.Query", record)
    assert [a.id for a in dynamo.load_book(ACCOUNT).book.alerts] == [alert(1).id]
    assert read == ["book", f"open#{alert(1).id}"]


def test_large_unsent_notifications_are_split_and_the_old_parts_dropped(db: DynamoDb, tables: Tables) -> None:
    store = DynamoDbAlertStore(db, book_part_bytes=200, parallel_requests=1)
    alerts = [full_alert()] + [replace(alert(n), summary=f"meter m-{n} is quiet " * 5) for n in range(2, 30)]
    notice = Notification(ACCOUNT, "site-1", T0, tuple(NotificationItem("firing", a) for a in alerts))
    store.save_book(ACCOUNT, AlertBook(ACCOUNT, tuple(alerts)), alerts, [notice])
    parts = [i for i in tables.all(CATALOG_TABLE) if i["sk"]["S"].startswith("book#")]
    assert len(parts) > 1
    assert repr(store.load_book(ACCOUNT).unsent) == repr((notice,))
    store.set_unsent(ACCOUNT, [notice])  # a new generation replaces the old one
    assert repr(store.load_book(ACCOUNT).unsent) == repr((notice,))
    assert len([i for i in tables.all(CATALOG_TABLE) if i["sk"]["S"].startswith("book#")]) == len(parts)
    store.set_unsent(ACCOUNT, [])
    assert [i for i in tables.all(CATALOG_TABLE) if i["sk"]["S"].startswith("book#")] == []
    assert store.load_book(ACCOUNT).unsent == ()


# --- DynamoDB: what one pass costs ----------------------------------------------------------------------


class Units:
    """Read and write units as DynamoDB bills them (moto's ConsumedCapacity is a constant): reads from the
    items each call returned, writes from the size of each item written (read back after the call), the
    index's copy of an alert counted as one more write of the same size."""

    def __init__(self, db: DynamoDb, tables: Tables) -> None:
        self.reads = 0.0
        self.writes = 0
        self.tables = tables
        events = db.client.meta.events
        events.register("after-call.dynamodb.Query", self._query)
        events.register("after-call.dynamodb.GetItem", self._get)
        events.register("before-parameter-build.dynamodb.UpdateItem", self._update)
        events.register("before-parameter-build.dynamodb.PutItem", self._put)

    def _query(self, parsed: dict[str, Any], **_: Any) -> None:
        self.reads += read_units(sum(item_size(i) for i in parsed.get("Items", [])), consistent=True)

    def _get(self, parsed: dict[str, Any], **_: Any) -> None:
        self.reads += read_units(item_size(parsed.get("Item", {})), consistent=True)

    def _update(self, params: dict[str, Any], **_: Any) -> None:
        # An update is billed on the larger of the old and the new item; a pass's update hardly changes
        # the size, so the stored item before the call stands for both (plus the index's copy).
        key = params["Key"]
        old = self.tables.item(params["TableName"], pk=key["pk"]["S"], sk=key["sk"]["S"]) or {}
        self.writes += 2 * write_units(item_size(old))

    def _put(self, params: dict[str, Any], **_: Any) -> None:
        self.writes += write_units(item_size(params["Item"]))


# docs/storage.md reports 1,000 open alerts too (a run of ~1 min on moto, set ALERT_UNITS_1000=1).
COUNTS = ((0, "zero"), (10, "ten"), (100, "hundred")) + (
    ((1000, "thousand"),) if os.environ.get("ALERT_UNITS_1000") else ()
)


@pytest.mark.usefixtures("atomic_moto_writes")  # moto's transactions copy the table: no writes beside them
def test_units_of_one_pass_follow_the_open_alerts(db: DynamoDb, tables: Tables) -> None:
    """load_book + save_book of a pass that updates every open alert's last_seen (the worst usual pass),
    for 0, 10 and 100 open alerts, each beside 50 resolved ones (which cost nothing here)."""
    measured: dict[int, tuple[float, int, float, int]] = {}
    for count, account in COUNTS:
        store = DynamoDbAlertStore(db, parallel_requests=1)  # the counters are not thread-safe
        realistic = [
            replace(
                full_alert(),
                id=f"{n:016d}-20260329T003000Z",
                account_id=account,
                inhibited=False,
                silenced=False,
                inhibited_by=(),
                silenced_by=(),
            )
            for n in range(count)
        ]
        history = [alert(n, account=account, state="resolved") for n in range(1, 51)]
        store.save_book(account, AlertBook(account), history, [])  # moto copies the table per transaction
        store.save_book(account, AlertBook(account, tuple(realistic)), realistic, [])
        units = Units(db, tables)
        loaded = store.load_book(account).book
        load_reads, load_writes = units.reads, units.writes
        seen = T0 + timedelta(minutes=5)
        changed = [replace(a, last_seen=seen) for a in loaded.alerts]
        store.save_book(account, replace(loaded, alerts=tuple(changed)), changed, [])
        measured[count] = (load_reads, load_writes, units.reads - load_reads, units.writes - load_writes)
    # (load reads, load writes, save reads, save writes). The Query reads 1 unit per started 4 KB of what
    # it returns (at least 1).
    # An alert item here is ~1.1 KB: 2 write units, 4 with its index copy, so 4 per changed alert + 1 book.
    expected = {
        0: (1.0, 0, 0.0, 1),
        10: (3.0, 0, 0.0, 41),
        100: (28.0, 0, 0.0, 401),
        1000: (276.0, 0, 0.0, 4001),
    }
    assert measured == {count: expected[count] for count, _ in COUNTS}


# --- DynamoDB: retries ----------------------------------------------------------------------------------


def test_writes_whose_answer_was_lost_are_sent_again_with_the_same_outcome(
    dynamo: DynamoDbAlertStore, faults: Faults
) -> None:
    first = dynamo.put_rules(ACCOUNT, {"account": {}}, if_match=None)
    faults.lose_answer("PutItem", when=lambda n: n == 1)
    second = dynamo.put_rules(ACCOUNT, {"account": {"x": 1}}, if_match=first)
    assert dynamo.get_rules(ACCOUNT) == ({"account": {"x": 1}}, second)

    opened = alert(1)
    save(dynamo, opened)
    faults.lose_answer("TransactWriteItems", when=lambda n: n == 1)
    resolved = replace(opened, state="resolved", resolved_at=opened.first_seen + timedelta(hours=1))
    save(dynamo, resolved)
    assert dynamo.get_alert(ACCOUNT, opened.id) == resolved
    assert faults.calls["TransactWriteItems"] == 2

    save(dynamo, alert(2))
    faults.lose_answer("UpdateItem", when=lambda n: n == 1)
    at = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    assert dynamo.acknowledge(ACCOUNT, alert(2).id, "ann", at).acknowledged_at == at


def test_a_heartbeat_keeps_its_warnings_as_a_list_and_none_without(
    dynamo: DynamoDbAlertStore, tables: Tables
) -> None:
    received = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    plain = heartbeat("col-1", received)
    dynamo.put_heartbeat(ACCOUNT, plain)
    dynamo.put_heartbeat(
        ACCOUNT,
        replace(plain, heartbeat=replace(plain.heartbeat, collector_id="col-2", warnings=(THINNED, "b"))),
    )

    without = tables.catalog("account#acme#collector-heartbeat", "col-1")
    warned = tables.catalog("account#acme#collector-heartbeat", "col-2")
    assert without is not None and "warnings" not in without  # as before warnings existed
    assert warned is not None and warned["warnings"] == {"L": [{"S": THINNED}, {"S": "b"}]}


def test_a_heartbeat_stored_before_warnings_existed_loads_with_none(
    dynamo: DynamoDbAlertStore, tables: Tables
) -> None:
    """The item exactly as issue 11's store wrote it: no ``warnings`` attribute."""
    tables.client.put_item(
        TableName=CATALOG_TABLE,
        Item={
            "pk": {"S": "account#acme#collector-heartbeat"},
            "sk": {"S": "col-1"},
            "collector_id": {"S": "col-1"},
            "received_at": {"S": "2026-03-01T10:00:00+01:00[Europe/Berlin]"},
            "received": {"S": "2026-03-01T09:00:00.000000Z"},
            "site_id": {"S": "site-1"},
            "meters": {"L": [{"M": {"meter_id": {"S": "m-2"}, "error": {"S": "timeout after 3 s"}}}]},
            "version": {"S": "1.4.0"},
            "spool_depth": {"N": "12"},
        },
    )

    assert dynamo.heartbeats(ACCOUNT) == [
        CollectorHeartbeat(
            heartbeat=Heartbeat(
                "col-1",
                datetime(2026, 3, 1, 10, 0, tzinfo=BERLIN),
                (MeterStatus("m-2", error="timeout after 3 s"),),
                "site-1",
                warnings=(),
            ),
            version="1.4.0",
            spool_depth=12,
        )
    ]


def test_the_documented_alert_item_is_what_the_store_writes(
    dynamo: DynamoDbAlertStore, tables: Tables
) -> None:
    """docs/storage.md, "Alerts": the sample item (a ``jsonc`` block, apart from the blocks that
    test_dynamodb_docs.py checks)."""
    text = (Path(__file__).parents[2] / "docs" / "storage.md").read_text(encoding="utf-8")
    (block,) = re.findall(r"```jsonc\n(.*?)```", text, flags=re.DOTALL)
    sample = replace(
        full_alert(), account_id="acc_1", inhibited=False, inhibited_by=(), silenced=False, silenced_by=()
    )
    save(dynamo, sample, account="acc_1")
    stored = tables.catalog("account#acc_1#alert", f"open#{sample.id}")
    assert stored == json.loads(block)
    assert item_size(stored) == 1118


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 10, 25, 2, 30, tzinfo=BERLIN),  # the hour that happens twice: first, +02:00
        datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=BERLIN),  # second, +01:00
        datetime(2026, 3, 29, 3, 0, 0, 1, tzinfo=BERLIN),
        datetime(2026, 3, 1, 9, 0, tzinfo=UTC),
        datetime(2026, 3, 1, 9, 0, tzinfo=timezone(timedelta(hours=-3, minutes=-30))),
        datetime(2026, 3, 1, 9, 0, tzinfo=ZoneInfo("Australia/Lord_Howe")),  # a 30-minute DST shift
    ],
)
def test_every_kind_of_aware_time_round_trips_exactly(store: AlertStore, moment: datetime) -> None:
    original = replace(
        alert(1, first_seen=moment), last_seen=moment, history=(StateChange(moment, "pending"),)
    )
    save(store, original)
    (loaded,) = store.load_book(ACCOUNT).book.alerts
    assert repr(loaded) == repr(original)
    assert (loaded.first_seen.fold, loaded.first_seen.utcoffset()) == (moment.fold, moment.utcoffset())


def test_an_acknowledgement_racing_a_save_of_many_alerts_is_kept(
    db: DynamoDb, atomic_moto_writes: None
) -> None:
    """Threads: 40 alerts saved 8 at a time while a person acknowledges each of them."""
    store = alert_store_on(db, parallel_requests=8)
    alerts = [alert(n) for n in range(1, 41)]
    save(store, *alerts)
    loaded = store.load_book(ACCOUNT).book.alerts
    at = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    moved = [replace(a, last_seen=at) for a in loaded]
    acks = threading.Thread(target=lambda: [store.acknowledge(ACCOUNT, a.id, "ann", at) for a in alerts])
    acks.start()
    store.save_book(ACCOUNT, AlertBook(ACCOUNT, tuple(moved)), moved, [])
    acks.join()
    stored = store.load_book(ACCOUNT).book.alerts
    assert [(a.acknowledged_by, a.last_seen, a.history[-1].event) for a in stored] == [
        ("ann", at, "acknowledged")
    ] * 40
