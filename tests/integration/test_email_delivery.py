"""Emailing stored invoices on moto (DynamoDB, S3 with Object Lock, SES v2, SQS), through the email worker's
and the events handler's Lambda handlers: each email carries exactly the stored PDF; a crash after the claim
and before the send, or after the send and before recording it, gives one email; SES throttling only delays;
SES's events move the delivery state; a resend is a second email recorded as such."""

from __future__ import annotations

import email
import email.policy
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from moto.ses.models import ses_backends

from meterbill import email_wiring
from meterbill.adapters.email_queue import SqsDeliveryQueue
from meterbill.adapters.s3 import S3DocumentStore
from meterbill.adapters.ses import SesMailer
from meterbill.ports import AccountRecord, InvoiceRecord, IssuedBody, Mailer, OutgoingEmail, Stores
from meterbill.services import billing_settings
from meterbill.services import delivery as service
from tests.integration.conftest import REGION, Clock
from tests.unit.api_support import LambdaContextStub

A = "hpo"
AWS_ACCOUNT = "123456789012"
BUCKET = "meterbill-invoices"
SENDER = "rechnung@hpo.example"
CONFIGURATION_SET = "meterbill-email"
CUSTOMERS = {"c-alice": "alice@example.org", "c-bob": "bob@example.org", "c-carol": "carol@example.org"}


class Crash(BaseException):
    """The worker's process dies: nothing catches it, the SQS message stays on the queue."""


class CrashingMailer(Mailer):
    """SES, but the process dies before (``before=True``) or after the first send."""

    def __init__(self, mailer: Mailer, *, before: bool) -> None:
        self.mailer, self.before, self.crashed = mailer, before, False

    def send(self, outgoing: OutgoingEmail) -> str:
        if not self.crashed and self.before:
            self.crashed = True
            raise Crash("killed after the claim, before SES was called")
        message_id = self.mailer.send(outgoing)
        if not self.crashed:
            self.crashed = True
            raise Crash("killed after SES accepted the email, before its message id was recorded")
        return message_id


class RecordingQueue(SqsDeliveryQueue):
    """The email queue; ``retry_later`` records the delay asked for and makes the message visible at once
    (moto's visibility runs on the wall clock; the test's clock is moved by hand)."""

    def __init__(self, url: str) -> None:
        super().__init__(url, region=REGION)
        self.delays: list[int] = []

    def retry_later(self, receipt_handle: str, seconds: int) -> None:
        self.delays.append(seconds)
        super().retry_later(receipt_handle, 0)


