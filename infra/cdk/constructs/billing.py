"""The billing runs: EventBridge Scheduler starts a pass, the pass fans work out through SQS, workers do it.

- rating: the ``rate`` schedule (every 15 minutes) invokes ``rate-schedule``
  (``functions/rate/rate_handler``), which rates a small pass itself and sends a large one, in messages of a
  few meters, to the ``rate`` queue; ``rate-worker`` (``rate_worker_handler``) consumes it.
- invoicing: the ``invoice`` schedule (hourly, on the hour) invokes ``invoice-schedule``
  (``functions/invoice/invoice_schedule_handler``), which sends one message per (customer, period) due to the
  ``invoice`` queue; ``invoice-worker`` (``invoice_worker_handler``) consumes it.

Each schedule passes the time it fired (``{"time": "<aws.scheduler.scheduled-time>"}``), so a retried
invocation works as of the same moment; it retries what Scheduler could not deliver (throttled, Lambda
unavailable) for less than one interval, the next pass covering anything older, then drops it into its own
dead-letter queue, and it may invoke exactly its function, nothing else. The invocation is asynchronous: a
pass that fails is retried twice by Lambda within the same age, then lands in that dead-letter queue too.

Each work queue is SSE-SQS encrypted, takes TLS only, hides a received message for six times its worker's
timeout (AWS's advice for Lambda event sources) and moves a message received 5 times to its dead-letter
queue; the workers report partial batch failures, so one bad message is retried alone. ``Monitoring`` alarms
when any dead-letter queue holds a message.

Every role has exactly the actions its code calls, on exactly its tables and queues (read from
``meterbill.adapters.dynamodb`` and ``meterbill.adapters.sqs``):

- rating, both functions (a small pass rates its meters in the schedule's own invocation): catalog GetItem and
  Query (meters, assignments, tariffs; the pending rating marks; the running costs of an account), PutItem
  (a customer's running cost; a re-rating candidate of an issued invoice), DeleteItem (a rating mark, on the
  count read); readings GetItem and Query (raw buckets, rated days and months) and PutItem (rated days and
  months); Query on the index that lists a customer's invoices (the issued ones a late reading touches).
  The schedule sends to the rate queue (``SendMessageBatch`` is authorized as ``sqs:SendMessage``) and, as
  the on-failure destination of its own invocations, to its schedule's dead-letter queue.
- invoicing, the schedule: catalog GetItem and Query (accounts' settings, customers, assignments) and Query on
  the index that lists a customer's invoices in period order. It sends to the invoice queue and, on failure,
  to its schedule's dead-letter queue. For the savings reports it makes (``services.savings_reports``):
  readings GetItem and Query (the on_time meters' raw readings), PutItem on the catalog (a report's first
  delivery), on the invoices bucket under ``<account>/invoices/*`` PutObject, PutObjectRetention and
  GetObject, ListBucket on the bucket, and SendMessage to the email queue.
- invoicing, the worker: the same reads, PutItem on the catalog (a draft written whole on its version; issuing
  is one TransactWriteItems of three puts — counter, issued invoice, number register — which IAM authorizes
  as PutItem), readings GetItem and Query (rated days and months of the period).
- each worker: ReceiveMessage, DeleteMessage and GetQueueAttributes on its queue, what Lambda's event source
  mapping calls (``AWSLambdaSQSQueueExecutionRole`` holds exactly these).
- documents (issue 10), the worker: UpdateItem on the catalog (``mark_stored``: the state and the document's
  attributes, never the body); on the invoices bucket, under every account's ``invoices/`` prefix
  (``<account>/invoices/*``), PutObject with its Object Lock retention (PutObjectRetention) and GetObject
  (HEAD of a stored document), and ListBucket on the bucket so that HEAD of a key not written yet answers 404,
  not 403; GetSecretValue on the stage's signing-key secrets (``meterbill/<stage>/signing-key/*``), created
  at account set-up. Both invoice functions get the bucket, the retention and the secrets' prefix
  (``DocumentSettings``): the schedule to know that documents are stored (it then sends the periods of those
  left unstored).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import jsii
from aws_cdk import Aws, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.cdk.constructs.functions import METRICS_NAMESPACE, allow, python_function
from infra.cdk.constructs.invoices import Invoices
from infra.cdk.constructs.layer import MeterbillLayer
from infra.cdk.constructs.storage import Storage
from infra.cdk.nag import acknowledge
from infra.cdk.sources import BUILD_LEFTOVERS, INVOICE_FUNCTIONS, RATE_FUNCTIONS
from infra.cdk.stages import StageConfig
from meterbill.adapters.dynamodb.schema import KEYS_BY_ACCOUNT_INDEX

# Where documents go under an account's prefix (services.documents.document_key: invoices/<id>.pdf).
DOCUMENT_PREFIX: Final = "invoices/"

CATALOG_ACTIONS_OF_RATING: Final = (
    "dynamodb:DeleteItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
)
READINGS_ACTIONS_OF_RATING: Final = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query")
# PutItem: the first delivery of each savings report (a delivery item beside the report's id).
CATALOG_ACTIONS_OF_THE_INVOICE_SCHEDULE: Final = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query")
CATALOG_ACTIONS_OF_THE_INVOICE_WORKER: Final = (
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:UpdateItem",
)
DOCUMENT_ACTIONS_OF_THE_INVOICE_WORKER: Final = ("s3:GetObject", "s3:PutObject", "s3:PutObjectRetention")
BUCKET_ACTIONS_OF_THE_INVOICE_WORKER: Final = ("s3:ListBucket",)
SIGNING_KEY_ACTIONS: Final = ("secretsmanager:GetSecretValue",)
INVOICES_INDEX_ACTIONS: Final = ("dynamodb:Query",)
READINGS_ACTIONS_OF_THE_INVOICE_WORKER: Final = ("dynamodb:GetItem", "dynamodb:Query")
SEND_ACTIONS: Final = ("sqs:SendMessage",)
CONSUME_ACTIONS: Final = ("sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage")

# What a schedule hands its function: the time it fired, as Scheduler substitutes it.
SCHEDULE_INPUT: Final = json.dumps({"time": "<aws.scheduler.scheduled-time>"})
MAX_RECEIVE_COUNT: Final = 5
# A work message waits up to 4 days (SQS's default); a dead letter 14 days (SQS's most), time to look at it.
WORK_RETENTION: Final = Duration.days(4)
DEAD_LETTER_RETENTION: Final = Duration.days(14)
# AWS: a queue's visibility timeout at least six times its Lambda consumer's timeout, so the retries of a
# throttled batch do not make its messages visible (and received again) while the batch is still in work.
VISIBILITY_PER_TIMEOUT: Final = 6

# Sizing (arm64: CPU grows with memory; 1,769 MB is one whole vCPU):
# - rate-schedule: lists up to 10,000 pending marks and rates a pass of up to 20 meters itself (validation and
#   rollups are CPU-bound: 1 GB); it must end well before the next pass 15 minutes later: 5 minutes.
# - rate-worker: a batch of 5 messages of up to 10 meters each, a few days of 15-minute data per meter (tens
#   of ms each, plus a read and a write per day): seconds; 2 minutes leaves room for DynamoDB retries.
# - invoice-schedule: reads customers and invoices and sends batches of 10 messages, I/O-bound: 512 MB; 10,000
#   customers are 1,000 SendMessageBatch calls (~20 ms each) plus the reads: 5 minutes is ample.
# - invoice-worker: a batch of 10 (customer, period) messages, each a month of rated days per meter and one
#   invoice computed (goal: 50 ms of compute) and written; 2 minutes covers counter races retried on issue.
RATE_SCHEDULE_TIMEOUT: Final = Duration.minutes(5)
RATE_SCHEDULE_MEMORY_MB: Final = 1024
RATE_WORKER_TIMEOUT: Final = Duration.minutes(2)
RATE_WORKER_MEMORY_MB: Final = 1024
RATE_WORKER_BATCH: Final = 5
INVOICE_SCHEDULE_TIMEOUT: Final = Duration.minutes(5)
INVOICE_SCHEDULE_MEMORY_MB: Final = 512
INVOICE_WORKER_TIMEOUT: Final = Duration.minutes(2)
INVOICE_WORKER_MEMORY_MB: Final = 1024
INVOICE_WORKER_BATCH: Final = 10


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """What Scheduler does with an invocation it could not deliver: retry, for at most ``max_event_age``
    (shorter than the interval: the next pass does the work of a lost one), then the dead-letter queue."""

    max_retries: int
    max_event_age: Duration


RATE_RETRY: Final = RetryPolicy(max_retries=3, max_event_age=Duration.minutes(10))
INVOICE_RETRY: Final = RetryPolicy(max_retries=5, max_event_age=Duration.minutes(50))
# Scheduler invokes asynchronously: a pass that raises is retried by Lambda (twice, as by default, within the
# same age), then its event goes to the schedule's dead-letter queue as well, beside undelivered ones.
PASS_RETRIES: Final = 2


@jsii.implements(lambda_.IDestination)
class SendOnlyQueueDestination:
    """An asynchronous invocation's on-failure destination that grants ``sqs:SendMessage`` on the queue,
    nothing else (``aws_lambda_destinations.SqsDestination`` adds GetQueueAttributes and GetQueueUrl)."""

    def __init__(self, queue: sqs.IQueue) -> None:
        self.queue = queue

    def bind(
        self, scope: Construct, fn: lambda_.IFunction, *, type: lambda_.DestinationType
    ) -> lambda_.DestinationConfig:
        allow(fn.role, SEND_ACTIONS, [self.queue.queue_arn], sid="FailedPasses")
        return lambda_.DestinationConfig(destination=self.queue.queue_arn)


class ScheduledWork(Construct):
    """What a run is made of (the billing runs here, the alerts in ``constructs/alerts.py``): encrypted
    queues with their dead-letter queues, a worker consuming a queue, a schedule invoking a pass."""

    def __init__(self, scope: Construct, construct_id: str, *, stage: StageConfig) -> None:
        super().__init__(scope, construct_id)
        self.stage = stage
        # name (after the stage's prefix) -> dead-letter queue, for Monitoring's alarms
        self.dead_letter_queues: dict[str, sqs.Queue] = {}

    def _queue(self, construct_id: str, name: str, **options: object) -> sqs.Queue:
        return sqs.Queue(
            self,
            construct_id,
            queue_name=self.stage.resource_name(name),
            encryption=sqs.QueueEncryption.SQS_MANAGED,  # free; no key policy for Lambda or Scheduler to need
            enforce_ssl=True,
            **options,  # type: ignore[arg-type]
        )

    def _dead_letter_queue(self, construct_id: str, name: str) -> sqs.Queue:
        queue = self._queue(construct_id, name, retention_period=DEAD_LETTER_RETENTION)
        self.dead_letter_queues[name] = queue
        return queue

    def _work_queue(self, construct_id: str, name: str, *, worker_timeout: Duration) -> sqs.Queue:
        dead_letters = self._dead_letter_queue(f"{construct_id}DeadLetterQueue", f"{name}-dlq")
        return self._queue(
            f"{construct_id}Queue",
            name,
            visibility_timeout=Duration.seconds(VISIBILITY_PER_TIMEOUT * worker_timeout.to_seconds()),
            retention_period=WORK_RETENTION,
            dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=MAX_RECEIVE_COUNT, queue=dead_letters),
        )

    def _consume(
        self,
        construct_id: str,
        function: lambda_.Function,
        queue: sqs.Queue,
        *,
        batch_size: int,
        max_concurrency: int,
    ) -> None:
        """The mapping from the queue to its worker; the role may do what the mapping calls, nothing more
        (``SqsEventSource`` would grant ChangeMessageVisibility and GetQueueUrl as well)."""
        allow(function.role, CONSUME_ACTIONS, [queue.queue_arn], sid="Consume")
        mapping = function.add_event_source_mapping(
            construct_id,
            event_source_arn=queue.queue_arn,
            batch_size=batch_size,
            report_batch_item_failures=True,
            max_concurrency=max_concurrency,
        )
        # Lambda checks the role's permissions when it creates the mapping.
        assert function.role is not None
        mapping.node.add_dependency(function.role)

    def _schedule(
        self,
        construct_id: str,
        name: str,
        function: lambda_.Function,
        expression: str,
        retry: RetryPolicy,
        what: str,
    ) -> scheduler.CfnSchedule:
        """A schedule that may invoke exactly ``function`` (the L2 ``LambdaInvoke`` target would also allow
        its versions and aliases, ``<arn>:*``), with its retry policy and its dead-letter queue."""
        dead_letters = self._dead_letter_queue(
            f"{construct_id}SchedulerDeadLetterQueue", f"{name}-schedule-dlq"
        )
        acknowledge(
            dead_letters,
            "AwsSolutions-SQS3",
            "This queue is the dead-letter queue of an EventBridge Scheduler schedule (its DeadLetterConfig) "
            "and of its function's failed asynchronous invocations, which cdk-nag does not recognise as one: "
            "a queue of dead letters needs no dead-letter queue of its own.",
        )
        account = Stack.of(self).account
        role = iam.Role(
            self,
            f"{construct_id}SchedulerRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": account}}
            ),
            description=f"{self.stage.resource_name(name)} schedule: invokes its function, nothing else",
        )
        allow(role, ("lambda:InvokeFunction",), [function.function_arn], sid="Invoke")
        allow(role, SEND_ACTIONS, [dead_letters.queue_arn], sid="DeadLetters")
        schedule = scheduler.CfnSchedule(
            self,
            f"{construct_id}Scheduler",
            name=self.stage.resource_name(name),
            description=f"meterbill {what}",
            schedule_expression=expression,
            schedule_expression_timezone="UTC",
            flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
            state="ENABLED",
            target=scheduler.CfnSchedule.TargetProperty(
                arn=function.function_arn,
                role_arn=role.role_arn,
                input=SCHEDULE_INPUT,
                retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                    maximum_retry_attempts=retry.max_retries,
                    maximum_event_age_in_seconds=int(retry.max_event_age.to_seconds()),
                ),
                dead_letter_config=scheduler.CfnSchedule.DeadLetterConfigProperty(arn=dead_letters.queue_arn),
            ),
        )
        schedule.node.add_dependency(role)
        function.configure_async_invoke(
            retry_attempts=PASS_RETRIES,
            max_event_age=retry.max_event_age,
            on_failure=SendOnlyQueueDestination(dead_letters),
        )
        return schedule


class Billing(ScheduledWork):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: StageConfig,
        storage: Storage,
        layer: MeterbillLayer,
        invoices: Invoices,
    ) -> None:
        super().__init__(scope, construct_id, stage=stage)
        self.rate_queue = self._work_queue("Rate", "rate", worker_timeout=RATE_WORKER_TIMEOUT)
        self.invoice_queue = self._work_queue("Invoice", "invoice", worker_timeout=INVOICE_WORKER_TIMEOUT)

        tables = {
            "CATALOG_TABLE": storage.catalog.table_name,
            "READINGS_TABLE": storage.readings.table_name,
        }

        def powertools(service: str) -> dict[str, str]:
            return {
                "POWERTOOLS_SERVICE_NAME": service,
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                # Reports name customers and amounts: traces keep timings, not results.
                "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",
            }

        documents = {
            "INVOICES_BUCKET": invoices.bucket.bucket_name,
            "INVOICE_RETENTION_DAYS": str(stage.invoice_retention_days),
            "INVOICE_RETENTION_FROM": stage.invoice_retention_from,
            "SIGNING_KEY_SECRET_PREFIX": stage.signing_key_secret_prefix,
        }
        rate_code = _code(RATE_FUNCTIONS)
        invoice_code = _code(INVOICE_FUNCTIONS)
        self.rate_schedule = python_function(
            self,
            "RateSchedule",
            stage=stage,
            layer=layer,
            code=rate_code,
            name=stage.resource_name("rate-schedule"),
            handler="rate_handler.lambda_handler",
            description="meterbill rating pass: rates, or fans out, the meters with new readings",
            memory_mb=RATE_SCHEDULE_MEMORY_MB,
            timeout=RATE_SCHEDULE_TIMEOUT,
            # Scheduler starts one pass per interval: nothing to cap.
            reserved_concurrency=None,
            environment={
                **tables,
                "RATE_QUEUE_URL": self.rate_queue.queue_url,
                **powertools("meterbill-rate-schedule"),
            },
        )
        self.rate_worker = python_function(
            self,
            "RateWorker",
            stage=stage,
            layer=layer,
            code=rate_code,
            name=stage.resource_name("rate-worker"),
            handler="rate_worker_handler.lambda_handler",
            description="meterbill rating worker: rates the meters of the rate queue's messages",
            memory_mb=RATE_WORKER_MEMORY_MB,
            timeout=RATE_WORKER_TIMEOUT,
            # A backlog never asks DynamoDB for more than this many batches at once (dev: none, StageConfig).
            reserved_concurrency=stage.rate_worker_reserved_concurrency,
            environment={
                **tables,
                # RateSettings reads it (the same settings as the pass); the worker sends nothing.
                "RATE_QUEUE_URL": self.rate_queue.queue_url,
                **powertools("meterbill-rate-worker"),
            },
        )
        self.invoice_schedule = python_function(
            self,
            "InvoiceSchedule",
            stage=stage,
            layer=layer,
            code=invoice_code,
            name=stage.resource_name("invoice-schedule"),
            handler="invoice_schedule_handler.lambda_handler",
            description="meterbill invoicing pass (hourly): one message per customer and period due",
            memory_mb=INVOICE_SCHEDULE_MEMORY_MB,
            timeout=INVOICE_SCHEDULE_TIMEOUT,
            reserved_concurrency=None,
            environment={
                **tables,
                "INVOICE_QUEUE_URL": self.invoice_queue.queue_url,
                **documents,
                **powertools("meterbill-invoice-schedule"),
            },
        )
        self.invoice_worker = python_function(
            self,
            "InvoiceWorker",
            stage=stage,
            layer=layer,
            code=invoice_code,
            name=stage.resource_name("invoice-worker"),
            handler="invoice_worker_handler.lambda_handler",
            description="meterbill invoicing worker: computes, drafts and issues one invoice per message",
            memory_mb=INVOICE_WORKER_MEMORY_MB,
            timeout=INVOICE_WORKER_TIMEOUT,
            # Few at once: DynamoDB, and the account's numbering counter every issue of a series races for.
            reserved_concurrency=stage.invoice_worker_reserved_concurrency,
            environment={**tables, **documents, **powertools("meterbill-invoice-worker")},
        )

        catalog, readings = storage.catalog.table_arn, storage.readings.table_arn
        invoices_index = f"{catalog}/index/{KEYS_BY_ACCOUNT_INDEX}"
        for function in (self.rate_schedule, self.rate_worker):
            allow(function.role, CATALOG_ACTIONS_OF_RATING, [catalog], sid="Catalog")
            allow(function.role, READINGS_ACTIONS_OF_RATING, [readings], sid="Readings")
            allow(function.role, INVOICES_INDEX_ACTIONS, [invoices_index], sid="InvoicesByCustomer")
        allow(self.rate_schedule.role, SEND_ACTIONS, [self.rate_queue.queue_arn], sid="RateQueue")
        allow(self.invoice_schedule.role, CATALOG_ACTIONS_OF_THE_INVOICE_SCHEDULE, [catalog], sid="Catalog")
        allow(self.invoice_schedule.role, INVOICES_INDEX_ACTIONS, [invoices_index], sid="InvoicesByCustomer")
        allow(self.invoice_schedule.role, SEND_ACTIONS, [self.invoice_queue.queue_arn], sid="InvoiceQueue")
        # Savings reports (services/savings_reports.py): the on_time meters' readings, the report PDF written
        # once beside the invoices (HeadObject needs GetObject; ListBucket makes a missing key a 404).
        allow(self.invoice_schedule.role, READINGS_ACTIONS_OF_THE_INVOICE_WORKER, [readings], sid="Readings")
        allow(
            self.invoice_schedule.role,
            DOCUMENT_ACTIONS_OF_THE_INVOICE_WORKER,
            [invoices.bucket.arn_for_objects(f"*/{DOCUMENT_PREFIX}*")],
            sid="ReportDocuments",
        )
        allow(
            self.invoice_schedule.role,
            BUCKET_ACTIONS_OF_THE_INVOICE_WORKER,
            [invoices.bucket.bucket_arn],
            sid="InvoicesBucket",
        )
        allow(self.invoice_worker.role, CATALOG_ACTIONS_OF_THE_INVOICE_WORKER, [catalog], sid="Catalog")
        allow(self.invoice_worker.role, INVOICES_INDEX_ACTIONS, [invoices_index], sid="InvoicesByCustomer")
        allow(self.invoice_worker.role, READINGS_ACTIONS_OF_THE_INVOICE_WORKER, [readings], sid="Readings")
        allow(
            self.invoice_worker.role,
            DOCUMENT_ACTIONS_OF_THE_INVOICE_WORKER,
            [invoices.bucket.arn_for_objects(f"*/{DOCUMENT_PREFIX}*")],
            sid="InvoiceDocuments",
        )
        allow(
            self.invoice_worker.role,
            BUCKET_ACTIONS_OF_THE_INVOICE_WORKER,
            [invoices.bucket.bucket_arn],
            sid="InvoicesBucket",
        )
        # Pseudo parameters, not the stack's env: one statement (and one acknowledgement) for any account.
        secrets = (
            f"arn:{Aws.PARTITION}:secretsmanager:{Aws.REGION}:{Aws.ACCOUNT_ID}:secret:"
            f"{stage.signing_key_secret_prefix}*"
        )
        allow(self.invoice_worker.role, SIGNING_KEY_ACTIONS, [secrets], sid="SigningKeys")
        self._acknowledge_document_wildcards(invoices)

        self._consume(
            "RateWorkerQueue",
            self.rate_worker,
            self.rate_queue,
            batch_size=RATE_WORKER_BATCH,
            max_concurrency=stage.rate_worker_max_concurrency,
        )
        self._consume(
            "InvoiceWorkerQueue",
            self.invoice_worker,
            self.invoice_queue,
            batch_size=INVOICE_WORKER_BATCH,
            max_concurrency=stage.invoice_worker_max_concurrency,
        )
        self.rate_timer = self._schedule(
            "Rate", "rate", self.rate_schedule, stage.rate_schedule, RATE_RETRY, "rating pass"
        )
        self.invoice_timer = self._schedule(
            "Invoice",
            "invoice",
            self.invoice_schedule,
            stage.invoice_schedule,
            INVOICE_RETRY,
            "invoicing pass",
        )

    def _acknowledge_document_wildcards(self, invoices: Invoices) -> None:
        role = self.invoice_worker.role
        assert isinstance(role, iam.Role)
        bucket = Stack.of(self).get_logical_id(invoices.bucket.node.default_child)  # type: ignore[arg-type]
        schedule_role = self.invoice_schedule.role
        assert isinstance(schedule_role, iam.Role)
        acknowledge(
            schedule_role,
            f"AwsSolutions-IAM5[Resource::<{bucket}.Arn>/*/{DOCUMENT_PREFIX}*]",
            "The hourly pass writes each account's savings report once beside its invoices "
            "(<account>/invoices/report_savings_*.pdf): the account is a key prefix, so the resource names "
            "all accounts' invoice prefixes and nothing else of the bucket.",
        )
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::<{bucket}.Arn>/*/{DOCUMENT_PREFIX}*]",
            "The worker writes and reads invoice documents of every account (<account>/invoices/<id>.pdf): "
            "the account is a key prefix chosen per message, so the resource names all accounts' invoice "
            "prefixes and nothing else of the bucket.",
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:"
            f"secret:{self.stage.signing_key_secret_prefix}*]",
            "One signing-key secret per account, made at account set-up: the worker reads the key of the "
            "account whose document it signs, so it may read this stage's signing keys, nothing else.",
        )

    @property
    def functions(self) -> list[lambda_.Function]:
        return [self.rate_schedule, self.rate_worker, self.invoice_schedule, self.invoice_worker]


def _code(folder: Path) -> lambda_.Code:
    return lambda_.Code.from_asset(str(folder), exclude=list(BUILD_LEFTOVERS))
