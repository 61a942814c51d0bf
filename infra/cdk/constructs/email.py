"""Emailing stored invoices (``meterbill.services.delivery``): the email queue and its worker, SES's
configuration set and its event destination, and the events function that records what SES reports.

- ``email`` queue (SSE-SQS, TLS only) -> ``email-worker`` (``functions/invoice/email_worker_handler``): one
  message per delivery attempt; at most ``email_worker_max_concurrency`` batches at once (the worker paces
  itself below its share of SES's send rate, ``EMAIL_WORKERS``). A throttled or undecided send puts its
  message back with a visibility delay; after ``EMAIL_MAX_RECEIVE_COUNT`` receives it goes to ``email-dlq``
  (alarmed by ``Monitoring``).
- The SES configuration set (``email``) publishes Send, Delivery, Bounce, Complaint, Reject and Rendering
  Failure events to the ``email-events`` topic (KMS-encrypted with a customer-managed key SES may use: the
  events carry recipients' addresses), which invokes ``email-events``
  (``functions/invoice/email_events_handler``); an invocation that still fails after Lambda's two retries
  lands in ``email-events-dlq``.

Least privilege, read from the code:

- the worker: catalog GetItem, PutItem, Query (its delivery records, the invoice it marks delivered, the
  account's billing settings); s3:GetObject on the invoices bucket (the stored PDF, never written here);
  ses:SendEmail and ses:SendRawEmail on the stage's sender identities and on the configuration set (SES v2
  ``SendEmail`` with raw content is authorized as both); ses:GetSendQuota (no resource-level permission);
  ReceiveMessage, DeleteMessage, GetQueueAttributes (the event source mapping) and ChangeMessageVisibility
  (putting a message back for later) on the email queue.
- the events function: catalog GetItem and PutItem (a delivery record moved forward, the invoice marked
  delivered).
- the API (``POST /v1/invoices/{id}/resend``): sqs:SendMessage on the email queue (added by the stack).
"""

from __future__ import annotations

from typing import Final

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.cdk.constructs.billing import (
    CONSUME_ACTIONS,
    DEAD_LETTER_RETENTION,
    VISIBILITY_PER_TIMEOUT,
    WORK_RETENTION,
    SendOnlyQueueDestination,
    _code,
)
from infra.cdk.constructs.functions import METRICS_NAMESPACE, allow, python_function
from infra.cdk.constructs.layer import MeterbillLayer
from infra.cdk.constructs.storage import Storage
from infra.cdk.nag import acknowledge
from infra.cdk.sources import INVOICE_FUNCTIONS
from infra.cdk.stages import StageConfig

CATALOG_ACTIONS_OF_THE_EMAIL_WORKER: Final = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query")
CATALOG_ACTIONS_OF_THE_EMAIL_EVENTS: Final = ("dynamodb:GetItem", "dynamodb:PutItem")
DOCUMENT_ACTIONS_OF_THE_EMAIL_WORKER: Final = ("s3:GetObject",)
SEND_EMAIL_ACTIONS: Final = ("ses:SendEmail", "ses:SendRawEmail")
QUOTA_ACTIONS: Final = ("ses:GetSendQuota",)
RETRY_LATER_ACTIONS: Final = ("sqs:ChangeMessageVisibility",)
# SES's events that move a delivery's state (Open, Click, DeliveryDelay, Subscription move none).
PUBLISHED_EVENTS: Final = (
    ses.EmailSendingEvent.SEND,
    ses.EmailSendingEvent.DELIVERY,
    ses.EmailSendingEvent.BOUNCE,
    ses.EmailSendingEvent.COMPLAINT,
    ses.EmailSendingEvent.REJECT,
    ses.EmailSendingEvent.RENDERING_FAILURE,
)
# Throttled sends come back after 20 s, 40 s, ... 15 min; an undecided claim after up to 15 min: 10 receives
# are more than an hour of trying before a message is a dead letter.
EMAIL_MAX_RECEIVE_COUNT: Final = 10
EMAIL_WORKER_TIMEOUT: Final = Duration.minutes(2)
EMAIL_WORKER_MEMORY_MB: Final = 512
EMAIL_WORKER_BATCH: Final = 10
EMAIL_EVENTS_TIMEOUT: Final = Duration.seconds(30)
EMAIL_EVENTS_MEMORY_MB: Final = 256
EVENTS_RETRIES: Final = 2


