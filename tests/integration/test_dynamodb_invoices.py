"""InvoiceStore on DynamoDB (moto): the items it writes, the one transaction that issues, an issued item that
never changes, crashes around the transaction, and 200 issues racing for one counter.

moto and threads: moto evaluates a write's condition and applies it in separate steps, and rolls a failed
transaction back by restoring a copy of the whole table taken when it began - so two racing transactions
both pass, and a rollback can undo another thread's committed write. Measured with 200 drafts issued from
200 threads and no lock: in-process, 150 invoices issued holding only 83 distinct numbers, counter 90, 14
moto crashes ("dictionary changed size during iteration"); ``ThreadedMotoServer`` does not serialise either
(werkzeug's threaded server, one thread per request, the same backend code): 183 issued holding 46 distinct
numbers, counter 49, HTTP 500s. DynamoDB applies each
transaction atomically; the ``atomic_moto_writes`` fixture (tests/integration/conftest.py) gives moto that
by a lock around its write handlers, while reads stay unlocked (so the adapter also meets dirty reads that
DynamoDB would never show it). With it the same run gives exactly 1..200.
"""

from __future__ import annotations

import copy
import json
import threading
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import moto.dynamodb.models as moto_dynamodb_models
import pytest
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table

from meterbill.adapters.dynamodb import DynamoDb, RetryPolicy
from meterbill.adapters.dynamodb.invoices import DynamoDbInvoiceStore
from meterbill.errors import InvalidStateError, StorageUnavailableError
from meterbill.ports import InvoiceRecord, IssuedBody
from meterbill.settings import StorageSettings
from tests.integration.conftest import CATALOG_TABLE, Clock, Faults, Tables

CREATED = "2026-03-01T09:00:00.000000+0000"  # the clock fixture's time, as pynamodb stores datetimes
ISSUE_AT = datetime(2026, 4, 3, 0, 5, tzinfo=UTC)
INVOICE_PK = "account#acme#invoice"


@pytest.fixture
def invoices(db: DynamoDb, clock: Clock) -> DynamoDbInvoiceStore:
    return DynamoDbInvoiceStore(db, clock=clock, new_request_token=lambda: "token")


def draft(invoice_id: str = "inv_march", total: str = "12.34") -> InvoiceRecord:
    return InvoiceRecord.draft(
        "acme",
        invoice_id,
        customer_id="cus-1",
        kind="invoice",
        period_start=date(2026, 3, 1),
        period_end=date(2026, 4, 1),
        body={"id": invoice_id, "total": total},
        at=datetime(2000, 1, 1, tzinfo=UTC),
    )


def render(record: InvoiceRecord, sequence: int) -> IssuedBody:
    number = f"HPO-2026-{sequence:06d}"
    return IssuedBody(number, {**record.body, "number": number})


def issue(store: DynamoDbInvoiceStore, invoice_id: str = "inv_march") -> InvoiceRecord:
    return store.issue("acme", invoice_id, series="invoice", at=ISSUE_AT, render=render)


def stored_bytes(tables: Tables, pk: str, sk: str) -> bytes:
    """The item exactly as DynamoDB holds it (DynamoDB JSON, keys sorted)."""
    return json.dumps(tables.catalog(pk, sk), sort_keys=True).encode()


def counter(tables: Tables, series: str = "invoice") -> Any:
    return tables.catalog("account#acme#invoice-counter", series)


def register(tables: Tables) -> list[tuple[str, str, str]]:
    """The number register: (sk, invoice, number) in key order."""
    return sorted(
        (item["sk"]["S"], item["invoice_id"]["S"], item["number"]["S"])
        for item in tables.all(CATALOG_TABLE)
        if item["pk"]["S"] == "account#acme#invoice-number"
    )


# --- items --------------------------------------------------------------------------------------------------


