"""Fixtures the API tests share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes import FakeStores
from tests.unit.api_support import fake_backend


@pytest.fixture
def fakes() -> Iterator[FakeStores]:
    """The in-memory stores behind the API handler for one test."""
    with fake_backend() as stores:
        yield stores
