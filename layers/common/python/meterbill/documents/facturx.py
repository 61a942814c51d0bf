"""The e-invoice of an invoice document: Factur-X / ZUGFeRD CII XML in the EN 16931 profile.

``invoice_xml(doc)`` renders the XML embedded in the invoice PDF as ``factur-x.xml`` (and answered by
``GET /v1/invoices/{id}/xml``) from the same ``InvoiceDocument`` the PDF is drawn from. The mapping, term by
term, is in docs/einvoice.md; the choices a reader would otherwise have to guess:

- Type code (BT-3): an invoice and a debit note are 380 (a debit note names the invoice it adds to in BG-3;
  383 is not allowed in XRechnung), a credit note is 381 with BG-3 (never 383).
- Signs: a credit note's lines are negative in meterbill and positive in a 381, so every quantity and
  amount of a credit note is negated. Prices (BT-146) are never negative: a line whose rate is negative
  carries the sign on its quantity.
- Dates: meterbill periods end exclusive, EN 16931 periods (BG-14, BG-26) end on their last day.
- Meter: each line carries its meter as the invoice line object identifier (BT-128, which EN 16931 defines
  for "a subscription number, telephone number, meter point etc.") and in a line note (BT-127) with the
  meter's location.
- Taxes: the engine's tax lines (component ``tax``: quantity = the base, rate = percent / 100) become the
  VAT rate of the lines they were levied on (found per bill by their base) and the VAT breakdown (BG-23),
  whose tax amounts are the engine's own (so the XML's total is the invoice's). EN 16931 has one rate per
  line: taxes levied on the same line add up to one rate. Lines no tax applies to are zero rated (Z), or
  not subject to VAT (O) when the seller has neither VAT id nor tax number and nothing on the invoice is
  taxed.
- German sellers: the buyer reference (BT-10) is the customer's (a Leitweg-ID or a purchase reference).
  The profile stays EN 16931 (BT-24 ``urn:cen.eu:en16931:2017``, the Factur-X identifier; an XRechnung
  identifier fails the Factur-X schematron). A German invoice to a buyer whose reference is a Leitweg-ID
  (a public buyer) is refused unless the seller has a VAT id or tax number, a contact with name, phone and
  email, a bank account, and the customer an email (BT-49): what XRechnung requires (BR-DE-1, 2, 5, 6, 7,
  16; BT-34 and BT-49 since XRechnung 3). Without a Leitweg-ID it is a plain EN 16931 (B2B) invoice and
  nothing more is required.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from itertools import combinations
from typing import Final

from lxml import etree  # type: ignore[import-untyped]  # no stubs; installed with factur-x

from meterbill.billing.invoice import InvoiceLine
from meterbill.billing_settings import Seller
from meterbill.documents.model import Buyer, InvoiceDocument, MeterDetail
from meterbill.documents.unece import ONE, UnitCodeError, rec20
from meterbill.domain import Address
from meterbill.money import quantum

RSM: Final = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM: Final = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
QDT: Final = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
UDT: Final = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
NSMAP: Final = {"rsm": RSM, "ram": RAM, "qdt": QDT, "udt": UDT}
EN16931: Final = "urn:cen.eu:en16931:2017"  # BT-24 of the Factur-X EN 16931 profile
TYPE_CODES: Final = {"invoice": "380", "credit_note": "381", "debit_note": "380"}
SEPA_CREDIT_TRANSFER: Final = "58"
CREDIT_TRANSFER: Final = "30"
NOT_SUBJECT_REASON: Final = "Not subject to VAT"
METER_UNIT_NUMBER: Final = "MG"  # UNTDID 1153 "Meter unit number": the scheme of BT-128
CENT: Final = Decimal("0.01")
# A Leitweg-ID (the German public buyer's routing id): coarse address of 2-12 digits, an optional fine
# address of up to 30 letters or digits, 2 check digits, joined by "-" (KoSIT, Leitweg-ID format 2.0.2).
LEITWEG_ID: Final = re.compile(r"^[0-9]{2,12}(-[0-9A-Za-z]{1,30})?-[0-9]{2}$")
MAX_PRICE_PLACES: Final = 8


class EInvoiceError(ValueError):
    """A document that cannot be an EN 16931 e-invoice; ``field`` names the part at fault."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class _Item:
    """One invoice line as the XML carries it (signs already those of the document type)."""

    line: InvoiceLine
    quantity: Decimal
    unit_code: str
    price: Decimal
    amount: Decimal
    category: str
    percent: Decimal
    note: str | None


