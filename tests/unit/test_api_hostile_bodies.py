"""Hostile values in every field of every request body the OpenAPI document describes (tests/hostile.py): a
450 kB text, a list of 60,000, a value nested 100 deep, NaN and -Infinity, 1e400, dates out of the calendar.
Each is a 4xx problem document naming the field, and the request writes nothing; in a batch of readings the
hostile reading is rejected alone, naming the field, and its neighbours are stored."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.hostile import (
    BY_LABEL,
    OWN_TESTS,
    PROBLEM_JSON,
    VALUES,
    WORLD,
    field_cases,
    hostile_reading_is_rejected_alone,
    hostile_value_is_refused,
    names_the_field,
    operations_with_a_body,
    reading_cases,
    with_hostile,
)
from tests.unit.api_support import ApiClient, HttpAnswer, fake_backend, handler_client

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")


class HandlerAnswer:
    def __init__(self, answer: HttpAnswer) -> None:
        self.status = answer.status
        self.content_type = answer.content_type
        self._answer = answer

    def document(self) -> Any:
        return self._answer.json


class HandlerClient:
    def __init__(self, api: ApiClient) -> None:
        self.api = api

    def send(self, method: str, path: str, text: str | None = None) -> HandlerAnswer:
        route, _, query = path.partition("?")
        parameters = dict(part.split("=", 1) for part in query.split("&")) if query else None
        headers = {"Content-Type": "application/json"} if text is not None else None
        return HandlerAnswer(self.api.request(method, route, body=text, headers=headers, query=parameters))


@pytest.fixture(scope="module")
def client() -> Iterator[HandlerClient]:
    with fake_backend():
        api = handler_client()
        for path, body in WORLD:
            assert api.post(path, body).status == 201
        yield HandlerClient(api)


def test_every_operation_with_a_body_is_fuzzed() -> None:
    # readings and the two file bodies (an import, a logo) have their own tests
    files = {"POST /v1/imports", "PUT /v1/settings/logo"}
    assert operations_with_a_body() == {*BY_LABEL, "POST /v1/readings", *files, *OWN_TESTS}


@pytest.mark.parametrize(("label", "path", "variant"), list(field_cases(tuple(VALUES), dates=True)))
def test_a_hostile_value_is_refused_naming_its_field_and_writes_nothing(
    client: HandlerClient,
    label: str,
    path: tuple[str | int, ...],
    variant: str,
    request: pytest.FixtureRequest,
) -> None:
    hostile_value_is_refused(client, label, path, variant, request.node.name)


@pytest.mark.parametrize(("field", "variant"), list(reading_cases(tuple(VALUES), dates=True)))
def test_a_hostile_reading_is_rejected_alone_and_its_neighbours_are_stored(
    client: HandlerClient, field: str, variant: str, request: pytest.FixtureRequest
) -> None:
    hostile_reading_is_rejected_alone(client, field, variant, request.node.name)


@pytest.mark.parametrize("variant", list(VALUES))
def test_a_hostile_batch_is_refused_naming_the_readings(client: HandlerClient, variant: str) -> None:
    answer = client.send("POST", "/v1/readings", with_hostile({"readings": []}, ("readings",), variant))

    assert (answer.status, answer.content_type) == (422, PROBLEM_JSON)
    assert names_the_field(answer.document(), "readings")