def test_a_draft_is_one_item_listed_under_its_customer_in_period_order(
    invoices: DynamoDbInvoiceStore, tables: Tables
) -> None:
    invoices.put_draft("acme", draft())

    assert tables.catalog(INVOICE_PK, "inv_march") == {
        "pk": {"S": "account#acme#invoice"},
        "sk": {"S": "inv_march"},
        "account_pk": {"S": "account#acme#invoice#customer#cus-1"},
        "account_sk": {"S": "2026-03-01#2026-04-01#invoice#inv_march"},
        "customer_id": {"S": "cus-1"},
        "kind": {"S": "invoice"},
        "state": {"S": "draft"},
        "period_start": {"S": "2026-03-01"},
        "period_end": {"S": "2026-04-01"},
        "body": {"S": '{"id":"inv_march","total":"12.34"}'},
        "version": {"N": "1"},
        "created_at": {"S": CREATED},
        "updated_at": {"S": CREATED},
    }


def test_issuing_writes_the_counter_the_issued_invoice_and_the_number_register_in_one_transaction(
    invoices: DynamoDbInvoiceStore, db: DynamoDb, tables: Tables, faults: Faults
) -> None:
    invoices.put_draft("acme", draft())
    sent: list[dict[str, Any]] = []
    db.client.meta.events.register(
        "before-parameter-build.dynamodb.TransactWriteItems", lambda params, **_: sent.append(params)
    )

    issue(invoices)

    assert faults.calls["TransactWriteItems"] == 1
    assert faults.calls["PutItem"] == 1  # the draft; nothing else wrote
    (request,) = sent
    conditions = [
        (put["Put"]["Item"]["pk"]["S"], put["Put"]["ConditionExpression"]) for put in request["TransactItems"]
    ]
    assert conditions == [
        ("account#acme#invoice-counter", "attribute_not_exists (#0)"),
        ("account#acme#invoice", "(#0 = :0 AND #1 = :1)"),
        ("account#acme#invoice-number", "attribute_not_exists (#0)"),
    ]
    assert request["ClientRequestToken"] == "token"
    assert counter(tables) == {
        "pk": {"S": "account#acme#invoice-counter"},
        "sk": {"S": "invoice"},
        "last": {"N": "1"},
    }
    assert register(tables) == [("invoice#000000000001", "inv_march", "HPO-2026-000001")]
    issued = tables.catalog(INVOICE_PK, "inv_march")
    assert issued is not None
    assert (issued["state"], issued["number"], issued["version"], issued["issued_at"], issued["body"]) == (
        {"S": "issued"},
        {"S": "HPO-2026-000001"},
        {"N": "2"},
        {"S": "2026-04-03T00:05:00.000000+0000"},
        {"S": '{"id":"inv_march","total":"12.34","number":"HPO-2026-000001"}'},
    )


def test_the_second_number_is_conditional_on_the_counter_being_1(
    invoices: DynamoDbInvoiceStore, db: DynamoDb
) -> None:
    for invoice_id in ("inv_a", "inv_b"):
        invoices.put_draft("acme", draft(invoice_id))
    issue(invoices, "inv_a")
    sent: list[dict[str, Any]] = []
    db.client.meta.events.register(
        "before-parameter-build.dynamodb.TransactWriteItems", lambda params, **_: sent.append(params)
    )

    issue(invoices, "inv_b")

    counter_put = sent[0]["TransactItems"][0]["Put"]
    assert (counter_put["ConditionExpression"], counter_put["ExpressionAttributeValues"]) == (
        "#0 = :0",
        {":0": {"N": "1"}},
    )
    assert counter_put["Item"]["last"] == {"N": "2"}


def test_issuing_an_issued_invoice_again_costs_one_read_and_no_write(
    invoices: DynamoDbInvoiceStore, faults: Faults
) -> None:
    invoices.put_draft("acme", draft())
    first = issue(invoices)
    faults.calls.clear()

    assert issue(invoices) == first
    assert dict(faults.calls) == {"GetItem": 1}


# --- an issued invoice never changes ------------------------------------------------------------------------