def invoice_xml(doc: InvoiceDocument) -> bytes:
    """The Factur-X EN 16931 CII XML of an issued invoice, credit note or debit note (UTF-8 bytes)."""
    invoice = doc.invoice
    if invoice.number is None or invoice.issued_at is None:
        raise EInvoiceError("state", f"invoice {invoice.id!r} is {invoice.state}: only an issued one has one")
    if invoice.kind != "invoice" and doc.corrected is None:
        raise EInvoiceError("corrected", "a credit or debit note names the invoice it corrects (BG-3)")
    if doc.buyer.address is None:
        raise EInvoiceError(
            "buyer.address",
            "an e-invoice needs the buyer's postal address (EN 16931 BR-10): set the customer's",
        )
    _require_two_decimals(invoice.currency)
    sign = Decimal(-1) if invoice.kind == "credit_note" else Decimal(1)
    items, taxes = _items(doc, sign)
    taxed = any(item.category == "S" for item in items)
    seller = doc.seller
    if taxed and seller.vat_id is None and seller.tax_number is None:
        raise EInvoiceError(
            "seller.vat_id", "an invoice with VAT names the seller's VAT id or tax number (EN 16931 BR-S-02)"
        )
    if seller.vat_id is None and seller.registration is None:
        raise EInvoiceError(
            "seller.registration",
            "a seller without a VAT id is identified by its legal registration (EN 16931 BR-CO-26)",
        )
    _check_german_public_buyer(doc)

    root = etree.Element(_q(RSM, "CrossIndustryInvoice"), nsmap=NSMAP)
    context = _sub(root, RSM, "ExchangedDocumentContext")
    _text(_sub(context, RAM, "GuidelineSpecifiedDocumentContextParameter"), RAM, "ID", EN16931)
    header = _sub(root, RSM, "ExchangedDocument")
    _text(header, RAM, "ID", invoice.number)
    _text(header, RAM, "TypeCode", TYPE_CODES[invoice.kind])
    _date(_sub(header, RAM, "IssueDateTime"), doc.issue_date)
    for note in _notes(doc):
        _text(_sub(header, RAM, "IncludedNote"), RAM, "Content", note)

    transaction = _sub(root, RSM, "SupplyChainTradeTransaction")
    for number, item in enumerate(items, start=1):
        _line(transaction, number, item, invoice.currency)

    agreement = _sub(transaction, RAM, "ApplicableHeaderTradeAgreement")
    if doc.buyer.buyer_reference:
        _text(agreement, RAM, "BuyerReference", doc.buyer.buyer_reference)
    _seller(_sub(agreement, RAM, "SellerTradeParty"), seller)
    not_subject = any(item.category == "O" for item in items)
    _buyer(_sub(agreement, RAM, "BuyerTradeParty"), doc.buyer, vat_id=not not_subject)

    delivery = _sub(transaction, RAM, "ApplicableHeaderTradeDelivery")
    _date(
        _sub(_sub(delivery, RAM, "ActualDeliverySupplyChainEvent"), RAM, "OccurrenceDateTime"),
        _last_day(invoice.period_end),
    )

    settlement = _sub(transaction, RAM, "ApplicableHeaderTradeSettlement")
    _text(settlement, RAM, "PaymentReference", invoice.number)
    _text(settlement, RAM, "InvoiceCurrencyCode", invoice.currency)
    if seller.bank_account is not None and invoice.kind != "credit_note":
        means = _sub(settlement, RAM, "SpecifiedTradeSettlementPaymentMeans")
        code = SEPA_CREDIT_TRANSFER if invoice.currency == "EUR" else CREDIT_TRANSFER
        _text(means, RAM, "TypeCode", code)
        account = _sub(means, RAM, "PayeePartyCreditorFinancialAccount")
        _text(account, RAM, "IBANID", seller.bank_account.iban)
        if seller.bank_account.account_name:
            _text(account, RAM, "AccountName", seller.bank_account.account_name)
        if seller.bank_account.bic:
            _text(
                _sub(means, RAM, "PayeeSpecifiedCreditorFinancialInstitution"),
                RAM,
                "BICID",
                seller.bank_account.bic,
            )
    for (category, percent), (basis, amount) in sorted(taxes.items(), key=_highest_rate_first):
        tax = _sub(settlement, RAM, "ApplicableTradeTax")
        _text(tax, RAM, "CalculatedAmount", _money(amount))
        _text(tax, RAM, "TypeCode", "VAT")
        if category == "O":
            _text(tax, RAM, "ExemptionReason", NOT_SUBJECT_REASON)
        _text(tax, RAM, "BasisAmount", _money(basis))
        _text(tax, RAM, "CategoryCode", category)
        if category != "O":
            _text(tax, RAM, "RateApplicablePercent", _number(percent))
    _period(_sub(settlement, RAM, "BillingSpecifiedPeriod"), invoice.period_start, invoice.period_end)
    terms = _sub(settlement, RAM, "SpecifiedTradePaymentTerms")
    _text(terms, RAM, "Description", _payment_terms(doc))
    _date(_sub(terms, RAM, "DueDateDateTime"), doc.due_date)

    line_total = sum((item.amount for item in items), Decimal(0))
    tax_total = sum((amount for _, amount in taxes.values()), Decimal(0))
    summation = _sub(settlement, RAM, "SpecifiedTradeSettlementHeaderMonetarySummation")
    _text(summation, RAM, "LineTotalAmount", _money(line_total))
    _text(summation, RAM, "TaxBasisTotalAmount", _money(line_total))
    _text(summation, RAM, "TaxTotalAmount", _money(tax_total)).set("currencyID", invoice.currency)
    _text(summation, RAM, "GrandTotalAmount", _money(line_total + tax_total))
    _text(summation, RAM, "DuePayableAmount", _money(line_total + tax_total))
    if doc.corrected is not None:
        reference = _sub(settlement, RAM, "InvoiceReferencedDocument")
        _text(reference, RAM, "IssuerAssignedID", doc.corrected.number)
        formatted = _sub(reference, RAM, "FormattedIssueDateTime")
        _text(formatted, QDT, "DateTimeString", doc.corrected.issue_date.strftime("%Y%m%d")).set(
            "format", "102"
        )
    xml: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return xml


