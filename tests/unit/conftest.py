"""Fixtures the API tests share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes import FakeStores
from tests.unit.api_support import AlertFakes, fake_backend


@pytest.fixture
def alerts() -> AlertFakes:
    """The alert ports behind the API handler for one test (the store, SNS subscriptions, readings queue)."""
    return AlertFakes()


@pytest.fixture
def fakes(alerts: AlertFakes) -> Iterator[FakeStores]:
    """The in-memory stores behind the API handler for one test."""
    with fake_backend(alerts=alerts) as stores:
        yield stores
