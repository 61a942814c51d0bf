"""The API's Lambda REQUEST authorizer (no identity source, no cache: it runs on every request): an API key
(Authorization header) or a console session (``mb_session`` cookie) → Allow with the account and scopes as
context, or "Unauthorized" (401). Logic: ``meterbill.api.authorizer``."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from meterbill.api import authorizer

logger = Logger()  # service: POWERTOOLS_SERVICE_NAME


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return authorizer.authorize(event, authorizer.key_store(), authorizer.session_store(), authorizer.now())