@dataclass
class World:
    stores: Stores
    clock: Clock
    queue: RecordingQueue
    documents: S3DocumentStore
    mailer: SesMailer
    pdfs: dict[str, bytes] = field(default_factory=dict)

    @property
    def sent(self) -> list[Any]:
        return list(ses_backends[AWS_ACCOUNT][REGION].sent_messages)

    def issue_and_store(self, customer_id: str) -> str:
        invoice_id = f"inv-{customer_id}"
        at = self.clock.now
        self.stores.invoices.put_draft(
            A,
            InvoiceRecord.draft(
                A,
                invoice_id,
                customer_id=customer_id,
                kind="invoice",
                period_start=date(2026, 1, 15),
                period_end=date(2026, 2, 15),
                body={"currency": "EUR", "total": "99.90"},
                at=at,
            ),
        )
        self.stores.invoices.issue(
            A, invoice_id, series="INV-", at=at, render=lambda d, n: IssuedBody(f"INV-{n:06d}", dict(d.body))
        )
        pdf = b"%PDF-1.7\n" + f"{invoice_id} ä ł 中 €".encode() + bytes(range(256)) + b"\n%%EOF\n"
        stored = self.documents.put_once(
            A,
            f"invoices/{invoice_id}.pdf",
            pdf,
            content_type="application/pdf",
            retain_until=datetime.now(UTC) + timedelta(days=1),
        )
        self.stores.invoices.mark_stored(A, invoice_id, stored, at)
        self.pdfs[invoice_id] = pdf
        return invoice_id

    def queue_delivery(self, invoice_id: str, kind: str = "first") -> Any:
        assert self.stores.deliveries is not None
        return service.queue_delivery(
            A,
            invoice_id,
            kind=kind,  # type: ignore[arg-type]
            invoices=self.stores.invoices,
            catalog=self.stores.catalog,
            settings=billing_settings.settings_of(A, self.stores.accounts),
            deliveries=self.stores.deliveries,
            queue=self.queue,
            now=self.clock.now,
        )

    def run_worker(self) -> list[str]:
        """One receive of the email queue handed to the worker as the SQS event source would; the messages
        it did not report failed are deleted. Answers the failed message ids."""
        from functions.invoice import email_worker_handler

        sqs = boto3.client("sqs", region_name=REGION)
        answer = sqs.receive_message(
            QueueUrl=self.queue.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]
        )
        messages = answer.get("Messages", [])
        if not messages:
            return []
        event = {"Records": [_sqs_record(m) for m in messages]}
        result = email_worker_handler.lambda_handler(event, LambdaContextStub())
        failed = [f["itemIdentifier"] for f in result["batchItemFailures"]]
        for message in messages:
            if message["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=self.queue.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return failed

    def ses_event(
        self, event_type: str, invoice_id: str, message_id: str, attempt: int = 1, **body: Any
    ) -> Any:
        """SES's event as its SNS event destination delivers it to the events handler."""
        from functions.invoice import email_events_handler

        tags = {name: [value] for name, value in service.tags_of(A, invoice_id, attempt).items()}
        tags["ses:configuration-set"] = [CONFIGURATION_SET]
        message = {
            "eventType": event_type,
            "mail": {
                "timestamp": self.clock.now.isoformat(),
                "source": SENDER,
                "messageId": message_id,
                "destination": [CUSTOMERS[invoice_id.removeprefix("inv-")]],
                "tags": tags,
            },
            event_type.lower(): {"timestamp": self.clock.now.isoformat(), **body},
        }
        return email_events_handler.lambda_handler(_sns_event(message), LambdaContextStub())

    def delivery(self, invoice_id: str, attempt: int = 1) -> Any:
        assert self.stores.deliveries is not None
        return self.stores.deliveries.get(A, invoice_id, attempt)


def _sqs_record(message: dict[str, Any]) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {},
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:{AWS_ACCOUNT}:meterbill-email",
        "awsRegion": REGION,
    }


def _sns_event(message: dict[str, Any]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"arn:aws:sns:{REGION}:{AWS_ACCOUNT}:meterbill-email-events:sub",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": "sns-1",
                    "TopicArn": f"arn:aws:sns:{REGION}:{AWS_ACCOUNT}:meterbill-email-events",
                    "Subject": None,
                    "Message": json.dumps(message),
                    "Timestamp": "2026-03-01T09:00:00.000Z",
                    "SignatureVersion": "1",
                    "Signature": "x",
                    "SigningCertUrl": "https://sns.invalid/cert.pem",
                    "UnsubscribeUrl": "https://sns.invalid/unsubscribe",
                    "MessageAttributes": {},
                },
            }
        ]
    }


@pytest.fixture
def world(stores: Stores, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "email")
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(
        Bucket=BUCKET,
        CreateBucketConfiguration={"LocationConstraint": REGION},
        ObjectLockEnabledForBucket=True,
    )
    ses = boto3.client("sesv2", region_name=REGION)
    ses.create_email_identity(EmailIdentity=SENDER)
    ses.create_configuration_set(ConfigurationSetName=CONFIGURATION_SET)
    url = boto3.client("sqs", region_name=REGION).create_queue(
        QueueName="meterbill-email", Attributes={"VisibilityTimeout": "0"}
    )["QueueUrl"]
    at = clock.now
    stores.accounts.create(AccountRecord(A, "HPO", at))
    billing_settings.replace(
        A,
        {
            "seller": {
                "legal_name": "Hausverwaltung Ost GmbH",
                "address": {
                    "lines": ["Torstr. 1"],
                    "postal_code": "10119",
                    "city": "Berlin",
                    "country": "DE",
                },
            },
            "email": {"sender": SENDER, "sender_name": "HPO Rechnungen", "cc": ["buchhaltung@hpo.example"]},
        },
        stores.accounts,
        at,
        if_match=None,
    )
    for customer_id, address in CUSTOMERS.items():
        stores.catalog.create(
            A,
            "customer",
            customer_id,
            {"id": customer_id, "account_id": A, "name": customer_id, "emails": [address], "language": "de"},
        )
    w = World(
        stores=stores,
        clock=clock,
        queue=RecordingQueue(url),
        documents=S3DocumentStore(BUCKET, region=REGION, client=s3),
        mailer=SesMailer(region=REGION, configuration_set=CONFIGURATION_SET),
    )
    email_wiring.configure(stores=stores, documents=w.documents, mailer=w.mailer, queue=w.queue, clock=clock)
    yield w
    email_wiring.reset()


