"""The invoice: every meter's bills of a period in one document; its ids, lifecycle and stored JSON."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime

import pytest

from meterbill.billing.bill import Bill
from meterbill.billing.invoice import (
    AssignmentBill,
    DemandPeak,
    Invoice,
    InvoiceError,
    InvoiceLine,
    InvoiceStateError,
    MeterUsage,
    combine,
    demand_history_for,
    draft,
    invoice_id,
    issue,
    note_id,
    recompute,
    void,
)
from meterbill.services.preview import PreviewBill
from meterbill.tariffs.engine import BillPeriod, rate, rate_monthly
from meterbill.usage import Usage
from tests.builders import BERLIN, D, constant, flat_energy, tariff

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
JAN_1 = datetime(2026, 1, 1, tzinfo=BERLIN)
JANUARY = BillPeriod(date(2026, 1, 1), date(2026, 2, 1), BERLIN)
COMPUTED = datetime.fromisoformat("2026-02-01T00:30+01:00")
ISSUED = datetime.fromisoformat("2026-02-03T00:30+01:00")
HOURS_IN_JANUARY = 31 * 24

# Meter m1: 9.90 a month, 0.30/kWh, 19% VAT; meter m2: 0.25/kWh, no tax. Both measure hourly all January.
OFFICE = tariff(
    id="office",
    fixed=[{"amount": "9.90"}],
    energy=flat_energy("0.30"),
    taxes=[{"name": "VAT", "percent": "19"}],
)
HALL = tariff(id="hall", energy=flat_energy("0.25"))


def office_bill(period: BillPeriod = JANUARY, kwh_per_hour: str = "1") -> Bill:
    usage = Usage(series=constant(JAN_1, 60, HOURS_IN_JANUARY, kwh_per_hour))
    return rate(OFFICE, period, usage)


def hall_bill(kwh_per_hour: str = "0.5") -> Bill:
    return rate(HALL, JANUARY, Usage(series=constant(JAN_1, 60, HOURS_IN_JANUARY, kwh_per_hour)))


def january_invoice(*parts: AssignmentBill) -> Invoice:
    return draft(
        "acme", "c1", date(2026, 1, 1), date(2026, 2, 1), parts, currency="EUR", computed_at=COMPUTED
    )


def two_meters() -> Invoice:
    return january_invoice(
        AssignmentBill("m1", "a1", D(1), office_bill()), AssignmentBill("m2", "a2", D(1), hall_bill())
    )


# --- combining bills ---------------------------------------------------------------------------------------


def test_two_meters_on_different_tariffs_make_one_invoice_whose_total_is_the_sum_to_the_cent() -> None:
    invoice = two_meters()
    energy_m1 = D(HOURS_IN_JANUARY) * D("0.30")  # 744 kWh: 223.20
    vat_m1 = ((D("9.90") + energy_m1) * D("0.19")).quantize(D("0.01"))  # 19% of 233.10 = 44.289 -> 44.29
    energy_m2 = D(HOURS_IN_JANUARY) * D("0.5") * D("0.25")  # 372 kWh: 93.00
    assert invoice.subtotal == D("9.90") + energy_m1 + energy_m2 == D("326.10")
    assert invoice.taxes == vat_m1 == D("44.29")
    assert invoice.total == D("9.90") + energy_m1 + vat_m1 + energy_m2 == D("370.39")
    assert invoice.total == office_bill().total + hall_bill().total
    assert [(line.meter_id, line.component, line.tariff_id, line.amount) for line in invoice.lines] == [
        ("m1", "fixed", "office", D("9.90")),
        ("m1", "energy", "office", D("223.20")),
        ("m1", "tax", "office", D("44.29")),
        ("m2", "energy", "hall", D("93.00")),
    ]


def test_lines_keep_meter_assignment_service_days_tariff_quantity_unit_rate_and_amount() -> None:
    energy = two_meters().lines[1]
    assert energy == InvoiceLine(
        meter_id="m1",
        assignment_id="a1",
        start=date(2026, 1, 1),
        end=date(2026, 2, 1),
        component="energy",
        description="Energy",
        quantity=D("744"),
        unit="kWh",
        rate=D("0.30"),
        amount=D("223.20"),
        tariff_id="office",
        tariff_version=1,
        share=D(1),
        period="all",
    )


def test_meter_usage_is_listed_per_meter_with_its_estimated_part() -> None:
    assert two_meters().meter_usage == (
        MeterUsage("m1", "kWh", D("744"), D("0"), missing_intervals=0),
        MeterUsage("m2", "kWh", D("372"), D("0"), missing_intervals=0),
    )


def test_a_move_in_on_the_10th_bills_from_the_10th_and_says_so_on_each_line() -> None:
    moved_in = BillPeriod(date(2026, 1, 10), date(2026, 2, 1), BERLIN)
    invoice = january_invoice(AssignmentBill("m1", "a1", D(1), office_bill(moved_in)))
    fixed = invoice.lines[0]
    assert (fixed.start, fixed.end, fixed.quantity) == (date(2026, 1, 10), date(2026, 2, 1), D("0.709677"))
    assert fixed.amount == (D("9.90") * 22 / 31).quantize(D("0.01")) == D("7.03")
    assert invoice.meter_usage[0].total == D(22 * 24)  # 22 days of 1 kWh an hour


def test_a_tariff_version_change_mid_month_adds_both_bills_and_their_usage() -> None:
    first = rate(
        OFFICE,
        BillPeriod(date(2026, 1, 1), date(2026, 1, 16), BERLIN),
        Usage(series=constant(JAN_1, 60, 744, "1")),
    )
    newer = tariff(id="office", version=2, energy=flat_energy("0.40"))
    second = rate(
        newer,
        BillPeriod(date(2026, 1, 16), date(2026, 2, 1), BERLIN),
        Usage(series=constant(JAN_1, 60, 744, "1")),
    )
    invoice = january_invoice(
        AssignmentBill("m1", "a1", D(1), second), AssignmentBill("m1", "a1", D(1), first)
    )
    assert [(line.start, line.tariff_version, line.component) for line in invoice.lines] == [
        (date(2026, 1, 1), 1, "fixed"),
        (date(2026, 1, 1), 1, "energy"),
        (date(2026, 1, 1), 1, "tax"),
        (date(2026, 1, 16), 2, "energy"),
    ]
    assert invoice.meter_usage == (MeterUsage("m1", "kWh", D(15 * 24) + D(16 * 24), D(0)),)
    assert invoice.total == first.total + second.total


def test_the_preview_services_bills_combine_as_they_are() -> None:
    preview = PreviewBill(assignment_id="a2", meter_id="m2", share=D("0.5"), bill=hall_bill("0.25"))
    (line,) = combine([preview], "EUR").lines
    assert (line.meter_id, line.assignment_id, line.share, line.amount) == ("m2", "a2", D("0.5"), D("46.50"))


def test_a_bill_in_another_currency_is_refused_naming_meter_and_assignment() -> None:
    dollars = rate(tariff(currency="USD", energy=flat_energy("1")), JANUARY, Usage())
    with pytest.raises(InvoiceError, match=r"currency: meter 'm1' assignment 'a1': the bill is in USD"):
        january_invoice(AssignmentBill("m1", "a1", D(1), dollars))


def test_a_bill_outside_the_invoice_period_is_refused() -> None:
    february = BillPeriod(date(2026, 2, 1), date(2026, 3, 1), BERLIN)
    with pytest.raises(
        InvoiceError, match=r"period: meter 'm1' assignment 'a1' is billed 2026-02-01 to 2026-03-01, outside"
    ):
        january_invoice(AssignmentBill("m1", "a1", D(1), office_bill(february)))


def test_a_customer_with_nothing_billed_gets_an_empty_invoice_of_zero() -> None:
    invoice = january_invoice()
    assert (invoice.lines, invoice.total, str(invoice.total)) == ((), D(0), "0.00")


# --- ids ---------------------------------------------------------------------------------------------------


def test_the_same_customer_and_period_always_has_the_same_id_and_it_fits_the_catalog_pattern() -> None:
    first = invoice_id("acme", "c1", date(2026, 1, 1), date(2026, 2, 1), "invoice")
    assert first == invoice_id("acme", "c1", date(2026, 1, 1), date(2026, 2, 1))
    assert first == two_meters().id
    assert ID_PATTERN.match(first) and re.fullmatch(r"inv_[a-z2-7]{26}", first)
    others = {
        invoice_id("acme", "c2", date(2026, 1, 1), date(2026, 2, 1)),
        invoice_id("other", "c1", date(2026, 1, 1), date(2026, 2, 1)),
        invoice_id("acme", "c1", date(2026, 1, 1), date(2026, 1, 20)),
        invoice_id("acme", "c1", date(2026, 1, 1), date(2026, 2, 1), "credit_note"),
    }
    assert first not in others and len(others) == 4


def test_a_notes_id_comes_from_the_invoice_and_its_sequence() -> None:
    original = two_meters().id
    assert note_id(original, 1) == note_id(original, 1) != note_id(original, 2)
    assert re.fullmatch(r"note_[a-z2-7]{26}", note_id(original, 1))
    with pytest.raises(InvoiceError, match="sequence: 0 is not a whole number >= 1"):
        note_id(original, 0)


# --- lifecycle ---------------------------------------------------------------------------------------------


def test_a_draft_has_no_number_and_issuing_gives_it_one() -> None:
    drafted = two_meters()
    assert (drafted.state, drafted.number, drafted.issued_at) == ("draft", None, None)
    issued = issue(drafted, "HPO-2026-000123", ISSUED)
    assert (issued.state, issued.number, issued.issued_at) == ("issued", "HPO-2026-000123", ISSUED)
    assert issued.lines == drafted.lines and drafted.state == "draft"


def test_an_issued_invoice_cannot_be_issued_again_voided_or_recomputed() -> None:
    issued = issue(two_meters(), "INV-000001", ISSUED)
    attempts: list[tuple[str, Callable[[], Invoice]]] = [
        ("issue", lambda: issue(issued, "INV-000002", ISSUED)),
        ("void", lambda: void(issued)),
        ("recompute", lambda: recompute(issued, two_meters())),
    ]
    for action, attempt in attempts:
        with pytest.raises(InvoiceStateError) as caught:
            attempt()
        assert (caught.value.state, caught.value.action) == ("issued", action)
        assert f"is issued: cannot {action}" in str(caught.value)


def test_a_draft_can_be_voided_and_a_void_invoice_is_never_issued() -> None:
    voided = void(two_meters())
    assert voided.state == "void"
    with pytest.raises(InvoiceStateError, match=r"is void: cannot issue"):
        issue(voided, "INV-000001", ISSUED)


def test_a_draft_is_recomputed_by_the_same_invoice_only() -> None:
    current = two_meters()
    later = january_invoice(AssignmentBill("m1", "a1", D(1), office_bill(kwh_per_hour="2")))
    assert recompute(current, later).total == later.total
    settlement = draft(
        "acme", "c1", date(2026, 1, 1), date(2026, 1, 20), [], currency="EUR", computed_at=COMPUTED
    )
    with pytest.raises(InvoiceError, match="cannot replace"):
        recompute(current, settlement)


def test_issuing_needs_a_number_and_an_aware_moment() -> None:
    with pytest.raises(InvoiceError, match="number: an issued invoice needs a number"):
        issue(two_meters(), "", ISSUED)
    with pytest.raises(InvoiceError, match="at: naive datetime"):
        issue(two_meters(), "INV-000001", datetime(2026, 2, 3))


def test_an_invoice_refuses_unrounded_amounts_naive_moments_and_empty_periods() -> None:
    invoice = two_meters()
    with pytest.raises(InvoiceError, match=r"lines\[0\]\.amount: 9\.901 is not rounded to 0\.01"):
        replace(invoice, lines=(replace(invoice.lines[0], amount=D("9.901")),))
    with pytest.raises(InvoiceError, match="computed_at: naive datetime"):
        replace(invoice, computed_at=datetime(2026, 2, 1))
    with pytest.raises(InvoiceError, match="period_end: 2026-01-01 is not after period_start 2026-01-01"):
        replace(invoice, period_end=date(2026, 1, 1))
    with pytest.raises(InvoiceError, match="number: a draft invoice has no number"):
        replace(invoice, number="INV-000001")


# --- JSON --------------------------------------------------------------------------------------------------


def test_the_stored_json_keeps_money_as_exact_text_and_reads_back_equal() -> None:
    issued = issue(two_meters(), "INV-000001", ISSUED)
    body = issued.to_json()
    text = json.dumps(body, sort_keys=True)
    assert (body["total"], body["taxes"], body["lines"][1]["amount"], body["lines"][1]["rate"]) == (
        "370.39",
        "44.29",
        "223.20",
        "0.30",
    )
    assert body["lines"][1]["tariff"] == {"id": "office", "version": 1}
    assert (body["period_start"], body["period_end"], body["issued_at"]) == (
        "2026-01-01",
        "2026-02-01",
        "2026-02-03T00:30:00+01:00",
    )
    again = Invoice.from_json(json.loads(text))
    assert again == issued
    assert json.dumps(again.to_json(), sort_keys=True) == text  # byte for byte


def test_reading_a_body_with_a_bad_field_names_it() -> None:
    body = two_meters().to_json()
    body["lines"][2]["amount"] = 44.29
    with pytest.raises(InvoiceError, match=r"lines\[2\]\.amount: 44\.29 is not a decimal written as text"):
        Invoice.from_json(body)
    with pytest.raises(InvoiceError, match="schema: 2 is not a known invoice schema version"):
        Invoice.from_json({**two_meters().to_json(), "schema": 2})
    with pytest.raises(InvoiceError, match="currency: required field is missing"):
        Invoice.from_json({k: v for k, v in two_meters().to_json().items() if k != "currency"})


# --- demand history for ratchets ---------------------------------------------------------------------------

DEMAND = tariff(id="demand", demand={"flat": {"periods": [{"name": "flat", "tiers": [{"rate": "10"}]}]}})


def demand_invoice(month: int, peak_kwh_per_quarter: str, *, issued: bool = True) -> Invoice:
    start = date(2026, month, 1)
    period = BillPeriod(start, date(2026, month + 1, 1), BERLIN)
    usage = Usage(series=constant(datetime(2026, month, 1, tzinfo=BERLIN), 15, 4, peak_kwh_per_quarter))
    bills = [AssignmentBill("m1", "a1", D(1), bill) for bill in rate_monthly(DEMAND, period, usage)]
    drafted = draft("acme", "c1", start, period.end, bills, currency="EUR", computed_at=COMPUTED)
    return issue(drafted, f"INV-{month:06d}", ISSUED) if issued else drafted


def test_the_demand_history_is_each_months_peak_oldest_first_from_issued_invoices_before_a_day() -> None:
    january, february, march = demand_invoice(1, "5"), demand_invoice(2, "7"), demand_invoice(3, "6")
    # 5 kWh in a quarter hour is 20 kW
    assert january.demand_history == (DemandPeak("m1", date(2026, 1, 1), date(2026, 2, 1), D("5") * 4, "kW"),)
    history = demand_history_for([march, january, february], "m1", before=date(2026, 3, 1))
    assert history == (D("5") * 4, D("7") * 4)
    assert demand_history_for([january], "m2", before=date(2026, 3, 1)) == ()


def test_drafts_and_void_invoices_are_no_demand_history() -> None:
    drafts = [demand_invoice(1, "5", issued=False), void(demand_invoice(2, "7", issued=False))]
    assert demand_history_for(drafts, "m1", before=date(2026, 3, 1)) == ()
