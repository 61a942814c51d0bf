"""API keys of the caller's account (admin scope only): create (the key is shown once), list, read, revoke."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from meterbill.api.dependencies import AuthorizedCaller
from meterbill.api.routes.common import JSON, PAGE_SIZE, Cursor, Limit, new_router
from meterbill.api.schemas import ApiKey, ApiKeyInput, ApiKeyPage, CreatedApiKey
from meterbill.services import apikeys

router = new_router()


@router.post(
    "/v1/api-keys",
    status_code=201,
    summary="Create an API key",
    description="The answer holds the key itself, and no later answer does: keep it safe.",
    tags=["api-keys"],
)
def create_api_key(body: ApiKeyInput, caller: AuthorizedCaller) -> Response[CreatedApiKey]:
    info, key = apikeys.create_key(caller.account, body.name, body.scopes, caller.stores.keys, caller.now())
    record = CreatedApiKey(**ApiKey.of(info).model_dump(), key=key)
    headers = {"Location": f"/v1/api-keys/{info.key_id}", "Cache-Control": "no-store"}
    return Response(201, content_type=JSON, body=record, headers=headers)


@router.get("/v1/api-keys", summary="List API keys (revoked ones too)", tags=["api-keys"])
def list_api_keys(caller: AuthorizedCaller, limit: Limit = PAGE_SIZE, cursor: Cursor = None) -> ApiKeyPage:
    return ApiKeyPage.of(apikeys.list_keys(caller.account, caller.stores.keys, limit=limit, cursor=cursor))


@router.get("/v1/api-keys/<key_id>", summary="Read an API key (never the key itself)", tags=["api-keys"])
def get_api_key(key_id: str, caller: AuthorizedCaller) -> ApiKey:
    return ApiKey.of(apikeys.get_key(caller.account, key_id, caller.stores.keys))


@router.delete(
    "/v1/api-keys/<key_id>",
    summary="Revoke an API key",
    description="DELETE of an API key revokes it: from now on the key is refused, for good. The key stays "
    "readable and listed for the record, with state revoked and revoked_at (GET answers 200, not 404); "
    "revoking it again changes nothing. The answer is the revoked key.",
    tags=["api-keys"],
)
def revoke_api_key(key_id: str, caller: AuthorizedCaller) -> ApiKey:
    return ApiKey.of(apikeys.revoke_key(caller.account, key_id, caller.stores.keys, caller.now()))
