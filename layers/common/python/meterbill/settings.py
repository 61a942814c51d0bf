"""Typed settings, read once from the environment by each function (and by the local server)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Final, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from meterbill.timeutil import local_midnight


class StorageSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    catalog_table: str = Field(min_length=3)
    readings_table: str = Field(min_length=3)
    region: str = Field(min_length=1)
    # Set only off AWS: moto's server locally, or a test.
    endpoint_url: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> StorageSettings:
        return cls(
            catalog_table=env.get("CATALOG_TABLE", ""),
            readings_table=env.get("READINGS_TABLE", ""),
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION", ""),
            endpoint_url=env.get("DYNAMODB_ENDPOINT_URL") or None,
        )


# --- invoice documents (issue 10) --------------------------------------------------------------------------

DEFAULT_SIGNING_KEY_SECRET_PREFIX: Final = "meterbill/signing-key/"


class Retention(BaseModel):
    """How long a stored invoice document is locked (S3 Object Lock, compliance mode), as deployed per stage
    (``infra/cdk/stages.py``: ``invoice_retention_days``, 1 in dev, 3653 in prod).

    ``from_ = "stored"``: ``days`` from the moment it is stored (dev: the bucket can be emptied the next day).
    ``from_ = "year_end"``: ``days`` from the end of the calendar year in which the invoice was issued (on the
    site's calendar), as German law counts it (HGB §257 (5), AO §147 (4), GoBD: 10 years from the end of
    the year, not from the invoice's date) - 3653 days from 1 January covers the 10 years including two
    leap days."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    days: int = Field(default=1, ge=1, le=36_500)
    from_: Literal["stored", "year_end"] = Field(default="stored", alias="from")

    def until(self, *, stored_at: datetime, issue_date: date, zone: ZoneInfo) -> datetime:
        """The aware moment the lock ends."""
        if self.from_ == "stored":
            return stored_at + timedelta(days=self.days)
        return local_midnight(date(issue_date.year + 1, 1, 1), zone) + timedelta(days=self.days)


class DocumentSettings(BaseModel):
    """Where invoice documents are stored and signed: the invoices bucket (INVOICES_BUCKET; empty: documents
    are not stored, as before issue 10), their retention (INVOICE_RETENTION_DAYS, INVOICE_RETENTION_FROM),
    the Secrets Manager names of the accounts' signing keys (SIGNING_KEY_SECRET_PREFIX + account id)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bucket: str = ""
    region: str = ""
    retention: Retention = Retention()
    signing_key_secret_prefix: str = Field(default=DEFAULT_SIGNING_KEY_SECRET_PREFIX, min_length=1)
    # Set only off AWS: moto's server locally, or a test.
    s3_endpoint_url: str | None = None
    secrets_endpoint_url: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DocumentSettings:
        retention: dict[str, str] = {}
        if env.get("INVOICE_RETENTION_DAYS"):
            retention["days"] = env["INVOICE_RETENTION_DAYS"]
        if env.get("INVOICE_RETENTION_FROM"):
            retention["from"] = env["INVOICE_RETENTION_FROM"]
        return cls.model_validate(
            {
                "bucket": env.get("INVOICES_BUCKET", ""),
                "region": env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION", ""),
                "retention": retention,
                "signing_key_secret_prefix": env.get("SIGNING_KEY_SECRET_PREFIX")
                or DEFAULT_SIGNING_KEY_SECRET_PREFIX,
                "s3_endpoint_url": env.get("S3_ENDPOINT_URL") or None,
                "secrets_endpoint_url": env.get("SECRETSMANAGER_ENDPOINT_URL") or None,
            }
        )


class ApiSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    storage: StorageSettings
    idempotency_table: str = Field(min_length=3)
    # The invoices bucket (GET /v1/invoices/{id}/pdf presigns its objects); empty: no documents stored.
    invoices_bucket: str = ""
    s3_endpoint_url: str | None = None  # off AWS only (moto)
    max_body_bytes: int = 1_000_000
    max_import_bytes: int = 5_000_000
    # 4,000 of the largest readings (64-character meter id, timestamp to the microsecond with its offset,
    # a 24-digit value as a string: ~229 bytes as json.dumps writes them) fit max_body_bytes (1 MB).
    max_readings_per_request: int = 4_000
    future_tolerance_seconds: int = 300
    # The email queue a resend is sent to (POST /v1/invoices/{id}/resend); SQS's endpoint off AWS only.
    email_queue_url: str = ""
    sqs_endpoint_url: str | None = None
    # The alerts topic (POST /v1/alert-subscriptions subscribes to it); empty: subscriptions are refused.
    alerts_topic_arn: str = ""
    sns_endpoint_url: str | None = None  # off AWS only (moto)
    # The alerts' readings queue: ingest tells it which meters got readings; empty: ingest sends nothing.
    alerts_queue_url: str = ""
    # The console's session cookie says Secure (HTTPS only): true on AWS; false only for the local
    # http://127.0.0.1 server (SESSION_COOKIE_SECURE=false).
    secure_cookies: bool = True

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ApiSettings:
        return cls(
            secure_cookies=env.get("SESSION_COOKIE_SECURE", "true").strip().lower() != "false",
            storage=StorageSettings.from_env(env),
            idempotency_table=env.get("IDEMPOTENCY_TABLE", ""),
            email_queue_url=env.get("EMAIL_QUEUE_URL", ""),
            sqs_endpoint_url=env.get("SQS_ENDPOINT_URL") or None,
            alerts_topic_arn=env.get("ALERTS_TOPIC_ARN", ""),
            sns_endpoint_url=env.get("SNS_ENDPOINT_URL") or None,
            alerts_queue_url=env.get("ALERTS_QUEUE_URL", ""),
            invoices_bucket=env.get("INVOICES_BUCKET", ""),
            s3_endpoint_url=env.get("S3_ENDPOINT_URL") or None,
        )


class AlertSettings(BaseModel):
    """The alerts functions (``functions/alerts``): the tables they read and write, and the topic every
    notification is published to."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    storage: StorageSettings
    topic_arn: str = Field(min_length=1)
    sns_endpoint_url: str | None = None  # off AWS only (moto)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> AlertSettings:
        return cls(
            storage=StorageSettings.from_env(env),
            topic_arn=env.get("ALERTS_TOPIC_ARN", ""),
            sns_endpoint_url=env.get("SNS_ENDPOINT_URL") or None,
        )


class RateSettings(BaseModel):
    """The rating functions (``functions/rate``): the tables, and the queue a large pass fans out to (none:
    every pass rates all its meters itself)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    storage: StorageSettings
    queue_url: str | None = None
    # Set only off AWS (moto's server locally).
    sqs_endpoint_url: str | None = None
    fan_out_above: int = Field(default=20, ge=0)
    batch_size: int = Field(default=10, ge=1, le=100)
    mark_limit: int = Field(default=10_000, ge=1, le=100_000)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RateSettings:
        numbers = {
            name: env[variable]
            for name, variable in (
                ("fan_out_above", "RATE_FAN_OUT_ABOVE"),
                ("batch_size", "RATE_BATCH_SIZE"),
                ("mark_limit", "RATE_MARK_LIMIT"),
            )
            if env.get(variable)
        }
        return cls.model_validate(
            {
                "storage": StorageSettings.from_env(env),
                "queue_url": env.get("RATE_QUEUE_URL") or None,
                "sqs_endpoint_url": env.get("SQS_ENDPOINT_URL") or None,
                **numbers,
            }
        )


class InvoiceSettings(BaseModel):
    """The invoice functions (``functions/invoice``): the tables, and the queue the schedule sends work to
    (INVOICE_QUEUE_URL; the worker, fed by that queue, does not send)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    storage: StorageSettings
    invoice_queue_url: str = ""
    # Set only off AWS: moto's server locally, or a test.
    sqs_endpoint_url: str | None = None
    documents: DocumentSettings = DocumentSettings()
    # The email queue (EMAIL_QUEUE_URL): the worker queues the first email of each stored document there;
    # empty: documents are stored, not emailed.
    email_queue_url: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> InvoiceSettings:
        return cls(
            storage=StorageSettings.from_env(env),
            invoice_queue_url=env.get("INVOICE_QUEUE_URL", ""),
            sqs_endpoint_url=env.get("SQS_ENDPOINT_URL") or None,
            documents=DocumentSettings.from_env(env),
            email_queue_url=env.get("EMAIL_QUEUE_URL", ""),
        )


class EmailSettings(BaseModel):
    """The email functions (``functions/invoice/email_*_handler.py``): the tables, the invoices bucket the
    stored PDFs are read from, the email queue, SES's configuration set (it publishes the delivery events),
    and the pace: at most ``max_send_rate`` emails a second per worker when set, else SES's
    ``GetSendQuota.MaxSendRate`` times ``rate_share`` divided by ``workers`` (the email queue's event source
    runs at most that many workers at once: ``constructs/email.py``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    storage: StorageSettings
    invoices_bucket: str = ""
    email_queue_url: str = ""
    configuration_set: str | None = None
    max_send_rate: float | None = Field(default=None, gt=0)
    rate_share: float = Field(default=0.8, gt=0, le=1)
    workers: int = Field(default=2, ge=1)
    # Set only off AWS: moto's server locally, or a test.
    sqs_endpoint_url: str | None = None
    s3_endpoint_url: str | None = None
    ses_endpoint_url: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> EmailSettings:
        rate = env.get("EMAIL_MAX_SEND_RATE")
        return cls(
            storage=StorageSettings.from_env(env),
            invoices_bucket=env.get("INVOICES_BUCKET", ""),
            email_queue_url=env.get("EMAIL_QUEUE_URL", ""),
            configuration_set=env.get("SES_CONFIGURATION_SET") or None,
            max_send_rate=float(rate) if rate else None,
            workers=int(env.get("EMAIL_WORKERS") or 2),
            sqs_endpoint_url=env.get("SQS_ENDPOINT_URL") or None,
            s3_endpoint_url=env.get("S3_ENDPOINT_URL") or None,
            ses_endpoint_url=env.get("SES_ENDPOINT_URL") or None,
        )
