"""The small interfaces services need from storage. Adapters implement them (DynamoDB in
``meterbill.adapters.dynamodb``); tests use the in-memory fakes in ``tests/fakes.py``.

Everything a port takes or returns is a plain value. Every method takes the account first: the account comes
from the authorizer and every lookup is keyed by it, so one account can never reach another's objects.

The ports live by concern in this package's modules (catalog, readings, accounts, rating, invoices, documents,
deliveries, sessions); every name is importable from ``meterbill.ports`` itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from meterbill.ports.accounts import (
    INITIAL_SETTINGS_ETAG,
    AccountLogo,
    AccountRecord,
    AccountStore,
    ApiKeyRecord,
    KeyStore,
    Scope,
)
from meterbill.ports.catalog import (
    CatalogKind,
    CatalogStore,
    Page,
    Stored,
)
from meterbill.ports.deliveries import (
    DELIVERY_RANK,
    DELIVERY_STATES,
    AttemptKind,
    DeliveryQueue,
    DeliveryRecord,
    DeliveryState,
    DeliveryStore,
    DeliveryWork,
    NewDelivery,
)
from meterbill.ports.documents import (
    Attachment,
    DocumentStore,
    Mailer,
    MailRejectedError,
    MailThrottledError,
    OutgoingEmail,
    SigningKeyPem,
    SigningKeyStore,
    StoredDocument,
)
from meterbill.ports.invoices import (
    InvoiceDocumentRef,
    InvoiceRecord,
    InvoiceState,
    InvoiceStore,
    InvoiceWork,
    InvoiceWorkQueue,
    IssuedBody,
    ReratingCandidate,
)
from meterbill.ports.rating import (
    MeteringStore,
    MonthRollup,
    RatedDay,
    RatingStores,
    Rollup,
    RunningCost,
    UsageSoFar,
    WorkQueue,
)
from meterbill.ports.readings import (
    PendingMark,
    PutResult,
    RawReading,
    ReadingStore,
    ReadingType,
    SupersededReading,
)
from meterbill.ports.sessions import Session, SessionScope, SessionStore


@dataclass(frozen=True, slots=True)
class Stores:
    """The ports a request needs, built once per cold start from settings."""

    catalog: CatalogStore
    readings: ReadingStore
    keys: KeyStore
    accounts: AccountStore
    invoices: InvoiceStore
    metering: MeteringStore | None = None  # what the rating pass keeps (a customer's running cost)
    deliveries: DeliveryStore | None = None  # the emails of stored documents (issue 10)
    documents: DocumentStore | None = None  # the invoices bucket (None: documents are not stored)
    sessions: SessionStore | None = None  # the console's sign-in sessions (None: nobody can sign in)


__all__ = [
    "DELIVERY_RANK",
    "DELIVERY_STATES",
    "INITIAL_SETTINGS_ETAG",
    "AccountLogo",
    "AccountRecord",
    "AccountStore",
    "ApiKeyRecord",
    "Attachment",
    "AttemptKind",
    "CatalogKind",
    "CatalogStore",
    "DeliveryQueue",
    "DeliveryRecord",
    "DeliveryState",
    "DeliveryStore",
    "DeliveryWork",
    "DocumentStore",
    "InvoiceDocumentRef",
    "InvoiceRecord",
    "InvoiceState",
    "InvoiceStore",
    "InvoiceWork",
    "InvoiceWorkQueue",
    "IssuedBody",
    "KeyStore",
    "MailRejectedError",
    "MailThrottledError",
    "Mailer",
    "MeteringStore",
    "MonthRollup",
    "NewDelivery",
    "OutgoingEmail",
    "Page",
    "PendingMark",
    "PutResult",
    "RatedDay",
    "RatingStores",
    "RawReading",
    "ReadingStore",
    "ReadingType",
    "ReratingCandidate",
    "Rollup",
    "RunningCost",
    "Scope",
    "Session",
    "SessionScope",
    "SessionStore",
    "SigningKeyPem",
    "SigningKeyStore",
    "Stored",
    "StoredDocument",
    "Stores",
    "SupersededReading",
    "UsageSoFar",
    "WorkQueue",
]
