"""CatalogStore on the catalog table: one item per object, conditional writes, unique meter external ids.

Creates are ``attribute_not_exists`` puts; replace and delete are conditional on the item existing and, when
If-Match is given, on its ETag. A meter with an ``external_id`` also owns the item
``account#<account>#meter-external-id`` / ``<external id>``; a write of a meter that adds, changes or drops
its external id changes both items in one transaction, so no two meters of an account ever hold the same
external id and ``meters_by_external_id`` never answers with a meter that is gone.

An assignment is also copied into two item collections, ``account#<account>#assignment-by-customer#<customer
id>`` and ``account#<account>#assignment-by-meter#<meter id>`` (sort key its id), written, moved and deleted
in the same transaction as the assignment itself, so ``assignments_of`` is one strongly consistent Query of
the customer's (or meter's) assignments, whatever the size of the account.
"""

from __future__ import annotations

import builtins
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, Final

from pynamodb.exceptions import PynamoDBException, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from meterbill.adapters.dynamodb import cursor as cursors
from meterbill.adapters.dynamodb import exact_json
from meterbill.adapters.dynamodb.connection import DynamoDb, response_code
from meterbill.adapters.dynamodb.items import CatalogObjectItem, ExternalIdItem, bind
from meterbill.adapters.dynamodb.paging import query_page
from meterbill.adapters.dynamodb.schema import (
    CATALOG_HASH_KEY,
    CATALOG_RANGE_KEY,
    assignments_of_customer_pk,
    assignments_of_meter_pk,
    catalog_pk,
    external_id_pk,
    range_key,
)
from meterbill.errors import (
    AlreadyExistsError,
    InvalidInputError,
    NotFoundError,
    PreconditionFailedError,
    StorageUnavailableError,
)
from meterbill.ports import CatalogKind, CatalogStore, Page, Stored

CONDITION_FAILED: Final = "ConditionalCheckFailedException"
CANCELLED_BY_CONDITION: Final = "ConditionalCheckFailed"  # the same, as a transaction's cancellation reason
BATCH_GET_LIMIT: Final = 100  # DynamoDB's BatchGetItem limit
LINKS_PAGE: Final = 1000  # assignments of one customer or meter read per Query page
# A meter write reads the meter, then writes conditionally on what it read; if another write slips in between,
# it reads again, this many times at most.
MAX_METER_WRITE_ATTEMPTS: Final = 5


def utc_now() -> datetime:
    return datetime.now(UTC)


def random_etag() -> str:
    """16 url-safe characters (96 random bits): a new one on every write, so a deleted and re-created object
    never matches an old If-Match."""
    return secrets.token_urlsafe(12)


