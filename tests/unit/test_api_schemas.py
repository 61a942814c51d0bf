"""The request models mirror the domain's: every field a client may set, none it may not."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from meterbill.api import schemas
from meterbill.domain import Assignment, Customer, Meter, Site


@pytest.mark.parametrize(
    ("request_model", "domain_model"),
    [
        (schemas.CustomerInput, Customer),
        (schemas.SiteInput, Site),
        (schemas.MeterInput, Meter),
        (schemas.AssignmentInput, Assignment),
    ],
)
def test_a_request_model_has_every_domain_field_but_the_account(
    request_model: type[BaseModel], domain_model: type[BaseModel]
) -> None:
    assert set(request_model.model_fields) == set(domain_model.model_fields) - {"account_id"}


@pytest.mark.parametrize(
    ("record_model", "request_model"),
    [
        (schemas.CustomerRecord, schemas.CustomerInput),
        (schemas.SiteRecord, schemas.SiteInput),
        (schemas.MeterRecord, schemas.MeterInput),
        (schemas.AssignmentRecord, schemas.AssignmentInput),
    ],
)
def test_a_record_adds_only_the_etag_and_the_times(
    record_model: type[BaseModel], request_model: type[BaseModel]
) -> None:
    assert set(record_model.model_fields) - set(request_model.model_fields) == {
        "etag",
        "created_at",
        "updated_at",
    }
