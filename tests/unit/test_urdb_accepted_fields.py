"""URDB charges left out knowingly (issue 8, item 12): PG&E E-19's power-factor adjustment
(``demandattrs[0]``) is refused by default; naming it on the command line (``--accept-urdb-field``) or in the
API's tariff import (``?accept_urdb_field=``) imports the rate, and the tariff records the accepted fields."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from meterbill.cli import main
from meterbill.errors import InvalidInputError
from meterbill.services import catalog
from tests.fakes import FakeCatalogStore, FakeStores
from tests.unit.api_support import (
    ACCOUNT,
    ApiClient,
    LambdaContextStub,
    answer_of,
    authorizer_context,
    handler_client,
    problem,
    proxy_event,
)

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")

E19 = Path(__file__).parents[1] / "data" / "urdb" / "pge_e19_secondary.json"
E19_LABEL = "5cef0a415457a33576f60fe2"
POWER_FACTOR = "demandattrs[0]"
REFUSAL = (
    "'Power-Factor-Adjustment-Rate-$' = '0.00005' may be a charge or a condition that cannot be applied "
    "(only period labels are imported); if it does not apply, leave it out "
    "knowingly with --accept-urdb-field 'demandattrs[0]' (API: accept_urdb_field=demandattrs[0])"
)


def e19() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(E19.read_text(encoding="utf-8"))
    return document


# The command line


def rate_july_2018(capsys: pytest.CaptureFixture[str], tmp_path: Path, *options: str) -> tuple[int, str, str]:
    usage = tmp_path / "usage.csv"
    usage.write_text(
        "start,value\n2018-07-01T00:00:00-07:00,0\n2018-07-01T01:00:00-07:00,0\n", encoding="utf-8"
    )
    argv = [
        "rate",
        "--tariff",
        str(E19),
        "--usage",
        str(usage),
        "--start",
        "2018-07-01",
        "--end",
        "2018-08-01",
    ]
    exit_code = main([*argv, "--tz", "America/Los_Angeles", *options])
    out, err = capsys.readouterr()
    return exit_code, out, err


def test_the_cli_refuses_e19_unless_its_power_factor_adjustment_is_accepted(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert rate_july_2018(capsys, tmp_path) == (2, "", f"meterbill rate: {E19}: {POWER_FACTOR}: {REFUSAL}\n")


def test_the_cli_rates_e19_with_its_power_factor_adjustment_accepted(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    exit_code, out, err = rate_july_2018(capsys, tmp_path, "--accept-urdb-field", POWER_FACTOR)

    assert (exit_code, err) == (0, "")
    (bill,) = json.loads(out)["bills"]
    # No usage: only the daily fixed charge, 31 x 19.71253 = 611.08843.
    assert (bill["tariff"]["id"], bill["total"]) == (E19_LABEL, "611.09")


@pytest.mark.parametrize(
    ("accepted", "reason"),
    [
        (
            ["demandattrs[0]", "demandattrs[9]"],
            "'demandattrs[9]' is not a charge of this rate that can be ignored",
        ),
        (
            ["demandattrs[0]", "energyratestructure"],
            "'energyratestructure' is not a charge of this rate that can be ignored",
        ),
    ],
)
def test_the_cli_refuses_to_accept_a_field_that_is_no_separable_charge_of_the_rate(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, accepted: list[str], reason: str
) -> None:
    options = [option for field in accepted for option in ("--accept-urdb-field", field)]

    assert rate_july_2018(capsys, tmp_path, *options) == (
        2,
        "",
        f"meterbill rate: {E19}: accept_urdb_field: {reason}\n",
    )


def test_the_cli_refuses_accepted_urdb_fields_for_a_native_tariff(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    native = tmp_path / "tariff.json"
    native.write_text(json.dumps({"id": "t", "name": "T", "fixed": [{"amount": "1"}]}), encoding="utf-8")
    usage = tmp_path / "usage.csv"
    usage.write_text("start,value\n2018-07-01T00:00:00Z,0\n2018-07-01T01:00:00Z,0\n", encoding="utf-8")
    argv = [
        "rate",
        "--tariff",
        str(native),
        "--usage",
        str(usage),
        "--start",
        "2018-07-01",
        "--end",
        "2018-08-01",
    ]

    exit_code = main([*argv, "--accept-urdb-field", POWER_FACTOR])

    out, err = capsys.readouterr()
    assert (exit_code, out, err) == (
        2,
        "",
        f"meterbill rate: {native}: accept_urdb_field: fields can only be accepted for a URDB rate; "
        "this is a native tariff\n",
    )


# The catalog service


def test_the_catalog_refuses_e19_by_default_naming_the_field() -> None:
    store = FakeCatalogStore()

    with pytest.raises(InvalidInputError) as refused:
        catalog.create_tariff("acc-a", e19(), store)

    assert (refused.value.field, refused.value.reason) == (POWER_FACTOR, REFUSAL)
    assert store.items == {}


def test_the_catalog_stores_e19_with_the_accepted_field_recorded() -> None:
    store = FakeCatalogStore()

    entry = catalog.create_tariff("acc-a", e19(), store, accept_urdb_fields=[POWER_FACTOR])

    assert (entry.value.id, entry.value.accepted_urdb_fields) == (E19_LABEL, [POWER_FACTOR])
    stored = store.items[("acc-a", "tariff", f"{E19_LABEL}@000001")].body
    assert (stored["source"], stored["accepted_urdb_fields"]) == (f"urdb:{E19_LABEL}", [POWER_FACTOR])


def test_a_new_version_of_e19_records_its_own_accepted_fields() -> None:
    store = FakeCatalogStore()
    catalog.create_tariff("acc-a", e19(), store, tariff_id="e19", accept_urdb_fields=[POWER_FACTOR])
    later = {**e19(), "startdate": "2020-03-01 00:00:00"}

    with pytest.raises(InvalidInputError) as refused:
        catalog.new_tariff_version("acc-a", "e19", later, store)
    entry = catalog.new_tariff_version("acc-a", "e19", later, store, accept_urdb_fields=[POWER_FACTOR])

    assert refused.value.field == POWER_FACTOR
    assert (entry.value.version, entry.value.accepted_urdb_fields) == (2, [POWER_FACTOR])


def test_the_catalog_refuses_accepted_fields_for_a_native_tariff() -> None:
    native = {"id": "t", "name": "T", "fixed": [{"amount": "1"}]}

    with pytest.raises(InvalidInputError) as refused:
        catalog.create_tariff("acc-a", native, FakeCatalogStore(), accept_urdb_fields=[POWER_FACTOR])

    assert (refused.value.field, refused.value.reason) == (
        "accept_urdb_field",
        "fields can only be accepted for a URDB rate; this is a native tariff",
    )


# The API


@pytest.fixture
def api(fakes: FakeStores) -> ApiClient:
    return handler_client()


def test_the_api_refuses_e19_by_default_with_422_naming_the_field(api: ApiClient, fakes: FakeStores) -> None:
    answer = api.post("/v1/tariffs", e19())

    assert answer.json == problem(422, f"{POWER_FACTOR}: {REFUSAL}", (POWER_FACTOR, REFUSAL))
    assert fakes.catalog.items == {}


def test_the_api_imports_e19_with_the_accepted_field_and_shows_it_on_the_tariff(
    api: ApiClient, fakes: FakeStores
) -> None:
    created = api.request("POST", "/v1/tariffs", json_body=e19(), query={"accept_urdb_field": POWER_FACTOR})
    read = api.get(f"/v1/tariffs/{E19_LABEL}")

    assert (created.status, created.json["accepted_urdb_fields"]) == (201, [POWER_FACTOR])
    assert (read.status, read.json["source"], read.json["accepted_urdb_fields"]) == (
        200,
        f"urdb:{E19_LABEL}",
        [POWER_FACTOR],
    )


def test_the_api_takes_the_accepted_field_parameter_repeated(fakes: FakeStores) -> None:
    from functions.ingest.ingest_handler import lambda_handler

    event = proxy_event(
        "POST",
        "/v1/tariffs",
        body=json.dumps(e19()),
        headers={"Content-Type": "application/json"},
        query={"accept_urdb_field": POWER_FACTOR},
        authorizer=authorizer_context(ACCOUNT, "admin"),
    )
    event["multiValueQueryStringParameters"] = {"accept_urdb_field": [POWER_FACTOR, "demandattrs[9]"]}

    answer = answer_of(lambda_handler(event, LambdaContextStub()))

    reason = "'demandattrs[9]' is not a charge of this rate that can be ignored"
    assert answer.json == problem(422, f"accept_urdb_field: {reason}", ("accept_urdb_field", reason))
    assert fakes.catalog.items == {}
