"""The invoice PDF: a PDF/A-3B document (fpdf2) rendered from an ``InvoiceDocument`` and nothing else.

What a customer reads, top to bottom: the account's logo and the seller; the buyer's address beside the
invoice's number, dates, period and customer number; the title (and, for a note, which invoice it corrects
and why); the meters with their reads, multiplier, consumption and its estimated part; the daily average
and a 12-month chart; the lines grouped by meter; net amount, taxes per rate and total; how to pay. Every
page's footer carries the seller's legal details, the document's number and "page n / N".

A4, or US Letter when the buyer's address is in the US. Text in the customer's language
(``documents.labels``), numbers, money and dates formatted for it (``documents.locale``); bundled TTF fonts
(DejaVu Sans, Droid Sans Fallback for CJK) so every name renders and every font is embedded, as PDF/A wants.

The same document renders to the same bytes: the PDF's dates are the invoice's ``issued_at`` (else its
``computed_at``), never the clock, so a retried render stores nothing new.

With ``factur_x_xml`` the PDF is also a Factur-X / ZUGFeRD e-invoice: the XML is embedded as
``factur-x.xml`` with ``/AF`` relationship ``Data``, and the XMP metadata carries the ``fx:`` block with the
PDF/A extension schema that declares it.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from html import escape
from typing import Final

from fpdf.enums import DocumentCompliance, XPos, YPos
from PIL import Image

from meterbill.billing.invoice import Invoice, InvoiceLine, MeterUsage
from meterbill.documents.chart import chart_unit, draw_history, history_bars
from meterbill.documents.labels import labels
from meterbill.documents.locale import (
    currency_symbol,
    format_amount,
    format_date,
    format_money,
    format_percent,
    format_period,
    format_quantity,
    territory_name,
)
from meterbill.documents.model import InvoiceDocument, MeterDetail
from meterbill.documents.page import (
    ACCENT,
    FOOTER_HEIGHT,
    GREY,
    MARGIN,
    PRODUCER,
    ROW,
    RULE,
    SHADE,
    TOP,
    Page,
    forget_line_breaks,
    wrap,
    write,
)
from meterbill.documents.pdf_fonts import (
    FALLBACK_FONT,
    FONT,
    FixedSubsetOutput,
    install_font,
    logo_info,
    preload_logo,
    subset_from_common_glyphs,
)
from meterbill.domain import Address, Language

FACTUR_X_FILENAME: Final = "factur-x.xml"
FACTUR_X_NAMESPACE: Final = "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#"
FACTUR_X_LEVEL: Final = "EN 16931"
LOGO_WIDTH: Final = 60.0
LOGO_HEIGHT: Final = 18.0
QUANTITY_DIGITS: Final = 3  # at most, on the page (the XML keeps every digit)
RATE_DIGITS: Final = 6


def invoice_pdf(doc: InvoiceDocument, *, factur_x_xml: bytes | None = None) -> bytes:
    """The document as PDF/A-3B bytes; with ``factur_x_xml``, a Factur-X (EN 16931) invoice."""
    return _Renderer(doc).render(factur_x_xml)


def page_format(doc: InvoiceDocument) -> str:
    """US Letter for a buyer in the US, A4 everywhere else."""
    address = doc.buyer.address
    return "Letter" if address is not None and address.country == "US" else "A4"


def _new_pdf(doc: InvoiceDocument, moment: datetime) -> Page:
    pdf = Page(format=page_format(doc), unit="mm", enforce_compliance=DocumentCompliance.PDFA_3B)
    install_font(pdf, FONT, "")
    install_font(pdf, FONT, "B")
    # fpdf2 asks get_fallback_font (below) only when it has fallback ids; the font itself comes on demand
    pdf._fallback_font_ids = [FALLBACK_FONT.lower()]
    pdf._fallback_font_exact_match = False
    pdf.set_margins(MARGIN, TOP, MARGIN)
    pdf.set_auto_page_break(True, margin=FOOTER_HEIGHT + 4)
    pdf.set_creation_date(moment)
    pdf.set_lang("de-DE" if doc.language == "de" else "en")
    pdf.set_creator(PRODUCER)
    pdf.set_producer(PRODUCER)
    pdf.set_author(doc.seller.legal_name)
    pdf.alias_nb_pages()
    return pdf


# --- what the page shows, as values ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _TaxRate:
    name: str
    rate: Decimal
    base: Decimal
    amount: Decimal


def taxes_by_rate(lines: Sequence[InvoiceLine]) -> list[_TaxRate]:
    """The invoice's tax lines added up per tax (its description) and rate, in order of first appearance."""
    by_rate: dict[tuple[str, Decimal], _TaxRate] = {}
    for line in lines:
        if line.component != "tax":
            continue
        name = line.description.split(" (")[0]
        rate = line.rate if line.rate is not None else Decimal(0)
        seen = by_rate.get((name, rate))
        by_rate[(name, rate)] = _TaxRate(
            name,
            rate,
            line.quantity + (seen.base if seen else 0),
            line.amount + (seen.amount if seen else 0),
        )
    return list(by_rate.values())


