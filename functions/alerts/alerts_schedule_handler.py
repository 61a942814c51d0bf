"""The alerts schedule's Lambda: an EventBridge Scheduler event → one scheduled alert pass as of its time.

The schedule's input carries the time it fired (``{"time": "<aws.scheduler.scheduled-time>"}``, like the rate
schedule), so a retried invocation judges as of the same moment (and the daily detectors' window, which is
fixed by that time, is judged once). Ports are built on the first event; the store, SNS and the message
renderer are imported there, not at import time.
"""

from __future__ import annotations

import os
from datetime import datetime
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from meterbill.alerts.ports import AlertPublisher, AlertStore
from meterbill.services.alerting import AlertSources, Render
from meterbill.settings import AlertSettings

logger = Logger()


@cache
def backend() -> tuple[AlertSources, AlertStore, AlertPublisher, Render]:
    from meterbill.adapters.dynamodb import DynamoDb, build_alert_store
    from meterbill.adapters.rating import rating_stores
    from meterbill.adapters.sns import build_alert_delivery
    from meterbill.alerts.messages import render

    settings = AlertSettings.from_env(os.environ)
    stores = rating_stores(DynamoDb(settings.storage))
    delivery = build_alert_delivery(settings.topic_arn, settings.storage.region, settings.sns_endpoint_url)
    sources = AlertSources(stores.catalog, stores.readings, stores.metering, stores.accounts)
    return sources, build_alert_store(settings.storage), delivery.publisher, render


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from meterbill.services.alerting import scheduled_pass

    now = datetime.fromisoformat(event["time"])  # ISO 8601 with Z or an offset; KeyError: not a schedule
    sources, store, publisher, render = backend()
    report = scheduled_pass(
        now, sources, store, publisher, render, owner=f"schedule-{context.aws_request_id}"
    )
    for account, reason in report.rule_errors.items():
        logger.warning(
            "stored alert rules no longer parse; defaults used", extra={"account": account, "reason": reason}
        )
    for account, reason in report.failures.items():
        logger.error("alert step failed", extra={"account": account, "reason": reason})
    summary = {
        "at": now.isoformat(),
        "accounts": len(report.steps),
        "meters": report.meters,
        "daily_sites": report.daily_sites,
        "published": report.published,
        "unsent": sum(s.unsent for s in report.steps),
        "busy": report.busy,
        "rule_errors": report.rule_errors,
        "failures": report.failures,
    }
    logger.info("alert pass", extra=summary)
    return summary
