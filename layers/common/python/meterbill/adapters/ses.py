"""Mailer on Amazon SES v2: ``SendEmail`` with ``Content.Raw`` (a MIME message built with the stdlib ``email``
package: a text part and the attachments as they are), the configuration set that publishes the delivery
events, and the email's tags as SES message tags (they come back with every event).

SES has no idempotency key, so this adapter never sends twice on its own: botocore's retries are off
(``total_max_attempts = 1``). A throttling or quota answer (nothing was sent) is ``MailThrottledError``; a
refusal for good (an unverified identity, a malformed message) is ``MailRejectedError``. Anything else, a
timeout or a lost connection included, is raised as it is: SES may or may not have sent the email, and the
caller's claim and SES's ``Send`` event decide (``services.delivery``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Final

from meterbill.ports import Mailer, MailRejectedError, MailThrottledError, OutgoingEmail

# SES answers that mean "not now, nothing sent": the send rate, the daily quota, sending paused a while.
THROTTLED_CODES: Final = frozenset(
    {"TooManyRequestsException", "LimitExceededException", "Throttling", "SendingPausedException"}
)
# Refusals that sending the same email again will not change.
REJECTED_CODES: Final = frozenset(
    {
        "MessageRejected",
        "MailFromDomainNotVerifiedException",
        "AccountSuspendedException",
        "BadRequestException",
        "NotFoundException",
    }
)


def mime_message(email: OutgoingEmail, *, message_id_domain: str | None = None) -> EmailMessage:
    """The email as MIME: headers, a text/plain part (and text/html if given), the attachments base64."""
    message = EmailMessage()
    message["From"] = email.sender
    message["To"] = ", ".join(email.to)
    if email.cc:
        message["Cc"] = ", ".join(email.cc)
    if email.reply_to:
        message["Reply-To"] = email.reply_to
    message["Subject"] = email.subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=message_id_domain or _domain_of(email.sender))
    message.set_content(email.text)
    if email.html is not None:
        message.add_alternative(email.html, subtype="html")
    for attachment in email.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        message.add_attachment(
            attachment.body,
            maintype=maintype,
            subtype=subtype or "octet-stream",
            filename=attachment.filename,
        )
    return message


class SesMailer(Mailer):
    def __init__(
        self,
        *,
        region: str,
        configuration_set: str | None,
        endpoint_url: str | None = None,
        client: Any | None = None,
    ) -> None:
        self._region = region
        self._endpoint_url = endpoint_url
        self._configuration_set = configuration_set
        self._client = client
        self._v1: Any | None = None

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = self._make("sesv2")
        return self._client

    def _make(self, service: str) -> Any:
        import boto3  # type: ignore[import-untyped]  # only a function that sends email pays for it
        from botocore.config import Config  # type: ignore[import-untyped]

        # One attempt: a retried SendEmail whose first answer was lost sends the email twice.
        config = Config(
            retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=20
        )
        return boto3.client(service, region_name=self._region, endpoint_url=self._endpoint_url, config=config)

    def send(self, email: OutgoingEmail) -> str:
        return self.send_raw(email, mime_message(email).as_bytes())

    def send_raw(self, email: OutgoingEmail, raw: bytes) -> str:
        """Sends ``raw`` (``email`` as MIME) to ``email``'s recipients with its tags."""
        from botocore.exceptions import ClientError  # type: ignore[import-untyped]

        request: dict[str, Any] = {
            "FromEmailAddress": address_of(email.sender),
            "Destination": {"ToAddresses": list(email.to), "CcAddresses": list(email.cc)},
            "Content": {"Raw": {"Data": raw}},
            "EmailTags": _tags(email.tags),
        }
        if self._configuration_set:
            request["ConfigurationSetName"] = self._configuration_set
        try:
            answer = self.client.send_email(**request)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            message = error.response.get("Error", {}).get("Message", "") or code
            if code in THROTTLED_CODES:
                raise MailThrottledError(f"{code}: {message}") from error
            if code in REJECTED_CODES:
                raise MailRejectedError(f"{code}: {message}") from error
            raise
        return str(answer["MessageId"])

    def max_send_rate(self) -> float:
        """The account's SES send rate (emails a second, ``GetSendQuota.MaxSendRate``)."""
        if self._v1 is None:
            self._v1 = self._make("ses")
        return float(self._v1.get_send_quota()["MaxSendRate"])


def _tags(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Name": name, "Value": value} for name, value in sorted(tags.items())]


def address_of(sender: str) -> str:
    """``Name <address>`` or ``address``: SES wants the address (the display name is in the MIME From)."""
    from email.utils import parseaddr

    return parseaddr(sender)[1] or sender


def _domain_of(sender: str) -> str:
    return address_of(sender).rpartition("@")[2] or "meterbill.invalid"


# --- SES event publishing (through SNS) --------------------------------------------------------------------

# SES's event types and the delivery state each means; others (Open, Click, DeliveryDelay, Subscription)
# change no state.
EVENT_STATES: Final[Mapping[str, str]] = {
    "Send": "sent",
    "Delivery": "delivered",
    "Bounce": "bounced",
    "Complaint": "complained",
    "Reject": "failed",
    "Rendering Failure": "failed",
}


@dataclass(frozen=True, slots=True)
class SesEvent:
    """One SES event as the delivery service needs it: the email's tags, SES's message id, the state the
    event means, when it happened and why (a bounce's type and diagnostic, a complaint's feedback type)."""

    event_type: str
    tags: Mapping[str, str]
    message_id: str | None
    state: str | None
    at: datetime | None
    detail: str | None


def parse_event(message: Mapping[str, Any]) -> SesEvent:
    """An SES event publishing record (the SNS message's JSON): ``eventType`` (or ``notificationType`` of
    SES notifications), ``mail.messageId``, ``mail.tags`` (each a list: the first value is taken) and the
    event's own object. ValueError when it is not an SES event at all."""
    event_type = message.get("eventType") or message.get("notificationType")
    mail = message.get("mail")
    if not isinstance(event_type, str) or not isinstance(mail, Mapping):
        raise ValueError("not an SES event: no eventType and mail")
    raw_tags = mail.get("tags") or {}
    tags = {
        str(name): str(values[0] if isinstance(values, list) and values else values)
        for name, values in raw_tags.items()
    }
    body = message.get(_EVENT_KEYS.get(event_type, ""), {}) or {}
    when = body.get("timestamp") or mail.get("timestamp")
    return SesEvent(
        event_type=event_type,
        tags=tags,
        message_id=mail.get("messageId"),
        state=EVENT_STATES.get(event_type),
        at=_moment(when),
        detail=_detail(event_type, body),
    )


_EVENT_KEYS: Final = {
    "Send": "send",
    "Delivery": "delivery",
    "Bounce": "bounce",
    "Complaint": "complaint",
    "Reject": "reject",
    "Rendering Failure": "failure",
}


def _detail(event_type: str, body: Mapping[str, Any]) -> str | None:
    if event_type == "Bounce":
        recipients = body.get("bouncedRecipients") or [{}]
        first = recipients[0]
        why = first.get("diagnosticCode") or first.get("emailAddress") or ""
        return f"{body.get('bounceType', '?')}/{body.get('bounceSubType', '?')}: {why}".rstrip(": ")
    if event_type == "Complaint":
        return str(body.get("complaintFeedbackType") or "complaint")
    if event_type == "Reject":
        return f"rejected by SES: {body.get('reason', '?')}"
    if event_type == "Rendering Failure":
        return f"rendering failed: {body.get('errorMessage', '?')}"
    return None


def _moment(text: object) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None
