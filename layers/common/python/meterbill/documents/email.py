"""The email a stored invoice or note is sent with: a subject and a short plain-text body in the customer's
language (English or German), formatted for that locale with Babel: the service period, the total, the due
date and the payment reference. The PDF is the document; the email only says what it is.

Pure: values in, text out (the delivery service builds the ``OutgoingEmail`` around it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Final, Literal

from babel.dates import format_date
from babel.numbers import format_currency

EmailLanguage = Literal["en", "de"]
LOCALES: Final[dict[str, str]] = {"en": "en_GB", "de": "de_DE"}
KIND_NAMES: Final[dict[str, dict[str, str]]] = {
    "en": {"invoice": "Invoice", "credit_note": "Credit note", "debit_note": "Debit note"},
    "de": {"invoice": "Rechnung", "credit_note": "Gutschrift", "debit_note": "Belastungsanzeige"},
}


@dataclass(frozen=True, slots=True)
class DocumentMail:
    """What the email says about its document. ``period_end`` is exclusive (the day after the last day);
    ``due_date`` is None for a credit note (nothing to pay); ``reference`` is what a payment quotes."""

    kind: str
    number: str
    period_start: date
    period_end: date
    total: Decimal
    currency: str
    due_date: date | None
    reference: str
    seller_name: str
    customer_name: str
    language: str
    resend: bool = False


@dataclass(frozen=True, slots=True)
class EmailText:
    subject: str
    body: str
    filename: str


def document_email(mail: DocumentMail) -> EmailText:
    """The subject, body and attachment file name of ``mail``'s email, in its language (English for any
    other)."""
    language: EmailLanguage = "de" if mail.language == "de" else "en"
    locale = LOCALES[language]
    kind = KIND_NAMES[language].get(mail.kind, KIND_NAMES[language]["invoice"])
    last_day = mail.period_end - timedelta(days=1)
    first = format_date(mail.period_start, "medium", locale=locale)
    period = f"{first} – {format_date(last_day, 'medium', locale=locale)}"
    total = format_currency(mail.total, mail.currency, locale=locale)
    due = None if mail.due_date is None else format_date(mail.due_date, "long", locale=locale)
    again = {"en": " (sent again)", "de": " (erneut gesendet)"}[language] if mail.resend else ""
    subject = f"{kind} {mail.number} – {mail.seller_name}{again}"
    if language == "de":
        lines = [
            f"Guten Tag {mail.customer_name},",
            "",
            f"anbei erhalten Sie {_article_de(mail.kind)} {kind} {mail.number} für den Zeitraum {period}.",
            "",
            f"Betrag: {total}",
        ]
        if due is not None:
            lines.append(f"Fällig am: {due}")
        lines += [f"Verwendungszweck: {mail.reference}", "", "Mit freundlichen Grüßen", mail.seller_name]
    else:
        lines = [
            f"Dear {mail.customer_name},",
            "",
            f"please find attached {kind.lower()} {mail.number} for the period {period}.",
            "",
            f"Total: {total}",
        ]
        if due is not None:
            lines.append(f"Due date: {due}")
        lines += [f"Payment reference: {mail.reference}", "", "Kind regards", mail.seller_name]
    return EmailText(subject=subject, body="\n".join(lines) + "\n", filename=f"{_file_part(mail.number)}.pdf")


def _article_de(kind: str) -> str:
    return "unsere" if kind in ("invoice", "credit_note", "debit_note") else "das Dokument"


def _file_part(number: str) -> str:
    """The number as a file name (numbers hold letters, digits and ``-_/.``: a ``/`` becomes ``-``)."""
    return number.replace("/", "-")


@dataclass(frozen=True, slots=True)
class ReportMail:
    """What a savings report's email says: its schedule and period [start, end) (days), who sends it."""

    schedule: str
    period_start: date
    period_end: date
    sender_name: str
    language: str
    resend: bool = False


REPORT_NAMES: Final[dict[str, str]] = {"en": "Savings report", "de": "Einsparbericht"}
SCHEDULE_NAMES: Final[dict[str, dict[str, str]]] = {
    "en": {"daily": "daily", "weekly": "weekly", "monthly": "monthly"},
    "de": {"daily": "täglicher", "weekly": "wöchentlicher", "monthly": "monatlicher"},
}


def report_email(mail: ReportMail) -> EmailText:
    """The subject, body and attachment file name of a savings report's email, in its language."""
    language: EmailLanguage = "de" if mail.language == "de" else "en"
    locale = LOCALES[language]
    first = format_date(mail.period_start, "medium", locale=locale)
    last = format_date(mail.period_end - timedelta(days=1), "medium", locale=locale)
    period = first if mail.period_end - mail.period_start <= timedelta(days=1) else f"{first} – {last}"
    name = REPORT_NAMES[language]
    again = {"en": " (sent again)", "de": " (erneut gesendet)"}[language] if mail.resend else ""
    subject = f"{name} {period} – {mail.sender_name}{again}"
    schedule = SCHEDULE_NAMES[language].get(mail.schedule, mail.schedule)
    if language == "de":
        lines = [
            "Guten Tag,",
            "",
            f"anbei erhalten Sie Ihren {schedule} Einsparbericht für {period}: Betriebs- und "
            "Ausschaltzeiten, Leistung, Preis und Einsparung je Knoten, je Anlage und insgesamt.",
            "",
            "Mit freundlichen Grüßen",
            mail.sender_name,
        ]
    else:
        lines = [
            "Hello,",
            "",
            f"please find attached your {schedule} savings report for {period}: on- and off-time, rating, "
            "price and savings per node, per installation and in total.",
            "",
            "Kind regards",
            mail.sender_name,
        ]
    filename = f"savings-report-{mail.period_start.isoformat()}.pdf"
    return EmailText(subject=subject, body="\n".join(lines) + "\n", filename=filename)
