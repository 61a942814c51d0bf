"""The e-invoice XML (Factur-X / EN 16931 CII): every generated document passes the official XSD and
schematron offline (tests/einvoice.py), and carries what utility bills need."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from lxml import etree

from meterbill.billing.invoice import AssignmentBill, Invoice, InvoiceLine, draft, issue
from meterbill.billing.notes import difference, note
from meterbill.billing_settings import BankAccount, Seller, SellerContact
from meterbill.documents.facturx import NSMAP, EInvoiceError, invoice_xml
from meterbill.documents.model import Buyer, CorrectedInvoice, InvoiceDocument, MeterDetail
from meterbill.documents.unece import REC20, UnitCodeError, rec20
from meterbill.domain import Address
from meterbill.tariffs.engine import BillPeriod, rate
from meterbill.tariffs.model import Tariff
from meterbill.usage import Usage
from tests.builders import BERLIN, D, constant, flat_energy, tariff
from tests.einvoice import validate

JAN_1 = datetime(2026, 1, 1, tzinfo=BERLIN)
JANUARY = BillPeriod(date(2026, 1, 1), date(2026, 2, 1), BERLIN)
COMPUTED = datetime.fromisoformat("2026-02-01T00:30+01:00")
ISSUED = datetime.fromisoformat("2026-02-03T00:30+01:00")
DISPUTED = datetime.fromisoformat("2026-05-12T10:00+02:00")
HOURS_IN_JANUARY = 31 * 24

# m1: 9.90 a month + 0.30/kWh, 19% VAT; m2: 0.25/kWh, 7% VAT.
OFFICE = tariff(
    id="office",
    fixed=[{"amount": "9.90"}],
    energy=flat_energy("0.30"),
    taxes=[{"name": "VAT", "percent": "19"}],
)
HALL = tariff(id="hall", energy=flat_energy("0.25"), taxes=[{"name": "VAT", "percent": "7"}])
UNTAXED = tariff(id="plain", energy=flat_energy("0.25"))

SELLER_DE = Seller(
    legal_name="Stadtwerke Musterstadt GmbH",
    address=Address(lines=("Hauptstraße 1",), postal_code="10115", city="Berlin", country="DE"),
    vat_id="DE123456789",
    registration="HRB 12345, Amtsgericht Charlottenburg",
    contact=SellerContact(
        name="Anna Abrechnung", email="rechnung@stadtwerke.example", phone="+49 30 1234567"
    ),
    bank_account=BankAccount(iban="DE89370400440532013000", bic="COBADEFFXXX"),
)
SELLER_FR = Seller(
    legal_name="Énergie Partagée SAS",
    address=Address(lines=("12 rue de la Paix",), postal_code="75002", city="Paris", country="FR"),
    vat_id="FR12345678901",
    bank_account=BankAccount(iban="FR1420041010050500013M02606"),
)
BUYER = Buyer(
    customer_id="c1",
    name="Łódź Café GmbH",
    address=Address(lines=("Torstraße 5", "Hinterhaus"), postal_code="10119", city="Berlin", country="DE"),
    vat_id="DE987654321",
    emails=("ap@cafe.example",),
)


def xpath(xml: bytes, path: str) -> list[str]:
    found = etree.fromstring(xml).xpath(path, namespaces=NSMAP)
    return [x if isinstance(x, str) else (x.text or "") for x in found]


def hourly(kwh_per_hour: str, hours: int = HOURS_IN_JANUARY) -> Usage:
    return Usage(series=constant(JAN_1, 60, hours, kwh_per_hour))


def invoice_of(*bills: tuple[str, Tariff, Usage], number: str = "INV-000001") -> Invoice:
    parts = [AssignmentBill(meter, f"a-{meter}", D(1), rate(t, JANUARY, usage)) for meter, t, usage in bills]
    drafted = draft(
        "acme", "c1", date(2026, 1, 1), date(2026, 2, 1), parts, currency="EUR", computed_at=COMPUTED
    )
    return issue(drafted, number, ISSUED)


def document(invoice: Invoice, **changes: Any) -> InvoiceDocument:
    fields: dict[str, Any] = {
        "invoice": invoice,
        "seller": SELLER_FR,
        "buyer": BUYER,
        "language": "en",
        "issue_date": date(2026, 2, 3),
        "due_date": date(2026, 2, 17),
        "meters": (
            MeterDetail("m1", "kWh", "electricity", location="Berlin office, cage 4"),
            MeterDetail("m2", "kWh", "electricity", location="Hall"),
        ),
    }
    return InvoiceDocument(**{**fields, **changes})


def assert_valid(xml: bytes) -> None:
    report = validate(xml)
    assert report.xsd == ()
    assert report.messages == {}


def test_an_invoice_passes_the_en16931_xsd_and_schematron() -> None:
    xml = invoice_xml(document(invoice_of(("m1", OFFICE, hourly("1")))))
    assert_valid(xml)
    assert xpath(xml, "//rsm:ExchangedDocument/ram:TypeCode") == ["380"]
    assert xpath(xml, "//rsm:ExchangedDocument/ram:ID") == ["INV-000001"]
    assert xpath(xml, "//ram:GuidelineSpecifiedDocumentContextParameter/ram:ID") == [
        "urn:cen.eu:en16931:2017"
    ]
    # 9.90 + 744 kWh x 0.30 = 233.10; VAT 233.10 x 19% = 44.289 -> 44.29
    assert xpath(xml, "//ram:SpecifiedTradeSettlementHeaderMonetarySummation/*") == [
        "233.10",
        "233.10",
        "44.29",
        str(D("233.10") + D("44.29")),
        str(D("233.10") + D("44.29")),
    ]
    # The service period per invoice (BG-14) and per line (BG-26) ends on its last day (31 January).
    assert xpath(
        xml, "//ram:ApplicableHeaderTradeSettlement/ram:BillingSpecifiedPeriod//udt:DateTimeString"
    ) == [
        "20260101",
        "20260131",
    ]
    assert xpath(
        xml, "//ram:IncludedSupplyChainTradeLineItem[1]//ram:BillingSpecifiedPeriod//udt:DateTimeString"
    ) == [
        "20260101",
        "20260131",
    ]
    assert xpath(xml, "//ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime/udt:DateTimeString") == [
        "20260217"
    ]
    assert xpath(xml, "//ram:SpecifiedTradePaymentTerms/ram:Description") == [
        "Payable within 14 days of the invoice date, by 2026-02-17"
    ]
    assert xpath(xml, "//ram:SpecifiedTradeSettlementPaymentMeans/ram:TypeCode") == ["58"]
    assert xpath(xml, "//ram:PayeePartyCreditorFinancialAccount/ram:IBANID") == [
        "FR1420041010050500013M02606"
    ]


def test_lines_carry_rec20_units_quantities_prices_and_the_meter() -> None:
    xml = invoice_xml(document(invoice_of(("m1", OFFICE, hourly("1")))))
    quantities = etree.fromstring(xml).xpath("//ram:BilledQuantity", namespaces=NSMAP)
    assert [(q.get("unitCode"), q.text) for q in quantities] == [("MON", "1"), ("KWH", "744")]
    assert xpath(xml, "//ram:NetPriceProductTradePrice/ram:ChargeAmount") == ["9.9", "0.3"]
    assert xpath(xml, "//ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount") == [
        "9.90",
        str(744 * D("0.30")),
    ]
    # BT-128: the meter as the line's object identifier, scheme UNTDID 1153 "MG" (meter unit number).
    assert xpath(
        xml, "//ram:SpecifiedLineTradeSettlement/ram:AdditionalReferencedDocument/ram:IssuerAssignedID"
    ) == [
        "m1",
        "m1",
    ]
    assert xpath(
        xml, "//ram:SpecifiedLineTradeSettlement/ram:AdditionalReferencedDocument/ram:ReferenceTypeCode"
    ) == [
        "MG",
        "MG",
    ]
    assert xpath(xml, "//ram:AssociatedDocumentLineDocument/ram:IncludedNote/ram:Content") == [
        "Meter m1 (Berlin office, cage 4)",
        "Meter m1 (Berlin office, cage 4)",
    ]


def test_two_meters_and_two_tax_rates_give_one_vat_breakdown_per_rate() -> None:
    invoice = invoice_of(("m1", OFFICE, hourly("1")), ("m2", HALL, hourly("0.5")))
    xml = invoice_xml(document(invoice))
    assert_valid(xml)
    taxes = etree.fromstring(xml).xpath(
        "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax", namespaces=NSMAP
    )
    breakdown = [
        tuple(
            t.findtext(f"ram:{name}", namespaces=NSMAP)
            for name in ("CategoryCode", "RateApplicablePercent", "BasisAmount", "CalculatedAmount")
        )
        for t in taxes
    ]
    assert breakdown == [
        ("S", "19", str(D("9.90") + 744 * D("0.30")), "44.29"),  # 233.10 x 19% = 44.289
        ("S", "7", str(372 * D("0.25")), "6.51"),  # 93.00 x 7% = 6.51
    ]
    assert xpath(
        xml, "//ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax/ram:RateApplicablePercent"
    ) == [
        "19",
        "19",
        "7",
    ]
    assert xpath(
        xml, "//ram:SpecifiedLineTradeSettlement/ram:AdditionalReferencedDocument/ram:IssuerAssignedID"
    ) == [
        "m1",
        "m1",
        "m2",
    ]
    assert xpath(xml, "//ram:GrandTotalAmount") == [str(invoice.total)]
    assert invoice.total == D("233.10") + D("44.29") + D("93.00") + D("6.51")


def test_a_german_invoice_carries_the_xrechnung_fields() -> None:
    buyer = replace(BUYER, buyer_reference="04011000-12345-67")
    xml = invoice_xml(
        document(invoice_of(("m1", OFFICE, hourly("1"))), seller=SELLER_DE, buyer=buyer, language="de")
    )
    assert_valid(xml)
    assert xpath(xml, "//ram:ApplicableHeaderTradeAgreement/ram:BuyerReference") == ["04011000-12345-67"]
    assert xpath(xml, "//ram:SellerTradeParty/ram:SpecifiedTaxRegistration/ram:ID[@schemeID='VA']") == [
        "DE123456789"
    ]
    assert xpath(xml, "//ram:SellerTradeParty/ram:DefinedTradeContact//text()[normalize-space()]") == [
        "Anna Abrechnung",
        "+49 30 1234567",
        "rechnung@stadtwerke.example",
    ]
    assert xpath(xml, "//ram:SellerTradeParty/ram:URIUniversalCommunication/ram:URIID[@schemeID='EM']") == [
        "rechnung@stadtwerke.example"
    ]
    assert xpath(xml, "//ram:SellerTradeParty/ram:SpecifiedLegalOrganization/ram:ID") == [
        "HRB 12345, Amtsgericht Charlottenburg"
    ]
    assert xpath(xml, "//ram:SpecifiedTradePaymentTerms/ram:Description") == [
        "Zahlbar innerhalb von 14 Tagen ab Rechnungsdatum, bis 17.02.2026"
    ]
    assert xpath(xml, "//ram:PayeeSpecifiedCreditorFinancialInstitution/ram:BICID") == ["COBADEFFXXX"]


def test_a_german_invoice_to_a_leitweg_buyer_needs_the_seller_contact() -> None:
    buyer = replace(BUYER, buyer_reference="04011000-12345-67")
    seller = SELLER_DE.model_copy(update={"contact": SellerContact(name="Anna Abrechnung")})
    with pytest.raises(EInvoiceError) as caught:
        invoice_xml(document(invoice_of(("m1", OFFICE, hourly("1"))), seller=seller, buyer=buyer))
    assert caught.value.field == "seller.contact.phone"


def test_a_german_invoice_to_a_leitweg_buyer_needs_the_buyers_email() -> None:
    buyer = replace(BUYER, buyer_reference="04011000-12345-67", emails=())
    with pytest.raises(EInvoiceError) as caught:
        invoice_xml(document(invoice_of(("m1", OFFICE, hourly("1"))), seller=SELLER_DE, buyer=buyer))
    assert caught.value.field == "buyer.emails"


def test_a_german_b2b_invoice_without_buyer_reference_is_plain_en16931() -> None:
    seller = SELLER_DE.model_copy(update={"contact": None})
    xml = invoice_xml(document(invoice_of(("m1", OFFICE, hourly("1"))), seller=seller))
    assert_valid(xml)
    assert xpath(xml, "//ram:BuyerReference") == []
    assert xpath(xml, "//ram:DefinedTradeContact") == []


def test_a_purchase_reference_that_is_no_leitweg_id_needs_no_xrechnung_fields() -> None:
    seller = SELLER_DE.model_copy(update={"contact": None})
    buyer = replace(BUYER, buyer_reference="PO-4711")
    xml = invoice_xml(document(invoice_of(("m1", OFFICE, hourly("1"))), seller=seller, buyer=buyer))
    assert_valid(xml)
    assert xpath(xml, "//ram:BuyerReference") == ["PO-4711"]


def credit_note_of(billed: Invoice, kwh_per_hour: str, number: str = "CN-000001") -> Invoice:
    rerated = invoice_of(("m1", OFFICE, hourly(kwh_per_hour)), number=number)
    diff = difference(billed, replace(rerated, state="draft", number=None, issued_at=None))
    assert diff is not None
    drafted = note(billed, diff, sequence=1, computed_at=DISPUTED, reason="Meter m1 re-read")
    return issue(drafted, number, DISPUTED)


def test_a_credit_note_is_381_with_positive_amounts_and_the_corrected_invoice() -> None:
    billed = invoice_of(("m1", OFFICE, hourly("1")))
    credit = credit_note_of(billed, "0.5")
    assert credit.kind == "credit_note"
    assert credit.total == D("-372") * D("0.30") + D("-21.20")  # -111.60 energy, VAT 111.60 x 19% = 21.204
    corrected = CorrectedInvoice("INV-000001", date(2026, 2, 3))
    xml = invoice_xml(
        document(credit, corrected=corrected, issue_date=date(2026, 5, 12), due_date=date(2026, 5, 26))
    )
    assert_valid(xml)
    assert xpath(xml, "//rsm:ExchangedDocument/ram:TypeCode") == ["381"]
    assert xpath(xml, "//ram:InvoiceReferencedDocument/ram:IssuerAssignedID") == ["INV-000001"]
    assert xpath(xml, "//ram:InvoiceReferencedDocument//qdt:DateTimeString") == ["20260203"]
    # The core's negative lines are positive in a 381: 372 kWh x 0.30 = 111.60, VAT 21.20.
    assert xpath(xml, "//ram:BilledQuantity") == ["372"]
    assert xpath(xml, "//ram:NetPriceProductTradePrice/ram:ChargeAmount") == ["0.3"]
    assert xpath(xml, "//ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount") == ["111.60"]
    assert xpath(xml, "//ram:TaxTotalAmount") == ["21.20"]
    assert xpath(xml, "//ram:GrandTotalAmount") == [str(-credit.total)]
    assert xpath(xml, "//rsm:ExchangedDocument/ram:IncludedNote/ram:Content") == [
        "Credit note on invoice INV-000001 of 2026-02-03",
        "Meter m1 re-read",
    ]
    assert (
        xpath(xml, "//ram:SpecifiedTradeSettlementPaymentMeans") == []
    )  # the seller does not collect a refund


def test_a_debit_note_is_380_referencing_the_invoice() -> None:
    billed = invoice_of(("m1", OFFICE, hourly("1")))
    debit = credit_note_of(billed, "1.5", number="CN-000002")
    assert debit.kind == "debit_note"
    corrected = CorrectedInvoice("INV-000001", date(2026, 2, 3))
    xml = invoice_xml(document(debit, corrected=corrected))
    assert_valid(xml)
    assert xpath(xml, "//rsm:ExchangedDocument/ram:TypeCode") == ["380"]
    assert xpath(xml, "//ram:InvoiceReferencedDocument/ram:IssuerAssignedID") == ["INV-000001"]
    assert xpath(xml, "//ram:LineTotalAmount")[0] == str(372 * D("0.30"))  # 111.60 more energy
    assert xpath(xml, "//ram:GrandTotalAmount") == [str(debit.total)]


def test_a_note_without_the_corrected_invoice_is_refused() -> None:
    credit = credit_note_of(invoice_of(("m1", OFFICE, hourly("1"))), "0.5")
    with pytest.raises(EInvoiceError) as caught:
        invoice_xml(document(credit))
    assert caught.value.field == "corrected"


def test_a_tampered_total_fires_br_co_15() -> None:
    xml = invoice_xml(document(invoice_of(("m1", OFFICE, hourly("1")))))
    tampered = re.sub(rb"<ram:GrandTotalAmount>[^<]*<", b"<ram:GrandTotalAmount>277.40<", xml)
    assert "BR-CO-15" in validate(tampered).failed


@pytest.mark.parametrize(
    ("pattern", "rule"),
    [
        (rb"<ram:Name>\xc3\x89nergie Partag\xc3\xa9e SAS</ram:Name>", "BR-06"),  # seller name
        (rb"<rsm:ExchangedDocument>\s*<ram:ID>INV-000001</ram:ID>", "BR-02"),  # invoice number
        (rb"<ram:InvoiceCurrencyCode>EUR</ram:InvoiceCurrencyCode>", "BR-05"),  # currency
    ],
)
def test_a_required_field_left_out_fires_its_rule(pattern: bytes, rule: str) -> None:
    xml = invoice_xml(document(invoice_of(("m1", OFFICE, hourly("1")))))
    replacement = b"<rsm:ExchangedDocument>" if rule == "BR-02" else b""
    broken, count = re.subn(pattern, replacement, xml)
    assert count == 1
    assert rule in validate(broken).failed


def test_an_untaxed_invoice_is_zero_rated_when_the_seller_has_a_vat_id() -> None:
    xml = invoice_xml(document(invoice_of(("m1", UNTAXED, hourly("1")))))
    assert_valid(xml)
    assert xpath(xml, "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/ram:CategoryCode") == [
        "Z"
    ]
    assert xpath(xml, "//ram:TaxTotalAmount") == ["0.00"]


def test_an_untaxed_invoice_of_a_seller_without_vat_id_is_not_subject_to_vat() -> None:
    seller = SELLER_FR.model_copy(update={"vat_id": None, "registration": "RCS Paris 123 456 789"})
    xml = invoice_xml(document(invoice_of(("m1", UNTAXED, hourly("1"))), seller=seller))
    assert_valid(xml)
    assert xpath(xml, "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/ram:CategoryCode") == [
        "O"
    ]
    assert xpath(xml, "//ram:BuyerTradeParty/ram:SpecifiedTaxRegistration") == []  # BR-O-2: no buyer VAT id


def test_a_seller_without_vat_id_or_registration_is_refused() -> None:
    seller = SELLER_FR.model_copy(update={"vat_id": None})
    with pytest.raises(EInvoiceError) as caught:
        invoice_xml(document(invoice_of(("m1", UNTAXED, hourly("1"))), seller=seller))
    assert caught.value.field == "seller.registration"


def test_vat_without_the_sellers_vat_id_or_tax_number_is_refused() -> None:
    seller = SELLER_FR.model_copy(update={"vat_id": None, "registration": "RCS Paris 123 456 789"})
    with pytest.raises(EInvoiceError) as caught:
        invoice_xml(document(invoice_of(("m1", OFFICE, hourly("1"))), seller=seller))
    assert caught.value.field == "seller.vat_id"


def test_a_tax_on_some_components_rates_only_those_lines() -> None:
    energy_only = tariff(
        id="energy-vat",
        fixed=[{"amount": "9.90"}],
        energy=flat_energy("0.30"),
        taxes=[{"name": "VAT", "percent": "19", "applies_to": ["energy"]}],
    )
    xml = invoice_xml(document(invoice_of(("m1", energy_only, hourly("1")))))
    assert_valid(xml)
    assert xpath(xml, "//ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax/ram:CategoryCode") == [
        "Z",
        "S",
    ]
    assert xpath(xml, "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/ram:BasisAmount") == [
        str(744 * D("0.30")),  # S 19%: 223.20
        "9.90",  # Z
    ]
    assert xpath(xml, "//ram:TaxTotalAmount") == ["42.41"]  # 223.20 x 19% = 42.408


def test_two_taxes_on_the_same_lines_add_up_to_one_rate() -> None:
    two = tariff(
        id="two-taxes",
        energy=flat_energy("0.25"),
        taxes=[{"name": "State tax", "percent": "6"}, {"name": "City tax", "percent": "2"}],
    )
    xml = invoice_xml(document(invoice_of(("m1", two, hourly("1")))))
    assert_valid(xml)
    assert xpath(
        xml, "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/ram:RateApplicablePercent"
    ) == ["8"]
    # 186.00 x 6% = 11.16 and 186.00 x 2% = 3.72, the engine's own amounts
    assert xpath(xml, "//ram:TaxTotalAmount") == [str(D("11.16") + D("3.72"))]


def test_a_discount_is_a_negative_line_of_one_unit() -> None:
    discounted = tariff(
        id="discounted",
        energy=flat_energy("0.30"),
        adjustments=[{"kind": "discount", "description": "Loyalty", "percent": "10"}],
        taxes=[{"name": "VAT", "percent": "19"}],
    )
    xml = invoice_xml(document(invoice_of(("m1", discounted, hourly("1")))))
    assert_valid(xml)
    quantities = etree.fromstring(xml).xpath("//ram:BilledQuantity", namespaces=NSMAP)
    assert [(q.get("unitCode"), q.text) for q in quantities] == [("KWH", "744"), ("C62", "-1")]
    assert xpath(xml, "//ram:NetPriceProductTradePrice/ram:ChargeAmount") == ["0.3", "22.32"]  # 223.20 x 10%
    assert xpath(xml, "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/ram:BasisAmount") == [
        str(D("223.20") - D("22.32"))
    ]


@pytest.mark.parametrize(
    ("unit", "code"),
    [("kWh", "KWH"), ("kW", "KWT"), ("m3", "MTQ"), ("h", "HUR"), ("MWh", "MWH"), ("Wh", "WHR"),
     ("L", "LTR"), ("GJ", "GV"), ("MJ", "3B"), ("s", "SEC"), ("kVArh", "K3"), ("therm", "N72"),
     ("gal", "GLL"), ("month", "MON")],
)  # fmt: skip
def test_units_map_to_their_rec20_codes(unit: str, code: str) -> None:
    assert rec20(unit) == code


def test_every_rec20_code_is_in_the_list_the_schematron_checks() -> None:
    import facturx

    from tests.einvoice import _FX_DIR

    codedb = etree.parse(str(_FX_DIR / "FACTUR-X_EN16931_codedb.xml"))
    allowed = set(codedb.xpath("/codedb/cl[@id=8]/enumeration/@value"))
    assert facturx is not None
    assert set(REC20.values()) - allowed == set()


def test_a_unit_without_a_rec20_code_is_refused_naming_the_line() -> None:
    with pytest.raises(UnitCodeError):
        rec20("VArh")
    invoice = invoice_of(("m1", OFFICE, hourly("1")))
    odd = replace(invoice.lines[1], unit="VArh")
    with pytest.raises(EInvoiceError) as caught:
        invoice_xml(document(replace(invoice, lines=(invoice.lines[0], odd, *invoice.lines[2:]))))
    assert caught.value.field == "lines[1].unit"
    assert "'VArh' has no UN/ECE Rec 20 code" in caught.value.reason


def test_a_draft_has_no_einvoice() -> None:
    drafted = replace(invoice_of(("m1", OFFICE, hourly("1"))), state="draft", number=None, issued_at=None)
    with pytest.raises(EInvoiceError) as caught:
        invoice_xml(document(drafted))
    assert (caught.value.field, caught.value.reason) == (
        "state",
        f"invoice {drafted.id!r} is draft: only an issued one has one",
    )


def test_a_buyer_without_address_is_refused() -> None:
    with pytest.raises(EInvoiceError) as caught:
        invoice_xml(document(invoice_of(("m1", OFFICE, hourly("1"))), buyer=replace(BUYER, address=None)))
    assert caught.value.field == "buyer.address"


def test_a_line_whose_amount_is_not_quantity_times_rate_carries_its_own_price() -> None:
    invoice = invoice_of(("m1", OFFICE, hourly("1")))
    minimum = InvoiceLine(
        "m1", "a-m1", date(2026, 1, 1), date(2026, 2, 1), "minimum", "Minimum charge 250.00 (charges 233.10)",
        D(1), "bill", D("250.00"), D("16.90"), tariff_id="office",
    )  # fmt: skip
    xml = invoice_xml(document(replace(invoice, lines=(*invoice.lines[:2], minimum))))
    assert xpath(xml, "//ram:NetPriceProductTradePrice/ram:ChargeAmount")[2] == "16.9"
    assert xpath(xml, "//ram:BilledQuantity")[2] == "1"


def test_the_xml_is_utf8_with_the_buyers_name_intact() -> None:
    xml = invoice_xml(document(invoice_of(("m1", OFFICE, hourly("1")))))
    assert xml.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    assert xpath(xml, "//ram:BuyerTradeParty/ram:Name") == ["Łódź Café GmbH"]
    assert xpath(xml, "//ram:BuyerTradeParty/ram:PostalTradeAddress/*") == [
        "10119",
        "Torstraße 5",
        "Hinterhaus",
        "Berlin",
        "DE",
    ]
    assert Decimal(xpath(xml, "//ram:DuePayableAmount")[0]) == invoice_of(("m1", OFFICE, hourly("1"))).total


def test_the_documented_tariff_with_every_component_gives_a_valid_einvoice() -> None:
    import json
    from pathlib import Path

    from tests.unit.test_docs import json_blocks

    (block,) = json_blocks((Path(__file__).parents[2] / "docs" / "tariffs.md").read_text(encoding="utf-8"))
    every = Tariff.model_validate(json.loads(block, parse_float=Decimal))
    june = BillPeriod(date(2026, 6, 1), date(2026, 7, 1), BERLIN)
    usage = Usage(series=constant(datetime(2026, 6, 1, tzinfo=BERLIN), 60, 720, "2"))
    bill = rate(every, june, usage, attributes={"small_customer": False}, demand_history=[Decimal("10")])
    parts = [AssignmentBill("m1", "a-m1", D(1), bill)]
    invoice = issue(
        draft("acme", "c1", june.start, june.end, parts, currency="EUR", computed_at=COMPUTED),
        "INV-7",
        ISSUED,
    )
    xml = invoice_xml(document(invoice))
    assert_valid(xml)
    codes = [q.get("unitCode") for q in etree.fromstring(xml).xpath("//ram:BilledQuantity", namespaces=NSMAP)]
    assert codes == ["MON", "DAY", "KWH", "KWH", "KWT", "C62", "C62"]  # surcharge and discount: one amount
    assert xpath(xml, "//ram:GrandTotalAmount") == [str(invoice.total)]
    assert xpath(xml, "//ram:TaxTotalAmount") == [str(invoice.taxes)]


def test_a_note_whose_tax_changed_its_rate_is_refused_naming_the_line() -> None:
    billed = invoice_of(("m1", OFFICE, hourly("1")))
    dearer_vat = tariff(
        id="office",
        fixed=[{"amount": "9.90"}],
        energy=flat_energy("0.30"),
        taxes=[{"name": "VAT", "percent": "16"}],
    )
    rerated = replace(invoice_of(("m1", dearer_vat, hourly("1"))), state="draft", number=None, issued_at=None)
    diff = difference(billed, rerated)
    assert diff is not None
    credit = issue(note(billed, diff, sequence=1, computed_at=DISPUTED), "CN-000001", DISPUTED)
    tax_index = next(i for i, line in enumerate(credit.lines) if line.component == "tax")
    with pytest.raises(EInvoiceError) as caught:
        invoice_xml(document(credit, corrected=CorrectedInvoice("INV-000001", date(2026, 2, 3))))
    assert caught.value.field == f"lines[{tax_index}].rate"


def test_a_price_change_credit_note_carries_its_line_as_one_amount() -> None:
    billed = invoice_of(("m1", OFFICE, hourly("1")))
    cheaper = tariff(
        id="office",
        fixed=[{"amount": "9.90"}],
        energy=flat_energy("0.25"),
        taxes=[{"name": "VAT", "percent": "19"}],
    )
    rerated = replace(invoice_of(("m1", cheaper, hourly("1"))), state="draft", number=None, issued_at=None)
    diff = difference(billed, rerated)
    assert diff is not None
    credit = issue(note(billed, diff, sequence=1, computed_at=DISPUTED), "CN-000001", DISPUTED)
    xml = invoice_xml(document(credit, corrected=CorrectedInvoice("INV-000001", date(2026, 2, 3))))
    assert_valid(xml)
    quantities = etree.fromstring(xml).xpath("//ram:BilledQuantity", namespaces=NSMAP)
    assert [(q.get("unitCode"), q.text) for q in quantities] == [("C62", "1")]
    assert xpath(xml, "//ram:NetPriceProductTradePrice/ram:ChargeAmount") == ["37.2"]  # 744 kWh x 0.05 less
    assert xpath(xml, "//ram:AssociatedDocumentLineDocument/ram:IncludedNote/ram:Content") == [
        "Meter m1 (Berlin office, cage 4); Quantity 0 kWh"
    ]
    assert xpath(xml, "//ram:TaxTotalAmount") == ["7.07"]  # 44.29 - 37.22 (223.20 and 186.00 at 19%)
