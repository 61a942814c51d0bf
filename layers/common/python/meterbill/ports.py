"""The small interfaces services need from storage. Adapters implement them (DynamoDB in
``meterbill.adapters.dynamodb``); tests use the in-memory fakes in ``tests/fakes.py``.

Everything a port takes or returns is a plain value. Every method takes the account first: the account comes
from the authorizer and every lookup is keyed by it, so one account can never reach another's objects.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Generic, Literal, TypeVar

T = TypeVar("T")

# Catalog kinds: each is stored as JSON (the domain model's ``model_dump(mode="json")``) with an ETag.
# Tariff versions are the kind "tariff" with id ``<tariff id>@<version, 6 digits>`` (so they list in order).
CatalogKind = Literal["customer", "site", "meter", "assignment", "tariff"]
Scope = Literal["admin", "ingest", "read"]
ReadingType = Literal["register", "interval"]


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing; ``cursor`` is opaque and None on the last page."""

    items: Sequence[T]
    cursor: str | None


@dataclass(frozen=True, slots=True)
class Stored:
    """A catalog object as stored: its JSON body and its ETag (changes with every write)."""

    kind: CatalogKind
    item_id: str
    body: Mapping[str, Any]
    etag: str
    created_at: datetime
    updated_at: datetime


class CatalogStore(ABC):
    """Customers, sites, meters, assignments and tariff versions of an account."""

    @abstractmethod
    def create(self, account: str, kind: CatalogKind, item_id: str, body: Mapping[str, Any]) -> Stored:
        """Raises AlreadyExistsError if the id is taken in this account."""

    @abstractmethod
    def get(self, account: str, kind: CatalogKind, item_id: str) -> Stored:
        """Raises NotFoundError."""

    @abstractmethod
    def list(
        self, account: str, kind: CatalogKind, *, limit: int, cursor: str | None = None, prefix: str = ""
    ) -> Page[Stored]:
        """Objects in id order; ``prefix`` narrows to ids starting with it (a tariff's versions)."""

    @abstractmethod
    def replace(
        self, account: str, kind: CatalogKind, item_id: str, body: Mapping[str, Any], *, if_match: str | None
    ) -> Stored:
        """Raises NotFoundError, or PreconditionFailedError when ``if_match`` is not the current ETag."""

    @abstractmethod
    def delete(self, account: str, kind: CatalogKind, item_id: str, *, if_match: str | None) -> None:
        """Raises NotFoundError or PreconditionFailedError."""

    @abstractmethod
    def meters_by_external_id(self, account: str, external_ids: Sequence[str]) -> Mapping[str, str]:
        """external id -> meter id, for the external ids this account's meters carry."""

    @abstractmethod
    def assignments_of(
        self, account: str, *, customer_id: str | None = None, meter_id: str | None = None
    ) -> Sequence[Stored]:
        """The assignments of one customer, or of one meter (exactly one of the two is given), in id order:
        one Query, whatever the size of the account (docs/storage.md)."""


@dataclass(frozen=True, slots=True)
class RawReading:
    """A reading as a collector or file sent it, after per-item validation; ``timestamp`` is aware."""

    meter_id: str
    timestamp: datetime
    value: Decimal
    type: ReadingType
    interval_minutes: int | None = None
    quality: str = "A"


@dataclass(frozen=True, slots=True)
class SupersededReading:
    """A version of a reading that a later one replaced (``ReadingStore.put_new``), kept for audit:
    ``superseded_at`` is when the replacing version was received, ``order`` counts the replacements of that
    interval (1 for the first); the replacing version's own receipt time is this ``superseded_at``."""

    reading: RawReading
    superseded_at: datetime
    order: int


@dataclass(frozen=True, slots=True)
class PutResult:
    """What became of each reading passed to ``put_new`` (by position): ``written`` were stored now (new, or
    ``replaced``: an earlier version of their interval was superseded - ``replaced`` is a subset of
    ``written``), ``duplicates`` equal the stored version, ``outranked`` were not stored because the stored
    version has a better quality."""

    written: Sequence[int]
    duplicates: Sequence[int]
    replaced: Sequence[int] = ()
    outranked: Sequence[int] = ()

    def __post_init__(self) -> None:  # lists, so results compare equal however they were built
        for name in ("written", "duplicates", "replaced", "outranked"):
            object.__setattr__(self, name, list(getattr(self, name)))


