"""One stage of meterbill: the constructs, wired together, and the outputs an operator needs."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack, Tags
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.cdk.constructs.alerts import Alerts
from infra.cdk.constructs.api import Api
from infra.cdk.constructs.billing import SEND_ACTIONS, Billing
from infra.cdk.constructs.email import Email
from infra.cdk.constructs.functions import Functions, allow
from infra.cdk.constructs.invoices import Invoices
from infra.cdk.constructs.layer import MeterbillLayer
from infra.cdk.constructs.monitoring import Monitoring
from infra.cdk.constructs.storage import Storage
from infra.cdk.layer_build import LayerContents
from infra.cdk.nag import acknowledge
from infra.cdk.stages import PROJECT, StageConfig


class MeterbillStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: StageConfig,
        layer_contents: LayerContents,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope, construct_id, description=f"meterbill ({stage.name}): metering and billing API", **kwargs
        )
        self.stage = stage
        Tags.of(self).add("project", PROJECT)
        Tags.of(self).add("stage", stage.name)

        self.storage = Storage(self, "Storage", stage=stage)
        self.layer = MeterbillLayer(self, "Layer", contents=layer_contents)
        self.invoices = Invoices(self, "Invoices", stage=stage)
        self.alerts = Alerts(self, "Alerts", stage=stage, storage=self.storage, layer=self.layer)
        self.functions = Functions(
            self,
            "Functions",
            stage=stage,
            storage=self.storage,
            layer=self.layer,
            invoices=self.invoices,
            # POST /v1/alert-subscriptions subscribes to the topic; ingest tells the readings queue.
            alerts_topic=self.alerts.topic,
            alerts_queue=self.alerts.readings_queue,
        )
        self.api = Api(self, "Api", stage=stage, functions=self.functions)
        self.billing = Billing(
            self, "Billing", stage=stage, storage=self.storage, layer=self.layer, invoices=self.invoices
        )
        self.email = Email(
            self, "Email", stage=stage, storage=self.storage, layer=self.layer, documents=self.invoices.bucket
        )
        # POST /v1/invoices/{id}/resend queues an email.
        self.functions.api.add_environment("EMAIL_QUEUE_URL", self.email.queue.queue_url)
        allow(self.functions.api.role, SEND_ACTIONS, [self.email.queue.queue_arn], sid="EmailQueue")
        # The invoice worker queues the first email of each document it stores.
        self.billing.invoice_worker.add_environment("EMAIL_QUEUE_URL", self.email.queue.queue_url)
        allow(self.billing.invoice_worker.role, SEND_ACTIONS, [self.email.queue.queue_arn], sid="EmailQueue")
        # The hourly pass queues the first email of each savings report it stores.
        self.billing.invoice_schedule.add_environment("EMAIL_QUEUE_URL", self.email.queue.queue_url)
        schedule = self.billing.invoice_schedule
        allow(schedule.role, SEND_ACTIONS, [self.email.queue.queue_arn], sid="EmailQueue")
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            stage=stage,
            functions=self._functions,
            rest_api=self.api.rest_api,
            dead_letter_queues={
                **self.billing.dead_letter_queues,
                **self.email.dead_letter_queues,
                **self.alerts.dead_letter_queues,
            },
        )
        self._acknowledge_findings()

        outputs = {
            "ApiUrl": (self.api.rest_api.url, "Base URL of the API (routes start with /v1)"),
            "CatalogTableName": (self.storage.catalog.table_name, "CATALOG_TABLE for `meterbill … --aws`"),
            "ReadingsTableName": (self.storage.readings.table_name, "READINGS_TABLE for `meterbill … --aws`"),
            "IdempotencyTableName": (self.storage.idempotency.table_name, "IDEMPOTENCY_TABLE"),
            "InvoicesBucketName": (self.invoices.bucket.bucket_name, "Invoices (Object Lock, compliance)"),
            "AccessLogsBucketName": (self.invoices.access_logs.bucket_name, "S3 server access logs"),
            "SigningKeySecretPrefix": (
                stage.signing_key_secret_prefix,
                "SIGNING_KEY_SECRET_PREFIX: accounts' signing keys (Secrets Manager), made at set-up",
            ),
            "OperationsTopicArn": (self.monitoring.topic.topic_arn, "Alarms are published here"),
            "EmailConfigurationSet": (
                self.email.configuration_set.configuration_set_name,
                "SES configuration set of invoice emails (events to the email-events topic)",
            ),
        }
        for name, (value, description) in outputs.items():
            CfnOutput(self, name, value=value, description=description)

    @property
    def _functions(self) -> list[lambda_.Function]:
        return [*self.functions.all, *self.billing.functions, *self.email.functions, *self.alerts.functions]

    def _acknowledge_findings(self) -> None:
        """The AwsSolutions findings that are right for this app, each with its reason (cdk-nag 3)."""
        for function in self._functions:
            acknowledge(
                function,
                "AwsSolutions-L1",
                "Python 3.12 on purpose: the layer's compiled wheels (pydantic_core) are built for cp312 and "
                "the code is tested on it; moving to a newer runtime is a change of its own.",
            )
            if function is self.email.worker:
                continue  # its own reason (ses:GetSendQuota too): constructs/email.py
            acknowledge(
                function.role,  # type: ignore[arg-type]  # a Role construct, made by python_function
                "AwsSolutions-IAM5[Resource::*]",
                "X-Ray's PutTraceSegments and PutTelemetryRecords have no resource-level permissions "
                "(AWS offers nothing narrower than *); added by active tracing, nothing else uses *.",
            )
        rest_api = self.api.rest_api
        acknowledge(
            rest_api,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AmazonAPIGatewayPushToCloudWatchLogs]",
            "API Gateway's account-wide CloudWatch role, needed for access and execution logs: AWS's policy "
            "for exactly that purpose, kept current by AWS.",
        )
        acknowledge(
            rest_api,
            "AwsSolutions-APIG3",
            "No WAF: a web ACL costs 5 USD a month plus 1 USD a rule at rest; the API throttles per stage, "
            "per route and per key, answers only API keys, and caps bodies in the function.",
        )
        acknowledge(
            rest_api,
            "AwsSolutions-APIG2",
            "Required path and query parameters are validated by API Gateway; bodies by the function, "
            "against the strict models the OpenAPI document is generated from, answering problem+json that "
            "names each field (a draft-04 copy of those schemas at the gateway would answer less and drift).",
        )
        acknowledge(
            rest_api,
            "AwsSolutions-COG4",
            "Callers are machines (collectors, back offices) holding meterbill API keys, checked by the "
            "Lambda REQUEST authorizer; there are no user-pool users.",
        )
        public_reasons = {
            "/v1/openapi.json": "The API's OpenAPI document is public by design (clients generate code from "
            "it); it holds no data and the function serves it without touching storage.",
            "/v1/sessions": "Signing in to the console is public by design: the admin or read API key comes "
            "in the body and the function checks it as the authorizer does (401 for a wrong or revoked key, "
            "403 for an ingest key); the answer is a session cookie for that key's account and scope.",
            "/console": _CONSOLE_PUBLIC,
            "/console/{proxy+}": _CONSOLE_PUBLIC,
        }
        for route in self.api.public_methods:
            acknowledge(route, "AwsSolutions-APIG4", public_reasons[route.resource.path])


_CONSOLE_PUBLIC = (
    "The console's HTML pages are public at the gateway by design: each page checks the mb_session cookie "
    "itself (services.console_sessions.resolve, as the authorizer does) so that a browser without a valid "
    "session is redirected to the sign-in page instead of answered 401 JSON; every change needs the "
    "session's CSRF token, and the static files hold no data."
)
