"""Alerts (``meterbill.services.alerting``, docs/alerts.md): the pass that runs every detector on a schedule,
the worker that checks new readings promptly, and the one SNS topic every notification is published to.

- ``alerts`` schedule (every 5 minutes) -> ``alerts-schedule``
  (``functions/alerts/alerts_schedule_handler``), with the time it fired (``{"time":
  "<aws.scheduler.scheduled-time>"}``) like the rating schedule: silent meters and collectors, evasion and
  phase sums, abnormal usage, bill at risk, registers as a backstop, reminders and group flushes. Undelivered
  or failed passes are retried for less than one interval (the next pass covers anything older), then land in
  ``alerts-schedule-dlq``.
- ``alerts-readings`` queue (SSE-SQS, TLS only; ingest sends one ``ReadingsArrived`` per request that stored
  readings) -> ``alerts-readings`` (``functions/alerts/alerts_readings_handler``): negative consumption,
  exchanges and spikes of the meters a message names; partial batch failures; a message received 5 times goes
  to ``alerts-readings-dlq``. ``Monitoring`` alarms on both dead-letter queues.
- ``alerts`` topic: encrypted with its own customer-managed key (rotated yearly), TLS only, and published to
  by the two alerts functions and nobody else: its policy allows them ``sns:Publish`` and denies it to every
  other principal (``aws:PrincipalArn``). The key policy lets exactly those two roles use the key, and only
  through SNS for this topic (``kms:ViaService``, the ``aws:sns:topicArn`` encryption context):
  ``kms:GenerateDataKey*`` and ``kms:Decrypt``, what SNS asks of a publisher. Delivering to email
  subscribers needs nothing more (SNS decrypts for its own endpoints).

Least privilege, read from the code (``meterbill.adapters.dynamodb`` alert store, ``adapters.sns``):

- both functions: catalog GetItem, PutItem, UpdateItem, DeleteItem, Query, BatchGetItem (alerts, their
  history, rules, silences, heartbeats, the pass's lease per account; meters and sites); readings GetItem and
  Query (read only: the detectors never write readings); sns:Publish on the topic.
- the pass: sqs:SendMessage on its schedule's dead-letter queue (the on-failure destination).
- the worker: ReceiveMessage, DeleteMessage, GetQueueAttributes on its queue (the event source mapping).
- the API (``constructs/functions.py``): Subscribe, Unsubscribe, GetSubscriptionAttributes on the topic and
  its subscriptions (``<topic arn>:<uuid>``), SendMessage on the readings queue.
"""

from __future__ import annotations

from typing import Final

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.cdk.constructs.billing import RetryPolicy, ScheduledWork, _code
from infra.cdk.constructs.functions import METRICS_NAMESPACE, allow, python_function
from infra.cdk.constructs.layer import MeterbillLayer
from infra.cdk.constructs.storage import Storage
from infra.cdk.sources import ALERT_FUNCTIONS
from infra.cdk.stages import StageConfig
from meterbill.adapters.dynamodb.schema import KEYS_BY_ACCOUNT_INDEX

CATALOG_ACTIONS_OF_THE_ALERTS: Final = (
    "dynamodb:BatchGetItem",
    "dynamodb:DeleteItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:UpdateItem",
)
READINGS_ACTIONS_OF_THE_ALERTS: Final = ("dynamodb:GetItem", "dynamodb:Query")
PUBLISH_ACTIONS: Final = ("sns:Publish",)
# What SNS asks of a publisher to a topic encrypted with a customer-managed key.
KEY_ACTIONS_OF_PUBLISHERS: Final = ("kms:Decrypt", "kms:GenerateDataKey*")

ALERTS_SCHEDULE: Final = "rate(5 minutes)"
# Less than one interval: a pass that could not run is covered by the next one five minutes later.
ALERTS_RETRY: Final = RetryPolicy(max_retries=2, max_event_age=Duration.minutes(4))
# Sizing (arm64: 1,769 MB is one whole vCPU):
# - alerts-schedule: the detectors over every meter's last day (bench/alerts.py: 10,000 meters' 15-minute data
#   in under 30 s on one core, memory flat in the meter count): one vCPU; 4 minutes ends a pass before the
#   next one starts (even so, the service leases each account for a pass, so an overlap does no harm).
# - alerts-readings: a batch of 10 messages, each the meters of one ingest request, a few recent readings per
#   meter checked: seconds; 1 minute leaves room for DynamoDB retries and a publish.
ALERTS_SCHEDULE_TIMEOUT: Final = Duration.minutes(4)
ALERTS_SCHEDULE_MEMORY_MB: Final = 1769
ALERTS_READINGS_TIMEOUT: Final = Duration.minutes(1)
ALERTS_READINGS_MEMORY_MB: Final = 512
ALERTS_READINGS_BATCH: Final = 10