class ReadingStore(ABC):
    """Raw readings, one current version per interval: an interval (or a register read's instant) is
    (meter, type, interval length, timestamp). A reading for an interval that has none is stored; one equal
    to the stored version (value and quality) is a duplicate; one with another value or quality replaces the
    stored version if its quality ranks the same or higher (``meterbill.meterdata.readings.QUALITY_RANK``) and
    is outranked (not stored) otherwise. "Later" is the order in which the store receives them: within a call,
    the order of ``readings``; across calls, the order their writes land. A replaced version is kept
    (``superseded``), never lost."""

    @abstractmethod
    def put_new(self, account: str, readings: Sequence[RawReading]) -> PutResult:
        """Store what is not stored yet, exactly once even under retries and concurrent resends."""

    @abstractmethod
    def between(self, account: str, meter_id: str, start: datetime, end: datetime) -> Iterator[RawReading]:
        """The current readings of a meter with start <= timestamp < end, in timestamp order."""

    @abstractmethod
    def superseded(
        self, account: str, meter_id: str, start: datetime, end: datetime
    ) -> Iterator[SupersededReading]:
        """The replaced versions of a meter's readings with start <= timestamp < end, in timestamp order and,
        per interval, in the order they were replaced."""

    # Rating marks: ``put_new`` marks each (meter, UTC day) it stored a reading of (new or replacing) after
    # storing it, in the same call; the rating pass reads the marks and clears each one it has rated.

    @abstractmethod
    def mark_for_rating(self, account: str, meter_id: str, *days: date) -> None:
        """Marks each (meter, UTC day) as ``put_new`` does, without a reading: what validates them changed (a
        device exchange recorded on that day, a meter's settings), so the next pass rates them again."""

    @abstractmethod
    def pending_marks(self, *, limit: int) -> Sequence[PendingMark]:
        """Up to ``limit`` marks of every account, oldest day first within a meter."""

    @abstractmethod
    def clear_mark(self, mark: PendingMark) -> bool:
        """Removes the mark if it is unchanged since it was read (same ``changes``); False if a reading
        arrived in between (the mark stays for the next pass) or it is gone."""


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """An API key as stored: never the secret, only its salted hash."""

    key_id: str
    account: str
    name: str
    scopes: frozenset[Scope]
    salt: bytes
    digest: bytes
    created_at: datetime
    revoked_at: datetime | None = None


# The ETag of an account's settings until they are first written (``AccountStore.replace_settings``); a write
# makes a random one, which never equals this.
INITIAL_SETTINGS_ETAG: str = "initial"


@dataclass(frozen=True, slots=True)
class AccountRecord:
    """An account; ``settings`` maps a section (``"billing"``) to its JSON body. ``settings_etag`` changes
    with every write of the settings (``INITIAL_SETTINGS_ETAG`` before the first), ``settings_updated_at`` is
    the time of the last one."""

    account_id: str
    name: str
    created_at: datetime
    settings: Mapping[str, Any] = field(default_factory=dict)
    settings_etag: str = INITIAL_SETTINGS_ETAG
    settings_updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AccountLogo:
    """The image an account's invoices show (``documents.logo`` checked it): PNG or JPEG bytes."""

    image_type: str  # "image/png" | "image/jpeg"
    data: bytes
    width: int
    height: int
    sha256: str
    updated_at: datetime


class KeyStore(ABC):
    @abstractmethod
    def put(self, record: ApiKeyRecord) -> None: ...

    @abstractmethod
    def get(self, key_id: str) -> ApiKeyRecord | None:
        """By key id alone: the authorizer does not know the account yet."""

    @abstractmethod
    def list(self, account: str, *, limit: int, cursor: str | None = None) -> Page[ApiKeyRecord]: ...

    @abstractmethod
    def revoke(self, account: str, key_id: str, at: datetime) -> ApiKeyRecord:
        """Raises NotFoundError for a key of another account."""


