"""An account's logo: uploaded once (PNG or JPEG, checked by ``documents.logo``), shown on every invoice.

It is stored beside the account's settings (``AccountStore.put_logo``), not in them: the settings are read
for every bill and should not carry up to 256 KB of image each time. The document builder reads it with
``logo_of`` into ``InvoiceDocument.logo``.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from meterbill.documents.logo import LogoError, read_logo
from meterbill.documents.model import Logo
from meterbill.errors import InvalidInputError, NotFoundError
from meterbill.ports import AccountLogo, AccountStore
from meterbill.services.common import require_aware


def put_logo(
    account: str, data: bytes, content_type: str | None, accounts: AccountStore, now: datetime
) -> AccountLogo:
    """Replaces the account's logo with ``data``; InvalidInputError on ``body`` naming why an invoice could
    not show it (not PNG or JPEG, too many bytes or pixels, unreadable, CMYK, ...)."""
    require_aware(now, "now")
    try:
        image = read_logo(data, content_type)
    except LogoError as err:
        raise InvalidInputError("body", err.reason) from None
    logo = AccountLogo(
        image_type=image.logo.image_type,
        data=data,
        width=image.width,
        height=image.height,
        sha256=hashlib.sha256(data).hexdigest(),
        updated_at=now,
    )
    accounts.put_logo(account, logo)
    return logo


def get_logo(account: str, accounts: AccountStore) -> AccountLogo:
    """Raises NotFoundError when the account has no logo."""
    logo = accounts.get_logo(account)
    if logo is None:
        raise NotFoundError("logo", account)
    return logo


def logo_of(account: str, accounts: AccountStore) -> Logo | None:
    """What an invoice document shows: the account's logo, or None."""
    stored = accounts.get_logo(account)
    if stored is None or stored.image_type not in ("image/png", "image/jpeg"):
        return None
    return Logo("image/png" if stored.image_type == "image/png" else "image/jpeg", stored.data)
