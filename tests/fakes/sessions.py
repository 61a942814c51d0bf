"""Console sessions in a dict, by the hash of their id."""

from __future__ import annotations

from meterbill.errors import AlreadyExistsError
from meterbill.ports import Session, SessionStore


class FakeSessionStore(SessionStore):
    """``sessions[id_hash]`` holds every session of every account."""

    def __init__(self) -> None:
        self.sessions: dict[bytes, Session] = {}

    def put(self, session: Session) -> None:
        if session.id_hash in self.sessions:
            raise AlreadyExistsError("session", session.id_hash.hex())
        self.sessions[session.id_hash] = session

    def get(self, id_hash: bytes) -> Session | None:
        return self.sessions.get(id_hash)

    def delete(self, id_hash: bytes) -> None:
        self.sessions.pop(id_hash, None)
