"""The DynamoDB tables: catalog and readings (``docs/storage.md``, keys from
``meterbill.adapters.dynamodb.schema``) and the powertools idempotency table.

All on-demand (nothing billed at rest but storage), point-in-time recovery on (35 days), AWS-owned
encryption (free), deletion protection and RETAIN in prod. The readings table streams new and old images: the
coming rollup and alert functions react to readings as they arrive. Idempotency records and the
catalog's console sessions expire by TTL.
"""

from __future__ import annotations

from typing import Any, Final

from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from infra.cdk.stages import StageConfig
from meterbill.adapters.dynamodb import schema

# powertools' DynamoDBPersistenceLayer defaults: partition key ``id``, expiry timestamp ``expiration``.
IDEMPOTENCY_PARTITION_KEY: Final = "id"
IDEMPOTENCY_TTL_ATTRIBUTE: Final = "expiration"


class Storage(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, stage: StageConfig) -> None:
        super().__init__(scope, construct_id)
        self.catalog = self._table(
            "CatalogTable",
            stage,
            schema.catalog_table_definition(stage.resource_name("catalog")),
            time_to_live_attribute=schema.CATALOG_TTL_ATTRIBUTE,  # console sessions expire
        )
        self.readings = self._table(
            "ReadingsTable",
            stage,
            schema.readings_table_definition(stage.resource_name("readings")),
            stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
        )
        self.idempotency = self._table(
            "IdempotencyTable",
            stage,
            {
                "TableName": stage.resource_name("idempotency"),
                "KeySchema": [{"AttributeName": IDEMPOTENCY_PARTITION_KEY, "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": IDEMPOTENCY_PARTITION_KEY, "AttributeType": "S"}],
            },
            time_to_live_attribute=IDEMPOTENCY_TTL_ATTRIBUTE,
        )

    def _table(
        self,
        construct_id: str,
        stage: StageConfig,
        definition: dict[str, Any],
        *,
        stream: dynamodb.StreamViewType | None = None,
        time_to_live_attribute: str | None = None,
    ) -> dynamodb.Table:
        """A table from its DynamoDB definition (``DescribeTable``'s shape, as ``schema`` writes it)."""
        table = dynamodb.Table(
            self,
            construct_id,
            table_name=str(definition["TableName"]),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            partition_key=_key(definition, definition["KeySchema"], "HASH"),
            sort_key=_key(definition, definition["KeySchema"], "RANGE"),
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True, recovery_period_in_days=35
            ),
            deletion_protection=stage.table_deletion_protection,
            removal_policy=stage.removal_policy,
            stream=stream,
            time_to_live_attribute=time_to_live_attribute,
        )
        for index in definition.get("GlobalSecondaryIndexes", []):
            if index["Projection"]["ProjectionType"] != "ALL":
                raise ValueError(f"index {index['IndexName']}: only ALL projections are built here")
            table.add_global_secondary_index(
                index_name=index["IndexName"],
                partition_key=_key(definition, index["KeySchema"], "HASH"),
                sort_key=_key(definition, index["KeySchema"], "RANGE"),
            )
        return table


def _key(
    definition: dict[str, Any], key_schema: list[dict[str, str]], key_type: str
) -> dynamodb.Attribute | None:
    """The key of ``key_type`` (HASH, RANGE) in a key schema, typed as the definition's attributes are."""
    types = {a["AttributeName"]: a["AttributeType"] for a in definition["AttributeDefinitions"]}
    names = [key["AttributeName"] for key in key_schema if key["KeyType"] == key_type]
    return dynamodb.Attribute(name=names[0], type=_ATTRIBUTE_TYPES[types[names[0]]]) if names else None


_ATTRIBUTE_TYPES: Final = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}
