"""The storage ports on DynamoDB (pynamodb): ``build_stores(settings)`` for the handlers, ``create_tables``
for moto, the local server and tests. Table design and costs: ``docs/storage.md``.

Nothing connects at import time: ``build_stores`` makes the objects, and botocore's client is created by the
first call that needs it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pynamodb.exceptions import TableError

from meterbill.adapters.dynamodb.alerts import DynamoDbAlertStore
from meterbill.adapters.dynamodb.catalog import DynamoDbCatalogStore, random_etag, utc_now
from meterbill.adapters.dynamodb.connection import DynamoDb, RetryPolicy, response_code
from meterbill.adapters.dynamodb.deliveries import DynamoDbDeliveryStore
from meterbill.adapters.dynamodb.invoices import DynamoDbInvoiceStore
from meterbill.adapters.dynamodb.keys import DynamoDbAccountStore, DynamoDbKeyStore
from meterbill.adapters.dynamodb.metering import DynamoDbMeteringStore
from meterbill.adapters.dynamodb.readings import DynamoDbReadingStore
from meterbill.adapters.dynamodb.sessions import DynamoDbSessionStore
from meterbill.ports import Stores
from meterbill.settings import StorageSettings

__all__ = [
    "DynamoDb",
    "RetryPolicy",
    "alert_store_on",
    "build_alert_store",
    "build_stores",
    "create_tables",
    "stores_on",
]


def build_stores(settings: StorageSettings, *, retry: RetryPolicy | None = None) -> Stores:
    """The ports on the tables ``settings`` name (one shared connection, created on first use)."""
    return stores_on(DynamoDb(settings, retry=retry))


def stores_on(
    db: DynamoDb,
    *,
    clock: Callable[[], datetime] = utc_now,
    new_etag: Callable[[], str] = random_etag,
    parallel_requests: int = 8,
) -> Stores:
    """The ports on an existing ``DynamoDb`` - for tests and benchmarks that watch ``db.client.meta.events``,
    fix the clock or the ETags, or serialise the writes of one request (``parallel_requests=1``)."""
    return Stores(
        catalog=DynamoDbCatalogStore(db, clock=clock, new_etag=new_etag),
        readings=DynamoDbReadingStore(db, parallel_requests=parallel_requests, clock=clock),
        keys=DynamoDbKeyStore(db),
        accounts=DynamoDbAccountStore(db, new_etag=new_etag),
        invoices=DynamoDbInvoiceStore(db, clock=clock),
        metering=DynamoDbMeteringStore(db),
        deliveries=DynamoDbDeliveryStore(db),
        sessions=DynamoDbSessionStore(db),
    )


def build_alert_store(settings: StorageSettings, *, retry: RetryPolicy | None = None) -> DynamoDbAlertStore:
    """The alerts' store on the catalog table ``settings`` names (not part of ``Stores``: the alert ports
    live above ``meterbill.ports``, see ``meterbill.alerts.ports``)."""
    return alert_store_on(DynamoDb(settings, retry=retry))


def alert_store_on(
    db: DynamoDb, *, new_etag: Callable[[], str] = random_etag, parallel_requests: int = 8
) -> DynamoDbAlertStore:
    """The alerts' store on an existing ``DynamoDb`` (shares its connection, e.g. with ``stores_on(db)``)."""
    return DynamoDbAlertStore(db, new_etag=new_etag, parallel_requests=parallel_requests)


def create_tables(settings: StorageSettings, *, wait_seconds: float = 60.0) -> None:
    """Creates both tables (on-demand billing) unless they exist, and waits until they are ACTIVE. For moto,
    the local server and tests; in AWS the infrastructure code creates them from the same definitions."""
    db = DynamoDb(settings)
    for definition in (db.catalog_definition, db.readings_definition):
        name = definition["TableName"]
        try:
            db.connection.create_table(
                name,
                attribute_definitions=definition["AttributeDefinitions"],
                key_schema=definition["KeySchema"],
                global_secondary_indexes=[
                    {
                        "index_name": index["IndexName"],
                        "key_schema": index["KeySchema"],
                        "projection": index["Projection"],
                    }
                    for index in definition.get("GlobalSecondaryIndexes", [])
                ],
                billing_mode=definition["BillingMode"],
            )
        except TableError as error:
            if response_code(error) != "ResourceInUseException":
                raise
        deadline = time.monotonic() + wait_seconds
        while _status(db, name) != "ACTIVE":
            if time.monotonic() > deadline:
                raise TimeoutError(f"table {name!r} is not ACTIVE after {wait_seconds} s")
            time.sleep(1)


def _status(db: DynamoDb, table_name: str) -> Any:
    return db.client.describe_table(TableName=table_name)["Table"]["TableStatus"]
