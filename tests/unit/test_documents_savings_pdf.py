"""The savings report PDF, read back with pypdf: the same figures as the report, per installation and in
total, in English or German, as PDF/A-3B with every font embedded."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from pypdf import PdfReader

from meterbill.billing.savings import NodeUsage, savings_report
from meterbill.documents.savings_pdf import SavingsReportDocument, savings_pdf
from meterbill.timeutil import local_midnight

D = Decimal
BERLIN = ZoneInfo("Europe/Berlin")
WEEK = (date(2026, 10, 19), date(2026, 10, 26))  # 169 hours: the clocks go back on the 25th
MADE_AT = datetime(2026, 10, 26, 1, 30, tzinfo=UTC)


def usage(node: str, site: str, name: str, on: str, watts: str, price: str) -> NodeUsage:
    start, end = (local_midnight(day, BERLIN) for day in WEEK)
    return NodeUsage(node, site, name, start, end, D(on), D(watts), D(price), "EUR")


def document(language: str = "en") -> SavingsReportDocument:
    report = savings_report(
        [
            usage("n1", "berlin", "Berlin Plant", "100", "60", "0.30"),  # 69 h x 60 x 0.30 / 1000 = 1.242
            usage(
                "n2", "berlin", "Berlin Plant", "0.5", "2500", "0.30"
            ),  # 168.5 x 2500 x 0.30 / 1000 = 126.375
            usage("n3", "munich", "München Depot 中", "40.25", "1000", "0.28"),  # 128.75 x 1000 x 0.28 / 1000
        ]
    )
    return SavingsReportDocument(
        report, *WEEK, issuer="Alpiron Łódź GmbH", language=language, made_at=MADE_AT
    )  # type: ignore[arg-type]


def text_of(data: bytes) -> str:
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    return re.sub("[ \u00a0\u202f\u2009]+", " ", text)


def test_the_english_report_shows_each_node_and_the_totals_to_the_cent() -> None:
    text = text_of(savings_pdf(document("en")))

    assert "Savings report" in text and "Alpiron Łódź GmbH" in text
    assert "Oct 19, 2026 – Oct 25, 2026" in text
    assert "Installation: Berlin Plant (berlin)" in text and "Installation: München Depot 中 (munich)" in text
    assert "n1 100.00 69.00 60 €0.30 €1.24" in text
    assert "n2 0.50 168.50 2,500 €0.30 €126.38" in text
    assert "n3 40.25 128.75 1,000 €0.28 €36.05" in text
    assert "Total Berlin Plant €127.62" in text  # 1.24 + 126.38
    assert "Total savings €163.67" in text  # 127.62 + 36.05


def test_the_german_report_speaks_german_with_german_numbers() -> None:
    text = text_of(savings_pdf(document("de")))

    assert "Einsparbericht" in text and "Zeitraum: 19.10.2026 – 25.10.2026" in text
    assert "Anlage: Berlin Plant (berlin)" in text
    assert "n2 0,50 168,50 2.500 0,30 € 126,38 €" in text
    assert "Summe Berlin Plant 127,62 €" in text
    assert "Gesamteinsparung 163,67 €" in text


def test_the_report_is_pdf_a_3b_with_every_font_embedded_and_renders_the_same_bytes_again() -> None:
    data = savings_pdf(document("en"))
    reader = PdfReader(io.BytesIO(data))
    root = reader.trailer["/Root"]
    xmp = root["/Metadata"].get_object().get_data().decode("utf-8")

    assert root["/OutputIntents"][0].get_object()["/S"] == "/GTS_PDFA1"
    assert "<pdfaid:part>3</pdfaid:part>" in xmp and "<pdfaid:conformance>B</pdfaid:conformance>" in xmp
    assert "<xmp:MetadataDate>2026-10-26T01:30:00+00:00</xmp:MetadataDate>" in xmp  # made_at, not the clock
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            descriptor = font.get_object()["/DescendantFonts"][0].get_object()["/FontDescriptor"]
            assert "/FontFile2" in descriptor.get_object()
    assert savings_pdf(document("en")) == data


def test_a_report_without_nodes_says_so() -> None:
    empty = SavingsReportDocument(savings_report([]), *WEEK, issuer="A", language="en", made_at=MADE_AT)

    assert "No node had savings in this period." in text_of(savings_pdf(empty))
