"""What the invoice functions are wired to: the stores and the work queue, built once per cold start from
``InvoiceSettings`` (the environment), or given by ``configure`` (tests, ``meterbill schedules run``)."""

from __future__ import annotations

import os
from datetime import datetime
from functools import cache
from typing import Any

from meterbill.errors import InvalidInputError
from meterbill.ports import InvoiceWorkQueue, Stores
from meterbill.settings import InvoiceSettings

_configured: dict[str, Any] = {}


def configure(*, stores: Stores | None = None, queue: InvoiceWorkQueue | None = None) -> None:
    _configured.clear()
    if stores is not None:
        _configured["stores"] = stores
    if queue is not None:
        _configured["queue"] = queue


def reset() -> None:
    _configured.clear()
    _settings.cache_clear()
    _stores.cache_clear()
    _queue.cache_clear()


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
