"""In-memory implementations of every port in ``meterbill.ports``: dict-backed, deterministic, and raising the
errors the ports' docstrings promise. Unit tests of services run on these and assert on their state
(``catalog.items``, ``readings.items``, ``keys.records``, ``accounts.records``)."""

from __future__ import annotations

import copy
import hashlib
import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from meterbill.billing import invoice as invoices_core
from meterbill.billing.invoice import InvoiceStateError
from meterbill.errors import (
    AlreadyExistsError,
    InvalidInputError,
    InvalidStateError,
    NotFoundError,
    PreconditionFailedError,
)
from meterbill.meterdata.readings import replaces
from meterbill.ports import (
    AccountLogo,
    AccountRecord,
    AccountStore,
    ApiKeyRecord,
    CatalogKind,
    CatalogStore,
    DeliveryQueue,
    DeliveryRecord,
    DeliveryStore,
    DeliveryWork,
    DocumentStore,
    InvoiceDocumentRef,
    InvoiceRecord,
    InvoiceState,
    InvoiceStore,
    InvoiceWork,
    InvoiceWorkQueue,
    IssuedBody,
    KeyStore,
    Mailer,
    MailRejectedError,
    MailThrottledError,
    MeteringStore,
    MonthRollup,
    NewDelivery,
    OutgoingEmail,
    Page,
    PendingMark,
    PutResult,
    RatedDay,
    RawReading,
    ReadingStore,
    ReratingCandidate,
    RunningCost,
    SigningKeyPem,
    SigningKeyStore,
    Stored,
    StoredDocument,
    Stores,
    SupersededReading,
    WorkQueue,
)

FIXED_NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def fixed_clock() -> datetime:
    return FIXED_NOW


