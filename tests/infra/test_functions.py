"""The API's functions: Python 3.12 on arm64 with the layer, JSON logs, X-Ray, limits, and exactly the
permissions and settings their code needs."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from pydantic import BaseModel

from meterbill.settings import ApiSettings, StorageSettings
from tests.infra.templates import REGION, function, properties, readable, role_of, statements_of_role

API = "ingest_handler.lambda_handler"
AUTHORIZER = "authorizer_handler.lambda_handler"
# Which settings model each handler reads (meterbill.api.dependencies / meterbill.api.authorizer).
SETTINGS_OF: dict[str, type[ApiSettings] | type[StorageSettings]] = {
    API: ApiSettings,
    AUTHORIZER: StorageSettings,
}
# Set by Lambda itself (reserved: a function may not set them).
SET_BY_LAMBDA = frozenset({"AWS_REGION", "AWS_DEFAULT_REGION"})
# Only for moto or the local server; on AWS the SDK finds DynamoDB's endpoint itself.
OFF_AWS_ONLY = frozenset(
    {
        "DYNAMODB_ENDPOINT_URL",
        "SQS_ENDPOINT_URL",
        "S3_ENDPOINT_URL",
        "SNS_ENDPOINT_URL",
        "SESSION_COOKIE_SECURE",  # "false" for the local http://127.0.0.1 server only; unset on AWS: Secure
    }
)
POWERTOOLS = {
    API: {
        "POWERTOOLS_SERVICE_NAME": "meterbill-api",
        "POWERTOOLS_METRICS_NAMESPACE": "meterbill",
        "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",
    },
    AUTHORIZER: {"POWERTOOLS_SERVICE_NAME": "meterbill-authorizer"},
}


def functions_of(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Handler -> function properties, of every function (the billing runs' too: test_billing.py)."""
    return {fn["Handler"]: fn for fn in properties(template, "AWS::Lambda::Function")}


