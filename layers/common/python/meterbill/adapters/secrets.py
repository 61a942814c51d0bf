"""SigningKeyStore on AWS Secrets Manager: one secret per account, named ``<prefix><account id>`` (the prefix
from ``DocumentSettings.signing_key_secret_prefix``, default ``meterbill/signing-key/``), its value the JSON
``{"private_key_pem": ..., "certificate_pem": ...}``.

``create`` is CreateSecret, which refuses a name that exists (ResourceExistsException): the first key of an
account stays, and a second set-up (a retry, a race) reads and answers it. Locally (``meterbill serve``) the
same adapter runs on moto's Secrets Manager; the key it stores is the self-signed one made at account set-up
(``documents.signing.self_signed_key``).

The boto3 client is made on first use.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from meterbill.errors import InvalidInputError, NotFoundError, StorageUnavailableError
from meterbill.ports import SigningKeyPem, SigningKeyStore

NAME_TAKEN: Final = "ResourceExistsException"
NOT_FOUND: Final = "ResourceNotFoundException"


class SecretsManagerSigningKeys(SigningKeyStore):
    def __init__(
        self,
        prefix: str,
        *,
        region: str,
        endpoint_url: str | None = None,
        client: Any | None = None,
    ) -> None:
        self.prefix = prefix
        self._region = region
        self._endpoint_url = endpoint_url
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3  # type: ignore[import-untyped]

            self._client = boto3.client(
                "secretsmanager", region_name=self._region, endpoint_url=self._endpoint_url
            )
        return self._client

    def secret_name(self, account: str) -> str:
        # Secrets Manager names: letters, digits and /_+=.@- ; an account id is [A-Za-z0-9_-].
        if not account or not all(c.isascii() and (c.isalnum() or c in "_-") for c in account):
            raise InvalidInputError("account", f"{account!r} cannot name a secret")
        return f"{self.prefix}{account}"

    def get(self, account: str) -> SigningKeyPem:
        name = self.secret_name(account)
        try:
            answer = self.client.get_secret_value(SecretId=name)
        except Exception as error:
            if _code(error) == NOT_FOUND:
                raise NotFoundError("signing key", account) from None
            raise StorageUnavailableError(f"reading secret {name!r}: {_code(error) or error}") from error
        return _key(name, answer.get("SecretString"))

    def create(self, account: str, key: SigningKeyPem) -> SigningKeyPem:
        name = self.secret_name(account)
        value = json.dumps({"private_key_pem": key.private_key_pem, "certificate_pem": key.certificate_pem})
        try:
            self.client.create_secret(
                Name=name,
                SecretString=value,
                Description=f"meterbill: the key account {account} signs its invoice documents with",
                Tags=[{"Key": "meterbill:account", "Value": account}],
            )
        except Exception as error:
            if _code(error) != NAME_TAKEN:
                raise StorageUnavailableError(f"creating secret {name!r}: {_code(error) or error}") from error
            return self.get(account)  # the account has its key already: it stays
        return key


def _key(name: str, text: object) -> SigningKeyPem:
    try:
        data = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        data = None
    if not isinstance(data, Mapping) or not all(
        isinstance(data.get(field), str) and data[field] for field in ("private_key_pem", "certificate_pem")
    ):
        raise StorageUnavailableError(
            f"secret {name!r} is not a JSON object with private_key_pem and certificate_pem"
        )
    return SigningKeyPem(private_key_pem=data["private_key_pem"], certificate_pem=data["certificate_pem"])


def _code(error: Exception) -> str:
    response = getattr(error, "response", None)
    if not isinstance(response, Mapping):
        return ""
    return str(response.get("Error", {}).get("Code", ""))
