"""The invoice PDF, read back with pypdf: what a customer reads on it, in its language, and the PDF/A-3B and
Factur-X structure an archive and an accountant's software rely on."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject

from meterbill.billing.invoice import Invoice, InvoiceLine, issue, note_id
from meterbill.documents.model import CorrectedInvoice, InvoiceDocument
from meterbill.documents.pdf import invoice_pdf, taxes_by_rate
from meterbill.documents.sample import sample_document, sample_invoice, sample_logo
from meterbill.domain import Address
from meterbill.money import round_money

FACTUR_X_XML = b'<?xml version="1.0" encoding="UTF-8"?>\n<rsm:CrossIndustryInvoice xmlns:rsm="urn:x"/>\n'
MM = 72 / 25.4

# The sample's lines, as the engine rounds them (quantity x rate, half-up to the cent), and VAT 19% per bill.
PDU_NET = (
    Decimal("450.00")
    + round_money(Decimal("2184.375") * Decimal("0.3124"), "EUR")
    + round_money(Decimal("3921.5") * Decimal("0.2261"), "EUR")
)
MAIN_NET = round_money(Decimal("4620") * Decimal("0.2710"), "EUR") + round_money(
    Decimal("1150") * Decimal("0.2710"), "EUR"
)
VAT = round_money(PDU_NET * Decimal("0.19"), "EUR") + round_money(MAIN_NET * Decimal("0.19"), "EUR")
TOTAL = PDU_NET + MAIN_NET + VAT


def read(data: bytes) -> PdfReader:
    return PdfReader(io.BytesIO(data))


def plain(text: str) -> str:
    """Babel's no-break and thin spaces read as spaces, runs of spaces as one."""
    return re.sub("[ \u00a0\u202f\u2009]+", " ", text)


def text_of(data: bytes) -> str:
    return plain("\n".join(page.extract_text() for page in read(data).pages))


def xmp_of(data: bytes) -> str:
    metadata = read(data).trailer["/Root"]["/Metadata"].get_object()
    return str(metadata.get_data().decode("utf-8"))


def test_the_sample_total_is_what_the_invoice_says() -> None:
    assert sample_invoice().total == TOTAL == Decimal("4263.44")


def test_an_english_invoice_shows_its_number_total_period_and_meters() -> None:
    text = text_of(invoice_pdf(sample_document(language="en")))

    assert "INV-2026-000731" in text
    assert "€4,263.44" in text  # TOTAL
    assert "Nov 1, 2026 – Nov 30, 2026" in text
    assert "Dec 17, 2026" in text  # due
    assert "MAIN-HV-01" in text and "PDU-B-0417" in text
    assert "C-10042" in text and "DE293817465" in text  # customer number, buyer VAT id


def test_a_german_customer_reads_german_labels_and_german_numbers() -> None:
    text = text_of(invoice_pdf(sample_document(language="de")))

    for label in (
        "Rechnung",
        "Rechnungsnummer",
        "Fällig am",
        "Leistungszeitraum",
        "Kundennummer",
        "Zähler",
        "Anfangsstand",
        "Endstand",
        "davon geschätzt",
        "Gesamtbetrag (EUR)",
        "Verwendungszweck",
    ):
        assert label in text, label
    assert "4.263,44 €" in text  # TOTAL
    assert "01.11.2026 – 30.11.2026" in text
    assert "17.12.2026" in text
    assert "18.402,35" in text and "18.864,35" in text  # the register meter's reads
    assert "6.105,875 kWh" in text and "96,25 kWh" in text  # consumption and its estimated part
    assert "0,3124 €/kWh" in text and "2.184,375 kWh" in text and "682,40" in text  # a TOU line


def test_every_name_renders_in_its_own_letters() -> None:
    doc = sample_document(language="de", buyer_name="Łukasz Wójcik & Jürgen Äßler 中文科技")

    text = text_of(invoice_pdf(doc))

    assert "Łukasz Wójcik & Jürgen Äßler 中文科技" in text
    assert "€" in text


def test_a_name_beyond_the_common_glyphs_is_drawn_from_the_whole_font() -> None:
    # Armenian lies outside the Latin/Greek/Cyrillic cut of DejaVu that most documents are subset from
    doc = sample_document(language="en", buyer_name="Երևան Data Center")

    assert "Երևան Data Center" in text_of(invoice_pdf(doc))


def test_taxes_are_shown_per_rate_with_their_base() -> None:
    text = text_of(invoice_pdf(sample_document(language="de")))

    assert "Nettobetrag" in text and "3.582,72 €" in text  # PDU_NET + MAIN_NET
    assert "VAT: 19 % auf 3.582,72 €" in text
    assert "680,72 €" in text  # VAT, the two bills' taxes added up


