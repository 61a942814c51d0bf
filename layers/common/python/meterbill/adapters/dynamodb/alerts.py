"""AlertStore on the catalog table. Items, access patterns and costs: ``docs/storage.md`` ("Alerts").

The lifecycle's state lives in one partition per account, ``account#<account>#alert``:

- ``book``: the outbox (held notices, a list) and the unsent notifications (compressed JSON, binary; when
  larger than ``book_part_bytes`` it is split into ``book#<generation>#<n>`` items the book item names);
- ``open#<alert id>``: each pending or firing alert, one item;
- ``resolved#<alert id>``: each resolved alert. Resolving MOVES the alert (one transaction: delete the open
  item, put the resolved one), so the open alerts and the book are exactly the items sorting before
  ``resolved#``: ``load_book`` is one Query (``sk < "resolved#"``) whose cost follows the open alerts, not the
  history. The resolved alerts an outbox notice still names are read by key besides.

Every alert item also sets ``account_pk`` = ``account#<account>#alert#listing`` and ``account_sk`` =
``<first_seen in UTC, microseconds>#<alert id>``, which puts it in the catalog table's existing index
(``api-keys-by-account``, shared by API keys, accounts and invoices): ``list_alerts`` is one Query of that
index partition backwards (newest first), the filters a FilterExpression; pages are followed until the page
is full or the partition ends. No new table, no new index. (The index is eventually consistent: an alert
saved a moment ago may be missing from a listing for that moment; ``get_alert`` reads the table.)

The acknowledgement is a person's, and nothing of the lifecycle may undo it. ``acknowledge`` is one
conditional UpdateItem of the open item (``attribute_exists(pk) AND attribute_not_exists(acknowledged_at)``)
that sets ``acknowledged_at``, ``acknowledged_by`` and appends the history entry. ``save_book`` never writes
those two attributes (an open alert is written by an UpdateItem that SETs every other attribute), and every
alert write is conditional on the stored ``acknowledged_at`` being the one the saved alert carries (absent
when it carries none). When a person acknowledged the alert after the book was loaded the condition fails:
the store reads the stored alert, takes its acknowledgement and history entry into the alert, and writes
again. The history written is the book's (with the acknowledgement's entry, so it round-trips exactly).

Order of ``save_book``'s writes: the book (outbox and unsent) first, then the changed alerts (``parallel``
UpdateItems). A pass that dies in between leaves notifications that will be published (at least once) and
held notices that may name an alert never written: ``load_book`` leaves out a notice whose alert it cannot
find. The other order could lose a notification for good.

Rules: one item (``account#<account>#alert-rules``/``rules``) with the exact JSON document and its ETag;
``put_rules(if_match=...)`` is conditional on ``etag``. The lease: one item (``...#alert-lease``/``lease``)
put on ``attribute_not_exists(pk) OR owner = :me OR until <= :now`` (UTC text, fixed width). Silences,
heartbeats and subscriptions: one item each in their own partition of the account; a heartbeat is put on
``attribute_not_exists(pk) OR received <= :new`` so an older one never replaces a newer one.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Final, TypeVar

from pynamodb.constants import ALL_NEW, ALL_OLD, ITEM
from pynamodb.exceptions import PynamoDBException
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.operand import Path, Value
from pynamodb.expressions.update import Action

from meterbill.adapters.dynamodb import alert_items as items
from meterbill.adapters.dynamodb import cursor as cursors
from meterbill.adapters.dynamodb import exact_json
from meterbill.adapters.dynamodb.catalog import CANCELLED_BY_CONDITION, CONDITION_FAILED, random_etag
from meterbill.adapters.dynamodb.connection import DynamoDb, response_code
from meterbill.adapters.dynamodb.schema import (
    ALERT_BOOK_SK,
    ALERT_LEASE_SK,
    ALERT_OPEN_PREFIX,
    ALERT_RESOLVED_PREFIX,
    ALERT_RULES_SK,
    CATALOG_HASH_KEY,
    CATALOG_RANGE_KEY,
    KEYS_BY_ACCOUNT_HASH_KEY,
    KEYS_BY_ACCOUNT_INDEX,
    KEYS_BY_ACCOUNT_RANGE_KEY,
    SEPARATOR,
    alert_book_part_sk,
    alert_lease_pk,
    alert_rules_pk,
    alert_silences_pk,
    alert_sk,
    alert_subscriptions_pk,
    alerts_listing_pk,
    alerts_pk,
    collector_heartbeats_pk,
    range_key,
)
from meterbill.alerts.lifecycle import Alert, AlertBook, Held, Notification, StateChange
from meterbill.alerts.ports import (
    AlertFilter,
    AlertStore,
    CollectorHeartbeat,
    LoadedBook,
    SubscriptionRecord,
)
from meterbill.alerts.silences import Silence
from meterbill.errors import (
    InvalidInputError,
    InvalidStateError,
    NotFoundError,
    PreconditionFailedError,
    StorageUnavailableError,
)
from meterbill.ports import Page

T = TypeVar("T")
RawItem = dict[str, dict[str, Any]]

# The attributes only ``acknowledge`` writes.
ACK_AT: Final = "acknowledged_at"
ACK_BY: Final = "acknowledged_by"
# Attributes of an alert item that are not the alert's fields.
KEY_ATTRIBUTES: Final = (
    CATALOG_HASH_KEY,
    CATALOG_RANGE_KEY,
    KEYS_BY_ACCOUNT_HASH_KEY,
    KEYS_BY_ACCOUNT_RANGE_KEY,
)
# An alert's fields that may be absent (None): an update REMOVEs them.
OPTIONAL_FIELDS: Final = ("site_id", "active_since", "fired_at", "resolved_at", "last_notified_at")
# An item holds 400 KB; the unsent blob is split above this.
BOOK_PART_BYTES: Final = 300_000
# A listing with filters reads at least this many items per request (DynamoDB's Limit counts items read).
FILTERED_READ: Final = 100
# A write whose acknowledgement condition keeps failing (people acknowledging in a loop?) gives up.
MAX_WRITE_ATTEMPTS: Final = 5
BATCH_GET_LIMIT: Final = 100


class DynamoDbAlertStore(AlertStore):
    def __init__(
        self,
        db: DynamoDb,
        *,
        new_etag: Callable[[], str] = random_etag,
        new_token: Callable[[], str] = lambda: secrets.token_hex(16),
        parallel_requests: int = 8,
        book_part_bytes: int = BOOK_PART_BYTES,
    ) -> None:
        self._db = db
        self._table = db.catalog_table
        self._new_etag = new_etag
        self._new_token = new_token
        self._parallel_requests = parallel_requests
        self._book_part_bytes = book_part_bytes

    # --- the lease --------------------------------------------------------------------------------------

    def lease(self, account: str, owner: str, now: datetime, *, seconds: int) -> bool:
        _aware(now, "now")
        if not owner:
            raise InvalidInputError("owner", "must not be empty")
        until = now + timedelta(seconds=seconds)
        takeable = (
            Path(CATALOG_HASH_KEY).does_not_exist()
            | (Path("owner") == _s(owner))
            | (Path("until") <= _s(items.utc_key(now)))
        )
        attributes = {"owner": {"S": owner}, "until": {"S": items.utc_key(until)}}
        return self._put(
            alert_lease_pk(account), ALERT_LEASE_SK, attributes, takeable, what="taking the lease"
        )

    def release(self, account: str, owner: str) -> None:
        try:
            self._run(
                partial(
                    self._table.delete_item,
                    alert_lease_pk(account),
                    ALERT_LEASE_SK,
                    condition=Path("owner") == _s(owner),
                ),
                what="releasing the lease",
            )
        except PynamoDBException as error:
            if response_code(error) != CONDITION_FAILED:
                raise
            # another owner took it after it expired: theirs now

    # --- the book ---------------------------------------------------------------------------------------

    def load_book(self, account: str) -> LoadedBook:
        pk = alerts_pk(account)
        raw_items = self._query_all(
            pk, Path(CATALOG_RANGE_KEY) < _s(ALERT_RESOLVED_PREFIX), what="loading the alert book"
        )
        book_item: RawItem | None = None
        parts: dict[str, RawItem] = {}
        alerts: dict[str, Alert] = {}
        for raw in raw_items:
            sk = raw[CATALOG_RANGE_KEY]["S"]
            if sk == ALERT_BOOK_SK:
                book_item = raw
            elif sk.startswith(ALERT_OPEN_PREFIX):
                alert = _alert(raw)
                alerts[alert.id] = alert
            elif sk.startswith(ALERT_BOOK_SK + SEPARATOR):
                parts[sk] = raw
        outbox: tuple[Held, ...] = ()
        unsent: tuple[Notification, ...] = ()
        if book_item is not None:
            data = items.untyped_map({name: value for name, value in book_item.items() if name == "outbox"})
            outbox = tuple(items.held_of(held) for held in data.get("outbox", []))
            blob = _unsent_blob(book_item, parts)
            if blob is not None:
                unsent = items.unpack_notifications(blob)
        # Resolved alerts whose resolve notice still waits for its group: the flush needs them.
        missing = sorted({held.alert_id for held in outbox} - set(alerts))
        for alert in self._get_many(pk, [alert_sk(alert_id, is_open=False) for alert_id in missing]):
            alerts[alert.id] = alert
        # A notice whose alert was never written (a pass died between the book and its alerts) is dropped.
        outbox = tuple(held for held in outbox if held.alert_id in alerts)
        ordered = tuple(sorted(alerts.values(), key=lambda a: (a.first_seen, a.id)))
        return LoadedBook(AlertBook(account, ordered, outbox), unsent)

    def save_book(
        self, account: str, book: AlertBook, changed: Sequence[Alert], unsent: Sequence[Notification]
    ) -> None:
        for alert in changed:
            if alert.account_id != account:
                raise InvalidInputError("alert.account_id", f"{alert.id} belongs to another account")
        self._write_book(account, book.outbox, unsent)
        self._parallel(partial(self._write_alert, account), list(changed))

    def set_unsent(self, account: str, unsent: Sequence[Notification]) -> None:
        """Rewrites the book item's unsent notifications only (its outbox stays)."""
        blob = items.pack_notifications(unsent) if unsent else None
        if blob is None or len(blob) <= self._book_part_bytes:
            actions: list[Action] = [
                Path("unsent").remove() if blob is None else Path("unsent").set(Value({"B": blob})),
                Path("generation").remove(),
                Path("parts").remove(),
            ]
            answer = self._run(
                partial(
                    self._table.update_item,
                    alerts_pk(account),
                    ALERT_BOOK_SK,
                    actions=actions,
                    return_values=ALL_OLD,
                ),
                what="replacing the unsent notifications",
            )
            self._drop_parts(account, answer.get("Attributes"), keep=None)
            return
        generation = self._write_parts(account, blob)
        answer = self._run(
            partial(
                self._table.update_item,
                alerts_pk(account),
                ALERT_BOOK_SK,
                actions=[
                    Path("unsent").remove(),
                    Path("generation").set(_s(generation[0])),
                    Path("parts").set(Value({"N": str(generation[1])})),
                ],
                return_values=ALL_OLD,
            ),
            what="replacing the unsent notifications",
        )
        self._drop_parts(account, answer.get("Attributes"), keep=generation[0])

    def _write_book(self, account: str, outbox: Sequence[Held], unsent: Sequence[Notification]) -> None:
        attributes: RawItem = {"outbox": items.typed([_plain_held(held) for held in outbox])}
        blob = items.pack_notifications(unsent) if unsent else None
        generation: tuple[str, int] | None = None
        if blob is not None and len(blob) > self._book_part_bytes:
            generation = self._write_parts(account, blob)
            attributes["generation"] = {"S": generation[0]}
            attributes["parts"] = {"N": str(generation[1])}
        elif blob is not None:
            attributes["unsent"] = {"B": blob}
        answer = self._run(
            partial(
                self._table.put_item,
                alerts_pk(account),
                ALERT_BOOK_SK,
                attributes=attributes,
                return_values=ALL_OLD,
            ),
            what="saving the alert book",
        )
        self._drop_parts(
            account, answer.get("Attributes"), keep=None if generation is None else generation[0]
        )

    def _write_parts(self, account: str, blob: bytes) -> tuple[str, int]:
        """Writes the blob in parts of a new generation; the generation and the number of parts."""
        generation = self._new_token()
        size = self._book_part_bytes
        chunks = [blob[start : start + size] for start in range(0, len(blob), size)]
        for number, chunk in enumerate(chunks, start=1):
            self._run(
                partial(
                    self._table.put_item,
                    alerts_pk(account),
                    alert_book_part_sk(generation, number),
                    attributes={"data": {"B": chunk}},
                ),
                what="saving the unsent notifications",
            )
        return generation, len(chunks)

    def _drop_parts(self, account: str, old: RawItem | None, *, keep: str | None) -> None:
        """Deletes the parts of the book item's previous generation (unless it is the one kept)."""
        if not old or "generation" not in old or old["generation"]["S"] == keep:
            return
        generation = old["generation"]["S"]
        for number in range(1, int(old["parts"]["N"]) + 1):
            self._run(
                partial(self._table.delete_item, alerts_pk(account), alert_book_part_sk(generation, number)),
                what="dropping old unsent notifications",
            )

    def _write_alert(self, account: str, alert: Alert) -> None:
        for _ in range(MAX_WRITE_ATTEMPTS):
            written = self._update_open(account, alert) if alert.open else self._move_resolved(account, alert)
            if written:
                return
            # A person acknowledged it since the book was loaded: keep their acknowledgement, write again.
            alert = _with_stored_ack(alert, self._find(account, alert.id))
        raise self._db.give_up(f"saving alert {alert.id!r}", "its acknowledgement kept changing")

    def _update_open(self, account: str, alert: Alert) -> bool:
        attributes = _alert_attributes(account, alert)
        actions: list[Action] = [
            Path(name).set(Value(value))
            for name, value in attributes.items()
            if name not in (CATALOG_HASH_KEY, CATALOG_RANGE_KEY, ACK_AT, ACK_BY)
        ]
        actions += [Path(name).remove() for name in OPTIONAL_FIELDS if name not in attributes]
        try:
            self._run(
                partial(
                    self._table.update_item,
                    alerts_pk(account),
                    alert_sk(alert.id, is_open=True),
                    actions=actions,
                    condition=_ack_is(alert.acknowledged_at),
                ),
                what="saving an alert",
            )
        except PynamoDBException as error:
            if response_code(error) != CONDITION_FAILED:
                raise
            return False
        return True

    def _move_resolved(self, account: str, alert: Alert) -> bool:
        """One transaction: delete the open item, put the resolved one (with the acknowledgement the
        condition proved stored), both on the stored acknowledgement being the alert's."""
        connection = self._db.connection
        table = self._table.table_name
        pk = alerts_pk(account)
        # Either item may be absent (a pending alert resolved before it was ever written; a retry after the
        # move): nothing to keep there. Where one exists, its acknowledgement must be the alert's.
        condition = Path(CATALOG_HASH_KEY).does_not_exist() | _ack_is(alert.acknowledged_at)
        delete = connection.get_operation_kwargs(
            table, pk, alert_sk(alert.id, is_open=True), condition=condition
        )
        put = connection.get_operation_kwargs(
            table,
            pk,
            alert_sk(alert.id, is_open=False),
            key=ITEM,
            attributes={
                name: value
                for name, value in _alert_attributes(account, alert).items()
                if name not in (CATALOG_HASH_KEY, CATALOG_RANGE_KEY)
            },
            condition=condition,
        )
        try:
            self._run(
                partial(
                    connection.transact_write_items,
                    condition_check_items=[],
                    delete_items=[delete],
                    put_items=[put],
                    update_items=[],
                    client_request_token=self._new_token(),
                ),
                what="resolving an alert",
            )
        except PynamoDBException as error:
            reasons = getattr(error, "cancellation_reasons", None) or []
            if any(reason is not None and reason.code == CANCELLED_BY_CONDITION for reason in reasons):
                return False
            raise
        return True

    # --- what people read and do -------------------------------------------------------------------------

    def get_alert(self, account: str, alert_id: str) -> Alert:
        alert = self._find(account, alert_id)
        if alert is None:
            raise NotFoundError("alert", alert_id)
        return alert

    def list_alerts(
        self, account: str, query: AlertFilter, *, limit: int, cursor: str | None = None
    ) -> Page[Alert]:
        if limit < 1:
            raise InvalidInputError("limit", f"must be at least 1, got {limit}")
        listing_pk = alerts_listing_pk(account)
        pk = alerts_pk(account)
        start_key: cursors.StartKey | None = None
        if cursor is not None:
            start_key = cursors.decode(
                cursor,
                checks={
                    KEYS_BY_ACCOUNT_HASH_KEY: lambda value: value == listing_pk,
                    KEYS_BY_ACCOUNT_RANGE_KEY: bool,
                    CATALOG_HASH_KEY: lambda value: value == pk,
                    CATALOG_RANGE_KEY: lambda value: value.startswith(
                        (ALERT_OPEN_PREFIX, ALERT_RESOLVED_PREFIX)
                    ),
                },
            )
            alert_id = start_key[CATALOG_RANGE_KEY]["S"].split(SEPARATOR, 1)[1]
            if not start_key[KEYS_BY_ACCOUNT_RANGE_KEY]["S"].endswith(SEPARATOR + alert_id):
                raise cursors.not_of_this_listing()
        filters = [
            Path(name) == _s(value)
            for name, value in (
                ("state", query.state),
                ("kind", query.kind),
                ("site_id", query.site_id),
                ("severity", query.severity),
            )
            if value is not None
        ]
        condition: Condition | None = None
        for each in filters:
            condition = each if condition is None else condition & each
        wanted = limit + 1
        found: list[RawItem] = []
        exclusive_start: cursors.StartKey | None = start_key
        while len(found) < wanted:
            remaining = wanted - len(found)
            answer: Mapping[str, Any] = self._run(
                partial(
                    self._table.query,
                    listing_pk,
                    index_name=KEYS_BY_ACCOUNT_INDEX,
                    filter_condition=condition,
                    exclusive_start_key=exclusive_start,
                    limit=remaining if condition is None else max(remaining, FILTERED_READ),
                    scan_index_forward=False,  # newest first
                ),
                what="listing alerts",
            )
            found.extend(answer.get("Items", []))
            exclusive_start = answer.get("LastEvaluatedKey")
            if exclusive_start is None:
                break
        next_cursor = None
        if len(found) > limit:
            last = found[limit - 1]
            next_cursor = cursors.encode({name: last[name]["S"] for name in KEY_ATTRIBUTES})
        return Page([_alert(raw) for raw in found[:limit]], next_cursor)

    def acknowledge(self, account: str, alert_id: str, by: str, at: datetime) -> Alert:
        _aware(at, "at")
        if not by.strip():
            raise InvalidInputError("by", "must name who acknowledges")
        entry = items.typed(items.plain_change(StateChange(at, "acknowledged", by)))
        history = Path("history")
        try:
            answer = self._run(
                partial(
                    self._table.update_item,
                    alerts_pk(account),
                    alert_sk(alert_id, is_open=True),
                    actions=[
                        Path(ACK_AT).set(_s(items.when(at))),
                        Path(ACK_BY).set(_s(by)),
                        history.set(history.append(Value({"L": [entry]}))),
                    ],
                    condition=Path(CATALOG_HASH_KEY).exists() & Path(ACK_AT).does_not_exist(),
                    return_values=ALL_NEW,
                ),
                what="acknowledging an alert",
            )
        except PynamoDBException as error:
            if response_code(error) != CONDITION_FAILED:
                raise
            stored = self.get_alert(account, alert_id)
            if not stored.open:
                raise InvalidStateError("alert", alert_id, stored.state, "acknowledge") from None
            return stored  # acknowledged already: a second one changes nothing
        return _alert(answer["Attributes"])

    # --- rules, silences ---------------------------------------------------------------------------------

    def get_rules(self, account: str) -> tuple[Mapping[str, Any], str | None]:
        raw = self._get(alert_rules_pk(account), ALERT_RULES_SK, what="reading the alert rules")
        if raw is None:
            return {}, None
        document: Mapping[str, Any] = exact_json.loads(raw["body"]["S"])
        return document, raw["etag"]["S"]

    def put_rules(self, account: str, document: Mapping[str, Any], *, if_match: str | None) -> str:
        etag = self._new_etag()
        attributes = {"body": {"S": exact_json.dumps(document)}, "etag": {"S": etag}}
        condition = None if if_match is None else Path("etag") == _s(if_match)
        if not self._put(
            alert_rules_pk(account), ALERT_RULES_SK, attributes, condition, what="putting rules"
        ):
            _, current = self.get_rules(account)
            if current != etag:  # our own write, sent again after its answer was lost, finds its ETag
                raise PreconditionFailedError("alert-rules", account, if_match or "", current or "")
        return etag

    def put_silence(self, account: str, silence: Silence) -> None:
        self._put(
            alert_silences_pk(account),
            range_key(silence.id, "id"),
            _silence_attributes(silence),
            None,
            what="storing a silence",
        )

    def get_silence(self, account: str, silence_id: str) -> Silence:
        raw = self._get(alert_silences_pk(account), range_key(silence_id, "id"), what="reading a silence")
        if raw is None:
            raise NotFoundError("alert-silence", silence_id)
        return items.silence_of(_fields(raw))

    def silences(self, account: str, *, ending_after: datetime | None = None) -> Sequence[Silence]:
        condition = None
        if ending_after is not None:
            _aware(ending_after, "ending_after")
            condition = Path("ends_utc") > _s(items.utc_key(ending_after))
        raw_items = self._query_all(
            alert_silences_pk(account), None, filter_condition=condition, what="listing silences"
        )
        found = [items.silence_of(_fields(raw)) for raw in raw_items]
        return sorted(found, key=lambda s: (items.utc_key(s.starts_at), s.id), reverse=True)

    def replace_silence(self, account: str, silence: Silence) -> None:
        stored = self._put(
            alert_silences_pk(account),
            range_key(silence.id, "id"),
            _silence_attributes(silence),
            Path(CATALOG_HASH_KEY).exists(),
            what="replacing a silence",
        )
        if not stored:
            raise NotFoundError("alert-silence", silence.id)

    # --- collectors --------------------------------------------------------------------------------------

    def put_heartbeat(self, account: str, heartbeat: CollectorHeartbeat) -> None:
        received = items.utc_key(heartbeat.heartbeat.received_at)
        attributes = items.typed_map(items.plain_heartbeat(heartbeat))
        attributes["received"] = {"S": received}
        self._put(
            collector_heartbeats_pk(account),
            range_key(heartbeat.heartbeat.collector_id, "collector_id"),
            attributes,
            Path(CATALOG_HASH_KEY).does_not_exist() | (Path("received") <= _s(received)),
            what="storing a heartbeat",
        )  # False: a newer heartbeat is stored already, and stays

    def heartbeats(self, account: str) -> Sequence[CollectorHeartbeat]:
        raw_items = self._query_all(collector_heartbeats_pk(account), None, what="reading heartbeats")
        return [items.heartbeat_of(_fields(raw)) for raw in raw_items]  # in collector id (sort key) order

    # --- subscriptions -----------------------------------------------------------------------------------

    def put_subscription(self, account: str, record: SubscriptionRecord) -> None:
        self._put(
            alert_subscriptions_pk(account),
            range_key(record.id, "id"),
            items.typed_map(items.plain_subscription(record)),
            None,
            what="storing a subscription",
        )

    def subscriptions(self, account: str) -> Sequence[SubscriptionRecord]:
        raw_items = self._query_all(alert_subscriptions_pk(account), None, what="listing subscriptions")
        found = [items.subscription_of(_fields(raw)) for raw in raw_items]
        return sorted(found, key=lambda r: (items.utc_key(r.created_at), r.id))

    def get_subscription(self, account: str, subscription_id: str) -> SubscriptionRecord:
        raw = self._get(
            alert_subscriptions_pk(account), range_key(subscription_id, "id"), what="reading a subscription"
        )
        if raw is None:
            raise NotFoundError("alert-subscription", subscription_id)
        return items.subscription_of(_fields(raw))

    def delete_subscription(self, account: str, subscription_id: str) -> None:
        try:
            self._db.run(
                partial(
                    self._table.delete_item,
                    alert_subscriptions_pk(account),
                    range_key(subscription_id, "id"),
                    condition=Path(CATALOG_HASH_KEY).exists(),
                ),
                what="deleting a subscription",
                # Sent again after a lost answer it would answer "not found" to itself: not retried then
                # (StorageUnavailableError; the caller asks again and learns it is gone).
                idempotent=False,
            )
        except PynamoDBException as error:
            if response_code(error) != CONDITION_FAILED:
                raise
            raise NotFoundError("alert-subscription", subscription_id) from None

    # --- plumbing ----------------------------------------------------------------------------------------

    def _run(self, operation: Callable[[], T], *, what: str) -> T:
        # Sending any of these twice after a lost answer stores the same thing, or fails a condition that is
        # answered as the first send would have been (put_rules finds its own ETag, acknowledge its own
        # acknowledgement); a transaction carries its request token. Deleting a subscription is the exception.
        return self._db.run(operation, what=what, idempotent=True)

    def _find(self, account: str, alert_id: str) -> Alert | None:
        pk = alerts_pk(account)
        for is_open in (True, False):
            raw = self._get(pk, alert_sk(alert_id, is_open=is_open), what="reading an alert")
            if raw is not None:
                return _alert(raw)
        return None

    def _get(self, pk: str, sk: str, *, what: str) -> RawItem | None:
        answer = self._run(partial(self._table.get_item, pk, sk, consistent_read=True), what=what)
        raw: RawItem | None = answer.get("Item")
        return raw

    def _get_many(self, pk: str, sks: Sequence[str]) -> list[Alert]:
        found: list[Alert] = []
        for start in range(0, len(sks), BATCH_GET_LIMIT):
            pending: list[dict[str, str]] = [
                {CATALOG_HASH_KEY: pk, CATALOG_RANGE_KEY: sk} for sk in sks[start : start + BATCH_GET_LIMIT]
            ]
            for _ in range(self._db.retry.attempts):
                answer = self._run(
                    partial(
                        self._db.connection.batch_get_item,
                        self._table.table_name,
                        pending,  # type: ignore[arg-type]
                        consistent_read=True,
                    ),
                    what="reading resolved alerts",
                )
                found += [_alert(raw) for raw in answer.get("Responses", {}).get(self._table.table_name, [])]
                unprocessed = (
                    answer.get("UnprocessedKeys", {}).get(self._table.table_name, {}).get("Keys", [])
                )
                pending = [{name: value["S"] for name, value in key.items()} for key in unprocessed]
                if not pending:
                    break
            else:
                raise self._db.give_up("reading resolved alerts", "keys left unprocessed")
        return found

    def _query_all(
        self,
        pk: str,
        range_key_condition: Condition | None,
        *,
        filter_condition: Condition | None = None,
        what: str,
    ) -> list[RawItem]:
        found: list[RawItem] = []
        start: Any = None
        while True:
            answer: Mapping[str, Any] = self._run(
                partial(
                    self._table.query,
                    pk,
                    range_key_condition=range_key_condition,
                    filter_condition=filter_condition,
                    exclusive_start_key=start,
                    consistent_read=True,
                ),
                what=what,
            )
            found.extend(answer.get("Items", []))
            start = answer.get("LastEvaluatedKey")
            if start is None:
                return found

    def _put(self, pk: str, sk: str, attributes: RawItem, condition: Condition | None, *, what: str) -> bool:
        try:
            self._run(
                partial(self._table.put_item, pk, sk, attributes=attributes, condition=condition), what=what
            )
        except PynamoDBException as error:
            if response_code(error) == CONDITION_FAILED:
                return False
            raise StorageUnavailableError(f"{what}: {error}") from error
        return True

    def _parallel(self, call: Callable[[Any], None], arguments: Sequence[Any]) -> None:
        if len(arguments) > 1 and self._parallel_requests > 1:
            with ThreadPoolExecutor(max_workers=min(len(arguments), self._parallel_requests)) as pool:
                list(pool.map(call, arguments))
            return
        for argument in arguments:
            call(argument)