def _page(items: Sequence[Any], ids: Sequence[str], limit: int, cursor: str | None) -> Page[Any]:
    """Items in id order after the cursor (the last id of the previous page); callers treat it as opaque."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    after = _decode_cursor(cursor)
    chosen = [
        (item_id, item) for item_id, item in zip(ids, items, strict=True) if after is None or item_id > after
    ]
    page = chosen[:limit]
    more = len(chosen) > limit
    return Page(items=[item for _, item in page], cursor=_encode_cursor(page[-1][0]) if more else None)


def _encode_cursor(last_id: str) -> str:
    return "after:" + last_id


def _decode_cursor(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    if not cursor.startswith("after:"):
        raise InvalidInputError("cursor", "not a cursor of this listing")
    return cursor.removeprefix("after:")


class FakeCatalogStore(CatalogStore):
    """``items[(account, kind, item_id)]`` holds what is stored; an ETag hashes the body and its revision.
    ``get_calls`` counts the lookups one by one (what a batch should avoid), ``list_calls`` the pages listed
    by kind and ``assignment_queries`` the calls of ``assignments_of`` (what a bill-run message reads)."""

    def __init__(self, clock: Callable[[], datetime] = fixed_clock) -> None:
        self.items: dict[tuple[str, CatalogKind, str], Stored] = {}
        self._revisions: dict[tuple[str, CatalogKind, str], int] = {}
        self._clock = clock
        self.get_calls = 0
        self.list_calls: dict[CatalogKind, int] = {}  # listings (pages) by kind
        self.assignment_queries = 0  # assignments_of calls

    def _etag(self, key: tuple[str, CatalogKind, str], body: Mapping[str, Any]) -> str:
        revision = self._revisions[key]
        text = json.dumps(body, sort_keys=True, default=str)
        return hashlib.sha256(f"{revision}:{text}".encode()).hexdigest()[:16]

    def create(self, account: str, kind: CatalogKind, item_id: str, body: Mapping[str, Any]) -> Stored:
        key = (account, kind, item_id)
        if key in self.items:
            raise AlreadyExistsError(kind, item_id)
        self._revisions[key] = 1
        now = self._clock()
        stored = Stored(kind, item_id, dict(body), self._etag(key, body), now, now)
        self.items[key] = stored
        return stored

    def get(self, account: str, kind: CatalogKind, item_id: str) -> Stored:
        self.get_calls += 1
        try:
            return self.items[(account, kind, item_id)]
        except KeyError:
            raise NotFoundError(kind, item_id) from None

    def list(
        self, account: str, kind: CatalogKind, *, limit: int, cursor: str | None = None, prefix: str = ""
    ) -> Page[Stored]:
        self.list_calls[kind] = self.list_calls.get(kind, 0) + 1
        ids = sorted(
            item_id
            for (a, k, item_id) in self.items
            if a == account and k == kind and item_id.startswith(prefix)
        )
        return _page([self.items[(account, kind, i)] for i in ids], ids, limit, cursor)

    def _current(self, account: str, kind: CatalogKind, item_id: str, if_match: str | None) -> Stored:
        current = self.get(account, kind, item_id)
        if if_match is not None and if_match != current.etag:
            raise PreconditionFailedError(kind, item_id, if_match, current.etag)
        return current

    def replace(
        self, account: str, kind: CatalogKind, item_id: str, body: Mapping[str, Any], *, if_match: str | None
    ) -> Stored:
        current = self._current(account, kind, item_id, if_match)
        key = (account, kind, item_id)
        self._revisions[key] += 1
        stored = replace(current, body=dict(body), etag=self._etag(key, body), updated_at=self._clock())
        self.items[key] = stored
        return stored

    def delete(self, account: str, kind: CatalogKind, item_id: str, *, if_match: str | None) -> None:
        self._current(account, kind, item_id, if_match)
        del self.items[(account, kind, item_id)]

    def meters_by_external_id(self, account: str, external_ids: Sequence[str]) -> Mapping[str, str]:
        wanted = set(external_ids)
        return {
            stored.body["external_id"]: item_id
            for (a, kind, item_id), stored in self.items.items()
            if a == account and kind == "meter" and stored.body.get("external_id") in wanted
        }

    def assignments_of(
        self, account: str, *, customer_id: str | None = None, meter_id: str | None = None
    ) -> Sequence[Stored]:
        if (customer_id is None) == (meter_id is None):
            raise ValueError("assignments_of: give exactly one of customer_id and meter_id")
        self.assignment_queries += 1
        field, value = ("customer_id", customer_id) if customer_id is not None else ("meter_id", meter_id)
        return [
            stored
            for (a, kind, _), stored in sorted(self.items.items())
            if a == account and kind == "assignment" and stored.body.get(field) == value
        ]


def reading_slot(reading: RawReading) -> tuple[object, ...]:
    """What makes two raw readings versions of one interval (ports.ReadingStore): meter, type, interval
    length and instant."""
    return (reading.meter_id, reading.type, reading.interval_minutes, reading.timestamp)


class FakeReadingStore(ReadingStore):
    """``items[account]`` holds the current readings (a replacement takes the place of the version it
    replaces), ``history[account]`` the replaced versions in the order they were replaced; ``put_calls``
    counts the writes. ``clock`` says when a replacing version was received. ``marks[(account, meter, UTC
    day)]`` counts the calls that stored a reading of that meter and day since the mark was last cleared."""

    def __init__(self, clock: Callable[[], datetime] = fixed_clock) -> None:
        self.items: dict[str, list[RawReading]] = {}
        self.history: dict[str, list[SupersededReading]] = {}
        self.marks: dict[tuple[str, str, date], int] = {}
        self._clock = clock
        self.put_calls = 0

    def put_new(self, account: str, readings: Sequence[RawReading]) -> PutResult:
        self.put_calls += 1
        stored = self.items.setdefault(account, [])
        history = self.history.setdefault(account, [])
        position = {reading_slot(reading): i for i, reading in enumerate(stored)}
        received = self._clock()
        written: list[int] = []
        duplicates: list[int] = []
        replaced: list[int] = []
        outranked: list[int] = []
        for index, reading in enumerate(readings):
            if reading.timestamp.tzinfo is None:
                raise ValueError(f"readings[{index}]: naive timestamp {reading.timestamp.isoformat()}")
            slot = reading_slot(reading)
            at = position.get(slot)
            if at is None:
                position[slot] = len(stored)
                stored.append(reading)
                written.append(index)
                continue
            current = stored[at]
            if (current.value, current.quality) == (reading.value, reading.quality):
                duplicates.append(index)
            elif replaces(reading.quality, current.quality):
                order = 1 + sum(reading_slot(old.reading) == slot for old in history)
                history.append(SupersededReading(current, received, order))
                stored[at] = reading
                written.append(index)
                replaced.append(index)
            else:
                outranked.append(index)
        for key in {
            (account, readings[i].meter_id, readings[i].timestamp.astimezone(UTC).date()) for i in written
        }:
            self.marks[key] = self.marks.get(key, 0) + 1
        return PutResult(written=written, duplicates=duplicates, replaced=replaced, outranked=outranked)

    def mark_for_rating(self, account: str, meter_id: str, *days: date) -> None:
        for day in days:
            self.marks[(account, meter_id, day)] = self.marks.get((account, meter_id, day), 0) + 1

    def pending_marks(self, *, limit: int) -> Sequence[PendingMark]:
        return [PendingMark(a, m, d, n) for (a, m, d), n in sorted(self.marks.items())][:limit]

    def clear_mark(self, mark: PendingMark) -> bool:
        key = (mark.account, mark.meter_id, mark.day)
        if self.marks.get(key) != mark.changes:
            return False
        del self.marks[key]
        return True

    def between(self, account: str, meter_id: str, start: datetime, end: datetime) -> Iterator[RawReading]:
        chosen = [
            r for r in self.items.get(account, []) if r.meter_id == meter_id and start <= r.timestamp < end
        ]
        return iter(sorted(chosen, key=lambda r: r.timestamp))

    def superseded(
        self, account: str, meter_id: str, start: datetime, end: datetime
    ) -> Iterator[SupersededReading]:
        chosen = [
            old
            for old in self.history.get(account, [])
            if old.reading.meter_id == meter_id and start <= old.reading.timestamp < end
        ]
        return iter(sorted(chosen, key=lambda old: (old.reading.timestamp, old.order)))


class FakeKeyStore(KeyStore):
    """``records[key_id]`` holds every key of every account."""

    def __init__(self) -> None:
        self.records: dict[str, ApiKeyRecord] = {}

    def put(self, record: ApiKeyRecord) -> None:
        self.records[record.key_id] = record

    def get(self, key_id: str) -> ApiKeyRecord | None:
        return self.records.get(key_id)

    def list(self, account: str, *, limit: int, cursor: str | None = None) -> Page[ApiKeyRecord]:
        ids = sorted(key_id for key_id, record in self.records.items() if record.account == account)
        return _page([self.records[i] for i in ids], ids, limit, cursor)

    def revoke(self, account: str, key_id: str, at: datetime) -> ApiKeyRecord:
        record = self.records.get(key_id)
        if record is None or record.account != account:
            raise NotFoundError("api key", key_id)
        if record.revoked_at is None:  # revoking again keeps the first time
            record = replace(record, revoked_at=at)
            self.records[key_id] = record
        return record


class FakeAccountStore(AccountStore):
    """``unlisted`` holds the ids of accounts stored before accounts were listed: ``get`` finds them,
    ``list`` does not (until ``add_missing_to_listing``)."""

    def __init__(self) -> None:
        self.records: dict[str, AccountRecord] = {}
        self.unlisted: set[str] = set()
        self.settings_writes = 0
        self.logos: dict[str, AccountLogo] = {}

    def put_logo(self, account_id: str, logo: AccountLogo) -> None:
        self.get(account_id)
        self.logos[account_id] = logo

    def get_logo(self, account_id: str) -> AccountLogo | None:
        return self.logos.get(account_id)

    def create(self, record: AccountRecord) -> None:
        if record.account_id in self.records:
            raise AlreadyExistsError("account", record.account_id)
        self.records[record.account_id] = record

    def get(self, account_id: str) -> AccountRecord:
        try:
            return self.records[account_id]
        except KeyError:
            raise NotFoundError("account", account_id) from None

    def list(self, *, limit: int, cursor: str | None = None) -> Page[AccountRecord]:
        ids = sorted(set(self.records) - self.unlisted)
        return _page([self.records[i] for i in ids], ids, limit, cursor)

    def add_missing_to_listing(self) -> int:
        fixed = len(self.unlisted)
        self.unlisted.clear()
        return fixed

    def replace_settings(
        self, account_id: str, settings: Mapping[str, Any], *, if_match: str | None, at: datetime
    ) -> AccountRecord:
        """The new ETag hashes the settings and the count of writes: deterministic, never repeated."""
        current = self.get(account_id)
        if if_match is not None and if_match != current.settings_etag:
            raise PreconditionFailedError("settings", account_id, if_match, current.settings_etag)
        self.settings_writes += 1
        text = json.dumps([self.settings_writes, settings], sort_keys=True, default=str)
        etag = hashlib.sha256(text.encode()).hexdigest()[:16]
        updated = replace(current, settings=dict(settings), settings_etag=etag, settings_updated_at=at)
        self.records[account_id] = updated
        return updated


class FakeInvoiceWorkQueue(InvoiceWorkQueue):
    """``messages`` holds what was sent, in order; ``take()`` hands them to a worker and empties it."""

    def __init__(self) -> None:
        self.messages: list[InvoiceWork] = []

    def send(self, items: Sequence[InvoiceWork]) -> None:
        self.messages += items

    def take(self) -> list[InvoiceWork]:
        taken, self.messages = self.messages, []
        return taken


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
        )


class FakeMeteringStore(MeteringStore):
    """``days[(account, meter, day)]``, ``months[(account, meter, year, month)]``, ``running[(account,
    customer)]``; ``writes`` counts every put (what a second pass over the same data must not increase);
    ``stale[(account, meter, day)]``: what an eventually consistent ``days`` answers instead."""

    def __init__(self) -> None:
        self.rated: dict[tuple[str, str, date], RatedDay] = {}
        # What an eventually consistent read answers instead of the stored day (a replica lagging behind).
        self.stale: dict[tuple[str, str, date], RatedDay] = {}
        self.months: dict[tuple[str, str, int, int], MonthRollup] = {}
        self.running: dict[tuple[str, str], RunningCost] = {}
        self.writes = 0

    def days(
        self, account: str, meter_id: str, first: date, end: date, *, consistent: bool = True
    ) -> list[RatedDay]:
        if consistent:
            return self.latest_days(account, meter_id, first, end)
        return [
            self.stale.get((account, meter_id, d.day), d)
            for d in self.latest_days(account, meter_id, first, end)
        ]

    def latest_days(self, account: str, meter_id: str, first: date, end: date) -> list[RatedDay]:
        return [
            day
            for (a, m, d), day in sorted(self.rated.items())
            if a == account and m == meter_id and first <= d < end
        ]

    def put_day(self, account: str, day: RatedDay) -> None:
        self.writes += 1
        self.rated[(account, day.meter_id, day.day)] = day

    def rated_span(self, account: str, meter_id: str) -> tuple[date, date] | None:
        days = [d for (a, m, d) in self.rated if (a, m) == (account, meter_id)]
        return (min(days), max(days)) if days else None

    def month(self, account: str, meter_id: str, year: int, month: int) -> MonthRollup | None:
        return self.months.get((account, meter_id, year, month))

    def put_month(self, account: str, rollup: MonthRollup) -> None:
        self.writes += 1
        self.months[(account, rollup.meter_id, rollup.year, rollup.month)] = rollup

    def running_cost(self, account: str, customer_id: str) -> RunningCost | None:
        return self.running.get((account, customer_id))

    def put_running_cost(self, account: str, running: RunningCost) -> None:
        self.writes += 1
        self.running[(account, running.customer_id)] = running


class FakeWorkQueue(WorkQueue):
    """``messages`` in the order sent (JSON round-tripped, as SQS would carry them)."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def send(self, messages: Sequence[Mapping[str, Any]]) -> None:
        self.messages += [json.loads(json.dumps(message)) for message in messages]