# --- lines and taxes ---------------------------------------------------------------------------------------

BillKey = tuple[str | None, str | None, date, date, str | None]


def _bill_key(line: InvoiceLine) -> BillKey:
    """The bill a line came from: one assignment's meter over one span under one tariff."""
    return (line.meter_id, line.assignment_id, line.start, line.end, line.tariff_id)


def _items(
    doc: InvoiceDocument, sign: Decimal
) -> tuple[list[_Item], dict[tuple[str, Decimal], tuple[Decimal, Decimal]]]:
    """The XML's lines and its VAT breakdown: (category, percent) -> (basis, tax amount)."""
    invoice = doc.invoice
    charges = [(i, line) for i, line in enumerate(invoice.lines) if line.component != "tax"]
    percent: dict[int, Decimal] = {i: Decimal(0) for i, _ in charges}
    levied: list[tuple[InvoiceLine, int, list[int]]] = []  # (tax line, its index, the lines it was levied on)
    by_bill: dict[BillKey, list[int]] = {}
    for i, line in charges:
        by_bill.setdefault(_bill_key(line), []).append(i)
    for t, tax in enumerate(invoice.lines):
        if tax.component != "tax":
            continue
        if tax.rate is None:
            raise EInvoiceError(
                f"lines[{t}].rate",
                f"tax {tax.description!r} changed its rate between the invoice and this note; an e-invoice "
                "carries one rate per tax",
            )
        covered = _levied_on(invoice.lines, by_bill.get(_bill_key(tax), []), tax.quantity)
        if covered is None:
            raise EInvoiceError(
                f"lines[{t}].quantity",
                f"tax {tax.description!r} has base {tax.quantity}, which no set of its bill's components "
                "adds up to",
            )
        for i in covered:
            percent[i] += tax.rate * 100
        levied.append((tax, t, covered))

    nothing_taxed = all(p == 0 for p in percent.values())
    no_tax_id = doc.seller.vat_id is None and doc.seller.tax_number is None
    untaxed = "O" if nothing_taxed and no_tax_id else "Z"
    meters = {meter.meter_id: meter for meter in doc.meters}
    items: list[_Item] = []
    category_of: dict[int, tuple[str, Decimal]] = {}
    for i, line in charges:
        rate = percent[i].normalize()
        key = ("S", rate) if rate > 0 else (untaxed, Decimal(0))
        category_of[i] = key
        items.append(_item(line, i, sign, key, meters, invoice.currency))

    breakdown: dict[tuple[str, Decimal], tuple[Decimal, Decimal]] = {}
    for item, (i, _) in zip(items, charges, strict=True):
        basis, amount = breakdown.get(category_of[i], (Decimal(0), Decimal(0)))
        breakdown[category_of[i]] = (basis + item.amount, amount)
    for tax, _, covered in levied:
        for key, share in _allocate(
            tax.amount * sign, [(category_of[i], invoice.lines[i].amount) for i in covered]
        ):
            basis, amount = breakdown.get(key, (Decimal(0), Decimal(0)))
            breakdown[key] = (basis, amount + share)
    return items, breakdown


