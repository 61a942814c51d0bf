"""The rating functions' ports from their settings: the DynamoDB stores and, if a queue is configured, SQS.
Nothing connects here: the clients are created by the first call that needs them."""

from __future__ import annotations

from meterbill.adapters.dynamodb import DynamoDb, stores_on
from meterbill.adapters.dynamodb.metering import DynamoDbMeteringStore
from meterbill.adapters.sqs import SqsWorkQueue
from meterbill.ports import RatingStores, WorkQueue
from meterbill.settings import RateSettings


def rating_stores(db: DynamoDb) -> RatingStores:
    stores = stores_on(db)
    return RatingStores(
        readings=stores.readings,
        catalog=stores.catalog,
        metering=DynamoDbMeteringStore(db),
        accounts=stores.accounts,
        invoices=stores.invoices,
    )


def build_rating(settings: RateSettings) -> tuple[RatingStores, WorkQueue | None]:
    queue = None
    if settings.queue_url is not None:
        queue = SqsWorkQueue(
            settings.queue_url, region=settings.storage.region, endpoint_url=settings.sqs_endpoint_url
        )
    return rating_stores(DynamoDb(settings.storage)), queue