def _s(value: str) -> Value:
    return Value({"S": value})


def _aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInputError(name, "must carry a time zone offset")


def _ack_is(acknowledged_at: datetime | None) -> Condition:
    """The stored acknowledgement is ``acknowledged_at`` (none: no item, or an item nobody acknowledged)."""
    if acknowledged_at is None:
        return Path(ACK_AT).does_not_exist()
    return Path(ACK_AT) == _s(items.when(acknowledged_at))


def _alert_attributes(account: str, alert: Alert) -> RawItem:
    attributes = items.typed_map(items.plain_alert(alert))
    attributes[KEYS_BY_ACCOUNT_HASH_KEY] = {"S": alerts_listing_pk(account)}
    attributes[KEYS_BY_ACCOUNT_RANGE_KEY] = {"S": f"{items.utc_key(alert.first_seen)}{SEPARATOR}{alert.id}"}
    return attributes


def _fields(raw: RawItem) -> dict[str, Any]:
    return items.untyped_map({name: value for name, value in raw.items() if name not in KEY_ATTRIBUTES})


def _alert(raw: RawItem) -> Alert:
    return items.alert_of(_fields(raw))


def _plain_held(held: Held) -> dict[str, Any]:
    return {name: value for name, value in items.plain_held(held).items() if value is not None}


