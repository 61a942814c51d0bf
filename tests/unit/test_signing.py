"""Signing the invoice PDF (PAdES baseline B): intact, valid and trusted; any changed byte shows."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from functools import cache

import pytest
from fpdf import FPDF
from fpdf.enums import DocumentCompliance
from pypdf import PdfReader

from meterbill.documents.signing import (
    SigningError,
    SigningKey,
    self_signed_key,
    sign_pdf,
    signature_problems,
)

DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


@cache
def pdfa() -> bytes:
    """A tiny PDF/A-3B document, as the invoice renderer makes them."""
    pdf = FPDF(enforce_compliance=DocumentCompliance.PDFA_3B)
    pdf.add_font("DejaVu", fname=DEJAVU)
    pdf.add_page()
    pdf.set_font("DejaVu", size=12)
    pdf.cell(text="Rechnung INV-000001 — 277,39 €")
    return bytes(pdf.output())


@cache
def key() -> SigningKey:
    return self_signed_key("Stadtwerke Musterstadt GmbH", datetime.now(UTC))


@cache
def signed() -> bytes:
    return sign_pdf(pdfa(), key())


def test_a_signed_pdf_is_intact_valid_and_trusted() -> None:
    assert signature_problems(signed(), key()) == []
    assert signature_problems(signed(), key().certificate_pem) == []


def test_signing_appends_an_incremental_update() -> None:
    assert signed().startswith(pdfa())
    assert len(signed()) > len(pdfa())


def test_one_changed_byte_makes_the_signature_fail() -> None:
    original = signed()
    at = original.index(b"stream", 1000) + 40  # inside a compressed stream of the document, a signed byte
    changed = original[:at] + bytes([original[at] ^ 1]) + original[at + 1 :]
    assert signature_problems(changed, key()) == [
        "Signature1: the signed bytes were changed (the digest does not match)"
    ]


def test_one_changed_byte_in_the_signed_pdf_header_fails_too() -> None:
    original = signed()
    changed = original[:10] + bytes([original[10] ^ 1]) + original[11:]
    assert signature_problems(changed, key()) != []


def test_a_signature_by_another_key_is_not_trusted() -> None:
    other = self_signed_key("Someone else", datetime.now(UTC))
    assert signature_problems(signed(), other) == [
        "Signature1: signed with a certificate that is not the trusted one"
    ]


def test_an_unsigned_pdf_has_no_signature() -> None:
    assert signature_problems(pdfa(), key()) == ["the PDF carries no signature"]


def test_bytes_appended_after_the_signature_are_reported() -> None:
    assert signature_problems(signed() + b"\n% appended\n", key()) == [
        "Signature1: bytes were added after the signature"
    ]


def test_the_signed_pdf_keeps_its_pdfa_markers() -> None:
    reader = PdfReader(io.BytesIO(signed()))
    xmp = reader.xmp_metadata
    assert xmp is not None
    raw = xmp.stream.get_data().decode("utf-8")
    assert re.search(r"pdfaid:part(=\"|>)3", raw)
    assert re.search(r"pdfaid:conformance(=\"|>)B", raw)
    root = reader.trailer["/Root"]
    assert "/OutputIntents" in root
    assert root["/AcroForm"]["/Fields"][0].get_object()["/FT"] == "/Sig"


def test_the_key_is_ec_p256_with_a_self_signed_certificate() -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

    certificate = x509.load_pem_x509_certificate(key().certificate_pem)
    public = certificate.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert public.curve.name == "secp256r1"
    assert certificate.issuer == certificate.subject
    assert certificate.subject.rfc4514_string() == "CN=Stadtwerke Musterstadt GmbH"
    assert key().private_key_pem.startswith(b"-----BEGIN PRIVATE KEY-----")


def test_a_naive_now_is_refused() -> None:
    with pytest.raises(SigningError, match="now: naive datetime"):
        self_signed_key("x", datetime(2026, 1, 1))


def test_an_unreadable_certificate_is_refused() -> None:
    with pytest.raises(SigningError, match="certificate_pem: not a PEM certificate"):
        sign_pdf(pdfa(), SigningKey(key().private_key_pem, b"not a certificate"))
