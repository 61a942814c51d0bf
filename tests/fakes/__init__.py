"""In-memory implementations of every port in ``meterbill.ports``: dict-backed, deterministic, and raising the
errors the ports' docstrings promise. Unit tests of services run on these and assert on their state
(``catalog.items``, ``readings.items``, ``keys.records``, ``accounts.records``, ``sessions.sessions``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from meterbill.ports import Stores
from tests.fakes.accounts import FakeAccountStore, FakeKeyStore
from tests.fakes.catalog import FakeCatalogStore
from tests.fakes.common import FIXED_NOW, fixed_clock
from tests.fakes.deliveries import FakeDeliveryQueue, FakeDeliveryStore
from tests.fakes.documents import FakeDocumentStore, FakeMailer, FakeSigningKeyStore
from tests.fakes.invoices import FakeInvoiceStore, FakeInvoiceWorkQueue
from tests.fakes.rating import FakeMeteringStore, FakeWorkQueue
from tests.fakes.readings import FakeReadingStore, reading_slot
from tests.fakes.sessions import FakeSessionStore


@dataclass(frozen=True, slots=True)
class FakeStores:
    """All fakes together, typed as themselves so tests can look into them; ``ports()`` as the port bundle."""

    catalog: FakeCatalogStore
    readings: FakeReadingStore
    keys: FakeKeyStore
    accounts: FakeAccountStore
    invoices: FakeInvoiceStore
    metering: FakeMeteringStore = field(default_factory=lambda: FakeMeteringStore())
    deliveries: FakeDeliveryStore = field(default_factory=lambda: FakeDeliveryStore())
    documents: FakeDocumentStore = field(default_factory=lambda: FakeDocumentStore())
    sessions: FakeSessionStore = field(default_factory=lambda: FakeSessionStore())

    @classmethod
    def empty(cls, clock: Callable[[], datetime] = fixed_clock) -> FakeStores:
        return cls(
            FakeCatalogStore(clock),
            FakeReadingStore(clock),
            FakeKeyStore(),
            FakeAccountStore(),
            FakeInvoiceStore(clock),
        )

    def ports(self) -> Stores:
        return Stores(
            catalog=self.catalog,
            readings=self.readings,
            keys=self.keys,
            accounts=self.accounts,
            invoices=self.invoices,
            metering=self.metering,
            deliveries=self.deliveries,
            documents=self.documents,
            sessions=self.sessions,
        )


__all__ = [
    "FIXED_NOW",
    "FakeAccountStore",
    "FakeCatalogStore",
    "FakeDeliveryQueue",
    "FakeDeliveryStore",
    "FakeDocumentStore",
    "FakeInvoiceStore",
    "FakeInvoiceWorkQueue",
    "FakeKeyStore",
    "FakeMailer",
    "FakeMeteringStore",
    "FakeReadingStore",
    "FakeSessionStore",
    "FakeSigningKeyStore",
    "FakeStores",
    "FakeWorkQueue",
    "fixed_clock",
    "reading_slot",
]
