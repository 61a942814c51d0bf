"""The API's Lambda: API Gateway (REST API, Lambda proxy) events → the routes of ``meterbill.api``.

The stores are built on the first request from the environment (CATALOG_TABLE, READINGS_TABLE,
IDEMPOTENCY_TABLE, AWS_REGION, DYNAMODB_ENDPOINT_URL off AWS); ``meterbill.api.dependencies.configure``
replaces them (tests, the local server). Imports only the layer and powertools: in Lambda this is a top-level
module.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from meterbill.api.app import create_app
from meterbill.api.routes.common import METRICS_NAMESPACE

app = create_app()
logger = Logger()  # service: POWERTOOLS_SERVICE_NAME
metrics = Metrics(namespace=METRICS_NAMESPACE)
tracer = Tracer()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)  # an answer may hold a new API key
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
