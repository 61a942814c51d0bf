"""Emailing stored invoices on AWS (infra/cdk/constructs/email.py): the email queue and its worker, SES's
configuration set publishing its events to an encrypted topic that invokes the events function, and roles
that may do exactly what the code calls."""

from __future__ import annotations

from typing import Any

import pytest

from meterbill.settings import EmailSettings
from tests.infra.templates import ACCOUNT, REGION, function, properties, readable, role_of, statements_of_role
from tests.infra.test_billing import own_statements, queue
from tests.infra.test_functions import KeysAsked


def test_ses_publishes_the_events_that_move_a_delivery_to_the_events_topic(dev: dict[str, Any]) -> None:
    [configuration_set] = properties(dev, "AWS::SES::ConfigurationSet")
    [destination] = [readable(dev, d) for d in properties(dev, "AWS::SES::ConfigurationSetEventDestination")]
    assert configuration_set["Name"] == "meterbill-dev-email"
    assert destination == {
        "ConfigurationSetName": "meterbill-dev-email",
        "EventDestination": {
            "Enabled": True,
            "MatchingEventTypes": ["send", "delivery", "bounce", "complaint", "reject", "renderingFailure"],
            "SnsDestination": {"TopicARN": "meterbill-dev-email-events"},
        },
    }
    [subscription] = [
        readable(dev, s)
        for s in properties(dev, "AWS::SNS::Subscription")
        if readable(dev, s["TopicArn"]) == "meterbill-dev-email-events"
    ]
    assert subscription == {
        "Endpoint": "arn:meterbill-dev-email-events",
        "Protocol": "lambda",
        "TopicArn": "meterbill-dev-email-events",
    }


def test_the_events_topic_is_encrypted_with_a_rotated_key_ses_may_use_and_takes_tls_only(
    dev: dict[str, Any],
) -> None:
    [topic] = [
        t for t in properties(dev, "AWS::SNS::Topic") if t["TopicName"] == "meterbill-dev-email-events"
    ]
    key_id = topic["KmsMasterKeyId"]["Fn::GetAtt"][0]
    key = dev["Resources"][key_id]["Properties"]
    assert key["EnableKeyRotation"] is True
    assert key["KeyPolicy"]["Statement"][1] == {
        "Sid": "SesPublishesEvents",
        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
        "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
        "Effect": "Allow",
        "Principal": {"Service": "ses.amazonaws.com"},
        "Resource": "*",
    }
    [policy] = [
        readable(dev, p)
        for p in properties(dev, "AWS::SNS::TopicPolicy")
        if readable(dev, p["Topics"]) == ["meterbill-dev-email-events"]
    ]
    deny, allow = policy["PolicyDocument"]["Statement"]
    assert (deny["Effect"], deny["Condition"]) == ("Deny", {"Bool": {"aws:SecureTransport": "false"}})
    assert (allow["Principal"], allow["Condition"]) == (
        {"Service": "ses.amazonaws.com"},
        {
            "StringEquals": {
                "AWS:SourceAccount": ACCOUNT,
                "AWS:SourceArn": f"arn:aws:ses:{REGION}:{ACCOUNT}:configuration-set/meterbill-dev-email",
            }
        },
    )


def test_the_email_queue_moves_a_message_received_ten_times_to_its_dead_letter_queue(
    dev: dict[str, Any],
) -> None:
    _, email = queue(dev, "meterbill-dev-email")
    dlq_id, _ = queue(dev, "meterbill-dev-email-dlq")
    assert (email["VisibilityTimeout"], email["SqsManagedSseEnabled"], email["RedrivePolicy"]) == (
        6 * 120,
        True,
        {"deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]}, "maxReceiveCount": 10},
    )


def test_the_email_worker_may_do_exactly_what_the_delivery_service_calls(dev: dict[str, Any]) -> None:
    role_id, _ = role_of(dev, "meterbill-dev-email-worker")
    bucket = readable(dev, function(dev, "meterbill-dev-email-worker")["Environment"]["Variables"])[
        "INVOICES_BUCKET"
    ]
    assert own_statements(dev, role_id) == [
        {
            "Sid": "Catalog",
            "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"],
            "Effect": "Allow",
            "Resource": "arn:meterbill-dev-catalog",
        },
        {
            "Sid": "Documents",
            "Action": "s3:GetObject",
            "Effect": "Allow",
            "Resource": f"arn:{bucket}/*/invoices/*",
        },
        {
            "Sid": "SendEmail",
            "Action": ["ses:SendEmail", "ses:SendRawEmail"],
            "Effect": "Allow",
            "Resource": [
                f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/meterbill.example",
                f"arn:aws:ses:{REGION}:{ACCOUNT}:configuration-set/meterbill-dev-email",
            ],
        },
        {"Sid": "SendQuota", "Action": "ses:GetSendQuota", "Effect": "Allow", "Resource": "*"},
        {
            "Sid": "RetryLater",
            "Action": "sqs:ChangeMessageVisibility",
            "Effect": "Allow",
            "Resource": "arn:meterbill-dev-email",
        },
        {
            "Sid": "Consume",
            "Action": ["sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"],
            "Effect": "Allow",
            "Resource": "arn:meterbill-dev-email",
        },
    ]


def test_the_events_function_may_only_read_and_write_catalog_items(dev: dict[str, Any]) -> None:
    role_id, _ = role_of(dev, "meterbill-dev-email-events")
    assert own_statements(dev, role_id) == [
        {
            "Sid": "Catalog",
            "Action": ["dynamodb:GetItem", "dynamodb:PutItem"],
            "Effect": "Allow",
            "Resource": "arn:meterbill-dev-catalog",
        },
        {
            "Sid": "FailedPasses",
            "Action": "sqs:SendMessage",
            "Effect": "Allow",
            "Resource": "arn:meterbill-dev-email-events-dlq",
        },
    ]
    assert len(statements_of_role(dev, role_id)) == 4


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_email_worker_gets_the_settings_its_model_reads(synthesized: Any, stage: str) -> None:
    template = synthesized.templates[stage]
    variables = readable(
        template, function(template, f"meterbill-{stage}-email-worker")["Environment"]["Variables"]
    )
    on_lambda = KeysAsked({**variables, "AWS_REGION": REGION})

    settings = EmailSettings.from_env(on_lambda)

    assert (
        settings.storage.catalog_table,
        settings.email_queue_url,
        settings.configuration_set,
        settings.workers,
        settings.max_send_rate,
        settings.ses_endpoint_url,
    ) == (f"meterbill-{stage}-catalog", f"meterbill-{stage}-email", f"meterbill-{stage}-email", 2, None, None)
    assert settings.invoices_bucket.startswith("InvoicesInvoicesBucket")
    assert {k for k in variables if not k.startswith("POWERTOOLS_")} <= on_lambda.asked
