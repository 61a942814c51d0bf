"""Alerts on AWS (infra/cdk/constructs/alerts.py): the 5-minute alerts pass, the readings queue and its
worker, and the encrypted alerts topic that only those two functions may publish to; each role may do
exactly what the code calls, and the API gets the topic and the queue.

The handlers' files are not read here: only the template (names, handlers, permissions) is asserted."""

from __future__ import annotations

from typing import Any

import pytest

from meterbill.settings import AlertSettings
from tests.infra.templates import (
    ACCOUNT,
    REGION,
    function,
    properties,
    readable,
    resources,
    role_of,
    statements_of_role,
)
from tests.infra.test_billing import own_statements, powertools, queue, schedule
from tests.infra.test_functions import KeysAsked

ALERTS_SCHEDULE = "alerts_schedule_handler.lambda_handler"
ALERTS_READINGS = "alerts_readings_handler.lambda_handler"
# Built from the topic's name in the key policy (the topic names the key, so the key cannot name the topic).
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:meterbill-dev-alerts"
TAGS = [{"Key": "project", "Value": "meterbill"}, {"Key": "stage", "Value": "dev"}]


def alerts_topic(template: dict[str, Any], stage: str = "dev") -> tuple[str, dict[str, Any]]:
    """(logical id, properties) of the alerts topic."""
    (found,) = [
        (logical_id, r["Properties"])
        for logical_id, r in resources(template, "AWS::SNS::Topic").items()
        if r["Properties"]["TopicName"] == f"meterbill-{stage}-alerts"
    ]
    return found


