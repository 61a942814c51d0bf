"""Operations: CloudWatch alarms on the functions' errors and throttles, on the API's 5xx answers and on every
dead-letter queue holding a message, each publishing to the operations SNS topic (alarm and back to OK), with
thresholds by stage.

Every alarm looks at one 5-minute period and treats missing data as fine (no traffic is no trouble). The
topic takes only TLS publishers; an e-mail address from the context (``operations_email``) is subscribed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from aws_cdk import Duration, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.cdk.nag import acknowledge
from infra.cdk.stages import StageConfig

PERIOD: Final = Duration.minutes(5)


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: StageConfig,
        functions: list[lambda_.Function],
        rest_api: apigw.RestApi,
        dead_letter_queues: Mapping[str, sqs.IQueue] | None = None,
    ) -> None:
        """``dead_letter_queues``: name (``rate-dlq``) -> queue; any message in one is an alarm."""
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(
            self, "OperationsTopic", topic_name=stage.resource_name("operations"), enforce_ssl=True
        )
        # The topic policy CDK writes for enforce_ssl replaces SNS's default one: let CloudWatch publish.
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            )
        )
        acknowledge(
            self.topic,
            "AwsSolutions-SNS2",
            "CloudWatch cannot publish to a topic encrypted with the AWS-managed aws/sns key, and a "
            "customer-managed key costs 1 USD a month at rest; messages carry alarm states only, never "
            "customers' data, and TLS is enforced in transit (SNS3).",
        )
        if stage.operations_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(stage.operations_email))
        self.alarms: list[cloudwatch.Alarm] = []
        for function in functions:
            name = _kebab(function.node.id)
            self._alarm(
                f"{function.node.id}Errors",
                stage.resource_name(f"{name}-errors"),
                function.metric_errors(period=PERIOD, statistic="Sum"),
                threshold=stage.function_error_threshold,
                description=f"{name} function: {stage.function_error_threshold} or more errors in 5 minutes",
            )
            self._alarm(
                f"{function.node.id}Throttles",
                stage.resource_name(f"{name}-throttles"),
                function.metric_throttles(period=PERIOD, statistic="Sum"),
                threshold=1,
                description=f"{name} function: invocations throttled (concurrency exhausted)",
            )
        self._alarm(
            "Api5xx",
            stage.resource_name("api-5xx"),
            rest_api.metric_server_error(period=PERIOD, statistic="Sum"),
            threshold=stage.api_5xx_threshold,
            description=f"API: {stage.api_5xx_threshold} or more 5xx answers in 5 minutes",
        )

        for name, queue in (dead_letter_queues or {}).items():
            # A dead letter is a message (a rating, an invoice, a pass) that failed every attempt: one is
            # one too many (>= 1, i.e. > 0), and the alarm lasts while it waits in the queue.
            self._alarm(
                f"{_camel(name)}NotEmpty",
                stage.resource_name(f"{name}-not-empty"),
                queue.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum"),
                threshold=1,
                description=f"dead-letter queue {stage.resource_name(name)}: messages that failed every try",
            )

    def _alarm(
        self, construct_id: str, name: str, metric: cloudwatch.Metric, *, threshold: int, description: str
    ) -> None:
        alarm = metric.create_alarm(
            self,
            construct_id,
            alarm_name=name,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        alarm.add_ok_action(actions.SnsAction(self.topic))
        self.alarms.append(alarm)


def _kebab(construct_id: str) -> str:
    """``RateWorker`` -> ``rate-worker``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "-", construct_id).lower()


def _camel(name: str) -> str:
    """``rate-dlq`` -> ``RateDlq``."""
    return "".join(part.capitalize() for part in name.split("-"))
