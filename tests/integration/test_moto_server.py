"""local/moto_server.py: the local platform's moto answers exactly as moto does, faster."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest
from moto import mock_aws

from local import moto_server

REGION = "eu-central-1"
TABLE = "t"


@pytest.fixture
def client() -> Iterator[Any]:
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(
            TableName=TABLE,
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
                {"AttributeName": "g", "AttributeType": "S"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "by-g",
                    "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        for p in range(4):
            for s in (5, 1, 3, 2, 4):  # put out of order: answers come sorted all the same
                dynamodb.put_item(TableName=TABLE, Item=_item(f"p{p}", f"s{s}", p * 10 + s))
        yield dynamodb


def _item(pk: str, sk: str, n: int) -> dict[str, Any]:
    """Every kind of attribute value, nested too."""
    return {
        "pk": {"S": pk},
        "sk": {"S": sk},
        "g": {"S": f"g{n % 3}"},
        "n": {"N": f"{n}.50"},
        "s": {"S": f"text {n} €"},
        "b": {"B": base64.b64encode(bytes([n, 0, 255]))},
        "ok": {"BOOL": n % 2 == 0},
        "none": {"NULL": True},
        "ss": {"SS": [f"a{n}", "b"]},
        "ns": {"NS": [str(n), "1.25"]},
        "bs": {"BS": [bytes([n]), b"x"]},
        "m": {"M": {"x": {"N": "1"}, "y": {"L": [{"S": "z"}, {"N": "2.0"}, {"BOOL": False}]}}},
        "l": {"L": [{"M": {"k": {"S": "v"}}}, {"NULL": True}]},
    }


def _requests(dynamodb: Any) -> list[Callable[[], Any]]:
    def query(**extra: Any) -> Callable[[], Any]:
        return lambda: dynamodb.query(TableName=TABLE, **extra)

    key = {":p": {"S": "p2"}}
    return [
        query(KeyConditionExpression="pk = :p", ExpressionAttributeValues=key),
        query(KeyConditionExpression="pk = :p", ExpressionAttributeValues=key, ConsistentRead=True),
        query(
            KeyConditionExpression="pk = :p AND sk BETWEEN :a AND :b",
            ExpressionAttributeValues={**key, ":a": {"S": "s2"}, ":b": {"S": "s4"}},
        ),
        query(
            KeyConditionExpression="pk = :p AND begins_with(sk, :a)",
            ExpressionAttributeValues={**key, ":a": {"S": "s"}},
            ScanIndexForward=False,
            Limit=2,
        ),
        query(
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues=key,
            ExclusiveStartKey={"pk": {"S": "p2"}, "sk": {"S": "s2"}},
            Limit=2,
        ),
        query(
            KeyConditionExpression="pk = :p",
            FilterExpression="ok = :t",
            ExpressionAttributeValues={**key, ":t": {"BOOL": True}},
        ),
        query(KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "nobody"}}),
        query(
            IndexName="by-g", KeyConditionExpression="g = :g", ExpressionAttributeValues={":g": {"S": "g1"}}
        ),
        lambda: dynamodb.put_item(TableName=TABLE, Item=_item("p9", "s1", 91), ReturnValues="ALL_OLD"),
        lambda: dynamodb.update_item(
            TableName=TABLE,
            Key={"pk": {"S": "p9"}, "sk": {"S": "s1"}},
            UpdateExpression="SET n = :n, m.x = :n",
            ExpressionAttributeValues={":n": {"N": "7"}},
            ReturnValues="ALL_NEW",
        ),
        lambda: dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "p1"}, "sk": {"S": "s3"}}),
        lambda: dynamodb.scan(TableName=TABLE),
        lambda: dynamodb.batch_get_item(
            RequestItems={
                TABLE: {
                    "Keys": [{"pk": {"S": "p0"}, "sk": {"S": "s1"}}, {"pk": {"S": "p3"}, "sk": {"S": "s5"}}]
                }
            }
        ),
    ]


def _answers(dynamodb: Any) -> list[Any]:
    dynamodb.delete_item(TableName=TABLE, Key={"pk": {"S": "p9"}, "sk": {"S": "s1"}})  # the put's, before
    answers = []
    for request in _requests(dynamodb):
        answer = request()
        answer.pop("ResponseMetadata")
        answers.append(answer)
    return answers


def test_the_answers_are_moto_s_own(client: Any) -> None:
    plain = _answers(client)
    with moto_server.installed():
        fast = _answers(client)
    assert fast == plain
    counts = [len(a.get("Items", a.get("Responses", {}).get(TABLE, [None]))) for a in plain]
    # a page of 2 after s2; the even n of p2 (22, 24); n % 3 == 1: 1, 4, 13, 22, 25, 31, 34; p9 put
    assert counts == [5, 5, 3, 2, 2, 2, 0, 7, 1, 1, 1, 21, 2]


def test_a_query_on_the_table_s_key_reads_only_its_partition(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole_table: list[str] = []
    original = moto_server._original_all_items

    def counted(table: Any) -> Any:
        whole_table.append(table.name)
        return original(table)

    monkeypatch.setattr(moto_server, "_original_all_items", counted)
    with moto_server.installed():
        client.query(
            TableName=TABLE, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p2"}}
        )
        assert whole_table == []
        client.query(
            TableName=TABLE,
            IndexName="by-g",
            KeyConditionExpression="g = :g",
            ExpressionAttributeValues={":g": {"S": "g1"}},
        )
        client.scan(TableName=TABLE)
    assert whole_table == [TABLE, TABLE]  # an index's Query and a Scan read the whole table, as before


@pytest.mark.parametrize("size", [405_000 - 10, 405_000 - 9])
def test_an_item_is_refused_at_moto_s_own_limit(client: Any, size: int) -> None:
    """moto's limit: the bytes of the names and values of the item's attributes over 405,000 (the key,
    pk "p" and sk "s", takes 2 + 1 + 2 + 1 = 6 bytes, "blob" 4, so the text may have 405,000 - 10)."""
    item = {"pk": {"S": "p"}, "sk": {"S": "s"}, "blob": {"S": "x" * size}}

    def outcome() -> str:
        try:
            client.put_item(TableName=TABLE, Item=item)
        except client.exceptions.ClientError as error:
            return str(error.response["Error"])
        return "stored"

    plain = outcome()
    client.delete_item(TableName=TABLE, Key={"pk": {"S": "p"}, "sk": {"S": "s"}})
    with moto_server.installed():
        fast = outcome()
    assert fast == plain
    assert (plain == "stored") == (size == 405_000 - 10)
