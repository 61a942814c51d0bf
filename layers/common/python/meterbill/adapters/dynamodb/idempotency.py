"""The idempotency table: powertools' ``DynamoDBPersistenceLayer`` (partition key ``id``, its default item
shape: ``status``, ``data``, ``expiration``, ``in_progress_expiration``, ``validation``) on a client of the
storage adapters - the same endpoint, region and credentials as the stores, and botocore's own retries off
like theirs.

Loaded only when a request carries an ``Idempotency-Key``: powertools' idempotency package loads boto3.
"""

from __future__ import annotations

from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer, DynamoDBPersistenceLayer

from meterbill.adapters.dynamodb.connection import DynamoDb
from meterbill.settings import StorageSettings


def idempotency_store(storage: StorageSettings, table_name: str) -> BasePersistenceLayer:
    """The table ``table_name`` where ``storage`` keeps the stores' tables (the client is made now)."""
    return DynamoDBPersistenceLayer(table_name=table_name, boto3_client=DynamoDb(storage).client)
