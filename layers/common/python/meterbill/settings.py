"""Typed settings, read once from the environment by each function (and by the local server)."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field


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


class ApiSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    storage: StorageSettings
    idempotency_table: str = Field(min_length=3)
    max_body_bytes: int = 1_000_000
    max_import_bytes: int = 5_000_000
    # 4,000 of the largest readings (64-character meter id, timestamp to the microsecond with its offset,
    # a 24-digit value as a string: ~229 bytes as json.dumps writes them) fit max_body_bytes (1 MB).
    max_readings_per_request: int = 4_000
    future_tolerance_seconds: int = 300
    # The email queue a resend is sent to (POST /v1/invoices/{id}/resend); SQS's endpoint off AWS only.
    email_queue_url: str = ""
    sqs_endpoint_url: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ApiSettings:
        return cls(
            storage=StorageSettings.from_env(env),
            idempotency_table=env.get("IDEMPOTENCY_TABLE", ""),
            email_queue_url=env.get("EMAIL_QUEUE_URL", ""),
            sqs_endpoint_url=env.get("SQS_ENDPOINT_URL") or None,
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

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> InvoiceSettings:
        return cls(
            storage=StorageSettings.from_env(env),
            invoice_queue_url=env.get("INVOICE_QUEUE_URL", ""),
            sqs_endpoint_url=env.get("SQS_ENDPOINT_URL") or None,
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
