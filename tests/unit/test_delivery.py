"""Emailing stored invoices: one email per attempt whatever crashes, throttling that only delays, the
provider's events moving the delivery state, resends recorded as such (``services.delivery``, on fakes)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from meterbill.billing_settings import BillingSettings
from meterbill.documents.email import DocumentMail, document_email
from meterbill.errors import InvalidInputError, InvalidStateError
from meterbill.services import billing_settings
from meterbill.services import delivery as service
from meterbill.services.delivery import DeliveryDeferred, from_tag_value, tag_value
from tests.unit.delivery_support import (
    INVOICE,
    NOW,
    PDF_BYTES,
    SENDER,
    A,
    Crash,
    CrashAfterSend,
    CrashBeforeSend,
    World,
)


@pytest.fixture
def world() -> World:
    w = World()
    w.store_pdf()
    return w


def test_the_email_carries_exactly_the_stored_pdf_to_the_customer_with_the_accounts_cc(world: World) -> None:
    world.queue_delivery()
    done = world.deliver()

    [(message_id, email)] = world.mailer.sent
    assert done.sent is True
    assert (email.sender, email.to, email.cc) == (
        SENDER,
        ("alice@example.org",),
        ("buchhaltung@hpo.example",),
    )
    assert [(a.filename, a.content_type, a.body) for a in email.attachments] == [
        ("HPO-2026-000001.pdf", "application/pdf", PDF_BYTES)
    ]
    assert email.subject == "Rechnung HPO-2026-000001 – Hausverwaltung Ost GmbH"
    assert dict(email.tags) == {
        "meterbill-account": "hpo",
        "meterbill-invoice": "inv-2026-01-alice",
        "meterbill-attempt": "1",
    }
    record = world.record()
    assert (record.state, record.kind, record.message_id, record.sent_at, record.claims) == (
        "sent",
        "first",
        message_id,
        NOW,
        1,
    )
    assert world.invoices.get(A, INVOICE).state == "delivered"


def test_the_german_body_names_period_total_due_date_and_reference(world: World) -> None:
    world.queue_delivery()
    world.deliver()
    [(_, email)] = world.mailer.sent
    # Issued 2026-02-17 with 14 days to pay: due 2026-03-03. The period [2026-01-15, 2026-02-15) ends 02-14.
    assert email.text == (
        "Guten Tag Alice Müller,\n\n"
        "anbei erhalten Sie unsere Rechnung HPO-2026-000001 für den Zeitraum 15.01.2026 – 14.02.2026.\n\n"
        "Betrag: 1.234,50\xa0€\n"
        "Fällig am: 3. März 2026\n"
        "Verwendungszweck: HPO-2026-000001\n\n"
        "Mit freundlichen Grüßen\n"
        "Hausverwaltung Ost GmbH\n"
    )


def test_the_english_email_formats_for_english() -> None:
    text = document_email(
        DocumentMail(
            kind="credit_note",
            number="CN-000007",
            period_start=date(2026, 1, 1),
            period_end=date(2026, 2, 1),
            total=Decimal("-12.5"),
            currency="EUR",
            due_date=None,
            reference="CN-000007",
            seller_name="Acme Power",
            customer_name="Bob",
            language="en",
        )
    )
    assert text.subject == "Credit note CN-000007 – Acme Power"
    assert text.body == (
        "Dear Bob,\n\nplease find attached credit note CN-000007 for the period 1 Jan 2026 – 31 Jan 2026.\n\n"
        "Total: -€12.50\nPayment reference: CN-000007\n\nKind regards\nAcme Power\n"
    )


def test_delivering_an_attempt_again_sends_nothing(world: World) -> None:
    world.queue_delivery()
    world.deliver()
    again = world.deliver(now=NOW + timedelta(hours=1))
    assert (again.sent, len(world.mailer.sent)) == (False, 1)


def test_queueing_the_first_delivery_twice_keeps_one_attempt(world: World) -> None:
    first = world.queue_delivery()
    again = world.queue_delivery(now=NOW + timedelta(minutes=5))
    assert (first, [r.attempt for r in world.stores.deliveries.of_invoice(A, INVOICE)]) == (again, [1])


def test_crash_after_the_claim_before_the_send_sends_one_email_once_the_claim_settles(world: World) -> None:
    world.queue_delivery()
    with pytest.raises(Crash):
        world.deliver(mailer=CrashBeforeSend())
    assert (world.record().state, world.record().claimed_at) == ("sending", NOW)

    # SQS delivers the message again after its visibility timeout: no Send event yet, the claim is 5 minutes
    # old - it may have been sent, so wait until 15 minutes after the claim.
    with pytest.raises(DeliveryDeferred) as deferred:
        world.deliver(now=NOW + timedelta(minutes=5))
    assert deferred.value.delay == timedelta(minutes=15) - timedelta(minutes=5)
    assert world.mailer.sent == []

    done = world.deliver(now=NOW + timedelta(minutes=15))
    assert (done.sent, len(world.mailer.sent), world.record().state, world.record().claims) == (
        True,
        1,
        "sent",
        2,
    )
    assert world.invoices.get(A, INVOICE).state == "delivered"


def test_crash_after_the_send_before_recording_sends_one_email(world: World) -> None:
    world.queue_delivery()
    crashing = CrashAfterSend()
    with pytest.raises(Crash):
        world.deliver(mailer=crashing)
    [(message_id, _)] = crashing.sent
    assert (world.record().state, world.record().message_id) == ("sending", None)

    # Redelivered before the Send event arrived: still undecided, nothing is sent.
    with pytest.raises(DeliveryDeferred):
        world.deliver(now=NOW + timedelta(minutes=1))
    # SES's Send event (tagged with account, invoice and attempt) records what the worker could not.
    world.event("sent", at=NOW + timedelta(minutes=2), message_id=message_id)
    done = world.deliver(now=NOW + timedelta(minutes=16))

    assert (done.sent, len(crashing.sent) + len(world.mailer.sent)) == (False, 1)
    assert (world.record().state, world.record().message_id) == ("sent", message_id)
    assert world.invoices.get(A, INVOICE).state == "delivered"


def test_a_claim_taken_over_three_times_without_a_send_event_fails_as_unknown_and_never_sends(
    world: World,
) -> None:
    world.queue_delivery()
    for n in range(3):
        with pytest.raises(Crash):
            world.deliver(mailer=CrashBeforeSend(), now=NOW + n * timedelta(minutes=15))
    done = world.deliver(now=NOW + timedelta(minutes=45))
    assert (done.sent, world.mailer.sent, done.record.state, done.record.claims) == (False, [], "failed", 3)
    assert done.record.detail is not None and done.record.detail.startswith("unknown: claimed 3 times")


def test_a_send_event_after_an_unknown_failure_records_the_email_as_sent(world: World) -> None:
    world.queue_delivery()
    for n in range(3):
        with pytest.raises(Crash):
            world.deliver(mailer=CrashBeforeSend(), now=NOW + n * timedelta(minutes=15))
    world.deliver(now=NOW + timedelta(minutes=45))
    world.event("sent", message_id="late-0001", at=NOW + timedelta(minutes=50))
    assert (world.record().state, world.record().message_id) == ("sent", "late-0001")


def test_throttling_many_times_does_not_count_towards_the_unknown_claims(world: World) -> None:
    world.queue_delivery()
    world.mailer.throttle = 5
    for n in range(5):
        with pytest.raises(DeliveryDeferred):
            world.deliver(now=NOW + n * timedelta(minutes=1))
    with pytest.raises(Crash):
        world.deliver(mailer=CrashBeforeSend(), now=NOW + timedelta(minutes=5))
    done = world.deliver(now=NOW + timedelta(minutes=20))  # the crashed claim settled: sent, not "unknown"
    assert (done.sent, done.record.state, done.record.claims) == (True, "sent", 2)


def test_throttled_sends_go_out_once_later_without_touching_the_document(world: World) -> None:
    world.queue_delivery()
    world.mailer.throttle = 2
    for n in range(2):
        with pytest.raises(DeliveryDeferred) as deferred:
            world.deliver(now=NOW + n * timedelta(seconds=30))
        assert (deferred.value.delay, world.record().state) == (None, "queued")
    done = world.deliver(now=NOW + timedelta(minutes=1))
    assert (done.sent, len(world.mailer.sent), world.record().claims) == (True, 1, 1)  # throttled: given back
    assert (world.documents.puts, world.invoices.get(A, INVOICE).number) == (1, "HPO-2026-000001")


def test_a_rejected_send_fails_for_good_and_the_invoice_stays_stored(world: World) -> None:
    world.queue_delivery()
    world.mailer.reject = "Email address is not verified."
    done = world.deliver()
    assert (done.record.state, done.record.detail) == ("failed", "rejected: Email address is not verified.")
    assert world.invoices.get(A, INVOICE).state == "stored"
    world.mailer.reject = None
    assert world.deliver(now=NOW + timedelta(hours=1)).sent is False


def test_delivery_bounce_and_complaint_events_move_the_state_forward_only(world: World) -> None:
    world.queue_delivery()
    message_id = world.deliver().record.message_id
    world.event("delivered", message_id=message_id, at=NOW + timedelta(seconds=5))
    assert world.record().state == "delivered"
    world.event("sent", message_id=message_id, at=NOW + timedelta(seconds=6))  # late Send event
    assert world.record().state == "delivered"
    world.event("complained", message_id=message_id, detail="abuse", at=NOW + timedelta(days=1))
    before = world.record()
    world.event("complained", message_id=message_id, detail="abuse", at=NOW + timedelta(days=2))  # again
    assert (before.state, before.detail, world.record()) == ("complained", "abuse", before)


def test_a_bounce_is_recorded_with_its_reason(world: World) -> None:
    world.queue_delivery()
    message_id = world.deliver().record.message_id
    world.event("bounced", message_id=message_id, detail="Permanent/General: 550 5.1.1 user unknown")
    assert (world.record().state, world.record().detail) == (
        "bounced",
        "Permanent/General: 550 5.1.1 user unknown",
    )


def test_an_event_of_another_message_with_our_tags_changes_nothing(world: World) -> None:
    world.queue_delivery()
    world.deliver()
    before = world.record()
    world.event("bounced", message_id="someone-elses")
    assert world.record() == before


def test_an_event_for_an_unknown_attempt_is_none(world: World) -> None:
    assert world.event("delivered", attempt=9, message_id="m") is None


def test_a_resend_sends_a_second_email_of_the_same_stored_pdf_recorded_as_resend(world: World) -> None:
    world.queue_delivery()
    world.deliver()
    resend = world.queue_delivery("resend", now=NOW + timedelta(days=3))
    done = world.deliver(resend.attempt, now=NOW + timedelta(days=3))

    assert (resend.attempt, resend.kind, done.sent, done.record.state) == (2, "resend", True, "sent")
    [(_, first), (_, second)] = world.mailer.sent
    assert second.attachments == first.attachments
    assert second.subject == "Rechnung HPO-2026-000001 – Hausverwaltung Ost GmbH (erneut gesendet)"
    assert second.tags["meterbill-attempt"] == "2"
    assert [(w.invoice_id, w.attempt) for w in world.queue.sent] == [(INVOICE, 1), (INVOICE, 2)]


def test_an_invoice_whose_pdf_is_not_stored_is_not_queued() -> None:
    world = World()
    with pytest.raises(InvalidStateError) as error:
        world.queue_delivery()
    assert (error.value.state, world.queue.sent) == ("issued", [])


def test_a_customer_without_an_address_is_refused_naming_the_field(world: World) -> None:
    stored = world.stores.catalog.get(A, "customer", "c-alice")
    world.stores.catalog.replace(A, "customer", "c-alice", {**stored.body, "emails": []}, if_match=None)
    with pytest.raises(InvalidInputError) as error:
        world.queue_delivery()
    assert (error.value.field, error.value.reason) == (
        "emails",
        "customer 'c-alice' has no email address to send to",
    )


def test_a_pdf_whose_bytes_changed_is_not_sent(world: World) -> None:
    world.queue_delivery()
    key = (A, f"invoices/{INVOICE}.pdf")
    body, stored = world.documents.objects[key]
    world.documents.objects[key] = (body + b" ", stored)
    with pytest.raises(Exception, match="does not have the SHA-256"):
        world.deliver()
    assert (world.mailer.sent, world.record().state) == ([], "queued")


def test_ids_become_ses_tag_values_and_back() -> None:
    assert tag_value("inv:2026.01_x") == "inv_003A2026_002E01_005Fx"
    assert from_tag_value(tag_value("inv:2026.01_x")) == "inv:2026.01_x"


def first_deliveries(world: World, settings: BillingSettings) -> service.FirstDeliveries:
    return service.queue_first_deliveries(
        A,
        [INVOICE],
        invoices=world.invoices,
        catalog=world.stores.catalog,
        settings=settings,
        deliveries=world.stores.deliveries,
        queue=world.queue,
        now=NOW,
    )


def test_first_deliveries_are_queued_for_stored_invoices(world: World) -> None:
    report = first_deliveries(world, billing_settings.settings_of(A, world.stores.accounts))
    assert ([(r.invoice_id, r.attempt, r.kind) for r in report.queued], report.skipped) == (
        [(INVOICE, 1, "first")],
        (),
    )
    assert [(w.invoice_id, w.attempt) for w in world.queue.sent] == [(INVOICE, 1)]


def test_an_account_without_a_sender_skips_its_first_deliveries_saying_why(world: World) -> None:
    settings = billing_settings.settings_of(A, world.stores.accounts).model_copy(update={"email": None})
    report = first_deliveries(world, settings)
    assert (report.queued, report.skipped, world.queue.sent) == (
        (),
        (
            (
                INVOICE,
                "email: the account's billing settings name no sender: "
                "set email.sender to a verified identity",
            ),
        ),
        [],
    )
