"""``Idempotency-Key``: a request sent again with the same key gets the first answer again, not a second run.

Powertools' idempotency utility keeps one record per key in the idempotency table (partition key ``id``):
in progress while the first request runs, then its answer for ``EXPIRES_AFTER``. The key is scoped by the
account (and the operation), so two accounts can use the same key text without meeting. The same key with a
different body is refused (``IdempotencyKeyReusedError`` → 422); while the first request still runs, a second
one is refused too (``IdempotencyKeyBusyError`` → 409, retry later). A failed first request (an exception)
leaves no record, so it can be retried with the same key.

Only answers are remembered: the status and the JSON body, as the route produced them. Powertools'
idempotency package loads boto3, so it is imported here only when a request carries a key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final

from meterbill.api.problems import IdempotencyKeyBusyError, IdempotencyKeyReusedError
from meterbill.errors import StorageUnavailableError
from meterbill.settings import ApiSettings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer
    from aws_lambda_powertools.utilities.typing import LambdaContext

EXPIRES_AFTER: Final = timedelta(hours=24)
MAX_KEY_LENGTH: Final = 255
_CONFIG_KEY: Final = "[account, key]"
_CONFIG_PAYLOAD: Final = "body"


@dataclass(frozen=True, slots=True)
class Answer:
    """What a route answered: the status and the JSON body. ``replayed``: remembered, not computed now."""

    status: int
    body: dict[str, Any]
    replayed: bool = False


def once(
    store: BasePersistenceLayer,
    *,
    operation: str,
    account: str,
    key: str,
    body: Any,
    run: Callable[[], Answer],
    lambda_context: LambdaContext | None = None,
) -> Answer:
    """``run()``'s answer, or the answer remembered for (``operation``, ``account``, ``key``) when that key
    was used before with an equal ``body`` (the parsed request body)."""
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyInconsistentStateError,
        IdempotencyPersistenceLayerError,
        IdempotencyValidationError,
    )

    config = IdempotencyConfig(
        event_key_jmespath=_CONFIG_KEY,
        payload_validation_jmespath=_CONFIG_PAYLOAD,
        raise_on_no_idempotency_key=True,
        expires_after_seconds=int(EXPIRES_AFTER.total_seconds()),
    )
    if lambda_context is not None:  # a request cut off by the timeout frees its key when the Lambda stops
        config.register_lambda_context(lambda_context)
    ran = False

    def remembered(request: Mapping[str, Any]) -> dict[str, Any]:
        nonlocal ran
        ran = True
        answer = run()
        return {"status": answer.status, "body": answer.body}

    guarded = idempotent_function(
        remembered,
        data_keyword_argument="request",
        persistence_store=store,
        config=config,
        key_prefix=operation,
    )
    try:
        stored = guarded(request={"account": account, "key": key, "body": body})
    except IdempotencyValidationError:
        raise IdempotencyKeyReusedError(key) from None
    except IdempotencyAlreadyInProgressError:
        raise IdempotencyKeyBusyError(key) from None
    except (IdempotencyPersistenceLayerError, IdempotencyInconsistentStateError) as error:
        raise StorageUnavailableError(f"idempotency table: {error}") from error
    return Answer(status=int(stored["status"]), body=stored["body"], replayed=not ran)


def dynamodb_store(settings: ApiSettings) -> BasePersistenceLayer:
    """The idempotency table ``IDEMPOTENCY_TABLE`` names (``meterbill.adapters.dynamodb.idempotency``)."""
    from meterbill.adapters.dynamodb.idempotency import idempotency_store

    return idempotency_store(settings.storage, settings.idempotency_table)
