"""The fixed words of the documents, per language: ``labels(language)["due_date"]``.

Every language has every key (a test checks it); texts with ``{name}`` placeholders are filled with
``str.format`` by the renderer.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from meterbill.domain import Language

_EN: Final = {
    # titles by kind
    "invoice": "Invoice",
    "credit_note": "Credit note",
    "debit_note": "Debit note",
    # header
    "invoice_number": "Invoice number",
    "note_number": "Number",
    "issue_date": "Issue date",
    "note_date": "Issue date",
    "due_date": "Due date",
    "service_period": "Service period",
    "customer_number": "Customer number",
    "buyer_reference": "Your reference",
    "vat_id": "VAT ID",
    "tax_number": "Tax number",
    "corrects.credit_note": "This credit note corrects invoice {number} of {date}.",
    "corrects.debit_note": "This debit note corrects invoice {number} of {date}.",
    "reason": "Reason: {reason}",
    # meters
    "meters": "Meters",
    "meter": "Meter",
    "location": "Location",
    "start_read": "Start read",
    "end_read": "End read",
    "multiplier": "Multiplier",
    "consumption": "Consumption",
    "estimated": "Estimated",
    "daily_average": "Your average daily consumption",
    "per_day": "{quantity} {unit} per day over {days} days",
    "per_day_unit": "{unit} per day",
    "history": "Consumption over the last 12 months ({unit})",
    "this_period": "this period",
    # lines
    "charges": "Charges",
    "description": "Description",
    "period": "Period",
    "quantity": "Quantity",
    "unit": "Unit",
    "rate": "Rate",
    "amount": "Amount ({currency})",
    "meter_group": "Meter {meter}",
    "no_meter": "Other charges",
    "group_subtotal": "Net, this meter",
    "share_of": "your share {share} of {base} {unit}",
    "tou_period": "period {period}",
    "tier": "tier {tier}",
    "season": "season {season}",
    # totals
    "subtotal": "Net amount",
    "tax_line": "{name}: {percent} on {base}",
    "total": "Total",
    "total_credit": "Total credited",
    "taxes": "Taxes",
    # payment
    "payment": "Payment",
    "pay_by": "Please transfer {amount} by {date} to the account below.",
    "credit_by": "We will refund {amount} to your account.",
    "nothing_due": "Nothing is due.",
    "account_holder": "Account holder",
    "iban": "IBAN",
    "bic": "BIC",
    "payment_reference": "Payment reference",
    "contact": "Questions about this bill",
    # units the engine writes as words
    "unit.month": "month",
    "unit.day": "days",
    "unit.bill": "bill",
    "unit.share": "share",
    # footer
    # savings reports (documents/savings_pdf.py)
    "savings.title": "Savings report",
    "savings.period": "Period",
    "savings.created": "Created",
    "savings.installation": "Installation",
    "savings.node": "Node",
    "savings.on": "On (h)",
    "savings.off": "Off (h)",
    "savings.rating": "Rating (W)",
    "savings.price": "Price / kWh",
    "savings.savings": "Savings",
    "savings.installation_total": "Total {name}",
    "savings.total": "Total savings",
    "savings.formula": "Savings = off hours × rating (W) × price per kWh / 1000; off hours = the period's "
    "hours (23 or 25 on a day the clocks change) − on hours.",
    "savings.none": "No node had savings in this period.",
    "page": "Page {page} / {pages}",
}

_DE: Final = {
    "invoice": "Rechnung",
    "credit_note": "Gutschrift",
    "debit_note": "Nachbelastung",
    "invoice_number": "Rechnungsnummer",
    "note_number": "Nummer",
    "issue_date": "Rechnungsdatum",
    "note_date": "Datum",
    "due_date": "Fällig am",
    "service_period": "Leistungszeitraum",
    "customer_number": "Kundennummer",
    "buyer_reference": "Ihre Referenz",
    "vat_id": "USt-IdNr.",
    "tax_number": "Steuernummer",
    "corrects.credit_note": "Diese Gutschrift berichtigt die Rechnung {number} vom {date}.",
    "corrects.debit_note": "Diese Nachbelastung berichtigt die Rechnung {number} vom {date}.",
    "reason": "Grund: {reason}",
    "meters": "Zähler",
    "meter": "Zähler",
    "location": "Standort",
    "start_read": "Anfangsstand",
    "end_read": "Endstand",
    "multiplier": "Faktor",
    "consumption": "Verbrauch",
    "estimated": "davon geschätzt",
    "daily_average": "Ihr durchschnittlicher Tagesverbrauch",
    "per_day": "{quantity} {unit} pro Tag über {days} Tage",
    "per_day_unit": "{unit} pro Tag",
    "history": "Verbrauch der letzten 12 Monate ({unit})",
    "this_period": "dieser Zeitraum",
    "charges": "Positionen",
    "description": "Beschreibung",
    "period": "Zeitraum",
    "quantity": "Menge",
    "unit": "Einheit",
    "rate": "Preis",
    "amount": "Betrag ({currency})",
    "meter_group": "Zähler {meter}",
    "no_meter": "Weitere Positionen",
    "group_subtotal": "Netto, dieser Zähler",
    "share_of": "Ihr Anteil {share} von {base} {unit}",
    "tou_period": "Zeitzone {period}",
    "tier": "Stufe {tier}",
    "season": "Saison {season}",
    "subtotal": "Nettobetrag",
    "tax_line": "{name}: {percent} auf {base}",
    "total": "Gesamtbetrag",
    "total_credit": "Gutschriftsbetrag",
    "taxes": "Steuern",
    "payment": "Zahlung",
    "pay_by": "Bitte überweisen Sie {amount} bis zum {date} auf das folgende Konto.",
    "credit_by": "Wir erstatten Ihnen {amount} auf Ihr Konto.",
    "nothing_due": "Es ist nichts zu zahlen.",
    "account_holder": "Kontoinhaber",
    "iban": "IBAN",
    "bic": "BIC",
    "payment_reference": "Verwendungszweck",
    "contact": "Fragen zu dieser Rechnung",
    "unit.month": "Monat",
    "unit.day": "Tage",
    "unit.bill": "Rechnung",
    "unit.share": "Anteil",
    "savings.title": "Einsparbericht",
    "savings.period": "Zeitraum",
    "savings.created": "Erstellt",
    "savings.installation": "Anlage",
    "savings.node": "Knoten",
    "savings.on": "Ein (h)",
    "savings.off": "Aus (h)",
    "savings.rating": "Leistung (W)",
    "savings.price": "Preis / kWh",
    "savings.savings": "Einsparung",
    "savings.installation_total": "Summe {name}",
    "savings.total": "Gesamteinsparung",
    "savings.formula": "Einsparung = Aus-Stunden × Leistung (W) × Preis je kWh / 1000; Aus-Stunden = Stunden "
    "des Zeitraums (23 oder 25 am Tag der Zeitumstellung) − Ein-Stunden.",
    "savings.none": "In diesem Zeitraum hatte kein Knoten Einsparungen.",
    "page": "Seite {page} / {pages}",
}

LABELS: Final[Mapping[Language, Mapping[str, str]]] = MappingProxyType(
    {"en": MappingProxyType(_EN), "de": MappingProxyType(_DE)}
)


def labels(language: Language) -> Mapping[str, str]:
    return LABELS[language]
