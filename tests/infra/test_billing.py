"""The billing runs on AWS: two schedules start the rating and invoicing passes, which fan out through SQS to
two workers; every failure ends in a dead-letter queue that raises an alarm; each role may do exactly what its
code calls (infra/cdk/constructs/billing.py)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from meterbill.settings import InvoiceSettings, RateSettings
from tests.infra.templates import (
    ACCOUNT,
    function,
    properties,
    readable,
    resources,
    role_of,
    statements_of_role,
)
from tests.infra.test_functions import KeysAsked

RATE_SCHEDULE = "rate_handler.lambda_handler"
RATE_WORKER = "rate_worker_handler.lambda_handler"
INVOICE_SCHEDULE = "invoice_schedule_handler.lambda_handler"
INVOICE_WORKER = "invoice_worker_handler.lambda_handler"


def powertools(service: str) -> dict[str, str]:
    """As the API's functions get them (tests/infra/test_functions.py)."""
    return {
        "POWERTOOLS_SERVICE_NAME": service,
        "POWERTOOLS_METRICS_NAMESPACE": "meterbill",
        "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",
    }


def queue(template: dict[str, Any], name: str) -> tuple[str, dict[str, Any]]:
    """(logical id, properties) of the queue named ``name``."""
    (found,) = [
        (logical_id, r["Properties"])
        for logical_id, r in resources(template, "AWS::SQS::Queue").items()
        if r["Properties"]["QueueName"] == name
    ]
    return found


