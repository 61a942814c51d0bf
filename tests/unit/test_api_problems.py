"""Errors answered as problem documents: a storage outage is a 503 to retry, a bug a 500 without details, an
unknown route a 404; the mapping of every error a service raises is in one module."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import pytest

from meterbill.api.problems import Problem, problem_for
from meterbill.errors import StorageUnavailableError
from tests.fakes import FakeCatalogStore, FakeStores
from tests.unit.api_support import ApiClient, configure_backend, handler_client, problem

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")


class FailingCatalog(FakeCatalogStore):
    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    def list(self, *args: Any, **kwargs: Any) -> Any:
        raise self.error


@pytest.fixture
def api(fakes: FakeStores) -> ApiClient:
    return handler_client()


def failing(fakes: FakeStores, error: Exception) -> None:
    configure_backend(replace(fakes, catalog=FailingCatalog(error)))


def test_a_store_that_is_throttled_or_down_answers_503_with_retry_after(api, fakes):
    failing(fakes, StorageUnavailableError("catalog: throttled 6 times"))

    answer = api.get("/v1/customers")

    assert answer.status == 503
    assert answer.headers["retry-after"] == "1"
    assert answer.json == problem(
        503, "storage is busy or unavailable; nothing was changed that a retry would repeat"
    )


def test_a_bug_answers_500_without_details_and_is_logged(api, fakes, caplog):
    failing(fakes, KeyError("secret internals"))

    with caplog.at_level(logging.ERROR, logger="meterbill.api.problems"):
        answer = api.get("/v1/customers")

    assert answer.json == problem(500, "something went wrong on our side; it has been logged")
    assert "secret internals" not in answer.text
    (record,) = [r for r in caplog.records if r.name == "meterbill.api.problems"]
    assert record.exc_info is not None
    assert (record.message, repr(record.exc_info[1])) == (
        "unexpected error answered 500",
        "KeyError('secret internals')",
    )


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/v1/nothing"), ("PATCH", "/v1/nothing/cus-1"), ("GET", "/v2/customers")]
)
def test_an_unknown_route_answers_404(api, method, path):
    answer = api.request(method, path)

    assert answer.json == problem(404, "no such route")


def test_an_error_without_a_mapping_of_its_own_is_a_500():
    assert problem_for(ZeroDivisionError()) == Problem(
        500, "something went wrong on our side; it has been logged"
    )


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/v1/nothing", None, 404),  # no route
        ("GET", "/v1/customers/cus-none", None, 404),  # a route's NotFoundError
        ("POST", "/v1/customers", {"id": "cus-1"}, 422),  # a body the model refuses
        ("DELETE", "/v1/readings", None, 405),  # refused before routing (a proxy result)
    ],
)
def test_every_problem_answer_says_nosniff(api, method, path, body, status):
    answer = api.request(method, path, json_body=body)

    assert (answer.status, answer.content_type) == (status, "application/problem+json")
    assert answer.headers["x-content-type-options"] == "nosniff"
