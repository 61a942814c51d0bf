"""The tables of docs/storage.md and the idempotency table: keys, billing, recovery, protection, expiry."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Match, Template

from tests.infra.templates import table, table_resource

TAGS = {"dev": [{"Key": "project", "Value": "meterbill"}, {"Key": "stage", "Value": "dev"}]}
PITR_35_DAYS = {"PointInTimeRecoveryEnabled": True, "RecoveryPeriodInDays": 35}


def test_the_catalog_table_has_the_keys_and_the_indexes_of_the_storage_schema(
    dev: dict[str, Any],
) -> None:
    assert table(dev, "meterbill-dev-catalog") == {
        "TableName": "meterbill-dev-catalog",
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        "AttributeDefinitions": [
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "account_pk", "AttributeType": "S"},
            {"AttributeName": "account_sk", "AttributeType": "S"},
            {"AttributeName": "issued_pk", "AttributeType": "S"},
            {"AttributeName": "issued_sk", "AttributeType": "S"},
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": "api-keys-by-account",
                "KeySchema": [
                    {"AttributeName": "account_pk", "KeyType": "HASH"},
                    {"AttributeName": "account_sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
            {  # the documents issued in a month (the accounting export), sparse
                "IndexName": "invoices-by-issue-month",
                "KeySchema": [
                    {"AttributeName": "issued_pk", "KeyType": "HASH"},
                    {"AttributeName": "issued_sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
        ],
        "PointInTimeRecoverySpecification": PITR_35_DAYS,
        "TimeToLiveSpecification": {"AttributeName": "ttl", "Enabled": True},  # console sessions
        "DeletionProtectionEnabled": False,
        "Tags": TAGS["dev"],
    }


def test_the_readings_table_is_keyed_by_series_and_bucket_and_streams_old_and_new_images(
    dev: dict[str, Any],
) -> None:
    assert table(dev, "meterbill-dev-readings") == {
        "TableName": "meterbill-dev-readings",
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [
            {"AttributeName": "series", "KeyType": "HASH"},
            {"AttributeName": "bucket", "KeyType": "RANGE"},
        ],
        "AttributeDefinitions": [
            {"AttributeName": "series", "AttributeType": "S"},
            {"AttributeName": "bucket", "AttributeType": "S"},
        ],
        "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
        "PointInTimeRecoverySpecification": PITR_35_DAYS,
        "DeletionProtectionEnabled": False,
        "Tags": TAGS["dev"],
    }


def test_the_idempotency_table_has_powertools_key_id_and_expires_records_by_ttl(dev: dict[str, Any]) -> None:
    assert table(dev, "meterbill-dev-idempotency") == {
        "TableName": "meterbill-dev-idempotency",
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
        "TimeToLiveSpecification": {"AttributeName": "expiration", "Enabled": True},
        "PointInTimeRecoverySpecification": PITR_35_DAYS,
        "DeletionProtectionEnabled": False,
        "Tags": TAGS["dev"],
    }


def test_there_are_exactly_three_tables_in_each_stage(dev: dict[str, Any], prod: dict[str, Any]) -> None:
    Template.from_json(dev).resource_count_is("AWS::DynamoDB::Table", 3)
    Template.from_json(prod).resource_count_is("AWS::DynamoDB::Table", 3)


def test_prod_tables_are_protected_from_deletion_and_retained(prod: dict[str, Any]) -> None:
    for name in ("meterbill-prod-catalog", "meterbill-prod-readings", "meterbill-prod-idempotency"):
        resource = table_resource(prod, name)
        assert (
            resource["Properties"]["DeletionProtectionEnabled"],
            resource["Properties"]["PointInTimeRecoverySpecification"],
            resource["DeletionPolicy"],
            resource["UpdateReplacePolicy"],
        ) == (True, PITR_35_DAYS, "Retain", "Retain"), name


def test_dev_tables_go_with_the_stack(dev: dict[str, Any]) -> None:
    Template.from_json(dev).all_resources(
        "AWS::DynamoDB::Table",
        {
            "DeletionPolicy": "Delete",
            "UpdateReplacePolicy": "Delete",
            "Properties": Match.object_like({"DeletionProtectionEnabled": False}),
        },
    )
