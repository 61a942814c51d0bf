"""Write-once documents, a mailer that keeps what it sent, and signing keys."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from meterbill.errors import (
    AlreadyExistsError,
    NotFoundError,
)
from meterbill.ports import (
    DocumentStore,
    Mailer,
    MailRejectedError,
    MailThrottledError,
    OutgoingEmail,
    SigningKeyPem,
    SigningKeyStore,
    StoredDocument,
)


class FakeDocumentStore(DocumentStore):
    """Write-once documents keyed by (account, key); ``puts`` counts the writes that stored bytes."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], tuple[bytes, StoredDocument]] = {}
        self.puts = 0

    def put_once(
        self, account: str, key: str, body: bytes, *, content_type: str, retain_until: datetime
    ) -> StoredDocument:
        if retain_until.tzinfo is None:
            raise ValueError("retain_until must be aware")
        if (account, key) in self.objects:
            stored_body, stored = self.objects[(account, key)]
            if stored_body != body:
                raise AlreadyExistsError("document", key)
            return stored
        stored = StoredDocument(
            key=key,
            sha256=hashlib.sha256(body).hexdigest(),
            size=len(body),
            content_type=content_type,
            retain_until=retain_until,
            version_id=f"v{len(self.objects) + 1}",
        )
        self.objects[(account, key)] = (body, stored)
        self.puts += 1
        return stored

    def get(self, account: str, key: str) -> bytes:
        if (account, key) not in self.objects:
            raise NotFoundError("document", key)
        return self.objects[(account, key)][0]

    def head(self, account: str, key: str) -> StoredDocument:
        if (account, key) not in self.objects:
            raise NotFoundError("document", key)
        return self.objects[(account, key)][1]

    def download_url(self, account: str, key: str, *, expires_in: timedelta) -> str:
        self.head(account, key)
        return f"https://documents.invalid/{account}/{key}?expires={int(expires_in.total_seconds())}"


class FakeMailer(Mailer):
    """Keeps every email sent in ``sent``; ``throttle`` and ``reject`` make the next sends fail."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, OutgoingEmail]] = []
        self.throttle = 0  # how many of the next sends raise MailThrottledError
        self.reject: str | None = None  # a reason: every send raises MailRejectedError with it

    def send(self, email: OutgoingEmail) -> str:
        if self.reject is not None:
            raise MailRejectedError(self.reject)
        if self.throttle > 0:
            self.throttle -= 1
            raise MailThrottledError("Maximum sending rate exceeded.")
        message_id = f"msg-{len(self.sent) + 1:06d}"
        self.sent.append((message_id, email))
        return message_id


class FakeSigningKeyStore(SigningKeyStore):
    """``keys[account]``: the account's key; the first created stays."""

    def __init__(self) -> None:
        self.keys: dict[str, SigningKeyPem] = {}

    def get(self, account: str) -> SigningKeyPem:
        if account not in self.keys:
            raise NotFoundError("signing key", account)
        return self.keys[account]

    def create(self, account: str, key: SigningKeyPem) -> SigningKeyPem:
        return self.keys.setdefault(account, key)
