"""The page every meterbill document is drawn on (invoices, notes, savings reports): the layout's measures
and colours, fpdf2 with the seller's footer on every page and the CJK fallback font on demand, and line
breaking that fpdf2 does once per text, font and width in a process (``wrap``, ``write``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import TTFFont
from fpdf.line_break import Fragment

from meterbill.documents.pdf_fonts import FALLBACK_FONT, FONT, install_font, prototype

PRODUCER: Final = "meterbill (fpdf2)"
MARGIN: Final = 16.0  # mm, left and right
TOP: Final = 14.0
FOOTER_HEIGHT: Final = 16.0
ROW: Final = 5.0  # a table row's line height
ACCENT: Final = (0, 84, 122)
GREY: Final = (100, 100, 100)
RULE: Final = (200, 200, 200)
SHADE: Final = (238, 243, 246)


class Page(FPDF):
    """fpdf2 with a document's footer on every page: ``footer_left`` (the seller's legal details),
    ``footer_number`` and "page n / N" on the right."""

    footer_left: str = ""
    footer_number: str = ""
    footer_page: str = "{page} / {pages}"  # the label, filled per page ("{nb}": fpdf2's page count)
    footer_lines: list[str] | None = None

    def footer(self) -> None:
        self.set_y(-FOOTER_HEIGHT + 3)
        self.set_draw_color(*RULE)
        self.set_line_width(0.2)
        self.line(MARGIN, self.get_y(), self.w - MARGIN, self.get_y())
        self.set_font(FONT, "", 6.5)
        self.set_text_color(*GREY)
        self.set_y(self.get_y() + 1.5)
        width = self.w - 2 * MARGIN
        top = self.get_y()
        if self.footer_lines is None:  # the same on every page: broken into lines once
            self.footer_lines = wrap(self, self.footer_left, width * 0.72)
        for line in self.footer_lines:
            self.set_x(MARGIN)
            self.cell(width * 0.72, 3.2, line, new_x=XPos.LEFT, new_y=YPos.NEXT)
        self.set_xy(MARGIN + width * 0.72, top)
        page = self.footer_page.format(page=self.page_no(), pages="{nb}")
        self.cell(width * 0.28, 3.2, f"{self.footer_number}  ·  {page}", align="R")
        self.set_text_color(0, 0, 0)

    def _parse_chars(
        self,
        text: str,
        markdown: bool,
        *,
        _initial_emphasis: tuple[bool, bool, bool, bool] | None = None,
    ) -> Iterator[Fragment]:
        """fpdf2 splits text into fragments character by character whenever fallback fonts are set; text
        the current font covers whole (nearly all) takes fpdf2's one-fragment path instead."""
        font = self.current_font
        fallbacks = self._fallback_font_ids
        if not markdown and isinstance(font, TTFFont) and all(map(font.cmap.__contains__, map(ord, text))):
            self._fallback_font_ids = []
            try:
                fragments = list(super()._parse_chars(text, markdown, _initial_emphasis=_initial_emphasis))
            finally:
                self._fallback_font_ids = fallbacks
            return iter(fragments)
        return super()._parse_chars(text, markdown, _initial_emphasis=_initial_emphasis)

    def get_fallback_font(self, char: str, style: str = "") -> str | None:
        """Droid Sans Fallback for what DejaVu lacks (CJK), added to the document only when a character
        needs it: an unused font would still be embedded."""
        if ord(char) not in prototype(FALLBACK_FONT, "").cmap:
            return None
        key = FALLBACK_FONT.lower()
        if key not in self.fonts:
            install_font(self, FALLBACK_FONT, "")
        return key

    def _lines(self, width: float) -> int:
        return len(wrap(self, self.footer_left, width))


def wrap(pdf: FPDF, text: str, width: float) -> list[str]:
    """``text`` broken into lines of at most ``width`` in the current font (fpdf2's line breaking, which is
    slow, only for a text that does not fit on one line)."""
    if pdf.get_string_width(text) <= width - 2 * pdf.c_margin:
        return [text]
    font = pdf.current_font
    assert isinstance(font, TTFFont)
    # Where fpdf2 breaks a text depends on nothing but the text, the font, its size, spacing and stretch,
    # the width and the cell margin: the same seller's footer, address or tariff line breaks the same way
    # in every document of a process (~0.4 ms each; the footer ~2 ms), so it is broken once. Drawing the
    # lines (cell) still records the glyphs used, and adds the CJK fallback font when a line needs it.
    key = (text, width, font.fontkey, pdf.font_size_pt, pdf.c_margin, pdf.k, pdf.char_spacing)
    lines = _wrapped.get(key)
    if lines is None or pdf.font_stretching != 100:
        broken = pdf.multi_cell(width, 1, text, align="L", dry_run=True, output="LINES")
        assert isinstance(broken, list)
        lines = tuple(str(line) for line in broken)
        if pdf.font_stretching == 100:
            if len(_wrapped) >= WRAP_CACHE_SIZE:
                _wrapped.clear()  # a bill run's texts repeat; a crude bound on memory is enough
            _wrapped[key] = lines
    return list(lines)


WRAP_CACHE_SIZE: Final = 4096
_wrapped: dict[tuple[str, float, str, float, float, float, float], tuple[str, ...]] = {}


def write(pdf: FPDF, width: float, height: float, text: str, align: str = "L") -> int:
    """``text`` in lines of ``width`` from the current position down; then x where it began, y below the
    last line. The number of lines."""
    x = pdf.get_x()
    lines = wrap(pdf, text, width)
    for line in lines:
        pdf.set_x(x)
        pdf.cell(width, height, line, align=align, new_x=XPos.LEFT, new_y=YPos.NEXT)
    return len(lines)


def forget_line_breaks() -> None:
    """Empties the line-break cache (for the benchmark's worst case and for tests)."""
    _wrapped.clear()