class FakeInvoiceStore(InvoiceStore):
    """``items[(account, invoice_id)]`` holds the invoices, ``counters[(account, series)]`` the last sequence
    issued, ``numbers[(account, series, sequence)]`` the invoice holding each number, ``candidates`` the
    re-rating candidates. One lock makes every call atomic, as the DynamoDB adapter's conditional writes
    are; ``render`` runs outside it and the issue is retried when the draft or the counter moved meanwhile,
    as on DynamoDB. ``writes`` counts stored changes (a no-op leaves it alone)."""

    def __init__(self, clock: Callable[[], datetime] = fixed_clock) -> None:
        self.items: dict[tuple[str, str], InvoiceRecord] = {}
        self.counters: dict[tuple[str, str], int] = {}
        self.numbers: dict[tuple[str, str, int], str] = {}
        self.candidates: dict[tuple[str, str, str, datetime, datetime], ReratingCandidate] = {}
        self.writes = 0
        self._clock = clock
        self._lock = threading.RLock()

    def put_draft(self, account: str, record: InvoiceRecord) -> InvoiceRecord:
        if record.account != account:
            raise InvalidInputError(
                "account", f"the record is of account {record.account!r}, not {account!r}"
            )
        if record.state != "draft":
            raise InvalidInputError("state", f"put_draft writes drafts only, got {record.state!r}")
        if record.number is not None:
            raise InvalidInputError("number", "a draft has no number")
        if record.period_end <= record.period_start:
            raise InvalidInputError("period_end", "must be after period_start")
        body = copy.deepcopy(dict(record.body))
        with self._lock:
            key = (account, record.invoice_id)
            current = self.items.get(key)
            if current is not None and current.state != "draft":
                return current
            fields = (record.customer_id, record.kind, record.period_start, record.period_end)
            if current is not None and (current.customer_id, current.kind, current.period_start,
                                        current.period_end) == fields and current.body == body:  # fmt: skip
                return current
            now = self._clock()
            stored = replace(
                record,
                body=body,
                version=1 if current is None else current.version + 1,
                created_at=now if current is None else current.created_at,
                updated_at=now,
                issued_at=None,
            )
            self.items[key] = stored
            self.writes += 1
            return stored

    def get(self, account: str, invoice_id: str) -> InvoiceRecord:
        with self._lock:
            try:
                return self.items[(account, invoice_id)]
            except KeyError:
                raise NotFoundError("invoice", invoice_id) from None

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
        with self._lock:
            chosen = [
                record
                for (a, _), record in self.items.items()
                if a == account
                and (customer_id is None or record.customer_id == customer_id)
                and (state is None or record.state == state)
                and (start is None or record.period_start >= start)
                and (end is None or record.period_start < end)
            ]

        def order(record: InvoiceRecord) -> str:
            if customer_id is None:
                return record.invoice_id
            return "#".join(
                (
                    record.period_start.isoformat(),
                    record.period_end.isoformat(),
                    record.kind,
                    record.invoice_id,
                )
            )

        chosen.sort(key=order)
        listing = f"{account}|{customer_id or '*'}|"  # a cursor positions only the listing it came from
        if cursor is not None and not cursor.startswith("after:" + listing):
            raise InvalidInputError("cursor", "not a cursor of this listing")
        after = None if cursor is None else "after:" + cursor.removeprefix("after:" + listing)
        page = _page(chosen, [order(record) for record in chosen], limit, after)
        next_cursor = None if page.cursor is None else "after:" + listing + page.cursor.removeprefix("after:")
        return Page(page.items, next_cursor)

    def issued_in(
        self, account: str, month: date, *, limit: int, cursor: str | None = None
    ) -> Page[InvoiceRecord]:
        with self._lock:
            chosen = [
                record
                for (a, _), record in self.items.items()
                if a == account
                and record.issued_at is not None
                and (record.issued_at.year, record.issued_at.month) == (month.year, month.month)
            ]

        def order(record: InvoiceRecord) -> str:
            assert record.issued_at is not None
            return f"{record.issued_at.astimezone(UTC):%Y-%m-%dT%H:%M:%S.%f}#{record.invoice_id}"

        chosen.sort(key=order)
        listing = f"{account}|issued|{month:%Y-%m}|"
        if cursor is not None and not cursor.startswith("after:" + listing):
            raise InvalidInputError("cursor", "not a cursor of this listing")
        after = None if cursor is None else "after:" + cursor.removeprefix("after:" + listing)
        page = _page(chosen, [order(record) for record in chosen], limit, after)
        next_cursor = None if page.cursor is None else "after:" + listing + page.cursor.removeprefix("after:")
        return Page(page.items, next_cursor)

    def issue(
        self,
        account: str,
        invoice_id: str,
        *,
        series: str,
        at: datetime,
        render: Callable[[InvoiceRecord, int], IssuedBody],
    ) -> InvoiceRecord:
        if at.tzinfo is None:
            raise InvalidInputError("at", "must be timezone-aware")
        while True:
            with self._lock:
                current = self.get(account, invoice_id)
                if current.state == "void":
                    raise InvalidStateError("invoice", invoice_id, "void", "issue")
                if current.state != "draft":
                    return current
                last = self.counters.get((account, series), 0)
            issued = render(current, last + 1)
            with self._lock:
                if (
                    self.items[(account, invoice_id)] != current
                    or self.counters.get((account, series), 0) != last
                ):
                    continue  # another write got in between: read again, as the adapter's conditions do
                stored = replace(
                    current,
                    state="issued",
                    number=issued.number,
                    body=copy.deepcopy(dict(issued.body)),
                    version=current.version + 1,
                    updated_at=self._clock(),
                    issued_at=at,
                )
                self.items[(account, invoice_id)] = stored
                self.counters[(account, series)] = last + 1
                self.numbers[(account, series, last + 1)] = invoice_id
                self.writes += 1
                return stored

    def void(self, account: str, invoice_id: str) -> InvoiceRecord:
        with self._lock:
            current = self.get(account, invoice_id)
            if current.state == "void":
                return current
            if current.state != "draft":
                raise InvalidStateError("invoice", invoice_id, current.state, "void")
            stored = replace(current, state="void", version=current.version + 1, updated_at=self._clock())
            self.items[(account, invoice_id)] = stored
            self.writes += 1
            return stored

    def mark_stored(
        self, account: str, invoice_id: str, document: StoredDocument, at: datetime
    ) -> InvoiceRecord:
        if at.tzinfo is None:
            raise InvalidInputError("at", "must be timezone-aware")
        with self._lock:
            current = self.get(account, invoice_id)
            if (
                _next_state(invoices_core.stored, invoice_id, current.state, "store a document")
                == current.state
            ):
                if current.document is not None and current.document.sha256 == document.sha256:
                    return current
                raise InvalidStateError(
                    "invoice", invoice_id, f"{current.state} with another document", "store a document"
                )
            stored = replace(
                current,
                state="stored",
                document=InvoiceDocumentRef(
                    document.key, document.sha256, document.size, at, document.retain_until
                ),
                version=current.version + 1,
                updated_at=self._clock(),
            )
            self.items[(account, invoice_id)] = stored
            self.writes += 1
            return stored

    def mark_delivered(self, account: str, invoice_id: str, at: datetime) -> InvoiceRecord:
        if at.tzinfo is None:
            raise InvalidInputError("at", "must be timezone-aware")
        with self._lock:
            current = self.get(account, invoice_id)
            if (
                _next_state(invoices_core.delivered, invoice_id, current.state, "mark it delivered")
                == current.state
            ):
                return current
            delivered = replace(
                current,
                state="delivered",
                delivered_at=at,
                version=current.version + 1,
                updated_at=self._clock(),
            )
            self.items[(account, invoice_id)] = delivered
            self.writes += 1
            return delivered

    def add_rerating_candidate(self, account: str, candidate: ReratingCandidate) -> ReratingCandidate:
        for name in ("start", "end", "received_at"):
            if getattr(candidate, name).tzinfo is None:
                raise InvalidInputError(name, "must be timezone-aware")
        if candidate.end <= candidate.start:
            raise InvalidInputError("end", "must be after start")
        with self._lock:
            invoice = self.get(account, candidate.invoice_id)
            if invoice.state in ("draft", "void"):
                raise InvalidStateError(
                    "invoice", candidate.invoice_id, invoice.state, "record a re-rating candidate"
                )
            key = (account, candidate.invoice_id, candidate.meter_id, candidate.start, candidate.end)
            return self.candidates.setdefault(key, candidate)

    def rerating_candidates(self, account: str, invoice_id: str) -> Sequence[ReratingCandidate]:
        with self._lock:
            chosen = [c for (a, i, *_), c in self.candidates.items() if (a, i) == (account, invoice_id)]
        return sorted(chosen, key=lambda c: (c.meter_id, c.start, c.end))


