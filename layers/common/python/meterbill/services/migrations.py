"""One-off repairs of stored data, run by hand once after a deploy that needs them (``meterbill migrate
NAME``; README, "Deploy to AWS"). Each is idempotent: run again, it finds nothing left and reports 0.

- ``accounts-listing``: accounts written before the bill run listed accounts (before the account item
  carried ``account_pk = "accounts"``) are not in the listing, so the bill run never visits them; this puts
  them there (``AccountStore.add_missing_to_listing``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from meterbill.errors import InvalidInputError
from meterbill.ports import Stores


@dataclass(frozen=True, slots=True)
class MigrationReport:
    name: str
    fixed: int  # items written by this run


def accounts_listing(stores: Stores) -> MigrationReport:
    """Every account the listing misses put into it."""
    return MigrationReport("accounts-listing", stores.accounts.add_missing_to_listing())


MIGRATIONS: Final[Mapping[str, Callable[[Stores], MigrationReport]]] = {
    "accounts-listing": accounts_listing,
}


def run(name: str, stores: Stores) -> MigrationReport:
    """The migration ``name``; InvalidInputError ``migration`` for a name there is none of."""
    migration = MIGRATIONS.get(name)
    if migration is None:
        raise InvalidInputError("migration", f"{name!r} is not one of {', '.join(sorted(MIGRATIONS))}")
    return migration(stores)
