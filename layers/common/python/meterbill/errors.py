"""Errors the services raise; one module at the edge (the API's error mapping) turns them into answers."""

from __future__ import annotations


class MeterbillError(Exception):
    """Base of the errors a caller can act on."""


class NotFoundError(MeterbillError):
    """No such object in this account (also what another account's id looks like)."""

    def __init__(self, kind: str, item_id: str) -> None:
        super().__init__(f"{kind} {item_id!r} not found")
        self.kind = kind
        self.item_id = item_id


class AlreadyExistsError(MeterbillError):
    def __init__(self, kind: str, item_id: str) -> None:
        super().__init__(f"{kind} {item_id!r} already exists")
        self.kind = kind
        self.item_id = item_id


class PreconditionFailedError(MeterbillError):
    """An If-Match that no longer matches: somebody changed the object since it was read."""

    def __init__(self, kind: str, item_id: str, expected: str, actual: str) -> None:
        super().__init__(f"{kind} {item_id!r} has changed: If-Match {expected!r}, current ETag {actual!r}")
        self.kind = kind
        self.item_id = item_id


class InvalidInputError(MeterbillError):
    """Input that is well-formed but not acceptable; ``field`` is a dotted path into the request."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class UnauthorizedError(MeterbillError):
    """No key, an unknown key, or a revoked key; ``field``: the request's field that held it, when the answer
    should name it (the key of a sign-in)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ForbiddenError(MeterbillError):
    """A valid key whose scopes do not allow this operation; ``field``: the request's field at fault, when
    there is one (an ingest key signing in, a missing CSRF token)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class StorageUnavailableError(MeterbillError):
    """The store refused or throttled us beyond our retries; the request may be retried as a whole."""


class InvalidStateError(MeterbillError):
    """The object is in a state that does not allow the action (voiding an issued invoice): a conflict with
    the object's state (409), not bad input - the same request may be right for another object."""

    def __init__(self, kind: str, item_id: str, state: str, action: str) -> None:
        super().__init__(f"{kind} {item_id!r} is {state}: cannot {action}")
        self.kind = kind
        self.item_id = item_id
        self.state = state
        self.action = action
