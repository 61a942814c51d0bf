"""The fonts of the invoice PDF, embedded from a subset made once per process
(documents.pdf_fonts ``FixedSubsetOutput``): every character still maps to the same glyph, the same width
and the same Unicode text as when fpdf2 subsets the font itself, and the fpdf2 internals this relies on are
still there."""

from __future__ import annotations

import inspect
import io
from datetime import UTC, datetime

import fpdf
import pytest
from fontTools import ttLib  # type: ignore[import-untyped]
from fpdf.output import OutputProducer
from pypdf import PdfReader
from pypdf.generic import DictionaryObject

from meterbill.documents import page as page_module
from meterbill.documents import pdf as pdf_module
from meterbill.documents import pdf_fonts
from meterbill.documents.facturx import invoice_xml
from meterbill.documents.pdf import invoice_pdf
from meterbill.documents.pdf_fonts import EMBEDDED_RANGES
from meterbill.documents.sample import sample_document, sample_logo


def _fonts(data: bytes) -> dict[str, DictionaryObject]:
    """Each font of the PDF by its name without the subset tag (DejaVuSansBook, ...)."""
    fonts: dict[str, DictionaryObject] = {}
    for page in PdfReader(io.BytesIO(data)).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            fonts[str(font["/BaseFont"]).split("+")[1]] = font
    return fonts


def _glyphs_by_text(font: DictionaryObject) -> dict[str, tuple[int, object]]:
    """What each code the page uses stands for (ToUnicode) -> the glyph drawn for it (CIDToGIDMap into the
    embedded program): its advance width and its outline (composite glyphs resolved: their components'
    glyph ids differ from one subset to another, their points do not)."""
    cid_font = font["/DescendantFonts"][0].get_object()
    program = ttLib.TTFont(io.BytesIO(cid_font["/FontDescriptor"]["/FontFile2"].get_object().get_data()))
    cid_to_gid = cid_font["/CIDToGIDMap"].get_object().get_data()
    cmap = font["/ToUnicode"].get_object().get_data().decode("latin-1")
    order, glyf, hmtx = program.getGlyphOrder(), program["glyf"], program["hmtx"]
    glyphs: dict[str, tuple[int, object]] = {}
    for code, text in (
        line[1:-1].split("> <") for line in cmap.splitlines() if line.startswith("<") and "> <" in line
    ):
        if code in ("0000",):
            continue
        c = int(code, 16)
        name = order[int.from_bytes(cid_to_gid[c * 2 : c * 2 + 2], "big")]
        character = bytes.fromhex(text).decode("utf-16-be")
        coordinates, end_points, flags = glyf[name].getCoordinates(glyf)
        glyphs[character] = (hmtx[name][0], (list(coordinates), list(end_points), list(flags)))
    return glyphs


def _render(buyer_name: str) -> bytes:
    doc = sample_document(language="de", logo=sample_logo(), lines_per_meter=14, buyer_name=buyer_name)
    return invoice_pdf(doc, factur_x_xml=invoice_xml(doc))


@pytest.mark.parametrize(
    ("buyer_name", "extracted"),
    [
        ("Łukasz Wójcik & Jürgen Äßler", "Łukasz Wójcik & Jürgen Äßler"),  # all in the fixed subsets
        ("Łukasz 中文科技 Ωμέγα", "Łukasz 中文科技 Ωμέγα"),  # CJK fallback; Greek: fpdf2 subsets DejaVu
        ("Zoë ☃ Ltd", "Zoë ☃ Ltd"),  # in DejaVu, not in the fixed subset
        ("Zoë \U0001f984 Ltd", "Zoë  Ltd"),  # in no font: fpdf2 warns and draws nothing, as before
    ],
)
def test_every_character_is_drawn_with_the_glyph_fpdf2_would_embed(
    buyer_name: str, extracted: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = _render(buyer_name)
    monkeypatch.setattr(pdf_module, "FixedSubsetOutput", OutputProducer)  # fpdf2 subsets every font itself
    reference = _render(buyer_name)

    fast_fonts, reference_fonts = _fonts(fast), _fonts(reference)
    assert fast_fonts.keys() == reference_fonts.keys()
    for name, font in fast_fonts.items():
        cid_font = font["/DescendantFonts"][0].get_object()
        reference_cid_font = reference_fonts[name]["/DescendantFonts"][0].get_object()
        assert cid_font["/W"] == reference_cid_font["/W"], name  # the widths the page was laid out with
        assert _glyphs_by_text(font) == _glyphs_by_text(reference_fonts[name]), name
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(fast)).pages)
    assert text == "".join(page.extract_text() for page in PdfReader(io.BytesIO(reference)).pages)
    assert extracted in text


