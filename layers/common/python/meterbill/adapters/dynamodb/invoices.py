"""InvoiceStore on the catalog table: invoices, their numbering counters, the register of issued numbers and
the re-rating candidates. Items, access patterns and costs: ``docs/storage.md`` ("Invoices").

Every write is conditional on what was read. A draft is written whole on ``version = <read version>`` (or
``attribute_not_exists`` when new) and ``state = draft``. Issuing is one TransactWriteItems of three puts:

1. the series counter ``last = n`` on ``last = n - 1`` (or ``attribute_not_exists`` for the first number),
2. the invoice, issued with its number, on ``state = draft AND version = <read version>``,
3. the number's register item, on ``attribute_not_exists``.

So a number is taken exactly when its invoice is issued, by one invoice only, and never skipped: a
transaction that loses a race on the counter or on the invoice changes nothing and is tried again on a fresh
read. Nothing writes an issued invoice again: every write path refuses anything but a draft before writing,
and its condition says ``state = draft`` in case the invoice was issued in between.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from functools import partial
from typing import Any, Final

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.constants import ALL_OLD
from pynamodb.exceptions import CancellationReason, PynamoDBException, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from meterbill.adapters.dynamodb import cursor as cursors
from meterbill.adapters.dynamodb import exact_json
from meterbill.adapters.dynamodb.catalog import CANCELLED_BY_CONDITION, CONDITION_FAILED, utc_now
from meterbill.adapters.dynamodb.connection import DynamoDb, response_code
from meterbill.adapters.dynamodb.items import CatalogTableItem, ItemModel, bind
from meterbill.adapters.dynamodb.paging import query_page
from meterbill.adapters.dynamodb.schema import (
    CATALOG_HASH_KEY,
    CATALOG_RANGE_KEY,
    INVOICES_BY_ISSUE_MONTH_HASH_KEY,
    INVOICES_BY_ISSUE_MONTH_INDEX,
    INVOICES_BY_ISSUE_MONTH_RANGE_KEY,
    KEYS_BY_ACCOUNT_HASH_KEY,
    KEYS_BY_ACCOUNT_INDEX,
    KEYS_BY_ACCOUNT_RANGE_KEY,
    SEPARATOR,
    invoice_counter_pk,
    invoice_numbers_pk,
    invoice_reratings_pk,
    invoices_issued_in_pk,
    invoices_of_customer_pk,
    invoices_pk,
    key_part,
)
from meterbill.billing import invoice as invoices_core
from meterbill.billing.invoice import InvoiceStateError
from meterbill.errors import InvalidInputError, InvalidStateError, NotFoundError, StorageUnavailableError
from meterbill.ports import (
    InvoiceDocumentRef,
    InvoiceRecord,
    InvoiceState,
    InvoiceStore,
    IssuedBody,
    Page,
    ReratingCandidate,
    StoredDocument,
)

# A conditional write that fails means another writer got in first; read again and retry this many times.
MAX_WRITE_ATTEMPTS: Final = 10
# Issuing races every other issue of the series for its counter: n issuers racing need at most n attempts.
DEFAULT_ISSUE_ATTEMPTS: Final = 50
SEQUENCE_DIGITS: Final = 12
CANDIDATES_PAGE: Final = 500
_CANDIDATE_TIME: Final = "%Y-%m-%dT%H:%M:%S.%fZ"
_ISSUED_TIME: Final = "%Y-%m-%dT%H:%M:%S.%fZ"


class InvoiceItem(CatalogTableItem):
    """pk ``account#<account>#invoice``, sk ``<invoice id>``; ``account_pk``/``account_sk`` put it in the
    index's listing of its customer's invoices, in period order; ``issued_pk``/``issued_sk`` (issued only)
    in the index of the month it was issued in."""

    account_pk = UnicodeAttribute()  # account#<account>#invoice#customer#<customer id>
    account_sk = UnicodeAttribute()  # <period start>#<period end>#<kind>#<invoice id>
    # Set once issued (sparse index of the documents issued in a month, the accounting export):
    issued_pk = UnicodeAttribute(null=True)  # account#<account>#invoice#issued#<YYYY-MM>
    issued_sk = UnicodeAttribute(null=True)  # <issued_at in UTC, microseconds>#<invoice id>
    customer_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    state = UnicodeAttribute()
    period_start = UnicodeAttribute()  # ISO date
    period_end = UnicodeAttribute()
    number = UnicodeAttribute(null=True)
    body = UnicodeAttribute()  # exact JSON (see exact_json)
    version = NumberAttribute()
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    issued_at = UTCDateTimeAttribute(null=True)
    # The lifecycle after issuing (mark_stored, mark_delivered): set by UpdateItem, never with the body.
    document_key = UnicodeAttribute(null=True)
    document_sha256 = UnicodeAttribute(null=True)
    document_size = NumberAttribute(null=True)
    document_retain_until = UTCDateTimeAttribute(null=True)
    document_due_date = UnicodeAttribute(null=True)  # ISO date: the due date the document shows
    stored_at = UTCDateTimeAttribute(null=True)
    delivered_at = UTCDateTimeAttribute(null=True)


class InvoiceCounterItem(CatalogTableItem):
    """pk ``account#<account>#invoice-counter``, sk ``<series>``: the last sequence issued in the series."""

    last = NumberAttribute()


