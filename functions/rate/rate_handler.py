"""The rating schedule's Lambda: an EventBridge Scheduler event → one rating pass as of the event's time.

The schedule's target input carries the time it fired (Scheduler's input template
``{"time": "<aws.scheduler.scheduled-time>"}``; an EventBridge rule's event has ``time`` too), so a retried
invocation rates as of the same moment. Settings (``RateSettings``) and ports are built on the first event.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from datetime import datetime
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from meterbill.ports import RatingStores, WorkQueue
from meterbill.settings import RateSettings

logger = Logger()


@cache
def backend() -> tuple[RateSettings, RatingStores, WorkQueue | None]:
    from meterbill.adapters.rating import build_rating

    settings = RateSettings.from_env(os.environ)
    return (settings, *build_rating(settings))


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from meterbill.services.rating import rating_pass

    now = datetime.fromisoformat(event["time"])  # ISO 8601 with Z or an offset; KeyError: not a schedule
    settings, stores, queue = backend()
    report = rating_pass(
        now,
        stores,
        queue,
        fan_out_above=settings.fan_out_above,
        batch_size=settings.batch_size,
        mark_limit=settings.mark_limit,
    )
    logger.info("rating pass", extra={"at": now.isoformat(), **asdict(report)})
    return asdict(report)
