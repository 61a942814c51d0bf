"""The email worker (SQS, batches): each message is one delivery attempt (``DeliveryWork``), sent by
``delivery.deliver`` at most once, paced below SES's send rate (``email_wiring.PacedMailer``). An attempt
that must come back later (throttled, or claimed by a worker that may have sent it) is put back with a
visibility delay and reported as a batch item failure; the others are kept. After 10 receives a message goes
to the DLQ (alarmed)."""

from __future__ import annotations

import json
import math
import random
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from meterbill import email_wiring
from meterbill.adapters.email_queue import work_from_json
from meterbill.services import billing_settings, delivery

logger = Logger()
# A batch whose every email is deferred (throttled) is not an error of the function: each message is put back
# with its own delay and reported as failed, so the invocation succeeds.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_handler(record: SQSRecord) -> None:
    work = work_from_json(json.loads(record.body))
    stores = email_wiring.email_stores()
    assert stores.deliveries is not None
    try:
        done = delivery.deliver(
            work.account,
            work.invoice_id,
            work.attempt,
            invoices=stores.invoices,
            documents=email_wiring.email_documents(),
            deliveries=stores.deliveries,
            mailer=email_wiring.email_mailer(),
            settings=billing_settings.settings_of(work.account, stores.accounts),
            now=email_wiring.now(),
        )
    except delivery.DeliveryDeferred as deferred:
        receives = int(record.attributes.approximate_receive_count or 1)
        wait = deferred.delay or delivery.throttle_backoff(receives, random.random())
        email_wiring.email_queue().retry_later(record.receipt_handle, math.ceil(wait.total_seconds()))
        logger.info(
            "email deferred",
            extra={**work.to_json(), "reason": deferred.reason, "seconds": wait.total_seconds()},
        )
        raise
    except Exception:
        logger.exception("email failed", extra={**work.to_json(), "message_id": record.message_id})
        raise
    logger.info("email", extra={**work.to_json(), "state": done.record.state, "sent": done.sent})


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
