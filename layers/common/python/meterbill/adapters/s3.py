"""DocumentStore on S3: the invoices bucket, Object Lock in compliance mode (``constructs/invoices.py``).

Every document lives under its account's prefix, ``<account>/<key>``, so one account's keys never name
another's objects. ``put_once`` is a single PutObject with

- ``If-None-Match: *``: S3 writes the key only if it does not exist (412 PreconditionFailed otherwise; 409
  ConditionalRequestConflict when another write of the key is in flight). A versioned bucket would otherwise
  keep a second version under the same key: the condition is what makes the key write-once;
- ``x-amz-checksum-sha256``: the SHA-256 we computed of the bytes, which S3 verifies on receipt and keeps with
  the object (``head`` reads it back; it is the ``sha256`` on the invoice record);
- ``x-amz-object-lock-mode: COMPLIANCE`` and ``retain-until-date``: nobody, the root user included, can delete
  this version or shorten its lock before that date.

A put refused by the condition is followed by a HEAD: the same SHA-256 is a retry of the same document (a
worker that crashed after its put) and answers what is stored; another SHA-256 raises AlreadyExistsError and
nothing changes. moto 5.2.5 enforces ``If-None-Match: *`` on PutObject (412) like S3, so the integration
tests run the real condition; the 409 race answer is tested with a stubbed client.

The boto3 client is made on first use (a handler that never stores a document opens no connection).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from meterbill.errors import AlreadyExistsError, InvalidInputError, NotFoundError, StorageUnavailableError
from meterbill.ports import DocumentStore, StoredDocument

# S3's answers to a conditional write that lost: the key exists (412), or a write of it is in flight (409).
KEY_TAKEN: Final = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "412", "409"})
NOT_FOUND: Final = frozenset({"NoSuchKey", "NotFound", "404"})
SHA256_METADATA: Final = "sha256"  # also kept as user metadata: readable without ChecksumMode
MAX_URL_LIFETIME: Final = timedelta(days=7)  # SigV4 presigned URLs live at most 7 days


class S3DocumentStore(DocumentStore):
    def __init__(
        self,
        bucket: str,
        *,
        region: str,
        endpoint_url: str | None = None,
        client: Any | None = None,
    ) -> None:
        self.bucket = bucket
        self._region = region
        self._endpoint_url = endpoint_url
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3  # type: ignore[import-untyped]
            from botocore.config import Config  # type: ignore[import-untyped]

            # The regional endpoint and SigV4: presigned URLs then work for a bucket created minutes ago.
            self._client = boto3.client(
                "s3",
                region_name=self._region,
                endpoint_url=self._endpoint_url or f"https://s3.{self._region}.amazonaws.com",
                config=Config(signature_version="s3v4"),
            )
        return self._client

    def object_key(self, account: str, key: str) -> str:
        """``<account>/<key>``; InvalidInputError for an account or key that could leave the account's
        prefix."""
        if not account or "/" in account or account in (".", ".."):
            raise InvalidInputError("account", f"{account!r} cannot prefix a document key")
        if not key or key.startswith("/") or any(part in ("", ".", "..") for part in key.split("/")):
            raise InvalidInputError("key", f"{key!r} is not a relative key of non-empty parts")
        return f"{account}/{key}"

    def put_once(
        self, account: str, key: str, body: bytes, *, content_type: str, retain_until: datetime
    ) -> StoredDocument:
        if retain_until.tzinfo is None or retain_until.utcoffset() is None:
            raise InvalidInputError("retain_until", "must be timezone-aware")
        object_key = self.object_key(account, key)
        digest = hashlib.sha256(body).digest()
        try:
            answer = self.client.put_object(
                Bucket=self.bucket,
                Key=object_key,
                Body=body,
                ContentType=content_type,
                IfNoneMatch="*",
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=base64.b64encode(digest).decode(),
                ObjectLockMode="COMPLIANCE",
                ObjectLockRetainUntilDate=retain_until.astimezone(UTC),
                Metadata={SHA256_METADATA: digest.hex()},
            )
        except Exception as error:
            if _code(error) not in KEY_TAKEN:
                raise _unavailable(f"storing document {key!r}", error) from error
            return self._existing(account, key, digest.hex())
        return StoredDocument(
            key=key,
            sha256=digest.hex(),
            size=len(body),
            content_type=content_type,
            retain_until=retain_until,
            version_id=answer.get("VersionId"),
        )

    def _existing(self, account: str, key: str, sha256: str) -> StoredDocument:
        """After a refused put: what is stored, if it is the same bytes; AlreadyExistsError otherwise."""
        try:
            stored = self.head(account, key)
        except NotFoundError:
            # 409: the competing write has not landed yet (or failed); the caller's retry will see it.
            raise StorageUnavailableError(f"document {key!r} is being written by another request") from None
        if stored.sha256 != sha256:
            raise AlreadyExistsError("document", key)
        return stored

    def get(self, account: str, key: str) -> bytes:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self.object_key(account, key))
        except Exception as error:
            if _code(error) in NOT_FOUND:
                raise NotFoundError("document", key) from None
            raise _unavailable(f"reading document {key!r}", error) from error
        data: bytes = answer["Body"].read()
        return data

    def head(self, account: str, key: str) -> StoredDocument:
        try:
            answer = self.client.head_object(
                Bucket=self.bucket, Key=self.object_key(account, key), ChecksumMode="ENABLED"
            )
        except Exception as error:
            if _code(error) in NOT_FOUND:
                raise NotFoundError("document", key) from None
            raise _unavailable(f"reading document {key!r}", error) from error
        return _stored(key, answer)

    def download_url(self, account: str, key: str, *, expires_in: timedelta) -> str:
        if not timedelta(seconds=1) <= expires_in <= MAX_URL_LIFETIME:
            raise InvalidInputError("expires_in", f"{expires_in} is not between 1 second and 7 days")
        self.head(account, key)
        url: str = self.client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": self.object_key(account, key)},
            ExpiresIn=int(expires_in.total_seconds()),
        )
        return url


def _stored(key: str, answer: Mapping[str, Any]) -> StoredDocument:
    checksum = answer.get("ChecksumSHA256")
    if checksum and "-" not in checksum:  # a multipart object's checksum is of its parts ("...-N")
        sha256 = base64.b64decode(checksum).hex()
    else:
        sha256 = answer.get("Metadata", {}).get(SHA256_METADATA, "")
    until = answer.get("ObjectLockRetainUntilDate")
    return StoredDocument(
        key=key,
        sha256=sha256,
        size=int(answer["ContentLength"]),
        content_type=answer.get("ContentType", "application/octet-stream"),
        retain_until=until.astimezone(UTC) if until is not None else datetime.min.replace(tzinfo=UTC),
        version_id=answer.get("VersionId"),
    )


def _code(error: Exception) -> str:
    response = getattr(error, "response", None)
    if not isinstance(response, Mapping):
        return ""
    return str(response.get("Error", {}).get("Code", ""))


def _unavailable(what: str, error: Exception) -> StorageUnavailableError:
    return StorageUnavailableError(f"{what}: {_code(error) or type(error).__name__}")
