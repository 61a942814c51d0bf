"""The local platform (``local.serve.LocalPlatform``) started in this process: moto's DynamoDB and the API
behind the local API Gateway, both on 127.0.0.1 ports of their own, once for the e2e tests; each test works
in an account of its own, so tests never see each other's objects."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from local.serve import AccountKeys, LocalPlatform


@pytest.fixture(scope="package")
def platform() -> Iterator[LocalPlatform]:
    with LocalPlatform() as running:
        yield running


@pytest.fixture
def account(platform: LocalPlatform) -> AccountKeys:
    """A new account: its first admin key and a collector's ingest key."""
    return platform.create_account("End to end")


@dataclass
class Client:
    """HTTP to the served API with one API key (or none); JSON in, ``requests.Response`` out."""

    base_url: str
    key: str | None = None
    session: requests.Session = field(default_factory=requests.Session)

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
    ) -> requests.Response:
        sent = dict(headers or {})
        if self.key is not None:
            sent["Authorization"] = f"Bearer {self.key}"
        return self.session.request(
            method, f"{self.base_url}{path}", json=body, headers=sent, params=query, timeout=30
        )

    def get(self, path: str, **query: str) -> requests.Response:
        return self.request("GET", path, query=query)

    def post(self, path: str, body: Any, *, headers: Mapping[str, str] | None = None) -> requests.Response:
        return self.request("POST", path, body=body, headers=headers)

    def with_key(self, key: str | None) -> Client:
        return Client(self.base_url, key, self.session)


@pytest.fixture
def admin(platform: LocalPlatform, account: AccountKeys) -> Client:
    return Client(platform.url, account.admin_key)


@pytest.fixture
def collector(platform: LocalPlatform, account: AccountKeys) -> Client:
    """The account's ingest key: readings and imports only."""
    return Client(platform.url, account.ingest_key)


# The headless Chromium of the browser tests: ``browser``, ``phone_browser`` (and the module's ``chromium``).
from tests.e2e.browser import browser, chromium, phone_browser  # noqa: E402, F401
