"""The InvoiceStore contract, run against the in-memory fake (tests/fakes.py) and the DynamoDB adapter on
moto: what each call stores and answers, numbering, idempotency and the states that refuse a write."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from meterbill.adapters.dynamodb import DynamoDb
from meterbill.adapters.dynamodb.invoices import DynamoDbInvoiceStore
from meterbill.errors import InvalidInputError, InvalidStateError, NotFoundError
from meterbill.ports import InvoiceRecord, InvoiceStore, IssuedBody, ReratingCandidate
from tests.fakes import FakeInvoiceStore
from tests.integration.conftest import Clock

MARCH = (date(2026, 3, 1), date(2026, 4, 1))
APRIL = (date(2026, 4, 1), date(2026, 5, 1))
ISSUE_AT = datetime(2026, 4, 3, 0, 5, tzinfo=UTC)


@pytest.fixture(params=["fake", "dynamodb"])
def store(request: pytest.FixtureRequest, clock: Clock) -> InvoiceStore:
    if request.param == "fake":
        return FakeInvoiceStore(clock)
    request.getfixturevalue("atomic_moto_writes")  # the racing tests need DynamoDB's atomic conditions
    db: DynamoDb = request.getfixturevalue("db")
    return DynamoDbInvoiceStore(db, clock=clock)


def draft(
    invoice_id: str = "inv_march",
    *,
    customer: str = "cus-1",
    period: tuple[date, date] = MARCH,
    total: str = "12.34",
    account: str = "acme",
    kind: str = "invoice",
) -> InvoiceRecord:
    body = {"id": invoice_id, "customer_id": customer, "total": Decimal(total), "lines": [{"qty": 3}]}
    return InvoiceRecord.draft(
        account,
        invoice_id,
        customer_id=customer,
        kind=kind,
        period_start=period[0],
        period_end=period[1],
        body=body,
        at=datetime(2000, 1, 1, tzinfo=UTC),  # the store sets its own times
    )


def numbered(prefix: str = "HPO-2026-") -> Callable[[InvoiceRecord, int], IssuedBody]:
    """What the invoicing service passes: the number formatted, the body carrying it."""

    def render(record: InvoiceRecord, sequence: int) -> IssuedBody:
        number = f"{prefix}{sequence:06d}"
        return IssuedBody(number, {**record.body, "number": number, "state": "issued"})

    return render


def issue(
    store: InvoiceStore, invoice_id: str, series: str = "invoice", account: str = "acme"
) -> InvoiceRecord:
    return store.issue(account, invoice_id, series=series, at=ISSUE_AT, render=numbered())


# --- drafts -------------------------------------------------------------------------------------------------


def test_a_new_draft_is_stored_as_version_1_without_a_number(store: InvoiceStore, clock: Clock) -> None:
    stored = store.put_draft("acme", draft())

    assert stored == InvoiceRecord(
        account="acme",
        invoice_id="inv_march",
        customer_id="cus-1",
        kind="invoice",
        state="draft",
        period_start=date(2026, 3, 1),
        period_end=date(2026, 4, 1),
        number=None,
        body={"id": "inv_march", "customer_id": "cus-1", "total": Decimal("12.34"), "lines": [{"qty": 3}]},
        version=1,
        created_at=clock.now,
        updated_at=clock.now,
        issued_at=None,
    )
    assert store.get("acme", "inv_march") == stored


def test_a_recomputed_draft_replaces_the_body_and_keeps_its_creation_time(
    store: InvoiceStore, clock: Clock
) -> None:
    first = store.put_draft("acme", draft(total="12.34"))
    clock.advance(hours=1)

    second = store.put_draft("acme", draft(total="12.50"))

    assert (second.version, second.body["total"], second.created_at, second.updated_at) == (
        2,
        Decimal("12.50"),
        first.created_at,
        clock.now,
    )
    assert store.get("acme", "inv_march") == second


def test_a_draft_recomputed_to_the_same_body_is_not_written_again(store: InvoiceStore, clock: Clock) -> None:
    first = store.put_draft("acme", draft())
    clock.advance(hours=1)

    assert store.put_draft("acme", draft()) == first


def test_an_unknown_invoice_is_not_found(store: InvoiceStore) -> None:
    with pytest.raises(NotFoundError) as raised:
        store.get("acme", "inv_nope")
    assert (raised.value.kind, raised.value.item_id) == ("invoice", "inv_nope")


def test_another_accounts_invoice_is_not_found(store: InvoiceStore) -> None:
    store.put_draft("acme", draft())

    with pytest.raises(NotFoundError):
        store.get("globex", "inv_march")
    with pytest.raises(NotFoundError):
        issue(store, "inv_march", account="globex")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"account": "globex"}, "account"),
        ({"state": "issued"}, "state"),
        ({"number": "HPO-1"}, "number"),
        ({"period_end": date(2026, 3, 1)}, "period_end"),
    ],
)
def test_put_draft_refuses_what_is_not_a_draft_of_the_account(
    store: InvoiceStore, change: dict[str, Any], field: str
) -> None:
    from dataclasses import replace

    with pytest.raises(InvalidInputError) as raised:
        store.put_draft("acme", replace(draft(), **change))
    assert raised.value.field == field


# --- issuing ------------------------------------------------------------------------------------------------


def test_issuing_gives_the_next_number_of_the_series_and_the_rendered_body(
    store: InvoiceStore, clock: Clock
) -> None:
    store.put_draft("acme", draft("inv_a"))
    store.put_draft("acme", draft("inv_b"))
    clock.advance(hours=2)

    a = issue(store, "inv_a")
    b = issue(store, "inv_b")

    assert (a.state, a.number, a.version, a.issued_at, a.updated_at) == (
        "issued",
        "HPO-2026-000001",
        2,
        ISSUE_AT,
        clock.now,
    )
    assert a.body == {
        "id": "inv_a",
        "customer_id": "cus-1",
        "total": Decimal("12.34"),
        "lines": [{"qty": 3}],
        "number": "HPO-2026-000001",
        "state": "issued",
    }
    assert b.number == "HPO-2026-000002"
    assert store.get("acme", "inv_a") == a


def test_render_sees_the_stored_draft_and_the_sequence(store: InvoiceStore) -> None:
    stored = store.put_draft("acme", draft())
    seen: list[tuple[InvoiceRecord, int]] = []

    def render(record: InvoiceRecord, sequence: int) -> IssuedBody:
        seen.append((record, sequence))
        return IssuedBody("N1", {"n": 1})

    store.issue("acme", "inv_march", series="invoice", at=ISSUE_AT, render=render)

    assert seen == [(stored, 1)]


def test_issuing_again_returns_the_issued_invoice_without_rendering_or_a_second_number(
    store: InvoiceStore,
) -> None:
    store.put_draft("acme", draft("inv_a"))
    first = issue(store, "inv_a")

    def must_not_render(record: InvoiceRecord, sequence: int) -> IssuedBody:
        raise AssertionError("an issued invoice is not rendered again")

    again = store.issue(
        "acme", "inv_a", series="invoice", at=ISSUE_AT + timedelta(days=1), render=must_not_render
    )

    assert again == first
    store.put_draft("acme", draft("inv_b"))
    assert issue(store, "inv_b").number == "HPO-2026-000002"  # no number was spent on the second call


def test_each_series_and_each_account_counts_from_1(store: InvoiceStore) -> None:
    store.put_draft("acme", draft("inv_a"))
    store.put_draft("acme", draft("cn_a", kind="credit_note"))
    store.put_draft("globex", draft("inv_a", account="globex"))

    numbers = [
        issue(store, "inv_a").number,
        store.issue("acme", "cn_a", series="credit_note", at=ISSUE_AT, render=numbered("CN-")).number,
        issue(store, "inv_a", account="globex").number,
    ]

    assert numbers == ["HPO-2026-000001", "CN-000001", "HPO-2026-000001"]


def test_a_draft_rewritten_while_it_is_rendered_is_issued_with_the_new_body(store: InvoiceStore) -> None:
    store.put_draft("acme", draft(total="10.00"))
    renders: list[tuple[int, int]] = []

    def render(record: InvoiceRecord, sequence: int) -> IssuedBody:
        renders.append((record.version, sequence))
        if len(renders) == 1:  # a late reading recomputes the draft while this issue renders it
            store.put_draft("acme", draft(total="11.00"))
        return numbered()(record, sequence)

    issued = store.issue("acme", "inv_march", series="invoice", at=ISSUE_AT, render=render)

    assert renders == [(1, 1), (2, 1)]
    assert (issued.number, issued.body["total"], issued.version) == ("HPO-2026-000001", Decimal("11.00"), 3)


def test_an_issue_that_loses_the_number_to_another_takes_the_next(store: InvoiceStore) -> None:
    store.put_draft("acme", draft("inv_a"))
    store.put_draft("acme", draft("inv_b"))
    renders: list[int] = []

    def render(record: InvoiceRecord, sequence: int) -> IssuedBody:
        renders.append(sequence)
        if len(renders) == 1:  # another worker issues inv_b in between and takes number 1
            issue(store, "inv_b")
        return numbered()(record, sequence)

    a = store.issue("acme", "inv_a", series="invoice", at=ISSUE_AT, render=render)

    assert renders == [1, 2]
    assert (store.get("acme", "inv_b").number, a.number) == ("HPO-2026-000001", "HPO-2026-000002")


def test_two_threads_issuing_one_invoice_give_it_one_number(store: InvoiceStore) -> None:
    store.put_draft("acme", draft("inv_a"))
    start_together = threading.Barrier(2)
    results: list[InvoiceRecord] = []

    def run() -> None:
        start_together.wait()
        results.append(issue(store, "inv_a"))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [r.number for r in results] == ["HPO-2026-000001", "HPO-2026-000001"]
    assert results[0] == results[1] == store.get("acme", "inv_a")
    store.put_draft("acme", draft("inv_b"))
    assert issue(store, "inv_b").number == "HPO-2026-000002"


# --- states that refuse a write -----------------------------------------------------------------------------


def test_an_issued_invoice_is_returned_unchanged_by_put_draft(store: InvoiceStore, clock: Clock) -> None:
    store.put_draft("acme", draft())
    issued = issue(store, "inv_march")
    clock.advance(days=1)

    assert store.put_draft("acme", draft(total="99.99")) == issued
    assert store.get("acme", "inv_march") == issued


def test_an_issued_invoice_cannot_be_voided(store: InvoiceStore) -> None:
    store.put_draft("acme", draft())
    issued = issue(store, "inv_march")

    with pytest.raises(InvalidStateError) as raised:
        store.void("acme", "inv_march")

    assert (raised.value.kind, raised.value.item_id, raised.value.state, raised.value.action) == (
        "invoice",
        "inv_march",
        "issued",
        "void",
    )
    assert str(raised.value) == "invoice 'inv_march' is issued: cannot void"
    assert store.get("acme", "inv_march") == issued


def test_voiding_a_draft_twice_voids_it_once_and_it_can_no_longer_be_issued_or_rewritten(
    store: InvoiceStore, clock: Clock
) -> None:
    store.put_draft("acme", draft())
    clock.advance(minutes=5)

    voided = store.void("acme", "inv_march")
    again = store.void("acme", "inv_march")

    assert (voided.state, voided.version, voided.number, voided.updated_at) == ("void", 2, None, clock.now)
    assert again == voided
    assert store.put_draft("acme", draft(total="1.00")) == voided
    with pytest.raises(InvalidStateError) as raised:
        issue(store, "inv_march")
    assert (raised.value.state, raised.value.action) == ("void", "issue")


def test_voiding_or_issuing_an_unknown_invoice_is_not_found(store: InvoiceStore) -> None:
    with pytest.raises(NotFoundError):
        store.void("acme", "inv_nope")
    with pytest.raises(NotFoundError):
        issue(store, "inv_nope")


# --- listing ------------------------------------------------------------------------------------------------


def fill(store: InvoiceStore) -> None:
    store.put_draft("acme", draft("inv_c1_apr", customer="cus-1", period=APRIL))
    store.put_draft("acme", draft("inv_c1_mar", customer="cus-1", period=MARCH))
    store.put_draft("acme", draft("inv_c2_mar", customer="cus-2", period=MARCH))
    store.put_draft("acme", draft("inv_c1_feb", customer="cus-1", period=(date(2026, 2, 1), MARCH[0])))
    store.put_draft("globex", draft("inv_g", customer="cus-1", account="globex"))
    issue(store, "inv_c1_mar")


def listed(store: InvoiceStore, **query: Any) -> list[list[str]]:
    """Every page's invoice ids, following the cursors."""
    pages: list[list[str]] = []
    cursor = None
    while True:
        page = store.list("acme", cursor=cursor, **query)
        pages.append([record.invoice_id for record in page.items])
        cursor = page.cursor
        if cursor is None:
            return pages


