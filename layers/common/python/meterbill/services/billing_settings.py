"""An account's billing settings (``meterbill.billing_settings``): read, and replaced as a whole.

They live on the account, as the section ``"billing"`` of its settings, with the settings' ETag: an account
that never wrote them reads the defaults (``BillingSettings()``) with the ETag ``INITIAL_SETTINGS_ETAG``. A
replacement is validated whole (a field left out takes its default) and written only if the settings are
still those it read, so a concurrent change of another section is never lost; ``if_match`` (the client's
If-Match) must be the current ETag, else PreconditionFailedError.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from pydantic import ValidationError

from meterbill.billing_settings import SECTION, BillingSettings
from meterbill.errors import PreconditionFailedError, StorageUnavailableError
from meterbill.ports import AccountRecord, AccountStore
from meterbill.services.common import invalid_input, require_aware

# A write is retried when the settings changed between its read and its write (no If-Match), this often.
MAX_WRITE_ATTEMPTS: Final = 5


@dataclass(frozen=True, slots=True)
class SettingsEntry:
    """The settings with their ETag (for If-Match) and when they were last written (None: never)."""

    value: BillingSettings
    etag: str
    updated_at: datetime | None


def get(account: str, accounts: AccountStore) -> SettingsEntry:
    """Raises NotFoundError for an account that does not exist."""
    return _entry(accounts.get(account))


def settings_of(account: str, accounts: AccountStore) -> BillingSettings:
    """The settings alone: what the bill run and the documents read."""
    return get(account, accounts).value


def validated(body: Mapping[str, Any]) -> BillingSettings:
    """The settings a body describes, or InvalidInputError naming the first field at fault."""
    try:
        return BillingSettings.model_validate(body)
    except ValidationError as err:
        raise invalid_input(err) from None


def replace(
    account: str, body: Mapping[str, Any], accounts: AccountStore, now: datetime, *, if_match: str | None
) -> SettingsEntry:
    """Replaces the account's billing settings with ``body`` (validated whole; InvalidInputError). Raises
    PreconditionFailedError when ``if_match`` is given and not the current ETag."""
    require_aware(now, "now")
    settings = validated(body)
    for _ in range(MAX_WRITE_ATTEMPTS):
        current = accounts.get(account)
        if if_match is not None and if_match != current.settings_etag:
            raise PreconditionFailedError("settings", SECTION, if_match, current.settings_etag)
        merged = {**current.settings, SECTION: settings.model_dump(mode="json")}
        try:
            written = accounts.replace_settings(account, merged, if_match=current.settings_etag, at=now)
        except PreconditionFailedError:
            continue  # another write came between: read again (and answer 412 if if_match no longer holds)
        return _entry(written)
    raise StorageUnavailableError(f"replacing the billing settings of {account!r}: they kept changing")


def _entry(record: AccountRecord) -> SettingsEntry:
    stored = record.settings.get(SECTION)
    value = BillingSettings() if stored is None else BillingSettings.model_validate(stored)
    updated_at = None if stored is None else record.settings_updated_at
    return SettingsEntry(value=value, etag=record.settings_etag, updated_at=updated_at)