def api_functions_of(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Handler -> function properties, of the API's two functions."""
    return {handler: fn for handler, fn in functions_of(template).items() if handler in SETTINGS_OF}


def test_each_stage_has_the_api_function_and_the_authorizer(
    dev: dict[str, Any], prod: dict[str, Any]
) -> None:
    assert {h: fn["FunctionName"] for h, fn in api_functions_of(dev).items()} == {
        API: "meterbill-dev-api",
        AUTHORIZER: "meterbill-dev-authorizer",
    }
    assert {h: fn["FunctionName"] for h, fn in api_functions_of(prod).items()} == {
        API: "meterbill-prod-api",
        AUTHORIZER: "meterbill-prod-authorizer",
    }


@pytest.mark.parametrize("handler", [API, AUTHORIZER])
def test_functions_run_python_3_12_on_arm64_with_the_layer_json_logs_and_active_tracing(
    dev: dict[str, Any], handler: str
) -> None:
    fn = functions_of(dev)[handler]
    (layer_id,) = [k for k, r in dev["Resources"].items() if r["Type"] == "AWS::Lambda::LayerVersion"]
    assert (fn["Runtime"], fn["Architectures"], fn["Layers"], fn["TracingConfig"]) == (
        "python3.12",
        ["arm64"],
        [{"Ref": layer_id}],
        {"Mode": "Active"},
    )
    assert readable(dev, fn["LoggingConfig"]) == {
        "LogFormat": "JSON",
        "ApplicationLogLevel": "DEBUG",
        "SystemLogLevel": "WARN",
        "LogGroup": f"log group of {fn['FunctionName']}",
    }


def test_prod_logs_at_info_and_keeps_logs_a_year_dev_two_weeks(
    dev: dict[str, Any], prod: dict[str, Any]
) -> None:
    for template, level, days in ((dev, "DEBUG", 14), (prod, "INFO", 365)):
        for fn in functions_of(template).values():
            log_group = template["Resources"][fn["LoggingConfig"]["LogGroup"]["Ref"]]
            assert (
                fn["LoggingConfig"]["ApplicationLogLevel"],
                log_group["Properties"]["RetentionInDays"],
            ) == (
                level,
                days,
            )


def test_memory_timeouts_and_reserved_concurrency(dev: dict[str, Any], prod: dict[str, Any]) -> None:
    def limits(template: dict[str, Any]) -> dict[str, tuple[int, int, int | None]]:
        return {
            fn["FunctionName"]: (fn["MemorySize"], fn["Timeout"], fn.get("ReservedConcurrentExecutions"))
            for fn in api_functions_of(template).values()
        }

    assert limits(dev) == {"meterbill-dev-api": (1024, 29, None), "meterbill-dev-authorizer": (512, 10, None)}
    assert limits(prod) == {
        "meterbill-prod-api": (1024, 29, 100),
        "meterbill-prod-authorizer": (512, 10, None),
    }


def test_environment_names_the_stage_tables_and_powertools_settings(dev: dict[str, Any]) -> None:
    assert readable(dev, function(dev, "meterbill-dev-api")["Environment"]["Variables"]) == {
        "CATALOG_TABLE": "meterbill-dev-catalog",
        "READINGS_TABLE": "meterbill-dev-readings",
        "IDEMPOTENCY_TABLE": "meterbill-dev-idempotency",
        "EMAIL_QUEUE_URL": "meterbill-dev-email",  # resends (constructs/email.py)
        "INVOICES_BUCKET": "InvoicesInvoicesBucket33673995",  # a Ref: the bucket's generated name
        # constructs/alerts.py: the topic's ARN (its Ref) and the readings queue's URL (its Ref)
        "ALERTS_TOPIC_ARN": "meterbill-dev-alerts",
        "ALERTS_QUEUE_URL": "meterbill-dev-alerts-readings",
        **POWERTOOLS[API],
    }
    assert readable(dev, function(dev, "meterbill-dev-authorizer")["Environment"]["Variables"]) == {
        "CATALOG_TABLE": "meterbill-dev-catalog",
        "READINGS_TABLE": "meterbill-dev-readings",
        **POWERTOOLS[AUTHORIZER],
    }


class KeysAsked(Mapping[str, str]):
    """An environment that remembers every key a settings model asks for; with ``anything``, it holds every
    key (with that value), so the model reads all it would ever read."""

    def __init__(self, values: Mapping[str, str], *, anything: str | None = None) -> None:
        self._values = dict(values)
        self.anything = anything
        self.asked: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        if key not in self._values and self.anything is not None:
            return self.anything
        return self._values[key]

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def keys_read_by(model: type[ApiSettings] | type[StorageSettings]) -> set[str]:
    environment = KeysAsked({}, anything="any-value")
    model.from_env(environment)
    return environment.asked


def test_the_settings_models_read_these_keys() -> None:
    assert keys_read_by(StorageSettings) == {
        "CATALOG_TABLE",
        "READINGS_TABLE",
        "AWS_REGION",
        "DYNAMODB_ENDPOINT_URL",
    }
    assert keys_read_by(ApiSettings) == keys_read_by(StorageSettings) | {
        "IDEMPOTENCY_TABLE",
        "EMAIL_QUEUE_URL",
        "SQS_ENDPOINT_URL",
        "INVOICES_BUCKET",
        "S3_ENDPOINT_URL",
        "ALERTS_TOPIC_ARN",  # alert subscriptions (issue 11)
        "SNS_ENDPOINT_URL",
        "ALERTS_QUEUE_URL",
        "SESSION_COOKIE_SECURE",  # console sessions (issue 13)
    }


@pytest.mark.parametrize("stage", ["dev", "prod"])
@pytest.mark.parametrize("handler", [API, AUTHORIZER])
def test_each_function_gets_exactly_the_environment_its_settings_model_reads(
    synthesized: Any, stage: str, handler: str
) -> None:
    template = synthesized.templates[stage]
    variables = readable(template, functions_of(template)[handler]["Environment"]["Variables"])
    model = SETTINGS_OF[handler]
    on_lambda = KeysAsked({**variables, "AWS_REGION": REGION})

    settings: BaseModel = model.from_env(on_lambda)

    storage = settings.storage if isinstance(settings, ApiSettings) else settings
    assert isinstance(storage, StorageSettings)
    assert (storage.catalog_table, storage.readings_table, storage.region, storage.endpoint_url) == (
        f"meterbill-{stage}-catalog",
        f"meterbill-{stage}-readings",
        REGION,
        None,
    )
    if isinstance(settings, ApiSettings):
        assert settings.idempotency_table == f"meterbill-{stage}-idempotency"
    settings_keys = set(variables) - set(POWERTOOLS[handler])
    assert settings_keys == keys_read_by(model) - SET_BY_LAMBDA - OFF_AWS_ONLY
    assert settings_keys <= on_lambda.asked  # every key set is read
    assert {k: variables[k] for k in POWERTOOLS[handler]} == POWERTOOLS[handler]


def test_the_api_role_may_do_exactly_what_the_adapters_and_powertools_call(dev: dict[str, Any]) -> None:
    role_id, role = role_of(dev, "meterbill-dev-api")
    assert "ManagedPolicyArns" not in role
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}
    ]
    assert statements_of_role(dev, role_id) == [
        {
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Effect": "Allow",
            "Resource": "arn:log group of meterbill-dev-api",
        },
        {"Action": ["xray:PutTelemetryRecords", "xray:PutTraceSegments"], "Effect": "Allow", "Resource": "*"},
        {
            "Sid": "Catalog",
            "Action": [
                "dynamodb:BatchGetItem",
                "dynamodb:DeleteItem",
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:Query",
                "dynamodb:UpdateItem",
            ],
            "Effect": "Allow",
            "Resource": "arn:meterbill-dev-catalog",
        },
        {
            "Sid": "ApiKeysByAccount",
            "Action": "dynamodb:Query",
            "Effect": "Allow",
            "Resource": "arn:meterbill-dev-catalog/index/api-keys-by-account",
        },
        {
            "Sid": "InvoicesByIssueMonth",
            "Action": "dynamodb:Query",
            "Effect": "Allow",
            "Resource": "arn:meterbill-dev-catalog/index/invoices-by-issue-month",
        },
        {
            "Sid": "Readings",
            "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"],
            "Effect": "Allow",
            "Resource": "arn:meterbill-dev-readings",
        },
        {
            "Sid": "Idempotency",
            "Action": ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
            "Effect": "Allow",
            "Resource": "arn:meterbill-dev-idempotency",
        },
        {
            "Sid": "InvoiceDocuments",  # GET /v1/invoices/{id}/pdf: HEAD, and the presigned GET
            "Action": "s3:GetObject",
            "Effect": "Allow",
            "Resource": "arn:InvoicesInvoicesBucket33673995/*/invoices/*",
        },
        {  # /v1/alert-subscriptions: Subscribe on the topic, the others on a subscription (<topic arn>:<id>)
            "Sid": "AlertSubscriptions",
            "Action": ["sns:GetSubscriptionAttributes", "sns:Subscribe", "sns:Unsubscribe"],
            "Effect": "Allow",
            "Resource": ["meterbill-dev-alerts:*", "meterbill-dev-alerts"],
        },
        {  # ingest: one ReadingsArrived per request that stored readings
            "Sid": "AlertsQueue",
            "Action": "sqs:SendMessage",
            "Effect": "Allow",
            "Resource": "arn:meterbill-dev-alerts-readings",
        },
        {  # POST /v1/invoices/{id}/resend
            "Sid": "EmailQueue",
            "Action": "sqs:SendMessage",
            "Effect": "Allow",
            "Resource": "arn:meterbill-dev-email",
        },
    ]


