"""Emailing stored invoices and notes: exactly one email per attempt, whatever crashes.

An attempt is queued (``queue_delivery``: a delivery record ``queued`` and a message on the email queue),
then sent by the email worker (``deliver``):

1. The email is built first, from what is stored only: the invoice record, and the PDF's bytes as the
   document store holds them (checked against the SHA-256 recorded when it was queued). Nothing is rendered
   or numbered here, so a throttled or failed send changes no document.
2. The attempt is **claimed**: ``queued -> sending`` with ``claimed_at``, a conditional write on the version
   read. Two workers with the same message never both send.
3. The mailer sends it (SES has no idempotency key), tagged with account, invoice and attempt.
4. The message id is recorded: ``sending -> sent``; the invoice becomes ``delivered``.

SES publishes a ``Send`` event for every email it accepted, with our tags; the events handler
(``record_event``) writes its message id on the record. So after a crash:

- between 2 and 3 (claimed, nothing sent): no ``Send`` event ever comes. While the claim is younger than
  ``RECONCILE_AFTER`` the message is put back (``DeliveryDeferred``); once older, the claim is taken over
  and the email sent: one email.
- between 3 and 4 (sent, not recorded): the ``Send`` event records ``sent`` and the message id; the message
  comes back, finds ``sent`` and sends nothing: one email.
- an answer lost in the network (SES may or may not have sent it) is the same case: the claim stays and the
  ``Send`` event decides.

The trade-off: "no Send event within ``RECONCILE_AFTER`` of the claim" is taken as "not sent". A ``Send``
event later than that (SES publishing or SNS delivery to the events function delayed beyond 15 minutes)
would let a second email out; the other choice, never sending a claimed attempt again, loses the email of
every crash between 2 and 3 instead. After ``MAX_CLAIMS`` claims without a ``Send`` event the attempt is
``failed`` ("unknown") and never sent again: a resend is then a person's decision (a ``Send`` event that
still comes makes it ``sent``). A throttled claim is given back, so throttling never counts towards them.

A throttled send (``MailThrottledError``: nothing went out) releases the claim (``sending -> queued``) and
comes back later with backoff; a rejected one (``MailRejectedError``) is ``failed`` for good.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Final

from meterbill.billing_settings import BillingSettings
from meterbill.documents.email import DocumentMail, ReportMail, document_email, report_email
from meterbill.domain import Customer
from meterbill.errors import InvalidInputError, InvalidStateError, StorageUnavailableError
from meterbill.ports import (
    Attachment,
    AttemptKind,
    CatalogStore,
    DeliveryQueue,
    DeliveryRecord,
    DeliveryState,
    DeliveryStore,
    DeliveryWork,
    DocumentStore,
    InvoiceRecord,
    InvoiceStore,
    Mailer,
    MailRejectedError,
    MailThrottledError,
    NewDelivery,
    OutgoingEmail,
)
from meterbill.services.common import require_aware

RECONCILE_AFTER: Final = timedelta(minutes=15)
MAX_CLAIMS: Final = 3
# A throttled send comes back after 20 s, 40 s, 80 s, ... at most 15 minutes (its nth receive), jittered.
THROTTLE_FIRST_DELAY: Final = timedelta(seconds=20)
THROTTLE_MAX_DELAY: Final = timedelta(minutes=15)
WRITE_ATTEMPTS: Final = 5
PDF: Final = "application/pdf"
# The tags every email carries (SES message tags: letters, digits, '_' and '-' only; see ``tag_value``).
TAG_ACCOUNT: Final = "meterbill-account"
TAG_INVOICE: Final = "meterbill-invoice"
TAG_ATTEMPT: Final = "meterbill-attempt"
DELIVERABLE_STATES: Final = frozenset({"stored", "delivered"})
SENT_STATES: Final[frozenset[DeliveryState]] = frozenset({"sent", "delivered", "bounced", "complained"})


class DeliveryDeferred(Exception):
    """The attempt cannot be decided or sent now: put its message back for ``delay`` (None: the caller's
    backoff, after throttling)."""

    def __init__(self, reason: str, delay: timedelta | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delay = delay


@dataclass(frozen=True, slots=True)
class Delivered:
    """What ``deliver`` did: the record as it is now, and whether this call sent an email."""

    record: DeliveryRecord
    sent: bool


# --- queueing ----------------------------------------------------------------------------------------------


def queue_delivery(
    account: str,
    invoice_id: str,
    *,
    kind: AttemptKind,
    invoices: InvoiceStore,
    catalog: CatalogStore,
    settings: BillingSettings,
    deliveries: DeliveryStore,
    queue: DeliveryQueue,
    now: datetime,
) -> DeliveryRecord:
    """Queues the first email of a stored invoice (once: again answers the first attempt and sends its
    message again, which the worker sends at most once) or a resend (a new attempt every call). The
    recipients are the customer's addresses and the settings' cc, as they are now. InvalidStateError for an
    invoice that is not stored yet; InvalidInputError when there is nobody to send to or nobody to send as."""
    require_aware(now, "now")
    record = invoices.get(account, invoice_id)
    document = record.document
    if record.state not in DELIVERABLE_STATES or document is None:
        raise InvalidStateError("invoice", invoice_id, record.state, "email it before its PDF is stored")
    if settings.email is None:
        raise InvalidInputError(
            "email", "the account's billing settings name no sender: set email.sender to a verified identity"
        )
    customer = Customer.model_validate(catalog.get(account, "customer", record.customer_id).body)
    if not customer.emails:
        raise InvalidInputError("emails", f"customer {customer.id!r} has no email address to send to")
    queued = deliveries.queue(
        account,
        NewDelivery(
            invoice_id=invoice_id,
            kind=kind,
            to=tuple(customer.emails),
            cc=tuple(a for a in settings.email.cc if a not in customer.emails),
            language=customer.language,
            customer_name=customer.name,
            document_key=document.key,
            document_sha256=document.sha256,
        ),
        at=now,
    )
    queue.send([DeliveryWork(account, invoice_id, queued.attempt)])
    return queued


@dataclass(frozen=True, slots=True)
class FirstDeliveries:
    """What ``queue_first_deliveries`` did: the attempts queued, and the invoices not emailed with why."""

    queued: tuple[DeliveryRecord, ...]
    skipped: tuple[tuple[str, str], ...]  # (invoice id, reason)


def queue_first_deliveries(
    account: str,
    invoice_ids: Sequence[str],
    *,
    invoices: InvoiceStore,
    catalog: CatalogStore,
    settings: BillingSettings,
    deliveries: DeliveryStore,
    queue: DeliveryQueue,
    now: datetime,
) -> FirstDeliveries:
    """The first email of each stored invoice (for the step that stores documents): an account without an
    email sender, a customer without an address, an invoice not stored (yet) are skipped with the reason,
    never an error; queueing one again is harmless (attempt 1 exists once, its worker sends at most once)."""
    queued: list[DeliveryRecord] = []
    skipped: list[tuple[str, str]] = []
    for invoice_id in invoice_ids:
        try:
            queued.append(
                queue_delivery(
                    account,
                    invoice_id,
                    kind="first",
                    invoices=invoices,
                    catalog=catalog,
                    settings=settings,
                    deliveries=deliveries,
                    queue=queue,
                    now=now,
                )
            )
        except (InvalidInputError, InvalidStateError) as error:
            skipped.append((invoice_id, str(error)))
    return FirstDeliveries(tuple(queued), tuple(skipped))


# --- sending -----------------------------------------------------------------------------------------------


def deliver(
    account: str,
    invoice_id: str,
    attempt: int,
    *,
    invoices: InvoiceStore,
    documents: DocumentStore,
    deliveries: DeliveryStore,
    mailer: Mailer,
    settings: BillingSettings,
    now: datetime,
) -> Delivered:
    """Sends the attempt's email at most once (see the module's description); raises DeliveryDeferred
    when it must come back later. An attempt already sent (or failed) sends nothing."""
    require_aware(now, "now")
    for _ in range(WRITE_ATTEMPTS):
        record = deliveries.get(account, invoice_id, attempt)
        if record.state in SENT_STATES:
            _mark_delivered(account, invoice_id, invoices, now)
            return Delivered(record, sent=False)
        if record.state == "failed":
            return Delivered(record, sent=False)
        if record.state == "sending":
            assert record.claimed_at is not None
            settled = record.claimed_at + RECONCILE_AFTER
            if now < settled:
                raise DeliveryDeferred(
                    f"attempt {attempt} of invoice {invoice_id!r} was claimed at "
                    f"{record.claimed_at.isoformat()} and may have been sent: waiting for its Send event",
                    settled - now,
                )
            if record.claims >= MAX_CLAIMS:
                return Delivered(
                    _advance(account, deliveries, record, "failed", now, detail=_unknown(record)), sent=False
                )
        email = build_email(account, record, invoices=invoices, documents=documents, settings=settings)
        claimed = record.claimed(now)
        if not deliveries.update(account, record, claimed):
            continue  # another worker claimed it, or an event arrived: decide again on what is stored
        return Delivered(_send(account, claimed, email, deliveries, mailer, invoices, now), sent=True)
    raise StorageUnavailableError(f"delivering attempt {attempt} of invoice {invoice_id!r}: it kept changing")


def _send(
    account: str,
    claimed: DeliveryRecord,
    email: OutgoingEmail,
    deliveries: DeliveryStore,
    mailer: Mailer,
    invoices: InvoiceStore,
    now: datetime,
) -> DeliveryRecord:
    try:
        message_id = mailer.send(email)
    except MailThrottledError as error:
        if not deliveries.update(account, claimed, claimed.released(now)):
            pass  # changed meanwhile (cannot be a Send event: nothing was sent); the claim settles by time
        raise DeliveryDeferred(f"throttled: {error}") from error
    except MailRejectedError as error:
        return _advance(account, deliveries, claimed, "failed", now, detail=f"rejected: {error.reason}")
    # Anything else (a lost answer) leaves the claim: the Send event or the reconciliation decides.
    sent = _advance(account, deliveries, claimed, "sent", now, message_id=message_id)
    _mark_delivered(account, claimed.invoice_id, invoices, now)
    return sent


def build_email(
    account: str,
    record: DeliveryRecord,
    *,
    invoices: InvoiceStore,
    documents: DocumentStore,
    settings: BillingSettings,
) -> OutgoingEmail:
    """The attempt's email: the stored PDF's bytes as they are (their SHA-256 checked against the one
    recorded when it was queued), a subject and body in the customer's language, our tags."""
    if settings.email is None:
        raise InvalidInputError(
            "email", "the account's billing settings name no sender: set email.sender to a verified identity"
        )
    if is_report_id(record.invoice_id):
        return _report_email(account, record, documents=documents, settings=settings)
    invoice = invoices.get(account, record.invoice_id)
    pdf = documents.get(account, record.document_key)
    if hashlib.sha256(pdf).hexdigest() != record.document_sha256:
        raise StorageUnavailableError(
            f"the stored document {record.document_key!r} does not have the SHA-256 recorded for invoice "
            f"{record.invoice_id!r}: not sending it"
        )
    text = document_email(_mail_of(invoice, record, settings))
    sender = settings.email.sender
    if settings.email.sender_name:
        from email.utils import formataddr

        sender = formataddr((settings.email.sender_name, settings.email.sender))
    return OutgoingEmail(
        sender=sender,
        to=record.to,
        cc=record.cc,
        subject=text.subject,
        text=text.body,
        attachments=(Attachment(text.filename, PDF, pdf),),
        tags=tags_of(account, record.invoice_id, record.attempt),
        reply_to=settings.email.reply_to,
    )