def schedule(template: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [p for p in properties(template, "AWS::Scheduler::Schedule") if p["Name"] == name]
    return found


def own_statements(template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    """A function role's statements after the two every function has (its log group, X-Ray)."""
    statements = statements_of_role(template, role_id)
    assert [s["Action"] for s in statements[:2]] == [
        ["logs:CreateLogStream", "logs:PutLogEvents"],
        ["xray:PutTelemetryRecords", "xray:PutTraceSegments"],
    ]
    return statements[2:]


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_each_stage_has_the_four_billing_functions_on_their_handlers(synthesized: Any, stage: str) -> None:
    template = synthesized.templates[stage]
    found = {
        fn["FunctionName"]: (fn["Handler"], fn["Runtime"], fn["Architectures"], fn["TracingConfig"])
        for fn in properties(template, "AWS::Lambda::Function")
        if fn["Handler"] in (RATE_SCHEDULE, RATE_WORKER, INVOICE_SCHEDULE, INVOICE_WORKER)
    }
    on_arm = ("python3.12", ["arm64"], {"Mode": "Active"})
    assert found == {
        f"meterbill-{stage}-rate-schedule": (RATE_SCHEDULE, *on_arm),
        f"meterbill-{stage}-rate-worker": (RATE_WORKER, *on_arm),
        f"meterbill-{stage}-invoice-schedule": (INVOICE_SCHEDULE, *on_arm),
        f"meterbill-{stage}-invoice-worker": (INVOICE_WORKER, *on_arm),
    }


def test_the_rate_functions_share_one_asset_and_the_invoice_functions_another_with_the_layer(
    dev: dict[str, Any],
) -> None:
    (layer_id,) = resources(dev, "AWS::Lambda::LayerVersion")
    code = {
        name: (
            function(dev, f"meterbill-dev-{name}")["Code"]["S3Key"],
            function(dev, f"meterbill-dev-{name}")["Layers"],
        )
        for name in ("rate-schedule", "rate-worker", "invoice-schedule", "invoice-worker")
    }
    assert code["rate-schedule"] == code["rate-worker"]
    assert code["invoice-schedule"] == code["invoice-worker"]
    assert {layers[0]["Ref"] for _, layers in code.values()} == {layer_id}
    assert code["rate-schedule"][0] != function(dev, "meterbill-dev-api")["Code"]["S3Key"]


def test_memory_timeouts_and_reserved_concurrency_of_the_billing_functions(
    dev: dict[str, Any], prod: dict[str, Any]
) -> None:
    def limits(template: dict[str, Any], stage: str) -> dict[str, tuple[int, int, int | None]]:
        return {
            name: (fn["MemorySize"], fn["Timeout"], fn.get("ReservedConcurrentExecutions"))
            for name in ("rate-schedule", "rate-worker", "invoice-schedule", "invoice-worker")
            for fn in [function(template, f"meterbill-{stage}-{name}")]
        }

    # dev: a new account may have 10 concurrent executions in all, none to reserve (as for the API)
    assert limits(dev, "dev") == {
        "rate-schedule": (1024, 300, None),
        "rate-worker": (1024, 120, None),
        "invoice-schedule": (512, 300, None),
        "invoice-worker": (1024, 120, None),
    }
    assert limits(prod, "prod") == {
        "rate-schedule": (1024, 300, None),
        "rate-worker": (1024, 120, 10),
        "invoice-schedule": (512, 300, None),
        "invoice-worker": (1024, 120, 5),
    }


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_environment_names_the_tables_the_queues_and_powertools_settings(
    synthesized: Any, stage: str
) -> None:
    template = synthesized.templates[stage]

    def environment(name: str) -> dict[str, Any]:
        return dict(function(template, f"meterbill-{stage}-{name}")["Environment"]["Variables"])

    tables = {"CATALOG_TABLE": f"meterbill-{stage}-catalog", "READINGS_TABLE": f"meterbill-{stage}-readings"}
    assert {name: readable(template, environment(name)) for name in ("rate-schedule", "rate-worker")} == {
        "rate-schedule": {
            **tables,
            "RATE_QUEUE_URL": f"meterbill-{stage}-rate",
            **powertools("meterbill-rate-schedule"),
        },
        "rate-worker": {
            **tables,
            "RATE_QUEUE_URL": f"meterbill-{stage}-rate",
            **powertools("meterbill-rate-worker"),
        },
    }
    documents = {
        "INVOICES_BUCKET": "InvoicesInvoicesBucket33673995",  # a Ref: the bucket's generated name
        "INVOICE_RETENTION_DAYS": {"dev": "1", "prod": "3653"}[stage],
        "INVOICE_RETENTION_FROM": {"dev": "stored", "prod": "year_end"}[stage],
        "SIGNING_KEY_SECRET_PREFIX": f"meterbill/{stage}/signing-key/",
    }
    assert readable(template, environment("invoice-schedule")) == {
        **tables,
        "INVOICE_QUEUE_URL": f"meterbill-{stage}-invoice",
        **documents,
        "EMAIL_QUEUE_URL": f"meterbill-{stage}-email",  # the first email of each savings report
        **powertools("meterbill-invoice-schedule"),
    }
    assert readable(template, environment("invoice-worker")) == {
        **tables,
        **documents,
        "EMAIL_QUEUE_URL": f"meterbill-{stage}-email",  # the first email of each stored document
        **powertools("meterbill-invoice-worker"),
    }
    # A queue's URL is its Ref (readable shows the name).
    rate_queue, _ = queue(template, f"meterbill-{stage}-rate")
    invoice_queue, _ = queue(template, f"meterbill-{stage}-invoice")
    assert (
        environment("rate-schedule")["RATE_QUEUE_URL"],
        environment("rate-worker")["RATE_QUEUE_URL"],
        environment("invoice-schedule")["INVOICE_QUEUE_URL"],
    ) == ({"Ref": rate_queue}, {"Ref": rate_queue}, {"Ref": invoice_queue})


@pytest.mark.parametrize("stage", ["dev", "prod"])
@pytest.mark.parametrize(
    ("name", "model", "queue_url"),
    [
        ("rate-schedule", RateSettings, "queue_url"),
        ("rate-worker", RateSettings, "queue_url"),
        ("invoice-schedule", InvoiceSettings, "invoice_queue_url"),
        ("invoice-worker", InvoiceSettings, None),
    ],
)
def test_each_function_reads_every_variable_it_gets_into_its_settings_model(
    synthesized: Any,
    stage: str,
    name: str,
    model: type[RateSettings | InvoiceSettings],
    queue_url: str | None,
) -> None:
    """The variables are the ones the handler's settings model reads (meterbill.settings), and they parse."""
    template = synthesized.templates[stage]
    variables = readable(
        template, function(template, f"meterbill-{stage}-{name}")["Environment"]["Variables"]
    )
    on_lambda = KeysAsked({**variables, "AWS_REGION": "eu-central-1"})

    settings: BaseModel = model.from_env(on_lambda)

    assert isinstance(settings, RateSettings | InvoiceSettings)
    assert (
        settings.storage.catalog_table,
        settings.storage.readings_table,
        settings.storage.endpoint_url,
    ) == (
        f"meterbill-{stage}-catalog",
        f"meterbill-{stage}-readings",
        None,
    )
    if queue_url is not None:
        assert getattr(settings, queue_url) == f"meterbill-{stage}-{name.split('-')[0]}"
    settings_keys = set(variables) - {key for key in variables if key.startswith("POWERTOOLS_")}
    assert settings_keys <= on_lambda.asked  # no variable is set that the code does not read


@pytest.mark.parametrize("work", ["rate", "invoice"])
def test_a_work_queue_is_encrypted_hides_a_message_six_worker_timeouts_and_gives_up_after_five_receives(
    dev: dict[str, Any], work: str
) -> None:
    _, work_queue = queue(dev, f"meterbill-dev-{work}")
    worker_timeout = function(dev, f"meterbill-dev-{work}-worker")["Timeout"]
    assert readable(dev, work_queue) == {
        "QueueName": f"meterbill-dev-{work}",
        "SqsManagedSseEnabled": True,
        "VisibilityTimeout": 6 * 120,
        "MessageRetentionPeriod": 4 * 24 * 3600,
        "RedrivePolicy": {"deadLetterTargetArn": f"arn:meterbill-dev-{work}-dlq", "maxReceiveCount": 5},
        "Tags": [{"Key": "project", "Value": "meterbill"}, {"Key": "stage", "Value": "dev"}],
    }
    assert work_queue["VisibilityTimeout"] == 6 * worker_timeout


@pytest.mark.parametrize("name", ["rate-dlq", "invoice-dlq", "rate-schedule-dlq", "invoice-schedule-dlq"])
def test_a_dead_letter_queue_is_encrypted_and_keeps_a_message_fourteen_days(
    dev: dict[str, Any], name: str
) -> None:
    _, dead_letters = queue(dev, f"meterbill-dev-{name}")
    assert dead_letters == {
        "QueueName": f"meterbill-dev-{name}",
        "SqsManagedSseEnabled": True,
        "MessageRetentionPeriod": 14 * 24 * 3600,
        "Tags": [{"Key": "project", "Value": "meterbill"}, {"Key": "stage", "Value": "dev"}],
    }


def test_every_queue_refuses_requests_without_tls(dev: dict[str, Any]) -> None:
    policies = {
        readable(dev, p["Queues"][0]): readable(dev, p["PolicyDocument"]["Statement"])
        for p in properties(dev, "AWS::SQS::QueuePolicy")
    }
    names = [
        f"meterbill-dev-{name}"
        for name in (
            "rate",
            "rate-dlq",
            "invoice",
            "invoice-dlq",
            "rate-schedule-dlq",
            "invoice-schedule-dlq",
            "email",  # constructs/email.py
            "email-dlq",
            "email-events-dlq",
            "alerts-readings",  # constructs/alerts.py
            "alerts-readings-dlq",
            "alerts-schedule-dlq",
        )
    ]
    assert policies == {
        name: [
            {
                "Action": "sqs:*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                "Effect": "Deny",
                "Principal": {"AWS": "*"},
                "Resource": f"arn:{name}",
            }
        ]
        for name in names
    }


def test_the_workers_consume_their_queue_reporting_partial_batch_failures(
    dev: dict[str, Any], prod: dict[str, Any]
) -> None:
    def mappings(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return {
            readable(template, m["FunctionName"]): readable(template, m)
            for m in properties(template, "AWS::Lambda::EventSourceMapping")
        }

    tags = [{"Key": "project", "Value": "meterbill"}, {"Key": "stage", "Value": "dev"}]
    assert mappings(dev) == {
        "meterbill-dev-rate-worker": {
            "FunctionName": "meterbill-dev-rate-worker",
            "EventSourceArn": "arn:meterbill-dev-rate",
            "BatchSize": 5,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": {"MaximumConcurrency": 2},
            "Tags": tags,
        },
        "meterbill-dev-invoice-worker": {
            "FunctionName": "meterbill-dev-invoice-worker",
            "EventSourceArn": "arn:meterbill-dev-invoice",
            "BatchSize": 10,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": {"MaximumConcurrency": 2},
            "Tags": tags,
        },
        "meterbill-dev-email-worker": {  # constructs/email.py
            "FunctionName": "meterbill-dev-email-worker",
            "EventSourceArn": "arn:meterbill-dev-email",
            "BatchSize": 10,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": {"MaximumConcurrency": 2},
            "Tags": tags,
        },
        "meterbill-dev-alerts-readings": {  # constructs/alerts.py
            "FunctionName": "meterbill-dev-alerts-readings",
            "EventSourceArn": "arn:meterbill-dev-alerts-readings",
            "BatchSize": 10,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": {"MaximumConcurrency": 2},
            "Tags": tags,
        },
    }
    # prod: the mapping hands a worker as many batches at once as it has reserved concurrency, never more
    # (more would be throttled and count as receives towards the dead-letter queue)
    assert {
        name: (m["ScalingConfig"]["MaximumConcurrency"], function(prod, name)["ReservedConcurrentExecutions"])
        for name, m in mappings(prod).items()
    } == {
        "meterbill-prod-rate-worker": (10, 10),
        "meterbill-prod-invoice-worker": (5, 5),
        "meterbill-prod-email-worker": (2, 2),
        "meterbill-prod-alerts-readings": (2, 2),
    }


def test_a_mapping_is_created_after_its_workers_permissions(dev: dict[str, Any]) -> None:
    for logical_id, mapping in resources(dev, "AWS::Lambda::EventSourceMapping").items():
        role_id, _ = role_of(dev, readable(dev, mapping["Properties"]["FunctionName"]))
        policy_ids = [
            k
            for k, p in resources(dev, "AWS::IAM::Policy").items()
            if {"Ref": role_id} in p["Properties"]["Roles"]
        ]
        assert set(mapping["DependsOn"]) >= {role_id, *policy_ids}, logical_id


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_rating_runs_every_15_minutes_and_invoicing_hourly_on_the_hour(synthesized: Any, stage: str) -> None:
    template = synthesized.templates[stage]
    found = {
        name: readable(template, schedule(template, f"meterbill-{stage}-{name}"))
        for name in ("rate", "invoice")
    }
    roles = {name: found[name]["Target"].pop("RoleArn") for name in found}
    # each its own role (test_the_schedules_roles_may_invoke_exactly_their_function_...)
    assert {name: template["Resources"][arn.removeprefix("arn:")]["Type"] for name, arn in roles.items()} == {
        "rate": "AWS::IAM::Role",
        "invoice": "AWS::IAM::Role",
    }
    target = {"Input": '{"time": "<aws.scheduler.scheduled-time>"}'}
    assert found == {
        "rate": {
            "Name": f"meterbill-{stage}-rate",
            "Description": "meterbill rating pass",
            "ScheduleExpression": "rate(15 minutes)",
            "ScheduleExpressionTimezone": "UTC",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "State": "ENABLED",
            "Target": {
                "Arn": f"arn:meterbill-{stage}-rate-schedule",
                **target,
                # undelivered: retried for 10 minutes at most, the next pass starting 5 minutes later
                "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 10 * 60},
                "DeadLetterConfig": {"Arn": f"arn:meterbill-{stage}-rate-schedule-dlq"},
            },
        },
        "invoice": {
            "Name": f"meterbill-{stage}-invoice",
            "Description": "meterbill invoicing pass",
            "ScheduleExpression": "cron(0 * * * ? *)",
            "ScheduleExpressionTimezone": "UTC",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "State": "ENABLED",
            "Target": {
                "Arn": f"arn:meterbill-{stage}-invoice-schedule",
                **target,
                "RetryPolicy": {"MaximumRetryAttempts": 5, "MaximumEventAgeInSeconds": 50 * 60},
                "DeadLetterConfig": {"Arn": f"arn:meterbill-{stage}-invoice-schedule-dlq"},
            },
        },
    }


def test_a_stage_with_other_schedules_gets_them(synthesized: Any) -> None:
    from dataclasses import replace

    from aws_cdk import App
    from aws_cdk.assertions import Template

    from infra.cdk.app import cdk_json_context
    from infra.cdk.stack import MeterbillStack
    from infra.cdk.stages import DEV

    stage = replace(DEV, rate_schedule="rate(5 minutes)", invoice_schedule="cron(30 * * * ? *)")
    # no bundling: only the template matters here
    app = App(context={**cdk_json_context(), "aws:cdk:bundling-stacks": []})
    stack = MeterbillStack(app, "meterbill-dev", stage=stage, layer_contents=synthesized.layer_contents)
    template = dict(Template.from_stack(stack).to_json())

    assert (
        schedule(template, "meterbill-dev-rate")["ScheduleExpression"],
        schedule(template, "meterbill-dev-invoice")["ScheduleExpression"],
    ) == ("rate(5 minutes)", "cron(30 * * * ? *)")


def test_the_schedules_roles_may_invoke_exactly_their_function_and_send_to_their_dead_letter_queue(
    dev: dict[str, Any],
) -> None:
    for name in ("rate", "invoice"):
        role_arn = schedule(dev, f"meterbill-dev-{name}")["Target"]["RoleArn"]
        role_id = role_arn["Fn::GetAtt"][0]
        role = dev["Resources"][role_id]["Properties"]
        assert "ManagedPolicyArns" not in role
        assert role["AssumeRolePolicyDocument"]["Statement"] == [
            {
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
                "Effect": "Allow",
                "Principal": {"Service": "scheduler.amazonaws.com"},
            }
        ]
        assert statements_of_role(dev, role_id) == [
            {
                "Sid": "Invoke",
                "Action": "lambda:InvokeFunction",
                "Effect": "Allow",
                # the function itself, not "<arn>:*" (its versions and aliases) as the L2 target grants
                "Resource": f"arn:meterbill-dev-{name}-schedule",
            },
            {
                "Sid": "DeadLetters",
                "Action": "sqs:SendMessage",
                "Effect": "Allow",
                "Resource": f"arn:meterbill-dev-{name}-schedule-dlq",
            },
        ]


def test_a_failed_pass_is_retried_twice_by_lambda_then_lands_in_its_schedules_dead_letter_queue(
    dev: dict[str, Any],
) -> None:
    configs = {
        readable(dev, c["FunctionName"]): readable(dev, c)
        for c in properties(dev, "AWS::Lambda::EventInvokeConfig")
    }
    assert configs == {
        f"meterbill-dev-{name}-schedule": {
            "FunctionName": f"meterbill-dev-{name}-schedule",
            "Qualifier": "$LATEST",
            "MaximumRetryAttempts": 2,
            "MaximumEventAgeInSeconds": age,
            "DestinationConfig": {"OnFailure": {"Destination": f"arn:meterbill-dev-{name}-schedule-dlq"}},
        }
        # constructs/alerts.py: every 5 minutes, so retried for 4 minutes at most
        for name, age in (("rate", 10 * 60), ("invoice", 50 * 60), ("alerts", 4 * 60))
    } | {
        # constructs/email.py: SES's events through SNS (asynchronous), no age limit of its own
        "meterbill-dev-email-events": {
            "FunctionName": "meterbill-dev-email-events",
            "Qualifier": "$LATEST",
            "MaximumRetryAttempts": 2,
            "DestinationConfig": {"OnFailure": {"Destination": "arn:meterbill-dev-email-events-dlq"}},
        }
    }


def test_the_rating_functions_may_read_and_write_the_catalog_and_readings_as_the_rating_pass_does(
    dev: dict[str, Any],
) -> None:
    catalog = {
        "Sid": "Catalog",
        "Action": ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"],
        "Effect": "Allow",
        "Resource": "arn:meterbill-dev-catalog",
    }
    readings = {
        "Sid": "Readings",
        "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"],
        "Effect": "Allow",
        "Resource": "arn:meterbill-dev-readings",
    }
    # a late reading's days before the current period: the customer's issued invoices (re-rating candidates)
    invoices = {
        "Sid": "InvoicesByCustomer",
        "Action": "dynamodb:Query",
        "Effect": "Allow",
        "Resource": "arn:meterbill-dev-catalog/index/api-keys-by-account",
    }
    schedule_role, _ = role_of(dev, "meterbill-dev-rate-schedule")
    worker_role, _ = role_of(dev, "meterbill-dev-rate-worker")
    assert own_statements(dev, schedule_role) == [
        catalog,
        readings,
        invoices,
        {
            "Sid": "RateQueue",
            "Action": "sqs:SendMessage",
            "Effect": "Allow",
            "Resource": "arn:meterbill-dev-rate",
        },
        {
            "Sid": "FailedPasses",
            "Action": "sqs:SendMessage",
            "Effect": "Allow",
            "Resource": "arn:meterbill-dev-rate-schedule-dlq",
        },
    ]
    assert own_statements(dev, worker_role) == [
        catalog,
        readings,
        invoices,
        {
            "Sid": "Consume",
            "Action": ["sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"],
            "Effect": "Allow",
            "Resource": "arn:meterbill-dev-rate",
        },
    ]


def test_the_invoice_schedule_reads_the_catalog_sends_to_the_invoice_queue_and_stores_and_queues_reports(
    dev: dict[str, Any],
) -> None:
    role_id, role = role_of(dev, "meterbill-dev-invoice-schedule")
    assert "ManagedPolicyArns" not in role
    assert own_statements(dev, role_id) == [
        {
            "Sid": "Catalog",  # PutItem: a savings report's first delivery
            "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"],
            "Effect": "Allow",
            "Resource": "arn:meterbill-dev-catalog",
        },
        {
            "Sid": "InvoicesByCustomer",
            "Action": "dynamodb:Query",
            "Effect": "Allow",
            "Resource": "arn:meterbill-dev-catalog/index/api-keys-by-account",
        },
        {
            "Sid": "InvoiceQueue",
            "Action": "sqs:SendMessage",
            "Effect": "Allow",
            "Resource": "arn:meterbill-dev-invoice",
        },
        {
            "Sid": "Readings",  # the on_time meters of the savings reports
            "Action": ["dynamodb:GetItem", "dynamodb:Query"],
            "Effect": "Allow",
            "Resource": "arn:meterbill-dev-readings",
        },
        {
            "Sid": "ReportDocuments",  # a savings report written once beside the invoices, HEAD
            "Action": ["s3:GetObject", "s3:PutObject", "s3:PutObjectRetention"],
            "Effect": "Allow",
            "Resource": "arn:InvoicesInvoicesBucket33673995/*/invoices/*",
        },
        {
            "Sid": "InvoicesBucket",  # HEAD of a key not written yet: 404, not 403
            "Action": "s3:ListBucket",
            "Effect": "Allow",
            "Resource": "arn:InvoicesInvoicesBucket33673995",
        },
        {
            "Sid": "FailedPasses",
            "Action": "sqs:SendMessage",
            "Effect": "Allow",
            "Resource": "arn:meterbill-dev-invoice-schedule-dlq",
        },
        {
            "Sid": "EmailQueue",  # the first email of each savings report (constructs/email.py)
            "Action": "sqs:SendMessage",
            "Effect": "Allow",
            "Resource": "arn:meterbill-dev-email",
        },
    ]


def test_the_invoice_worker_may_put_items_of_the_catalog_and_read_readings_but_delete_nothing(
    dev: dict[str, Any],
) -> None:
    role_id, role = role_of(dev, "meterbill-dev-invoice-worker")
    assert "ManagedPolicyArns" not in role
    assert own_statements(dev, role_id) == [
        {
            "Sid": "Catalog",
            # drafts are written whole; issuing is a transaction of three puts (IAM: PutItem); storing a
            # document updates the state and document attributes (UpdateItem)
            "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"],
            "Effect": "Allow",
            "Resource": "arn:meterbill-dev-catalog",
        },
        {
            "Sid": "InvoicesByCustomer",
            "Action": "dynamodb:Query",
            "Effect": "Allow",
            "Resource": "arn:meterbill-dev-catalog/index/api-keys-by-account",
        },
        {
            "Sid": "Readings",
            "Action": ["dynamodb:GetItem", "dynamodb:Query"],
            "Effect": "Allow",
            "Resource": "arn:meterbill-dev-readings",
        },
        {
            "Sid": "InvoiceDocuments",  # write once with retention, HEAD; every account's invoices/ prefix
            "Action": ["s3:GetObject", "s3:PutObject", "s3:PutObjectRetention"],
            "Effect": "Allow",
            "Resource": "arn:InvoicesInvoicesBucket33673995/*/invoices/*",
        },
        {
            "Sid": "InvoicesBucket",  # HEAD of a key not written yet: 404, not 403
            "Action": "s3:ListBucket",
            "Effect": "Allow",
            "Resource": "arn:InvoicesInvoicesBucket33673995",
        },
        {
            "Sid": "SigningKeys",
            "Action": "secretsmanager:GetSecretValue",
            "Effect": "Allow",
            "Resource": "arn:aws:secretsmanager:eu-central-1:111111111111:secret:meterbill/dev/signing-key/*",
        },
        {
            "Sid": "Consume",
            "Action": ["sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"],
            "Effect": "Allow",
            "Resource": "arn:meterbill-dev-invoice",
        },
        {
            "Sid": "EmailQueue",  # the first email of each stored document (constructs/email.py)
            "Action": "sqs:SendMessage",
            "Effect": "Allow",
            "Resource": "arn:meterbill-dev-email",
        },
    ]


