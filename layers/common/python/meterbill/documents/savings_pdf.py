"""The savings report PDF: a PDF/A-3B document (fpdf2) of ``billing.savings.SavingsReport``, as invoices are.

Top to bottom: the issuer and the title, the period and when it was made; a table per installation (node, on
and off hours, rating, price, savings) with the installation's total; the report's total; the formula. Every
page's footer carries the issuer, the period and "page n / N". English or German (``documents.labels``),
numbers, money and dates formatted for the language (``documents.locale``), the invoice's bundled fonts and
page furniture (``documents.pdf``). The PDF's dates are ``made_at``, never the clock: the same report renders
to the same bytes, so a retried render stores nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from html import escape
from typing import Final

from fpdf.enums import DocumentCompliance, XPos, YPos

from meterbill.billing.savings import NodeSavings, SavingsReport
from meterbill.documents.labels import labels
from meterbill.documents.locale import format_date, format_money, format_period, format_quantity
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
    write,
)
from meterbill.documents.pdf_fonts import FALLBACK_FONT, FONT, install_font, subset_from_common_glyphs
from meterbill.domain import Language

HOURS_DIGITS: Final = 2  # on the page; the JSON keeps every digit
# Column widths as parts of the text width: node, on, off, rating, price, savings.
COLUMNS: Final = (0.32, 0.12, 0.12, 0.12, 0.14, 0.18)


@dataclass(frozen=True, slots=True)
class SavingsReportDocument:
    """What the report PDF shows: the figures over [start, end) (days), who issues it, in which language,
    and when it was made (the PDF's dates)."""

    report: SavingsReport
    start: date
    end: date
    issuer: str
    language: Language
    made_at: datetime


def savings_pdf(doc: SavingsReportDocument) -> bytes:
    """The report as PDF/A-3B bytes."""
    return _Renderer(doc).render()


class _Renderer:
    def __init__(self, doc: SavingsReportDocument) -> None:
        self.doc = doc
        self.words = labels(doc.language)
        self.period = format_period(doc.start, doc.end, doc.language)
        pdf = Page(format="A4", unit="mm", enforce_compliance=DocumentCompliance.PDFA_3B)
        install_font(pdf, FONT, "")
        install_font(pdf, FONT, "B")
        pdf._fallback_font_ids = [FALLBACK_FONT.lower()]
        pdf._fallback_font_exact_match = False
        pdf.set_margins(MARGIN, TOP, MARGIN)
        pdf.set_auto_page_break(True, margin=FOOTER_HEIGHT + 4)
        pdf.set_creation_date(doc.made_at)
        pdf.set_lang("de-DE" if doc.language == "de" else "en")
        pdf.set_creator(PRODUCER)
        pdf.set_producer(PRODUCER)
        pdf.set_author(doc.issuer)
        pdf.set_title(f"{self.words['savings.title']} {self.period}")
        pdf.set_subject(f"{self.words['savings.title']}, {doc.issuer}, {self.period}")
        pdf.alias_nb_pages()
        pdf.footer_left = doc.issuer
        pdf.footer_number = f"{self.words['savings.title']} {self.period}"
        pdf.footer_page = self.words["page"]
        self.pdf = pdf
        self.width = pdf.w - 2 * MARGIN

    def render(self) -> bytes:
        pdf, doc, words = self.pdf, self.doc, self.words
        pdf.add_page()
        pdf.set_font(FONT, "", 9)
        pdf.set_text_color(*GREY)
        write(pdf, self.width, 4.5, doc.issuer)
        pdf.set_text_color(*ACCENT)
        pdf.set_font(FONT, "B", 16)
        pdf.cell(self.width, 10, words["savings.title"], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_text_color(0, 0, 0)
        pdf.set_font(FONT, "", 9)
        made = format_date(doc.made_at.date(), doc.language)
        pdf.cell(
            self.width, 5, f"{words['savings.period']}: {self.period}", new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )
        pdf.cell(self.width, 5, f"{words['savings.created']}: {made}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(4)
        if not doc.report.installations:
            pdf.cell(self.width, 6, words["savings.none"], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        for installation in doc.report.installations:
            self._installation(installation.name, installation.installation_id, installation.nodes)
            for currency, amount in installation.totals.items():
                label = words["savings.installation_total"].format(name=installation.name)
                self._total_row(label, format_money(amount, currency, doc.language), bold=False)
            pdf.ln(4)
        for currency, amount in doc.report.totals.items():
            self._total_row(words["savings.total"], format_money(amount, currency, doc.language), bold=True)
        pdf.ln(4)
        pdf.set_font(FONT, "", 7.5)
        pdf.set_text_color(*GREY)
        write(pdf, self.width, 3.8, words["savings.formula"])
        pdf.set_text_color(0, 0, 0)
        pdf.set_xmp_metadata(self._xmp())
        subset_from_common_glyphs(pdf)
        return bytes(pdf.output())

    def _xmp(self) -> str:
        """PDF/A's XMP with the Info dictionary's values, dated ``made_at`` (fpdf2's own would be dated
        now, and a second render would differ)."""
        stamp = self.doc.made_at.isoformat(timespec="seconds")
        pdf = self.pdf
        return "".join(
            [
                '<x:xmpmeta xmlns:x="adobe:ns:meta/">',
                '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">',
                '<rdf:Description rdf:about="" xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/">',
                "<pdfaid:part>3</pdfaid:part><pdfaid:conformance>B</pdfaid:conformance>",
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
                f"<xmp:CreateDate>{stamp}</xmp:CreateDate><xmp:ModifyDate>{stamp}</xmp:ModifyDate>",
                f"<xmp:MetadataDate>{stamp}</xmp:MetadataDate>",
                "</rdf:Description>",
                '<rdf:Description rdf:about="" xmlns:pdf="http://ns.adobe.com/pdf/1.3/">',
                f"<pdf:Producer>{escape(PRODUCER)}</pdf:Producer>",
                "</rdf:Description>",
                "</rdf:RDF></x:xmpmeta>",
            ]
        )

    def _installation(self, name: str, installation_id: str, nodes: tuple[NodeSavings, ...]) -> None:
        pdf, words = self.pdf, self.words
        heading = name if name == installation_id else f"{name} ({installation_id})"
        if pdf.will_page_break(ROW * 4):
            pdf.add_page()
        pdf.set_font(FONT, "B", 10.5)
        pdf.set_text_color(*ACCENT)
        pdf.cell(
            self.width, 7, f"{words['savings.installation']}: {heading}", new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )
        pdf.set_text_color(0, 0, 0)
        header = (
            "savings.node",
            "savings.on",
            "savings.off",
            "savings.rating",
            "savings.price",
            "savings.savings",
        )
        self._row([words[key] for key in header], bold=True, shade=True)
        for node in nodes:
            self._row(self._cells(node))

    def _cells(self, node: NodeSavings) -> list[str]:
        language = self.doc.language
        label = node.node_id
        first, stop = node.start.date(), node.end.date()
        if (first, stop) != (self.doc.start, self.doc.end):  # a part of the period (a price changed)
            label = f"{label}, {format_period(first, stop, language)}"
        return [
            label,
            format_quantity(node.on_hours, language, HOURS_DIGITS),
            format_quantity(node.off_hours, language, HOURS_DIGITS),
            format_quantity(node.power_rating_w, language),
            format_money(node.price_per_kwh, node.currency, language)
            if _digits(node.price_per_kwh) <= 2
            else f"{format_quantity(node.price_per_kwh, language)} {node.currency}",
            format_money(node.savings, node.currency, language),
        ]

    def _row(self, cells: list[str], *, bold: bool = False, shade: bool = False) -> None:
        pdf = self.pdf
        if pdf.will_page_break(ROW):
            pdf.add_page()
        pdf.set_font(FONT, "B" if bold else "", 8.5)
        if shade:
            pdf.set_fill_color(*SHADE)
        for index, (text, part) in enumerate(zip(cells, COLUMNS, strict=True)):
            pdf.cell(self.width * part, ROW + 1, text, align="L" if index == 0 else "R", fill=shade)
        pdf.ln(ROW + 1)
        pdf.set_draw_color(*RULE)
        pdf.set_line_width(0.1)
        pdf.line(MARGIN, pdf.get_y(), MARGIN + self.width, pdf.get_y())

    def _total_row(self, label: str, amount: str, *, bold: bool) -> None:
        pdf = self.pdf
        pdf.set_font(FONT, "B" if bold else "", 9.5 if bold else 8.5)
        pdf.cell(self.width * (1 - COLUMNS[-1]), ROW + 1, label, align="R")
        pdf.cell(self.width * COLUMNS[-1], ROW + 1, amount, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _digits(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0