def attachment_of(raw: str | bytes) -> tuple[str | None, bytes]:
    data = raw.encode() if isinstance(raw, str) else raw
    message = email.message_from_bytes(data, policy=email.policy.default)
    [part] = [p for p in message.walk() if p.get_content_disposition() == "attachment"]
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return part.get_filename(), payload


def test_each_email_carries_exactly_the_stored_bytes_as_its_attachment(world: World) -> None:
    invoices = [world.issue_and_store(c) for c in CUSTOMERS]
    for invoice_id in invoices:
        world.queue_delivery(invoice_id)

    assert world.run_worker() == []

    sent = world.sent
    assert len(sent) == 3
    s3 = boto3.client("s3", region_name=REGION)
    for message, invoice_id in zip(sent, invoices, strict=True):
        stored = s3.get_object(Bucket=BUCKET, Key=f"{A}/invoices/{invoice_id}.pdf")["Body"].read()
        filename, attachment = attachment_of(message.raw_data)
        assert (filename, attachment, hashlib.sha256(attachment).hexdigest()) == (
            f"INV-{invoices.index(invoice_id) + 1:06d}.pdf",
            stored,
            world.stores.invoices.get(A, invoice_id).document.sha256,  # type: ignore[union-attr]
        )
        assert message.source == SENDER
        assert sorted(set(message.destinations)) == sorted(
            ["buchhaltung@hpo.example", CUSTOMERS[invoice_id[4:]]]
        )
        headers = email.message_from_string(message.raw_data)
        assert (headers["From"], headers["To"], headers["Cc"]) == (
            f"HPO Rechnungen <{SENDER}>",
            CUSTOMERS[invoice_id[4:]],
            "buchhaltung@hpo.example",
        )
        record = world.delivery(invoice_id)
        assert (record.state, record.message_id, record.kind) == ("sent", message.id, "first")
        assert world.stores.invoices.get(A, invoice_id).state == "delivered"


def test_crash_after_the_claim_and_before_the_send_gives_one_email(world: World) -> None:
    invoice_id = world.issue_and_store("c-alice")
    world.queue_delivery(invoice_id)
    email_wiring.configure(
        stores=world.stores,
        documents=world.documents,
        mailer=CrashingMailer(world.mailer, before=True),
        queue=world.queue,
        clock=world.clock,
    )
    with pytest.raises(Crash):
        world.run_worker()
    assert (world.delivery(invoice_id).state, len(world.sent)) == ("sending", 0)

    world.clock.advance(minutes=2)  # the message comes back: claimed 2 minutes ago, no Send event yet
    assert len(world.run_worker()) == 1
    assert (world.queue.delays, len(world.sent)) == ([13 * 60], 0)

    world.clock.advance(minutes=13)  # 15 minutes after the claim: never sent, so it is sent now
    assert world.run_worker() == []
    assert (len(world.sent), world.delivery(invoice_id).state, world.delivery(invoice_id).claims) == (
        1,
        "sent",
        2,
    )
    assert world.run_worker() == []  # the queue is empty
    assert len(world.sent) == 1


