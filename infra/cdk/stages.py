"""What differs between the stages (``-c stage=dev`` / ``-c stage=prod``): names, retention, removal policies,
limits and alarm thresholds. Everything else is the same code, so dev exercises what prod runs.

Context keys (``cdk deploy -c KEY=VALUE``; the CLI passes strings):

- ``stage``: ``dev`` or ``prod``; without it the app synthesizes both stacks.
- ``invoice_retention_days``: how long Object Lock (compliance mode) keeps every invoice version; nobody,
  not even the root user, can delete or shorten it before then. Default: 1 day in dev (so a dev bucket can be
  emptied the next day), 3653 days (10 years) in prod: set it to the retention your tax law asks of invoices.
  The invoice worker locks each stored document explicitly: in dev from the moment it is stored, in prod
  from the end of the calendar year it was issued in (``invoice_retention_from = "year_end"``: HGB §257 (5),
  AO §147 (4) count the 10 years from the year's end), so a prod document is kept at least as long as
  the law asks.
- ``operations_email``: an address subscribed to the operations topic (it must confirm the subscription).
- ``email_identities``: comma-separated SES identities (verified domains or addresses) invoices are sent from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs

PROJECT: Final = "meterbill"
STAGE_NAMES: Final = ("dev", "prod")


@dataclass(frozen=True, slots=True)
class StageConfig:
    name: str
    # Data (tables) and logs: DESTROY in dev (``cdk destroy`` leaves nothing behind), RETAIN in prod.
    removal_policy: RemovalPolicy
    table_deletion_protection: bool
    log_retention: logs.RetentionDays
    access_log_expiry_days: int
    invoice_retention_days: int
    invoice_retention_from: str  # "stored" or "year_end" (meterbill.settings.Retention)
    # Lambda advanced logging controls (powertools reads AWS_LAMBDA_LOG_LEVEL from them).
    application_log_level: str
    # API Gateway: every client together (stage), one route's share (imports), and per API key (usage plan).
    api_rate_limit: int
    api_burst_limit: int
    import_rate_limit: int
    import_burst_limit: int
    api_key_rate_limit: int
    api_key_burst_limit: int
    # None: no reservation. A new AWS account may have 10 concurrent executions in all, none to reserve.
    api_reserved_concurrency: int | None
    function_error_threshold: int
    api_5xx_threshold: int
    # The billing runs (constructs/billing.py): EventBridge Scheduler expressions, evaluated in UTC.
    rate_schedule: str
    invoice_schedule: str
    # The queue workers: reserved concurrency (None: none, as for the API) and the most concurrent batches the
    # queue's event source mapping hands them (2 to 1,000); together they cap what a backlog asks of DynamoDB.
    rate_worker_reserved_concurrency: int | None
    invoice_worker_reserved_concurrency: int | None
    rate_worker_max_concurrency: int
    invoice_worker_max_concurrency: int
    operations_email: str | None = None
    # Email (constructs/email.py): the SES identities (domains or addresses) accounts' invoices may be sent
    # from - the email worker may send as these only - and the most concurrent email batches; each worker
    # takes its share of SES's send rate (GetSendQuota.MaxSendRate * 0.8 / this).
    email_identities: tuple[str, ...] = ("meterbill.example",)
    email_worker_max_concurrency: int = 2
    email_worker_reserved_concurrency: int | None = None
    # Alerts (constructs/alerts.py): the readings worker's most concurrent batches and its reservation.
    alerts_worker_max_concurrency: int = 2
    alerts_worker_reserved_concurrency: int | None = None

    @property
    def stack_name(self) -> str:
        return f"{PROJECT}-{self.name}"

    def resource_name(self, what: str) -> str:
        """The physical name of a named resource of this stage: ``meterbill-dev-catalog``."""
        return f"{PROJECT}-{self.name}-{what}"

    @property
    def signing_key_secret_prefix(self) -> str:
        """The Secrets Manager names of the accounts' signing keys: ``meterbill/dev/signing-key/<account>``
        (made at account set-up, read by the invoice worker)."""
        return f"{PROJECT}/{self.name}/signing-key/"


DEV: Final = StageConfig(
    name="dev",
    removal_policy=RemovalPolicy.DESTROY,
    table_deletion_protection=False,
    log_retention=logs.RetentionDays.TWO_WEEKS,
    access_log_expiry_days=30,
    invoice_retention_days=1,
    invoice_retention_from="stored",
    application_log_level="DEBUG",
    api_rate_limit=50,
    api_burst_limit=100,
    import_rate_limit=2,
    import_burst_limit=4,
    api_key_rate_limit=10,
    api_key_burst_limit=20,
    api_reserved_concurrency=None,
    function_error_threshold=5,
    api_5xx_threshold=5,
    rate_schedule="rate(15 minutes)",
    invoice_schedule="cron(0 * * * ? *)",
    rate_worker_reserved_concurrency=None,
    invoice_worker_reserved_concurrency=None,
    rate_worker_max_concurrency=2,
    invoice_worker_max_concurrency=2,
)

PROD: Final = StageConfig(
    name="prod",
    removal_policy=RemovalPolicy.RETAIN,
    table_deletion_protection=True,
    log_retention=logs.RetentionDays.ONE_YEAR,
    access_log_expiry_days=365,
    invoice_retention_days=3653,
    invoice_retention_from="year_end",
    application_log_level="INFO",
    api_rate_limit=1000,
    api_burst_limit=2000,
    import_rate_limit=10,
    import_burst_limit=20,
    api_key_rate_limit=100,
    api_key_burst_limit=200,
    api_reserved_concurrency=100,
    function_error_threshold=1,
    api_5xx_threshold=1,
    rate_schedule="rate(15 minutes)",
    invoice_schedule="cron(0 * * * ? *)",
    # Each worker batch writes a few hundred items at most; 10 and 5 batches at once stay far below what an
    # on-demand table takes without throttling, and 5 invoice workers rarely race for one account's counter.
    rate_worker_reserved_concurrency=10,
    invoice_worker_reserved_concurrency=5,
    rate_worker_max_concurrency=10,
    invoice_worker_max_concurrency=5,
    email_worker_reserved_concurrency=2,
    alerts_worker_reserved_concurrency=2,
)

STAGES: Final = {stage.name: stage for stage in (DEV, PROD)}


def stages_from_context(context: Mapping[str, Any]) -> list[StageConfig]:
    """The stages to synthesize: the one ``stage`` names (with the context's overrides), or all of them."""
    name = context.get("stage")
    if name is None:
        return [with_overrides(stage, context) for stage in STAGES.values()]
    if name not in STAGES:
        raise ValueError(f"unknown stage {name!r}: choose one of {', '.join(STAGE_NAMES)} (-c stage=dev)")
    return [with_overrides(STAGES[name], context)]


def with_overrides(stage: StageConfig, context: Mapping[str, Any]) -> StageConfig:
    retention = context.get("invoice_retention_days")
    email = context.get("operations_email")
    if retention is not None:
        days = int(retention)
        if days < 1:
            raise ValueError(f"invoice_retention_days must be at least 1, got {days}")
        stage = replace(stage, invoice_retention_days=days)
    if email:
        stage = replace(stage, operations_email=str(email))
    identities = context.get("email_identities")
    if identities:
        names = tuple(name.strip() for name in str(identities).split(",") if name.strip())
        if not names:
            raise ValueError("email_identities names no identity")
        stage = replace(stage, email_identities=names)
    return stage
