"""A stored invoice to email, on the fakes: account ``hpo`` (German seller, sender and cc in its billing
settings), customer ``c-alice`` (German), invoice ``HPO-2026-000001`` issued 2026-02-17 for 15 January to
14 February, 1,234.50 EUR; ``store_pdf`` stores its PDF. For the delivery and API tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from meterbill.billing.invoice import Invoice, InvoiceLine, issue
from meterbill.ports import AccountRecord, InvoiceRecord, IssuedBody, OutgoingEmail
from meterbill.services import billing_settings
from meterbill.services import delivery as service
from tests.fakes import FakeDeliveryQueue, FakeDocumentStore, FakeMailer, FakeStores

A = "hpo"
INVOICE = "inv-2026-01-alice"
NOW = datetime(2026, 2, 20, 9, 0, tzinfo=UTC)
PDF_BYTES = b"%PDF-1.7\n" + bytes(range(256)) + b"\n%%EOF\n"
SENDER = "rechnung@hpo.example"
# One line: 4,115 kWh at 0.30 EUR = 1,234.50 EUR.
DRAFT = Invoice(
    id=INVOICE,
    account_id=A,
    customer_id="c-alice",
    kind="invoice",
    period_start=date(2026, 1, 15),
    period_end=date(2026, 2, 15),
    currency="EUR",
    lines=(
        InvoiceLine(
            meter_id="m-alice",
            assignment_id="a-alice",
            start=date(2026, 1, 15),
            end=date(2026, 2, 15),
            component="energy",
            description="Energy",
            quantity=Decimal("4115"),
            unit="kWh",
            rate=Decimal("0.30"),
            amount=Decimal("4115") * Decimal("0.30"),
        ),
    ),
    computed_at=datetime(2026, 2, 16, 0, 0, tzinfo=UTC),
)


class Crash(BaseException):
    """The worker dies (not an error anything catches)."""


class CrashBeforeSend(FakeMailer):
    def send(self, email: OutgoingEmail) -> str:
        raise Crash("killed before SES was called")


class CrashAfterSend(FakeMailer):
    def send(self, email: OutgoingEmail) -> str:
        super().send(email)
        raise Crash("killed after SES accepted it, before the message id was recorded")


class World:
    def __init__(self) -> None:
        self.stores = FakeStores.empty()
        self.documents = FakeDocumentStore()
        self.mailer = FakeMailer()
        self.queue = FakeDeliveryQueue()
        at = datetime(2026, 1, 1, tzinfo=UTC)
        self.stores.accounts.create(AccountRecord(A, "HPO", at))
        billing_settings.replace(
            A,
            {
                "payment_terms_days": 14,
                "seller": {
                    "legal_name": "Hausverwaltung Ost GmbH",
                    "address": {
                        "lines": ["Torstr. 1"],
                        "postal_code": "10119",
                        "city": "Berlin",
                        "country": "DE",
                    },
                },
                "email": {"sender": SENDER, "cc": ["buchhaltung@hpo.example"]},
            },
            self.stores.accounts,
            at,
            if_match=None,
        )
        self.stores.catalog.create(
            A,
            "customer",
            "c-alice",
            {
                "id": "c-alice",
                "account_id": A,
                "name": "Alice Müller",
                "emails": ["alice@example.org"],
                "language": "de",
            },
        )
        self.invoices.put_draft(
            A,
            InvoiceRecord.draft(
                A,
                INVOICE,
                customer_id="c-alice",
                kind="invoice",
                period_start=date(2026, 1, 15),
                period_end=date(2026, 2, 15),
                body=DRAFT.to_json(),
                at=at,
            ),
        )
        issued_at = datetime(2026, 2, 17, 8, 0, tzinfo=UTC)
        self.invoices.issue(
            A,
            INVOICE,
            series="HPO-2026-",
            at=issued_at,
            render=lambda draft, n: IssuedBody(
                f"HPO-2026-{n:06d}",
                issue(Invoice.from_json(draft.body), f"HPO-2026-{n:06d}", issued_at).to_json(),
            ),
        )

    @property
    def invoices(self):  # type: ignore[no-untyped-def]
        return self.stores.invoices

    def store_pdf(self) -> None:
        stored = self.documents.put_once(
            A,
            f"invoices/{INVOICE}.pdf",
            PDF_BYTES,
            content_type="application/pdf",
            retain_until=NOW + timedelta(days=3650),
        )
        self.invoices.mark_stored(A, INVOICE, stored, NOW)

    def queue_delivery(self, kind: str = "first", now: datetime = NOW):  # type: ignore[no-untyped-def]
        return service.queue_delivery(
            A,
            INVOICE,
            kind=kind,  # type: ignore[arg-type]
            invoices=self.invoices,
            catalog=self.stores.catalog,
            settings=billing_settings.settings_of(A, self.stores.accounts),
            deliveries=self.stores.deliveries,
            queue=self.queue,
            now=now,
        )

    def deliver(self, attempt: int = 1, *, now: datetime = NOW, mailer: FakeMailer | None = None):  # type: ignore[no-untyped-def]
        return service.deliver(
            A,
            INVOICE,
            attempt,
            invoices=self.invoices,
            documents=self.documents,
            deliveries=self.stores.deliveries,
            mailer=mailer or self.mailer,
            settings=billing_settings.settings_of(A, self.stores.accounts),
            now=now,
        )

    def event(self, state: str, *, attempt: int = 1, at: datetime = NOW, **fields: str):  # type: ignore[no-untyped-def]
        return service.record_event(
            A,
            INVOICE,
            attempt,
            state,  # type: ignore[arg-type]
            deliveries=self.stores.deliveries,
            invoices=self.invoices,
            at=at,
            **fields,
        )

    def record(self, attempt: int = 1):  # type: ignore[no-untyped-def]
        return self.stores.deliveries.get(A, INVOICE, attempt)