def _next_state(step: Callable[[str, str], str], invoice_id: str, state: str, action: str) -> str:
    """The lifecycle's transition (``billing.invoice``), its refusal as the store's InvalidStateError."""
    try:
        return step(invoice_id, state)
    except InvoiceStateError:
        raise InvalidStateError("invoice", invoice_id, state, action) from None


class FakeDocumentStore(DocumentStore):
    """Write-once documents keyed by (account, key); ``puts`` counts the writes that stored bytes."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], tuple[bytes, StoredDocument]] = {}
        self.puts = 0

    def put_once(
        self, account: str, key: str, body: bytes, *, content_type: str, retain_until: datetime
    ) -> StoredDocument:
        if retain_until.tzinfo is None:
            raise ValueError("retain_until must be aware")
        if (account, key) in self.objects:
            stored_body, stored = self.objects[(account, key)]
            if stored_body != body:
                raise AlreadyExistsError("document", key)
            return stored
        stored = StoredDocument(
            key=key,
            sha256=hashlib.sha256(body).hexdigest(),
            size=len(body),
            content_type=content_type,
            retain_until=retain_until,
            version_id=f"v{len(self.objects) + 1}",
        )
        self.objects[(account, key)] = (body, stored)
        self.puts += 1
        return stored

    def get(self, account: str, key: str) -> bytes:
        if (account, key) not in self.objects:
            raise NotFoundError("document", key)
        return self.objects[(account, key)][0]

    def head(self, account: str, key: str) -> StoredDocument:
        if (account, key) not in self.objects:
            raise NotFoundError("document", key)
        return self.objects[(account, key)][1]

    def download_url(self, account: str, key: str, *, expires_in: timedelta) -> str:
        self.head(account, key)
        return f"https://documents.invalid/{account}/{key}?expires={int(expires_in.total_seconds())}"


class FakeMailer(Mailer):
    """Keeps every email sent in ``sent``; ``throttle`` and ``reject`` make the next sends fail."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, OutgoingEmail]] = []
        self.throttle = 0  # how many of the next sends raise MailThrottledError
        self.reject: str | None = None  # a reason: every send raises MailRejectedError with it

    def send(self, email: OutgoingEmail) -> str:
        if self.reject is not None:
            raise MailRejectedError(self.reject)
        if self.throttle > 0:
            self.throttle -= 1
            raise MailThrottledError("Maximum sending rate exceeded.")
        message_id = f"msg-{len(self.sent) + 1:06d}"
        self.sent.append((message_id, email))
        return message_id


