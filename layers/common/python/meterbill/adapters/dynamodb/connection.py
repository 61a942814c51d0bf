"""One connection to both tables per settings, and the retry rule every call goes through.

pynamodb opens one botocore client per ``Connection``; every table, model and transaction here shares one,
so tests and the cost benchmark can watch (or disturb) all DynamoDB traffic through
``DynamoDb.client.meta.events``. The client is created on first use, not at import time, and botocore's own
retries are switched off: ``run`` retries with jittered exponential backoff and an injectable ``sleep``, then
gives up with ``StorageUnavailableError``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from pynamodb.connection import Connection, TableConnection
from pynamodb.connection.base import MetaTable
from pynamodb.exceptions import DoesNotExist, PynamoDBException, TransactWriteError

from meterbill.adapters.dynamodb.schema import catalog_table_definition, readings_table_definition
from meterbill.errors import StorageUnavailableError
from meterbill.settings import StorageSettings

T = TypeVar("T")

# DynamoDB refused the request without applying it: always safe to send again.
THROTTLING_CODES: Final = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
)
# The request may or may not have been applied: safe to send again only when sending it twice changes nothing.
UNCERTAIN_CODES: Final = frozenset({"InternalServerError", "ServiceUnavailable"})
# Transaction cancellations that mean "not applied, try again" (any other reason is a failed condition).
RETRYABLE_CANCELLATIONS: Final = frozenset(
    {"ThrottlingError", "TransactionConflict", "ProvisionedThroughputExceeded"}
)
# Answers the adapters handle themselves (a failed condition is an answer, not an outage).
EXPECTED_CODES: Final = frozenset({"ConditionalCheckFailedException", "TransactionCanceledException"})


# HTTP connections the shared client keeps (botocore's default is 10): the alerts pass reads 16 meters at
# once, and the readings store writes a request's buckets 8 at a time; a thread without a connection waits.
MAX_POOL_CONNECTIONS: Final = 32


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Up to ``attempts`` tries; before try n+1 wait a random share of min(max_delay, base_delay * 2**n)
    ("full jitter", so many clients throttled together do not come back together)."""

    attempts: int = 6
    base_delay_seconds: float = 0.025
    max_delay_seconds: float = 1.0
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[], float] = field(default=random.random)

    def delay_before(self, retry: int) -> float:
        return self.jitter() * min(self.max_delay_seconds, self.base_delay_seconds * 2.0**retry)


class DynamoDb:
    """The two tables of one ``StorageSettings``, reached through one shared pynamodb connection."""

    def __init__(self, settings: StorageSettings, *, retry: RetryPolicy | None = None) -> None:
        self.settings = settings
        self.retry = retry or RetryPolicy()
        self.connection = Connection(
            region=settings.region,
            host=settings.endpoint_url,
            max_retry_attempts=0,
            max_pool_connections=MAX_POOL_CONNECTIONS,
        )
        self.catalog_definition = catalog_table_definition(settings.catalog_table)
        self.readings_definition = readings_table_definition(settings.readings_table)
        self.catalog_table = self._table(self.catalog_definition)
        self.readings_table = self._table(self.readings_definition)

    def _table(self, definition: dict[str, Any]) -> TableConnection:
        name = definition["TableName"]
        table = TableConnection(name, region=self.settings.region, host=self.settings.endpoint_url)
        table.connection = self.connection
        try:
            self.connection.add_meta_table(MetaTable(definition))
        except ValueError as error:  # pynamodb's answer to a table added twice
            raise ValueError(f"the catalog and readings tables must differ, both are {name!r}") from error
        return table

    @property
    def client(self) -> Any:
        """The botocore DynamoDB client (created on first use); ``client.meta.events`` sees every call."""
        return self.connection.client

    def run(self, operation: Callable[[], T], *, what: str, idempotent: bool) -> T:
        """``operation()``, retried while DynamoDB throttles (and, when ``idempotent``, while the outcome is
        uncertain: a 5xx or a lost connection). Failed conditions are re-raised for the caller to map;
        anything else becomes StorageUnavailableError."""
        last_error: PynamoDBException | None = None
        for attempt in range(self.retry.attempts):
            if attempt:
                self.retry.sleep(self.retry.delay_before(attempt - 1))
            try:
                return operation()
            except DoesNotExist:
                raise
            except PynamoDBException as error:
                if not _may_retry(error, idempotent=idempotent):
                    if response_code(error) in EXPECTED_CODES:
                        raise
                    raise StorageUnavailableError(f"{what}: {_describe(error)}") from error
                last_error = error
        assert last_error is not None
        raise StorageUnavailableError(
            f"{what}: still failing after {self.retry.attempts} attempts: {_describe(last_error)}"
        ) from last_error

    def give_up(self, what: str, reason: str) -> StorageUnavailableError:
        return StorageUnavailableError(f"{what}: {reason} after {self.retry.attempts} attempts")


def response_code(error: PynamoDBException) -> str | None:
    """DynamoDB's error code (``ConditionalCheckFailedException``, ...), None when no answer came (a timeout,
    a lost connection). pynamodb's ``cause_response_code`` raises for a timeout (its cause has
    ``response=None``)."""
    response = getattr(error.cause, "response", None)
    if not isinstance(response, dict):
        return None
    code = response.get("Error", {}).get("Code")
    return None if code is None else str(code)


def _may_retry(error: PynamoDBException, *, idempotent: bool) -> bool:
    code = response_code(error)
    if code in THROTTLING_CODES or _retryable_cancellation(error):
        return True
    return idempotent and (code in UNCERTAIN_CODES or code is None)


def _retryable_cancellation(error: PynamoDBException) -> bool:
    if not isinstance(error, TransactWriteError) or response_code(error) != "TransactionCanceledException":
        return False
    codes = {reason.code for reason in error.cancellation_reasons if reason is not None}
    return bool(codes) and codes <= RETRYABLE_CANCELLATIONS


def _describe(error: PynamoDBException) -> str:
    code = response_code(error)
    detail = error.cause_response_message if code else repr(error.cause)
    return f"{code or type(error).__name__}: {detail}"