def _highest_rate_first(
    entry: tuple[tuple[str, Decimal], tuple[Decimal, Decimal]],
) -> tuple[bool, Decimal, str]:
    (category, percent), _ = entry
    return category != "S", -percent, category


def _levied_on(lines: Sequence[InvoiceLine], bill: list[int], base: Decimal) -> list[int] | None:
    """The lines of one bill a tax with this base was levied on: the components whose amounts add up to
    the base, preferring more components (a tax applies to every charge unless its tariff says otherwise)."""
    components = list(dict.fromkeys(lines[i].component for i in bill))
    sums = {
        c: sum((lines[i].amount for i in bill if lines[i].component == c), Decimal(0)) for c in components
    }
    for size in range(len(components), -1, -1):
        for chosen in combinations(components, size):
            if sum((sums[c] for c in chosen), Decimal(0)) == base:
                return [i for i in bill if lines[i].component in chosen]
    return None


def _allocate(
    amount: Decimal, parts: list[tuple[tuple[str, Decimal], Decimal]]
) -> Iterator[tuple[tuple[str, Decimal], Decimal]]:
    """A tax amount split over the VAT categories of the lines it was levied on, by their amounts, to the
    cent, the last taking the remainder (one category, the usual case: all of it)."""
    bases: dict[tuple[str, Decimal], Decimal] = {}
    for key, base in parts:
        bases[key] = bases.get(key, Decimal(0)) + base
    if not bases:
        return
    keys = sorted(bases)
    total = sum(bases.values(), Decimal(0))
    left = amount
    for key in keys[:-1]:
        share = (amount * bases[key] / total).quantize(CENT) if total else Decimal(0)
        left -= share
        yield key, share
    yield keys[-1], left


def _item(
    line: InvoiceLine,
    index: int,
    sign: Decimal,
    tax: tuple[str, Decimal],
    meters: Mapping[str, MeterDetail],
    currency: str,
) -> _Item:
    amount, quantity = line.amount * sign, line.quantity * sign
    notes: list[str] = []
    if line.meter_id is not None:
        meter = meters.get(line.meter_id)
        location = meter.location if meter is not None else None
        notes.append(f"Meter {line.meter_id}" + (f" ({location})" if location else ""))
    if line.unit == currency:
        code = None  # a percentage of an amount (a discount, a surcharge): carried as one amount
    else:
        try:
            code = rec20(line.unit)
        except UnitCodeError as err:
            raise EInvoiceError(f"lines[{index}].unit", err.reason) from None
    shape = _quantity_and_price(quantity, line.rate, amount, code, quantum(currency))
    if shape is None:
        shape = (Decimal(1) if amount >= 0 else Decimal(-1), ONE, abs(amount))
        if code is not None:
            notes.append(f"Quantity {_number(quantity)} {line.unit}")
    return _Item(line, *shape, amount, *tax, "; ".join(notes) or None)


def _quantity_and_price(
    quantity: Decimal, rate: Decimal | None, amount: Decimal, code: str | None, cent: Decimal
) -> tuple[Decimal, str, Decimal] | None:
    """Quantity, unit code and a non-negative price (BR-27) whose product is the amount; None when there
    is none (then the line is carried as one unit of its amount)."""
    if code is None:
        return None
    if rate is not None and abs(quantity * rate - amount) <= cent:
        return (quantity, code, rate) if rate >= 0 else (-quantity, code, -rate)
    if quantity != 0:
        price = (amount / quantity).normalize()
        exponent = price.as_tuple().exponent
        if isinstance(exponent, int) and -exponent <= MAX_PRICE_PLACES and price * quantity == amount:
            return (quantity, code, price) if price >= 0 else (-quantity, code, -price)
    return None