def _groups(invoice: Invoice) -> Iterator[tuple[str | None, list[InvoiceLine]]]:
    """The lines but taxes, by meter (in the invoice's order), then by component within a meter."""
    order: dict[str | None, list[InvoiceLine]] = {}
    for line in invoice.lines:
        if line.component != "tax":
            order.setdefault(line.meter_id, []).append(line)
    components = ["fixed", "energy", "demand", "package", "shared", "minimum", "surcharge", "discount"]
    rank = {name: i for i, name in enumerate(components)}
    for meter, lines in order.items():
        yield meter, sorted(lines, key=lambda line: rank.get(line.component, len(rank)))


def _own_digits(value: Decimal, least: int, most: int) -> int:
    """The digits a decimal was written with (a rate of 0.2710 keeps its 4), within [least, most]."""
    exponent = value.as_tuple().exponent
    own = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    return min(max(own, least), most)


def _digits(value: Decimal, least: int, most: int) -> int:
    exponent = value.normalize().as_tuple().exponent
    own = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    return min(max(own, least), most)


# --- rendering -------------------------------------------------------------------------------------------


class _Renderer:
    def __init__(self, doc: InvoiceDocument) -> None:
        self.doc = doc
        self.invoice = doc.invoice
        self.language: Language = doc.language
        self.words = labels(doc.language)
        moment = self.invoice.issued_at or self.invoice.computed_at
        self.pdf = _new_pdf(doc, moment)
        self.moment = moment
        self.width = self.pdf.w - 2 * MARGIN
        self.table_head: tuple[list[float], list[str], list[str]] | None = None

    # small helpers

    def t(self, key: str, **values: object) -> str:
        text = self.words[key]
        return text.format(**values) if values else text

    def money(self, amount: Decimal) -> str:
        return format_money(amount, self.invoice.currency, self.language)

    def amount(self, amount: Decimal) -> str:
        return format_amount(amount, self.invoice.currency, self.language)

    def quantity(self, value: Decimal, most: int = QUANTITY_DIGITS) -> str:
        return format_quantity(value, self.language, _digits(value, 0, most))

    def unit(self, unit: str) -> str:
        return self.words.get(f"unit.{unit}", unit)

    def font(self, size: float, bold: bool = False, colour: tuple[int, int, int] = (0, 0, 0)) -> None:
        self.pdf.set_font(FONT, "B" if bold else "", size)
        self.pdf.set_text_color(*colour)

    def heading(self, text: str) -> None:
        pdf = self.pdf
        self.need(14)
        pdf.ln(3)
        self.font(10, bold=True, colour=ACCENT)
        pdf.cell(self.width, 6, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_draw_color(*ACCENT)
        pdf.set_line_width(0.3)
        pdf.line(MARGIN, pdf.get_y(), MARGIN + self.width, pdf.get_y())
        pdf.ln(1)
        self.font(8.5)

    def need(self, height: float) -> None:
        """A new page unless ``height`` mm still fit above the footer."""
        if self.pdf.get_y() + height > self.pdf.page_break_trigger:
            self.pdf.add_page()
            if self.table_head is not None:  # a table going on: its column heads again
                self._head_row(*self.table_head)

    def _logo_size(self) -> tuple[float, float]:
        """The logo in a box of LOGO_WIDTH × LOGO_HEIGHT mm, its proportions kept, at the box's left."""
        assert self.doc.logo is not None
        with Image.open(io.BytesIO(self.doc.logo.data)) as image:
            width, height = image.size
        aspect = width / height
        if LOGO_HEIGHT * aspect <= LOGO_WIDTH:
            return LOGO_HEIGHT * aspect, LOGO_HEIGHT
        return LOGO_WIDTH, LOGO_WIDTH / aspect

    def kind_title(self) -> str:
        return self.t(self.invoice.kind)

    # the document

    def render(self, factur_x_xml: bytes | None) -> bytes:
        doc, pdf = self.doc, self.pdf
        number = self.invoice.number or self.invoice.id
        title = doc.title or self.kind_title()
        pdf.set_title(f"{title} {number}")
        pdf.set_subject(f"{self.kind_title()} {number}, {self._period()}")
        pdf.footer_left = self._footer_left()
        pdf.footer_number = number
        pdf.footer_page = self.words["page"]
        pdf.add_page()
        self._header()
        self._addresses(title, number)
        self._meters()
        self._consumption()
        self._charges()
        self._totals_and_payment()
        if factur_x_xml is not None:
            pdf.embed_file(
                bytes=factur_x_xml,
                basename=FACTUR_X_FILENAME,
                modification_date=self.moment,
                mime_type="text/xml",
                associated_file_relationship="Data",
                desc="Factur-X invoice (EN 16931, CII)",
                compress=True,
            )
        pdf.set_xmp_metadata(self._xmp(title, number, factur_x=factur_x_xml is not None))
        subset_from_common_glyphs(pdf)
        return bytes(pdf.output(output_producer_class=FixedSubsetOutput))

    def _period(self) -> str:
        return format_period(self.invoice.period_start, self.invoice.period_end, self.language)

    def _footer_left(self) -> str:
        seller = self.doc.seller
        parts = [seller.legal_name, _one_line(seller.address)]
        if seller.registration:
            parts.append(seller.registration)
        if seller.vat_id:
            parts.append(f"{self.t('vat_id')} {seller.vat_id}")
        if seller.tax_number:
            parts.append(f"{self.t('tax_number')} {seller.tax_number}")
        return "  ·  ".join(parts)

    def _header(self) -> None:
        doc, pdf = self.doc, self.pdf
        top = pdf.get_y()
        logo_bottom = top
        if doc.logo is not None:
            width, height = self._logo_size()
            preload_logo(pdf, doc.logo.data)
            pdf.image(io.BytesIO(doc.logo.data), x=MARGIN, y=top, w=width, h=height)
            logo_bottom = top + height
        seller = doc.seller
        x = MARGIN + self.width * 0.55
        w = self.width * 0.45
        pdf.set_xy(x, top)
        self.font(10, bold=True)
        write(pdf, w, 4.6, seller.trading_name or seller.legal_name, "R")
        self.font(8, colour=GREY)
        lines = [*seller.address.lines, _city_line(seller.address)]
        if seller.contact is not None:
            lines += [v for v in (seller.contact.email, seller.contact.phone) if v]
        for line in lines:
            pdf.set_x(x)
            write(pdf, w, 3.8, line, "R")
        pdf.set_y(max(pdf.get_y(), logo_bottom) + 4)

    def _addresses(self, title: str, number: str) -> None:
        """The buyer's address at the left (under the seller's return line); the title and the document's
        facts at the right; a note's correction below both."""
        doc, pdf = self.doc, self.pdf
        top = pdf.get_y()
        left_w = self.width * 0.5 - 6
        seller = doc.seller
        self.font(6.5, colour=GREY)
        pdf.cell(
            left_w,
            3.5,
            f"{seller.legal_name} · {_one_line(seller.address)}",
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
        pdf.set_draw_color(*RULE)
        pdf.line(MARGIN, pdf.get_y(), MARGIN + left_w, pdf.get_y())
        pdf.ln(1.5)
        buyer = doc.buyer
        self.font(10, bold=True)
        write(pdf, left_w, 5, buyer.name, "L")
        self.font(9.5)
        if buyer.address is not None:
            lines = [*buyer.address.lines, _city_line(buyer.address)]
            if buyer.address.country != seller.address.country:
                lines.append(territory_name(buyer.address.country, self.language))
            for line in lines:
                write(pdf, left_w, 4.6, line, "L")
        left_bottom = pdf.get_y()

        x = MARGIN + self.width * 0.5 + 4
        right_w = self.width * 0.5 - 4
        pdf.set_xy(x, top - 1)
        self.font(16, bold=True, colour=ACCENT)
        write(pdf, right_w, 8, title, "R")
        if doc.title:  # a custom title: say what the document is, too
            self.font(8, colour=GREY)
            write(pdf, right_w, 4, self.kind_title(), "R")
        pdf.ln(1.5)
        facts: list[tuple[str, str]] = [
            (self.t("invoice_number" if self.invoice.kind == "invoice" else "note_number"), number),
            (
                self.t("issue_date" if self.invoice.kind == "invoice" else "note_date"),
                format_date(doc.issue_date, self.language),
            ),
        ]
        if self.invoice.total > 0:
            facts.append((self.t("due_date"), format_date(doc.due_date, self.language)))
        facts += [
            (self.t("service_period"), self._period()),
            (self.t("customer_number"), buyer.customer_id),
        ]
        if buyer.vat_id:
            facts.append((self.t("vat_id"), buyer.vat_id))
        if buyer.buyer_reference:
            facts.append((self.t("buyer_reference"), buyer.buyer_reference))
        label_w = 30.0
        y = pdf.get_y()
        for i, (label, value) in enumerate(facts):
            pdf.set_xy(x, y)
            self.font(8, colour=GREY)
            pdf.cell(label_w, 4.6, label)
            self.font(8.5, bold=i == 0)
            write(pdf, right_w - label_w, 4.6, value, "R")
            y = pdf.get_y()
        pdf.set_y(max(left_bottom, y) + 3)
        if self.invoice.kind != "invoice":
            self._correction()

    def _correction(self) -> None:
        doc, pdf = self.doc, self.pdf
        texts = []
        if doc.corrected is not None:
            texts.append(
                self.t(
                    f"corrects.{self.invoice.kind}",
                    number=doc.corrected.number,
                    date=format_date(doc.corrected.issue_date, self.language),
                )
            )
        if self.invoice.reason:
            texts.append(self.t("reason", reason=self.invoice.reason))
        if not texts:
            return
        pdf.ln(1)
        pdf.set_fill_color(*SHADE)
        self.font(9, bold=True)
        pdf.multi_cell(
            self.width,
            5.5,
            "\n".join(texts),
            align="L",
            fill=True,
            padding=(1, 3),
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
        self.font(8.5)

    # meters -------------------------------------------------------------------------------------------

    def _meters(self) -> None:
        usage = self.invoice.meter_usage
        if not usage:
            return
        details = {m.meter_id: m for m in self.doc.meters}
        self.heading(self.t("meters"))
        w = self.width
        cols = [w * 0.31, w * 0.13, w * 0.13, w * 0.09, w * 0.17, w * 0.17]
        heads = ["meter", "start_read", "end_read", "multiplier", "consumption", "estimated"]
        self._head_row(cols, [self.t(h) for h in heads], ["L", "R", "R", "R", "R", "R"])
        for use in usage:
            detail = details.get(use.meter_id)
            self._meter_row(cols, use, detail)

    def _meter_row(self, cols: list[float], use: MeterUsage, detail: MeterDetail | None) -> None:
        pdf = self.pdf
        location = detail.location if detail is not None and detail.location else ""
        sub = location
        if detail is not None and detail.serial:
            sub = f"{sub} · {detail.serial}" if sub else detail.serial
        height = ROW * (2 if sub else 1) + 1
        self.need(height)
        y = pdf.get_y() + 0.5
        pdf.set_xy(MARGIN, y)
        self.font(8.5, bold=True)
        pdf.cell(cols[0], ROW, use.meter_id)
        if sub:
            pdf.set_xy(MARGIN, y + ROW - 0.8)
            self.font(7, colour=GREY)
            write(pdf, cols[0] - 2, 3.4, sub, "L")
        values = ["–", "–", "", ""]
        if detail is not None:
            if detail.start_read is not None:
                values[0] = self.quantity(detail.start_read)
            if detail.end_read is not None:
                values[1] = self.quantity(detail.end_read)
            values[2] = self.quantity(detail.multiplier)
        unit = self.unit(use.unit)
        values[3] = f"{self.quantity(use.total)} {unit}"
        estimated = f"{self.quantity(use.estimated)} {unit}" if use.estimated else "–"
        x = MARGIN + cols[0]
        self.font(8.5)
        for width, text in zip(cols[1:], [*values, estimated], strict=True):
            pdf.set_xy(x, y)
            pdf.cell(width, ROW, text, align="R")
            x += width
        pdf.set_y(y + height - 0.5)
        self._rule()

    def _consumption(self) -> None:
        """The daily average beside the 12-month chart."""
        invoice, pdf = self.invoice, self.pdf
        unit = chart_unit(invoice, self.doc.history)
        if unit is None or invoice.kind != "invoice":  # a note's quantities are corrections, not usage
            return
        days = (invoice.period_end - invoice.period_start).days
        total = sum((u.total for u in invoice.meter_usage if u.unit == unit), Decimal(0))
        height = 33.0
        self.need(height + 6)
        pdf.ln(3)
        top = pdf.get_y()
        box_w = self.width * 0.30
        pdf.set_fill_color(*SHADE)
        pdf.rect(MARGIN, top, box_w, height, style="F")
        pdf.set_xy(MARGIN + 4, top + 3.5)
        self.font(8, colour=GREY)
        write(pdf, box_w - 8, 4, self.t("daily_average"), "L")
        average = total / days
        pdf.set_xy(MARGIN + 4, pdf.get_y() + 1.5)
        self.font(20, bold=True, colour=ACCENT)
        pdf.cell(
            box_w - 8, 9, format_quantity(average, self.language, 1), new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )
        pdf.set_x(MARGIN + 4)
        self.font(9, bold=True, colour=ACCENT)
        pdf.cell(
            box_w - 8, 5, self.t("per_day_unit", unit=self.unit(unit)), new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )
        pdf.set_xy(MARGIN + 4, pdf.get_y() + 1)
        self.font(7, colour=GREY)
        write(
            pdf,
            box_w - 8,
            3.5,
            self.t(
                "per_day",
                quantity=format_quantity(average, self.language, 1),
                unit=self.unit(unit),
                days=days,
            ),
        )
        chart_x = MARGIN + box_w + 6
        chart_w = self.width - box_w - 6
        pdf.set_xy(chart_x, top)
        self.font(8, colour=GREY)
        pdf.cell(chart_w, 4, self.t("history", unit=self.unit(unit)))
        draw_history(
            pdf,
            history_bars(invoice, self.doc.history, unit),
            x=chart_x,
            y=top + 6,
            w=chart_w,
            h=height - 6,
            language=self.language,
        )
        self.font(8.5)
        pdf.set_y(top + height + 2)

    # charges ------------------------------------------------------------------------------------------

    def _charge_columns(self) -> tuple[list[float], list[str]]:
        w = self.width
        cols = [w * 0.49, w * 0.17, w * 0.18, w * 0.16]
        return cols, ["L", "R", "R", "R"]

    def _charges(self) -> None:
        pdf = self.pdf
        self.heading(self.t("charges"))
        cols, aligns = self._charge_columns()
        heads = [
            self.t("description"),
            self.t("quantity"),
            self.t("rate"),
            self.t("amount", currency=currency_symbol(self.invoice.currency, self.language)),
        ]
        self._head_row(cols, heads, aligns)
        self.table_head = (cols, heads, aligns)
        details = {m.meter_id: m for m in self.doc.meters}
        for meter, lines in _groups(self.invoice):
            self.need(ROW * 3)
            pdf.set_fill_color(*SHADE)
            self.font(8.5, bold=True)
            title = self.t("meter_group", meter=meter) if meter else self.t("no_meter")
            detail = details.get(meter or "")
            if detail is not None and detail.location:
                title += f"  ·  {detail.location}"
            pdf.cell(self.width, ROW + 1, title, fill=True, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            for line in lines:
                self._charge_row(cols, line)
            subtotal = sum((line.amount for line in lines), Decimal(0))
            self.need(ROW + 1)
            self.font(7.5, colour=GREY)
            pdf.set_x(MARGIN + sum(cols[:2]))
            pdf.cell(cols[2], ROW + 1, self.t("group_subtotal"), align="R")
            self.font(8.5, bold=True)
            pdf.cell(cols[3], ROW + 1, self.amount(subtotal), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.ln(1.5)

    def _charge_row(self, cols: list[float], line: InvoiceLine) -> None:
        pdf = self.pdf
        notes: list[str] = []
        if (line.start, line.end) != (self.invoice.period_start, self.invoice.period_end):
            notes.append(format_period(line.start, line.end, self.language))
        if line.share != 1 and line.share != 0:
            base_quantity, base_unit = (line.quantity, line.unit)
            if line.unit in ("share", "bill"):
                base_quantity, base_unit = line.amount, currency_symbol(self.invoice.currency, self.language)
            notes.append(
                self.t(
                    "share_of",
                    share=format_percent(line.share, self.language),
                    base=self.quantity(base_quantity / line.share),
                    unit=self.unit(base_unit),
                )
            )
        self.font(8.5)
        desc_lines = len(wrap(pdf, line.description, cols[0] - 2))
        height = (ROW - 0.6) * desc_lines + 3.6 * len(notes) + 1.2
        self.need(height)
        y = pdf.get_y() + 0.6
        pdf.set_xy(MARGIN, y)
        write(pdf, cols[0] - 2, ROW - 0.6, line.description, "L")
        if notes:
            self.font(7, colour=GREY)
            for note in notes:
                pdf.set_x(MARGIN + 3)
                pdf.cell(cols[0] - 5, 3.6, note, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            self.font(8.5)
        quantity = "" if line.unit in ("share",) else f"{self.quantity(line.quantity)} {self.unit(line.unit)}"
        rate = ""
        if line.rate is not None:
            per = "" if line.unit in ("bill", "share") else f"/{self.unit(line.unit)}"
            rate = format_quantity(line.rate, self.language, _own_digits(line.rate, 2, RATE_DIGITS))
            rate = f"{rate} {currency_symbol(self.invoice.currency, self.language)}{per}"
        x = MARGIN + cols[0]
        for width, text in zip(cols[1:], [quantity, rate, self.amount(line.amount)], strict=True):
            pdf.set_xy(x, y)
            pdf.cell(width, ROW - 0.6, text, align="R")
            x += width
        pdf.set_y(y + height - 0.6)
        self._rule()

    def _head_row(self, cols: Sequence[float], heads: Sequence[str], aligns: Sequence[str]) -> None:
        pdf = self.pdf
        self.font(7.5, bold=True, colour=GREY)
        for width, text, align in zip(cols, heads, aligns, strict=True):
            pdf.cell(width, ROW, text, align=align)
        pdf.ln(ROW)
        self._rule()
        self.font(8.5)

    def _rule(self) -> None:
        pdf = self.pdf
        pdf.set_draw_color(*RULE)
        pdf.set_line_width(0.15)
        pdf.line(MARGIN, pdf.get_y(), MARGIN + self.width, pdf.get_y())

    # totals and payment -------------------------------------------------------------------------------

    def _totals_and_payment(self) -> None:
        """How to pay at the left, net amount, taxes per rate and the total at the right."""
        self.table_head = None
        invoice, pdf = self.invoice, self.pdf
        rows: list[tuple[str, str]] = [(self.t("subtotal"), self.money(invoice.subtotal))]
        for tax in taxes_by_rate(invoice.lines):
            rows.append(
                (
                    self.t(
                        "tax_line",
                        name=tax.name,
                        percent=format_percent(tax.rate, self.language),
                        base=self.money(tax.base),
                    ),
                    self.money(tax.amount),
                )
            )
        intro, payment = self._payment_rows()
        right_w = self.width * 0.46
        left_w = self.width - right_w - 8
        self.font(8.5)
        intro_lines = len(wrap(pdf, intro, left_w))
        self.need(3 + max(ROW * len(rows) + 10, 7 + 4.6 * (intro_lines + len(payment))))
        pdf.ln(3)
        top = pdf.get_y()
        # totals, right
        value_w = 30.0
        x = MARGIN + self.width - right_w
        for label, value in rows:
            pdf.set_x(x)
            self.font(8.5)
            pdf.cell(right_w - value_w, ROW, label, align="R")
            pdf.cell(value_w, ROW, value, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_draw_color(*ACCENT)
        pdf.set_line_width(0.4)
        pdf.line(x + 10, pdf.get_y() + 1, MARGIN + self.width, pdf.get_y() + 1)
        pdf.ln(2.5)
        pdf.set_x(x)
        self.font(11, bold=True, colour=ACCENT)
        total_label = self.t("total_credit" if invoice.total < 0 else "total")
        pdf.cell(right_w - value_w, 7, f"{total_label} ({invoice.currency})", align="R")
        pdf.cell(value_w, 7, self.money(invoice.total), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        right_bottom = pdf.get_y()
        # payment, left
        pdf.set_xy(MARGIN, top)
        self.font(10, bold=True, colour=ACCENT)
        pdf.cell(left_w, 6, self.t("payment"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.font(8.5)
        write(pdf, left_w, 4.6, intro, "L")
        pdf.ln(1)
        label_w = 33.0
        for label, value in payment:
            pdf.set_x(MARGIN)
            self.font(7.5, colour=GREY)
            pdf.cell(label_w, 4.6, label)
            self.font(8.5, bold=label == self.t("payment_reference"))
            write(pdf, left_w - label_w, 4.6, value, "L")
        pdf.set_y(max(pdf.get_y(), right_bottom) + 2)

    def _payment_rows(self) -> tuple[str, list[tuple[str, str]]]:
        doc, invoice = self.doc, self.invoice
        seller = doc.seller
        rows: list[tuple[str, str]] = []
        if invoice.total > 0:
            intro = self.t(
                "pay_by", amount=self.money(invoice.total), date=format_date(doc.due_date, self.language)
            )
        elif invoice.total < 0:
            intro = self.t("credit_by", amount=self.money(-invoice.total))
        else:
            intro = self.t("nothing_due")
        bank = seller.bank_account
        if bank is not None and invoice.total > 0:
            rows.append((self.t("account_holder"), bank.account_name or seller.legal_name))
            rows.append((self.t("iban"), _spaced_iban(bank.iban)))
            if bank.bic:
                rows.append((self.t("bic"), bank.bic))
        rows.append((self.t("payment_reference"), invoice.number or invoice.id))
        return intro, rows

    # metadata -----------------------------------------------------------------------------------------

    def _xmp(self, title: str, number: str, *, factur_x: bool) -> str:
        """fpdf2's own XMP (pdfaid, dates, title, producer, the same values as the Info dictionary, which
        PDF/A requires) plus, for an e-invoice, the Factur-X block and its PDF/A extension schema."""
        stamp = self.moment.isoformat(timespec="seconds")
        pdf = self.pdf
        parts = [
            '<x:xmpmeta xmlns:x="adobe:ns:meta/">',
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">',
            '<rdf:Description rdf:about="" xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/">',
            "<pdfaid:part>3</pdfaid:part>",
            "<pdfaid:conformance>B</pdfaid:conformance>",
            "</rdf:Description>",
            '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">',
            "<dc:format>application/pdf</dc:format>",
            f'<dc:title><rdf:Alt><rdf:li xml:lang="x-default">{escape(str(pdf.title))}</rdf:li>'
            "</rdf:Alt></dc:title>",
            f"<dc:creator><rdf:Seq><rdf:li>{escape(str(pdf.author))}</rdf:li></rdf:Seq></dc:creator>",
            f'<dc:description><rdf:Alt><rdf:li xml:lang="x-default">{escape(str(pdf.subject))}</rdf:li>'
            "</rdf:Alt></dc:description>",
            "</rdf:Description>",
            '<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/">',
            f"<xmp:CreatorTool>{escape(PRODUCER)}</xmp:CreatorTool>",
            f"<xmp:CreateDate>{stamp}</xmp:CreateDate>",
            f"<xmp:ModifyDate>{stamp}</xmp:ModifyDate>",
            f"<xmp:MetadataDate>{stamp}</xmp:MetadataDate>",
            "</rdf:Description>",
            '<rdf:Description rdf:about="" xmlns:pdf="http://ns.adobe.com/pdf/1.3/">',
            f"<pdf:Producer>{escape(PRODUCER)}</pdf:Producer>",
            "</rdf:Description>",
        ]
        if factur_x:
            parts += _FACTUR_X_XMP
        parts += ["</rdf:RDF>", "</x:xmpmeta>"]
        return "\n".join(parts)


_FACTUR_X_PROPERTIES: Final = (
    ("DocumentFileName", "The name of the embedded XML document"),
    ("DocumentType", "The type of the hybrid document in capital letters, e.g. INVOICE or ORDER"),
    ("Version", "The actual version of the standard applying to the embedded XML document"),
    ("ConformanceLevel", "The conformance level of the embedded XML document"),
)
_FACTUR_X_XMP: Final = [
    f'<rdf:Description rdf:about="" xmlns:fx="{FACTUR_X_NAMESPACE}">',
    "<fx:DocumentType>INVOICE</fx:DocumentType>",
    f"<fx:DocumentFileName>{FACTUR_X_FILENAME}</fx:DocumentFileName>",
    "<fx:Version>1.0</fx:Version>",
    f"<fx:ConformanceLevel>{FACTUR_X_LEVEL}</fx:ConformanceLevel>",
    "</rdf:Description>",
    '<rdf:Description rdf:about="" xmlns:pdfaExtension="http://www.aiim.org/pdfa/ns/extension/"'
    ' xmlns:pdfaSchema="http://www.aiim.org/pdfa/ns/schema#"'
    ' xmlns:pdfaProperty="http://www.aiim.org/pdfa/ns/property#">',
    '<pdfaExtension:schemas><rdf:Bag><rdf:li rdf:parseType="Resource">',
    "<pdfaSchema:schema>Factur-X PDFA Extension Schema</pdfaSchema:schema>",
    f"<pdfaSchema:namespaceURI>{FACTUR_X_NAMESPACE}</pdfaSchema:namespaceURI>",
    "<pdfaSchema:prefix>fx</pdfaSchema:prefix>",
    "<pdfaSchema:property><rdf:Seq>",
    *(
        '<rdf:li rdf:parseType="Resource">'
        f"<pdfaProperty:name>{name}</pdfaProperty:name>"
        "<pdfaProperty:valueType>Text</pdfaProperty:valueType>"
        "<pdfaProperty:category>external</pdfaProperty:category>"
        f"<pdfaProperty:description>{description}</pdfaProperty:description>"
        "</rdf:li>"
        for name, description in _FACTUR_X_PROPERTIES
    ),
    "</rdf:Seq></pdfaSchema:property>",
    "</rdf:li></rdf:Bag></pdfaExtension:schemas>",
    "</rdf:Description>",
]


# --- small helpers ---------------------------------------------------------------------------------------


def _city_line(address: Address) -> str:
    return f"{address.postal_code} {address.city}" if address.postal_code else address.city


def _one_line(address: Address) -> str:
    return ", ".join([*address.lines, _city_line(address)])


def _spaced_iban(iban: str) -> str:
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))


def clear_document_caches() -> None:
    """Forget the line breaks and logos kept across documents (the fonts and fixed subsets stay): for the
    benchmark's worst case and for tests."""
    forget_line_breaks()
    logo_info.cache_clear()
