"""The REST API: the OpenAPI routes behind the REQUEST authorizer (uncached: a key or a session cookie),
validation, throttling, logs, and API Gateway's own answers as problem documents."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Match, Template

from infra.cdk.sources import OPENAPI_DOCUMENT
from tests.infra.templates import properties, readable, resources, the_one

PROBLEM_JSON_HEADER = {"gatewayresponse.header.Content-Type": "'application/problem+json'"}


def path_of(template: dict[str, Any], resource_ref: Any) -> str:
    """``/v1/customers/{customer_id}`` of an AWS::ApiGateway::Resource (the root: ``/``)."""
    parts = []
    while isinstance(resource_ref, dict) and "Ref" in resource_ref:
        resource = template["Resources"][resource_ref["Ref"]]["Properties"]
        parts.append(resource["PathPart"])
        resource_ref = resource["ParentId"]
    return "/" + "/".join(reversed(parts))


# The console's HTML pages: not in the OpenAPI document, public at the gateway.
CONSOLE_PAGES = {("GET", "/console"), ("GET", "/console/{proxy+}"), ("POST", "/console/{proxy+}")}


def methods(template: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (m["HttpMethod"], path_of(template, m["ResourceId"])): m
        for m in properties(template, "AWS::ApiGateway::Method")
    }


def openapi_operations() -> dict[tuple[str, str], dict[str, Any]]:
    document = json.loads(OPENAPI_DOCUMENT.read_text(encoding="utf-8"))
    return {
        (method.upper(), path): op for path, ops in document["paths"].items() for method, op in ops.items()
    }


def test_every_route_of_the_openapi_document_and_no_other_is_a_lambda_proxy_to_the_api_function(
    dev: dict[str, Any],
) -> None:
    found = methods(dev)
    assert set(found) == set(openapi_operations()) | CONSOLE_PAGES
    assert ("PUT", "/v1/settings/billing") in found  # the real document, with the routes added since
    for method in found.values():
        assert readable(dev, method["Integration"]) == {
            "Type": "AWS_PROXY",
            "IntegrationHttpMethod": "POST",
            "Uri": "arn:aws:apigateway:eu-central-1:lambda:path/2015-03-31/functions/arn:meterbill-dev-api"
            "/invocations",
        }


def test_every_route_but_the_openapi_document_and_signing_in_goes_through_the_authorizer(
    dev: dict[str, Any],
) -> None:
    (authorizer_id,) = resources(dev, "AWS::ApiGateway::Authorizer")
    authorization = {
        route: (m["AuthorizationType"], m.get("AuthorizerId", {}).get("Ref"))
        for route, m in methods(dev).items()
    }
    assert authorization.pop(("GET", "/v1/openapi.json")) == ("NONE", None)
    assert authorization.pop(("POST", "/v1/sessions")) == ("NONE", None)
    for console_page in CONSOLE_PAGES:  # the pages check the session cookie themselves
        assert authorization.pop(console_page) == ("NONE", None)
    assert authorization[("DELETE", "/v1/sessions/current")] == ("CUSTOM", authorizer_id)
    assert set(authorization.values()) == {("CUSTOM", authorizer_id)}


def test_the_authorizer_has_no_identity_source_and_no_cache_so_a_cookie_alone_reaches_it(
    dev: dict[str, Any],
) -> None:
    """With the Authorization header as identity source, API Gateway would answer a request carrying only
    the session cookie 401 without calling the authorizer, and cache answers by that header alone."""
    authorizer = the_one(dev, "AWS::ApiGateway::Authorizer")
    assert (
        authorizer["Type"],
        authorizer.get("IdentitySource", ""),
        authorizer["AuthorizerResultTtlInSeconds"],
        authorizer["Name"],
    ) == ("REQUEST", "", 0, "meterbill-dev-api-key")
    assert "/functions/arn:meterbill-dev-authorizer/invocations" in str(
        readable(dev, authorizer["AuthorizerUri"])
    )


def test_the_policy_the_authorizer_returns_covers_the_whole_stage_so_caching_is_safe() -> None:
    from meterbill.api.authorizer import every_method

    arn = "arn:aws:execute-api:eu-central-1:111111111111:a1b2c3/prod/GET/v1/meters/mtr_1"
    assert every_method(arn) == "arn:aws:execute-api:eu-central-1:111111111111:a1b2c3/prod/*"


def test_required_path_and_query_parameters_are_validated_by_api_gateway(dev: dict[str, Any]) -> None:
    (validator_id, validator) = next(iter(resources(dev, "AWS::ApiGateway::RequestValidator").items()))
    assert validator["Properties"] == {
        "Name": "required-parameters",
        "RestApiId": {"Ref": next(iter(resources(dev, "AWS::ApiGateway::RestApi")))},
        "ValidateRequestBody": False,
        "ValidateRequestParameters": True,
    }
    found = methods(dev)
    assert {m["RequestValidatorId"]["Ref"] for m in found.values()} == {validator_id}
    assert found[("GET", "/v1/meters/{meter_id}/usage")]["RequestParameters"] == {
        "method.request.path.meter_id": True,
        "method.request.querystring.from": True,
        "method.request.querystring.to": True,
        "method.request.querystring.resolution": False,
    }
    assert found[("POST", "/v1/imports")]["RequestParameters"] == {
        "method.request.querystring.format": True,
        "method.request.querystring.meter_id": False,
        "method.request.header.idempotency-key": False,
    }


def test_the_api_is_regional_takes_octet_stream_as_binary_and_api_keys_from_the_authorizer(
    dev: dict[str, Any],
) -> None:
    assert the_one(dev, "AWS::ApiGateway::RestApi") == {
        "Name": "meterbill-dev-api",
        "Description": "meterbill hosted API (routes from docs/openapi.json)",
        "EndpointConfiguration": {"Types": ["REGIONAL"]},
        "BinaryMediaTypes": ["application/octet-stream", "image/png", "image/jpeg"],
        "ApiKeySourceType": "AUTHORIZER",
        "Tags": [{"Key": "project", "Value": "meterbill"}, {"Key": "stage", "Value": "dev"}],
    }


def test_the_stage_throttles_logs_errors_traces_and_writes_json_access_logs(
    dev: dict[str, Any], prod: dict[str, Any]
) -> None:
    stage = the_one(prod, "AWS::ApiGateway::Stage")
    assert (stage["StageName"], stage["TracingEnabled"]) == ("prod", True)
    assert stage["MethodSettings"] == [
        {
            "HttpMethod": "*",
            "ResourcePath": "/*",
            "ThrottlingRateLimit": 1000,
            "ThrottlingBurstLimit": 2000,
            "LoggingLevel": "ERROR",
            "DataTraceEnabled": False,
            "MetricsEnabled": False,
        },
        {
            "HttpMethod": "POST",
            "ResourcePath": "/~1v1~1imports",
            "ThrottlingRateLimit": 10,
            "ThrottlingBurstLimit": 20,
            "LoggingLevel": "ERROR",
            "DataTraceEnabled": False,
            "MetricsEnabled": False,
        },
    ]
    access_log = json.loads(stage["AccessLogSetting"]["Format"])
    assert (access_log["requestId"], access_log["keyId"], access_log["account"], access_log["status"]) == (
        "$context.requestId",
        "$context.authorizer.principalId",
        "$context.authorizer.account_id",
        "$context.status",
    )
    dev_limits = [
        (s["ThrottlingRateLimit"], s["ThrottlingBurstLimit"])
        for s in the_one(dev, "AWS::ApiGateway::Stage")["MethodSettings"]
    ]
    assert dev_limits == [(50, 100), (2, 4)]


def test_access_and_execution_logs_expire_by_stage(dev: dict[str, Any], prod: dict[str, Any]) -> None:
    for template, stage, days in ((dev, "dev", 14), (prod, "prod", 365)):
        stage_resource = the_one(template, "AWS::ApiGateway::Stage")
        access_logs = template["Resources"][
            stage_resource["AccessLogSetting"]["DestinationArn"]["Fn::Join"][1][-1]["Ref"]
        ]
        (execution_logs,) = [p for p in properties(template, "AWS::Logs::LogGroup") if "LogGroupName" in p]
        assert access_logs["Properties"]["RetentionInDays"] == days
        assert (readable(template, execution_logs["LogGroupName"]), execution_logs["RetentionInDays"]) == (
            f"API-Gateway-Execution-Logs_meterbill-{stage}-api/{stage}",
            days,
        )


def test_the_usage_plan_limits_each_api_key_on_the_stage(dev: dict[str, Any], prod: dict[str, Any]) -> None:
    plan = the_one(prod, "AWS::ApiGateway::UsagePlan")
    assert (plan["UsagePlanName"], plan["Throttle"]) == (
        "meterbill-prod-standard",
        {"RateLimit": 100, "BurstLimit": 200},
    )
    assert [readable(prod, s) for s in plan["ApiStages"]] == [
        {
            "ApiId": "meterbill-prod-api",
            "Stage": next(iter(resources(prod, "AWS::ApiGateway::Stage"))),
            "Throttle": {},
        }
    ]
    assert the_one(dev, "AWS::ApiGateway::UsagePlan")["Throttle"] == {"RateLimit": 10, "BurstLimit": 20}


def test_api_gateway_may_invoke_the_api_function_with_one_permission_for_the_whole_api(
    dev: dict[str, Any],
) -> None:
    permissions = [readable(dev, p) for p in properties(dev, "AWS::Lambda::Permission")]
    api_permissions = [p for p in permissions if p["FunctionName"] == "arn:meterbill-dev-api"]
    assert api_permissions == [
        {
            "Action": "lambda:InvokeFunction",
            "FunctionName": "arn:meterbill-dev-api",
            "Principal": "apigateway.amazonaws.com",
            "SourceArn": "arn:aws:execute-api:eu-central-1:111111111111:meterbill-dev-api/*/*/*",
        }
    ]


def test_api_gateways_own_answers_are_problem_documents_with_their_status(dev: dict[str, Any]) -> None:
    answers = {
        p["ResponseType"]: (
            p["StatusCode"],
            json.loads(
                p["ResponseTemplates"]["application/json"].replace(
                    "$context.error.messageString", '"<message>"'
                )
            ),
        )
        for p in properties(dev, "AWS::ApiGateway::GatewayResponse")
    }
    assert {kind: status for kind, (status, _) in answers.items()} == {
        "UNAUTHORIZED": "401",
        "ACCESS_DENIED": "403",
        "MISSING_AUTHENTICATION_TOKEN": "404",
        "BAD_REQUEST_PARAMETERS": "422",
        "REQUEST_TOO_LARGE": "413",
        "UNSUPPORTED_MEDIA_TYPE": "415",
        "THROTTLED": "429",
        "QUOTA_EXCEEDED": "429",
        "AUTHORIZER_FAILURE": "500",
        "AUTHORIZER_CONFIGURATION_ERROR": "500",
        "INTEGRATION_FAILURE": "504",
        "INTEGRATION_TIMEOUT": "504",
    }
    assert answers["UNAUTHORIZED"][1] == {
        "type": "about:blank",
        "title": "Unauthorized",
        "status": 401,
        "detail": "this route needs a valid API key: Authorization: Bearer <key>",
        "errors": [],
    }
    assert answers["MISSING_AUTHENTICATION_TOKEN"][1]["detail"] == "no such route"
    assert answers["BAD_REQUEST_PARAMETERS"][1]["detail"] == "$context.error.validationErrorString"
    for status, document in answers.values():
        assert document["status"] == int(status)
    Template.from_json(dev).all_resources_properties(
        "AWS::ApiGateway::GatewayResponse", {"ResponseParameters": Match.object_like(PROBLEM_JSON_HEADER)}
    )
    throttled = [
        p for p in properties(dev, "AWS::ApiGateway::GatewayResponse") if p["ResponseType"] == "THROTTLED"
    ]
    assert throttled[0]["ResponseParameters"]["gatewayresponse.header.Retry-After"] == "'1'"


def test_api_gateway_may_write_logs_through_its_account_wide_role(dev: dict[str, Any]) -> None:
    account = next(iter(resources(dev, "AWS::ApiGateway::Account").values()))
    role = dev["Resources"][account["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"][0]]
    assert account["DeletionPolicy"] == "Retain"
    assert readable(dev, role["Properties"]["ManagedPolicyArns"]) == [
        "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
    ]
