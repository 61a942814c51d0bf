"""Tariffs over HTTP: version 1 from a native document or a URDB rate, later versions effective from a date
(If-Match: the latest version's ETag), every version readable, listing by latest version."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.fakes import FakeStores
from tests.unit.api_support import (
    ACCOUNT,
    OTHER_ACCOUNT,
    ApiClient,
    handler_client,
    problem,
)

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")

URDB = Path(__file__).parents[1] / "data" / "urdb"
NOW = "2026-03-01T12:00:00Z"


@pytest.fixture
def api(fakes: FakeStores) -> ApiClient:
    return handler_client()


def flat(rate: str | float, **fields: Any) -> dict[str, Any]:
    return {
        "id": "flat",
        "name": "Flat",
        "energy": {"periods": [{"name": "all", "tiers": [{"rate": rate}]}]},
        **fields,
    }


def flat_record(rate: str, etag: str, version: int = 1, effective_from: str | None = None) -> dict[str, Any]:
    """A flat tariff as the API answers it: every field with its default, then the ETag and the times."""
    return {
        "id": "flat",
        "name": "Flat",
        "version": version,
        "effective_from": effective_from,
        "effective_to": None,
        "currency": "EUR",
        "unit": "kWh",
        "seasons": [],
        "variables": {},
        "holidays_as_weekends": True,
        "fixed": [],
        "energy": {
            "periods": [{"name": "all", "tiers": [{"size": None, "rate": rate}]}],
            "time_of_use": None,
            "tier_mode": "graduated",
            "tier_scope": "period",
            "prorate_tiers": True,
        },
        "demand": None,
        "packages": [],
        "shared": None,
        "minimum": None,
        "savings": None,
        "adjustments": [],
        "taxes": [],
        "source": None,
        "accepted_urdb_fields": [],
        "etag": etag,
        "created_at": NOW,
        "updated_at": NOW,
    }


def etag_of(fakes: FakeStores, version: int = 1) -> str:
    return fakes.catalog.items[(ACCOUNT, "tariff", f"flat@{version:06d}")].etag


def test_a_new_tariff_is_version_1_with_its_rates_exact(api, fakes):
    answer = api.request("POST", "/v1/tariffs", body=json.dumps(flat("X")).replace('"X"', "0.30"))

    assert answer.status == 201
    assert answer.headers["location"] == "/v1/tariffs/flat"
    assert answer.headers["etag"] == f'"{etag_of(fakes)}"'
    assert answer.json == flat_record("0.30", etag_of(fakes))
    assert list(fakes.catalog.items) == [(ACCOUNT, "tariff", "flat@000001")]


def test_a_urdb_rate_is_stored_under_its_label_or_the_id_given(api, fakes):
    document = json.loads((URDB / "aps_et2_tou.json").read_text())

    by_label = api.post("/v1/tariffs", document)
    by_choice = api.request("POST", "/v1/tariffs", json_body=document, query={"id": "aps-et2"})

    assert (by_label.status, by_label.json["id"], by_label.json["effective_from"]) == (
        201,
        "574613aa5457a3557e906f5b",
        "2016-05-03",
    )
    assert (by_choice.json["id"], by_choice.json["source"]) == ("aps-et2", "urdb:574613aa5457a3557e906f5b")


def test_a_tariff_is_created_once(api, fakes):
    api.post("/v1/tariffs", flat("0.30"))

    answer = api.post("/v1/tariffs", flat("0.31"))

    assert answer.json == problem(
        409, "id: tariff 'flat' already exists", ("id", "tariff 'flat' already exists")
    )


@pytest.mark.parametrize(
    ("document", "error"),
    [
        (flat("NaN"), ("energy.periods[0].tiers[0].rate", "NaN is not a finite number")),
        (flat("0.3", version=2), ("version", "versions are numbered by meterbill: this would be version 1")),
        (flat("0.3", tiers=[]), ("tiers", "unknown field")),
    ],
)
def test_a_document_that_is_no_tariff_answers_422_naming_the_field(api, fakes, document, error):
    answer = api.post("/v1/tariffs", document)

    assert answer.json == problem(422, f"{error[0]}: {error[1]}", error)
    assert fakes.catalog.items == {}


def test_a_new_version_takes_effect_from_a_date_and_leaves_the_old_one(api, fakes):
    api.post("/v1/tariffs", flat("0.30"))

    answer = api.request(
        "POST",
        "/v1/tariffs/flat/versions",
        json_body=flat("0.35"),
        query={"effective_from": "2026-04-01"},
        headers={"If-Match": f'"{etag_of(fakes)}"'},
    )

    assert answer.status == 201
    assert answer.headers["location"] == "/v1/tariffs/flat/versions/2"
    assert answer.json == flat_record("0.35", etag_of(fakes, 2), version=2, effective_from="2026-04-01")
    assert api.get("/v1/tariffs/flat").json["version"] == 2
    assert api.get("/v1/tariffs/flat/versions/1").json == flat_record("0.30", etag_of(fakes))
    assert [v["version"] for v in api.get("/v1/tariffs/flat/versions").json["items"]] == [1, 2]


def test_a_new_version_based_on_a_stale_etag_answers_412(api, fakes):
    api.post("/v1/tariffs", flat("0.30"))

    answer = api.request(
        "POST",
        "/v1/tariffs/flat/versions",
        json_body=flat("0.35"),
        query={"effective_from": "2026-04-01"},
        headers={"If-Match": '"stale"'},
    )

    reason = "is not the current ETag of tariff 'flat'; read it again"
    assert answer.json == problem(412, f"If-Match: {reason}", ("If-Match", reason))
    assert list(fakes.catalog.items) == [(ACCOUNT, "tariff", "flat@000001")]


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ({}, ("effective_from", "a new version needs the date it takes effect")),
        (
            {"effective_from": "01.04.2026"},
            ("effective_from", "'01.04.2026' is not a date written YYYY-MM-DD"),
        ),
    ],
)
def test_a_new_version_without_a_valid_start_answers_422(api, fakes, query, error):
    api.post("/v1/tariffs", flat("0.30"))

    answer = api.request("POST", "/v1/tariffs/flat/versions", json_body=flat("0.35"), query=query)

    assert answer.json == problem(422, f"{error[0]}: {error[1]}", error)


def test_the_list_shows_each_tariff_once_as_its_latest_version(api, fakes):
    api.post("/v1/tariffs", flat("0.30"))
    api.request(
        "POST", "/v1/tariffs/flat/versions", json_body=flat("0.35"), query={"effective_from": "2026-04-01"}
    )
    api.post("/v1/tariffs", {**flat("0.20"), "id": "night"})

    answer = api.get("/v1/tariffs")

    assert [(t["id"], t["version"]) for t in answer.json["items"]] == [("flat", 2), ("night", 1)]
    assert answer.json["next_cursor"] is None


def test_deleting_a_tariff_deletes_every_version(api, fakes):
    api.post("/v1/tariffs", flat("0.30"))
    api.request(
        "POST", "/v1/tariffs/flat/versions", json_body=flat("0.35"), query={"effective_from": "2026-04-01"}
    )

    answer = api.delete("/v1/tariffs/flat", headers={"If-Match": f'"{etag_of(fakes, 2)}"'})

    assert answer.status == 204
    assert fakes.catalog.items == {}


@pytest.mark.parametrize(
    "path", ["/v1/tariffs/flat", "/v1/tariffs/flat/versions", "/v1/tariffs/flat/versions/1"]
)
def test_another_accounts_tariff_is_not_found(api, fakes, path):
    api.post("/v1/tariffs", flat("0.30"))

    answer = api.as_key(OTHER_ACCOUNT, "read").get(path)

    assert answer.status == 404
    assert answer.json["detail"] in ("tariff 'flat' not found", "tariff version 'flat@1' not found")


def test_a_version_that_is_not_a_number_answers_422(api, fakes):
    answer = api.get("/v1/tariffs/flat/versions/first")

    reason = "Input should be a valid integer, unable to parse string as an integer"
    assert answer.json == problem(422, f"version: {reason}", ("version", reason))