def _mail_of(invoice: InvoiceRecord, record: DeliveryRecord, settings: BillingSettings) -> DocumentMail:
    body = invoice.body
    number = invoice.number or invoice.invoice_id
    # The due date the stored document shows (issue date on the customer's calendar + payment terms); a
    # credit note has nothing to pay.
    due = None
    if invoice.document is not None and invoice.kind != "credit_note":
        due = invoice.document.due_date
    seller = settings.seller
    seller_name = (seller.trading_name or seller.legal_name) if seller is not None else ""
    return DocumentMail(
        kind=invoice.kind,
        number=number,
        period_start=invoice.period_start,
        period_end=invoice.period_end,
        total=Decimal(str(body["total"])),
        currency=str(body["currency"]),
        due_date=due,
        reference=number,
        seller_name=seller_name or (settings.email.sender if settings.email else ""),
        customer_name=record.customer_name,
        language=record.language,
        resend=record.kind == "resend",
    )


def throttle_backoff(receive_count: int, jitter: float) -> timedelta:
    """How long a throttled attempt waits before its ``receive_count + 1``th receive: the first delay
    doubled per receive, at most the maximum, times ``0.5 + jitter / 2`` (``jitter`` in [0, 1)) so emails
    throttled together do not come back together."""
    doubled = THROTTLE_FIRST_DELAY * 2 ** max(0, min(receive_count - 1, 16))
    delay: timedelta = min(THROTTLE_MAX_DELAY, doubled) * (0.5 + jitter / 2)
    return delay