class AccountStore(ABC):
    @abstractmethod
    def create(self, record: AccountRecord) -> None:
        """Raises AlreadyExistsError."""

    @abstractmethod
    def get(self, account_id: str) -> AccountRecord:
        """Raises NotFoundError."""

    @abstractmethod
    def replace_settings(
        self, account_id: str, settings: Mapping[str, Any], *, if_match: str | None, at: datetime
    ) -> AccountRecord:
        """The account's settings replaced as a whole, with a new ``settings_etag`` and
        ``settings_updated_at = at``. Raises NotFoundError, or PreconditionFailedError (kind "settings") when
        ``if_match`` is not the current ``settings_etag``."""

    @abstractmethod
    def list(self, *, limit: int, cursor: str | None = None) -> Page[AccountRecord]:
        """Every account, in id order (the bill run visits them all)."""

    @abstractmethod
    def add_missing_to_listing(self) -> int:
        """Puts every stored account that ``list`` misses (written before accounts were listed) into the
        listing; how many it put there. Idempotent: a second call finds none and returns 0."""

    @abstractmethod
    def put_logo(self, account_id: str, logo: AccountLogo) -> None:
        """The account's logo replaced (one item beside the account's; at most 256 KB). Raises
        NotFoundError for an account that does not exist."""

    @abstractmethod
    def get_logo(self, account_id: str) -> AccountLogo | None:
        """The account's logo, or None when it has none."""


@dataclass(frozen=True, slots=True)
class InvoiceWork:
    """One message of the bill run: invoice (or recompute the draft of) ``customer_id``'s local calendar
    days [period_start, period_end) as of ``as_of``, the moment the run was scheduled for (a redelivered
    message computes as of the same moment). Its JSON is the queue message's body
    (``services.billrun.work_from_json`` reads it back)."""

    account: str
    customer_id: str
    period_start: date
    period_end: date
    as_of: datetime

    def to_json(self) -> dict[str, str]:
        return {
            "account": self.account,
            "customer_id": self.customer_id,
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "as_of": self.as_of.isoformat(),
        }


class InvoiceWorkQueue(ABC):
    """Where the bill run sends its work (SQS in AWS); the invoice worker consumes it."""

    @abstractmethod
    def send(self, items: Sequence[InvoiceWork]) -> None:
        """Sends every item (at least once); raises StorageUnavailableError when some could not be sent."""


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


@dataclass(frozen=True, slots=True)
class PendingMark:
    """Readings of ``meter_id`` whose timestamps fall on the UTC ``day`` were stored since the last rating
    pass; ``changes`` counts the ``put_new`` calls that marked it (a clear is conditional on it)."""

    account: str
    meter_id: str
    day: date
    changes: int


# --- what the rating run stores (services.rating; computed by meterdata.rollups) ---------------------------


@dataclass(frozen=True, slots=True)
class Rollup:
    """Usage in [start, end) (site-local times): the total, the part of it that is not actual (flag other
    than A), how many intervals make it and how many of them are null (N: nothing to estimate from)."""

    start: datetime
    end: datetime
    total: Decimal
    estimated: Decimal
    intervals: int
    missing: int


