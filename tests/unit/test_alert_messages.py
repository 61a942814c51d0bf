"""What an alert notification looks like on the SNS topic: subject, readable body, JSON facts, attributes."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from meterbill.alerts.communication import Heartbeat, collector_warnings
from meterbill.alerts.lifecycle import Alert, AlertBook, Notification, NotificationItem, advance
from meterbill.alerts.messages import FACTS_MARKER, MESSAGE_LIMIT, SUBJECT_LIMIT, facts_of, render
from meterbill.alerts.model import Subject

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
BERLIN = timezone(timedelta(hours=1))
METER = Subject("meter", "m-7", site_id="berlin-office")
SITE = Subject("site", "berlin-office", site_id="berlin-office")


def quiet_meter(**changes: object) -> Alert:
    alert = Alert(
        id="a1b2c3d4e5f60718-20260302T080000Z",
        fingerprint="a1b2c3d4e5f60718",
        account_id="acct-a",
        kind="communication",
        subject=METER,
        state="firing",
        severity="warning",
        summary="m-7: no reading for 45 min (3 intervals)",
        facts={"gap_minutes": "45", "gap_start": "2026-03-02T08:00:00+00:00"},
        depends_on=(),
        first_seen=T0,
        last_seen=T0 + timedelta(minutes=15),
        active_since=T0,
        fired_at=T0 + timedelta(minutes=15),
    )
    return replace(alert, **changes)  # type: ignore[arg-type]


def evasion_resolved() -> Alert:
    # Times in the site's zone (+01:00): the message writes them in UTC.
    return Alert(
        id="ffee000011112222-20260301T230000Z",
        fingerprint="ffee000011112222",
        account_id="acct-a",
        kind="energy_evasion",
        subject=SITE,
        state="resolved",
        severity="critical",
        summary="main-1 minus sub-meters: 412.50 kWh (12.40 %) unmetered",
        facts={"unmetered_kwh": "412.50", "unmetered_percent": "12.40", "sub_meters": "sub-1,sub-2"},
        depends_on=(METER,),
        first_seen=datetime(2026, 3, 2, 0, 0, tzinfo=BERLIN),
        last_seen=datetime(2026, 3, 2, 9, 0, tzinfo=BERLIN),
        active_since=None,
        fired_at=datetime(2026, 3, 2, 0, 0, tzinfo=BERLIN),
        resolved_at=datetime(2026, 3, 2, 9, 15, tzinfo=BERLIN),
        inhibited=True,
        inhibited_by=("a1b2c3d4e5f60718-20260302T080000Z",),
    )


def grouped() -> Notification:
    return Notification(
        account_id="acct-a",
        site_id="berlin-office",
        at=T0 + timedelta(minutes=15, seconds=30),
        items=(NotificationItem("firing", quiet_meter()), NotificationItem("resolved", evasion_resolved())),
    )


def test_a_grouped_message_names_the_highest_severity_the_site_and_the_counts() -> None:
    assert render(grouped()).subject == (
        "[critical] meterbill: 2 alerts at site berlin-office (1 firing, 1 resolved)"
    )


def test_a_grouped_message_carries_the_distinct_kinds_and_reasons_as_arrays() -> None:
    assert render(grouped()).attributes == {
        "account_id": "acct-a",
        "kind": '["communication","energy_evasion"]',
        "severity": "critical",
        "site_id": "berlin-office",
        "state": '["firing","resolved"]',
    }


def test_the_body_is_a_readable_block_per_alert_then_the_facts() -> None:
    body = render(grouped()).body
    readable, _, _ = body.partition(f"\n{FACTS_MARKER}\n")
    assert readable.split("\n") == [
        "meterbill alerts of account acct-a, site berlin-office",
        "2 alerts at 2026-03-02 08:15:30 UTC: 1 firing, 1 resolved",
        "",
        "[FIRING] communication - meter m-7",
        "  severity:     warning",
        "  state:        firing",
        "  summary:      m-7: no reading for 45 min (3 intervals)",
        "  first seen:   2026-03-02 08:00:00 UTC",
        "  fired:        2026-03-02 08:15:00 UTC",
        "  resolved:     -",
        "  alert id:     a1b2c3d4e5f60718-20260302T080000Z",
        "  details:      GET /v1/alerts/a1b2c3d4e5f60718-20260302T080000Z",
        "",
        "[RESOLVED] energy_evasion - site berlin-office",
        "  severity:     critical",
        "  state:        resolved",
        "  summary:      main-1 minus sub-meters: 412.50 kWh (12.40 %) unmetered",
        "  first seen:   2026-03-01 23:00:00 UTC",
        "  fired:        2026-03-01 23:00:00 UTC",
        "  resolved:     2026-03-02 08:15:00 UTC",
        "  muted:        inhibited by a1b2c3d4e5f60718-20260302T080000Z",
        "  alert id:     ffee000011112222-20260301T230000Z",
        "  details:      GET /v1/alerts/ffee000011112222-20260301T230000Z",
        "",
    ]


def test_the_facts_are_sorted_json_with_the_exact_decimal_text() -> None:
    body = render(grouped()).body
    assert body.endswith("\n}\n")
    assert body.split(f"\n{FACTS_MARKER}\n")[1] == json.dumps(facts_of(body), sort_keys=True, indent=2) + "\n"
    assert facts_of(body) == {
        "account_id": "acct-a",
        "site_id": "berlin-office",
        "at": "2026-03-02T08:15:30+00:00",
        "alerts": [
            {
                "id": "a1b2c3d4e5f60718-20260302T080000Z",
                "reason": "firing",
                "kind": "communication",
                "state": "firing",
                "severity": "warning",
                "subject": {"kind": "meter", "id": "m-7", "site_id": "berlin-office"},
                "summary": "m-7: no reading for 45 min (3 intervals)",
                "facts": {"gap_minutes": "45", "gap_start": "2026-03-02T08:00:00+00:00"},
                "first_seen": "2026-03-02T08:00:00+00:00",
                "last_seen": "2026-03-02T08:15:00+00:00",
                "fired_at": "2026-03-02T08:15:00+00:00",
                "resolved_at": None,
                "acknowledged_at": None,
                "inhibited": False,
                "silenced": False,
            },
            {
                "id": "ffee000011112222-20260301T230000Z",
                "reason": "resolved",
                "kind": "energy_evasion",
                "state": "resolved",
                "severity": "critical",
                "subject": {"kind": "site", "id": "berlin-office", "site_id": "berlin-office"},
                "summary": "main-1 minus sub-meters: 412.50 kWh (12.40 %) unmetered",
                "facts": {
                    "unmetered_kwh": "412.50",
                    "unmetered_percent": "12.40",
                    "sub_meters": "sub-1,sub-2",
                },
                "first_seen": "2026-03-01T23:00:00+00:00",
                "last_seen": "2026-03-02T08:00:00+00:00",
                "fired_at": "2026-03-01T23:00:00+00:00",
                "resolved_at": "2026-03-02T08:15:00+00:00",
                "acknowledged_at": None,
                "inhibited": True,
                "silenced": False,
            },
        ],
    }


def test_a_resolved_only_message_about_one_alert() -> None:
    cleared = quiet_meter(state="resolved", resolved_at=T0 + timedelta(hours=3), summary="m-7 reports again")
    message = render(
        Notification(
            "acct-a", "berlin-office", T0 + timedelta(hours=3), (NotificationItem("resolved", cleared),)
        )
    )
    assert (
        message.subject == "[warning] meterbill: communication resolved for meter m-7 at site berlin-office"
    )
    assert message.attributes["state"] == '["resolved"]'
    assert message.attributes["kind"] == '["communication"]'
    assert "\n  resolved:     2026-03-02 11:00:00 UTC\n" in message.body
    assert facts_of(message.body)["alerts"][0]["resolved_at"] == "2026-03-02T11:00:00+00:00"


def test_a_message_without_a_site_says_none_in_its_attribute_and_null_in_its_facts() -> None:
    collector = Subject("collector", "gw-1")
    alert = quiet_meter(kind="collector_offline", subject=collector, severity="critical")
    items = (NotificationItem("firing", alert), NotificationItem("reminder", quiet_meter(subject=collector)))
    message = render(Notification("acct-a", None, T0, items))
    assert message.subject == "[critical] meterbill: 2 alerts in account acct-a (1 firing, 1 reminder)"
    assert message.attributes["site_id"] == "none"
    assert message.attributes["state"] == '["firing","reminder"]'
    assert facts_of(message.body)["site_id"] is None
    assert message.body.startswith("meterbill alerts of account acct-a, no site\n")


def test_silenced_and_acknowledged_alerts_say_so() -> None:
    alert = quiet_meter(
        silenced=True,
        silenced_by=("s-1",),
        acknowledged_at=T0 + timedelta(minutes=20),
        acknowledged_by="ops@example.com",
    )
    body = render(Notification("acct-a", "berlin-office", T0, (NotificationItem("resolved", alert),))).body
    assert (
        "\n  acknowledged: 2026-03-02 08:20:00 UTC by ops@example.com\n  muted:        silenced by s-1\n"
        in body
    )
    assert facts_of(body)["alerts"][0]["acknowledged_at"] == "2026-03-02T08:20:00+00:00"
    assert facts_of(body)["alerts"][0]["silenced"] is True


def test_long_ids_are_shortened_to_fit_the_subject_keeping_the_counts() -> None:
    site = "site-with-a-rather-long-identifier-that-never-ends-" + "x" * 13  # 64 characters
    notification = replace(grouped(), site_id=site)
    subject = render(notification).subject
    head, tail = "[critical] meterbill: 2 alerts at site ", " (1 firing, 1 resolved)"
    kept = SUBJECT_LIMIT - len(head) - len(tail) - len("...")  # 99 - 39 - 23 - 3 = 34
    assert subject == f"{head}{site[:kept]}...{tail}"
    assert site[:kept] == "site-with-a-rather-long-identifier"
    assert len(subject) == SUBJECT_LIMIT


def test_one_alert_with_two_long_ids_shortens_both() -> None:
    meter = Subject("meter", "m" * 64, site_id="s" * 64)
    message = render(
        Notification("acct-a", "s" * 64, T0, (NotificationItem("firing", quiet_meter(subject=meter)),))
    )
    head = "[warning] meterbill: communication firing for meter "
    shortened = (99 - len(head) - len(" at site ")) // 2 - 3  # both ids the same length, ending in "..."
    assert message.subject == f"{head}{'m' * shortened}... at site {'s' * shortened}..."
    assert len(message.subject) <= SUBJECT_LIMIT


def test_the_subject_is_printable_ascii_whatever_the_summary_and_ids_hold() -> None:
    meter = Subject("meter", "zähler\n7", site_id="münchen-süd")
    message = render(
        Notification("acct-a", "münchen-süd", T0, (NotificationItem("firing", quiet_meter(subject=meter)),))
    )
    assert (
        message.subject == "[warning] meterbill: communication firing for meter zahler 7 at site munchen-sud"
    )
    assert message.attributes["site_id"] == "münchen-süd"  # attributes keep the ids as they are


def test_a_multi_line_summary_stays_on_its_line() -> None:
    alert = quiet_meter(summary=f"first line\n{FACTS_MARKER}\nnot a marker")
    message = render(Notification("acct-a", "berlin-office", T0, (NotificationItem("firing", alert),)))
    assert f"  summary:      first line {FACTS_MARKER} not a marker\n" in message.body
    assert facts_of(message.body)["alerts"][0]["summary"] == f"first line\n{FACTS_MARKER}\nnot a marker"


def test_a_message_too_big_for_sns_shows_the_first_alerts_and_counts_the_rest() -> None:
    facts = {f"fact_{n:03}": "1234567890.123456" * 4 for n in range(120)}  # about 9 KB of facts an alert
    items = tuple(
        NotificationItem(
            "firing",
            quiet_meter(
                id=f"alert-{n:03}", subject=Subject("meter", f"m-{n:03}", "berlin-office"), facts=facts
            ),
        )
        for n in range(60)
    )
    message = render(Notification("acct-a", "berlin-office", T0, items))
    document = facts_of(message.body)
    shown = len(document["alerts"])
    assert len(message.body.encode("utf-8")) <= MESSAGE_LIMIT
    assert 20 < shown < 60
    assert document["omitted"] == 60 - shown
    assert [a["id"] for a in document["alerts"]] == [f"alert-{n:03}" for n in range(shown)]
    assert (
        f"\n... and {60 - shown} alerts more, left out of this message: "
        "GET /v1/alerts?site_id=berlin-office\n" in message.body
    )
    assert message.subject == "[warning] meterbill: 60 alerts at site berlin-office (60 firing)"


def test_facts_of_a_body_without_the_marker_is_an_error() -> None:
    with pytest.raises(ValueError, match="facts"):
        facts_of("just text\n")


def test_a_notification_without_items_is_not_rendered() -> None:
    with pytest.raises(ValueError, match="without items"):
        render(Notification("acct-a", None, T0, ()))


def test_a_collectors_warning_reads_as_one_line_and_keeps_its_text_exactly_in_the_facts() -> None:
    warning = "spool at its 512 MB quota:\n8,640 unsent reads of main thinned to hourly"  # a line break too
    beat = Heartbeat("gw-1", T0, (), "berlin-office", (warning,))
    (finding,) = collector_warnings([beat], T0)
    book, _ = advance(AlertBook("acct-a"), [finding], T0)
    _, (notification,) = advance(book, [], T0 + timedelta(seconds=30))

    message = render(notification)

    assert message.subject == (
        "[warning] meterbill: collector_warning firing for collector gw-1 at site berlin-office"
    )
    assert message.attributes["kind"] == '["collector_warning"]'
    assert (
        "\n  summary:      collector gw-1: warns: spool at its 512 MB quota: 8,640 unsent reads of main "
        "thinned to hourly\n" in message.body
    )
    assert facts_of(message.body)["alerts"][0]["facts"] == {
        "reported_at": "2026-03-02T08:00:00+00:00",
        "warning_count": "1",
        "warning_1": warning,
    }
