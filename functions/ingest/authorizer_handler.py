"""The API's Lambda REQUEST authorizer (identity source: the Authorization header): an API key → Allow with
the key's account and scopes as context, or "Unauthorized" (401). Logic: ``meterbill.api.authorizer``."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from meterbill.api import authorizer

logger = Logger()  # service: POWERTOOLS_SERVICE_NAME


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return authorizer.authorize(event, authorizer.key_store())