def publishers(template: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ARNs (``Fn::GetAtt``) of the alerts pass's role and the readings worker's role."""
    schedule_role, _ = role_of(template, "meterbill-dev-alerts-schedule")
    readings_role, _ = role_of(template, "meterbill-dev-alerts-readings")
    return {"Fn::GetAtt": [schedule_role, "Arn"]}, {"Fn::GetAtt": [readings_role, "Arn"]}


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_each_stage_has_the_two_alerts_functions_on_their_handlers_sharing_one_asset(
    synthesized: Any, stage: str
) -> None:
    template = synthesized.templates[stage]
    found = {
        fn["FunctionName"]: (fn["Handler"], fn["Runtime"], fn["Architectures"], fn["TracingConfig"])
        for fn in properties(template, "AWS::Lambda::Function")
        if fn["Handler"] in (ALERTS_SCHEDULE, ALERTS_READINGS)
    }
    on_arm = ("python3.12", ["arm64"], {"Mode": "Active"})
    assert found == {
        f"meterbill-{stage}-alerts-schedule": (ALERTS_SCHEDULE, *on_arm),
        f"meterbill-{stage}-alerts-readings": (ALERTS_READINGS, *on_arm),
    }
    (layer_id,) = resources(template, "AWS::Lambda::LayerVersion")
    code = {
        name: (fn["Code"]["S3Key"], fn["Layers"])
        for name in ("alerts-schedule", "alerts-readings", "rate-schedule")
        for fn in [function(template, f"meterbill-{stage}-{name}")]
    }
    assert code["alerts-schedule"] == code["alerts-readings"]
    assert code["alerts-schedule"][1] == [{"Ref": layer_id}]
    assert code["alerts-schedule"][0] != code["rate-schedule"][0]  # functions/alerts, its own asset


def test_memory_timeouts_and_reserved_concurrency_of_the_alerts_functions(
    dev: dict[str, Any], prod: dict[str, Any]
) -> None:
    def limits(template: dict[str, Any], stage: str) -> dict[str, tuple[int, int, int | None]]:
        return {
            name: (fn["MemorySize"], fn["Timeout"], fn.get("ReservedConcurrentExecutions"))
            for name in ("alerts-schedule", "alerts-readings")
            for fn in [function(template, f"meterbill-{stage}-{name}")]
        }

    # the pass: one whole vCPU, done within 4 minutes (before the next pass); no reservation in any stage
    # (the service leases each account for a pass, so an overlap does no harm)
    assert limits(dev, "dev") == {"alerts-schedule": (1769, 4 * 60, None), "alerts-readings": (512, 60, None)}
    assert limits(prod, "prod") == {"alerts-schedule": (1769, 4 * 60, None), "alerts-readings": (512, 60, 2)}


def test_the_alerts_topic_is_encrypted_with_its_own_rotated_key_the_alerts_functions_use_through_sns(
    dev: dict[str, Any], prod: dict[str, Any]
) -> None:
    _, topic = alerts_topic(dev)
    key_id = topic["KmsMasterKeyId"]["Fn::GetAtt"][0]
    key = dev["Resources"][key_id]
    assert (topic["KmsMasterKeyId"], topic["DisplayName"], key["Type"]) == (
        {"Fn::GetAtt": [key_id, "Arn"]},
        "meterbill alerts",
        "AWS::KMS::Key",
    )
    schedule_role, readings_role = publishers(dev)
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["Properties"]["KeyPolicy"]["Statement"] == [
        {  # CDK's default: the account's IAM policies decide (nobody's IAM policy names this key)
            "Action": "kms:*",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Resource": "*",
        },
        {
            "Sid": "AlertsFunctionsPublish",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Condition": {
                "StringEquals": {
                    "kms:EncryptionContext:aws:sns:topicArn": TOPIC_ARN,
                    "kms:ViaService": f"sns.{REGION}.amazonaws.com",
                }
            },
            "Effect": "Allow",
            "Principal": {"AWS": [readings_role, schedule_role]},
            "Resource": "*",
        },
    ]
    # dev's key goes with `cdk destroy`, as the rest of dev; prod keeps it, like its data
    assert (key["DeletionPolicy"], key["UpdateReplacePolicy"]) == ("Delete", "Delete")
    _, prod_topic = alerts_topic(prod, "prod")
    prod_key = prod["Resources"][prod_topic["KmsMasterKeyId"]["Fn::GetAtt"][0]]
    assert (prod_key["DeletionPolicy"], prod_key["UpdateReplacePolicy"]) == ("Retain", "Retain")


def test_only_the_alerts_functions_may_publish_to_the_alerts_topic_and_only_over_tls(
    dev: dict[str, Any],
) -> None:
    topic_id, _ = alerts_topic(dev)
    [policy] = [p for p in properties(dev, "AWS::SNS::TopicPolicy") if p["Topics"] == [{"Ref": topic_id}]]
    schedule_role, readings_role = publishers(dev)
    assert policy["PolicyDocument"]["Statement"] == [
        {
            "Sid": "AllowPublishThroughSSLOnly",
            "Action": "sns:Publish",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Effect": "Deny",
            "Principal": "*",
            "Resource": {"Ref": topic_id},
        },
        {
            "Sid": "AlertsFunctionsPublish",
            "Action": "sns:Publish",
            "Effect": "Allow",
            "Principal": {"AWS": [readings_role, schedule_role]},
            "Resource": {"Ref": topic_id},
        },
        {  # whatever another principal's IAM policies allow (an administrator's sns:*, the API's role)
            "Sid": "NobodyElsePublishes",
            "Action": "sns:Publish",
            "Condition": {"ArnNotEquals": {"aws:PrincipalArn": [schedule_role, readings_role]}},
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Resource": {"Ref": topic_id},
        },
    ]


def test_nothing_is_subscribed_to_the_alerts_topic_at_deploy(dev: dict[str, Any]) -> None:
    """Subscribers are accounts' email addresses, added through the API (POST /v1/alert-subscriptions)."""
    topic_id, _ = alerts_topic(dev)
    assert [s for s in properties(dev, "AWS::SNS::Subscription") if s["TopicArn"] == {"Ref": topic_id}] == []


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_alerts_pass_runs_every_5_minutes_with_the_time_it_fired(synthesized: Any, stage: str) -> None:
    template = synthesized.templates[stage]
    found = readable(template, schedule(template, f"meterbill-{stage}-alerts"))
    role_arn = found["Target"].pop("RoleArn")
    assert template["Resources"][role_arn.removeprefix("arn:")]["Type"] == "AWS::IAM::Role"
    assert found == {
        "Name": f"meterbill-{stage}-alerts",
        "Description": "meterbill alerts pass",
        "ScheduleExpression": "rate(5 minutes)",
        "ScheduleExpressionTimezone": "UTC",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "State": "ENABLED",
        "Target": {
            "Arn": f"arn:meterbill-{stage}-alerts-schedule",
            # exactly the rating schedule's input: Scheduler substitutes the time it fired
            "Input": '{"time": "<aws.scheduler.scheduled-time>"}',
            # undelivered: retried for 4 minutes at most, the next pass starting 1 minute later
            "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 4 * 60},
            "DeadLetterConfig": {"Arn": f"arn:meterbill-{stage}-alerts-schedule-dlq"},
        },
    }
    assert found["Target"]["Input"] == schedule(template, f"meterbill-{stage}-rate")["Target"]["Input"]


def test_the_alerts_schedules_role_may_invoke_exactly_the_pass_and_send_to_its_dead_letter_queue(
    dev: dict[str, Any],
) -> None:
    role_id = schedule(dev, "meterbill-dev-alerts")["Target"]["RoleArn"]["Fn::GetAtt"][0]
    role = dev["Resources"][role_id]["Properties"]
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
            "Resource": "arn:meterbill-dev-alerts-schedule",
        },
        {
            "Sid": "DeadLetters",
            "Action": "sqs:SendMessage",
            "Effect": "Allow",
            "Resource": "arn:meterbill-dev-alerts-schedule-dlq",
        },
    ]


