"""An account's logo as its invoices show it: a PNG or JPEG, small enough to ride in every PDF.

``read_logo`` accepts an upload only when every invoice can show it: the bytes begin like a PNG or a JPEG
(whatever the Content-Type claims), the file is at most ``MAX_LOGO_BYTES`` (one DynamoDB item holds it; every
PDF embeds it) and ``MAX_LOGO_PIXELS`` on each side, Pillow decodes it whole, its colours are RGB, grey or a
palette (a CMYK JPEG would break PDF/A's sRGB output intent), and fpdf2 places it in a PDF/A-3B page. Each
refusal is a ``LogoError`` naming the reason.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Final

from meterbill.documents.model import ImageType, Logo

MAX_LOGO_BYTES: Final = 256 * 1024
MAX_LOGO_PIXELS: Final = 2000  # on each side
PNG_MAGIC: Final = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC: Final = b"\xff\xd8\xff"
MEDIA_TYPES: Final[tuple[ImageType, ...]] = ("image/png", "image/jpeg")
_MODES: Final = frozenset({"1", "L", "LA", "P", "PA", "RGB", "RGBA", "I;16"})
_KNOWN_MAGIC: Final = (
    (b"GIF8", "a GIF"),
    (b"RIFF", "a WebP or other RIFF file"),
    (b"%PDF", "a PDF"),
    (b"<svg", "an SVG"),
    (b"<?xm", "XML (an SVG?)"),
    (b"II*\x00", "a TIFF"),
    (b"MM\x00*", "a TIFF"),
    (b"BM", "a BMP"),
)


class LogoError(ValueError):
    """A refused logo; ``too_large`` when only its size is at fault (HTTP 413), else unreadable (422)."""

    def __init__(self, reason: str, *, too_large: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.too_large = too_large


@dataclass(frozen=True, slots=True)
class LogoImage:
    logo: Logo
    width: int
    height: int


def image_type_of(data: bytes) -> ImageType | None:
    """``image/png`` or ``image/jpeg`` from the first bytes (the magic numbers), else None."""
    if data.startswith(PNG_MAGIC):
        return "image/png"
    if data.startswith(JPEG_MAGIC):
        return "image/jpeg"
    return None


def read_logo(data: bytes, content_type: str | None = None) -> LogoImage:
    """The logo in ``data``, or LogoError saying why no invoice could show it."""
    if not data:
        raise LogoError("the body is empty; send the PNG or JPEG file itself")
    if len(data) > MAX_LOGO_BYTES:
        raise LogoError(
            f"the logo has {len(data)} bytes; at most {MAX_LOGO_BYTES} ({MAX_LOGO_BYTES // 1024} KB)",
            too_large=True,
        )
    image_type = image_type_of(data)
    if image_type is None:
        what = next((name for magic, name in _KNOWN_MAGIC if data.startswith(magic)), None)
        seen = f"it is {what}" if what else f"it begins with bytes {data[:8].hex(' ')}"
        raise LogoError(f"not a PNG or JPEG image: {seen}")
    declared = (content_type or "").split(";")[0].strip().lower()
    if declared and declared != image_type:
        raise LogoError(f"the Content-Type says {declared} but the file is {image_type}")
    kind = "PNG" if image_type == "image/png" else "JPEG"
    from PIL import Image  # the API imports this module for its limits: the libraries load on first use

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                mode = image.mode
                if width > MAX_LOGO_PIXELS or height > MAX_LOGO_PIXELS:
                    most = f"{MAX_LOGO_PIXELS} × {MAX_LOGO_PIXELS}"
                    raise LogoError(f"the logo is {width} × {height} pixels; at most {most}")
                image.load()  # decodes every pixel: a truncated file fails here
    except LogoError:
        raise
    except Exception as err:  # Pillow raises many kinds (OSError, SyntaxError, ValueError, ...)
        raise LogoError(f"the {kind} cannot be read: {err}") from None
    if mode not in _MODES:
        raise LogoError(f"the {kind} is in {mode} colours; save it as RGB (sRGB) or greyscale")
    logo = Logo(image_type, data)
    _placeable(logo, kind)
    return LogoImage(logo, width, height)


def _placeable(logo: Logo, kind: str) -> None:
    """fpdf2 puts it on a PDF/A-3B page, as every invoice will."""
    from fpdf import FPDF
    from fpdf.enums import DocumentCompliance

    pdf = FPDF(enforce_compliance=DocumentCompliance.PDFA_3B)
    pdf.add_page()
    try:
        pdf.image(io.BytesIO(logo.data), x=10, y=10, h=18)
    except Exception as err:  # fpdf2's image parsing raises assorted errors
        raise LogoError(f"the {kind} cannot be placed in a PDF/A document: {err}") from None