def test_crash_after_the_send_and_before_recording_it_gives_one_email(world: World) -> None:
    invoice_id = world.issue_and_store("c-alice")
    world.queue_delivery(invoice_id)
    email_wiring.configure(
        stores=world.stores,
        documents=world.documents,
        mailer=CrashingMailer(world.mailer, before=False),
        queue=world.queue,
        clock=world.clock,
    )
    with pytest.raises(Crash):
        world.run_worker()
    [message] = world.sent
    assert (world.delivery(invoice_id).state, world.delivery(invoice_id).message_id) == ("sending", None)

    world.clock.advance(seconds=3)
    assert world.ses_event("Send", invoice_id, message.id) == {"recorded": 1}
    world.clock.advance(minutes=1)
    assert world.run_worker() == []  # finds the attempt sent: sends nothing, acknowledges the message

    assert (len(world.sent), world.delivery(invoice_id).state, world.delivery(invoice_id).message_id) == (
        1,
        "sent",
        message.id,
    )
    assert world.stores.invoices.get(A, invoice_id).state == "delivered"


def throttle_sends(mailer: SesMailer, times: int) -> list[int]:
    """SES answers the next ``times`` SendEmail calls 429 TooManyRequestsException (nothing is sent); counts
    the calls."""
    calls: list[int] = []

    def handler(**_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        calls.append(1)
        if len(calls) > times:
            return None
        return (
            AWSResponse("https://email.invalid/", 429, {}, None),
            {
                "Error": {"Code": "TooManyRequestsException", "Message": "Maximum sending rate exceeded."},
                "ResponseMetadata": {"HTTPStatusCode": 429},
            },
        )

    mailer.client.meta.events.register("before-call.sesv2.SendEmail", handler)
    return calls


def test_ses_throttling_delays_every_email_which_then_goes_out_once(world: World) -> None:
    invoices = [world.issue_and_store(c) for c in CUSTOMERS]
    for invoice_id in invoices:
        world.queue_delivery(invoice_id)
    calls = throttle_sends(world.mailer, times=4)

    rounds = 0
    while world.run_worker() or rounds == 0:
        rounds += 1
        world.clock.advance(minutes=1)
        assert rounds < 10

    assert (len(calls), len(world.sent), len(world.queue.delays)) == (3 + 4, 3, 4)
    assert all(10 <= d <= 40 for d in world.queue.delays)  # 20 s, 40 s, ... jittered to 50-100 %
    assert sorted(attachment_of(m.raw_data)[1] for m in world.sent) == sorted(world.pdfs.values())
    assert [world.delivery(i).state for i in invoices] == ["sent", "sent", "sent"]
    assert world.documents.client.list_object_versions(Bucket=BUCKET)["Versions"].__len__() == 3


def test_delivery_bounce_and_complaint_events_move_the_state(world: World) -> None:
    alice, bob, carol = (world.issue_and_store(c) for c in CUSTOMERS)
    for invoice_id in (alice, bob, carol):
        world.queue_delivery(invoice_id)
    world.run_worker()
    ids = {i: world.delivery(i).message_id for i in (alice, bob, carol)}

    world.ses_event("Delivery", alice, ids[alice], recipients=["alice@example.org"])
    world.ses_event(
        "Bounce",
        bob,
        ids[bob],
        bounceType="Permanent",
        bounceSubType="General",
        bouncedRecipients=[
            {"emailAddress": "bob@example.org", "diagnosticCode": "smtp; 550 5.1.1 user unknown"}
        ],
    )
    world.ses_event("Delivery", carol, ids[carol])
    world.ses_event("Complaint", carol, ids[carol], complaintFeedbackType="abuse")
    world.ses_event("Delivery", carol, ids[carol])  # late and repeated: changes nothing

    assert [(world.delivery(i).state, world.delivery(i).detail) for i in (alice, bob, carol)] == [
        ("delivered", None),
        ("bounced", "Permanent/General: smtp; 550 5.1.1 user unknown"),
        ("complained", "abuse"),
    ]


def test_an_event_without_our_tags_or_of_an_unknown_attempt_is_ignored(world: World) -> None:
    from functions.invoice import email_events_handler

    foreign = {"eventType": "Delivery", "mail": {"messageId": "x", "tags": {"campaign": ["spring"]}}}
    assert email_events_handler.lambda_handler(_sns_event(foreign), LambdaContextStub()) == {"ignored": 1}
    assert world.ses_event("Delivery", "inv-c-alice", "x", attempt=7) == {"unknown": 1}


def test_a_resend_sends_a_second_email_recorded_as_resend(world: World) -> None:
    invoice_id = world.issue_and_store("c-alice")
    world.queue_delivery(invoice_id)
    world.run_worker()
    world.clock.advance(days=2)
    resend = world.queue_delivery(invoice_id, "resend")
    world.run_worker()

    first, second = world.sent
    assert (resend.attempt, world.delivery(invoice_id, 2).kind, world.delivery(invoice_id, 2).state) == (
        2,
        "resend",
        "sent",
    )
    assert attachment_of(first.raw_data) == attachment_of(second.raw_data)
    subject = email.message_from_string(second.raw_data, policy=email.policy.default)["Subject"]
    assert subject == "Rechnung INV-000001 – Hausverwaltung Ost GmbH (erneut gesendet)"


def test_an_unverified_sender_fails_the_attempt_for_good(world: World) -> None:
    invoice_id = world.issue_and_store("c-alice")
    world.queue_delivery(invoice_id)
    boto3.client("sesv2", region_name=REGION).delete_email_identity(EmailIdentity=SENDER)

    assert world.run_worker() == []
    record = world.delivery(invoice_id)
    assert (record.state, record.detail, world.sent) == (
        "failed",
        f"rejected: MessageRejected: Did not have authority to send from email {SENDER}",
        [],
    )


def test_the_local_mailer_sends_through_ses_on_moto_and_writes_each_email_as_eml(
    world: World, tmp_path: Any, monkeypatch: pytest.MonkeyPatch, storage_settings: Any
) -> None:
    from local.mail import LocalSesMailer, drain_email_queue

    invoice_id = world.issue_and_store("c-alice")
    world.queue_delivery(invoice_id)
    for name, value in {
        "CATALOG_TABLE": storage_settings.catalog_table,
        "READINGS_TABLE": storage_settings.readings_table,
        "AWS_REGION": REGION,
        "INVOICES_BUCKET": BUCKET,
        "EMAIL_QUEUE_URL": world.queue.queue_url,
    }.items():
        monkeypatch.setenv(name, value)
    boto3.client("sesv2", region_name=REGION).delete_email_identity(EmailIdentity=SENDER)  # it verifies it
    mail_dir = tmp_path / "mail"

    assert drain_email_queue(LocalSesMailer(mail_dir, region=REGION, endpoint_url=None)) == (1, 0)

    [message] = world.sent
    [eml] = sorted(mail_dir.iterdir())
    assert eml.name.endswith(f"-{invoice_id}-1-{message.id}.eml")
    assert eml.read_bytes() == message.raw_data.encode()
    assert attachment_of(eml.read_bytes()) == ("INV-000001.pdf", world.pdfs[invoice_id])


def test_an_answer_lost_after_ses_sent_the_email_is_not_sent_again(world: World) -> None:
    from botocore.exceptions import ReadTimeoutError

    invoice_id = world.issue_and_store("c-alice")
    world.queue_delivery(invoice_id)
    lost = [True]

    def lose_answer(**_: Any) -> None:
        if lost.pop() if lost else False:
            raise ReadTimeoutError(endpoint_url="https://email.eu-central-1.amazonaws.com")

    world.mailer.client.meta.events.register("after-call.sesv2.SendEmail", lose_answer)

    assert len(world.run_worker()) == 1  # a batch item failure; the claim stays
    [message] = world.sent
    assert (world.delivery(invoice_id).state, world.queue.delays) == ("sending", [])

    world.clock.advance(minutes=1)
    assert len(world.run_worker()) == 1  # undecided: put back until 15 minutes after the claim
    world.ses_event("Send", invoice_id, message.id)
    world.clock.advance(minutes=14)
    assert world.run_worker() == []

    assert (len(world.sent), world.delivery(invoice_id).state, world.queue.delays) == (1, "sent", [14 * 60])


def test_a_malformed_message_is_a_batch_item_failure_and_the_others_are_sent(world: World) -> None:
    invoice_id = world.issue_and_store("c-alice")
    world.queue_delivery(invoice_id)
    sqs = boto3.client("sqs", region_name=REGION)
    bad = sqs.send_message(QueueUrl=world.queue.queue_url, MessageBody='{"account": "hpo", "attempt": 0}')

    assert world.run_worker() == [bad["MessageId"]]
    assert (len(world.sent), world.delivery(invoice_id).state) == (1, "sent")
