"""How fonts and the logo get into an invoice PDF fast: the bundled TTFs parsed once per process, DejaVu
embedded from one fixed subset per face (Latin, Greek, Cyrillic, punctuation, €) instead of a subset per
document, the CJK fallback font only when a character needs it, and a logo decoded once.

fpdf2 would subset every font for every document (~9 ms of a ~40 ms render); the output producer here
(``FixedSubsetOutput``) embeds the cached subset whenever a document's glyphs all fall in it and leaves any
other document to fpdf2. It mirrors fpdf2 2.8.9's own font writing: ``tests/unit/test_documents_fonts.py``
pins those internals and proves the caches change no byte.
"""

from __future__ import annotations

import copy
import hashlib
import io
import zlib
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import Final, cast

from fontTools import ttLib  # type: ignore[import-untyped]
from fpdf import FPDF
from fpdf.fonts import SubsetMap, TTFFont
from fpdf.image_datastructures import ImageFilter, RasterImageInfo
from fpdf.image_parsing import get_img_info
from fpdf.output import (
    CIDSystemInfo,
    OutputProducer,
    PDFExtGState,
    PDFFont,
    PDFType3Font,
    PDFXObject,
    _build_cmap_blocks,
    _tt_font_widths,
)
from fpdf.pattern import Pattern
from fpdf.syntax import Name, PDFArray, PDFContentStream

FONT: Final = "DejaVu"
FALLBACK_FONT: Final = "DroidFallback"


@cache
def _font_dir() -> Path:
    return Path(str(resources.files("meterbill.documents") / "fonts"))


FONT_FILES: Final = {
    (FONT, ""): "DejaVuSans.ttf",
    (FONT, "B"): "DejaVuSans-Bold.ttf",
    (FALLBACK_FONT, ""): "DroidSansFallbackFull.ttf",
}


@cache
def _font_bytes(filename: str) -> bytes:
    return (_font_dir() / filename).read_bytes()


@cache
def prototype(family: str, style: str) -> TTFFont:
    """A font parsed once per process (widths, cmap, glyph ids: ~150 ms for the CJK fallback)."""
    scratch = FPDF()
    return TTFFont(scratch, _font_dir() / FONT_FILES[(family, style)], f"{family.lower()}{style}", style)


def install_font(pdf: FPDF, family: str, style: str) -> str:
    """The cached font added to ``pdf`` with its own fontTools object to subset (fpdf2 subsets it in place
    at output) and its own record of the glyphs used; what fpdf2's ``add_font`` does, without re-parsing
    the file for every document."""
    parsed = prototype(family, style)
    font = copy.copy(parsed)
    font.i = len(pdf.fonts) + 1
    font.ttfont = ttLib.TTFont(
        io.BytesIO(_font_bytes(FONT_FILES[(family, style)])),
        recalcTimestamp=False,
        recalcBBoxes=False,
        lazy=True,
    )
    font.ttfont.setGlyphOrder(parsed.ttfont.getGlyphOrder())
    font.missing_glyphs = []
    font.biggest_size_pt = 0
    font.subset = SubsetMap(font)
    pdf.fonts[font.fontkey] = font
    return font.fontkey


# The glyphs nearly every invoice draws from: Latin (with Extended-A/B), Greek, Cyrillic, punctuation,
# currency signs. fpdf2 subsets a font at output; subsetting this quarter of DejaVu instead of all of it
# takes a third of the time, so a document whose glyphs all lie here is subset from it (else from the full
# font). Glyph names are kept, which is how fpdf2 finds the glyphs in the font it subsets.
COMMON_RANGES: Final = ((0x20, 0x250), (0x370, 0x530), (0x2000, 0x2070), (0x20A0, 0x20C0), (0x2100, 0x2200))


@cache
def _common_font(family: str, style: str) -> tuple[bytes, frozenset[str]]:
    from fontTools import subset as ftsubset

    font = ttLib.TTFont(io.BytesIO(_font_bytes(FONT_FILES[(family, style)])), recalcTimestamp=False)
    options = ftsubset.Options(notdef_outline=True, recommended_glyphs=True, glyph_names=True)
    options.drop_tables += ["FFTM", "GDEF", "GPOS", "GSUB", "MATH", "hdmx", "meta"]
    subsetter = ftsubset.Subsetter(options)
    subsetter.populate(unicodes=[c for start, end in COMMON_RANGES for c in range(start, end)])
    subsetter.subset(font)
    buffer = io.BytesIO()
    font.save(buffer)
    return buffer.getvalue(), frozenset(font.getGlyphOrder())