# --- the provider's events ---------------------------------------------------------------------------------


def record_event(
    account: str,
    invoice_id: str,
    attempt: int,
    state: DeliveryState,
    *,
    deliveries: DeliveryStore,
    invoices: InvoiceStore | None,
    at: datetime,
    message_id: str | None = None,
    detail: str | None = None,
) -> DeliveryRecord | None:
    """Moves the attempt to ``state`` if that is further along (a repeated or late event changes nothing)
    and learns its message id; a sent or delivered email makes the invoice ``delivered``. None when the
    account has no such attempt (an event of somebody else's email: the caller logs it)."""
    from meterbill.errors import NotFoundError

    try:
        record = deliveries.get(account, invoice_id, attempt)
    except NotFoundError:
        return None
    if message_id is not None and record.message_id is not None and record.message_id != message_id:
        return record  # an event of another email with our tags: not this attempt's
    record = _advance(account, deliveries, record, state, at, message_id=message_id, detail=detail)
    if invoices is not None and state in ("sent", "delivered"):
        _mark_delivered(account, invoice_id, invoices, at)
    return record


def tags_of(account: str, invoice_id: str, attempt: int) -> Mapping[str, str]:
    return {TAG_ACCOUNT: tag_value(account), TAG_INVOICE: tag_value(invoice_id), TAG_ATTEMPT: str(attempt)}


