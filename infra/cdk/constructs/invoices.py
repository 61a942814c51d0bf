"""The invoices bucket, ready for the billing runs: an issued invoice can never be changed or deleted before
its retention ends.

- Object Lock in compliance mode with a default retention from the stage (``invoice_retention_days``): every
  object version is locked on write; nobody, the root user included, can delete it or shorten the lock.
- Versioned (Object Lock requires it), S3-managed encryption (no key to pay for at rest), all public access
  blocked, TLS only, objects owned by the bucket owner (no ACLs).
- Server access logs go to a second bucket (same protections, expiring by stage), which logs nothing itself.

Both buckets are RETAINed in every stage: locked objects cannot be deleted anyway, and an empty log bucket is
removed by hand (README, "Deploy to AWS").
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.cdk.nag import acknowledge
from infra.cdk.stages import StageConfig


class Invoices(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, stage: StageConfig) -> None:
        super().__init__(scope, construct_id)
        self.access_logs = s3.Bucket(
            self,
            "AccessLogsBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,  # S3 server access logging supports SSE-S3 only
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(stage.access_log_expiry_days))],
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            self.access_logs,
            "AwsSolutions-S1",
            "This bucket receives the invoices bucket's server access logs; logging its own access would log "
            "the log deliveries, without end.",
        )
        self.bucket = s3.Bucket(
            self,
            "InvoicesBucket",
            versioned=True,
            object_lock_enabled=True,
            object_lock_default_retention=s3.ObjectLockRetention.compliance(
                Duration.days(stage.invoice_retention_days)
            ),
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="invoices/",
            removal_policy=RemovalPolicy.RETAIN,
        )