def subset_from_common_glyphs(pdf: FPDF) -> None:
    """Before output: each font whose used glyphs are all common is subset from the common font (unless
    it is embedded from its fixed subset, below, which needs no subsetting at all)."""
    for (family, style), _ in FONT_FILES.items():
        font = pdf.fonts.get(f"{family.lower()}{style}")
        if not isinstance(font, TTFFont) or family == FALLBACK_FONT or _covering_subset(font) is not None:
            continue
        data, names = _common_font(family, style)
        if names.issuperset(font.subset.get_all_glyph_names()):
            font.ttfont = ttLib.TTFont(io.BytesIO(data), recalcTimestamp=False, recalcBBoxes=False, lazy=True)


# --- embedding the fonts without subsetting them per document --------------------------------------------

# What fpdf2 subsets at output costs ~11 ms a document (fontTools decompiles, prunes and recompiles the font
# for exactly the glyphs used). Every English or German invoice (and French, Polish, Czech, ...) draws only
# from the characters below, so each DejaVu face is subset to them once per process and that subset is
# embedded as it is: a few more glyphs than the page uses (~25 KB more per face, compressed), and a
# document's glyphs drawn exactly as before (the same font program, glyph for glyph). A document with a
# glyph outside the set (Greek, Cyrillic, ...) takes fpdf2's subsetting as before; CJK is the fallback
# font's, which always does.
EMBEDDED_RANGES: Final = (
    (0x20, 0x7F),  # ASCII
    (0xA0, 0x180),  # Latin-1 (ä, ß, ·) and Latin Extended-A (ł, č, ő)
    (0x2010, 0x2027),  # dashes, quotes, bullets, ellipsis
    (0x2030, 0x203B),  # per mille, guillemets
    (0x20AC, 0x20AD),  # €
    (0x2212, 0x2213),  # minus
)


@dataclass(frozen=True, slots=True)
class _FixedSubset:
    """A face subset once to ``EMBEDDED_RANGES``: the TrueType program (and compressed, as embedded) and
    each glyph's id in it by name (glyph names are how fpdf2 records the glyphs a document used)."""

    data: bytes
    compressed: bytes
    glyph_ids: dict[str, int]


@cache
def fixed_subset(family: str, style: str) -> _FixedSubset:
    from fontTools import subset as ftsubset

    font = ttLib.TTFont(io.BytesIO(_font_bytes(FONT_FILES[(family, style)])), recalcTimestamp=False)
    # fpdf2's own options (fpdf/output.py, _add_fonts): the embedded program is what fpdf2 would embed,
    # with more glyphs
    options = ftsubset.Options(notdef_outline=True, recommended_glyphs=True)
    options.drop_tables += ["FFTM", "GDEF", "GPOS", "GSUB", "MATH", "hdmx", "meta"]
    subsetter = ftsubset.Subsetter(options)
    subsetter.populate(unicodes=[c for start, end in EMBEDDED_RANGES for c in range(start, end)])
    subsetter.subset(font)
    glyph_ids = {name: font.getGlyphID(name) for name in font.getGlyphOrder()}
    buffer = io.BytesIO()
    font.save(buffer)
    data = buffer.getvalue()
    return _FixedSubset(data, zlib.compress(data), glyph_ids)


def _covering_subset(font: object) -> _FixedSubset | None:
    """The fixed subset of one of our DejaVu faces that has every glyph the document used, if any."""
    if not isinstance(font, TTFFont) or font.color_font or font.missing_glyphs:
        return None  # fpdf2 warns about missing glyphs: its own path
    for (family, style), _ in FONT_FILES.items():
        if family != FALLBACK_FONT and font.fontkey == f"{family.lower()}{style}":
            subset = fixed_subset(family, style)
            if all(name in subset.glyph_ids for name in font.subset.get_all_glyph_names()):
                return subset
    return None


