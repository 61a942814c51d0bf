"""Alert emails on the local platform: SNS is moto, which sends no email, so every alert published to
the topic is also written into the mail folder (``local/mail.py``'s, default ``./mail``) as the ``.eml``
each email subscriber whose filter policy admits it would receive from SNS: sender "AWS Notifications",
the message's subject, its body and SNS's unsubscribe footer.

``local.alerts.deliver_alert_mail`` reads what the topic published (from a queue subscribed to it) and the
topic's email subscriptions (``sns_email_subscribers``: ListSubscriptionsByTopic and
GetSubscriptionAttributes), and ``write_alert_mail`` writes ``<UTC time>-alert-<recipient>-<SNS message
id>.eml`` per admitted subscriber, matching with ``alerts.subscriptions.admits`` (SNS's rules for the
policies meterbill writes).
"""

from __future__ import annotations

import email.policy
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any, Final

from meterbill.adapters.sns import PENDING_ARN, SnsAlertSubscriptions
from meterbill.alerts.ports import AlertMessage
from meterbill.alerts.subscriptions import admits

SENDER: Final = "AWS Notifications <no-reply@sns.amazonaws.com>"
# An SNS subject (< 100 characters) stays on its header line, unfolded (RFC 5322 allows 998).
_POLICY: Final = email.policy.default.clone(max_line_length=998)
_UNSAFE: Final = re.compile(r"[^A-Za-z0-9._@-]+")
logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EmailSubscriber:
    """A confirmed email subscription of the topic: where mail goes and what its filter admits."""

    email: str
    subscription_arn: str
    filter_policy: Mapping[str, Any] | None  # None: every message


SubscribersSource = Callable[[], Sequence[EmailSubscriber]]


def sns_email_subscribers(subscriptions: SnsAlertSubscriptions) -> SubscribersSource:
    """The topic's confirmed email subscriptions with their filter policies, read from SNS at each call
    (pending ones receive nothing, as in AWS)."""

    def read() -> list[EmailSubscriber]:
        found = []
        for address, arn in subscriptions.email_subscriptions():
            if arn == PENDING_ARN or subscriptions.status(arn) != "confirmed":
                continue
            found.append(EmailSubscriber(address, arn, subscriptions.filter_policy_of(arn)))
        return found

    return read


def alert_email(message: AlertMessage, subscriber: EmailSubscriber, *, at: datetime) -> EmailMessage:
    """The email SNS sends ``subscriber`` for ``message``: the subject, the body and SNS's footer."""
    mail = EmailMessage(policy=_POLICY)
    mail["From"] = SENDER
    mail["To"] = subscriber.email
    mail["Subject"] = message.subject
    mail["Date"] = format_datetime(at.astimezone(UTC), usegmt=True)
    mail["Message-ID"] = make_msgid(domain="email.amazonses.com")
    mail.set_content(message.body + footer(subscriber.subscription_arn))
    return mail


def footer(subscription_arn: str) -> str:
    return (
        "\n--\nIf you wish to stop receiving notifications from this topic, please click or visit the link "
        "below to unsubscribe:\n"
        f"https://sns.amazonaws.com/unsubscribe.html?SubscriptionArn={subscription_arn}\n"
    )


def write_alert_mail(
    mail_dir: Path,
    message: AlertMessage,
    message_id: str,
    subscribers: Sequence[EmailSubscriber],
    *,
    at: datetime,
) -> list[Path]:
    """Writes the ``.eml`` of every subscriber whose filter admits ``message``; the files written."""
    written = []
    stamp = at.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    for subscriber in subscribers:
        if subscriber.filter_policy is not None and not admits(subscriber.filter_policy, message.attributes):
            continue
        mail_dir.mkdir(parents=True, exist_ok=True)
        name = "-".join(_UNSAFE.sub("_", p) for p in (stamp, "alert", subscriber.email, message_id))
        path = mail_dir / f"{name}.eml"
        path.write_bytes(alert_email(message, subscriber, at=at).as_bytes())
        written.append(path)
    return written
