"""The one place errors become HTTP answers: RFC 9457 problem documents (``application/problem+json``).

Every answer that is not a success is a problem document::

    {"type": "about:blank", "title": "Unprocessable Content", "status": 422,
     "detail": "name: required field is missing",
     "errors": [{"field": "name", "reason": "required field is missing"}]}

``errors`` names each field at fault (a dotted path into the body such as ``readings[3].value``, or the name
of the query parameter or header) and why; ``detail`` repeats the first. Bad input is always a 4xx:

====================================================================  ======
a body that is not JSON, not UTF-8 text, or not base64 when it says so  400
no usable API key (``UnauthorizedError``)                               401
the key's scopes do not allow the operation (``ForbiddenError``)        403
no such route, or no such object in the caller's account               404
a method the path does not have (``MethodNotAllowedError``; ``Allow``)  405
the id exists; the state forbids it (``InvalidStateError``); key busy  409
If-Match is not the current ETag (``PreconditionFailedError``)          412
a body over the size limit (``ContentTooLargeError``)                   413
a media type the route does not take                                    415
a well-formed request that is not acceptable (validation, services)     422
an unset setting of the deployment (``FeatureNotConfiguredError``)      501
the store is throttled or down (``StorageUnavailableError``)            503
====================================================================  ======

Anything else is a bug: logged with its traceback and answered 500 without details.
"""

from __future__ import annotations

import binascii
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Final
from urllib.parse import quote

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver
from aws_lambda_powertools.event_handler.exceptions import NotFoundError as RouteNotFoundError
from aws_lambda_powertools.event_handler.exceptions import ServiceError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)

from meterbill import fielderrors
from meterbill.errors import (
    AlreadyExistsError,
    ForbiddenError,
    InvalidInputError,
    InvalidStateError,
    MeterbillError,
    NotFoundError,
    PreconditionFailedError,
    StorageUnavailableError,
    UnauthorizedError,
)
from meterbill.fielderrors import field_path

PROBLEM_JSON: Final = "application/problem+json"
# Every problem answer's own headers: a browser never sniffs a problem document into something else.
PROBLEM_HEADERS: Final[Mapping[str, str]] = {"X-Content-Type-Options": "nosniff"}
RETRY_AFTER_SECONDS: Final = "1"
IDEMPOTENCY_KEY_HEADER: Final = "Idempotency-Key"
IF_MATCH_HEADER: Final = "If-Match"

logger = logging.getLogger(__name__)


# --- errors of the HTTP layer itself ------------------------------------------------------------------------


class ContentTooLargeError(MeterbillError):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"the request body has {size} bytes; this route takes at most {limit}")


class UnsupportedMediaTypeError(MeterbillError):
    def __init__(self, media_type: str, expected: Sequence[str]) -> None:
        super().__init__(f"Content-Type {media_type!r} is not one of: {', '.join(expected)}")


class MethodNotAllowedError(MeterbillError):
    """A path the API has, with a method it does not have there: 405 with ``Allow``. The path is shown as a
    URL holds it (percent-encoded): a path's parameter is the caller's text, never echoed as markup."""

    def __init__(self, method: str, path: str, allowed: Sequence[str]) -> None:
        shown = quote(path, safe="/:@!$&'()*+,;=-._~%")
        super().__init__(f"{method} is not a method of {shown}; it has {', '.join(allowed)}")
        self.allowed = tuple(allowed)


class AllReadingsRejectedError(MeterbillError):
    """Not one reading of a batch or file was stored: 422 with the ingest report (``Answer.body``)."""

    def __init__(self, report: Mapping[str, Any], where: str, headers: Mapping[str, str]) -> None:
        super().__init__(f"no reading was stored: {report['rejected_count']} rejected")
        self.report = report
        self.where = where
        self.headers = headers


class FeatureNotConfiguredError(MeterbillError):
    """A route this deployment cannot serve for want of a setting (501): not the caller's fault, and not
    worth retrying until the operator sets it."""

    def __init__(self, feature: str, setting: str, reason: str) -> None:
        super().__init__(f"{feature} are not available: {reason} ({setting} is not set)")
        self.setting = setting


