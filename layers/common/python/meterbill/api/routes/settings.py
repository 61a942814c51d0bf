"""The account's settings: its billing settings, read (the defaults until first written) and replaced as a
whole (If-Match); its logo, uploaded as the image file itself and read back."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Request, Response

from meterbill.api.dependencies import AuthorizedCaller
from meterbill.api.problems import ContentTooLargeError
from meterbill.api.routes.common import IfMatch, expected_etag, found, new_router, quoted
from meterbill.api.routes.imports import file_bytes
from meterbill.api.schemas import BillingSettingsInput, BillingSettingsRecord, LogoRecord
from meterbill.documents.logo import MAX_LOGO_BYTES, MAX_LOGO_PIXELS, MEDIA_TYPES
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


_LOGO_BODY = {
    "required": True,
    "description": f"the image file itself: PNG or JPEG, at most {MAX_LOGO_BYTES // 1024} KB and "
    f"{MAX_LOGO_PIXELS} × {MAX_LOGO_PIXELS} pixels, RGB or greyscale",
    "content": {media_type: {"schema": {"type": "string", "format": "binary"}} for media_type in MEDIA_TYPES},
}


@router.put(
    "/v1/settings/logo",
    summary="Upload the account's logo",
    description="The logo every invoice shows, replacing the previous one. The file's first bytes decide "
    "whether it is a PNG or a JPEG; it must decode whole and fit a PDF/A page. 413 when it is larger than "
    f"{MAX_LOGO_BYTES // 1024} KB; 422 naming the reason otherwise.",
    tags=["settings"],
    openapi_extensions={"requestBody": _LOGO_BODY},
)
def put_logo(caller: AuthorizedCaller, request: Request) -> Response[LogoRecord]:
    from meterbill.services import logo  # Pillow and fpdf2: only this route loads them

    data = file_bytes(request)
    if len(data) > MAX_LOGO_BYTES:
        raise ContentTooLargeError(len(data), MAX_LOGO_BYTES)
    content_type = request.resolved_event.headers.get("content-type")
    stored = logo.put_logo(caller.account, data, content_type, caller.stores.accounts, caller.now())
    return found(LogoRecord.of(stored), stored.sha256)


@router.get(
    "/v1/settings/logo",
    summary="Read the account's logo",
    description="The image as uploaded, with its media type; 404 when the account has none.",
    tags=["settings"],
    responses={
        200: {
            "description": "the logo",
            "content": {
                media_type: {"schema": {"type": "string", "format": "binary"}} for media_type in MEDIA_TYPES
            },
        },
        404: {"description": "the account has no logo"},
    },
)
def get_logo(caller: AuthorizedCaller):  # type: ignore[no-untyped-def]  # no return type: bytes, not validated
    from meterbill.services import logo

    stored = logo.get_logo(caller.account, caller.stores.accounts)
    return Response(
        200, content_type=stored.image_type, body=stored.data, headers={"ETag": quoted(stored.sha256)}
    )