@dataclass(frozen=True, slots=True)
class RatedDay:
    """One meter's validated intervals of one local ``day`` (a day still running ends where validation ended):
    interval i starts at ``start + i * interval_minutes`` (absolute time) and holds ``values[i] *
    10**exponent`` in ``unit``, its NEM12 flag ``qualities[i]`` and, for every interval not flagged A,
    ``substitutions[i]`` = (method, or "" for a null; reason). Its rollups are computed from it."""

    meter_id: str
    day: date
    start: datetime
    interval_minutes: int
    unit: str
    exponent: int
    values: tuple[int, ...]
    qualities: str
    substitutions: Mapping[int, tuple[str, str]] = field(default_factory=dict)

    @property
    def end(self) -> datetime:
        return self.interval_start(len(self.values))

    def interval_start(self, index: int) -> datetime:
        step = timedelta(minutes=self.interval_minutes)
        return (self.start.astimezone(UTC) + index * step).astimezone(self.start.tzinfo)

    def hours(self) -> list[Rollup]:
        """One rollup per local clock hour, told apart by its UTC offset (the hour the clocks go back is two
        rollups; where clocks move by 30 minutes, the hour of the change is a half hour), in time order."""
        rollups: list[Rollup] = []
        first = 0
        for index in range(1, len(self.values) + 1):
            if index == len(self.values) or _clock_hour(self.interval_start(index)) != _clock_hour(
                self.interval_start(first)
            ):
                rollups.append(self._rollup(first, index))
                first = index
        return rollups

    def total(self) -> Rollup:
        return self._rollup(0, len(self.values))

    def _rollup(self, first: int, stop: int) -> Rollup:
        actual = sum(self.values[i] for i in range(first, stop) if self.qualities[i] == "A")
        total = sum(self.values[first:stop])
        return Rollup(
            start=self.interval_start(first),
            end=self.interval_start(stop),
            total=Decimal(total).scaleb(self.exponent),
            estimated=Decimal(total - actual).scaleb(self.exponent),
            intervals=stop - first,
            missing=self.qualities[first:stop].count("N"),
        )


def _clock_hour(moment: datetime) -> tuple[date, int, timedelta | None]:
    return (moment.date(), moment.hour, moment.utcoffset())


@dataclass(frozen=True, slots=True)
class MonthRollup:
    """A meter's usage in the local calendar month ``year``-``month``: the sum of its ``days`` rated days
    (``total.start`` and ``total.end`` span the first and the last of them). ``digest`` changes whenever
    any of those days' intervals or flags do (a draft invoice keeps it to know it is still current);
    ``rated_with`` is the digest of the meter's validation settings they were rated with (the bill run
    validates the raw readings instead when the meter's settings changed since). Empty: not known."""

    meter_id: str
    year: int
    month: int
    unit: str
    days: int
    total: Rollup
    digest: str = ""
    rated_with: str = ""


@dataclass(frozen=True, slots=True)
class UsageSoFar:
    """A customer's usage of one unit in [period_start, as_of), its share of each meter summed."""

    unit: str
    total: Decimal
    estimated: Decimal


@dataclass(frozen=True, slots=True)
class RunningCost:
    """A customer's bill period so far: usage and cost over [period_start, as_of) (whole local days) and the
    projection to period_end (``cost * period days / elapsed days``); kept current by every rating pass."""

    customer_id: str
    period_start: date
    period_end: date
    as_of: date
    currency: str
    usage: tuple[UsageSoFar, ...]
    cost: Decimal
    projected: Decimal
    computed_at: datetime


class MeteringStore(ABC):
    """What the rating run keeps: per meter its rated days (validated intervals with flag, method and reason,
    and their hourly and daily rollups) and monthly rollups; per customer the running period's cost."""

    @abstractmethod
    def days(
        self, account: str, meter_id: str, first: date, end: date, *, consistent: bool = True
    ) -> list[RatedDay]:
        """The meter's rated days with first <= day < end, in day order. ``consistent=False``: an eventually
        consistent read, half the cost, which may miss the latest writes (for a reader that checks them
        against ``MonthRollup.digest``)."""

    @abstractmethod
    def put_day(self, account: str, day: RatedDay) -> None:
        """Stores the day (replacing the stored one of that meter and day)."""

    @abstractmethod
    def rated_span(self, account: str, meter_id: str) -> tuple[date, date] | None:
        """The meter's first and last rated day (None: none rated yet)."""

    @abstractmethod
    def month(self, account: str, meter_id: str, year: int, month: int) -> MonthRollup | None: ...

    @abstractmethod
    def put_month(self, account: str, rollup: MonthRollup) -> None: ...

    @abstractmethod
    def running_cost(self, account: str, customer_id: str) -> RunningCost | None: ...

    @abstractmethod
    def put_running_cost(self, account: str, running: RunningCost) -> None: ...