class Email(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: StageConfig,
        storage: Storage,
        layer: MeterbillLayer,
        documents: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        self.stage = stage
        self.dead_letter_queues: dict[str, sqs.Queue] = {}
        dead_letters = self._queue(
            "EmailDeadLetterQueue", "email-dlq", retention_period=DEAD_LETTER_RETENTION
        )
        self.queue = self._queue(
            "EmailQueue",
            "email",
            visibility_timeout=Duration.seconds(VISIBILITY_PER_TIMEOUT * EMAIL_WORKER_TIMEOUT.to_seconds()),
            retention_period=WORK_RETENTION,
            dead_letter_queue=sqs.DeadLetterQueue(
                max_receive_count=EMAIL_MAX_RECEIVE_COUNT, queue=dead_letters
            ),
        )
        self.dead_letter_queues["email-dlq"] = dead_letters

        stack = Stack.of(self)
        account, region, partition = stack.account, stack.region, stack.partition
        self.events_key = kms.Key(
            self,
            "EmailEventsKey",
            description=f"{stage.resource_name('email-events')}: SES events (they name recipients)",
            enable_key_rotation=True,
            removal_policy=stage.removal_policy,
        )
        self.events_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="SesPublishesEvents",
                principals=[iam.ServicePrincipal("ses.amazonaws.com")],
                actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                resources=["*"],  # in a key policy, "*" is this key
                conditions={"StringEquals": {"aws:SourceAccount": account}},
            )
        )
        self.events_topic = sns.Topic(
            self,
            "EmailEventsTopic",
            topic_name=stage.resource_name("email-events"),
            master_key=self.events_key,
            enforce_ssl=True,
        )
        self.configuration_set = ses.ConfigurationSet(
            self,
            "ConfigurationSet",
            configuration_set_name=stage.resource_name("email"),
            reputation_metrics=True,
            sending_enabled=True,
        )
        # The event destination adds the topic policy letting SES publish for this configuration set only.
        destination = self.configuration_set.add_event_destination(
            "EventsToSns",
            destination=ses.EventDestination.sns_topic(self.events_topic),
            events=list(PUBLISHED_EVENTS),
        )
        destination.node.add_dependency(self.events_topic)

        tables = {"CATALOG_TABLE": storage.catalog.table_name, "READINGS_TABLE": storage.readings.table_name}
        code = _code(INVOICE_FUNCTIONS)
        self.worker = python_function(
            self,
            "EmailWorker",
            stage=stage,
            layer=layer,
            code=code,
            name=stage.resource_name("email-worker"),
            handler="email_worker_handler.lambda_handler",
            description="meterbill email worker: each stored invoice's email once, paced below SES's rate",
            memory_mb=EMAIL_WORKER_MEMORY_MB,
            timeout=EMAIL_WORKER_TIMEOUT,
            # As many as the mapping hands it at once (dev: none reserved, as for the other workers).
            reserved_concurrency=stage.email_worker_reserved_concurrency,
            environment={
                **tables,
                "INVOICES_BUCKET": documents.bucket_name,
                "EMAIL_QUEUE_URL": self.queue.queue_url,
                "SES_CONFIGURATION_SET": self.configuration_set.configuration_set_name,
                "EMAIL_WORKERS": str(stage.email_worker_max_concurrency),
                "POWERTOOLS_SERVICE_NAME": "meterbill-email-worker",
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",
            },
        )
        self.events_function = python_function(
            self,
            "EmailEvents",
            stage=stage,
            layer=layer,
            code=code,
            name=stage.resource_name("email-events"),
            handler="email_events_handler.lambda_handler",
            description="meterbill email events: SES's delivery, bounce and complaint events into deliveries",
            memory_mb=EMAIL_EVENTS_MEMORY_MB,
            timeout=EMAIL_EVENTS_TIMEOUT,
            reserved_concurrency=None,
            environment={
                **tables,
                "POWERTOOLS_SERVICE_NAME": "meterbill-email-events",
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",
            },
        )

        catalog = storage.catalog.table_arn
        identities = [
            f"arn:{partition}:ses:{region}:{account}:identity/{identity}"
            for identity in stage.email_identities
        ]
        configuration_set_arn = (
            f"arn:{partition}:ses:{region}:{account}:configuration-set/"
            f"{self.configuration_set.configuration_set_name}"
        )
        worker_role = self.worker.role
        allow(worker_role, CATALOG_ACTIONS_OF_THE_EMAIL_WORKER, [catalog], sid="Catalog")
        allow(
            worker_role,
            DOCUMENT_ACTIONS_OF_THE_EMAIL_WORKER,
            [documents.arn_for_objects("*/invoices/*")],
            sid="Documents",
        )
        allow(worker_role, SEND_EMAIL_ACTIONS, [*identities, configuration_set_arn], sid="SendEmail")
        allow(worker_role, QUOTA_ACTIONS, ["*"], sid="SendQuota")
        allow(worker_role, RETRY_LATER_ACTIONS, [self.queue.queue_arn], sid="RetryLater")
        allow(worker_role, CONSUME_ACTIONS, [self.queue.queue_arn], sid="Consume")
        mapping = self.worker.add_event_source_mapping(
            "EmailWorkerQueue",
            event_source_arn=self.queue.queue_arn,
            batch_size=EMAIL_WORKER_BATCH,
            report_batch_item_failures=True,
            max_concurrency=stage.email_worker_max_concurrency,
        )
        assert worker_role is not None
        mapping.node.add_dependency(worker_role)
        bucket_id = stack.get_logical_id(documents.node.default_child)  # type: ignore[arg-type]
        acknowledge(
            worker_role,
            f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/*/invoices/*]",
            "The worker reads any account's stored PDFs (<account>/invoices/* of the invoices bucket): "
            "GetObject only, never a write or delete; the key is not known before the message is read.",
        )
        acknowledge(
            worker_role,
            "AwsSolutions-IAM5[Resource::*]",
            "ses:GetSendQuota has no resource-level permission (AWS offers nothing narrower than *); X-Ray's "
            "PutTraceSegments and PutTelemetryRecords likewise (active tracing). Nothing else uses *.",
        )

        events_dead_letters = self._queue(
            "EmailEventsDeadLetterQueue", "email-events-dlq", retention_period=DEAD_LETTER_RETENTION
        )
        self.dead_letter_queues["email-events-dlq"] = events_dead_letters
        acknowledge(
            events_dead_letters,
            "AwsSolutions-SQS3",
            "This queue is the on-failure destination of the events function's asynchronous invocations, "
            "which cdk-nag does not recognise as a dead-letter queue: it needs none of its own.",
        )
        allow(self.events_function.role, CATALOG_ACTIONS_OF_THE_EMAIL_EVENTS, [catalog], sid="Catalog")
        self.events_function.configure_async_invoke(
            retry_attempts=EVENTS_RETRIES, on_failure=SendOnlyQueueDestination(events_dead_letters)
        )
        self.events_topic.add_subscription(subscriptions.LambdaSubscription(self.events_function))

    @property
    def functions(self) -> list[lambda_.Function]:
        return [self.worker, self.events_function]

    def _queue(self, construct_id: str, name: str, **options: object) -> sqs.Queue:
        return sqs.Queue(
            self,
            construct_id,
            queue_name=self.stage.resource_name(name),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            **options,  # type: ignore[arg-type]
        )