class FixedSubsetOutput(OutputProducer):
    """fpdf2's output, but the DejaVu faces a document draws only common characters with are embedded from
    their fixed subset. Relies on fpdf2 2.8.9 internals (``OutputProducer._add_fonts`` and its PDF objects),
    pinned by tests/unit/test_documents_pdf.py::test_fpdf2_internals_the_font_fast_path_relies_on."""

    def _add_fonts(
        self,
        image_objects_per_index: dict[int, PDFXObject],
        gfxstate_objs_per_name: dict[str, PDFExtGState],
        pattern_objs_per_name: dict[str, Pattern],
    ) -> dict[int, PDFFont | PDFType3Font]:
        registry = self.fpdf.fonts
        every = dict(registry)
        fixed = {key: (font, subset) for key, font in every.items() if (subset := _covering_subset(font))}
        for key in fixed:  # fpdf2 subsets the others as usual
            del registry[key]
        try:
            objects = super()._add_fonts(
                image_objects_per_index, gfxstate_objs_per_name, pattern_objs_per_name
            )
        finally:
            registry.clear()
            registry.update(every)
        for font, subset in sorted(fixed.values(), key=lambda pair: pair[0].i):
            objects[font.i] = self._embed_fixed(font, subset)  # type: ignore[arg-type]
        return objects

    def _embed_fixed(self, font: TTFFont, subset: _FixedSubset) -> PDFFont:
        """The objects fpdf2's ``_add_fonts`` writes for a TrueType font (Type0 / CIDFontType2, Identity-H,
        ToUnicode, CIDToGIDMap, FontFile2), with the fixed subset as the font program."""
        fontname = f"MPDFAA+{font.name}"
        composite = PDFFont(subtype="Type0", base_font=fontname, encoding="Identity-H")
        self._add_pdf_obj(composite, "fonts")
        cid_font = PDFFont(
            subtype="CIDFontType2", base_font=fontname, d_w=font.desc.missing_width, w=_tt_font_widths(font)
        )
        self._add_pdf_obj(cid_font, "fonts")
        composite.descendant_fonts = PDFArray([cid_font])
        used = [(glyph, code) for glyph, code in font.subset.items() if glyph is not None]
        bf_char = [
            f"<{code:04X}> <{''.join(_utf16_code(u) for u in glyph.unicode)}>\n"
            for glyph, code in used
            if isinstance(glyph.unicode, tuple) and glyph.unicode
        ]
        to_unicode = PDFContentStream(
            (
                "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n/CIDSystemInfo\n"
                "<</Registry (Adobe)\n/Ordering (UCS)\n/Supplement 0\n>> def\n"
                "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
                "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
                f"{_build_cmap_blocks(bf_char, 'bfchar')}"
                "endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend"
            ).encode("latin-1")
        )
        self._add_pdf_obj(to_unicode, "fonts")
        composite.to_unicode = to_unicode
        system_info = CIDSystemInfo()
        self._add_pdf_obj(system_info, "fonts")
        cid_font.c_i_d_system_info = system_info
        descriptor = font.desc
        descriptor.font_name = Name(fontname)
        self._add_pdf_obj(descriptor, "fonts")
        cid_font.font_descriptor = descriptor
        cid_to_gid = bytearray(256 * 256 * 2)  # code -> glyph id in the embedded program, two bytes each
        for glyph, code in used:
            gid = subset.glyph_ids[glyph.glyph_name]
            cid_to_gid[code * 2 : code * 2 + 2] = gid.to_bytes(2, "big")
        cid_to_gid_map = PDFContentStream(contents=bytes(cid_to_gid), compress=True)
        self._add_pdf_obj(cid_to_gid_map, "fonts")
        cid_font.c_i_d_to_g_i_d_map = cid_to_gid_map
        program = PDFContentStream(contents=subset.compressed)  # compressed once, with fpdf2's zlib level
        program.filter = Name("FlateDecode")
        program.length1 = len(subset.data)  # type: ignore[attr-defined]
        self._add_pdf_obj(program, "fonts")
        descriptor.font_file2 = program  # type: ignore[attr-defined]
        font.subset.pick.cache_clear()
        font.subset.get_glyph.cache_clear()
        font.close()
        return composite


def _utf16_code(unicode: int) -> str:
    if unicode > 0xFFFF:  # a surrogate pair
        return f"{0xD800 | (unicode - 0x10000) >> 10:04X}{0xDC00 | (unicode & 0x3FF):04X}"
    return f"{unicode:04X}"


@lru_cache(maxsize=16)
def logo_info(data: bytes, image_filter: str) -> RasterImageInfo | None:
    """fpdf2's reading of a logo (PIL decodes it, fpdf2 re-encodes it: ~2 ms), once per logo and process;
    None for a logo with an ICC profile, which fpdf2 registers per document (it then reads it itself)."""
    info = get_img_info(_logo_name(data), io.BytesIO(data), cast(ImageFilter, image_filter))
    return None if info.get("iccp") is not None else info


def _logo_name(data: bytes) -> str:
    """fpdf2's key of image bytes in its per-document image cache (fpdf/image_parsing.py preload_image)."""
    return hashlib.md5(data.strip(), usedforsecurity=False).hexdigest()


def preload_logo(pdf: FPDF, data: bytes) -> None:
    """The logo put into the document's image cache as fpdf2's ``preload_image`` would on a miss (a fresh
    copy: fpdf2 writes its index, usages and object id into it), so ``pdf.image`` takes its hit path."""
    cache = pdf.image_cache
    info = logo_info(data, cache.image_filter)
    name = _logo_name(data)
    if info is None or name in cache.images:
        return
    cache.images[name] = RasterImageInfo({**info, "i": len(cache.images) + 1, "usages": 0, "iccp_i": None})