class InvoiceNumberItem(CatalogTableItem):
    """pk ``account#<account>#invoice-number``, sk ``<series>#<sequence, 12 digits>``: the number's holder."""

    invoice_id = UnicodeAttribute()
    number = UnicodeAttribute()


class ReratingCandidateItem(CatalogTableItem):
    """pk ``account#<account>#invoice-rerating``, sk ``<invoice id>#<meter id>#<start>#<end>`` (UTC)."""

    invoice_id = UnicodeAttribute()
    meter_id = UnicodeAttribute()
    start = UTCDateTimeAttribute()
    end = UTCDateTimeAttribute()
    received_at = UTCDateTimeAttribute()


class DynamoDbInvoiceStore(InvoiceStore):
    def __init__(
        self,
        db: DynamoDb,
        *,
        clock: Callable[[], datetime] = utc_now,
        new_request_token: Callable[[], str] = lambda: secrets.token_hex(16),
        issue_attempts: int = DEFAULT_ISSUE_ATTEMPTS,
    ) -> None:
        self._db = db
        self._clock = clock
        self._new_request_token = new_request_token
        self._issue_attempts = issue_attempts
        self._invoices = bind(InvoiceItem, db)
        self._counters = bind(InvoiceCounterItem, db)
        self._numbers = bind(InvoiceNumberItem, db)
        self._candidates = bind(ReratingCandidateItem, db)

    # --- reading ------------------------------------------------------------------------------------------

    def get(self, account: str, invoice_id: str) -> InvoiceRecord:
        item = self._find(account, invoice_id)
        if item is None:
            raise NotFoundError("invoice", invoice_id)
        return _record(account, item)

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
        base_pk = invoices_pk(account)
        filters: list[Condition] = []
        if state is not None:
            filters.append(self._invoices.state == state)
        if customer_id is None:
            # The account's partition in id order; the period is a filter (read, then dropped).
            if start is not None:
                filters.append(self._invoices.period_start >= start.isoformat())
            if end is not None:
                filters.append(self._invoices.period_start < end.isoformat())
            start_key = None
            if cursor is not None:
                start_key = cursors.decode(
                    cursor, checks={CATALOG_HASH_KEY: lambda value: value == base_pk, CATALOG_RANGE_KEY: bool}
                )
            raw_items, next_cursor = query_page(
                self._db,
                base_pk,
                limit=limit,
                start_key=start_key,
                cursor_key_names=(CATALOG_HASH_KEY, CATALOG_RANGE_KEY),
                filter_condition=_all(filters),
                what="listing invoices",
            )
        else:
            # The customer's index partition in period order; the period is the key condition (read only
            # what is returned), the state a filter.
            listing_pk = invoices_of_customer_pk(account, customer_id)
            start_key = None
            if cursor is not None:
                start_key = cursors.decode(
                    cursor,
                    checks={
                        KEYS_BY_ACCOUNT_HASH_KEY: lambda value: value == listing_pk,
                        KEYS_BY_ACCOUNT_RANGE_KEY: bool,
                        CATALOG_HASH_KEY: lambda value: value == base_pk,
                        CATALOG_RANGE_KEY: bool,
                    },
                )
                listed_sk = start_key[KEYS_BY_ACCOUNT_RANGE_KEY]["S"]
                if not listed_sk.endswith(SEPARATOR + start_key[CATALOG_RANGE_KEY]["S"]):
                    raise cursors.not_of_this_listing()
            raw_items, next_cursor = query_page(
                self._db,
                listing_pk,
                index_name=KEYS_BY_ACCOUNT_INDEX,
                limit=limit,
                start_key=start_key,
                cursor_key_names=(
                    CATALOG_HASH_KEY,
                    CATALOG_RANGE_KEY,
                    KEYS_BY_ACCOUNT_HASH_KEY,
                    KEYS_BY_ACCOUNT_RANGE_KEY,
                ),
                range_key_condition=self._period_condition(start, end),
                filter_condition=_all(filters),
                what="listing a customer's invoices",
            )
        return Page([_record(account, self._invoices.from_raw_data(raw)) for raw in raw_items], next_cursor)

    def issued_in(
        self, account: str, month: date, *, limit: int, cursor: str | None = None
    ) -> Page[InvoiceRecord]:
        """One Query of the month's partition of the issue-month index (sparse: only issued documents set
        it), in order of issue: reads that month's documents and no other."""
        base_pk = invoices_pk(account)
        listing_pk = invoices_issued_in_pk(account, month.year, month.month)
        start_key = None
        if cursor is not None:
            start_key = cursors.decode(
                cursor,
                checks={
                    INVOICES_BY_ISSUE_MONTH_HASH_KEY: lambda value: value == listing_pk,
                    INVOICES_BY_ISSUE_MONTH_RANGE_KEY: bool,
                    CATALOG_HASH_KEY: lambda value: value == base_pk,
                    CATALOG_RANGE_KEY: bool,
                },
            )
            listed_sk = start_key[INVOICES_BY_ISSUE_MONTH_RANGE_KEY]["S"]
            if not listed_sk.endswith(SEPARATOR + start_key[CATALOG_RANGE_KEY]["S"]):
                raise cursors.not_of_this_listing()
        raw_items, next_cursor = query_page(
            self._db,
            listing_pk,
            index_name=INVOICES_BY_ISSUE_MONTH_INDEX,
            limit=limit,
            start_key=start_key,
            cursor_key_names=(
                CATALOG_HASH_KEY,
                CATALOG_RANGE_KEY,
                INVOICES_BY_ISSUE_MONTH_HASH_KEY,
                INVOICES_BY_ISSUE_MONTH_RANGE_KEY,
            ),
            what="listing the invoices issued in a month",
        )
        return Page([_record(account, self._invoices.from_raw_data(raw)) for raw in raw_items], next_cursor)

    def _period_condition(self, start: date | None, end: date | None) -> Condition | None:
        """``account_sk`` starts with the period start (10 characters) and a separator, so it is >= the
        start date exactly when the period starts on or after it, and <= the end date exactly when it starts
        before it (the equal date has a longer, greater key)."""
        listed = self._invoices.account_sk
        if start is not None and end is not None:
            condition: Condition = listed.between(start.isoformat(), end.isoformat())
            return condition
        if start is not None:
            return listed >= start.isoformat()
        if end is not None:
            return listed < end.isoformat()
        return None

    # --- drafts and voiding -------------------------------------------------------------------------------

    def put_draft(self, account: str, record: InvoiceRecord) -> InvoiceRecord:
        _check_draft(account, record)
        body = exact_json.dumps(record.body)
        for attempt in range(MAX_WRITE_ATTEMPTS):
            self._back_off(attempt)
            current = self._find(account, record.invoice_id)
            if current is not None and current.state != "draft":
                return _record(account, current)  # issued or void: never written again
            if current is not None and _same_draft(current, record, body):
                return _record(account, current)  # recomputed to the same draft: nothing to write
            now = self._clock()
            item = self._invoice_item(
                account,
                record,
                state="draft",
                number=None,
                body=body,
                version=1 if current is None else int(current.version) + 1,
                created_at=now if current is None else current.created_at,
                updated_at=now,
                issued_at=None,
            )
            condition = self._invoices.pk.does_not_exist() if current is None else self._still(current)
            if self._put(item, condition, what="writing an invoice draft"):
                return _record(account, item)
        raise self._db.give_up(f"writing invoice draft {record.invoice_id!r}", "it kept changing")

    def void(self, account: str, invoice_id: str) -> InvoiceRecord:
        for attempt in range(MAX_WRITE_ATTEMPTS):
            self._back_off(attempt)
            current = self._find(account, invoice_id)
            if current is None:
                raise NotFoundError("invoice", invoice_id)
            if current.state == "void":
                return _record(account, current)
            if current.state != "draft":
                raise InvalidStateError("invoice", invoice_id, current.state, "void")
            record = _record(account, current)
            item = self._invoice_item(
                account,
                record,
                state="void",
                number=None,
                body=current.body,
                version=int(current.version) + 1,
                created_at=current.created_at,
                updated_at=self._clock(),
                issued_at=None,
            )
            if self._put(item, self._still(current), what="voiding an invoice"):
                return _record(account, item)
        raise self._db.give_up(f"voiding invoice {invoice_id!r}", "it kept changing")

    # --- issuing ------------------------------------------------------------------------------------------

    def issue(
        self,
        account: str,
        invoice_id: str,
        *,
        series: str,
        at: datetime,
        render: Callable[[InvoiceRecord, int], IssuedBody],
    ) -> InvoiceRecord:
        key_part(series, "series")
        _check_aware(at, "at")
        current = self._find(account, invoice_id)
        counter: InvoiceCounterItem | None = None
        counter_read = False
        for attempt in range(self._issue_attempts):
            self._back_off(attempt)
            if current is None:
                raise NotFoundError("invoice", invoice_id)
            if current.state == "void":
                raise InvalidStateError("invoice", invoice_id, "void", "issue")
            if current.state != "draft":
                return _record(account, current)  # issued already (by us, before a crash, or by a racer)
            if not counter_read:
                counter, counter_read = self._find_counter(account, series), True
            last = 0 if counter is None else int(counter.last)
            sequence = last + 1
            draft = _record(account, current)
            issued = render(draft, sequence)
            if not issued.number:
                raise InvalidInputError("number", "must not be empty")
            item = self._invoice_item(
                account,
                draft,
                state="issued",
                number=issued.number,
                body=exact_json.dumps(issued.body),
                version=int(current.version) + 1,
                created_at=current.created_at,
                updated_at=self._clock(),
                issued_at=at,
            )
            counter_condition = (
                self._counters.pk.does_not_exist() if counter is None else self._counters.last == last
            )
            register = self._numbers(
                invoice_numbers_pk(account),
                f"{series}{SEPARATOR}{sequence:0{SEQUENCE_DIGITS}d}",
                invoice_id=invoice_id,
                number=issued.number,
            )
            reasons = self._transact(
                [
                    (self._counters(invoice_counter_pk(account), series, last=sequence), counter_condition),
                    (item, self._still(current)),
                    (register, self._numbers.pk.does_not_exist()),
                ],
                what=f"issuing invoice {invoice_id!r}",
            )
            if reasons is None:
                return _record(account, item)
            if len(reasons) != 3:  # no reasons given: read both again
                current, counter_read = self._find(account, invoice_id), False
                continue
            counter_lost, invoice_lost, number_taken = (_condition_failed(reason) for reason in reasons)
            if number_taken and not (counter_lost or invoice_lost):
                raise StorageUnavailableError(
                    f"issuing invoice {invoice_id!r}: number {sequence} of series {series!r} is registered "
                    f"but the counter says {last}: the counter must be repaired before issuing again"
                )
            if not (counter_lost or invoice_lost):  # cancelled for another reason: read both again
                current, counter_read = self._find(account, invoice_id), False
                continue
            # Another writer got in first: the cancellation carries the item that won (ALL_OLD), so the
            # next attempt starts from it without reading again.
            if counter_lost:
                counter = _old(reasons[0], self._counters) or self._find_counter(account, series)
            if invoice_lost:
                current = _old(reasons[1], self._invoices) or self._find(account, invoice_id)
        raise self._db.give_up(
            f"issuing invoice {invoice_id!r}", f"other issues of series {series!r} kept taking the number"
        )

    # --- after issuing: stored, delivered -------------------------------------------------------------------

    def mark_stored(
        self,
        account: str,
        invoice_id: str,
        document: StoredDocument,
        at: datetime,
        *,
        due_date: date | None = None,
    ) -> InvoiceRecord:
        _check_aware(at, "at")
        for attempt in range(MAX_WRITE_ATTEMPTS):
            self._back_off(attempt)
            current = self._find(account, invoice_id)
            if current is None:
                raise NotFoundError("invoice", invoice_id)
            state = _next_state(invoices_core.stored, invoice_id, current.state, "store a document")
            if state == current.state:  # stored or delivered already
                if current.document_sha256 == document.sha256:
                    return _record(account, current)  # a retry: the same document is on the record
                raise InvalidStateError(
                    "invoice", invoice_id, f"{current.state} with another document", "store a document"
                )
            item = self._invoices
            actions = [
                item.state.set("stored"),
                item.document_key.set(document.key),
                item.document_sha256.set(document.sha256),
                item.document_size.set(document.size),
                item.document_retain_until.set(document.retain_until),
                item.stored_at.set(at),
                item.version.set(int(current.version) + 1),
                item.updated_at.set(self._clock()),
            ]
            if due_date is not None:
                actions.append(item.document_due_date.set(due_date.isoformat()))
            if self._update(current, actions, self._in_state(current, "issued"), what="storing a document"):
                return _record(account, current)
        raise self._db.give_up(f"marking invoice {invoice_id!r} stored", "it kept changing")

    def mark_delivered(self, account: str, invoice_id: str, at: datetime) -> InvoiceRecord:
        _check_aware(at, "at")
        for attempt in range(MAX_WRITE_ATTEMPTS):
            self._back_off(attempt)
            current = self._find(account, invoice_id)
            if current is None:
                raise NotFoundError("invoice", invoice_id)
            state = _next_state(invoices_core.delivered, invoice_id, current.state, "mark it delivered")
            if state == current.state:
                return _record(account, current)  # delivered already
            item = self._invoices
            actions = [
                item.state.set("delivered"),
                item.delivered_at.set(at),
                item.version.set(int(current.version) + 1),
                item.updated_at.set(self._clock()),
            ]
            if self._update(
                current, actions, self._in_state(current, "stored"), what="delivering a document"
            ):
                return _record(account, current)
        raise self._db.give_up(f"marking invoice {invoice_id!r} delivered", "it kept changing")

    def _in_state(self, current: InvoiceItem, state: InvoiceState) -> Condition:
        """The invoice is still in ``state`` at the version that was read."""
        condition: Condition = (self._invoices.state == state) & (self._invoices.version == current.version)
        return condition

    def _update(
        self, current: InvoiceItem, actions: Sequence[Action], condition: Condition, *, what: str
    ) -> bool:
        """A conditional UpdateItem of the named attributes only (the body is never in the request);
        ``current`` is refreshed from the answer. False when the condition failed (a retry of a lost answer
        fails it too: the version moved)."""
        try:
            self._db.run(
                partial(current.update, actions=[*actions], condition=condition), what=what, idempotent=True
            )
        except PynamoDBException as error:
            if response_code(error) == CONDITION_FAILED:
                return False
            raise
        return True

    # --- re-rating candidates -----------------------------------------------------------------------------

    def add_rerating_candidate(self, account: str, candidate: ReratingCandidate) -> ReratingCandidate:
        for name in ("start", "end", "received_at"):
            _check_aware(getattr(candidate, name), name)
        if candidate.end <= candidate.start:
            raise InvalidInputError("end", "must be after start")
        invoice = self._find(account, candidate.invoice_id)
        if invoice is None:
            raise NotFoundError("invoice", candidate.invoice_id)
        if invoice.state in ("draft", "void"):
            raise InvalidStateError(
                "invoice", candidate.invoice_id, invoice.state, "record a re-rating candidate"
            )
        item = self._candidates(
            invoice_reratings_pk(account),
            _candidate_sk(candidate),
            invoice_id=candidate.invoice_id,
            meter_id=candidate.meter_id,
            start=candidate.start,
            end=candidate.end,
            received_at=candidate.received_at,
        )
        if self._put(item, self._candidates.pk.does_not_exist(), what="recording a re-rating candidate"):
            return _candidate(item)
        answer = self._db.run(
            partial(self._db.catalog_table.get_item, item.pk, item.sk, consistent_read=True),
            what="reading a re-rating candidate",
            idempotent=True,
        )
        return _candidate(self._candidates.from_raw_data(answer["Item"]))

    def rerating_candidates(self, account: str, invoice_id: str) -> Sequence[ReratingCandidate]:
        prefix = f"{key_part(invoice_id, 'invoice_id')}{SEPARATOR}"
        found: list[ReratingCandidate] = []
        cursor: cursors.StartKey | None = None
        while True:
            raw_items, next_cursor = query_page(
                self._db,
                invoice_reratings_pk(account),
                limit=CANDIDATES_PAGE,
                start_key=cursor,
                cursor_key_names=(CATALOG_HASH_KEY, CATALOG_RANGE_KEY),
                range_key_condition=self._candidates.sk.startswith(prefix),
                what="reading re-rating candidates",
            )
            found.extend(_candidate(self._candidates.from_raw_data(raw)) for raw in raw_items)
            if next_cursor is None:
                return found
            cursor = cursors.decode(next_cursor, checks={CATALOG_HASH_KEY: bool, CATALOG_RANGE_KEY: bool})

    # --- helpers ------------------------------------------------------------------------------------------

    def _find(self, account: str, invoice_id: str) -> InvoiceItem | None:
        answer = self._db.run(
            partial(
                self._db.catalog_table.get_item,
                invoices_pk(account),
                key_part(invoice_id, "invoice_id"),
                consistent_read=True,
            ),
            what="reading invoice",
            idempotent=True,
        )
        raw = answer.get("Item")
        return None if raw is None else self._invoices.from_raw_data(raw)

    def _find_counter(self, account: str, series: str) -> InvoiceCounterItem | None:
        answer = self._db.run(
            partial(
                self._db.catalog_table.get_item, invoice_counter_pk(account), series, consistent_read=True
            ),
            what="reading invoice counter",
            idempotent=True,
        )
        raw = answer.get("Item")
        return None if raw is None else self._counters.from_raw_data(raw)

    def _invoice_item(
        self,
        account: str,
        record: InvoiceRecord,
        *,
        state: InvoiceState,
        number: str | None,
        body: str,
        version: int,
        created_at: datetime,
        updated_at: datetime,
        issued_at: datetime | None,
    ) -> InvoiceItem:
        invoice_id = key_part(record.invoice_id, "invoice_id")
        kind = key_part(record.kind, "kind")
        return self._invoices(
            invoices_pk(account),
            invoice_id,
            account_pk=invoices_of_customer_pk(account, record.customer_id),
            account_sk=SEPARATOR.join(
                (record.period_start.isoformat(), record.period_end.isoformat(), kind, invoice_id)
            ),
            customer_id=record.customer_id,
            kind=kind,
            state=state,
            period_start=record.period_start.isoformat(),
            period_end=record.period_end.isoformat(),
            number=number,
            body=body,
            version=version,
            created_at=created_at,
            updated_at=updated_at,
            issued_at=issued_at,
            issued_pk=None
            if issued_at is None
            else invoices_issued_in_pk(account, issued_at.year, issued_at.month),
            issued_sk=None
            if issued_at is None
            else f"{issued_at.astimezone(UTC).strftime(_ISSUED_TIME)}{SEPARATOR}{invoice_id}",
        )

    def _still(self, current: InvoiceItem) -> Condition:
        """The invoice is still the draft that was read."""
        condition: Condition = (self._invoices.state == "draft") & (self._invoices.version == current.version)
        return condition

    def _put(self, item: Model, condition: Condition, *, what: str) -> bool:
        """A conditional put; False when the condition failed. Sending it twice changes nothing (the second
        fails its condition), so a lost answer is retried."""
        try:
            self._db.run(partial(item.save, condition=condition), what=what, idempotent=True)
        except PynamoDBException as error:
            if response_code(error) == CONDITION_FAILED:
                return False
            raise
        return True

    def _transact(
        self, puts: Sequence[tuple[Model, Condition]], *, what: str
    ) -> Sequence[CancellationReason | None] | None:
        """The puts as one transaction with one client request token across retries. None when it
        committed, else the cancellation reason of each put, in order; a put whose condition failed carries
        the item as it was (``ReturnValuesOnConditionCheckFailure = ALL_OLD``)."""
        token = self._new_request_token()

        def attempt() -> None:
            with TransactWrite(connection=self._db.connection, client_request_token=token) as transaction:
                for model, condition in puts:
                    transaction.save(model, condition=condition, return_values=ALL_OLD)

        try:
            self._db.run(attempt, what=what, idempotent=True)
        except TransactWriteError as error:
            if response_code(error) != "TransactionCanceledException":
                raise StorageUnavailableError(f"{what}: {response_code(error)}") from error
            return error.cancellation_reasons
        return None

    def _back_off(self, attempt: int) -> None:
        """Before a retry after a lost race: the retry policy's jittered backoff (none before the first)."""
        if attempt:
            self._db.retry.sleep(self._db.retry.delay_before(attempt - 1))


