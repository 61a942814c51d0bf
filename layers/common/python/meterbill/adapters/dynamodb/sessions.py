"""SessionStore on the catalog table: one item per session under the SHA-256 of its id, read with one strongly
consistent GetItem (a sign-out holds from the next request on), expired by the table's TTL attribute."""

from __future__ import annotations

from functools import partial
from typing import Final, cast

from pynamodb.exceptions import PynamoDBException

from meterbill.adapters.dynamodb.connection import DynamoDb, response_code
from meterbill.adapters.dynamodb.items import SessionItem, bind
from meterbill.adapters.dynamodb.schema import SESSION_SK, session_pk
from meterbill.errors import AlreadyExistsError
from meterbill.ports import Session, SessionScope, SessionStore

CONDITION_FAILED: Final = "ConditionalCheckFailedException"


class DynamoDbSessionStore(SessionStore):
    def __init__(self, db: DynamoDb) -> None:
        self._db = db
        self._sessions = bind(SessionItem, db)

    def put(self, session: Session) -> None:
        item = self._sessions(
            session_pk(session.id_hash),
            SESSION_SK,
            account=session.account,
            key_id=session.key_id,
            scope=session.scope,
            created_at=session.created_at,
            expires_at=session.expires_at,
            csrf_token_hash=session.csrf_token_hash,
            ttl=int(session.expires_at.timestamp()),
        )
        try:
            self._db.run(
                partial(item.save, condition=self._sessions.pk.does_not_exist()),
                what="storing a session",
                idempotent=False,
            )
        except PynamoDBException as error:
            if response_code(error) == CONDITION_FAILED:
                raise AlreadyExistsError("session", session.id_hash.hex()) from None
            raise

    def get(self, id_hash: bytes) -> Session | None:
        answer = self._db.run(
            partial(self._db.catalog_table.get_item, session_pk(id_hash), SESSION_SK, consistent_read=True),
            what="reading a session",
            idempotent=True,
        )
        raw = answer.get("Item")
        if raw is None:
            return None
        item = self._sessions.from_raw_data(raw)
        return Session(
            id_hash=id_hash,
            account=item.account,
            key_id=item.key_id,
            scope=cast(SessionScope, item.scope),
            created_at=item.created_at,
            expires_at=item.expires_at,
            csrf_token_hash=item.csrf_token_hash,
        )

    def delete(self, id_hash: bytes) -> None:
        self._db.run(
            partial(self._db.catalog_table.delete_item, session_pk(id_hash), SESSION_SK),
            what="ending a session",
            idempotent=True,
        )
