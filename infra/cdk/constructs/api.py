"""The hosted API: a regional REST API whose routes are the OpenAPI document's (``docs/openapi.json``), each a
Lambda proxy to the ``api`` function, behind the Lambda REQUEST authorizer.

- Authorizer: no identity source and no result cache, so API Gateway calls it for every request. It reads
  the credential itself: the ``Authorization`` header (an API key) or the console's ``mb_session`` cookie
  (``meterbill.api.authorizer``). An identity source must be present in every request (API Gateway answers
  401 without calling the authorizer when one is missing) and is the cache key, so neither the header alone
  (cookie-only requests refused) nor both (key-only requests refused) works for two kinds of credential; and
  caching by anything else would hand one credential's answer to another. The price: one authorizer
  invocation and one or two consistent reads (the key; the session) per request. The gain: a revoked key, a
  signed-out or expired session is refused from the next request on.
- Request validation: the required path and query parameters of each route, checked before the function
  runs. Bodies are validated by the function, which names each field at fault (problem+json, 422).
- Size limits: the function's gate answers 413 over 1 MB (imports: 5 MB); API Gateway's own limit is 10 MB
  and Lambda's 6 MB for the whole event, so nothing larger reaches the function (an octet-stream body arrives
  base64-encoded, 4/3 of its size: such an import over ~4.4 MB fails before the function runs).
- Throttling: the stage's limit for all clients together, a lower one for imports, and a usage plan whose
  per-key limit applies to API keys the authorizer names (``usageIdentifierKey``; see docs/architecture.md).
- Access logs: one JSON line per request with the key id and the account, in a log group kept by stage.
- API Gateway's own answers (no key, unknown route, missing parameter, throttled, too large) are problem
  documents like the function's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.cdk.constructs.functions import Functions
from infra.cdk.sources import OPENAPI_DOCUMENT
from infra.cdk.stages import StageConfig

IMPORTS_PATH: Final = "/v1/imports"
# As the local API Gateway emulator (local/apigateway.py): such bodies arrive base64-encoded.
BINARY_MEDIA_TYPES: Final = ("application/octet-stream", "image/png", "image/jpeg")  # imports; the logo
HTTP_METHODS: Final = ("get", "put", "post", "delete", "patch", "head", "options")

ACCESS_LOG_FIELDS: Final = {
    "requestId": "$context.requestId",
    "time": "$context.requestTime",
    "ip": "$context.identity.sourceIp",
    "userAgent": "$context.identity.userAgent",
    "method": "$context.httpMethod",
    "path": "$context.path",
    "route": "$context.resourcePath",
    "status": "$context.status",
    "responseBytes": "$context.responseLength",
    "latencyMs": "$context.responseLatency",
    "integrationLatencyMs": "$context.integrationLatency",
    "keyId": "$context.authorizer.principalId",
    "account": "$context.authorizer.account_id",
    "error": "$context.error.message",
    "xrayTraceId": "$context.xrayTraceId",
}


@dataclass(frozen=True, slots=True)
class Route:
    """One operation of the OpenAPI document."""

    path: str
    method: str  # upper case
    public: bool
    # ``method.request.<where>.<name>`` → required
    parameters: Mapping[str, bool]


def routes(document_path: Path = OPENAPI_DOCUMENT) -> Iterator[Route]:
    document: dict[str, Any] = json.loads(document_path.read_text(encoding="utf-8"))
    for path, operations in sorted(document["paths"].items()):
        for method, operation in operations.items():
            if method not in HTTP_METHODS:
                continue
            parameters = {
                f"method.request.{_LOCATIONS[p['in']]}.{p['name']}": bool(p.get("required", False))
                for p in operation.get("parameters", [])
                if p["in"] in _LOCATIONS
            }
            yield Route(path, method.upper(), operation.get("security") == [], parameters)


_LOCATIONS: Final = {"path": "path", "query": "querystring", "header": "header"}

# The console's HTML pages (``meterbill.api.routes.console``): not in the OpenAPI document, public at the
# gateway (each page authenticates itself from the session cookie, so that it can send a browser without one
# to the sign-in page), proxied to the same function.
CONSOLE_ROUTES: Final = (
    Route("/console", "GET", True, {}),
    Route("/console/{proxy+}", "GET", True, {}),
    Route("/console/{proxy+}", "POST", True, {}),
)


class Api(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, stage: StageConfig, functions: Functions
    ) -> None:
        super().__init__(scope, construct_id)
        self.access_logs = logs.LogGroup(
            self, "AccessLogs", retention=stage.log_retention, removal_policy=stage.removal_policy
        )
        self.rest_api = apigw.RestApi(
            self,
            "RestApi",
            rest_api_name=stage.resource_name("api"),
            description="meterbill hosted API (routes from docs/openapi.json)",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            binary_media_types=list(BINARY_MEDIA_TYPES),
            api_key_source_type=apigw.ApiKeySourceType.AUTHORIZER,
            # Access and execution logs need API Gateway's account-wide CloudWatch role (one per region).
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
            deploy_options=apigw.StageOptions(
                stage_name=stage.name,
                tracing_enabled=True,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,  # would log bodies: customers' data
                metrics_enabled=False,  # per-method metrics are billed; the API's own metrics are free
                throttling_rate_limit=stage.api_rate_limit,
                throttling_burst_limit=stage.api_burst_limit,
                method_options={
                    # A method's settings replace the stage's: the logging settings are repeated.
                    f"{IMPORTS_PATH}/POST": apigw.MethodDeploymentOptions(
                        throttling_rate_limit=stage.import_rate_limit,
                        throttling_burst_limit=stage.import_burst_limit,
                        logging_level=apigw.MethodLoggingLevel.ERROR,
                        data_trace_enabled=False,
                        metrics_enabled=False,
                    )
                },
                access_log_destination=apigw.LogGroupLogDestination(self.access_logs),
                access_log_format=apigw.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FIELDS)),
            ),
        )
        # API Gateway writes its execution logs (level ERROR) here; made first, so they expire by stage too
        # (the group API Gateway would make by itself keeps them forever).
        self.execution_logs = logs.LogGroup(
            self,
            "ExecutionLogs",
            log_group_name=f"API-Gateway-Execution-Logs_{self.rest_api.rest_api_id}/{stage.name}",
            retention=stage.log_retention,
            removal_policy=stage.removal_policy,
        )
        self.rest_api.deployment_stage.node.add_dependency(self.execution_logs)
        # The stack names the URL itself (output ApiUrl) rather than by CDK's generated output id.
        self.rest_api.node.try_remove_child("Endpoint")
        self.authorizer = apigw.RequestAuthorizer(
            self,
            "ApiKeyAuthorizer",
            authorizer_name=stage.resource_name("api-key"),
            handler=functions.authorizer,
            identity_sources=[],  # the authorizer reads the Authorization header or the session cookie
            results_cache_ttl=Duration.seconds(0),  # no identity source: nothing to cache by
        )
        validator = self.rest_api.add_request_validator(
            "RequiredParameters",
            request_validator_name="required-parameters",
            validate_request_parameters=True,
            validate_request_body=False,
        )
        # One permission for the whole API (one per method would outgrow Lambda's 20 KB resource policy).
        integration = apigw.LambdaIntegration(functions.api, proxy=True, scope_permission_to_method=False)
        self.public_methods: list[apigw.Method] = []
        for route in (*routes(), *CONSOLE_ROUTES):
            method = self.rest_api.root.resource_for_path(route.path).add_method(
                route.method,
                integration,
                authorization_type=apigw.AuthorizationType.NONE if route.public else None,
                authorizer=None if route.public else self.authorizer,
                request_validator=validator,
                request_parameters=dict(route.parameters),
            )
            if route.public:
                self.public_methods.append(method)
        self.usage_plan = self.rest_api.add_usage_plan(
            "StandardUsagePlan",
            name=stage.resource_name("standard"),
            description="Per API key limits; applies to keys the authorizer names as usageIdentifierKey",
            throttle=apigw.ThrottleSettings(
                rate_limit=stage.api_key_rate_limit, burst_limit=stage.api_key_burst_limit
            ),
            api_stages=[apigw.UsagePlanPerApiStage(api=self.rest_api, stage=self.rest_api.deployment_stage)],
        )
        for response in GATEWAY_PROBLEMS:
            self.rest_api.add_gateway_response(
                response.construct_id,
                type=response.type,
                status_code=str(response.status),
                response_headers={"Content-Type": "'application/problem+json'", **response.headers},
                templates={"application/json": response.template()},
            )


@dataclass(frozen=True, slots=True)
class GatewayProblem:
    """An answer API Gateway gives itself, as an RFC 9457 problem document (like the function's)."""

    construct_id: str
    type: apigw.ResponseType
    status: int
    title: str
    # JSON text of the detail: a quoted literal, or a ``$context`` variable that is JSON-quoted already.
    detail_json: str
    headers: Mapping[str, str]

    def template(self) -> str:
        return (
            f'{{"type":"about:blank","title":{json.dumps(self.title)},"status":{self.status},'
            f'"detail":{self.detail_json},"errors":[]}}'
        )


def _problem(
    construct_id: str,
    response_type: apigw.ResponseType,
    status: int,
    title: str,
    detail: str | None = None,
    *,
    detail_json: str = "$context.error.messageString",
    headers: Mapping[str, str] | None = None,
) -> GatewayProblem:
    """``detail``: a fixed text; without it ``detail_json`` (API Gateway's message, JSON-quoted already)."""
    return GatewayProblem(
        construct_id,
        response_type,
        status,
        title,
        json.dumps(detail) if detail is not None else detail_json,
        headers or {},
    )


# Every answer API Gateway can give here by itself, with the status it gives (the DEFAULT_4XX/5XX responses
# are not overridden: they cover several statuses, and a problem document must state the right one).
GATEWAY_PROBLEMS: Final = (
    _problem(
        "NoValidApiKey",
        apigw.ResponseType.UNAUTHORIZED,
        401,
        "Unauthorized",
        "this route needs a valid API key: Authorization: Bearer <key>",
    ),
    _problem("AccessDenied", apigw.ResponseType.ACCESS_DENIED, 403, "Forbidden"),
    # API Gateway's answer to a path or method it has no route for (its default is a misleading 403).
    _problem(
        "NoSuchRoute", apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN, 404, "Not Found", "no such route"
    ),
    # As the function answers a missing query parameter; the message names the parameters.
    _problem(
        "MissingParameters",
        apigw.ResponseType.BAD_REQUEST_PARAMETERS,
        422,
        "Unprocessable Content",
        detail_json='"$context.error.validationErrorString"',
    ),
    _problem("BodyTooLarge", apigw.ResponseType.REQUEST_TOO_LARGE, 413, "Content Too Large"),
    _problem(
        "UnsupportedMediaType", apigw.ResponseType.UNSUPPORTED_MEDIA_TYPE, 415, "Unsupported Media Type"
    ),
    _problem(
        "Throttled", apigw.ResponseType.THROTTLED, 429, "Too Many Requests", headers={"Retry-After": "'1'"}
    ),
    _problem("QuotaExceeded", apigw.ResponseType.QUOTA_EXCEEDED, 429, "Too Many Requests"),
    _problem("AuthorizerFailed", apigw.ResponseType.AUTHORIZER_FAILURE, 500, "Internal Server Error"),
    _problem(
        "AuthorizerMisconfigured",
        apigw.ResponseType.AUTHORIZER_CONFIGURATION_ERROR,
        500,
        "Internal Server Error",
    ),
    _problem("IntegrationFailed", apigw.ResponseType.INTEGRATION_FAILURE, 504, "Gateway Timeout"),
    _problem("IntegrationTimeout", apigw.ResponseType.INTEGRATION_TIMEOUT, 504, "Gateway Timeout"),
)
