"""The alerts readings worker: SQS batches of ``ReadingsArrived`` (ingest sends one per request that stored
readings) → the register detectors and the spike check on the named meters, then a lifecycle step.

Each message is its own item (powertools' ``BatchProcessor``, partial batch failures):
- a body that is not a ``ReadingsArrived`` is logged and DROPPED, not retried: a malformed body stays
  malformed however often SQS delivers it, so retrying only delays the DLQ, and nothing is lost by dropping
  it — the 5-minute schedule runs the register detectors over every meter's recent readings as a backstop;
- another step holding the account's lease (``LeaseHeldError``) is a batch item failure, so SQS delivers it
  again after the visibility timeout (by then the schedule's step is done); so is a store or SNS failure.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from meterbill.alerts.ports import AlertPublisher, AlertStore, ReadingsArrived
from meterbill.services.alerting import AlertSources, Render
from meterbill.settings import AlertSettings

logger = Logger()
processor = BatchProcessor(event_type=EventType.SQS)


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


def record_handler(record: SQSRecord) -> None:
    from meterbill.services.alerting import readings_arrived

    try:
        item = ReadingsArrived.from_json(record.body)
    except ValueError as error:  # see the module's docstring: dropped, the schedule is the backstop
        logger.error(
            "not a readings-arrived message; dropped",
            extra={"message_id": record.message_id, "reason": str(error)},
        )
        return
    sources, store, publisher, render = backend()
    report = readings_arrived(
        item, datetime.now(UTC), sources, store, publisher, render, owner=f"readings-{record.message_id}"
    )
    logger.info(
        "readings judged",
        extra={
            "message_id": record.message_id,
            "account": item.account,
            "meters": len(item.meter_ids),
            "findings": report.findings,
            "published": report.published,
        },
    )


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