def test_taxes_by_rate_add_up_the_bills_tax_lines_of_one_rate() -> None:
    (vat,) = taxes_by_rate(sample_invoice().lines)

    assert (vat.name, vat.rate, vat.base, vat.amount) == ("VAT", Decimal("0.19"), PDU_NET + MAIN_NET, VAT)


def test_a_shared_meter_line_explains_the_share_and_its_base() -> None:
    text = text_of(invoice_pdf(sample_document(language="en")))

    assert "your share 25% of 18,480 kWh" in text  # 4,620 kWh / 0.25
    assert "Shared usage: cooling plant" in text


def test_the_daily_average_and_the_chart_values_are_on_the_page() -> None:
    text = text_of(invoice_pdf(sample_document(language="de")))

    assert "357,5" in text  # (4620 + 6105.875) kWh / 30 days = 357.529...
    assert "kWh pro Tag" in text
    assert "10.726" in text  # this period's bar: 10,725.875 kWh
    assert "9.480" in text and "10.380" in text  # the oldest and the latest month of the history
    assert "Nov. 25" in text and "Okt. 26" in text


def test_a_credit_note_says_which_invoice_it_corrects_and_why() -> None:
    original = sample_invoice()
    lines = tuple(replace(line, quantity=-line.quantity, amount=-line.amount) for line in original.lines[:2])
    draft = Invoice(
        id=note_id(original.id, 1),
        account_id=original.account_id,
        customer_id=original.customer_id,
        kind="credit_note",
        period_start=original.period_start,
        period_end=original.period_end,
        currency="EUR",
        lines=lines,
        computed_at=datetime(2026, 12, 10, tzinfo=UTC),
        corrects=original.id,
        reason="PDU-B-0417 was read twice on Nov 12",
    )
    note = issue(draft, "CN-2026-000012", datetime(2026, 12, 10, 9, 0, tzinfo=UTC))
    doc = replace(
        sample_document(language="en"),
        invoice=note,
        corrected=CorrectedInvoice("INV-2026-000731", date(2026, 12, 3)),
    )

    text = text_of(invoice_pdf(doc))

    assert "Credit note" in text and "CN-2026-000012" in text
    assert "This credit note corrects invoice INV-2026-000731 of Dec 3, 2026." in text
    assert "Reason: PDU-B-0417 was read twice on Nov 12" in text
    assert "Total credited (EUR)" in text
    assert "-€1,132.40" in text  # -(450.00 + 682.40)
    assert "average daily consumption" not in text  # a note's quantities are corrections, not usage


def test_a_long_invoice_numbers_every_page_in_its_footer() -> None:
    data = invoice_pdf(sample_document(language="en", lines_per_meter=30))
    pages = read(data).pages

    assert len(pages) >= 2
    for number, page in enumerate(pages, start=1):
        footer = plain(page.extract_text())
        assert f"INV-2026-000731 · Page {number} / {len(pages)}" in footer


def test_a_german_page_footer_says_seite() -> None:
    data = invoice_pdf(sample_document(language="de", lines_per_meter=30))

    assert re.search(r"INV-2026-000731 · Seite 2 / \d", text_of(data))


def test_a_buyer_in_the_us_gets_us_letter_and_everyone_else_a4() -> None:
    us = sample_document(language="en", country="US")
    us = replace(
        us,
        buyer=replace(
            us.buyer,
            address=Address(lines=("500 Main St",), postal_code="80202", city="Denver", country="US"),
        ),
    )
    letter = read(invoice_pdf(us)).pages[0].mediabox
    a4 = read(invoice_pdf(sample_document(language="en"))).pages[0].mediabox

    assert (round(float(letter.width), 1), round(float(letter.height), 1)) == (612.0, 792.0)
    assert (round(float(a4.width) / MM), round(float(a4.height) / MM)) == (210, 297)
    assert "United States" in text_of(invoice_pdf(us))  # abroad from the seller: the country is named


def test_the_same_document_renders_to_the_same_bytes() -> None:
    doc = sample_document(language="en", logo=sample_logo())

    assert invoice_pdf(doc, factur_x_xml=FACTUR_X_XML) == invoice_pdf(doc, factur_x_xml=FACTUR_X_XML)


def test_the_logo_is_drawn_as_an_image() -> None:
    page = read(invoice_pdf(sample_document(logo=sample_logo()))).pages[0]
    images = [x.get_object() for x in page["/Resources"]["/XObject"].values()]

    assert [(image["/Subtype"], image["/Width"], image["/Height"]) for image in images] == [
        ("/Image", 360, 110)
    ]


# --- PDF/A-3B and Factur-X --------------------------------------------------------------------------------


def fonts_of(reader: PdfReader) -> list[Any]:
    fonts = []
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            fonts.append(font.get_object())
    return fonts