@dataclass(frozen=True, slots=True)
class RatingStores:
    """The ports the rating run needs (the accounts for their billing settings: the customers' bill day; the
    invoices to record re-rating candidates on those already issued)."""

    readings: ReadingStore
    catalog: CatalogStore
    metering: MeteringStore
    accounts: AccountStore
    invoices: InvoiceStore


class WorkQueue(ABC):
    """Messages for workers (SQS in AWS): each a JSON object; a worker runs the step the message names."""

    @abstractmethod
    def send(self, messages: Sequence[Mapping[str, Any]]) -> None: ...


# --- invoices -----------------------------------------------------------------------------------------------

InvoiceState = Literal["draft", "issued", "stored", "delivered", "void"]


@dataclass(frozen=True, slots=True)
class InvoiceDocumentRef:
    """The document of an issued invoice as its record names it (``InvoiceStore.mark_stored``): the key in
    the document store, the SHA-256 (hex) and size of the stored bytes, when it was stored and how long it is
    retained."""

    key: str
    sha256: str
    size: int
    stored_at: datetime
    retain_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class InvoiceRecord:
    """An invoice as stored. ``body`` is the core invoice's JSON (``billing.invoice.Invoice.to_json()``),
    opaque to the store; the other fields are what the store keys, lists and guards by. ``version`` counts
    the writes of the record (1 for a new draft); ``number`` is set by ``InvoiceStore.issue`` and never
    before. Dates are the local-calendar service period, end exclusive; datetimes are aware.

    Lifecycle: ``draft -> issued -> stored -> delivered`` (or ``draft -> void``). ``document`` is set when the
    state becomes ``stored`` and ``delivered_at`` when it becomes ``delivered``; the body never changes after
    issuing."""

    account: str
    invoice_id: str
    customer_id: str
    kind: str
    state: InvoiceState
    period_start: date
    period_end: date
    number: str | None
    body: Mapping[str, Any]
    version: int
    created_at: datetime
    updated_at: datetime
    issued_at: datetime | None
    document: InvoiceDocumentRef | None = None
    delivered_at: datetime | None = None

    @classmethod
    def draft(
        cls,
        account: str,
        invoice_id: str,
        *,
        customer_id: str,
        kind: str,
        period_start: date,
        period_end: date,
        body: Mapping[str, Any],
        at: datetime,
    ) -> InvoiceRecord:
        """A draft to hand to ``InvoiceStore.put_draft`` (which sets version and times itself)."""
        return cls(
            account,
            invoice_id,
            customer_id,
            kind,
            "draft",
            period_start,
            period_end,
            None,
            body,
            0,
            at,
            at,
            None,
        )


@dataclass(frozen=True, slots=True)
class IssuedBody:
    """What an invoice becomes when it is issued with a number: the number as printed and the final body
    (which carries the number)."""

    number: str
    body: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ReratingCandidate:
    """Readings of a meter in [start, end) received (``received_at``) after the invoice was issued: the
    invoice may need a credit or debit note. Recorded beside the invoice, never in it."""

    invoice_id: str
    meter_id: str
    start: datetime
    end: datetime
    received_at: datetime


