"""The account's settings: its billing settings, read (the defaults until first written) and replaced as a
whole (If-Match)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from meterbill.api.dependencies import AuthorizedCaller
from meterbill.api.routes.common import IfMatch, expected_etag, found, new_router
from meterbill.api.schemas import BillingSettingsInput, BillingSettingsRecord
from meterbill.services import billing_settings

router = new_router()


@router.get(
    "/v1/settings/billing",
    summary="Read the account's billing settings",
    description="Bill day, grace days, number prefixes, payment terms, currency, language and the seller's "
    "legal details; an account that never set them reads the defaults.",
    tags=["settings"],
)
def get_billing_settings(caller: AuthorizedCaller) -> Response[BillingSettingsRecord]:
    entry = billing_settings.get(caller.account, caller.stores.accounts)
    return found(BillingSettingsRecord.of(entry), entry.etag)


@router.put(
    "/v1/settings/billing",
    summary="Replace the account's billing settings",
    description="The body replaces the settings as a whole: a field left out takes its default.",
    tags=["settings"],
)
def replace_billing_settings(
    body: BillingSettingsInput, caller: AuthorizedCaller, if_match: IfMatch = None
) -> Response[BillingSettingsRecord]:
    entry = billing_settings.replace(
        caller.account,
        body.model_dump(exclude_unset=True),
        caller.stores.accounts,
        caller.now(),
        if_match=expected_etag(if_match),
    )
    return found(BillingSettingsRecord.of(entry), entry.etag)