class IdempotencyKeyReusedError(MeterbillError):
    """An Idempotency-Key sent before with another body."""


class IdempotencyKeyBusyError(MeterbillError):
    """An Idempotency-Key whose first request is still running."""


class MalformedBodyError(MeterbillError):
    """A body that cannot be read at all (not JSON, not UTF-8, broken base64): 400 naming ``field``."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


# --- the document -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    reason: str


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem document, its status and the headers that go with it; ``members`` are extension members
    (the ingest report of a batch whose every reading was rejected)."""

    status: int
    detail: str
    errors: Sequence[FieldError] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    members: Mapping[str, Any] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "type": "about:blank",
            "title": HTTPStatus(self.status).phrase,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors:
            document["errors"] = [{"field": e.field, "reason": e.reason} for e in self.errors]
        return {**document, **self.members}

    def response(self) -> Response[str]:
        return Response(
            status_code=self.status,
            content_type=PROBLEM_JSON,
            body=json.dumps(self.document(), separators=(",", ":")),
            headers={**PROBLEM_HEADERS, **self.headers},
        )

    def proxy_result(self) -> dict[str, Any]:
        """The Lambda proxy result API Gateway turns into this answer (for refusals before routing)."""
        headers = {"Content-Type": PROBLEM_JSON, **PROBLEM_HEADERS, **self.headers}
        return {
            "statusCode": self.status,
            "multiValueHeaders": {name: [value] for name, value in headers.items()},
            "body": json.dumps(self.document(), separators=(",", ":")),
            "isBase64Encoded": False,
        }


def _named(field: str | None, error: Exception) -> str:
    """The detail of a problem: the field it names, if any, before the reason."""
    return f"{field}: {error}" if field else str(error)


def field_problem(status: int, errors: Sequence[FieldError], **headers: str) -> Problem:
    """A problem about fields: ``detail`` tells the first and counts the others."""
    first = errors[0]
    detail = f"{first.field}: {first.reason}"
    if len(errors) > 1:
        detail += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return Problem(status, detail, errors, headers)


def field_error(problem: Mapping[str, Any]) -> FieldError:
    """A pydantic error (``ErrorDetails``) as the field (its ``loc`` as a path) and the reason."""
    return FieldError(field_path(problem["loc"]), fielderrors.reason(problem))


def _all_rejected(error: AllReadingsRejectedError) -> Problem:
    """The report's members, and one error per rejected reading (``<where>[index].<field>``)."""
    errors = [
        FieldError(f"{error.where}[{rejection['index']}].{rejection['field']}", rejection["reason"])
        for rejection in error.report["rejected"]
    ]
    return Problem(HTTPStatus.UNPROCESSABLE_ENTITY, str(error), errors, error.headers, error.report)


# --- mapping ------------------------------------------------------------------------------------------------


