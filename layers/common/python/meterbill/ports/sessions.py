"""The console's sign-in sessions: stored by the SHA-256 of their id, never the id itself."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

SessionScope = Literal["admin", "read"]


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in console session as stored: ``id_hash`` is SHA-256 of the session id the cookie carries,
    ``csrf_token_hash`` SHA-256 of its CSRF token (neither text is ever stored). ``key_id``: the API key it
    was signed in with (revoking the key ends the session)."""

    id_hash: bytes
    account: str
    key_id: str
    scope: SessionScope
    created_at: datetime
    expires_at: datetime
    csrf_token_hash: bytes


class SessionStore(ABC):
    @abstractmethod
    def put(self, session: Session) -> None:
        """Stores a new session (its id hash is random: a taken one raises AlreadyExistsError)."""

    @abstractmethod
    def get(self, id_hash: bytes) -> Session | None:
        """By the hash of its id alone (the authorizer does not know the account yet); None when unknown.
        An expired session may still be returned (the store's expiry lags): the caller checks
        ``expires_at``."""

    @abstractmethod
    def delete(self, id_hash: bytes) -> None:
        """Ends the session; an unknown one is no error."""
