"""``meterbill accounts create NAME``: an account in the tables the environment names, its first admin key
printed once. Here the tables are the local platform's, which has set the environment as ``meterbill serve``
tells a person to."""

from __future__ import annotations

import re

import boto3
import pytest
import requests

from local.serve import LocalPlatform
from meterbill.cli import main
from meterbill.services import billrun

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")


def test_an_account_created_on_the_command_line_is_served_with_the_printed_key(
    platform: LocalPlatform, capsys: pytest.CaptureFixture[str]
) -> None:
    exit_code = main(["accounts", "create", "Acme Facilities"])

    printed = capsys.readouterr()
    account_line, key_line = printed.out.splitlines()
    account_id = re.fullmatch(r"account:   (acc_[0-9a-f]{16})", account_line)
    key = re.fullmatch(r"admin key: (mb_[0-9a-f]{16}_[A-Za-z0-9_-]{43})", key_line)
    assert (exit_code, printed.err) == (
        0,
        "meterbill accounts: the admin key is shown this once; keep it safe\n",
    )
    assert account_id is not None and key is not None
    assert platform.stores.accounts.get(account_id.group(1)).name == "Acme Facilities"
    keys = requests.get(
        f"{platform.url}/v1/api-keys", headers={"Authorization": f"Bearer {key.group(1)}"}, timeout=10
    )
    assert [(item["name"], item["scopes"]) for item in keys.json()["items"]] == [
        ("first admin key", ["admin"])
    ]


def test_without_aws_it_needs_a_local_server(
    platform: LocalPlatform, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DYNAMODB_ENDPOINT_URL")

    exit_code = main(["accounts", "create", "Acme"])

    assert (exit_code, capsys.readouterr().err) == (
        2,
        "meterbill accounts: DYNAMODB_ENDPOINT_URL is not set: start meterbill serve and export the "
        "variables it prints, or pass --aws to create the account in the AWS tables the environment names\n",
    )


def test_with_aws_it_refuses_a_local_endpoint(
    platform: LocalPlatform, capsys: pytest.CaptureFixture[str]
) -> None:
    exit_code = main(["accounts", "create", "Acme", "--aws"])

    assert (exit_code, capsys.readouterr().err) == (
        2,
        f"meterbill accounts: --aws: DYNAMODB_ENDPOINT_URL is set ({platform.settings.storage.endpoint_url});"
        " unset it to use the AWS tables\n",
    )


def test_an_empty_name_is_refused(platform: LocalPlatform, capsys: pytest.CaptureFixture[str]) -> None:
    exit_code = main(["accounts", "create", " "])

    assert (exit_code, capsys.readouterr().err) == (2, "meterbill accounts: NAME ' ': must not be empty\n")


def test_migrate_accounts_listing_lists_an_account_written_before_the_listing_once(
    platform: LocalPlatform, capsys: pytest.CaptureFixture[str]
) -> None:
    storage = platform.settings.storage
    client = boto3.client("dynamodb", endpoint_url=storage.endpoint_url, region_name=storage.region)
    client.put_item(  # as the code before the account listing wrote an account item
        TableName=storage.catalog_table,
        Item={
            "pk": {"S": "account#before-listing"},
            "sk": {"S": "account"},
            "name": {"S": "Before"},
            "created_at": {"S": "2025-11-03T08:00:00.000000+0000"},
            "settings": {"S": "{}"},
        },
    )

    first = main(["migrate", "accounts-listing"])
    first_out = capsys.readouterr().out
    again = main(["migrate", "accounts-listing"])

    assert (first, first_out, again, capsys.readouterr().out) == (
        0,
        "accounts-listing: 1 item fixed\n",
        0,
        "accounts-listing: 0 items fixed\n",
    )
    assert "before-listing" in {a.account_id for a in billrun.accounts(platform.stores)}
