"""Credit and debit notes: a re-rated period against what was charged, line by line, with earlier notes."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meterbill.billing.invoice import (
    AssignmentBill,
    DemandPeak,
    Invoice,
    InvoiceError,
    InvoiceLine,
    demand_history_for,
    draft,
    issue,
    note_id,
)
from meterbill.billing.notes import Difference, difference, issued_notes, next_note_sequence, note
from meterbill.tariffs.engine import BillPeriod, rate
from meterbill.tariffs.model import Tariff
from meterbill.usage import Usage
from tests.builders import BERLIN, D, constant, flat_energy, tariff

JAN_1 = datetime(2026, 1, 1, tzinfo=BERLIN)
JANUARY = BillPeriod(date(2026, 1, 1), date(2026, 2, 1), BERLIN)
COMPUTED = datetime.fromisoformat("2026-02-01T00:30+01:00")
ISSUED = datetime.fromisoformat("2026-02-03T00:30+01:00")
DISPUTED = datetime.fromisoformat("2026-05-12T10:00+02:00")
LATER = datetime.fromisoformat("2026-06-02T10:00+02:00")

# 0.25/kWh and 20% VAT: 400 kWh are 100.00 + 20.00 = 120.00; 360 kWh are 90.00 + 18.00 = 108.00.
SIMPLE = tariff(id="simple", energy=flat_energy("0.25"), taxes=[{"name": "VAT", "percent": "20"}])


def january(kwh: int, tariff_: Tariff = SIMPLE) -> Invoice:
    bill = rate(tariff_, JANUARY, Usage(series=constant(JAN_1, 60, kwh, "1")))
    parts = [AssignmentBill("m1", "a1", D(1), bill)]
    return draft(
        "acme", "c1", date(2026, 1, 1), date(2026, 2, 1), parts, currency="EUR", computed_at=COMPUTED
    )


def billed_400() -> Invoice:
    return issue(january(400), "INV-000001", ISSUED)


def issued_note(original: Invoice, diff: Difference, sequence: int, number: str, rerated: Invoice) -> Invoice:
    drafted = note(original, diff, sequence=sequence, computed_at=DISPUTED, rerated=rerated, reason="dispute")
    return issue(drafted, number, DISPUTED)


def test_a_rerated_invoice_12_00_lower_gives_a_credit_note_of_minus_12_00_line_by_line() -> None:
    billed, rerated = billed_400(), january(360)
    assert billed.total - rerated.total == D("120.00") - D("108.00")
    diff = difference(billed, rerated)
    assert diff is not None
    assert diff.kind == "credit_note"
    assert [(line.component, line.quantity, line.unit, line.rate, line.amount) for line in diff.lines] == [
        ("energy", D("360") - D("400"), "kWh", D("0.25"), D("-40") * D("0.25")),  # -10.00
        ("tax", D("90.00") - D("100.00"), "EUR", D("0.2"), D("-10.00") * D("0.2")),  # -2.00
    ]
    assert diff.total == D("-12.00")
    assert (diff.lines[0].meter_id, diff.lines[0].start, diff.lines[0].end) == (
        "m1",
        date(2026, 1, 1),
        date(2026, 2, 1),
    )


def test_the_credit_note_references_the_original_which_stays_byte_for_byte_unchanged() -> None:
    billed, rerated = billed_400(), january(360)
    before = json.dumps(billed.to_json(), sort_keys=True)
    diff = difference(billed, rerated)
    assert diff is not None
    credit = issued_note(billed, diff, 1, "CN-000001", rerated)
    assert (credit.id, credit.kind, credit.corrects, credit.number) == (
        note_id(billed.id, 1),
        "credit_note",
        billed.id,
        "CN-000001",
    )
    assert (credit.period_start, credit.period_end, credit.reason) == (
        date(2026, 1, 1),
        date(2026, 2, 1),
        "dispute",
    )
    assert (credit.subtotal, credit.taxes, credit.total) == (D("-10.00"), D("-2.00"), D("-12.00"))
    assert Invoice.from_json(credit.to_json()) == credit
    assert json.dumps(billed.to_json(), sort_keys=True) == before


def test_a_second_difference_after_the_note_is_zero() -> None:
    billed, rerated = billed_400(), january(360)
    diff = difference(billed, rerated)
    assert diff is not None
    credit = issued_note(billed, diff, 1, "CN-000001", rerated)
    assert difference(billed, january(360), [credit]) is None
    assert next_note_sequence(billed, [credit]) == 2


def test_new_readings_after_a_credit_note_give_a_debit_note_for_what_they_add() -> None:
    billed, rerated = billed_400(), january(360)
    diff = difference(billed, rerated)
    assert diff is not None
    credit = issued_note(billed, diff, 1, "CN-000001", rerated)
    again = difference(billed, january(380), [credit])
    assert again is not None
    assert again.kind == "debit_note"
    assert [(line.component, line.quantity, line.amount) for line in again.lines] == [
        ("energy", D("380") - D("360"), D("20") * D("0.25")),  # 5.00
        ("tax", D("95.00") - D("90.00"), D("5.00") * D("0.2")),  # 1.00
    ]
    assert again.total == D("6.00")  # 114.00 re-rated - (120.00 - 12.00) charged


def test_a_draft_note_left_by_an_interrupted_adjust_charges_nothing_yet() -> None:
    billed, rerated = billed_400(), january(360)
    diff = difference(billed, rerated)
    assert diff is not None
    left_behind = note(billed, diff, sequence=1, computed_at=DISPUTED)
    assert issued_notes(billed, [left_behind]) == []
    assert next_note_sequence(billed, [left_behind]) == 1  # the retry makes the same note id
    assert difference(billed, rerated, [left_behind]) == diff


def test_unchanged_readings_give_no_note() -> None:
    assert difference(billed_400(), january(400)) is None


def test_a_price_change_is_a_line_without_quantity_or_rate() -> None:
    dearer = tariff(id="simple", energy=flat_energy("0.30"), taxes=[{"name": "VAT", "percent": "20"}])
    diff = difference(billed_400(), january(400, dearer))
    assert diff is not None
    assert [(line.component, line.quantity, line.rate, line.amount) for line in diff.lines] == [
        ("energy", D("0"), None, D("400") * (D("0.30") - D("0.25"))),  # 20.00
        ("tax", D("120.00") - D("100.00"), D("0.2"), D("20.00") * D("0.2")),  # 4.00
    ]
    assert (diff.kind, diff.total) == ("debit_note", D("24.00"))


def test_a_charge_only_one_side_has_is_added_or_taken_back_whole() -> None:
    with_fee = tariff(
        id="simple",
        fixed=[{"amount": "5"}],
        energy=flat_energy("0.25"),
        taxes=[{"name": "VAT", "percent": "20"}],
    )
    diff = difference(billed_400(), january(400, with_fee))
    assert diff is not None
    assert [(line.component, line.amount) for line in diff.lines] == [
        ("fixed", D("5.00")),
        ("tax", D("1.00")),
    ]
    billed_with_fee = issue(january(400, with_fee), "INV-000002", ISSUED)
    taken_back = difference(billed_with_fee, january(400))
    assert taken_back is not None
    assert [(line.component, line.quantity, line.amount) for line in taken_back.lines] == [
        ("tax", D("100.00") - D("105.00"), D("-1.00")),
        ("fixed", D("-1"), D("-5.00")),
    ]


def hand_made(*amounts: tuple[str, str]) -> Invoice:
    lines = tuple(
        InvoiceLine("m1", "a1", date(2026, 1, 1), date(2026, 2, 1), "energy", f"Energy, {p}", D("10"), "kWh",
                    D(a) / 10, D(a), "tou", 1, period=p)
        for p, a in amounts
    )  # fmt: skip
    invoice = draft(
        "acme", "c1", date(2026, 1, 1), date(2026, 2, 1), [], currency="EUR", computed_at=COMPUTED
    )
    return replace(invoice, lines=lines)


def test_usage_moved_between_periods_at_no_net_cost_is_a_credit_note_of_zero() -> None:
    billed = issue(hand_made(("peak", "10.00"), ("offpeak", "5.00")), "INV-000003", ISSUED)
    diff = difference(billed, hand_made(("peak", "5.00"), ("offpeak", "10.00")))
    assert diff is not None
    assert [(line.period, line.rate, line.amount) for line in diff.lines] == [
        ("peak", None, D("-5.00")),
        ("offpeak", None, D("5.00")),
    ]
    assert (diff.kind, diff.total) == ("credit_note", D("0.00"))


def test_only_an_issued_invoice_of_the_same_customer_period_and_currency_is_compared() -> None:
    with pytest.raises(InvoiceError, match=r"billed: .* is a draft invoice, not an issued invoice"):
        difference(january(400), january(360))
    settlement = draft(
        "acme", "c1", date(2026, 1, 1), date(2026, 1, 20), [], currency="EUR", computed_at=COMPUTED
    )
    with pytest.raises(
        InvoiceError, match=r"rerated\.period_end: 2026-01-20 differs from the invoice's 2026-02-01"
    ):
        difference(billed_400(), settlement)


def test_ratchets_read_the_peaks_of_the_latest_note_on_an_invoice() -> None:
    peak = DemandPeak("m1", date(2026, 1, 1), date(2026, 2, 1), D("20"), "kW")
    billed = replace(billed_400(), demand_history=(peak,))
    rerated = replace(january(360), demand_history=(replace(peak, peak=D("16")),))
    diff = difference(billed, rerated)
    assert diff is not None
    credit = issued_note(billed, diff, 1, "CN-000001", rerated)
    assert demand_history_for([billed], "m1", before=date(2026, 2, 1)) == (D("20"),)
    assert demand_history_for([billed, credit], "m1", before=date(2026, 2, 1)) == (D("16"),)
    unissued = note(billed, diff, sequence=2, computed_at=LATER, rerated=replace(rerated, demand_history=()))
    assert demand_history_for([billed, credit, unissued], "m1", before=date(2026, 2, 1)) == (D("16"),)


@settings(max_examples=40, deadline=None)
@given(
    unit_rate=st.sampled_from(["0.10", "0.2345", "0.30", "0.333"]),
    vat=st.sampled_from(["0", "7", "19", "20"]),
    readings=st.lists(st.integers(0, 744), min_size=1, max_size=5),
)
def test_after_each_adjust_the_invoice_and_its_notes_add_up_to_the_rerated_total_to_the_cent(
    unit_rate: str, vat: str, readings: list[int]
) -> None:
    priced = tariff(id="p", energy=flat_energy(unit_rate), taxes=[{"name": "VAT", "percent": vat}])
    billed = issue(january(400, priced), "INV-000001", ISSUED)
    notes: list[Invoice] = []
    for kwh in readings:
        rerated = january(kwh, priced)
        diff = difference(billed, rerated, notes)
        if diff is not None:
            sequence = next_note_sequence(billed, notes)
            notes.append(issued_note(billed, diff, sequence, f"CN-{sequence:06d}", rerated))
        assert billed.total + sum(n.total for n in notes) == rerated.total
        assert difference(billed, rerated, notes) is None
    assert len({n.id for n in notes}) == len(notes)
