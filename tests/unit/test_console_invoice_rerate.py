"""Re-rating and adjusting an issued invoice from the console, through the API's handler on the fakes. The
portfolio is ``tests/unit/invoicing_support.py`` (account ``hpo``, Berlin, 1 kWh an hour on every meter,
0.30 EUR/kWh flat, no tax); c-alice's invoice of 15 January to 15 February is issued on 17 February, then
m-alice's readings of 20 January are corrected to 0.5 kWh an hour. The console's clock is the fakes'
2026-03-01T12:00Z.

The re-rate page shows the line and total differences to the cent and changes nothing (a read session may
use it); adjusting asks for a confirmation, then issues exactly one credit note even when the confirmed form
is posted twice; a confirmation whose figures changed since is refused (409) with the new ones and issues
nothing; drafts are neither re-rated nor adjusted (409); another account's invoice is 404."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from urllib.parse import urlencode

import pytest

from meterbill.billing.invoice import invoice_id, note_id
from meterbill.domain import Customer
from meterbill.ports import AccountRecord
from meterbill.services import billrun
from meterbill.services import catalog as catalog_service
from meterbill.services.apikeys import create_key
from tests.fakes import FIXED_NOW, FakeInvoiceWorkQueue, FakeStores, fixed_clock
from tests.unit.api_support import HttpAnswer, configure_backend, proxy_event
from tests.unit.invoicing_support import BERLIN, A, hourly, portfolio
from tests.unit.test_console_pages import FORM, handler, multi

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")

D = Decimal
OTHER = "acc_other"
RUN_AT = datetime(2026, 2, 17, 1, 0, tzinfo=BERLIN)  # bill day 15 + 2 days' grace: issued
BEFORE_GRACE = datetime(2026, 2, 16, 1, 0, tzinfo=BERLIN)  # the period ended, grace not over: a draft
ALICE = invoice_id(A, "c-alice", date(2026, 1, 15), date(2026, 2, 15))
FIRST_NOTE = note_id(ALICE, 1)


@pytest.fixture
def stores() -> Iterator[FakeStores]:
    from meterbill.api import dependencies

    fakes = portfolio()
    fakes.accounts.create(AccountRecord(OTHER, OTHER, fixed_clock()))
    catalog_service.replace(
        A,
        Customer,
        "c-alice",
        {"id": "c-alice", "name": "Alice GmbH", "emails": ["billing@alice.example"]},
        fakes.catalog,
        if_match=None,
    )
    configure_backend(fakes)
    try:
        yield fakes
    finally:
        dependencies.reset()


def run(stores: FakeStores, now: datetime) -> None:
    queue = FakeInvoiceWorkQueue()
    billrun.run(now, stores.ports(), queue)
    for item in queue.take():
        billrun.work(item, stores.ports())


def correct_alice(stores: FakeStores, day: int) -> None:
    """Corrected readings for m-alice on ``day`` January: 0.5 kWh an hour instead of 1."""
    start, end = datetime(2026, 1, day, tzinfo=BERLIN), datetime(2026, 1, day + 1, tzinfo=BERLIN)
    stores.readings.put_new(A, hourly("m-alice", start, end, lambda _: D("0.5")))


def signed_in(stores: FakeStores, scope: str, account: str = A) -> tuple[str, str]:
    _, key = create_key(account, "console", (scope,), stores.keys, FIXED_NOW)
    result = multi(proxy_event("POST", "/console/sign-in", body=urlencode({"key": key}), headers=FORM))
    assert result["statusCode"] == 303
    pairs = [cookie.split(";")[0] for cookie in result["multiValueHeaders"]["Set-Cookie"]]
    return "; ".join(pairs), pairs[1].removeprefix("mb_csrf=")


def get(path: str, cookies: str) -> HttpAnswer:
    return handler(proxy_event("GET", path, headers={"Cookie": cookies}))


def post(path: str, cookies: str, form: dict[str, str]) -> HttpAnswer:
    return handler(proxy_event("POST", path, body=urlencode(form), headers={**FORM, "Cookie": cookies}))


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html)).strip()


def cells(page: str, table: str) -> list[list[str]]:
    body = re.search(rf'<table id="{table}">.*?<tbody>(.*?)</tbody>', page, re.S)
    assert body is not None, page
    return [
        [text_of(cell) for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body.group(1), re.S)
    ]


def by_id(page: str, element_id: str) -> str:
    """The text of the element ``id`` names (a ``p``, a ``td``)."""
    found = re.search(rf'<(p|td)\b[^>]*\bid="{element_id}"[^>]*>(.*?)</\1>', page, re.S)
    assert found is not None, f"no #{element_id} in {page}"
    return text_of(found.group(2))


def confirmation_form(page: str) -> dict[str, str]:
    form = re.search(r'<form method="post" action="[^"]*/adjust" id="adjust-form">(.*?)</form>', page, re.S)
    assert form is not None, page
    return dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">', form.group(1)))


def notes_issued(stores: FakeStores) -> int:
    return stores.invoices.counters.get((A, "credit_note"), 0)


def test_a_corrected_reading_shows_the_line_and_total_differences_to_the_cent(stores):
    run(stores, RUN_AT)
    before = stores.invoices.get(A, ALICE)
    correct_alice(stores, 20)
    cookies, _ = signed_in(stores, "read")

    page = get(f"/console/invoices/{ALICE}/rerate", cookies)

    assert page.status == 200
    # m-alice 15 Jan - 1 Feb: 17 days × 24 h × 1 kWh = 408 kWh × 0.30 = 122.40; re-rated with 20 January at
    # 0.5 kWh an hour: 408 - 24 × 0.5 = 396 kWh × 0.30 = 118.80; difference -12 kWh, -3.60
    assert cells(page.text, "rerate-lines") == [
        ["common", "energy", "Energy", "204.0 kWh", "61.20", "204.0 kWh", "61.20", "0 kWh", "0.00"],
        ["common", "energy", "Energy", "168.0 kWh", "50.40", "168.0 kWh", "50.40", "0 kWh", "0.00"],
        ["m-alice", "energy", "Energy", "408 kWh", "122.40", "396.0 kWh", "118.80", "-12.0 kWh", "-3.60"],
        ["m-alice", "energy", "Energy", "336 kWh", "100.80", "336.0 kWh", "100.80", "0 kWh", "0.00"],
    ]
    # charged 334.80 = (408 + 336 + 204 + 168) kWh × 0.30; re-rated 334.80 - 3.60 = 331.20; no tax
    assert cells(page.text, "rerate-totals") == [
        ["Net", "334.80 EUR", "331.20 EUR", "-3.60 EUR"],
        ["Tax", "0.00 EUR", "0.00 EUR", "0.00 EUR"],
        ["Total", "334.80 EUR", "331.20 EUR", "-3.60 EUR"],
    ]
    assert by_id(page.text, "rerate-outcome") == "Adjusting would issue a credit note of -3.60 EUR."
    assert 'id="adjust"' not in page.text  # a read session: no change button
    assert stores.invoices.get(A, ALICE) == before
    assert notes_issued(stores) == 0


def test_the_invoice_page_links_the_rerate_of_an_issued_invoice_only(stores):
    cookies, _ = signed_in(stores, "read")
    run(stores, BEFORE_GRACE)
    assert 'id="rerate"' not in get(f"/console/invoices/{ALICE}", cookies).text  # a draft
    run(stores, RUN_AT)
    assert f'href="/console/invoices/{ALICE}/rerate"' in get(f"/console/invoices/{ALICE}", cookies).text


def test_the_confirmation_states_exactly_what_will_be_issued(stores):
    run(stores, RUN_AT)
    correct_alice(stores, 20)
    cookies, csrf = signed_in(stores, "admin")
    rerated = get(f"/console/invoices/{ALICE}/rerate", cookies)
    assert f'href="/console/invoices/{ALICE}/adjust"' in rerated.text

    page = get(f"/console/invoices/{ALICE}/adjust", cookies)

    assert page.status == 200
    assert by_id(page.text, "confirmation-text") == (
        "This issues a credit note of -3.60 EUR to customer Alice GmbH (c-alice), correcting invoice "
        "HPO-2026-000001 (2026-01-15 – 2026-02-15), which stays as it is."
    )
    listed = re.search(r'id="confirmation".*?<ul>(.*?)</ul>', page.text, re.S)
    assert listed is not None
    assert [text_of(item) for item in re.findall(r"<li>(.*?)</li>", listed.group(1), re.S)] == [
        "It will be numbered in the account's credit- and debit-note series (HPO-CN-…); a number is never "
        "taken back.",
        "Its PDF will be stored once under Object Lock by the next bill run (within the hour): it can never "
        "be changed or deleted.",
        "It will then be emailed to billing@alice.example.",
    ]
    assert confirmation_form(page.text) == {
        "csrf_token": csrf,
        "kind": "credit_note",
        "total": "-3.60",
        "currency": "EUR",
        "sequence": "1",
    }
    assert notes_issued(stores) == 0  # confirming is not issuing


def test_adjust_issues_exactly_one_credit_note_even_when_posted_twice(stores):
    run(stores, RUN_AT)
    correct_alice(stores, 20)
    cookies, _ = signed_in(stores, "admin")
    form = confirmation_form(get(f"/console/invoices/{ALICE}/adjust", cookies).text)

    first = post(f"/console/invoices/{ALICE}/adjust", cookies, form)
    again = post(f"/console/invoices/{ALICE}/adjust", cookies, form)  # a double submit, a reload

    assert (first.status, first.headers["location"]) == (303, f"/console/invoices/{FIRST_NOTE}")
    assert (again.status, again.headers["location"]) == (303, f"/console/invoices/{FIRST_NOTE}")
    assert notes_issued(stores) == 1
    note = stores.invoices.get(A, FIRST_NOTE)
    assert (note.kind, note.state, note.number, note.body["corrects"], note.body["total"]) == (
        "credit_note",
        "issued",
        "HPO-CN-000001",
        ALICE,
        "-3.60",  # -24 h × 0.5 kWh × 0.30
    )
    notes = re.search(r'<ul id="notes">(.*?)</ul>', get(f"/console/invoices/{ALICE}", cookies).text, re.S)
    assert notes is not None
    assert text_of(notes.group(1)) == "credit note HPO-CN-000001: -3.60 EUR (issued)"
    rerated = get(f"/console/invoices/{ALICE}/rerate", cookies).text
    assert by_id(rerated, "rerate-outcome") == (
        "Nothing to adjust: the period re-rated today comes to what was charged."
    )
    assert 'id="adjust"' not in rerated
    assert 'id="adjust-form"' not in get(f"/console/invoices/{ALICE}/adjust", cookies).text


def test_a_stale_confirmation_is_refused_with_the_new_figures_and_issues_nothing(stores):
    run(stores, RUN_AT)
    correct_alice(stores, 20)
    cookies, _ = signed_in(stores, "admin")
    form = confirmation_form(get(f"/console/invoices/{ALICE}/adjust", cookies).text)
    correct_alice(stores, 21)  # new readings arrive between the confirmation and the submit

    answer = post(f"/console/invoices/{ALICE}/adjust", cookies, form)

    assert answer.status == 409
    assert by_id(answer.text, "stale") == (
        "The figures changed since you confirmed (a credit note of -3.60 EUR); now: a credit note of -7.20 "
        "EUR. Nothing was issued: check the new figures and confirm again."
    )  # two days × 24 h × 0.5 kWh × 0.30 = 7.20
    assert cells(answer.text, "rerate-totals")[2] == ["Total", "334.80 EUR", "327.60 EUR", "-7.20 EUR"]
    assert notes_issued(stores) == 0
    assert confirmation_form(get(f"/console/invoices/{ALICE}/adjust", cookies).text)["total"] == "-7.20"


def test_a_read_session_rerates_but_cannot_adjust(stores):
    run(stores, RUN_AT)
    correct_alice(stores, 20)
    cookies, csrf = signed_in(stores, "read")
    form = {"csrf_token": csrf, "kind": "credit_note", "total": "-3.60", "currency": "EUR", "sequence": "1"}

    assert get(f"/console/invoices/{ALICE}/rerate", cookies).status == 200
    assert get(f"/console/invoices/{ALICE}/adjust", cookies).status == 403
    assert post(f"/console/invoices/{ALICE}/adjust", cookies, form).status == 403
    assert notes_issued(stores) == 0


def test_an_adjust_without_the_csrf_token_or_with_a_bad_form_issues_nothing(stores):
    run(stores, RUN_AT)
    correct_alice(stores, 20)
    cookies, csrf = signed_in(stores, "admin")
    form = {"kind": "credit_note", "total": "-3.60", "currency": "EUR", "sequence": "1"}

    assert post(f"/console/invoices/{ALICE}/adjust", cookies, form).status == 403
    bad = post(f"/console/invoices/{ALICE}/adjust", cookies, {**form, "csrf_token": csrf, "total": "3,60"})
    assert bad.status == 422
    assert "total: &#39;3,60&#39; is not an amount" in bad.text
    assert notes_issued(stores) == 0


def test_another_accounts_invoice_is_404(stores):
    run(stores, RUN_AT)
    correct_alice(stores, 20)
    cookies, csrf = signed_in(stores, "admin", account=OTHER)
    form = {"csrf_token": csrf, "kind": "credit_note", "total": "-3.60", "currency": "EUR", "sequence": "1"}

    assert get(f"/console/invoices/{ALICE}/rerate", cookies).status == 404
    assert get(f"/console/invoices/{ALICE}/adjust", cookies).status == 404
    assert post(f"/console/invoices/{ALICE}/adjust", cookies, form).status == 404
    assert notes_issued(stores) == 0


def test_a_draft_is_neither_rerated_nor_adjusted(stores):
    run(stores, BEFORE_GRACE)
    cookies, csrf = signed_in(stores, "admin")
    form = {"csrf_token": csrf, "kind": "credit_note", "total": "-3.60", "currency": "EUR", "sequence": "1"}
    reason = (
        f"Invoice {ALICE} is a draft: only an issued invoice is re-rated; a draft is computed again by every "
        "bill run until it is issued."
    )

    for answer in (
        get(f"/console/invoices/{ALICE}/rerate", cookies),
        get(f"/console/invoices/{ALICE}/adjust", cookies),
        post(f"/console/invoices/{ALICE}/adjust", cookies, form),
    ):
        assert answer.status == 409
        assert reason in text_of(answer.text)
    assert notes_issued(stores) == 0


def test_the_adjust_service_checks_the_expected_figures_before_writing(stores):
    from meterbill.errors import PreconditionFailedError
    from meterbill.services import invoicing

    run(stores, RUN_AT)
    correct_alice(stores, 20)
    written = dict(stores.invoices.items)
    rerating = invoicing.rerate(A, ALICE, fixed_clock(), stores.ports())
    assert invoicing.expectation(rerating) == "credit_note -3.60 EUR"  # -24 h × 0.5 kWh × 0.30

    with pytest.raises(PreconditionFailedError):
        invoicing.adjust(A, ALICE, fixed_clock(), stores.ports(), expected="credit_note -1.80 EUR")
    assert stores.invoices.items == written

    note = invoicing.adjust(A, ALICE, fixed_clock(), stores.ports(), expected="credit_note -3.60 EUR")
    assert note is not None and (note.invoice_id, note.body["total"]) == (FIRST_NOTE, "-3.60")


def test_with_vat_the_net_tax_and_total_differences_are_each_to_the_cent(stores):
    from tests.unit.invoicing_support import (
        READINGS_FROM,
        READINGS_TO,
        add_customer,
        add_meter,
        assign,
        tariff,
    )

    vat = {**tariff("flat-vat", "0.30"), "taxes": [{"name": "VAT", "percent": "19"}]}
    catalog_service.create_tariff(A, vat, stores.catalog)
    add_meter(stores, "m-vat")
    add_customer(stores, "c-vat")
    assign(stores, "c-vat", "m-vat", "flat-vat", date(2026, 1, 15))
    stores.readings.put_new(A, hourly("m-vat", READINGS_FROM, READINGS_TO))
    run(stores, RUN_AT)
    day, following = datetime(2026, 1, 20, tzinfo=BERLIN), datetime(2026, 1, 21, tzinfo=BERLIN)
    stores.readings.put_new(A, hourly("m-vat", day, following, lambda _: D("0.5")))
    cookies, _ = signed_in(stores, "read")
    vat_invoice = invoice_id(A, "c-vat", date(2026, 1, 15), date(2026, 2, 15))

    page = get(f"/console/invoices/{vat_invoice}/rerate", cookies)

    assert page.status == 200
    net_before, net_after = (408 + 336) * D("0.30"), (396 + 336) * D("0.30")  # 223.20, 219.60
    assert (net_before, net_after) == (D("223.20"), D("219.60"))
    # VAT 19 % of each line: 122.40 → 23.26 (23.256), 100.80 → 19.15 (19.152);
    # re-rated 118.80 → 22.57 (22.572)
    tax_before, tax_after = D("23.26") + D("19.15"), D("22.57") + D("19.15")  # 42.41, 41.72
    assert cells(page.text, "rerate-totals") == [
        ["Net", "223.20 EUR", "219.60 EUR", "-3.60 EUR"],
        ["Tax", f"{tax_before} EUR", f"{tax_after} EUR", "-0.69 EUR"],  # 41.72 - 42.41
        ["Total", "265.61 EUR", "261.32 EUR", "-4.29 EUR"],  # 223.20 + 42.41; 219.60 + 41.72
    ]
    assert by_id(page.text, "rerate-outcome") == "Adjusting would issue a credit note of -4.29 EUR."
