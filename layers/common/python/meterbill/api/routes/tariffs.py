"""Tariffs, versioned: a new version takes effect from a date; old versions stay for billing past periods.

``POST /v1/tariffs`` stores version 1 of a native tariff document or a URDB rate; ``POST .../versions``
stores the next version (If-Match: the latest version's ETag). Reads answer the latest version unless a
version is named.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import Field

from meterbill.api.dependencies import AuthorizedCaller
from meterbill.api.routes.common import (
    PAGE_SIZE,
    Cursor,
    IfMatch,
    Limit,
    created,
    expected_etag,
    found,
    new_router,
    no_content,
)
from meterbill.api.schema_fields import IsoDate
from meterbill.api.schemas import TariffDocument, TariffPage, TariffRecord, TariffVersions
from meterbill.services import catalog

router = new_router()
MAX_ACCEPTED = 100
MAX_FIELD_NAME = 200

EffectiveFrom = Annotated[
    IsoDate | None,
    Query(description="the first day of the new version; or the document's effective_from"),
]


TariffId = Annotated[
    str | None,
    Query(alias="id", max_length=64, description="the id to store a URDB rate under (default: its label)"),
]


AcceptUrdbFields = Annotated[
    list[Annotated[str, Field(max_length=MAX_FIELD_NAME)]] | None,
    Query(
        alias="accept_urdb_field",
        max_length=MAX_ACCEPTED,
        description="a charge of a URDB rate to leave out knowingly, named as the refusal named it, e.g. "
        "demandattrs[0] (repeatable; recorded on the tariff as accepted_urdb_fields)",
    ),
]


@router.post("/v1/tariffs", status_code=201, summary="Create a tariff (version 1)", tags=["tariffs"])
def create_tariff(
    document: TariffDocument,
    caller: AuthorizedCaller,
    tariff_id: TariffId = None,
    accept_urdb_fields: AcceptUrdbFields = None,
) -> Response[TariffRecord]:
    entry = catalog.create_tariff(
        caller.account,
        document,
        caller.stores.catalog,
        tariff_id=tariff_id,
        accept_urdb_fields=accept_urdb_fields or (),
        changed_by=caller.principal.key_id,
    )
    return created(TariffRecord.of(entry), entry.etag, f"/v1/tariffs/{entry.value.id}")


@router.get("/v1/tariffs", summary="List tariffs (each as its latest version)", tags=["tariffs"])
def list_tariffs(caller: AuthorizedCaller, limit: Limit = PAGE_SIZE, cursor: Cursor = None) -> TariffPage:
    page = catalog.list_tariffs(caller.account, caller.stores.catalog, limit=limit, cursor=cursor)
    return TariffPage(items=[TariffRecord.of(entry) for entry in page.items], next_cursor=page.cursor)


@router.get("/v1/tariffs/<tariff_id>", summary="Read a tariff's latest version", tags=["tariffs"])
def get_tariff(tariff_id: str, caller: AuthorizedCaller) -> Response[TariffRecord]:
    entry = catalog.get_tariff(caller.account, tariff_id, caller.stores.catalog)
    return found(TariffRecord.of(entry), entry.etag)


@router.delete(
    "/v1/tariffs/<tariff_id>",
    status_code=204,
    summary="Delete a tariff with all its versions (while no assignment uses it)",
    tags=["tariffs"],
)
def delete_tariff(tariff_id: str, caller: AuthorizedCaller, if_match: IfMatch = None) -> Response[None]:
    catalog.delete_tariff(caller.account, tariff_id, caller.stores.catalog, if_match=expected_etag(if_match))
    return no_content()


@router.get("/v1/tariffs/<tariff_id>/versions", summary="List a tariff's versions", tags=["tariffs"])
def list_tariff_versions(tariff_id: str, caller: AuthorizedCaller) -> TariffVersions:
    versions = catalog.tariff_versions(caller.account, tariff_id, caller.stores.catalog)
    return TariffVersions(items=[TariffRecord.of(entry) for entry in versions])


@router.post(
    "/v1/tariffs/<tariff_id>/versions",
    status_code=201,
    summary="Create a tariff's next version, effective from a date",
    tags=["tariffs"],
)
def create_tariff_version(
    tariff_id: str,
    document: TariffDocument,
    caller: AuthorizedCaller,
    effective_from: EffectiveFrom = None,
    if_match: IfMatch = None,
    accept_urdb_fields: AcceptUrdbFields = None,
) -> Response[TariffRecord]:
    entry = catalog.new_tariff_version(
        caller.account,
        tariff_id,
        document,
        caller.stores.catalog,
        effective_from=effective_from,
        if_match=expected_etag(if_match),
        accept_urdb_fields=accept_urdb_fields or (),
        changed_by=caller.principal.key_id,
    )
    location = f"/v1/tariffs/{tariff_id}/versions/{entry.value.version}"
    return created(TariffRecord.of(entry), entry.etag, location)


@router.get(
    "/v1/tariffs/<tariff_id>/versions/<version>", summary="Read one version of a tariff", tags=["tariffs"]
)
def get_tariff_version(tariff_id: str, version: int, caller: AuthorizedCaller) -> Response[TariffRecord]:
    entry = catalog.get_tariff(caller.account, tariff_id, caller.stores.catalog, version=version)
    return found(TariffRecord.of(entry), entry.etag)
