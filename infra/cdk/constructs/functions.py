"""The API's two Lambda functions, Python 3.12 on arm64 with the ``meterbill`` layer:

- ``api`` (``ingest_handler.lambda_handler``): every route of the hosted API; reads ``ApiSettings``.
- ``authorizer`` (``authorizer_handler.lambda_handler``): API key or console session → account; reads
  ``StorageSettings``.

Each has its own role with exactly the DynamoDB actions its code calls, on exactly its tables (and the one
index it queries), its own log group (JSON logs, retention by stage) and active X-Ray tracing. The actions
were read from ``meterbill.adapters.dynamodb`` and powertools' idempotency layer:

- catalog: GetItem (objects, accounts, keys), Query (listings; the keys index), BatchGetItem (meters by
  external id), conditional PutItem / UpdateItem / DeleteItem (create, replace, delete, revoke) and
  TransactWriteItems of puts and deletes (meters with their external-id claims), which IAM authorizes as the
  PutItem and DeleteItem it holds;
- readings: GetItem and conditional PutItem of a bucket, Query of a meter's buckets;
- idempotency: GetItem, PutItem, UpdateItem, DeleteItem of a record (powertools);
- authorizer: GetItem of an API key or a console session on the catalog, nothing else.

Alerts (``constructs/alerts.py``): the API subscribes emails to the alerts topic (``POST
/v1/alert-subscriptions``: Subscribe with the filter policy; GetSubscriptionAttributes and Unsubscribe on the
subscription, whose ARN is ``<topic arn>:<uuid>``) and tells the alerts' readings queue which meters an ingest
stored readings for (SendMessage).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.cdk.constructs.invoices import Invoices
from infra.cdk.constructs.layer import ARCHITECTURE, RUNTIME, MeterbillLayer
from infra.cdk.constructs.storage import Storage
from infra.cdk.nag import acknowledge
from infra.cdk.sources import BUILD_LEFTOVERS, INGEST_FUNCTIONS
from infra.cdk.stages import StageConfig
from meterbill.adapters.dynamodb.schema import INVOICES_BY_ISSUE_MONTH_INDEX, KEYS_BY_ACCOUNT_INDEX

METRICS_NAMESPACE: Final = "meterbill"
API_SERVICE: Final = "meterbill-api"
AUTHORIZER_SERVICE: Final = "meterbill-authorizer"

CATALOG_ACTIONS_OF_THE_API: Final = (
    "dynamodb:BatchGetItem",
    "dynamodb:DeleteItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:UpdateItem",
)
KEYS_INDEX_ACTIONS_OF_THE_API: Final = ("dynamodb:Query",)
ISSUE_MONTH_INDEX_ACTIONS_OF_THE_API: Final = ("dynamodb:Query",)  # the accounting export
READINGS_ACTIONS_OF_THE_API: Final = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query")
IDEMPOTENCY_ACTIONS_OF_THE_API: Final = (
    "dynamodb:DeleteItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
)
CATALOG_ACTIONS_OF_THE_AUTHORIZER: Final = ("dynamodb:GetItem",)
DOCUMENT_ACTIONS_OF_THE_API: Final = ("s3:GetObject",)
ALERT_SUBSCRIPTION_ACTIONS_OF_THE_API: Final = (
    "sns:GetSubscriptionAttributes",
    "sns:Subscribe",
    "sns:Unsubscribe",
)
ALERT_QUEUE_ACTIONS_OF_THE_API: Final = ("sqs:SendMessage",)

# API Gateway gives up on an integration after 29 s: a function running longer would work for nobody.
API_TIMEOUT: Final = Duration.seconds(29)
# arm64 CPU grows with memory: 1 GB parses a 10,000-reading batch or a 5 MB import in well under a second.
API_MEMORY_MB: Final = 1024
AUTHORIZER_TIMEOUT: Final = Duration.seconds(10)
AUTHORIZER_MEMORY_MB: Final = 512


class Functions(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: StageConfig,
        storage: Storage,
        layer: MeterbillLayer,
        invoices: Invoices,
        alerts_topic: sns.ITopic,
        alerts_queue: sqs.IQueue,
    ) -> None:
        """``alerts_topic``, ``alerts_queue``: the alerts' topic and readings queue (constructs/alerts.py)."""
        super().__init__(scope, construct_id)
        code = lambda_.Code.from_asset(str(INGEST_FUNCTIONS), exclude=list(BUILD_LEFTOVERS))
        self.api = python_function(
            self,
            "Api",
            stage=stage,
            code=code,
            layer=layer,
            name=stage.resource_name("api"),
            handler="ingest_handler.lambda_handler",
            description="meterbill API: readings, imports, catalog, tariffs, API keys, reports",
            memory_mb=API_MEMORY_MB,
            timeout=API_TIMEOUT,
            # Caps what one stage can ask of DynamoDB at once (a request writes up to 8 buckets in
            # parallel) and keeps the account's other functions from being starved; None in dev (StageConfig).
            reserved_concurrency=stage.api_reserved_concurrency,
            environment={
                "CATALOG_TABLE": storage.catalog.table_name,
                "READINGS_TABLE": storage.readings.table_name,
                "IDEMPOTENCY_TABLE": storage.idempotency.table_name,
                "INVOICES_BUCKET": invoices.bucket.bucket_name,
                "ALERTS_TOPIC_ARN": alerts_topic.topic_arn,
                "ALERTS_QUEUE_URL": alerts_queue.queue_url,
                "POWERTOOLS_SERVICE_NAME": API_SERVICE,
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                # Answers hold customers' data and can be large: traces keep timings, not bodies.
                "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",
            },
        )
        self.authorizer = python_function(
            self,
            "Authorizer",
            stage=stage,
            code=code,
            layer=layer,
            name=stage.resource_name("authorizer"),
            handler="authorizer_handler.lambda_handler",
            description="meterbill API authorizer: API key -> account and scopes",
            memory_mb=AUTHORIZER_MEMORY_MB,
            timeout=AUTHORIZER_TIMEOUT,
            # No reservation: API Gateway caches its answers (one call per key and minute), and a throttled
            # authorizer would turn into 500s for every client.
            reserved_concurrency=None,
            environment={
                "CATALOG_TABLE": storage.catalog.table_name,
                # Required by StorageSettings; the authorizer holds no permission on the readings table.
                "READINGS_TABLE": storage.readings.table_name,
                "POWERTOOLS_SERVICE_NAME": AUTHORIZER_SERVICE,
            },
        )
        catalog_index_arn = f"{storage.catalog.table_arn}/index/{KEYS_BY_ACCOUNT_INDEX}"
        allow(self.api.role, CATALOG_ACTIONS_OF_THE_API, [storage.catalog.table_arn], sid="Catalog")
        allow(self.api.role, KEYS_INDEX_ACTIONS_OF_THE_API, [catalog_index_arn], sid="ApiKeysByAccount")
        allow(
            self.api.role,
            ISSUE_MONTH_INDEX_ACTIONS_OF_THE_API,
            [f"{storage.catalog.table_arn}/index/{INVOICES_BY_ISSUE_MONTH_INDEX}"],
            sid="InvoicesByIssueMonth",
        )
        allow(self.api.role, READINGS_ACTIONS_OF_THE_API, [storage.readings.table_arn], sid="Readings")
        allow(
            self.api.role, IDEMPOTENCY_ACTIONS_OF_THE_API, [storage.idempotency.table_arn], sid="Idempotency"
        )
        # GET /v1/invoices/{id}/pdf: HEAD of the stored PDF and a URL presigned with this role's GetObject.
        allow(
            self.api.role,
            DOCUMENT_ACTIONS_OF_THE_API,
            [invoices.bucket.arn_for_objects("*/invoices/*")],
            sid="InvoiceDocuments",
        )
        bucket = Stack.of(self).get_logical_id(invoices.bucket.node.default_child)  # type: ignore[arg-type]
        acknowledge(
            self.api.role,  # type: ignore[arg-type]  # a Role construct, made by python_function
            f"AwsSolutions-IAM5[Resource::<{bucket}.Arn>/*/invoices/*]",
            "The API presigns downloads of the caller's account's invoice documents (<account>/invoices/"
            "<id>.pdf); the account is a key prefix chosen per request, so the resource names all accounts' "
            "invoice prefixes and nothing else of the bucket.",
        )
        allow(
            self.api.role,
            ALERT_SUBSCRIPTION_ACTIONS_OF_THE_API,
            [alerts_topic.topic_arn, f"{alerts_topic.topic_arn}:*"],
            sid="AlertSubscriptions",
        )
        allow(self.api.role, ALERT_QUEUE_ACTIONS_OF_THE_API, [alerts_queue.queue_arn], sid="AlertsQueue")
        topic = Stack.of(self).get_logical_id(alerts_topic.node.default_child)  # type: ignore[arg-type]
        acknowledge(
            self.api.role,  # type: ignore[arg-type]  # a Role construct, made by python_function
            f"AwsSolutions-IAM5[Resource::<{topic}>:*]",
            "Unsubscribe and GetSubscriptionAttributes authorize on the subscription's ARN, the topic's ARN "
            "and an id SNS draws at Subscribe (<topic arn>:<uuid>): the resource names the alerts topic's "
            "subscriptions, nothing else.",
        )
        allow(
            self.authorizer.role,
            CATALOG_ACTIONS_OF_THE_AUTHORIZER,
            [storage.catalog.table_arn],
            sid="ApiKeys",
        )

    @property
    def all(self) -> list[lambda_.Function]:
        return [self.api, self.authorizer]