def test_any_message_in_a_dead_letter_queue_raises_an_alarm_to_the_operations_topic(
    dev: dict[str, Any], prod: dict[str, Any]
) -> None:
    for template, stage in ((dev, "dev"), (prod, "prod")):
        alarms = {
            a["AlarmName"]: readable(template, a)
            for a in properties(template, "AWS::CloudWatch::Alarm")
            if a["MetricName"] == "ApproximateNumberOfMessagesVisible"
        }
        assert alarms == {
            f"meterbill-{stage}-{name}-not-empty": {
                "AlarmName": f"meterbill-{stage}-{name}-not-empty",
                "AlarmDescription": (
                    f"dead-letter queue meterbill-{stage}-{name}: messages that failed every try"
                ),
                "Namespace": "AWS/SQS",
                "MetricName": "ApproximateNumberOfMessagesVisible",
                "Dimensions": [{"Name": "QueueName", "Value": f"meterbill-{stage}-{name}"}],
                "Statistic": "Maximum",
                "Period": 300,
                "EvaluationPeriods": 1,
                # >= 1 message, i.e. > 0: the count is a whole number
                "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                "Threshold": 1,
                "TreatMissingData": "notBreaching",
                "AlarmActions": [f"meterbill-{stage}-operations"],
                "OKActions": [f"meterbill-{stage}-operations"],
                "Tags": [{"Key": "project", "Value": "meterbill"}, {"Key": "stage", "Value": stage}],
            }
            for name in (
                "rate-dlq",
                "invoice-dlq",
                "rate-schedule-dlq",
                "invoice-schedule-dlq",
                "email-dlq",
                "email-events-dlq",
                "alerts-readings-dlq",  # constructs/alerts.py
                "alerts-schedule-dlq",
            )
        }


def test_the_billing_functions_have_errors_and_throttles_alarms_like_the_apis(prod: dict[str, Any]) -> None:
    names = {a["AlarmName"] for a in properties(prod, "AWS::CloudWatch::Alarm")}
    for name in ("rate-schedule", "rate-worker", "invoice-schedule", "invoice-worker"):
        assert {f"meterbill-prod-{name}-errors", f"meterbill-prod-{name}-throttles"} <= names