def _next_state(
    step: Callable[[str, str], InvoiceState], invoice_id: str, state: str, action: str
) -> InvoiceState:
    """The lifecycle's transition (``billing.invoice``), its refusal as the store's InvalidStateError."""
    try:
        return step(invoice_id, state)
    except InvoiceStateError:
        raise InvalidStateError("invoice", invoice_id, state, action) from None


def _all(conditions: Sequence[Condition]) -> Condition | None:
    if not conditions:
        return None
    combined = conditions[0]
    for condition in conditions[1:]:
        combined &= condition
    return combined


def _condition_failed(reason: CancellationReason | None) -> bool:
    return reason is not None and reason.code == CANCELLED_BY_CONDITION


def _old(reason: CancellationReason | None, model: type[ItemModel]) -> ItemModel | None:
    """The item a failed condition saw, None when it did not exist."""
    raw = None if reason is None else reason.raw_item
    return None if raw is None else model.from_raw_data(raw)


def _check_draft(account: str, record: InvoiceRecord) -> None:
    if record.account != account:
        raise InvalidInputError("account", f"the record is of account {record.account!r}, not {account!r}")
    if record.state != "draft":
        raise InvalidInputError("state", f"put_draft writes drafts only, got {record.state!r}")
    if record.number is not None:
        raise InvalidInputError("number", "a draft has no number")
    if record.period_end <= record.period_start:
        raise InvalidInputError("period_end", "must be after period_start")