def _silence_attributes(silence: Silence) -> RawItem:
    attributes = items.typed_map(items.plain_silence(silence))
    attributes["ends_utc"] = {"S": items.utc_key(silence.ends_at)}
    return attributes


def _unsent_blob(book_item: RawItem, parts: Mapping[str, RawItem]) -> bytes | None:
    if "unsent" in book_item:
        blob: bytes = book_item["unsent"]["B"]
        return blob
    if "generation" not in book_item:
        return None
    generation = book_item["generation"]["S"]
    count = int(book_item["parts"]["N"])
    chunks = []
    for number in range(1, count + 1):
        part = parts.get(alert_book_part_sk(generation, number))
        if part is None:
            raise StorageUnavailableError(f"unsent notifications: part {number} of {generation} is missing")
        chunks.append(part["data"]["B"])
    return b"".join(chunks)


def _with_stored_ack(alert: Alert, stored: Alert | None) -> Alert:
    """``alert`` with the acknowledgement ``stored`` holds (none when nothing is stored) and its history
    entry, placed by time."""
    if stored is None or stored.acknowledged_at is None:
        return replace(alert, acknowledged_at=None, acknowledged_by=None)
    entry = next(
        (c for c in stored.history if c.event == "acknowledged" and c.at == stored.acknowledged_at),
        StateChange(stored.acknowledged_at, "acknowledged", stored.acknowledged_by or ""),
    )
    history = alert.history
    if entry not in history:
        history = tuple(sorted((*history, entry), key=lambda c: items.utc_key(c.at)))
    return replace(
        alert, acknowledged_at=stored.acknowledged_at, acknowledged_by=stored.acknowledged_by, history=history
    )