def test_a_customers_invoices_list_in_period_order_page_by_page(store: InvoiceStore) -> None:
    fill(store)

    assert listed(store, customer_id="cus-1", limit=2) == [["inv_c1_feb", "inv_c1_mar"], ["inv_c1_apr"]]


def test_a_customers_invoices_by_period_start_and_state(store: InvoiceStore) -> None:
    fill(store)

    assert listed(store, customer_id="cus-1", start=MARCH[0], limit=10) == [["inv_c1_mar", "inv_c1_apr"]]
    assert listed(store, customer_id="cus-1", end=MARCH[1], limit=10) == [["inv_c1_feb", "inv_c1_mar"]]
    assert listed(store, customer_id="cus-1", start=MARCH[0], end=MARCH[1], limit=10) == [["inv_c1_mar"]]
    assert listed(store, customer_id="cus-1", state="draft", limit=1) == [["inv_c1_feb"], ["inv_c1_apr"]]


def test_the_accounts_invoices_list_in_id_order_filtered_by_period_and_state(store: InvoiceStore) -> None:
    fill(store)

    assert listed(store, limit=3) == [["inv_c1_apr", "inv_c1_feb", "inv_c1_mar"], ["inv_c2_mar"]]
    assert listed(store, start=MARCH[0], end=MARCH[1], limit=10) == [["inv_c1_mar", "inv_c2_mar"]]
    assert listed(store, state="issued", limit=10) == [["inv_c1_mar"]]


