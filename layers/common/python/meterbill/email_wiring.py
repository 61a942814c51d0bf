"""What the email functions are wired to: the stores, the invoices bucket, SES and the email queue, built
once per cold start from ``EmailSettings`` (the environment), or given by ``configure`` (tests, the local
server). Sending is paced here: ``PacedMailer`` keeps a worker below its share of SES's send rate."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import Any

from meterbill.ports import DocumentStore, Mailer, OutgoingEmail, Stores
from meterbill.settings import EmailSettings

_configured: dict[str, Any] = {}


class Pacer:
    """At most ``rate`` calls of ``wait`` return per second: each waits until 1/rate after the previous."""

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.interval = 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._next = float("-inf")
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = self._clock()
            if now < self._next:
                self._sleep(self._next - now)
                now = self._next
            self._next = now + self.interval


class PacedMailer(Mailer):
    """``mailer``, each send waiting for its turn first."""

    def __init__(self, mailer: Mailer, pacer: Pacer) -> None:
        self.mailer = mailer
        self.pacer = pacer

    def send(self, email: OutgoingEmail) -> str:
        self.pacer.wait()
        return self.mailer.send(email)


def configure(
    *,
    stores: Stores | None = None,
    documents: DocumentStore | None = None,
    mailer: Mailer | None = None,
    queue: Any | None = None,
    clock: Callable[[], datetime] | None = None,
) -> None:
    """Use these instead of what the environment describes (``queue``: with ``send`` and ``retry_later``)."""
    _configured.clear()
    for name, value in (
        ("stores", stores),
        ("documents", documents),
        ("mailer", mailer),
        ("queue", queue),
        ("clock", clock),
    ):
        if value is not None:
            _configured[name] = value


def reset() -> None:
    _configured.clear()
    for cached in (_settings, _stores, _documents, _mailer, _queue):
        cached.cache_clear()


@cache
def _settings() -> EmailSettings:
    return EmailSettings.from_env(os.environ)


@cache
def _stores() -> Stores:
    from meterbill.adapters.dynamodb import build_stores

    return build_stores(_settings().storage)


@cache
def _documents() -> DocumentStore:
    from meterbill.adapters.s3 import S3DocumentStore

    settings = _settings()
    if not settings.invoices_bucket:
        raise RuntimeError("INVOICES_BUCKET is not set")
    return S3DocumentStore(
        settings.invoices_bucket, region=settings.storage.region, endpoint_url=settings.s3_endpoint_url
    )


@cache
def _mailer() -> Mailer:
    from meterbill.adapters.ses import SesMailer

    settings = _settings()
    ses = SesMailer(
        region=settings.storage.region,
        configuration_set=settings.configuration_set,
        endpoint_url=settings.ses_endpoint_url,
    )
    rate = settings.max_send_rate or ses.max_send_rate() * settings.rate_share / settings.workers
    return PacedMailer(ses, Pacer(rate))


@cache
def _queue() -> Any:
    from meterbill.adapters.email_queue import SqsDeliveryQueue

    settings = _settings()
    if not settings.email_queue_url:
        raise RuntimeError("EMAIL_QUEUE_URL is not set")
    return SqsDeliveryQueue(
        settings.email_queue_url,
        region=settings.storage.region or None,
        endpoint_url=settings.sqs_endpoint_url,
    )


def email_stores() -> Stores:
    stores: Stores = _configured.get("stores") or _stores()
    return stores


def email_documents() -> DocumentStore:
    documents: DocumentStore = _configured.get("documents") or _documents()
    return documents


def email_mailer() -> Mailer:
    mailer: Mailer = _configured.get("mailer") or _mailer()
    return mailer


def email_queue() -> Any:
    """The email queue (``SqsDeliveryQueue``: ``send`` and ``retry_later``)."""
    return _configured.get("queue") or _queue()


def now() -> datetime:
    clock: Callable[[], datetime] = _configured.get("clock") or (lambda: datetime.now(UTC))
    return clock()
