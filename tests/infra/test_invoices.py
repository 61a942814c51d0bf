"""The invoices bucket: Object Lock in compliance mode with the stage's retention, versioned, encrypted,
private, TLS only, and its server access logs in a second bucket."""

from __future__ import annotations

from typing import Any

from tests.infra.templates import properties, readable, resources

PRIVATE = {
    "BlockPublicAcls": True,
    "BlockPublicPolicy": True,
    "IgnorePublicAcls": True,
    "RestrictPublicBuckets": True,
}
SSE_S3 = {
    "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
}


def buckets(template: dict[str, Any]) -> tuple[tuple[str, dict[str, Any]], tuple[str, dict[str, Any]]]:
    """(invoices bucket, access logs bucket), each as (logical id, resource)."""
    (invoices,) = [
        (k, r)
        for k, r in resources(template, "AWS::S3::Bucket").items()
        if "ObjectLockEnabled" in r["Properties"]
    ]
    (logs,) = [(k, r) for k, r in resources(template, "AWS::S3::Bucket").items() if k != invoices[0]]
    return invoices, logs


def tls_only(bucket_id: str) -> dict[str, Any]:
    return {
        "Action": "s3:*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Resource": [f"arn:{bucket_id}", f"arn:{bucket_id}/*"],
    }


def bucket_policy(template: dict[str, Any], bucket_id: str) -> list[dict[str, Any]]:
    (policy,) = [
        p for p in properties(template, "AWS::S3::BucketPolicy") if p["Bucket"] == {"Ref": bucket_id}
    ]
    return list(readable(template, policy["PolicyDocument"]["Statement"]))


def test_invoices_are_locked_in_compliance_mode_for_ten_years_in_prod(prod: dict[str, Any]) -> None:
    (invoices_id, invoices), (logs_id, _) = buckets(prod)
    assert invoices["Properties"] == {
        "ObjectLockEnabled": True,
        "ObjectLockConfiguration": {
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 3653}},
        },
        "VersioningConfiguration": {"Status": "Enabled"},
        "BucketEncryption": SSE_S3,
        "PublicAccessBlockConfiguration": PRIVATE,
        "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
        "LoggingConfiguration": {"DestinationBucketName": {"Ref": logs_id}, "LogFilePrefix": "invoices/"},
        "Tags": [{"Key": "project", "Value": "meterbill"}, {"Key": "stage", "Value": "prod"}],
    }
    assert (invoices["DeletionPolicy"], invoices["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert bucket_policy(prod, invoices_id) == [tls_only(invoices_id)]


def test_dev_invoices_are_locked_for_a_day_and_the_retention_comes_from_the_context(
    dev: dict[str, Any],
) -> None:
    from dataclasses import replace

    from infra.cdk.stages import DEV, with_overrides

    (_, invoices), _ = buckets(dev)
    assert invoices["Properties"]["ObjectLockConfiguration"]["Rule"]["DefaultRetention"] == {
        "Mode": "COMPLIANCE",
        "Days": 1,
    }
    assert with_overrides(DEV, {"invoice_retention_days": "30"}) == replace(DEV, invoice_retention_days=30)


def test_access_logs_are_private_tls_only_expire_and_only_s3_logging_of_the_invoices_bucket_writes_them(
    dev: dict[str, Any], prod: dict[str, Any]
) -> None:
    (invoices_id, _), (logs_id, logs) = buckets(prod)
    assert logs["Properties"] == {
        "BucketEncryption": SSE_S3,
        "PublicAccessBlockConfiguration": PRIVATE,
        "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
        "LifecycleConfiguration": {"Rules": [{"ExpirationInDays": 365, "Status": "Enabled"}]},
        "Tags": [{"Key": "project", "Value": "meterbill"}, {"Key": "stage", "Value": "prod"}],
    }
    assert logs["DeletionPolicy"] == "Retain"
    assert bucket_policy(prod, logs_id) == [
        tls_only(logs_id),
        {
            "Action": "s3:PutObject",
            "Condition": {
                "ArnLike": {"aws:SourceArn": f"arn:{invoices_id}"},
                "StringEquals": {"aws:SourceAccount": "111111111111"},
            },
            "Effect": "Allow",
            "Principal": {"Service": "logging.s3.amazonaws.com"},
            "Resource": f"arn:{logs_id}/invoices/*",
        },
    ]
    (_, (_, dev_logs)) = buckets(dev)
    assert dev_logs["Properties"]["LifecycleConfiguration"] == {
        "Rules": [{"ExpirationInDays": 30, "Status": "Enabled"}]
    }