def test_the_readings_queue_is_encrypted_hides_a_message_six_worker_timeouts_and_gives_up_after_five_receives(
    dev: dict[str, Any],
) -> None:
    _, work_queue = queue(dev, "meterbill-dev-alerts-readings")
    worker_timeout = function(dev, "meterbill-dev-alerts-readings")["Timeout"]
    assert readable(dev, work_queue) == {
        "QueueName": "meterbill-dev-alerts-readings",
        "SqsManagedSseEnabled": True,
        "VisibilityTimeout": 6 * 60,
        "MessageRetentionPeriod": 4 * 24 * 3600,
        "RedrivePolicy": {
            "deadLetterTargetArn": "arn:meterbill-dev-alerts-readings-dlq",
            "maxReceiveCount": 5,
        },
        "Tags": TAGS,
    }
    assert work_queue["VisibilityTimeout"] == 6 * worker_timeout > worker_timeout
    for name in ("alerts-readings-dlq", "alerts-schedule-dlq"):
        _, dead_letters = queue(dev, f"meterbill-dev-{name}")
        assert dead_letters == {
            "QueueName": f"meterbill-dev-{name}",
            "SqsManagedSseEnabled": True,
            "MessageRetentionPeriod": 14 * 24 * 3600,
            "Tags": TAGS,
        }


def test_the_readings_worker_consumes_its_queue_reporting_partial_batch_failures(
    dev: dict[str, Any], prod: dict[str, Any]
) -> None:
    [mapping] = [
        readable(dev, m)
        for m in properties(dev, "AWS::Lambda::EventSourceMapping")
        if readable(dev, m["FunctionName"]) == "meterbill-dev-alerts-readings"
    ]
    assert mapping == {
        "FunctionName": "meterbill-dev-alerts-readings",
        "EventSourceArn": "arn:meterbill-dev-alerts-readings",
        "BatchSize": 10,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "ScalingConfig": {"MaximumConcurrency": 2},
        "Tags": TAGS,
    }
    [in_prod] = [
        m
        for m in properties(prod, "AWS::Lambda::EventSourceMapping")
        if readable(prod, m["FunctionName"]) == "meterbill-prod-alerts-readings"
    ]
    # as many batches at once as the worker has reserved concurrency: none throttled into a dead letter
    assert (
        in_prod["ScalingConfig"]["MaximumConcurrency"],
        function(prod, "meterbill-prod-alerts-readings")["ReservedConcurrentExecutions"],
    ) == (2, 2)


def test_a_failed_pass_is_retried_twice_by_lambda_within_four_minutes_then_is_a_dead_letter(
    dev: dict[str, Any],
) -> None:
    [config] = [
        readable(dev, c)
        for c in properties(dev, "AWS::Lambda::EventInvokeConfig")
        if readable(dev, c["FunctionName"]) == "meterbill-dev-alerts-schedule"
    ]
    assert config == {
        "FunctionName": "meterbill-dev-alerts-schedule",
        "Qualifier": "$LATEST",
        "MaximumRetryAttempts": 2,
        "MaximumEventAgeInSeconds": 4 * 60,
        "DestinationConfig": {"OnFailure": {"Destination": "arn:meterbill-dev-alerts-schedule-dlq"}},
    }


CATALOG = {
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
}
READINGS = {  # read only: the detectors never write readings
    "Sid": "Readings",
    "Action": ["dynamodb:GetItem", "dynamodb:Query"],
    "Effect": "Allow",
    "Resource": "arn:meterbill-dev-readings",
}
PUBLISH = {
    "Sid": "AlertsTopic",
    "Action": "sns:Publish",
    "Effect": "Allow",
    "Resource": "meterbill-dev-alerts",
}


def test_the_alerts_pass_may_do_exactly_what_the_alerting_service_calls(dev: dict[str, Any]) -> None:
    role_id, role = role_of(dev, "meterbill-dev-alerts-schedule")
    assert "ManagedPolicyArns" not in role
    assert own_statements(dev, role_id) == [
        CATALOG,
        READINGS,
        PUBLISH,
        {  # the pass visits every account (AccountStore.list)
            "Sid": "AccountsListing",
            "Action": "dynamodb:Query",
            "Effect": "Allow",
            "Resource": "arn:meterbill-dev-catalog/index/api-keys-by-account",
        },
        {
            "Sid": "FailedPasses",
            "Action": "sqs:SendMessage",
            "Effect": "Allow",
            "Resource": "arn:meterbill-dev-alerts-schedule-dlq",
        },
    ]