class DynamoDbCatalogStore(CatalogStore):
    def __init__(
        self,
        db: DynamoDb,
        *,
        clock: Callable[[], datetime] = utc_now,
        new_etag: Callable[[], str] = random_etag,
        new_request_token: Callable[[], str] = lambda: secrets.token_hex(16),
    ) -> None:
        self._db = db
        self._clock = clock
        self._new_etag = new_etag
        self._new_request_token = new_request_token
        self._objects = bind(CatalogObjectItem, db)
        self._external_ids = bind(ExternalIdItem, db)

    # --- reading ------------------------------------------------------------------------------------------

    def get(self, account: str, kind: CatalogKind, item_id: str) -> Stored:
        item = self._find(account, kind, item_id)
        if item is None:
            raise NotFoundError(kind, item_id)
        return _stored(kind, item)

    def list(
        self, account: str, kind: CatalogKind, *, limit: int, cursor: str | None = None, prefix: str = ""
    ) -> Page[Stored]:
        pk = catalog_pk(account, kind)
        start_key = None
        if cursor is not None:
            start_key = cursors.decode(
                cursor,
                checks={
                    CATALOG_HASH_KEY: lambda value: value == pk,
                    CATALOG_RANGE_KEY: lambda value: value.startswith(prefix),
                },
            )
        raw_items, next_cursor = query_page(
            self._db,
            pk,
            limit=limit,
            start_key=start_key,
            cursor_key_names=(CATALOG_HASH_KEY, CATALOG_RANGE_KEY),
            range_key_condition=self._objects.sk.startswith(prefix) if prefix else None,
            what=f"listing {kind}s",
        )
        return Page([_stored(kind, self._objects.from_raw_data(raw)) for raw in raw_items], next_cursor)

    def assignments_of(
        self, account: str, *, customer_id: str | None = None, meter_id: str | None = None
    ) -> Sequence[Stored]:
        if (customer_id is None) == (meter_id is None):
            raise ValueError("assignments_of: give exactly one of customer_id and meter_id")
        if customer_id is not None:
            pk = assignments_of_customer_pk(account, customer_id)
        else:
            assert meter_id is not None
            pk = assignments_of_meter_pk(account, meter_id)
        found: builtins.list[Stored] = []
        start_key = None
        while True:
            raw_items, cursor = query_page(
                self._db,
                pk,
                limit=LINKS_PAGE,
                start_key=start_key,
                cursor_key_names=(CATALOG_HASH_KEY, CATALOG_RANGE_KEY),
                what="listing assignments",
            )
            found += (_stored("assignment", self._objects.from_raw_data(raw)) for raw in raw_items)
            if cursor is None:
                return found
            start_key = cursors.decode(
                cursor, checks={CATALOG_HASH_KEY: lambda value: value == pk, CATALOG_RANGE_KEY: bool}
            )

    def meters_by_external_id(self, account: str, external_ids: Sequence[str]) -> Mapping[str, str]:
        pk = external_id_pk(account)
        wanted = sorted({range_key(external_id, "external_id") for external_id in external_ids})
        found: dict[str, str] = {}
        for first in range(0, len(wanted), BATCH_GET_LIMIT):
            keys = [
                {CATALOG_HASH_KEY: pk, CATALOG_RANGE_KEY: sk}
                for sk in wanted[first : first + BATCH_GET_LIMIT]
            ]
            for raw in self._batch_get(keys):
                claim = self._external_ids.from_raw_data(raw)
                found[claim.sk] = claim.meter_id
        return found

    def _batch_get(self, keys: Sequence[Mapping[str, str]]) -> Sequence[dict[str, Any]]:
        """Every item of ``keys`` that exists. Keys DynamoDB leaves unprocessed are asked for again after a
        backoff, like throttled calls; the call fails with StorageUnavailableError when they never come."""
        table = self._db.settings.catalog_table
        items: list[dict[str, Any]] = []
        pending = keys
        for attempt in range(self._db.retry.attempts):
            if attempt:
                self._db.retry.sleep(self._db.retry.delay_before(attempt - 1))
            answer = self._db.run(
                partial(self._db.connection.batch_get_item, table, pending, consistent_read=True),  # type: ignore[arg-type]
                what="reading external ids",
                idempotent=True,
            )
            items.extend(answer.get("Responses", {}).get(table, []))
            unprocessed = answer.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
            if not unprocessed:
                return items
            pending = [{name: value["S"] for name, value in key.items()} for key in unprocessed]
        raise self._db.give_up("reading external ids", f"{len(pending)} keys still unprocessed")

    # --- writing ------------------------------------------------------------------------------------------

    def create(self, account: str, kind: CatalogKind, item_id: str, body: Mapping[str, Any]) -> Stored:
        now = self._clock()
        item = self._objects(
            catalog_pk(account, kind),
            range_key(item_id, "id"),
            body=exact_json.dumps(body),
            etag=self._new_etag(),
            created_at=now,
            updated_at=now,
        )
        external_id = _external_id(kind, body)
        is_new = self._objects.pk.does_not_exist()
        if kind == "assignment":
            reasons = self._transact(
                _Writes(puts=[(item, is_new), *((link, None) for link in self._links(account, item))]),
                what="creating assignment",
            )
            if reasons is None:
                return _stored(kind, item)
            if reasons[0] == CANCELLED_BY_CONDITION:
                raise AlreadyExistsError(kind, item_id)
            raise StorageUnavailableError(f"creating {kind} {item_id!r}: transaction cancelled: {reasons}")
        if external_id is None:
            try:
                self._db.run(partial(item.save, condition=is_new), what=f"creating {kind}", idempotent=False)
            except PynamoDBException as error:
                if response_code(error) == CONDITION_FAILED:
                    raise AlreadyExistsError(kind, item_id) from None
                raise
            return _stored(kind, item)

        claim = self._claim(account, external_id, item_id)
        reasons = self._transact(
            _Writes(puts=[(item, is_new), (claim, self._external_ids.pk.does_not_exist())]),
            what=f"creating {kind}",
        )
        if reasons is None:
            return _stored(kind, item)
        if reasons[0] == CANCELLED_BY_CONDITION:
            raise AlreadyExistsError(kind, item_id)
        if reasons[1] == CANCELLED_BY_CONDITION:
            raise self._external_id_taken(account, external_id)
        raise StorageUnavailableError(f"creating {kind} {item_id!r}: transaction cancelled: {reasons}")

    def replace(
        self, account: str, kind: CatalogKind, item_id: str, body: Mapping[str, Any], *, if_match: str | None
    ) -> Stored:
        text = exact_json.dumps(body)
        if kind == "assignment":
            return self._replace_assignment(account, item_id, text, if_match)
        if kind != "meter":
            item = self._objects(catalog_pk(account, kind), range_key(item_id, "id"))
            condition = self._objects.pk.exists()
            if if_match is not None:
                condition &= self._objects.etag == if_match
            actions: list[Action] = [
                self._objects.body.set(text),
                self._objects.etag.set(self._new_etag()),
                self._objects.updated_at.set(self._clock()),
            ]
            try:
                self._db.run(
                    partial(item.update, actions, condition), what=f"replacing {kind}", idempotent=False
                )
            except PynamoDBException as error:
                if response_code(error) == CONDITION_FAILED:
                    raise self._not_found_or_changed(account, kind, item_id, if_match) from None
                raise
            return _stored(kind, item)

        new_external_id = _external_id(kind, body)
        for _ in range(MAX_METER_WRITE_ATTEMPTS):
            current = self._current(account, kind, item_id, if_match)
            old_external_id = _external_id(kind, exact_json.loads(current.body))
            updated = self._objects(
                current.pk,
                current.sk,
                body=text,
                etag=self._new_etag(),
                created_at=current.created_at,
                updated_at=self._clock(),
            )
            writes = _Writes(puts=[(updated, self._objects.etag == current.etag)])
            claims_change = old_external_id != new_external_id
            if claims_change and old_external_id is not None:
                writes.deletes.append(
                    (self._claim(account, old_external_id, item_id), self._held_by(item_id))
                )
            if claims_change and new_external_id is not None:
                writes.puts.append(
                    (self._claim(account, new_external_id, item_id), self._external_ids.pk.does_not_exist())
                )
            reasons = self._transact(writes, what="replacing meter")
            if reasons is None:
                return _stored(kind, updated)
            if claims_change and new_external_id is not None and reasons[-1] == CANCELLED_BY_CONDITION:
                raise self._external_id_taken(account, new_external_id)
            # The meter changed since it was read: read again (and answer 412 if If-Match no longer holds).
        raise StorageUnavailableError(f"replacing meter {item_id!r}: it kept changing while being written")

    def _replace_assignment(self, account: str, item_id: str, text: str, if_match: str | None) -> Stored:
        """The assignment and its copies in one transaction: the copies move when its customer or meter
        changes."""
        for _ in range(MAX_METER_WRITE_ATTEMPTS):
            current = self._current(account, "assignment", item_id, if_match)
            updated = self._objects(
                current.pk,
                current.sk,
                body=text,
                etag=self._new_etag(),
                created_at=current.created_at,
                updated_at=self._clock(),
            )
            new_links = self._links(account, updated)
            new_keys = {(link.pk, link.sk) for link in new_links}
            stale = [link for link in self._links(account, current) if (link.pk, link.sk) not in new_keys]
            writes = _Writes(
                deletes=[(link, None) for link in stale],
                puts=[(updated, self._objects.etag == current.etag), *((link, None) for link in new_links)],
            )
            if self._transact(writes, what="replacing assignment") is None:
                return _stored("assignment", updated)
            # It changed since it was read: read again (and answer 412 if If-Match no longer holds).
        raise StorageUnavailableError(
            f"replacing assignment {item_id!r}: it kept changing while being written"
        )

    def _links(self, account: str, item: CatalogObjectItem) -> builtins.list[CatalogObjectItem]:
        """The assignment's copies in its customer's and its meter's item collections."""
        body = exact_json.loads(item.body)
        return [
            self._objects(
                pk,
                item.sk,
                body=item.body,
                etag=item.etag,
                created_at=item.created_at,
                updated_at=item.updated_at,
            )
            for pk in (
                assignments_of_customer_pk(account, body["customer_id"]),
                assignments_of_meter_pk(account, body["meter_id"]),
            )
        ]

    def delete(self, account: str, kind: CatalogKind, item_id: str, *, if_match: str | None) -> None:
        if kind == "assignment":
            for _ in range(MAX_METER_WRITE_ATTEMPTS):
                current = self._current(account, kind, item_id, if_match)
                writes = _Writes(
                    deletes=[
                        (current, self._objects.etag == current.etag),
                        *((link, None) for link in self._links(account, current)),
                    ]
                )
                if self._transact(writes, what="deleting assignment") is None:
                    return
            raise StorageUnavailableError(
                f"deleting assignment {item_id!r}: it kept changing while being deleted"
            )
        if kind != "meter":
            item = self._objects(catalog_pk(account, kind), range_key(item_id, "id"))
            condition = self._objects.pk.exists()
            if if_match is not None:
                condition &= self._objects.etag == if_match
            try:
                self._db.run(partial(item.delete, condition), what=f"deleting {kind}", idempotent=False)
            except PynamoDBException as error:
                if response_code(error) == CONDITION_FAILED:
                    raise self._not_found_or_changed(account, kind, item_id, if_match) from None
                raise
            return

        for _ in range(MAX_METER_WRITE_ATTEMPTS):
            current = self._current(account, kind, item_id, if_match)
            external_id = _external_id(kind, exact_json.loads(current.body))

            writes = _Writes(deletes=[(current, self._objects.etag == current.etag)])
            if external_id is not None:
                writes.deletes.append((self._claim(account, external_id, item_id), self._held_by(item_id)))
            if self._transact(writes, what="deleting meter") is None:
                return
        raise StorageUnavailableError(f"deleting meter {item_id!r}: it kept changing while being deleted")

    # --- helpers ------------------------------------------------------------------------------------------

    def _find(self, account: str, kind: CatalogKind, item_id: str) -> CatalogObjectItem | None:
        answer = self._db.run(
            partial(
                self._db.catalog_table.get_item,
                catalog_pk(account, kind),
                range_key(item_id, "id"),
                consistent_read=True,
            ),
            what=f"reading {kind}",
            idempotent=True,
        )
        raw = answer.get("Item")
        return None if raw is None else self._objects.from_raw_data(raw)

    def _current(
        self, account: str, kind: CatalogKind, item_id: str, if_match: str | None
    ) -> CatalogObjectItem:
        current = self._find(account, kind, item_id)
        if current is None:
            raise NotFoundError(kind, item_id)
        if if_match is not None and current.etag != if_match:
            raise PreconditionFailedError(kind, item_id, if_match, current.etag)
        return current

    def _not_found_or_changed(
        self, account: str, kind: CatalogKind, item_id: str, if_match: str | None
    ) -> NotFoundError | PreconditionFailedError:
        current = self._find(account, kind, item_id)
        if current is None or if_match is None:
            return NotFoundError(kind, item_id)
        return PreconditionFailedError(kind, item_id, if_match, current.etag)

    def _claim(self, account: str, external_id: str, meter_id: str) -> ExternalIdItem:
        return self._external_ids(
            external_id_pk(account), range_key(external_id, "external_id"), meter_id=meter_id
        )

    def _held_by(self, meter_id: str) -> Condition:
        """A claim that is this meter's, or none at all (a meter written before its claim existed): releasing
        it never releases another meter's claim."""
        either: Condition = self._external_ids.pk.does_not_exist() | (self._external_ids.meter_id == meter_id)
        return either

    def _external_id_taken(self, account: str, external_id: str) -> InvalidInputError:
        holder = self.meters_by_external_id(account, [external_id]).get(external_id, "another meter")
        return InvalidInputError("external_id", f"{external_id!r} is meter {holder!r}'s already")

    def _transact(self, writes: _Writes, *, what: str) -> Sequence[str | None] | None:
        """Runs ``writes`` as one transaction, with one client request token across retries (a retry after a
        lost answer is not applied twice). None when it committed, else the cancellation reason codes in
        AWS's order: deletes, then puts."""
        token = self._new_request_token()

        def attempt() -> None:
            with TransactWrite(connection=self._db.connection, client_request_token=token) as transaction:
                for model, condition in writes.deletes:
                    transaction.delete(model, condition=condition)
                for model, condition in writes.puts:
                    transaction.save(model, condition=condition)

        try:
            self._db.run(attempt, what=what, idempotent=True)
        except TransactWriteError as error:
            if response_code(error) != "TransactionCanceledException":
                raise StorageUnavailableError(f"{what}: {response_code(error)}") from error
            return [None if reason is None else reason.code for reason in error.cancellation_reasons]
        return None


@dataclass
class _Writes:
    """The items of one transaction, each with its condition."""

    deletes: list[tuple[Model, Condition | None]] = field(default_factory=lambda: [])
    puts: list[tuple[Model, Condition | None]] = field(default_factory=lambda: [])


def _stored(kind: CatalogKind, item: CatalogObjectItem) -> Stored:
    return Stored(
        kind=kind,
        item_id=item.sk,
        body=exact_json.loads(item.body),
        etag=item.etag,
        created_at=item.created_at,
        updated_at=item.updated_at,
    )


def _external_id(kind: CatalogKind, body: Mapping[str, Any]) -> str | None:
    if kind != "meter":
        return None
    external_id = body.get("external_id")
    if external_id is None:
        return None
    if not isinstance(external_id, str):
        raise InvalidInputError("external_id", "must be a string")
    return range_key(external_id, "external_id")