def problem_for(error: Exception) -> Problem:
    """The answer to an exception a route (or the gate) raised."""
    match error:
        case RequestValidationError():
            return _validation_problem(error)
        case AllReadingsRejectedError():
            return _all_rejected(error)
        case InvalidInputError():
            return field_problem(HTTPStatus.UNPROCESSABLE_ENTITY, [FieldError(error.field, error.reason)])
        case MalformedBodyError():
            return field_problem(HTTPStatus.BAD_REQUEST, [FieldError(error.field, error.reason)])
        case NotFoundError():
            return Problem(HTTPStatus.NOT_FOUND, str(error))
        case AlreadyExistsError():
            return field_problem(HTTPStatus.CONFLICT, [FieldError("id", str(error))])
        case InvalidStateError():
            return field_problem(HTTPStatus.CONFLICT, [FieldError("state", str(error))])
        case PreconditionFailedError():
            reason = f"is not the current ETag of {error.kind} {error.item_id!r}; read it again"
            return field_problem(HTTPStatus.PRECONDITION_FAILED, [FieldError(IF_MATCH_HEADER, reason)])
        case UnauthorizedError():
            fields = [FieldError(error.field, str(error))] if error.field else []
            return Problem(
                HTTPStatus.UNAUTHORIZED, _named(error.field, error), fields, {"WWW-Authenticate": "Bearer"}
            )
        case ForbiddenError():
            fields = [FieldError(error.field, str(error))] if error.field else []
            return Problem(HTTPStatus.FORBIDDEN, _named(error.field, error), fields)
        case StorageUnavailableError():
            detail = "storage is busy or unavailable; nothing was changed that a retry would repeat"
            return Problem(
                HTTPStatus.SERVICE_UNAVAILABLE, detail, headers={"Retry-After": RETRY_AFTER_SECONDS}
            )
        case MethodNotAllowedError():
            return Problem(
                HTTPStatus.METHOD_NOT_ALLOWED, str(error), headers={"Allow": ", ".join(error.allowed)}
            )
        case FeatureNotConfiguredError():
            return Problem(HTTPStatus.NOT_IMPLEMENTED, str(error))
        case ContentTooLargeError():
            return Problem(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, str(error))
        case UnsupportedMediaTypeError():
            return field_problem(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, [FieldError("Content-Type", str(error))])
        case RequestUnsupportedContentType():
            reason = "this route takes application/json"
            return field_problem(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, [FieldError("Content-Type", reason)])
        case IdempotencyKeyReusedError():
            reason = "was used before for a different request body; use a new key for a new request"
            return field_problem(
                HTTPStatus.UNPROCESSABLE_ENTITY, [FieldError(IDEMPOTENCY_KEY_HEADER, reason)]
            )
        case IdempotencyKeyBusyError():
            reason = "a request with this key is still being served; retry when it has finished"
            errors = [FieldError(IDEMPOTENCY_KEY_HEADER, reason)]
            return field_problem(HTTPStatus.CONFLICT, errors, **{"Retry-After": RETRY_AFTER_SECONDS})
        case UnicodeDecodeError():
            reason = f"not UTF-8 text: {error.reason} at byte {error.start}"
            return field_problem(HTTPStatus.BAD_REQUEST, [FieldError("body", reason)])
        case binascii.Error():
            return field_problem(HTTPStatus.BAD_REQUEST, [FieldError("body", "not valid base64")])
        case RouteNotFoundError():
            return Problem(HTTPStatus.NOT_FOUND, "no such route")
        case ServiceError():
            return Problem(error.status_code, str(error.msg))
    logger.error("unexpected error answered 500", exc_info=error)
    return Problem(HTTPStatus.INTERNAL_SERVER_ERROR, "something went wrong on our side; it has been logged")


HANDLED: Final[tuple[type[Exception], ...]] = (
    RequestValidationError,
    RequestUnsupportedContentType,
    MeterbillError,
    UnicodeDecodeError,
    binascii.Error,
    ServiceError,
    Exception,
)


def register(app: ApiGatewayResolver) -> None:
    """Answer every exception a route raises with its problem document."""
    handler: Callable[[Exception], Response[str]] = lambda error: problem_for(error).response()  # noqa: E731
    app.exception_handler(list(HANDLED))(handler)


def _validation_problem(error: RequestValidationError) -> Problem:
    problems = list(error.errors())
    if any(problem["type"] == "json_invalid" for problem in problems):
        first = next(problem for problem in problems if problem["type"] == "json_invalid")
        position = first["loc"][1] if len(first["loc"]) > 1 else 0
        reason = (
            f"not valid JSON: {first.get('ctx', {}).get('error', 'cannot be parsed')} at character {position}"
        )
        return field_problem(HTTPStatus.BAD_REQUEST, [FieldError("body", reason)])
    errors = [FieldError(_field(problem["loc"]), fielderrors.reason(problem)) for problem in problems]
    return field_problem(HTTPStatus.UNPROCESSABLE_ENTITY, errors)


def _field(loc: Sequence[int | str]) -> str:
    """("body", "readings", 3, "value") -> "readings[3].value"; ("query", "limit") -> "limit"."""
    where, *path = loc
    if where == "header" and path:
        return "-".join(part.capitalize() for part in str(path[0]).split("-"))
    return field_path(path) or str(where)