def test_the_readings_worker_may_do_exactly_what_the_alerting_service_and_its_mapping_call(
    dev: dict[str, Any],
) -> None:
    role_id, role = role_of(dev, "meterbill-dev-alerts-readings")
    assert "ManagedPolicyArns" not in role
    assert own_statements(dev, role_id) == [
        CATALOG,
        READINGS,
        PUBLISH,
        {
            "Sid": "Consume",
            "Action": ["sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"],
            "Effect": "Allow",
            "Resource": "arn:meterbill-dev-alerts-readings",
        },
    ]


def test_the_api_subscribes_to_the_alerts_topic_and_sends_to_the_readings_queue(dev: dict[str, Any]) -> None:
    topic_id, _ = alerts_topic(dev)
    queue_id, _ = queue(dev, "meterbill-dev-alerts-readings")
    variables = function(dev, "meterbill-dev-api")["Environment"]["Variables"]
    assert (variables["ALERTS_TOPIC_ARN"], variables["ALERTS_QUEUE_URL"]) == (
        {"Ref": topic_id},  # a topic's Ref is its ARN
        {"Ref": queue_id},  # a queue's Ref is its URL
    )
    role_id, _ = role_of(dev, "meterbill-dev-api")
    alerts = [s for s in statements_of_role(dev, role_id) if s.get("Sid", "").startswith("Alert")]
    assert alerts == [
        {
            "Sid": "AlertSubscriptions",
            "Action": ["sns:GetSubscriptionAttributes", "sns:Subscribe", "sns:Unsubscribe"],
            "Effect": "Allow",
            # Subscribe on the topic; Unsubscribe and GetSubscriptionAttributes on <topic arn>:<uuid>
            "Resource": ["meterbill-dev-alerts:*", "meterbill-dev-alerts"],
        },
        {
            "Sid": "AlertsQueue",
            "Action": "sqs:SendMessage",
            "Effect": "Allow",
            "Resource": "arn:meterbill-dev-alerts-readings",
        },
    ]
    # Neither the API nor anything else but the two alerts functions may publish to the topic.
    publishing_roles = {
        role["Ref"]
        for policy in properties(dev, "AWS::IAM::Policy")
        for statement in policy["PolicyDocument"]["Statement"]
        if "sns:Publish" in statement["Action"] and statement["Resource"] == {"Ref": topic_id}
        for role in policy["Roles"]
    }
    assert publishing_roles == {
        role_of(dev, "meterbill-dev-alerts-schedule")[0],
        role_of(dev, "meterbill-dev-alerts-readings")[0],
    }


@pytest.mark.parametrize("stage", ["dev", "prod"])
@pytest.mark.parametrize("name", ["alerts-schedule", "alerts-readings"])
def test_each_alerts_function_gets_the_settings_its_model_reads(
    synthesized: Any, stage: str, name: str
) -> None:
    template = synthesized.templates[stage]
    variables = readable(
        template, function(template, f"meterbill-{stage}-{name}")["Environment"]["Variables"]
    )
    on_lambda = KeysAsked({**variables, "AWS_REGION": REGION})

    settings = AlertSettings.from_env(on_lambda)

    assert (
        settings.storage.catalog_table,
        settings.storage.readings_table,
        settings.storage.endpoint_url,
        settings.topic_arn,  # readable: the topic's Ref (its ARN) shown as its name
        settings.sns_endpoint_url,
    ) == (
        f"meterbill-{stage}-catalog",
        f"meterbill-{stage}-readings",
        None,
        f"meterbill-{stage}-alerts",
        None,
    )
    assert variables == {
        "CATALOG_TABLE": f"meterbill-{stage}-catalog",
        "READINGS_TABLE": f"meterbill-{stage}-readings",
        "ALERTS_TOPIC_ARN": f"meterbill-{stage}-alerts",
        **powertools(f"meterbill-{name}"),
    }
    assert {k for k in variables if not k.startswith("POWERTOOLS_")} <= on_lambda.asked


def test_the_alerts_dead_letter_queues_and_functions_raise_alarms_to_the_operations_topic(
    prod: dict[str, Any],
) -> None:
    alarms = {
        a["AlarmName"]: (a["MetricName"], a["Threshold"], readable(prod, a["AlarmActions"]))
        for a in properties(prod, "AWS::CloudWatch::Alarm")
        if "-alerts-" in a["AlarmName"]
    }
    operations = ["meterbill-prod-operations"]
    assert alarms == {
        "meterbill-prod-alerts-readings-dlq-not-empty": ("ApproximateNumberOfMessagesVisible", 1, operations),
        "meterbill-prod-alerts-schedule-dlq-not-empty": ("ApproximateNumberOfMessagesVisible", 1, operations),
        "meterbill-prod-alerts-schedule-errors": ("Errors", 1, operations),
        "meterbill-prod-alerts-schedule-throttles": ("Throttles", 1, operations),
        "meterbill-prod-alerts-readings-errors": ("Errors", 1, operations),
        "meterbill-prod-alerts-readings-throttles": ("Throttles", 1, operations),
    }
