"""Write-once documents, the accounts' signing keys, and the mailer."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

# --- documents and their delivery (issue 10) ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredDocument:
    """A document as the document store holds it: written once, its bytes' SHA-256 (hex) and its retention."""

    key: str
    sha256: str
    size: int
    content_type: str
    retain_until: datetime
    version_id: str | None = None


class DocumentStore(ABC):
    """Write-once storage of the documents customers receive (S3 with Object Lock in compliance mode).

    A key is written at most once: a second ``put_once`` of the same bytes answers what is stored (a retry
    after a crash converges), of other bytes raises ``AlreadyExistsError`` and changes nothing."""

    @abstractmethod
    def put_once(
        self, account: str, key: str, body: bytes, *, content_type: str, retain_until: datetime
    ) -> StoredDocument:
        """Stores ``body`` under the account's ``key`` unless the key exists, with its checksum and a
        compliance-mode retention until ``retain_until`` (aware)."""

    @abstractmethod
    def get(self, account: str, key: str) -> bytes:
        """The stored bytes; NotFoundError."""

    @abstractmethod
    def head(self, account: str, key: str) -> StoredDocument:
        """What is stored under ``key`` without its bytes; NotFoundError."""

    @abstractmethod
    def download_url(self, account: str, key: str, *, expires_in: timedelta) -> str:
        """A URL that downloads the stored bytes until ``expires_in`` from now; NotFoundError."""


@dataclass(frozen=True, slots=True)
class SigningKeyPem:
    """An account's document signing key as PEM text: the private key (PKCS#8) and its X.509 certificate
    (``documents.signing.SigningKey`` holds the same two)."""

    private_key_pem: str
    certificate_pem: str


class SigningKeyStore(ABC):
    """The accounts' signing keys (Secrets Manager on AWS, one secret per account; moto locally). A key is
    created once, at account set-up, and never replaced: documents signed with it must stay verifiable."""

    @abstractmethod
    def get(self, account: str) -> SigningKeyPem:
        """NotFoundError when the account has none."""

    @abstractmethod
    def create(self, account: str, key: SigningKeyPem) -> SigningKeyPem:
        """Stores ``key`` as the account's unless it has one already; answers the account's key (the
        stored one when it had one: the first key stays)."""


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str
    body: bytes


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    """One email as the mailer sends it; ``tags`` come back with the provider's delivery events."""

    sender: str
    to: tuple[str, ...]
    subject: str
    text: str
    cc: tuple[str, ...] = ()
    html: str | None = None
    attachments: tuple[Attachment, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    reply_to: str | None = None


class MailThrottledError(Exception):
    """The provider refused the send for its rate or quota: send the same email again later."""


class MailRejectedError(Exception):
    """The provider refused this email for good (an unverified sender, a malformed address): ``reason``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Mailer(ABC):
    """Sends email (SES v2 on AWS; locally SES on moto plus a folder of .eml files)."""

    @abstractmethod
    def send(self, email: OutgoingEmail) -> str:
        """Sends ``email`` once and returns the provider's message id. Raises MailThrottledError or
        MailRejectedError; nothing is retried here (the caller's queue paces and retries)."""
