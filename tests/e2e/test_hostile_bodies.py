"""The hostile bodies of tests/hostile.py that only real storage can judge, over HTTP to the local platform
(moto's DynamoDB behind the local API Gateway): a 450 kB text and a list of 60,000 in every field of every
operation with a body, where a value that passed the schemas would outgrow DynamoDB's 400 KB item and come
back as a 503 "retry later". Each is a 4xx problem document naming the field and writes nothing; a hostile
reading is rejected alone and its neighbours are stored. (tests/unit/test_api_hostile_bodies.py sends every
other hostile value to the handler.)"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from local.serve import LocalPlatform
from tests.hostile import (
    BY_LABEL,
    OWN_TESTS,
    WORLD,
    field_cases,
    hostile_reading_is_rejected_alone,
    hostile_value_is_refused,
    operations_with_a_body,
    reading_cases,
)

pytestmark = [pytest.mark.filterwarnings("ignore:No application metrics"), pytest.mark.slow]

STORAGE_SIZED = ("oversized", "long-list")


class HttpAnswer:
    def __init__(self, response: requests.Response) -> None:
        self.status = response.status_code
        self.content_type = response.headers.get("Content-Type", "")
        self._response = response

    def document(self) -> Any:
        return self._response.json()


class HttpClient:
    def __init__(self, base_url: str, key: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"

    def send(self, method: str, path: str, text: str | None = None) -> HttpAnswer:
        headers = {"Content-Type": "application/json"} if text is not None else {}
        data = text.encode() if text is not None else None
        url = f"{self.base_url}{path}"
        return HttpAnswer(self.session.request(method, url, data=data, headers=headers, timeout=60))


@pytest.fixture(scope="module")
def client(platform: LocalPlatform) -> HttpClient:
    http = HttpClient(platform.url, platform.create_account("Hostile bodies").admin_key)
    for path, body in WORLD:
        assert http.session.post(f"{http.base_url}{path}", json=body, timeout=60).status_code == 201
    return http


def test_every_operation_with_a_body_is_fuzzed() -> None:
    files = {"POST /v1/imports", "PUT /v1/settings/logo"}  # file bodies: their own tests
    assert operations_with_a_body() == {*BY_LABEL, "POST /v1/readings", *files, *OWN_TESTS}


@pytest.mark.parametrize(("label", "path", "variant"), list(field_cases(STORAGE_SIZED, dates=False)))
def test_an_oversized_value_is_refused_naming_its_field_and_writes_nothing(
    client: HttpClient, label: str, path: tuple[str | int, ...], variant: str, request: pytest.FixtureRequest
) -> None:
    hostile_value_is_refused(client, label, path, variant, request.node.name)


@pytest.mark.parametrize(("field", "variant"), list(reading_cases(STORAGE_SIZED, dates=True)))
def test_an_oversized_reading_is_rejected_alone_and_its_neighbours_are_stored(
    client: HttpClient, field: str, variant: str, request: pytest.FixtureRequest
) -> None:
    hostile_reading_is_rejected_alone(client, field, variant, request.node.name)


def test_an_oversized_import_is_refused_as_too_large(client: HttpClient) -> None:
    text = "start,value\n" + "2026-02-01T00:00:00+01:00,1.5\n" * 200_000  # ~6 MB: over 5,000,000 bytes
    url = f"{client.base_url}/v1/imports?format=csv&meter_id=mtr-1"

    answer = client.session.post(url, data=text.encode(), headers={"Content-Type": "text/csv"}, timeout=60)

    assert (answer.status_code, answer.headers["Content-Type"]) == (413, "application/problem+json")
    assert (
        answer.json()["detail"] == f"the request body has {len(text)} bytes; this route takes at most 5000000"
    )
