"""What the invoice functions are wired to: the stores and the work queue, built once per cold start from
``InvoiceSettings`` (the environment), or given by ``configure`` (tests, ``meterbill schedules run``).

Documents (issue 10): ``document_step()`` is what the worker stores documents with - the invoices bucket
(``DocumentSettings``: INVOICES_BUCKET, retention), the renderer and the signing keys. None means documents
are not stored (no bucket): the worker only invoices, the run sends no unstored work. The renderer is the
real pipeline (``services.documents.signed_renderer``: factur-x XML -> PDF/A-3 -> PAdES signature with the
account's key from Secrets Manager) unless ``configure(documents=...)`` or ``set_renderer`` gives another
(tests that look at storage rather than at PDFs).

Email: ``email_queue()`` is where the worker queues the first email of each stored document (EMAIL_QUEUE_URL;
None: documents are stored, not emailed)."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from meterbill.errors import InvalidInputError
from meterbill.ports import DeliveryQueue, InvoiceWorkQueue, SigningKeyStore, Stores
from meterbill.settings import DocumentSettings, InvoiceSettings

if TYPE_CHECKING:
    from meterbill.services.documents import DocumentStep, Render

_configured: dict[str, Any] = {}
# (the account's signing keys) -> the renderer, when not the real one (set_renderer).
_renderer: list[Callable[[SigningKeyStore], Render]] = []


def configure(
    *,
    stores: Stores | None = None,
    queue: InvoiceWorkQueue | None = None,
    documents: DocumentStep | None = None,
    clock: Callable[[], datetime] | None = None,
    email_queue: DeliveryQueue | None = None,
) -> None:
    _configured.clear()
    if stores is not None:
        _configured["stores"] = stores
    if queue is not None:
        _configured["queue"] = queue
    if documents is not None:
        _configured["documents"] = documents
    if clock is not None:
        _configured["clock"] = clock
    if email_queue is not None:
        _configured["email_queue"] = email_queue


def reset() -> None:
    _configured.clear()
    _settings.cache_clear()
    _stores.cache_clear()
    _queue.cache_clear()
    _document_step.cache_clear()
    _email_queue.cache_clear()


def set_renderer(make: Callable[[SigningKeyStore], Render]) -> None:
    """The document pipeline the worker renders with, made from the accounts' signing keys."""
    _renderer[:] = [make]
    _document_step.cache_clear()


@cache
def _settings() -> InvoiceSettings:
    return InvoiceSettings.from_env(os.environ)


@cache
def _stores() -> Stores:
    from meterbill.adapters.dynamodb import build_stores

    return build_stores(_settings().storage)


@cache
def _queue() -> InvoiceWorkQueue:
    from meterbill.adapters.invoice_queue import SqsInvoiceWorkQueue

    settings = _settings()
    if not settings.invoice_queue_url:
        raise RuntimeError("INVOICE_QUEUE_URL is not set")
    return SqsInvoiceWorkQueue(
        settings.invoice_queue_url,
        region=settings.storage.region or None,
        endpoint_url=settings.sqs_endpoint_url,
    )


@cache
def _document_step() -> DocumentStep | None:
    # Only the documents' part (InvoiceSettings.documents reads the same variables): a test or the CLI that
    # configured its stores has no table names in the environment.
    settings = DocumentSettings.from_env(os.environ)
    if not settings.bucket:
        return None
    from meterbill.adapters.s3 import S3DocumentStore
    from meterbill.adapters.secrets import SecretsManagerSigningKeys
    from meterbill.services.documents import DocumentStep, signed_renderer

    keys = SecretsManagerSigningKeys(
        settings.signing_key_secret_prefix,
        region=settings.region,
        endpoint_url=settings.secrets_endpoint_url,
    )
    documents = S3DocumentStore(
        settings.bucket, region=settings.region, endpoint_url=settings.s3_endpoint_url
    )
    render = _renderer[0](keys) if _renderer else signed_renderer(keys, clock=now)
    return DocumentStep(documents=documents, render=render, retention=settings.retention)


def document_step() -> DocumentStep | None:
    """How the worker stores documents; None: it does not."""
    step: DocumentStep | None = _configured.get("documents") or _document_step()
    return step


def email_queue() -> DeliveryQueue | None:
    """The email queue the worker queues first emails to (EMAIL_QUEUE_URL), None when not configured."""
    configured: DeliveryQueue | None = _configured.get("email_queue")
    return configured if configured is not None else _email_queue()


@cache
def _email_queue() -> DeliveryQueue | None:
    """From EMAIL_QUEUE_URL alone (configured stores need no table names), like ``document_step``."""
    url = os.environ.get("EMAIL_QUEUE_URL", "")
    if not url:
        return None
    from meterbill.adapters.email_queue import SqsDeliveryQueue

    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None
    return SqsDeliveryQueue(url, region=region, endpoint_url=os.environ.get("SQS_ENDPOINT_URL") or None)


def now() -> datetime:
    """The moment a worker step happens (a test's clock when configured)."""
    clock: Callable[[], datetime] | None = _configured.get("clock")
    return clock() if clock is not None else datetime.now(UTC)


def invoice_stores() -> Stores:
    stores: Stores = _configured.get("stores") or _stores()
    return stores


def invoice_queue() -> InvoiceWorkQueue:
    queue: InvoiceWorkQueue = _configured.get("queue") or _queue()
    return queue


def scheduled_time(event: object) -> datetime:
    """The moment a schedule's event is for: ``scheduled_time`` (EventBridge Scheduler's input
    ``<aws.scheduler.scheduled-time>``) or ``time`` (an EventBridge rule's event); InvalidInputError."""
    if not isinstance(event, dict):
        raise InvalidInputError("event", f"{type(event).__name__} is not an object")
    text = event.get("scheduled_time") or event.get("time")
    if not isinstance(text, str):
        raise InvalidInputError(
            "scheduled_time", "missing: the schedule's input must name the scheduled time"
        )
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInputError("scheduled_time", f"{text!r} is not an ISO 8601 date and time") from None
    if moment.utcoffset() is None:
        raise InvalidInputError("scheduled_time", f"{text!r} has no UTC offset")
    return moment