class Alerts(ScheduledWork):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: StageConfig,
        storage: Storage,
        layer: MeterbillLayer,
    ) -> None:
        super().__init__(scope, construct_id, stage=stage)
        stack = Stack.of(self)
        topic_name = stage.resource_name("alerts")
        # Built from its name, not the topic's Ref: the topic names the key, so the key cannot name the topic.
        topic_arn = f"arn:{stack.partition}:sns:{stack.region}:{stack.account}:{topic_name}"
        self.key = kms.Key(
            self,
            "Key",
            description=f"{topic_name}: alert notifications (they name sites, meters and consumption)",
            enable_key_rotation=True,
            removal_policy=stage.removal_policy,
        )
        self.topic = sns.Topic(
            self,
            "Topic",
            topic_name=topic_name,
            display_name="meterbill alerts",  # the sender's name of the emails subscribers receive
            master_key=self.key,
            enforce_ssl=True,
        )
        self.readings_queue = self._work_queue(
            "AlertsReadings", "alerts-readings", worker_timeout=ALERTS_READINGS_TIMEOUT
        )

        def environment(service: str) -> dict[str, str]:
            return {
                "CATALOG_TABLE": storage.catalog.table_name,
                "READINGS_TABLE": storage.readings.table_name,
                "ALERTS_TOPIC_ARN": self.topic.topic_arn,
                "POWERTOOLS_SERVICE_NAME": service,
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                # Alerts name customers' sites and consumption: traces keep timings, not results.
                "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",
            }

        code = _code(ALERT_FUNCTIONS)
        self.schedule_function = python_function(
            self,
            "AlertsSchedule",
            stage=stage,
            layer=layer,
            code=code,
            name=stage.resource_name("alerts-schedule"),
            handler="alerts_schedule_handler.lambda_handler",
            description="meterbill alerts pass (every 5 minutes): every detector, reminders, group flushes",
            memory_mb=ALERTS_SCHEDULE_MEMORY_MB,
            timeout=ALERTS_SCHEDULE_TIMEOUT,
            # No reservation of 1: the service leases each account for a pass, so a pass that overlaps the
            # next one (a slow pass, a retry) skips the accounts in work instead of alerting twice; a
            # reservation would turn that overlap into throttles (alarms, retries ending as dead letters)
            # and take concurrency from a new account's small pool.
            reserved_concurrency=None,
            environment=environment("meterbill-alerts-schedule"),
        )
        self.readings_worker = python_function(
            self,
            "AlertsReadings",
            stage=stage,
            layer=layer,
            code=code,
            name=stage.resource_name("alerts-readings"),
            handler="alerts_readings_handler.lambda_handler",
            description="meterbill alerts on new readings: negative counters, exchanges, spikes",
            memory_mb=ALERTS_READINGS_MEMORY_MB,
            timeout=ALERTS_READINGS_TIMEOUT,
            # As many as the mapping hands it at once (dev: none reserved, as for the other workers).
            reserved_concurrency=stage.alerts_worker_reserved_concurrency,
            environment=environment("meterbill-alerts-readings"),
        )

        publishers = [self.schedule_function.role, self.readings_worker.role]
        for function in self.functions:
            allow(function.role, CATALOG_ACTIONS_OF_THE_ALERTS, [storage.catalog.table_arn], sid="Catalog")
            allow(function.role, READINGS_ACTIONS_OF_THE_ALERTS, [storage.readings.table_arn], sid="Readings")
            allow(function.role, PUBLISH_ACTIONS, [self.topic.topic_arn], sid="AlertsTopic")
        # The pass visits every account: AccountStore.list queries the catalog's account index.
        accounts_index = f"{storage.catalog.table_arn}/index/{KEYS_BY_ACCOUNT_INDEX}"
        allow(self.schedule_function.role, ("dynamodb:Query",), [accounts_index], sid="AccountsListing")
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AlertsFunctionsPublish",
                principals=[role for role in publishers if role is not None],
                actions=list(KEY_ACTIONS_OF_PUBLISHERS),
                resources=["*"],  # in a key policy, "*" is this key
                conditions={
                    "StringEquals": {
                        "kms:ViaService": f"sns.{stack.region}.amazonaws.com",
                        "kms:EncryptionContext:aws:sns:topicArn": topic_arn,
                    }
                },
            )
        )
        # Only the alerts functions publish: allowed here (beside their roles' own statements), denied to
        # every other principal of any account, however broad its IAM policies.
        publisher_arns = [role.role_arn for role in publishers if role is not None]
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AlertsFunctionsPublish",
                principals=[role for role in publishers if role is not None],
                actions=list(PUBLISH_ACTIONS),
                resources=[self.topic.topic_arn],
            )
        )
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="NobodyElsePublishes",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=list(PUBLISH_ACTIONS),
                resources=[self.topic.topic_arn],
                conditions={"ArnNotEquals": {"aws:PrincipalArn": publisher_arns}},
            )
        )

        self._consume(
            "AlertsReadingsQueue",
            self.readings_worker,
            self.readings_queue,
            batch_size=ALERTS_READINGS_BATCH,
            max_concurrency=stage.alerts_worker_max_concurrency,
        )
        self.timer = self._schedule(
            "Alerts", "alerts", self.schedule_function, ALERTS_SCHEDULE, ALERTS_RETRY, "alerts pass"
        )

    @property
    def functions(self) -> list[lambda_.Function]:
        return [self.schedule_function, self.readings_worker]