def _line(transaction: etree._Element, number: int, item: _Item, currency: str) -> None:
    line = item.line
    element = _sub(transaction, RAM, "IncludedSupplyChainTradeLineItem")
    document = _sub(element, RAM, "AssociatedDocumentLineDocument")
    _text(document, RAM, "LineID", str(number))
    if item.note:
        _text(_sub(document, RAM, "IncludedNote"), RAM, "Content", item.note)
    product = _sub(element, RAM, "SpecifiedTradeProduct")
    _text(product, RAM, "SellerAssignedID", line.component)
    _text(product, RAM, "Name", line.description)
    agreement = _sub(element, RAM, "SpecifiedLineTradeAgreement")
    _text(_sub(agreement, RAM, "NetPriceProductTradePrice"), RAM, "ChargeAmount", _number(item.price))
    delivery = _sub(element, RAM, "SpecifiedLineTradeDelivery")
    _text(delivery, RAM, "BilledQuantity", _number(item.quantity)).set("unitCode", item.unit_code)
    settlement = _sub(element, RAM, "SpecifiedLineTradeSettlement")
    tax = _sub(settlement, RAM, "ApplicableTradeTax")
    _text(tax, RAM, "TypeCode", "VAT")
    _text(tax, RAM, "CategoryCode", item.category)
    if item.category != "O":
        _text(tax, RAM, "RateApplicablePercent", _number(item.percent))
    _period(_sub(settlement, RAM, "BillingSpecifiedPeriod"), line.start, line.end)
    _text(
        _sub(settlement, RAM, "SpecifiedTradeSettlementLineMonetarySummation"),
        RAM,
        "LineTotalAmount",
        _money(item.amount),
    )
    if line.meter_id is not None:
        reference = _sub(settlement, RAM, "AdditionalReferencedDocument")
        _text(reference, RAM, "IssuerAssignedID", line.meter_id)
        _text(reference, RAM, "TypeCode", "130")  # BT-128: the invoiced object, here the meter
        _text(reference, RAM, "ReferenceTypeCode", METER_UNIT_NUMBER)


# --- parties -----------------------------------------------------------------------------------------------


def _seller(party: etree._Element, seller: Seller) -> None:
    _text(party, RAM, "Name", seller.legal_name)
    if seller.registration or seller.trading_name:
        organization = _sub(party, RAM, "SpecifiedLegalOrganization")
        if seller.registration:
            _text(
                organization, RAM, "ID", seller.registration
            )  # BT-30, e.g. "HRB 12345, Amtsgericht München"
        if seller.trading_name:
            _text(organization, RAM, "TradingBusinessName", seller.trading_name)
    contact = seller.contact
    if contact is not None and (contact.name or contact.phone or contact.email):
        element = _sub(party, RAM, "DefinedTradeContact")
        if contact.name:
            _text(element, RAM, "PersonName", contact.name)
        if contact.phone:
            _text(_sub(element, RAM, "TelephoneUniversalCommunication"), RAM, "CompleteNumber", contact.phone)
        if contact.email:
            _text(_sub(element, RAM, "EmailURIUniversalCommunication"), RAM, "URIID", contact.email)
    _address(_sub(party, RAM, "PostalTradeAddress"), seller.address)
    if contact is not None and contact.email:
        _text(_sub(party, RAM, "URIUniversalCommunication"), RAM, "URIID", contact.email).set(
            "schemeID", "EM"
        )
    if seller.tax_number:
        _text(_sub(party, RAM, "SpecifiedTaxRegistration"), RAM, "ID", seller.tax_number).set(
            "schemeID", "FC"
        )
    if seller.vat_id:
        _text(_sub(party, RAM, "SpecifiedTaxRegistration"), RAM, "ID", seller.vat_id).set("schemeID", "VA")


def _buyer(party: etree._Element, buyer: Buyer, *, vat_id: bool) -> None:
    _text(party, RAM, "ID", buyer.customer_id)
    _text(party, RAM, "Name", buyer.name)
    assert buyer.address is not None
    _address(_sub(party, RAM, "PostalTradeAddress"), buyer.address)
    if buyer.emails:
        _text(_sub(party, RAM, "URIUniversalCommunication"), RAM, "URIID", buyer.emails[0]).set(
            "schemeID", "EM"
        )
    if buyer.vat_id and vat_id:
        _text(_sub(party, RAM, "SpecifiedTaxRegistration"), RAM, "ID", buyer.vat_id).set("schemeID", "VA")