def test_the_authorizer_role_may_only_read_items_of_the_catalog(dev: dict[str, Any]) -> None:
    role_id, role = role_of(dev, "meterbill-dev-authorizer")
    assert "ManagedPolicyArns" not in role
    assert statements_of_role(dev, role_id) == [
        {
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Effect": "Allow",
            "Resource": "arn:log group of meterbill-dev-authorizer",
        },
        {"Action": ["xray:PutTelemetryRecords", "xray:PutTraceSegments"], "Effect": "Allow", "Resource": "*"},
        {
            "Sid": "ApiKeys",
            "Action": "dynamodb:GetItem",
            "Effect": "Allow",
            "Resource": "arn:meterbill-dev-catalog",
        },
    ]


def test_no_statement_but_x_rays_allows_every_resource(dev: dict[str, Any], prod: dict[str, Any]) -> None:
    for template in (dev, prod):
        wildcards = [
            statement["Action"]
            for policy in properties(template, "AWS::IAM::Policy")
            for statement in policy["PolicyDocument"]["Statement"]
            if "*" in str(statement["Resource"])
        ]
        # one per function role: the API's two, the billing runs' four, the email functions' two and the
        # alerts' two; of the schedules' roles only the invoice schedule's (it stores the savings reports)
        assert [w for w in wildcards if w != ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]] == [
            "s3:GetObject",  # the API: <account>/invoices/* of the invoices bucket
            # the API: the alerts topic's subscriptions, <topic arn>:<uuid>
            ["sns:GetSubscriptionAttributes", "sns:Subscribe", "sns:Unsubscribe"],
            [
                "s3:GetObject",
                "s3:PutObject",
                "s3:PutObjectRetention",
            ],  # the invoice schedule: savings reports under the same prefixes
            [
                "s3:GetObject",
                "s3:PutObject",
                "s3:PutObjectRetention",
            ],  # the invoice worker: the same prefixes
            "secretsmanager:GetSecretValue",  # the invoice worker: meterbill/<stage>/signing-key/*
            "s3:GetObject",  # the email worker: the same prefixes, read only
            "ses:GetSendQuota",  # the email worker: no resource-level permission
        ]
        assert wildcards.count(["xray:PutTelemetryRecords", "xray:PutTraceSegments"]) == 10