def test_a_listing_returns_whole_records(store: InvoiceStore) -> None:
    fill(store)

    (record,) = store.list("acme", customer_id="cus-1", state="issued", limit=10).items

    assert record == store.get("acme", "inv_c1_mar")


def test_a_cursor_of_another_listing_is_refused(store: InvoiceStore) -> None:
    fill(store)
    cursor = store.list("acme", customer_id="cus-1", limit=1).cursor

    with pytest.raises(InvalidInputError) as raised:
        store.list("acme", customer_id="cus-2", limit=1, cursor=cursor)
    assert raised.value.field == "cursor"


def issued_months(store: InvoiceStore) -> None:
    """Four documents issued across the turn of March into April; the one issued at 00:30 on 1 April in
    +02:00 is an April document, though it was still March in UTC."""
    fill(store)  # issues inv_c1_mar at ISSUE_AT, 3 April
    store.put_draft("acme", draft("inv_c2_apr", customer="cus-2", period=APRIL))  # stays a draft
    at = {
        "inv_c1_feb": datetime(2026, 3, 31, 23, 30, tzinfo=UTC),
        "inv_c2_mar": datetime(2026, 4, 1, 0, 30, tzinfo=timezone(timedelta(hours=2))),
        "inv_c1_apr": datetime(2026, 4, 2, 10, 0, tzinfo=UTC),
    }
    for invoice_id, moment in at.items():
        store.issue("acme", invoice_id, series="invoice", at=moment, render=numbered())
    store.issue("globex", "inv_g", series="invoice", at=ISSUE_AT, render=numbered())