def _address(element: etree._Element, address: Address) -> None:
    if address.postal_code:
        _text(element, RAM, "PostcodeCode", address.postal_code)
    lines = list(address.lines[:2]) + ([", ".join(address.lines[2:])] if len(address.lines) > 2 else [])
    for name, text in zip(("LineOne", "LineTwo", "LineThree"), lines, strict=False):
        _text(element, RAM, name, text)
    _text(element, RAM, "CityName", address.city)
    _text(element, RAM, "CountryID", address.country)


def _check_german_public_buyer(doc: InvoiceDocument) -> None:
    """A German seller invoicing a buyer that gave a reference (a public buyer's Leitweg-ID): what
    XRechnung adds to EN 16931, or an error naming the missing setting."""
    seller = doc.seller
    if seller.address.country != "DE" or not LEITWEG_ID.match(doc.buyer.buyer_reference or ""):
        return
    contact = seller.contact
    missing = [
        name
        for name, value in (
            ("seller.contact.name", contact and contact.name),
            ("seller.contact.phone", contact and contact.phone),
            ("seller.contact.email", contact and contact.email),
        )
        if not value
    ]
    if missing:
        raise EInvoiceError(
            missing[0],
            "a German invoice to a buyer with a Leitweg-ID (XRechnung) names the seller's contact with name, "
            "phone and email (BR-DE-2, 5, 6, 7)",
        )
    if seller.vat_id is None and seller.tax_number is None:
        raise EInvoiceError("seller.vat_id", "XRechnung needs the seller's VAT id or tax number (BR-DE-16)")
    if seller.bank_account is None and doc.invoice.kind != "credit_note":
        raise EInvoiceError("seller.bank_account", "XRechnung needs the payment instructions (BR-DE-1)")
    if not doc.buyer.emails:
        raise EInvoiceError(
            "buyer.emails",
            "XRechnung 3 needs the buyer's electronic address (BT-49): give the customer an email",
        )


# --- texts -------------------------------------------------------------------------------------------------


def _notes(doc: InvoiceDocument) -> list[str]:
    invoice, corrected = doc.invoice, doc.corrected
    notes = []
    if corrected is not None:
        if doc.language == "de":
            what = "Gutschrift" if invoice.kind == "credit_note" else "Nachbelastung"
            notes.append(f"{what} zur Rechnung {corrected.number} vom {corrected.issue_date:%d.%m.%Y}")
        else:
            what = "Credit note" if invoice.kind == "credit_note" else "Debit note"
            notes.append(f"{what} on invoice {corrected.number} of {corrected.issue_date.isoformat()}")
    if invoice.reason:
        notes.append(invoice.reason)
    return notes


def _payment_terms(doc: InvoiceDocument) -> str:
    days = (doc.due_date - doc.issue_date).days
    credit = doc.invoice.kind == "credit_note"
    if doc.language == "de":
        due = f"{doc.due_date:%d.%m.%Y}"
        if credit:
            return f"Erstattung bis {due}"
        return f"Zahlbar innerhalb von {days} Tagen ab Rechnungsdatum, bis {due}"
    due = doc.due_date.isoformat()
    if credit:
        return f"Refunded by {due}"
    return f"Payable within {days} days of the invoice date, by {due}"


# --- XML helpers -------------------------------------------------------------------------------------------


def _q(namespace: str, name: str) -> str:
    return f"{{{namespace}}}{name}"


def _sub(parent: etree._Element, namespace: str, name: str) -> etree._Element:
    return etree.SubElement(parent, _q(namespace, name))


def _text(parent: etree._Element, namespace: str, name: str, text: str) -> etree._Element:
    element = _sub(parent, namespace, name)
    element.text = text
    return element


def _date(parent: etree._Element, day: date) -> None:
    _text(parent, UDT, "DateTimeString", day.strftime("%Y%m%d")).set("format", "102")


def _last_day(end_exclusive: date) -> date:
    return end_exclusive - timedelta(days=1)


def _period(element: etree._Element, start: date, end_exclusive: date) -> None:
    _date(_sub(element, RAM, "StartDateTime"), start)
    _date(_sub(element, RAM, "EndDateTime"), _last_day(end_exclusive))


def _money(amount: Decimal) -> str:
    return format(amount.quantize(CENT), "f")


def _number(value: Decimal) -> str:
    """Plain notation without trailing zeros (19.00 -> '19', 1E+3 -> '1000')."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def _require_two_decimals(currency: str) -> None:
    places = -quantum(currency).as_tuple().exponent  # type: ignore[operator]
    if places > 2:
        raise EInvoiceError(
            "currency", f"EN 16931 carries amounts with at most 2 decimals; {currency} has {places}"
        )