class FakeDeliveryStore(DeliveryStore):
    """``items[(account, invoice_id, attempt)]``; ``writes`` counts the stored changes. ``fail_next_update``
    makes the next ``update`` raise it (a crash between a send and its record)."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str, int], DeliveryRecord] = {}
        self.writes = 0
        self.fail_next_update: Exception | None = None
        self._lock = threading.RLock()

    def queue(self, account: str, delivery: NewDelivery, *, at: datetime) -> DeliveryRecord:
        with self._lock:
            attempts = [a for (acc, inv, a) in self.items if (acc, inv) == (account, delivery.invoice_id)]
            if delivery.kind == "first":
                if 1 in attempts:
                    return self.items[(account, delivery.invoice_id, 1)]
                attempt = 1
            else:
                attempt = max(attempts, default=1) + 1
            record = DeliveryRecord(
                account=account,
                invoice_id=delivery.invoice_id,
                attempt=attempt,
                kind=delivery.kind,
                state="queued",
                to=delivery.to,
                cc=delivery.cc,
                language=delivery.language,
                customer_name=delivery.customer_name,
                document_key=delivery.document_key,
                document_sha256=delivery.document_sha256,
                queued_at=at,
                updated_at=at,
            )
            self.items[(account, delivery.invoice_id, attempt)] = record
            self.writes += 1
            return record

    def get(self, account: str, invoice_id: str, attempt: int) -> DeliveryRecord:
        with self._lock:
            try:
                return self.items[(account, invoice_id, attempt)]
            except KeyError:
                raise NotFoundError("delivery", f"{invoice_id}/{attempt}") from None

    def of_invoice(self, account: str, invoice_id: str) -> Sequence[DeliveryRecord]:
        with self._lock:
            return [
                r for (acc, inv, _), r in sorted(self.items.items()) if (acc, inv) == (account, invoice_id)
            ]

    def update(self, account: str, current: DeliveryRecord, new: DeliveryRecord) -> bool:
        key = (account, current.invoice_id, current.attempt)
        if (new.invoice_id, new.attempt, new.version) != (
            current.invoice_id,
            current.attempt,
            current.version + 1,
        ):
            raise InvalidInputError("version", "the new record must be the current one's next version")
        with self._lock:
            if self.fail_next_update is not None:
                error, self.fail_next_update = self.fail_next_update, None
                raise error
            if key not in self.items or self.items[key].version != current.version:
                return False
            self.items[key] = new
            self.writes += 1
            return True


class FakeDeliveryQueue(DeliveryQueue):
    """``sent`` holds every item sent, in order."""

    def __init__(self) -> None:
        self.sent: list[DeliveryWork] = []

    def send(self, items: Sequence[DeliveryWork]) -> None:
        self.sent.extend(items)


class FakeSigningKeyStore(SigningKeyStore):
    """``keys[account]``: the account's key; the first created stays."""

    def __init__(self) -> None:
        self.keys: dict[str, SigningKeyPem] = {}

    def get(self, account: str) -> SigningKeyPem:
        if account not in self.keys:
            raise NotFoundError("signing key", account)
        return self.keys[account]

    def create(self, account: str, key: SigningKeyPem) -> SigningKeyPem:
        return self.keys.setdefault(account, key)
