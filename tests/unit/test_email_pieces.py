"""The small parts of emailing: the billing settings' email section, pacing below SES's rate, the backoff of
a throttled send, SES's event records parsed into states."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from meterbill.adapters.ses import parse_event
from meterbill.email_wiring import Pacer
from meterbill.errors import InvalidInputError
from meterbill.services import billing_settings
from meterbill.services.delivery import throttle_backoff


def test_the_email_settings_name_the_field_at_fault() -> None:
    with pytest.raises(InvalidInputError) as error:
        billing_settings.validated({"email": {"sender": "not-an-address"}})
    assert (error.value.field, error.value.reason) == (
        "email.sender",
        "'not-an-address' is not an email address (expected name@domain.tld)",
    )
    settings = billing_settings.validated(
        {"email": {"sender": "rechnung@hpo.example", "cc": ["a@b.example"]}}
    )
    assert settings.email is not None and (settings.email.sender, settings.email.cc) == (
        "rechnung@hpo.example",
        ("a@b.example",),
    )


def test_the_pacer_lets_rate_calls_a_second_through() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = Pacer(4.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        pacer.wait()
    assert (slept, now[0]) == ([0.25, 0.25, 0.25, 0.25], 101.0)  # 5 sends in 1 s at 4 a second


def test_a_throttled_send_backs_off_doubling_to_fifteen_minutes_jittered_to_half() -> None:
    assert [throttle_backoff(n, jitter=1.0 - 1e-9).total_seconds() for n in (1, 2, 3)] == pytest.approx(
        [20, 40, 80]
    )
    assert throttle_backoff(1, jitter=0.0) == timedelta(seconds=20) * 0.5
    assert throttle_backoff(30, jitter=0.0) == timedelta(minutes=15) * 0.5


def test_an_ses_bounce_becomes_bounced_with_its_type_and_diagnostic() -> None:
    event = parse_event(
        {
            "eventType": "Bounce",
            "mail": {
                "timestamp": "2026-03-01T09:00:00.000Z",
                "messageId": "0102-abc",
                "tags": {"meterbill-invoice": ["inv-1"], "ses:configuration-set": ["meterbill-dev-email"]},
            },
            "bounce": {
                "bounceType": "Permanent",
                "bounceSubType": "NoEmail",
                "bouncedRecipients": [{"emailAddress": "x@example.org", "diagnosticCode": "smtp; 550 5.1.1"}],
                "timestamp": "2026-03-01T09:00:02.500Z",
            },
        }
    )
    assert (event.state, event.message_id, event.detail, event.at, event.tags["meterbill-invoice"]) == (
        "bounced",
        "0102-abc",
        "Permanent/NoEmail: smtp; 550 5.1.1",
        datetime(2026, 3, 1, 9, 0, 2, 500000, tzinfo=UTC),
        "inv-1",
    )


def test_an_ses_notification_and_a_click_event_are_read_too() -> None:
    complaint = parse_event(
        {
            "notificationType": "Complaint",
            "mail": {"messageId": "m"},
            "complaint": {"complaintFeedbackType": "abuse"},
        }
    )
    click = parse_event({"eventType": "Click", "mail": {"messageId": "m"}, "click": {}})
    assert (complaint.state, complaint.detail, click.state) == ("complained", "abuse", None)
    with pytest.raises(ValueError, match="not an SES event"):
        parse_event({"Type": "SubscriptionConfirmation"})
