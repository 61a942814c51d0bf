"""What the routes share: paging parameters, ETag and If-Match, and the shapes of their answers."""

from __future__ import annotations

from typing import Annotated, Final, TypeVar

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Header, Query
from pydantic import BaseModel

from meterbill.api.idempotency import MAX_KEY_LENGTH
from meterbill.api.problems import IDEMPOTENCY_KEY_HEADER, IF_MATCH_HEADER
from meterbill.errors import InvalidInputError
from meterbill.services.common import MAX_PAGE_SIZE

Model = TypeVar("Model", bound=BaseModel)

JSON: Final = "application/json"
METRICS_NAMESPACE: Final = "meterbill"
PAGE_SIZE: Final = 50
MAX_CURSOR_LENGTH: Final = 4096

Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description=f"items per page, 1-{MAX_PAGE_SIZE}")]
Cursor = Annotated[
    str | None,
    Query(min_length=1, max_length=MAX_CURSOR_LENGTH, description="the previous page's next_cursor"),
]
IfMatch = Annotated[
    str | None,
    Header(
        alias=IF_MATCH_HEADER,
        description="the ETag the change is based on; 412 when the object has changed since",
    ),
]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias=IDEMPOTENCY_KEY_HEADER,
        min_length=1,
        max_length=MAX_KEY_LENGTH,
        description="sending the same request again with the same key answers the first answer again "
        "(for 24 hours); the same key with a different body is refused (422)",
    ),
]


def new_router() -> Router:
    return Router()  # type: ignore[no-untyped-call]  # powertools leaves Router.__init__ unannotated


def quoted(etag: str) -> str:
    """An ETag as the ETag header writes it (RFC 9110: a quoted string)."""
    return f'"{etag}"'


def expected_etag(if_match: str | None) -> str | None:
    """The ETag an If-Match header expects, or None for none (or ``*``: any current version).

    A weak tag (``W/"..."``) never matches (If-Match compares strongly), so it is passed on as it is.
    """
    if if_match is None or if_match.strip() == "*":
        return None
    tag = if_match.strip()
    if "," in tag:
        raise InvalidInputError(IF_MATCH_HEADER, "give the one ETag the change is based on")
    if len(tag) >= 2 and tag[0] == tag[-1] == '"':
        return tag[1:-1]
    return tag


def created(record: Model, etag: str, location: str, **headers: str) -> Response[Model]:
    headers = {"ETag": quoted(etag), "Location": location, **headers}
    return Response(201, content_type=JSON, body=record, headers=headers)


def found(record: Model, etag: str) -> Response[Model]:
    return Response(200, content_type=JSON, body=record, headers={"ETag": quoted(etag)})


def no_content() -> Response[None]:
    return Response(204)
