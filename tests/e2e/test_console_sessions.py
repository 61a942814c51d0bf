"""Signing in to the console on the local platform, as a browser does: the admin key exchanged for the
mb_session cookie (HttpOnly, SameSite=Strict, not Secure on http://127.0.0.1), the cookie alone reads, a
change needs the session's CSRF token, and after signing out the cookie is refused."""

from __future__ import annotations

import pytest
import requests

from local.serve import AccountKeys, LocalPlatform

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")

SITE = {"id": "site-console", "name": "Console plant", "timezone": "Europe/Berlin"}


def test_a_browser_signs_in_reads_and_changes_with_the_cookie_and_signs_out(
    platform: LocalPlatform, account: AccountKeys
) -> None:
    browser = requests.Session()
    url = platform.url

    signed_in = browser.post(f"{url}/v1/sessions", json={"key": account.admin_key}, timeout=30)
    csrf_token = signed_in.json()["csrf_token"]
    cookie = signed_in.headers["Set-Cookie"]
    listed = browser.get(f"{url}/v1/sites", timeout=30)
    without_token = browser.post(f"{url}/v1/sites", json=SITE, timeout=30)
    with_token = browser.post(f"{url}/v1/sites", json=SITE, headers={"X-CSRF-Token": csrf_token}, timeout=30)
    signed_out = browser.delete(
        f"{url}/v1/sessions/current", headers={"X-CSRF-Token": csrf_token}, timeout=30
    )
    session_text = cookie.split(";")[0].removeprefix("mb_session=")
    after = requests.get(f"{url}/v1/sites", headers={"Cookie": f"mb_session={session_text}"}, timeout=30)

    assert (signed_in.status_code, signed_in.json()["scope"]) == (201, "admin")
    assert cookie == f"mb_session={session_text}; HttpOnly; SameSite=Strict; Path=/; Max-Age=28800"
    assert (listed.status_code, listed.json()["items"]) == (200, [])
    assert (without_token.status_code, without_token.json()["errors"][0]["field"]) == (403, "X-CSRF-Token")
    assert (with_token.status_code, with_token.json()["id"]) == (201, "site-console")
    assert signed_out.status_code == 204
    assert "mb_session" not in browser.cookies  # Max-Age=0 cleared it
    assert after.status_code == 401


def test_an_ingest_key_cannot_sign_in_and_a_read_session_cannot_change(
    platform: LocalPlatform, account: AccountKeys
) -> None:
    url = platform.url
    refused = requests.post(f"{url}/v1/sessions", json={"key": account.ingest_key}, timeout=30)
    admin = {"Authorization": f"Bearer {account.admin_key}"}
    read_key = requests.post(
        f"{url}/v1/api-keys", json={"name": "console", "scopes": ["read"]}, headers=admin, timeout=30
    ).json()["key"]
    browser = requests.Session()
    csrf_token = browser.post(f"{url}/v1/sessions", json={"key": read_key}, timeout=30).json()["csrf_token"]

    reads = browser.get(f"{url}/v1/sites", timeout=30)
    changes = browser.post(f"{url}/v1/sites", json=SITE, headers={"X-CSRF-Token": csrf_token}, timeout=30)

    assert (refused.status_code, refused.json()["errors"][0]["field"]) == (403, "key")
    assert reads.status_code == 200
    assert changes.status_code == 403
