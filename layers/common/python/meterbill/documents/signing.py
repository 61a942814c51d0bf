"""Signing the invoice PDF: PAdES baseline B (pyHanko), so that any change to a stored document shows.

PDF/A forbids encryption, so the PDF's integrity comes from a signature made with the account's signing key
(on AWS from Secrets Manager, locally a self-signed one from ``self_signed_key``). The signature is an
incremental update: the PDF/A document and its XMP metadata (``pdfaid``, the Factur-X ``fx:`` block) stay
byte for byte what the renderer wrote, with the signature appended after them. The signature field is
invisible (a zero-size widget, which PDF/A allows without an appearance stream).

``signature_problems(pdf, trusted)`` is the check a reader (or a test) makes: empty when the PDF carries a
signature over the whole file that is intact (no signed byte changed), valid (the CMS signature verifies)
and made with the trusted certificate; otherwise one sentence per problem.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Final

from asn1crypto import keys as asn1_keys  # type: ignore[import-untyped]
from asn1crypto import pem as asn1_pem
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SIGNATURE_FIELD: Final = "Signature1"
CERTIFICATE_YEARS: Final = 10
SIGNATURE_BYTES_RESERVED: Final = 8192


@dataclass(frozen=True, slots=True)
class SigningKey:
    """An account's signing key: the private key (PKCS#8 PEM, unencrypted) and its certificate (PEM)."""

    private_key_pem: bytes
    certificate_pem: bytes


class SigningError(ValueError):
    """A key or certificate that cannot sign (unreadable PEM, a certificate of another key)."""


def self_signed_key(common_name: str, now: datetime) -> SigningKey:
    """A new EC P-256 key and a self-signed certificate for ``common_name``, valid from ``now`` for 10
    years: the local stand-in for the account's key. ``now`` is the real time of creation (the signature's
    time is the machine's clock, which must fall in the certificate's validity)."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise SigningError(f"now: naive datetime {now.isoformat()} where an aware one is required")
    if not common_name.strip():
        raise SigningError("common_name: empty; name the account the key signs for")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=365 * CERTIFICATE_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return SigningKey(
        private_key_pem=key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        certificate_pem=certificate.public_bytes(serialization.Encoding.PEM),
    )


def sign_pdf(pdf: bytes, key: SigningKey) -> bytes:
    """The PDF with a PAdES baseline B signature (SHA-256) appended as an incremental update."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    meta = signers.PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD, md_algorithm="sha256", subfilter=fields.SigSeedSubFilter.PADES
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    # A fixed reservation (an EC P-256 signature with its certificate is ~1 KB) spares pyHanko the dummy
    # signature it otherwise makes to measure one: half the signing time.
    out = signers.sign_pdf(writer, meta, signer=_signer(key), bytes_reserved=SIGNATURE_BYTES_RESERVED)
    signed: bytes = out.getvalue()
    return signed


@lru_cache(maxsize=32)
def _signer(key: SigningKey) -> Any:
    """The pyHanko signer of a key, parsed once per process (a Lambda signs many documents with one key)."""
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    certificate = _certificate(key.certificate_pem)
    try:
        private_key = asn1_keys.PrivateKeyInfo.load(_der(key.private_key_pem))
    except ValueError as err:
        raise SigningError(f"private_key_pem: not a PEM private key ({err})") from None
    return signers.SimpleSigner(
        signing_cert=certificate,
        signing_key=private_key,
        cert_registry=SimpleCertificateStore.from_certs([certificate]),  # type: ignore[no-untyped-call]
    )


def signature_problems(pdf: bytes, trusted: SigningKey | bytes, *, at: datetime | None = None) -> list[str]:
    """Why ``pdf`` is not an intact, valid signature over the whole file by the trusted certificate
    (a ``SigningKey`` or a certificate PEM); empty when it is. ``at``: the moment to validate the
    certificate at (default: now)."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    certificate = _certificate(trusted.certificate_pem if isinstance(trusted, SigningKey) else trusted)
    try:
        signatures = PdfFileReader(io.BytesIO(pdf), strict=False).embedded_signatures
    except Exception as err:  # any parse failure of a changed file is a finding, not a crash
        return [f"the PDF cannot be read: {err}"]
    if not signatures:
        return ["the PDF carries no signature"]
    problems: list[str] = []
    for signature in signatures:
        name = signature.field_name
        context = ValidationContext(trust_roots=[certificate], allow_fetching=False, moment=at)
        try:
            status = validate_pdf_signature(signature, context)
        except Exception as err:  # a mangled signature value is a finding too
            problems.append(f"{name}: the signature cannot be checked: {err}")
            continue
        if not status.intact:
            problems.append(f"{name}: the signed bytes were changed (the digest does not match)")
        if not status.valid:
            problems.append(f"{name}: the signature does not verify with its certificate")
        if status.intact and status.valid and not status.trusted:  # pyHanko's trusted implies the other two
            problems.append(f"{name}: signed with a certificate that is not the trusted one")
        if status.coverage is None or status.coverage.name != "ENTIRE_FILE":
            problems.append(f"{name}: bytes were added after the signature")
    return problems


def _der(pem: bytes) -> bytes:
    if not asn1_pem.detect(pem):
        raise ValueError("no PEM armor")
    _, _, der = asn1_pem.unarmor(pem)
    return bytes(der)


def _certificate(pem: bytes) -> asn1_x509.Certificate:
    try:
        return asn1_x509.Certificate.load(_der(pem))
    except ValueError as err:
        raise SigningError(f"certificate_pem: not a PEM certificate ({err})") from None