def test_an_issued_invoice_item_stays_byte_for_byte_the_same_whatever_is_tried_on_it(
    invoices: DynamoDbInvoiceStore, tables: Tables, faults: Faults, clock: Clock
) -> None:
    invoices.put_draft("acme", draft())
    issue(invoices)
    before = stored_bytes(tables, INVOICE_PK, "inv_march")
    writes_before = faults.calls["PutItem"] + faults.calls["TransactWriteItems"]
    clock.advance(days=3)

    invoices.put_draft("acme", draft(total="99.99"))
    with pytest.raises(InvalidStateError):
        invoices.void("acme", "inv_march")
    issue(invoices)

    assert stored_bytes(tables, INVOICE_PK, "inv_march") == before
    assert faults.calls["PutItem"] + faults.calls["TransactWriteItems"] == writes_before  # not even tried
    assert counter(tables)["last"] == {"N": "1"}


def test_a_write_that_slips_in_after_the_issue_is_refused_by_its_condition(
    invoices: DynamoDbInvoiceStore, tables: Tables, db: DynamoDb
) -> None:
    invoices.put_draft("acme", draft())
    issued_meanwhile: list[bytes] = []

    def issue_while_the_draft_is_rewritten(**_: Any) -> None:
        if not issued_meanwhile:  # another worker issues between put_draft's read and its write
            issue(DynamoDbInvoiceStore(db))
            issued_meanwhile.append(stored_bytes(tables, INVOICE_PK, "inv_march"))

    db.client.meta.events.register("before-call.dynamodb.PutItem", issue_while_the_draft_is_rewritten)

    answer = invoices.put_draft("acme", draft(total="99.99"))

    assert (answer.state, answer.number, answer.body["total"]) == ("issued", "HPO-2026-000001", "12.34")
    assert stored_bytes(tables, INVOICE_PK, "inv_march") == issued_meanwhile[0]


# --- crashes around the transaction -------------------------------------------------------------------------


def test_a_worker_that_dies_before_the_transaction_leaves_nothing_and_its_retry_takes_number_1(
    invoices: DynamoDbInvoiceStore, tables: Tables
) -> None:
    invoices.put_draft("acme", draft())

    def die(record: InvoiceRecord, sequence: int) -> IssuedBody:
        raise SystemExit("killed while rendering")

    with pytest.raises(SystemExit):
        invoices.issue("acme", "inv_march", series="invoice", at=ISSUE_AT, render=die)
    assert (counter(tables), register(tables), invoices.get("acme", "inv_march").state) == (None, [], "draft")

    assert issue(invoices).number == "HPO-2026-000001"
    assert register(tables) == [("invoice#000000000001", "inv_march", "HPO-2026-000001")]


def test_a_transaction_whose_answer_is_lost_is_sent_again_and_issues_once(
    invoices: DynamoDbInvoiceStore, tables: Tables, faults: Faults
) -> None:
    for invoice_id in ("inv_a", "inv_b"):
        invoices.put_draft("acme", draft(invoice_id))
    faults.lose_answer("TransactWriteItems", when=lambda n: n == 1)

    a = issue(invoices, "inv_a")
    b = issue(invoices, "inv_b")

    assert (a.number, b.number) == ("HPO-2026-000001", "HPO-2026-000002")
    assert counter(tables)["last"] == {"N": "2"}
    assert [number for _, _, number in register(tables)] == ["HPO-2026-000001", "HPO-2026-000002"]


def test_a_worker_that_dies_after_the_transaction_is_answered_the_same_invoice_on_retry(
    storage_settings: StorageSettings, db: DynamoDb, tables: Tables, clock: Clock
) -> None:
    one_try = DynamoDb(storage_settings, retry=RetryPolicy(attempts=1, sleep=lambda seconds: None))
    dying = DynamoDbInvoiceStore(one_try, clock=clock)
    dying.put_draft("acme", draft("inv_a"))
    dying.put_draft("acme", draft("inv_b"))
    Faults(one_try).lose_answer("TransactWriteItems", when=lambda n: True)

    with pytest.raises(StorageUnavailableError):
        issue(dying, "inv_a")  # committed, but the worker never learns it

    retried = DynamoDbInvoiceStore(db, clock=clock)
    assert issue(retried, "inv_a").number == "HPO-2026-000001"
    assert issue(retried, "inv_b").number == "HPO-2026-000002"
    assert [sk for sk, _, _ in register(tables)] == ["invoice#000000000001", "invoice#000000000002"]


