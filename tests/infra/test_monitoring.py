"""Operations: alarms on the functions' errors and throttles, the API's 5xx and any dead letter, published to
the operations topic, which takes TLS publishers only."""

from __future__ import annotations

from typing import Any

from tests.infra.templates import properties, readable


def alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["AlarmName"]: readable(template, a) for a in properties(template, "AWS::CloudWatch::Alarm")}


BILLING_FUNCTIONS = (
    "rate-schedule",
    "rate-worker",
    "invoice-schedule",
    "invoice-worker",
    "email-worker",  # constructs/email.py
    "email-events",
    "alerts-schedule",  # constructs/alerts.py
    "alerts-readings",
)
DEAD_LETTER_QUEUES = (
    "rate-dlq",
    "invoice-dlq",
    "rate-schedule-dlq",
    "invoice-schedule-dlq",
    "email-dlq",
    "email-events-dlq",
    "alerts-readings-dlq",
    "alerts-schedule-dlq",
)


def operations(template: dict[str, Any], resource_type: str, key: str) -> list[dict[str, Any]]:
    """The resources of a type that name the operations topic (``key``: the property naming it)."""
    return [
        p for p in properties(template, resource_type) if "operations" in str(readable(template, p.get(key)))
    ]


def test_each_function_has_an_errors_and_a_throttles_alarm_and_the_api_a_5xx_alarm(
    prod: dict[str, Any],
) -> None:
    found = {
        name: (a["Namespace"], a["MetricName"], a["Dimensions"], a["Statistic"], a["Period"], a["Threshold"])
        for name, a in alarms(prod).items()
    }
    assert found == {
        "meterbill-prod-api-errors": (
            "AWS/Lambda",
            "Errors",
            [{"Name": "FunctionName", "Value": "meterbill-prod-api"}],
            "Sum",
            300,
            1,
        ),
        "meterbill-prod-api-throttles": (
            "AWS/Lambda",
            "Throttles",
            [{"Name": "FunctionName", "Value": "meterbill-prod-api"}],
            "Sum",
            300,
            1,
        ),
        "meterbill-prod-authorizer-errors": (
            "AWS/Lambda",
            "Errors",
            [{"Name": "FunctionName", "Value": "meterbill-prod-authorizer"}],
            "Sum",
            300,
            1,
        ),
        "meterbill-prod-authorizer-throttles": (
            "AWS/Lambda",
            "Throttles",
            [{"Name": "FunctionName", "Value": "meterbill-prod-authorizer"}],
            "Sum",
            300,
            1,
        ),
        "meterbill-prod-api-5xx": (
            "AWS/ApiGateway",
            "5XXError",
            [{"Name": "ApiName", "Value": "meterbill-prod-api"}],
            "Sum",
            300,
            1,
        ),
        **{
            f"meterbill-prod-{function}-{metric.lower()}": (
                "AWS/Lambda",
                metric,
                [{"Name": "FunctionName", "Value": f"meterbill-prod-{function}"}],
                "Sum",
                300,
                1,
            )
            for function in BILLING_FUNCTIONS
            for metric in ("Errors", "Throttles")
        },
        **{
            f"meterbill-prod-{queue}-not-empty": (
                "AWS/SQS",
                "ApproximateNumberOfMessagesVisible",
                [{"Name": "QueueName", "Value": f"meterbill-prod-{queue}"}],
                "Maximum",
                300,
                1,
            )
            for queue in DEAD_LETTER_QUEUES
        },
    }


def test_dev_alarms_wait_for_five_errors(dev: dict[str, Any]) -> None:
    assert {name: a["Threshold"] for name, a in alarms(dev).items()} == {
        "meterbill-dev-api-errors": 5,
        "meterbill-dev-api-throttles": 1,
        "meterbill-dev-authorizer-errors": 5,
        "meterbill-dev-authorizer-throttles": 1,
        "meterbill-dev-api-5xx": 5,
        **{f"meterbill-dev-{function}-errors": 5 for function in BILLING_FUNCTIONS},
        **{f"meterbill-dev-{function}-throttles": 1 for function in BILLING_FUNCTIONS},
        # a single dead letter is an alarm in every stage
        **{f"meterbill-dev-{queue}-not-empty": 1 for queue in DEAD_LETTER_QUEUES},
    }


def test_every_alarm_tells_the_operations_topic_when_it_fires_and_when_it_clears(dev: dict[str, Any]) -> None:
    for name, alarm in alarms(dev).items():
        assert (
            alarm["AlarmActions"],
            alarm["OKActions"],
            alarm["ComparisonOperator"],
            alarm["EvaluationPeriods"],
            alarm["TreatMissingData"],
        ) == (
            ["meterbill-dev-operations"],
            ["meterbill-dev-operations"],
            "GreaterThanOrEqualToThreshold",
            1,
            "notBreaching",
        ), name


def test_the_operations_topic_takes_tls_publishers_and_lets_cloudwatch_publish(dev: dict[str, Any]) -> None:
    [topic] = operations(dev, "AWS::SNS::Topic", "TopicName")
    assert topic["TopicName"] == "meterbill-dev-operations"
    [policy] = [readable(dev, p) for p in operations(dev, "AWS::SNS::TopicPolicy", "Topics")]
    assert policy["Topics"] == ["meterbill-dev-operations"]
    assert policy["PolicyDocument"]["Statement"] == [
        {
            "Sid": "AllowPublishThroughSSLOnly",
            "Action": "sns:Publish",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Effect": "Deny",
            "Principal": "*",
            "Resource": "meterbill-dev-operations",
        },
        {
            "Sid": "CloudWatchAlarmsPublish",
            "Action": "sns:Publish",
            "Condition": {"StringEquals": {"aws:SourceAccount": "111111111111"}},
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Resource": "meterbill-dev-operations",
        },
    ]


def test_an_operations_email_from_the_context_is_subscribed(synthesized: Any) -> None:
    from aws_cdk.assertions import Template

    from infra.cdk.app import build_app

    _, (stack,) = build_app(
        # no bundling: only the template matters here
        context={"stage": "dev", "operations_email": "ops@example.com", "aws:cdk:bundling-stacks": []},
        checks=False,
        builtin_validation=False,
        layer_contents=synthesized.layer_contents,
    )
    template = dict(Template.from_stack(stack).to_json())

    assert [readable(template, s) for s in operations(template, "AWS::SNS::Subscription", "TopicArn")] == [
        {"Protocol": "email", "Endpoint": "ops@example.com", "TopicArn": "meterbill-dev-operations"}
    ]
    assert operations(synthesized.templates["dev"], "AWS::SNS::Subscription", "TopicArn") == []