class InvoiceStore(ABC):
    """Invoices of an account and their numbers. A draft is rewritten as often as it is recomputed; issuing
    gives it the next number of its series, gapless and never reused, in the same atomic write that makes
    it ``issued``; an issued invoice is never written again (every write is conditional on its state).
    Issuing and voiding twice answer what the first call did (no second number, no error)."""

    @abstractmethod
    def put_draft(self, account: str, record: InvoiceRecord) -> InvoiceRecord:
        """Creates the draft ``record.invoice_id`` or replaces its body (version + 1) while it is still a
        draft. An issued or void invoice is returned as it is, unchanged (nothing is written). ``record``
        must be a draft without a number, of ``account``; its version and times are the store's to set."""

    @abstractmethod
    def get(self, account: str, invoice_id: str) -> InvoiceRecord:
        """Raises NotFoundError."""

    @abstractmethod
    def list(
        self,
        account: str,
        *,
        customer_id: str | None = None,
        state: InvoiceState | None = None,
        start: date | None = None,
        end: date | None = None,
        limit: int,
        cursor: str | None = None,
    ) -> Page[InvoiceRecord]:
        """Invoices whose period starts in [start, end) (either bound optional) and in ``state``. A
        customer's come in period order (then kind, then id); the whole account's in id order."""

    @abstractmethod
    def issued_in(
        self, account: str, month: date, *, limit: int, cursor: str | None = None
    ) -> Page[InvoiceRecord]:
        """The documents (invoices and notes) issued in ``month`` (its first day), whatever their state
        since: those whose ``issued_at``, with the offset it was issued with, falls in that month. In order
        of issue (the instant), then id. Reads only that month's documents."""

    @abstractmethod
    def issue(
        self,
        account: str,
        invoice_id: str,
        *,
        series: str,
        at: datetime,
        render: Callable[[InvoiceRecord, int], IssuedBody],
    ) -> InvoiceRecord:
        """Gives the draft the next sequence number of ``series`` (1, 2, ... per account and series, never
        reset, never skipped) and stores ``render(draft, sequence)`` as its number and final body, state
        ``issued`` and ``issued_at = at``, all in one atomic write. ``render`` must be pure: it may be called
        again with another draft version or sequence when another writer got in between. An invoice already
        issued is returned unchanged (``render`` is not called); a void one raises InvalidStateError;
        NotFoundError."""

    @abstractmethod
    def void(self, account: str, invoice_id: str) -> InvoiceRecord:
        """Voids a draft (version + 1); a void invoice is returned unchanged; an issued one raises
        InvalidStateError; NotFoundError."""

    @abstractmethod
    def mark_stored(
        self, account: str, invoice_id: str, document: StoredDocument, at: datetime
    ) -> InvoiceRecord:
        """The issued invoice's document is stored: state ``stored`` with ``document`` (key, sha256, size,
        ``stored_at = at``), version + 1, in one conditional write; nothing else of the record changes. The
        same document again (same sha256) on a stored or delivered invoice is returned unchanged (a retry);
        another one raises InvalidStateError, as does a draft or void invoice; NotFoundError."""

    @abstractmethod
    def mark_delivered(self, account: str, invoice_id: str, at: datetime) -> InvoiceRecord:
        """The stored document was delivered: state ``delivered``, ``delivered_at = at``, version + 1, in one
        conditional write. A delivered invoice is returned unchanged; any state but stored raises
        InvalidStateError; NotFoundError."""

    @abstractmethod
    def add_rerating_candidate(self, account: str, candidate: ReratingCandidate) -> ReratingCandidate:
        """Records the candidate beside its issued invoice (the invoice itself is not written). The same
        (invoice, meter, start, end) again keeps the first ``received_at`` and returns what is stored.
        NotFoundError; InvalidStateError for a draft or void invoice (a draft is recomputed anyway)."""

    @abstractmethod
    def rerating_candidates(self, account: str, invoice_id: str) -> Sequence[ReratingCandidate]:
        """The invoice's candidates by meter, then start, then end."""


# --- documents and their delivery (issue 10) ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredDocument:
    """A document as the document store holds it: written once, its bytes' SHA-256 (hex) and its retention."""

    key: str
    sha256: str
    size: int
    content_type: str
    retain_until: datetime
    version_id: str | None = None