def test_a_face_drawing_only_common_characters_embeds_the_fixed_subset_and_one_with_greek_its_own() -> None:
    fonts = _fonts(_render("Jürgen Äßler Ωμέγα"))
    assert "Ω" not in "".join(chr(c) for start, end in EMBEDDED_RANGES for c in range(start, end))

    with_greek = []
    for name, style in (("DejaVuSansBook", ""), ("DejaVuSansBold", "B")):
        program = fonts[name]["/DescendantFonts"][0].get_object()["/FontDescriptor"]["/FontFile2"]
        greek = "Ω" in _glyphs_by_text(fonts[name])
        assert (program.get_object().get_data() == pdf_fonts.fixed_subset("DejaVu", style).data) != greek
        with_greek += [name] if greek else []
    assert with_greek  # the name is drawn in one face at least


def test_the_two_page_invoice_stays_under_100_kb() -> None:
    """The fixed subsets add ~16 KB per face to what a per-document subset weighs (the sample: ~50 KB)."""
    data = _render("Łukasz Wójcik & Jürgen Äßler")

    assert len(data) < 100_000


def test_fpdf2_internals_the_font_fast_path_relies_on() -> None:
    """documents.pdf_fonts ``FixedSubsetOutput`` replaces fpdf2's ``OutputProducer._add_fonts`` for two
    fonts and writes the objects fpdf2 2.8.9 writes. A new fpdf2 may write them differently: check
    ``FixedSubsetOutput._embed_fixed`` against fpdf/output.py ``_add_fonts`` (the TTFFont branch), then
    update the version here."""
    assert fpdf.__version__ == "2.8.9", (
        "fpdf2 changed: re-check documents.pdf_fonts FixedSubsetOutput against fpdf2's _add_fonts"
    )
    parameters = list(inspect.signature(OutputProducer._add_fonts).parameters)
    assert parameters == [
        "self",
        "image_objects_per_index",
        "gfxstate_objs_per_name",
        "pattern_objs_per_name",
    ]
    source = inspect.getsource(OutputProducer._add_fonts)
    for what in (
        "options = ftsubset.Options(notdef_outline=True, recommended_glyphs=True)",
        'fontname = f"MPDFAA+{font.name}"',
        'subtype="Type0", base_font=fontname, encoding="Identity-H"',
        "d_w=font.desc.missing_width",
        "cid_font_obj.c_i_d_to_g_i_d_map = cid_to_gid_map_obj",
        "font_descriptor_obj.font_file2 = font_file_cs_obj",
    ):
        assert what in source, what
    assert "self._add_fonts(" in inspect.getsource(OutputProducer._insert_resources)
    assert "output_producer_class" in inspect.signature(fpdf.FPDF.output).parameters


class _NeverStores(dict[object, object]):
    def __setitem__(self, key: object, value: object) -> None:
        pass


def test_the_per_process_caches_change_no_byte_of_the_document(monkeypatch: pytest.MonkeyPatch) -> None:
    """The line breaks and the logo, kept across documents, give the bytes fpdf2 gives without them."""
    page_module._wrapped.clear()
    first = _render("Łukasz Wójcik & Jürgen Äßler")
    assert page_module._wrapped  # the footer and long lines were broken once
    second = _render("Łukasz Wójcik & Jürgen Äßler")
    monkeypatch.setattr(page_module, "_wrapped", _NeverStores())
    monkeypatch.setattr(pdf_module, "preload_logo", lambda pdf, data: None)
    reference = _render("Łukasz Wójcik & Jürgen Äßler")

    assert first == second == reference


def test_a_cached_line_break_is_per_font_size_and_width() -> None:
    text = "Grundpreis Messstellenbetrieb und Netzentgelt für den Zählpunkt DE0001234567890 " * 2
    for size, width in ((8.5, 80.0), (12.0, 80.0), (8.5, 50.0), (8.5, 80.0)):
        page = pdf_module._new_pdf(sample_document(language="de"), datetime(2026, 12, 1, tzinfo=UTC))
        page.add_page()
        page.set_font(pdf_module.FONT, "", size)
        expected = page.multi_cell(width, 1, text, align="L", dry_run=True, output="LINES")

        assert page_module.wrap(page, text, width) == expected
        assert page_module.wrap(page, text, width) == expected  # from the cache
