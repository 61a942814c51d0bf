"""The API's Lambda: API Gateway (REST API, Lambda proxy) events → the routes of ``meterbill.api``.

The stores are built on the first request from the environment (CATALOG_TABLE, READINGS_TABLE,
IDEMPOTENCY_TABLE, AWS_REGION, DYNAMODB_ENDPOINT_URL off AWS); ``meterbill.api.dependencies.configure``
replaces them (tests, the local server). Imports only the layer and powertools: in Lambda this is a top-level
module.

A cold start loads only what every request needs (``bench/handler_cold.py`` measures it): the routes load
their services when first called, and the X-Ray tracer exists only where tracing is on.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, Final

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from meterbill.api.app import create_app
from meterbill.api.routes.common import METRICS_NAMESPACE

Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]

TRUE_WORDS: Final = frozenset({"1", "y", "yes", "t", "true", "on"})  # powertools' truthy values


def tracing_on(env: Mapping[str, str]) -> bool:
    """Whether powertools' Tracer would trace (its rule): inside Lambda (``LAMBDA_TASK_ROOT``), not under SAM
    or Chalice locally, and unless ``POWERTOOLS_TRACE_DISABLED`` is true."""
    if env.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower() in TRUE_WORDS:
        return False
    return (
        bool(env.get("LAMBDA_TASK_ROOT"))
        and not env.get("AWS_SAM_LOCAL")
        and not env.get("AWS_CHALICE_CLI_MODE")
    )


def traced(handler: Handler, env: Mapping[str, str]) -> Handler:
    """``handler`` in an X-Ray subsegment where tracing is on, else ``handler`` itself: powertools' Tracer
    loads the X-Ray SDK (and botocore, ~0.15 s) even when it is disabled, so none is made unless it traces."""
    if not tracing_on(env):
        return handler
    from aws_lambda_powertools import Tracer

    # botocore is all this function calls out with (pynamodb and the idempotency table use it); patching every
    # library X-Ray knows loads requests and more for nothing. capture_response=False: an answer may hold a
    # new API key.
    tracer = Tracer(patch_modules=["botocore"])
    traced_handler: Handler = tracer.capture_lambda_handler(handler, capture_response=False)
    return traced_handler


app = create_app()
logger = Logger()  # service: POWERTOOLS_SERVICE_NAME
metrics = Metrics(namespace=METRICS_NAMESPACE)
resolve = traced(app.resolve, os.environ)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return resolve(event, context)
