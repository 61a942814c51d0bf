"""Customers, sites, meters and assignments: create, list (paged), read, replace (If-Match), delete.

The catalog service checks every rule (references between objects, units, shares); an id of another account
is not found, exactly like an id that does not exist.
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

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
from meterbill.api.schemas import (
    AssignmentInput,
    AssignmentPage,
    AssignmentRecord,
    CustomerInput,
    CustomerPage,
    CustomerRecord,
    MeterInput,
    MeterPage,
    MeterRecord,
    SiteInput,
    SitePage,
    SiteRecord,
    fields_of,
    record_fields,
)
from meterbill.domain import Assignment, Customer, Meter, Site
from meterbill.services import catalog

router = new_router()


# --- customers ----------------------------------------------------------------------------------------------


@router.post("/v1/customers", status_code=201, summary="Create a customer", tags=["customers"])
def create_customer(body: CustomerInput, caller: AuthorizedCaller) -> Response[CustomerRecord]:
    entry = catalog.create(caller.account, Customer, fields_of(body), caller.stores.catalog)
    record = CustomerRecord.model_validate(record_fields(entry))
    return created(record, entry.etag, f"/v1/customers/{record.id}")


@router.get("/v1/customers", summary="List customers", tags=["customers"])
def list_customers(caller: AuthorizedCaller, limit: Limit = PAGE_SIZE, cursor: Cursor = None) -> CustomerPage:
    page = catalog.list_page(caller.account, Customer, caller.stores.catalog, limit=limit, cursor=cursor)
    items = [CustomerRecord.model_validate(record_fields(entry)) for entry in page.items]
    return CustomerPage(items=items, next_cursor=page.cursor)


@router.get("/v1/customers/<customer_id>", summary="Read a customer", tags=["customers"])
def get_customer(customer_id: str, caller: AuthorizedCaller) -> Response[CustomerRecord]:
    entry = catalog.get(caller.account, Customer, customer_id, caller.stores.catalog)
    return found(CustomerRecord.model_validate(record_fields(entry)), entry.etag)


@router.put("/v1/customers/<customer_id>", summary="Replace a customer", tags=["customers"])
def replace_customer(
    customer_id: str, body: CustomerInput, caller: AuthorizedCaller, if_match: IfMatch = None
) -> Response[CustomerRecord]:
    entry = catalog.replace(
        caller.account,
        Customer,
        customer_id,
        fields_of(body),
        caller.stores.catalog,
        if_match=expected_etag(if_match),
    )
    return found(CustomerRecord.model_validate(record_fields(entry)), entry.etag)


@router.delete(
    "/v1/customers/<customer_id>", status_code=204, summary="Delete a customer", tags=["customers"]
)
def delete_customer(customer_id: str, caller: AuthorizedCaller, if_match: IfMatch = None) -> Response[None]:
    catalog.delete(
        caller.account, Customer, customer_id, caller.stores.catalog, if_match=expected_etag(if_match)
    )
    return no_content()


# --- sites --------------------------------------------------------------------------------------------------


@router.post("/v1/sites", status_code=201, summary="Create a site", tags=["sites"])
def create_site(body: SiteInput, caller: AuthorizedCaller) -> Response[SiteRecord]:
    entry = catalog.create(caller.account, Site, fields_of(body), caller.stores.catalog)
    record = SiteRecord.model_validate(record_fields(entry))
    return created(record, entry.etag, f"/v1/sites/{record.id}")


@router.get("/v1/sites", summary="List sites", tags=["sites"])
def list_sites(caller: AuthorizedCaller, limit: Limit = PAGE_SIZE, cursor: Cursor = None) -> SitePage:
    page = catalog.list_page(caller.account, Site, caller.stores.catalog, limit=limit, cursor=cursor)
    items = [SiteRecord.model_validate(record_fields(entry)) for entry in page.items]
    return SitePage(items=items, next_cursor=page.cursor)


@router.get("/v1/sites/<site_id>", summary="Read a site", tags=["sites"])
def get_site(site_id: str, caller: AuthorizedCaller) -> Response[SiteRecord]:
    entry = catalog.get(caller.account, Site, site_id, caller.stores.catalog)
    return found(SiteRecord.model_validate(record_fields(entry)), entry.etag)


@router.put("/v1/sites/<site_id>", summary="Replace a site", tags=["sites"])
def replace_site(
    site_id: str, body: SiteInput, caller: AuthorizedCaller, if_match: IfMatch = None
) -> Response[SiteRecord]:
    entry = catalog.replace(
        caller.account,
        Site,
        site_id,
        fields_of(body),
        caller.stores.catalog,
        if_match=expected_etag(if_match),
    )
    return found(SiteRecord.model_validate(record_fields(entry)), entry.etag)


@router.delete("/v1/sites/<site_id>", status_code=204, summary="Delete a site", tags=["sites"])
def delete_site(site_id: str, caller: AuthorizedCaller, if_match: IfMatch = None) -> Response[None]:
    catalog.delete(caller.account, Site, site_id, caller.stores.catalog, if_match=expected_etag(if_match))
    return no_content()


# --- meters -------------------------------------------------------------------------------------------------


@router.post("/v1/meters", status_code=201, summary="Create a meter", tags=["meters"])
def create_meter(body: MeterInput, caller: AuthorizedCaller) -> Response[MeterRecord]:
    entry = catalog.create(caller.account, Meter, fields_of(body), caller.stores.catalog)
    record = MeterRecord.model_validate(record_fields(entry))
    return created(record, entry.etag, f"/v1/meters/{record.id}")


@router.get("/v1/meters", summary="List meters", tags=["meters"])
def list_meters(caller: AuthorizedCaller, limit: Limit = PAGE_SIZE, cursor: Cursor = None) -> MeterPage:
    page = catalog.list_page(caller.account, Meter, caller.stores.catalog, limit=limit, cursor=cursor)
    items = [MeterRecord.model_validate(record_fields(entry)) for entry in page.items]
    return MeterPage(items=items, next_cursor=page.cursor)


@router.get("/v1/meters/<meter_id>", summary="Read a meter", tags=["meters"])
def get_meter(meter_id: str, caller: AuthorizedCaller) -> Response[MeterRecord]:
    entry = catalog.get(caller.account, Meter, meter_id, caller.stores.catalog)
    return found(MeterRecord.model_validate(record_fields(entry)), entry.etag)


@router.put("/v1/meters/<meter_id>", summary="Replace a meter", tags=["meters"])
def replace_meter(
    meter_id: str, body: MeterInput, caller: AuthorizedCaller, if_match: IfMatch = None
) -> Response[MeterRecord]:
    metering = caller.stores.metering
    assert metering is not None  # the API's stores always have it: the days to rate again are read there
    entry = catalog.replace_meter(
        caller.account,
        meter_id,
        fields_of(body),
        caller.stores.catalog,
        caller.stores.readings,
        metering,
        if_match=expected_etag(if_match),
    )
    return found(MeterRecord.model_validate(record_fields(entry)), entry.etag)


@router.delete("/v1/meters/<meter_id>", status_code=204, summary="Delete a meter", tags=["meters"])
def delete_meter(meter_id: str, caller: AuthorizedCaller, if_match: IfMatch = None) -> Response[None]:
    catalog.delete(caller.account, Meter, meter_id, caller.stores.catalog, if_match=expected_etag(if_match))
    return no_content()


# --- assignments --------------------------------------------------------------------------------------------


@router.post("/v1/assignments", status_code=201, summary="Create an assignment", tags=["assignments"])
def create_assignment(body: AssignmentInput, caller: AuthorizedCaller) -> Response[AssignmentRecord]:
    entry = catalog.create(caller.account, Assignment, fields_of(body), caller.stores.catalog)
    record = AssignmentRecord.model_validate(record_fields(entry))
    return created(record, entry.etag, f"/v1/assignments/{record.id}")


@router.get("/v1/assignments", summary="List assignments", tags=["assignments"])
def list_assignments(
    caller: AuthorizedCaller, limit: Limit = PAGE_SIZE, cursor: Cursor = None
) -> AssignmentPage:
    page = catalog.list_page(caller.account, Assignment, caller.stores.catalog, limit=limit, cursor=cursor)
    items = [AssignmentRecord.model_validate(record_fields(entry)) for entry in page.items]
    return AssignmentPage(items=items, next_cursor=page.cursor)


@router.get("/v1/assignments/<assignment_id>", summary="Read an assignment", tags=["assignments"])
def get_assignment(assignment_id: str, caller: AuthorizedCaller) -> Response[AssignmentRecord]:
    entry = catalog.get(caller.account, Assignment, assignment_id, caller.stores.catalog)
    return found(AssignmentRecord.model_validate(record_fields(entry)), entry.etag)


@router.put("/v1/assignments/<assignment_id>", summary="Replace an assignment", tags=["assignments"])
def replace_assignment(
    assignment_id: str, body: AssignmentInput, caller: AuthorizedCaller, if_match: IfMatch = None
) -> Response[AssignmentRecord]:
    entry = catalog.replace(
        caller.account,
        Assignment,
        assignment_id,
        fields_of(body),
        caller.stores.catalog,
        if_match=expected_etag(if_match),
    )
    return found(AssignmentRecord.model_validate(record_fields(entry)), entry.etag)


@router.delete(
    "/v1/assignments/<assignment_id>", status_code=204, summary="Delete an assignment", tags=["assignments"]
)
def delete_assignment(
    assignment_id: str, caller: AuthorizedCaller, if_match: IfMatch = None
) -> Response[None]:
    catalog.delete(
        caller.account, Assignment, assignment_id, caller.stores.catalog, if_match=expected_etag(if_match)
    )
    return no_content()