def issued_pages(store: InvoiceStore, month: date, limit: int) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor = None
    while True:
        page = store.issued_in("acme", month, limit=limit, cursor=cursor)
        pages.append([record.invoice_id for record in page.items])
        cursor = page.cursor
        if cursor is None:
            return pages


def test_the_documents_issued_in_a_month_list_in_order_of_issue_by_their_own_offset(
    store: InvoiceStore,
) -> None:
    issued_months(store)

    assert issued_pages(store, date(2026, 4, 1), limit=2) == [["inv_c2_mar", "inv_c1_apr"], ["inv_c1_mar"]]
    assert issued_pages(store, date(2026, 3, 1), limit=2) == [["inv_c1_feb"]]
    assert issued_pages(store, date(2026, 5, 1), limit=2) == [[]]
    (record, *_) = store.issued_in("acme", date(2026, 4, 1), limit=1).items
    assert record == store.get("acme", "inv_c2_mar")


def test_a_cursor_of_another_issue_month_is_refused(store: InvoiceStore) -> None:
    issued_months(store)
    cursor = store.issued_in("acme", date(2026, 4, 1), limit=1).cursor

    with pytest.raises(InvalidInputError) as raised:
        store.issued_in("acme", date(2026, 3, 1), limit=1, cursor=cursor)
    assert raised.value.field == "cursor"


# --- re-rating candidates -----------------------------------------------------------------------------------


def candidate(meter: str, day: int, received_hour: int = 9) -> ReratingCandidate:
    start = datetime(2026, 3, day, tzinfo=UTC)
    return ReratingCandidate(
        "inv_march", meter, start, start + timedelta(days=1), datetime(2026, 4, 20, received_hour, tzinfo=UTC)
    )


def test_rerating_candidates_are_kept_beside_the_issued_invoice_without_changing_it(
    store: InvoiceStore,
) -> None:
    store.put_draft("acme", draft())
    issued = issue(store, "inv_march")

    store.add_rerating_candidate("acme", candidate("mtr-2", 5))
    store.add_rerating_candidate("acme", candidate("mtr-1", 7))
    first = store.add_rerating_candidate("acme", candidate("mtr-1", 6))
    again = store.add_rerating_candidate("acme", candidate("mtr-1", 6, received_hour=15))

    assert again == first  # the first receipt is kept
    assert store.rerating_candidates("acme", "inv_march") == [
        candidate("mtr-1", 6),
        candidate("mtr-1", 7),
        candidate("mtr-2", 5),
    ]
    assert store.get("acme", "inv_march") == issued
    assert store.rerating_candidates("acme", "inv_other") == []


def test_a_draft_has_no_rerating_candidates_it_is_recomputed(store: InvoiceStore) -> None:
    store.put_draft("acme", draft())

    with pytest.raises(InvalidStateError) as raised:
        store.add_rerating_candidate("acme", candidate("mtr-1", 6))
    assert raised.value.state == "draft"
    with pytest.raises(NotFoundError):
        store.add_rerating_candidate("globex", candidate("mtr-1", 6))
