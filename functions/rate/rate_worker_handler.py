"""The rating queue's Lambda: SQS batches of ``rate-meters`` messages (sent by a large pass) → the same
per-meter step, each message on its own. A message that cannot be read or rated is reported as a batch item
failure (powertools' ``BatchProcessor``): SQS delivers it again and, after the queue's maximum receives, to
its dead-letter queue; the others are deleted."""

from __future__ import annotations

import json
import os
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from meterbill.ports import RatingStores
from meterbill.settings import RateSettings

logger = Logger()
processor = BatchProcessor(event_type=EventType.SQS)


@cache
def stores() -> RatingStores:
    from meterbill.adapters.rating import build_rating

    return build_rating(RateSettings.from_env(os.environ))[0]


def rate_record(record: SQSRecord) -> None:
    from meterbill.services.rating import rate_message

    report = rate_message(json.loads(record.body), stores())
    logger.info("rated meters", extra={"message_id": record.message_id, "meters": report.meters})


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=rate_record, processor=processor, context=context
    )