def test_a_register_ahead_of_its_counter_stops_issuing_instead_of_reusing_a_number(
    invoices: DynamoDbInvoiceStore, tables: Tables
) -> None:
    for invoice_id in ("inv_a", "inv_b"):
        invoices.put_draft("acme", draft(invoice_id))
    issue(invoices, "inv_a")
    tables.client.delete_item(
        TableName=CATALOG_TABLE, Key={"pk": {"S": "account#acme#invoice-counter"}, "sk": {"S": "invoice"}}
    )  # a counter lost by hand

    with pytest.raises(StorageUnavailableError, match="number 1 of series 'invoice' is registered"):
        issue(invoices, "inv_b")
    assert invoices.get("acme", "inv_b").state == "draft"


# --- 200 issues racing --------------------------------------------------------------------------------------


@pytest.fixture
def fast_moto_rollback(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto snapshots every table a transaction touches with ``copy.deepcopy`` to roll back on failure:
    ~20 ms for the 400 items of the race below, 70 % of a transaction. With puts and deletes only (moto
    replaces an item object on put, never changes it), a copy of the key dicts holding the same item objects
    restores the same state, in ~0.1 ms. Updates change items in place: refused here."""
    original = DynamoDBBackend.transact_write_items

    def snapshot(value: Any, memo: Any = None) -> Any:
        if not isinstance(value, Table):
            return copy.deepcopy(value, memo)
        table = copy.copy(value)
        table.items = defaultdict(dict, {key: dict(items) for key, items in value.items.items()})
        return table

    def transact(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        assert all("Update" not in item for item in transact_items), "fast_moto_rollback: no updates"
        return original(self, transact_items)

    monkeypatch.setattr(moto_dynamodb_models, "copy", type("Copy", (), {"deepcopy": staticmethod(snapshot)}))
    monkeypatch.setattr(DynamoDBBackend, "transact_write_items", transact)
    yield


@pytest.mark.usefixtures("db", "atomic_moto_writes", "fast_moto_rollback")
def test_200_drafts_issued_from_200_threads_get_exactly_the_numbers_1_to_200(
    storage_settings: StorageSettings, tables: Tables
) -> None:
    count = 200
    # Each lost race means another issue got its number, so 200 racing issues need at most 200 attempts.
    racing = DynamoDb(storage_settings, retry=RetryPolicy(base_delay_seconds=0.005, max_delay_seconds=0.2))
    store = DynamoDbInvoiceStore(racing, issue_attempts=count)
    ids = [f"inv_{n:03d}" for n in range(count)]
    for invoice_id in ids:
        store.put_draft("acme", draft(invoice_id))
    renders: Counter[str] = Counter()

    def counting_render(record: InvoiceRecord, sequence: int) -> IssuedBody:
        renders[record.invoice_id] += 1
        return render(record, sequence)

    start_together = threading.Barrier(count)
    failures: list[BaseException] = []

    def run(invoice_id: str) -> None:
        start_together.wait()
        try:
            store.issue("acme", invoice_id, series="invoice", at=ISSUE_AT, render=counting_render)
        except BaseException as error:  # reported below
            failures.append(error)

    threads = [threading.Thread(target=run, args=(invoice_id,)) for invoice_id in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    numbers = sorted(store.get("acme", invoice_id).number or "" for invoice_id in ids)
    assert numbers == [f"HPO-2026-{n:06d}" for n in range(1, count + 1)]
    assert counter(tables)["last"] == {"N": str(count)}
    assert [sk for sk, _, _ in register(tables)] == [f"invoice#{n:012d}" for n in range(1, count + 1)]
    assert {number for _, _, number in register(tables)} == set(numbers)
    assert sum(renders.values()) > count  # they did race: some issues lost a number and took the next
