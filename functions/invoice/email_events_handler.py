"""SES's delivery events (the configuration set's SNS event destination): each SNS record carries one SES
event (Send, Delivery, Bounce, Complaint, Reject, ...) with the email's tags (account, invoice, attempt);
``delivery.record_event`` moves that attempt's state forward. Repeated and late events change nothing. An
event without our tags, or of an attempt the account does not have, is logged and dropped; a storage error
fails the invocation (SNS's async invoke retries it, then its DLQ)."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import SNSEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from meterbill import email_wiring
from meterbill.adapters.ses import parse_event
from meterbill.services import delivery

logger = Logger()


def handle(message: dict[str, Any]) -> str:
    """What became of one SES event: ``recorded``, ``ignored`` or ``unknown``."""
    event = parse_event(message)
    tags = event.tags
    try:
        account = delivery.from_tag_value(tags[delivery.TAG_ACCOUNT])
        invoice_id = delivery.from_tag_value(tags[delivery.TAG_INVOICE])
        attempt = int(tags[delivery.TAG_ATTEMPT])
    except (KeyError, ValueError):
        logger.warning("SES event without our tags", extra={"event_type": event.event_type, "tags": tags})
        return "ignored"
    if event.state is None:
        logger.info("SES event changes no state", extra={"event_type": event.event_type})
        return "ignored"
    stores = email_wiring.email_stores()
    assert stores.deliveries is not None
    record = delivery.record_event(
        account,
        invoice_id,
        attempt,
        event.state,  # type: ignore[arg-type]
        deliveries=stores.deliveries,
        invoices=stores.invoices,
        at=event.at or email_wiring.now(),
        message_id=event.message_id,
        detail=event.detail,
    )
    if record is None:
        logger.warning(
            "SES event of an unknown delivery", extra={"account": account, "invoice_id": invoice_id}
        )
        return "unknown"
    logger.info("SES event", extra={"invoice_id": invoice_id, "attempt": attempt, "state": record.state})
    return "recorded"


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    outcomes: dict[str, int] = {}
    for record in SNSEvent(event).records:
        try:
            message = json.loads(record.sns.message)
            outcome = handle(message)
        except ValueError as error:  # not JSON, or not an SES event: nothing to retry
            logger.warning("not an SES event", extra={"error": str(error)})
            outcome = "ignored"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes
