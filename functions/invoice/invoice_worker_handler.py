"""The invoice worker (SQS, batches): each message is one (customer, period) of the bill run, invoiced by
``billrun.work`` as of the moment its run was scheduled for, then the documents of what is issued for that
(customer, period) are stored (``billrun.store_documents``: rendered, written once into the invoices bucket,
the invoice marked ``stored``) when the deployment stores documents. A message that fails (malformed, a
tariff that cannot be applied, storage unavailable) is a batch item failure, logged; the others are kept.
SQS delivers it again, and after 5 receives it goes to the DLQ. A document the account's data cannot make
(no seller) does not fail the message: it is logged and stays issued, and the hourly run sends it again.
With an email queue (EMAIL_QUEUE_URL), the first email of each stored document is queued
(``billrun.queue_emails``); the email worker sends it."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from meterbill.invoice_wiring import document_step, email_queue, invoice_stores, now
from meterbill.services import billrun

logger = Logger()
processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> None:
    try:
        item = billrun.work_from_json(json.loads(record.body))
        invoice = billrun.work(item, invoice_stores())
        step = document_step()
        documents = None if step is None else billrun.store_documents(item, invoice_stores(), step, now())
        queue = None if documents is None else email_queue()
        emails = (
            None
            if queue is None or documents is None
            else billrun.queue_emails(item, documents.stored, invoice_stores(), queue, now())
        )
    except Exception:
        logger.exception("invoice work failed", extra={"message_id": record.message_id})
        raise
    logger.info("invoice", extra={"invoice_id": invoice.invoice_id, "state": invoice.state})
    if documents is not None and (documents.stored or documents.refused):
        logger.info("documents", extra={"stored": documents.stored, "refused": dict(documents.refused)})
    if emails is not None and (emails.queued or emails.skipped):
        queued = [r.invoice_id for r in emails.queued]
        logger.info("emails", extra={"queued": queued, "skipped": dict(emails.skipped)})


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