class DocumentStore(ABC):
    """Write-once storage of the documents customers receive (S3 with Object Lock in compliance mode).

    A key is written at most once: a second ``put_once`` of the same bytes answers what is stored (a retry
    after a crash converges), of other bytes raises ``AlreadyExistsError`` and changes nothing."""

    @abstractmethod
    def put_once(
        self, account: str, key: str, body: bytes, *, content_type: str, retain_until: datetime
    ) -> StoredDocument:
        """Stores ``body`` under the account's ``key`` unless the key exists, with its checksum and a
        compliance-mode retention until ``retain_until`` (aware)."""

    @abstractmethod
    def get(self, account: str, key: str) -> bytes:
        """The stored bytes; NotFoundError."""

    @abstractmethod
    def head(self, account: str, key: str) -> StoredDocument:
        """What is stored under ``key`` without its bytes; NotFoundError."""

    @abstractmethod
    def download_url(self, account: str, key: str, *, expires_in: timedelta) -> str:
        """A URL that downloads the stored bytes until ``expires_in`` from now; NotFoundError."""


@dataclass(frozen=True, slots=True)
class SigningKeyPem:
    """An account's document signing key as PEM text: the private key (PKCS#8) and its X.509 certificate
    (``documents.signing.SigningKey`` holds the same two)."""

    private_key_pem: str
    certificate_pem: str