def test_the_pdf_is_pdf_a_3b_with_an_output_intent_and_every_font_embedded() -> None:
    data = invoice_pdf(sample_document(language="de", buyer_name="中文 Łódź"))
    reader = read(data)
    root = reader.trailer["/Root"]
    xmp = xmp_of(data)

    assert root["/OutputIntents"][0].get_object()["/S"] == "/GTS_PDFA1"
    assert "<pdfaid:part>3</pdfaid:part>" in xmp and "<pdfaid:conformance>B</pdfaid:conformance>" in xmp
    assert "/Encrypt" not in reader.trailer
    fonts = fonts_of(reader)
    assert {str(font["/BaseFont"]).split("+")[1] for font in fonts} == {
        "DejaVuSansBook",
        "DejaVuSansBold",
        "DroidSansFallback",
    }
    for font in fonts:
        descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"].get_object()
        assert "/FontFile2" in descriptor, font["/BaseFont"]


def test_without_cjk_the_fallback_font_is_not_embedded() -> None:
    fonts = fonts_of(read(invoice_pdf(sample_document(language="en"))))

    assert {str(font["/BaseFont"]).split("+")[1] for font in fonts} == {"DejaVuSansBook", "DejaVuSansBold"}


def test_the_metadata_is_in_the_xmp_alone_and_dated_when_the_invoice_was_issued() -> None:
    data = invoice_pdf(sample_document(language="en"))
    xmp = xmp_of(data)

    assert "/Info" not in read(data).trailer  # nothing that could disagree with the XMP
    assert '<rdf:li xml:lang="x-default">Invoice INV-2026-000731</rdf:li>' in xmp
    assert "<xmp:CreateDate>2026-12-03T07:30:00+00:00</xmp:CreateDate>" in xmp  # issued_at, not the clock
    assert "<dc:creator><rdf:Seq><rdf:li>Nordhafen Rechenzentren GmbH</rdf:li></rdf:Seq></dc:creator>" in xmp


def test_the_factur_x_xml_is_embedded_as_data_with_its_xmp_block() -> None:
    data = invoice_pdf(sample_document(language="en"), factur_x_xml=FACTUR_X_XML)
    reader = read(data)
    root = reader.trailer["/Root"]
    xmp = xmp_of(data)

    (spec,) = [x.get_object() for x in root["/AF"]]
    assert isinstance(root["/AF"], ArrayObject) and isinstance(spec, DictionaryObject)
    assert (spec["/F"], spec["/UF"], spec["/AFRelationship"]) == ("factur-x.xml", "factur-x.xml", "/Data")
    assert reader.attachments == {"factur-x.xml": [FACTUR_X_XML]}
    assert spec["/EF"]["/F"].get_object()["/Subtype"] == "/text/xml"
    names = root["/Names"]["/EmbeddedFiles"]["/Names"]
    assert names[0] == "factur-x.xml"
    for element in (
        "<fx:DocumentType>INVOICE</fx:DocumentType>",
        "<fx:DocumentFileName>factur-x.xml</fx:DocumentFileName>",
        "<fx:Version>1.0</fx:Version>",
        "<fx:ConformanceLevel>EN 16931</fx:ConformanceLevel>",
        "<pdfaSchema:namespaceURI>urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#"
        "</pdfaSchema:namespaceURI>",
        "<pdfaSchema:prefix>fx</pdfaSchema:prefix>",
    ):
        assert element in xmp, element
    assert xmp.count("<pdfaProperty:name>") == 4


def test_the_factur_x_library_finds_the_xml_and_its_level() -> None:
    facturx = pytest.importorskip("facturx")
    data = invoice_pdf(sample_document(language="en"), factur_x_xml=FACTUR_X_XML)

    filename, xml = facturx.get_xml_from_pdf(data, check_xsd=False)

    assert (filename, xml) == ("factur-x.xml", FACTUR_X_XML)


def test_without_xml_nothing_is_embedded_and_the_xmp_has_no_factur_x_block() -> None:
    data = invoice_pdf(sample_document(language="en"))

    assert "/AF" not in read(data).trailer["/Root"]
    assert "fx:" not in xmp_of(data)


def test_an_unrounded_line_never_reaches_the_pdf() -> None:
    # The invoice refuses it first: the PDF shows exactly the stored amounts.
    line = sample_invoice().lines[0]
    with pytest.raises(ValueError, match="not rounded"):
        replace(
            sample_invoice(),
            lines=(
                InvoiceLine(**{**{f: getattr(line, f) for f in line.__slots__}, "amount": Decimal("1.005")}),
            ),
        )


def _document_with(**changes: Any) -> InvoiceDocument:
    return replace(sample_document(language="en"), **changes)


def test_a_custom_bill_title_heads_the_page_and_the_kind_is_still_said() -> None:
    text = text_of(invoice_pdf(_document_with(title="Colocation power bill")))

    assert "Colocation power bill" in text and "Invoice number" in text
    assert '<rdf:li xml:lang="x-default">Colocation power bill INV-2026-000731</rdf:li>' in xmp_of(
        invoice_pdf(_document_with(title="Colocation power bill"))
    )
