"""The app passes cdk-nag's AwsSolutions rules in both stages: every accepted finding is acknowledged in
code, on the construct it concerns, with its reason."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

ACKNOWLEDGED = "aws:cdk:acknowledged-rules"
# What this app accepts, where, and (in code, next to each) why.
EXPECTED_ACKNOWLEDGEMENTS = {
    ("Functions/Api", "AwsSolutions-L1"),
    ("Functions/Authorizer", "AwsSolutions-L1"),
    ("Functions/ApiRole", "AwsSolutions-IAM5[Resource::*]"),
    ("Functions/AuthorizerRole", "AwsSolutions-IAM5[Resource::*]"),
    (
        "Api/RestApi",
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
        "AmazonAPIGatewayPushToCloudWatchLogs]",
    ),
    ("Api/RestApi", "AwsSolutions-APIG2"),
    ("Api/RestApi", "AwsSolutions-APIG3"),
    ("Api/RestApi", "AwsSolutions-COG4"),
    ("Api/RestApi/Default/v1/openapi.json/GET", "AwsSolutions-APIG4"),
    ("Api/RestApi/Default/v1/sessions/POST", "AwsSolutions-APIG4"),  # signing in to the console
    ("Api/RestApi/Default/console/GET", "AwsSolutions-APIG4"),  # the console's pages check the cookie
    ("Api/RestApi/Default/console/{proxy+}/GET", "AwsSolutions-APIG4"),
    ("Api/RestApi/Default/console/{proxy+}/POST", "AwsSolutions-APIG4"),
    ("Invoices/AccessLogsBucket", "AwsSolutions-S1"),
    ("Monitoring/OperationsTopic", "AwsSolutions-SNS2"),
    ("Billing/RateSchedule", "AwsSolutions-L1"),
    ("Billing/RateWorker", "AwsSolutions-L1"),
    ("Billing/InvoiceSchedule", "AwsSolutions-L1"),
    ("Billing/InvoiceWorker", "AwsSolutions-L1"),
    ("Billing/RateScheduleRole", "AwsSolutions-IAM5[Resource::*]"),
    ("Billing/RateWorkerRole", "AwsSolutions-IAM5[Resource::*]"),
    ("Billing/InvoiceScheduleRole", "AwsSolutions-IAM5[Resource::*]"),
    ("Billing/InvoiceWorkerRole", "AwsSolutions-IAM5[Resource::*]"),
    ("Billing/RateSchedulerDeadLetterQueue", "AwsSolutions-SQS3"),
    ("Billing/InvoiceSchedulerDeadLetterQueue", "AwsSolutions-SQS3"),
    ("Email/EmailWorker", "AwsSolutions-L1"),
    ("Email/EmailEvents", "AwsSolutions-L1"),
    ("Email/EmailWorkerRole", "AwsSolutions-IAM5[Resource::*]"),
    ("Email/EmailEventsRole", "AwsSolutions-IAM5[Resource::*]"),
    (
        "Email/EmailWorkerRole",
        "AwsSolutions-IAM5[Resource::<InvoicesInvoicesBucket33673995.Arn>/*/invoices/*]",
    ),
    ("Email/EmailEventsDeadLetterQueue", "AwsSolutions-SQS3"),
    # Invoice documents: every account's <account>/invoices/ prefix of the bucket, the stage's signing keys.
    ("Functions/ApiRole", "AwsSolutions-IAM5[Resource::<InvoicesInvoicesBucket33673995.Arn>/*/invoices/*]"),
    (
        "Billing/InvoiceWorkerRole",
        "AwsSolutions-IAM5[Resource::<InvoicesInvoicesBucket33673995.Arn>/*/invoices/*]",
    ),
    (  # savings reports, written beside the invoices by the hourly pass
        "Billing/InvoiceScheduleRole",
        "AwsSolutions-IAM5[Resource::<InvoicesInvoicesBucket33673995.Arn>/*/invoices/*]",
    ),
    # Alerts (constructs/alerts.py); the API's Unsubscribe and GetSubscriptionAttributes on the topic's
    # subscriptions (<topic arn>:<uuid>).
    ("Alerts/AlertsSchedule", "AwsSolutions-L1"),
    ("Alerts/AlertsReadings", "AwsSolutions-L1"),
    ("Alerts/AlertsScheduleRole", "AwsSolutions-IAM5[Resource::*]"),
    ("Alerts/AlertsReadingsRole", "AwsSolutions-IAM5[Resource::*]"),
    ("Alerts/AlertsSchedulerDeadLetterQueue", "AwsSolutions-SQS3"),
    ("Functions/ApiRole", "AwsSolutions-IAM5[Resource::<AlertsTopicCF7C81C9>:*]"),
}


def signing_keys(stage: str) -> tuple[str, str]:
    return (
        "Billing/InvoiceWorkerRole",
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:"
        f"secret:meterbill/{stage}/signing-key/*]",
    )


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_cdk_nag_aws_solutions_finds_nothing_unacknowledged(synthesized: Any, stage: str) -> None:
    from cdk_nag import AwsSolutionsChecks

    report = AwsSolutionsChecks(synthesized.app).validate_scope(synthesized.stacks[stage])

    findings = [
        (violation.rule_name, [r.construct_path for r in violation.violating_resources])
        for violation in report.violations
    ]
    assert (findings, report.success) == ([], True)


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_each_acknowledgement_is_the_expected_one_with_its_reason(synthesized: Any, stage: str) -> None:
    stack_name = f"meterbill-{stage}"
    metadata = json.loads((Path(synthesized.outdir) / f"{stack_name}.metadata.json").read_text())
    found = {
        (path.removeprefix(f"/{stack_name}/"), rule.removeprefix("Annotation::")): reason
        for path, entries in metadata.items()
        for entry in entries
        if entry["type"] == ACKNOWLEDGED
        for rule, reason in entry["data"].items()
    }
    assert set(found) == EXPECTED_ACKNOWLEDGEMENTS | {signing_keys(stage)}
    short = {finding: reason for finding, reason in found.items() if len(reason.split()) < 12}
    assert short == {}
