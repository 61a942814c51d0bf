"""The hourly bill run (EventBridge Scheduler): every (customer, period) that needs work at the scheduled
time goes to the invoice queue (INVOICE_QUEUE_URL). The schedule's input is
``{"scheduled_time": "<aws.scheduler.scheduled-time>"}``; an EventBridge rule's ``time`` works too, so a
retried or late invocation still bills as of the moment it was scheduled for.

When documents are stored, the same pass makes each account's due savings report (``savings_reports.run``):
stored once beside the invoices and its first email queued (EMAIL_QUEUE_URL) once."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from meterbill.invoice_wiring import document_step, email_queue, invoice_queue, invoice_stores, scheduled_time
from meterbill.services import billrun, savings_reports

logger = Logger()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    step = document_step()
    stores_documents = step is not None  # then documents left unstored are sent again
    moment = scheduled_time(event)
    report = billrun.run(moment, invoice_stores(), invoice_queue(), unstored=stores_documents)
    logger.info(
        "bill run", extra={"accounts": report.accounts, "customers": report.customers, "sent": report.sent}
    )
    answer = {"accounts": report.accounts, "customers": report.customers, "sent": report.sent}
    if step is not None:
        reports = savings_reports.run(
            moment, invoice_stores(), documents=step.documents, queue=email_queue(), retention=step.retention
        )
        for account, reason in reports.failed:  # the other accounts' reports are made; this one next hour
            logger.warning("savings report failed", extra={"account": account, "reason": reason})
        logger.info("savings reports", extra={"made": [r.report_id for r in reports.made]})
        answer["reports"] = len(reports.made)
    return answer