def python_function(
    scope: Construct,
    construct_id: str,
    *,
    stage: StageConfig,
    code: lambda_.Code,
    layer: MeterbillLayer,
    name: str,
    handler: str,
    description: str,
    memory_mb: int,
    timeout: Duration,
    reserved_concurrency: int | None,
    environment: Mapping[str, str],
) -> lambda_.Function:
    """A meterbill function: Python 3.12 on arm64 with the layer, its own role (log group and X-Ray only,
    until ``allow`` adds its table actions), its own log group kept by stage, JSON logs, active tracing."""
    log_group = logs.LogGroup(
        scope, f"{construct_id}Logs", retention=stage.log_retention, removal_policy=stage.removal_policy
    )
    role = iam.Role(
        scope,
        f"{construct_id}Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=f"{name}: its log group, X-Ray, and its table actions (no managed policy)",
    )
    log_group.grant_write(role)
    return lambda_.Function(
        scope,
        construct_id,
        function_name=name,
        description=description,
        runtime=RUNTIME,
        architecture=ARCHITECTURE,
        code=code,
        handler=handler,
        layers=[layer.layer_version],
        role=role,
        memory_size=memory_mb,
        timeout=timeout,
        reserved_concurrent_executions=reserved_concurrency,
        environment=dict(environment),
        tracing=lambda_.Tracing.ACTIVE,
        log_group=log_group,
        logging_format=lambda_.LoggingFormat.JSON,
        application_log_level_v2=lambda_.ApplicationLogLevel[stage.application_log_level],
        system_log_level_v2=lambda_.SystemLogLevel.WARN,
    )


def allow(role: iam.IRole | None, actions: Sequence[str], resources: Sequence[str], *, sid: str) -> None:
    assert role is not None
    role.add_to_principal_policy(
        iam.PolicyStatement(sid=sid, actions=list(actions), resources=list(resources))
    )