class SigningKeyStore(ABC):
    """The accounts' signing keys (Secrets Manager on AWS, one secret per account; moto locally). A key is
    created once, at account set-up, and never replaced: documents signed with it must stay verifiable."""

    @abstractmethod
    def get(self, account: str) -> SigningKeyPem:
        """NotFoundError when the account has none."""

    @abstractmethod
    def create(self, account: str, key: SigningKeyPem) -> SigningKeyPem:
        """Stores ``key`` as the account's unless it has one already; answers the account's key (the
        stored one when it had one: the first key stays)."""


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str
    body: bytes


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    """One email as the mailer sends it; ``tags`` come back with the provider's delivery events."""

    sender: str
    to: tuple[str, ...]
    subject: str
    text: str
    cc: tuple[str, ...] = ()
    html: str | None = None
    attachments: tuple[Attachment, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    reply_to: str | None = None


class MailThrottledError(Exception):
    """The provider refused the send for its rate or quota: send the same email again later."""


class MailRejectedError(Exception):
    """The provider refused this email for good (an unverified sender, a malformed address): ``reason``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Mailer(ABC):
    """Sends email (SES v2 on AWS; locally SES on moto plus a folder of .eml files)."""

    @abstractmethod
    def send(self, email: OutgoingEmail) -> str:
        """Sends ``email`` once and returns the provider's message id. Raises MailThrottledError or
        MailRejectedError; nothing is retried here (the caller's queue paces and retries)."""


# --- delivery of stored documents by email (issue 10) ------------------------------------------------------

# ``sending`` is the claim: the worker holds the send and may have called the provider. The other states are
# the ones the API shows (``sending`` too, while it lasts).
DeliveryState = Literal["queued", "sending", "sent", "delivered", "bounced", "complained", "failed"]
AttemptKind = Literal["first", "resend"]
DELIVERY_STATES: tuple[DeliveryState, ...] = (
    "queued",
    "sending",
    "sent",
    "delivered",
    "bounced",
    "complained",
    "failed",
)
# How far each state is along: the provider's events only ever move a delivery forward, so a repeated or
# late event changes nothing. A bounce or complaint outranks a delivery (one recipient of several bounced,
# or a delivered email was reported as spam: both need a person); a failure is final.
DELIVERY_RANK: Mapping[DeliveryState, int] = {
    "queued": 0,
    "sending": 1,
    "sent": 2,
    "delivered": 3,
    "bounced": 4,
    "complained": 5,
    "failed": 6,
}


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """One email of one stored document: attempt 1 is the ``first`` delivery, 2, 3, ... are ``resend``s.
    The recipients, language and the stored document (key and SHA-256) are fixed when it is queued; the
    attempt is claimed (``sending``, ``claimed_at``, ``claims`` + 1) before the provider is called and gets
    the provider's ``message_id`` once sent (from the worker, or from the provider's ``Send`` event when the
    worker died before recording it). ``version`` counts the writes (conditional writes compare it)."""

    account: str
    invoice_id: str
    attempt: int
    kind: AttemptKind
    state: DeliveryState
    to: tuple[str, ...]
    cc: tuple[str, ...]
    language: str
    customer_name: str
    document_key: str
    document_sha256: str
    queued_at: datetime
    updated_at: datetime
    claimed_at: datetime | None = None
    claims: int = 0
    sent_at: datetime | None = None
    message_id: str | None = None
    detail: str | None = None
    version: int = 1

    @property
    def recipients(self) -> tuple[str, ...]:
        return self.to + self.cc

    def claimed(self, at: datetime) -> DeliveryRecord:
        """Claimed for a send now (from ``queued``, or a stale ``sending`` taken over)."""
        return replace(
            self,
            state="sending",
            claimed_at=at,
            claims=self.claims + 1,
            updated_at=at,
            version=self.version + 1,
        )

    def released(self, at: datetime) -> DeliveryRecord:
        """Back to ``queued``: the provider refused the send for its rate (nothing went out), so the claim
        is given back (``claims`` counts the claims that sent or whose outcome is unknown)."""
        return replace(self, state="queued", claims=self.claims - 1, updated_at=at, version=self.version + 1)

    def advanced(
        self, state: DeliveryState, at: datetime, *, message_id: str | None = None, detail: str | None = None
    ) -> DeliveryRecord | None:
        """The record after the worker or a provider event says ``state``; None when that changes nothing
        (a state not further along, and no message id to learn). The first message id is kept. A ``failed``
        record without a message id (unknown after a crash) takes the state of an event that brings one."""
        learns_id = message_id is not None and self.message_id is None
        # A failure without a message id was "unknown" (a crash, no Send event in time): an event with a
        # message id proves the email went out after all, and says what became of it.
        proven = learns_id and self.state == "failed" and state != "failed"
        moves = DELIVERY_RANK[state] > DELIVERY_RANK[self.state] or proven
        if not moves and not learns_id:
            return None
        return replace(
            self,
            state=state if moves else self.state,
            message_id=self.message_id if self.message_id is not None else message_id,
            sent_at=self.sent_at if self.sent_at is not None or message_id is None else at,
            detail=detail if moves and detail is not None else self.detail,
            updated_at=at,
            version=self.version + 1,
        )


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """What ``DeliveryStore.queue`` needs to queue an attempt."""

    invoice_id: str
    kind: AttemptKind
    to: tuple[str, ...]
    cc: tuple[str, ...]
    language: str
    customer_name: str
    document_key: str
    document_sha256: str


class DeliveryStore(ABC):
    """The deliveries of an account's stored documents, one record per (invoice, attempt). Every write is
    conditional on the version read, so two workers never both claim an attempt."""

    @abstractmethod
    def queue(self, account: str, delivery: NewDelivery, *, at: datetime) -> DeliveryRecord:
        """A ``first`` delivery is attempt 1, created once: queueing it again answers what is stored. A
        ``resend`` is the next attempt number (a new record every call)."""

    @abstractmethod
    def get(self, account: str, invoice_id: str, attempt: int) -> DeliveryRecord:
        """Raises NotFoundError."""

    @abstractmethod
    def of_invoice(self, account: str, invoice_id: str) -> Sequence[DeliveryRecord]:
        """The invoice's attempts in order (none: an empty list)."""

    @abstractmethod
    def update(self, account: str, current: DeliveryRecord, new: DeliveryRecord) -> bool:
        """Writes ``new`` (same invoice and attempt, ``version`` = current's + 1) if the stored record is
        still ``current`` (same version); False when another writer got in first (read it again)."""


@dataclass(frozen=True, slots=True)
class DeliveryWork:
    """One message of the email queue: send attempt ``attempt`` of the invoice's stored document."""

    account: str
    invoice_id: str
    attempt: int

    def to_json(self) -> dict[str, str | int]:
        return {"account": self.account, "invoice_id": self.invoice_id, "attempt": self.attempt}


class DeliveryQueue(ABC):
    """The email queue (SQS in AWS); the email worker consumes it, paced below the provider's send rate."""

    @abstractmethod
    def send(self, items: Sequence[DeliveryWork]) -> None:
        """Sends every item (at least once); StorageUnavailableError when some could not be sent."""