def _check_aware(value: datetime, field: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInputError(field, "must be timezone-aware")


def _same_draft(current: InvoiceItem, record: InvoiceRecord, body: str) -> bool:
    return (current.body, current.customer_id, current.kind, current.period_start, current.period_end) == (
        body,
        record.customer_id,
        record.kind,
        record.period_start.isoformat(),
        record.period_end.isoformat(),
    )


def _record(account: str, item: InvoiceItem) -> InvoiceRecord:
    state: InvoiceState = item.state  # type: ignore[assignment]
    body: Mapping[str, Any] = exact_json.loads(item.body)
    return InvoiceRecord(
        account=account,
        invoice_id=item.sk,
        customer_id=item.customer_id,
        kind=item.kind,
        state=state,
        period_start=date.fromisoformat(item.period_start),
        period_end=date.fromisoformat(item.period_end),
        number=item.number,
        body=body,
        version=int(item.version),
        created_at=item.created_at,
        updated_at=item.updated_at,
        issued_at=item.issued_at,
        document=_document(item),
        delivered_at=item.delivered_at,
    )


def _document(item: InvoiceItem) -> InvoiceDocumentRef | None:
    if item.document_key is None or item.document_sha256 is None or item.stored_at is None:
        return None
    return InvoiceDocumentRef(
        key=item.document_key,
        sha256=item.document_sha256,
        size=int(item.document_size or 0),
        stored_at=item.stored_at,
        retain_until=item.document_retain_until,
        due_date=None if item.document_due_date is None else date.fromisoformat(item.document_due_date),
    )


def _candidate_sk(candidate: ReratingCandidate) -> str:
    return SEPARATOR.join(
        (
            key_part(candidate.invoice_id, "invoice_id"),
            key_part(candidate.meter_id, "meter_id"),
            candidate.start.astimezone(UTC).strftime(_CANDIDATE_TIME),
            candidate.end.astimezone(UTC).strftime(_CANDIDATE_TIME),
        )
    )


def _candidate(item: ReratingCandidateItem) -> ReratingCandidate:
    return ReratingCandidate(item.invoice_id, item.meter_id, item.start, item.end, item.received_at)