def tag_value(text: str) -> str:
    """``text`` as an SES tag value (letters, digits, '_', '-'), reversibly: '_' and every other character
    become '_' and its code point in hex, 4 digits (ids may hold '.' and ':')."""
    return "".join(c if (c.isascii() and c.isalnum()) or c == "-" else f"_{ord(c):04X}" for c in text)


def from_tag_value(value: str) -> str:
    """The inverse of ``tag_value``; ValueError for a value it cannot have written."""
    out: list[str] = []
    index = 0
    while index < len(value):
        if value[index] == "_":
            out.append(chr(int(value[index + 1 : index + 5], 16)))
            index += 5
        else:
            out.append(value[index])
            index += 1
    return "".join(out)


# --- helpers -----------------------------------------------------------------------------------------------


def _advance(
    account: str,
    deliveries: DeliveryStore,
    record: DeliveryRecord,
    state: DeliveryState,
    at: datetime,
    *,
    message_id: str | None = None,
    detail: str | None = None,
) -> DeliveryRecord:
    """``record`` moved to ``state`` if further along (conditional writes, read again after a lost race)."""
    current = record
    for _ in range(WRITE_ATTEMPTS):
        new = current.advanced(state, at, message_id=message_id, detail=detail)
        if new is None:
            return current
        if deliveries.update(account, current, new):
            return new
        current = deliveries.get(account, record.invoice_id, record.attempt)
    raise StorageUnavailableError(f"recording {state} of invoice {record.invoice_id!r}: it kept changing")


def _mark_delivered(account: str, invoice_id: str, invoices: InvoiceStore, at: datetime) -> None:
    """The invoice is ``delivered`` (unchanged when it is already); a report has no lifecycle."""
    if not is_report_id(invoice_id):
        invoices.mark_delivered(account, invoice_id, at)


# --- savings reports: the same exactly-once path, a document that is not an invoice ----------------------

# A delivery's ``invoice_id`` is the id of the document it emails: an invoice's or note's (``inv_``,
# ``note_``), or a savings report's, ``report_savings_<schedule>_<first day>`` (``services.savings_reports``).
REPORT_ID_PREFIX: Final = "report_savings_"


def report_id(schedule: str, start: date) -> str:
    return f"{REPORT_ID_PREFIX}{schedule}_{start.isoformat()}"


def is_report_id(document_id: str) -> bool:
    return document_id.startswith(REPORT_ID_PREFIX)


def report_of_id(document_id: str) -> tuple[str, date, date]:
    """The schedule and period [start, end) a report id names; ValueError for another id."""
    from meterbill.billing.savings import schedule_period

    if not is_report_id(document_id):
        raise ValueError(f"{document_id!r} is not a savings report's id")
    schedule, _, first = document_id[len(REPORT_ID_PREFIX) :].partition("_")
    start, end = schedule_period(schedule, date.fromisoformat(first))
    return schedule, start, end


def _report_email(
    account: str, record: DeliveryRecord, *, documents: DocumentStore, settings: BillingSettings
) -> OutgoingEmail:
    """A savings report's email: the stored PDF (its SHA-256 checked), to the recipients fixed at queueing."""
    assert settings.email is not None
    pdf = documents.get(account, record.document_key)
    if hashlib.sha256(pdf).hexdigest() != record.document_sha256:
        raise StorageUnavailableError(
            f"the stored document {record.document_key!r} does not have the SHA-256 recorded for report "
            f"{record.invoice_id!r}: not sending it"
        )
    schedule, start, end = report_of_id(record.invoice_id)
    text = report_email(
        ReportMail(
            schedule=schedule,
            period_start=start,
            period_end=end,
            sender_name=settings.email.sender_name or record.customer_name or settings.email.sender,
            language=record.language,
            resend=record.kind == "resend",
        )
    )
    sender = settings.email.sender
    if settings.email.sender_name:
        from email.utils import formataddr

        sender = formataddr((settings.email.sender_name, settings.email.sender))
    return OutgoingEmail(
        sender=sender,
        to=record.to,
        cc=record.cc,
        subject=text.subject,
        text=text.body,
        attachments=(Attachment(text.filename, PDF, pdf),),
        tags=tags_of(account, record.invoice_id, record.attempt),
        reply_to=settings.email.reply_to,
    )


def _unknown(record: DeliveryRecord) -> str:
    return (
        f"unknown: claimed {record.claims} times, last at "
        f"{record.claimed_at.isoformat() if record.claimed_at else '?'}, and no Send event came: it may or "
        "may not have been sent, so it is not sent again (resend it on purpose)"
    )
