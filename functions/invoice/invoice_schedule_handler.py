"""The hourly bill run (EventBridge Scheduler): every (customer, period) that needs work at the scheduled
time goes to the invoice queue (INVOICE_QUEUE_URL). The schedule's input is
``{"scheduled_time": "<aws.scheduler.scheduled-time>"}``; an EventBridge rule's ``time`` works too, so a
retried or late invocation still bills as of the moment it was scheduled for."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from meterbill.invoice_wiring import document_step, invoice_queue, invoice_stores, scheduled_time
from meterbill.services import billrun

logger = Logger()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    stores_documents = document_step() is not None  # then documents left unstored are sent again
    report = billrun.run(scheduled_time(event), invoice_stores(), invoice_queue(), unstored=stores_documents)
    logger.info(
        "bill run", extra={"accounts": report.accounts, "customers": report.customers, "sent": report.sent}
    )
    return {"accounts": report.accounts, "customers": report.customers, "sent": report.sent}
