"""SecretsManagerSigningKeys on moto: one JSON secret per account, created once; the first key stays."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from meterbill.adapters.secrets import SecretsManagerSigningKeys
from meterbill.errors import InvalidInputError, NotFoundError
from meterbill.ports import SigningKeyPem
from meterbill.services.documents import signing_key
from tests.integration.conftest import REGION

PREFIX = "meterbill/signing-key/"


def self_signed(common_name: str) -> SigningKeyPem:
    """What ``documents.signing.self_signed_key`` makes, as PEM text (EC P-256, one year)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime(2026, 3, 1, tzinfo=UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return SigningKeyPem(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
        certificate.public_bytes(serialization.Encoding.PEM).decode(),
    )


@pytest.fixture
def secrets(aws: None) -> Any:
    return boto3.client("secretsmanager", region_name=REGION)


@pytest.fixture
def keys(secrets: Any) -> SecretsManagerSigningKeys:
    return SecretsManagerSigningKeys(PREFIX, region=REGION, client=secrets)


def test_an_accounts_key_is_one_json_secret_named_after_the_account(keys, secrets) -> None:
    key = self_signed("HPO GmbH")

    assert keys.create("hpo", key) == key

    stored = json.loads(secrets.get_secret_value(SecretId="meterbill/signing-key/hpo")["SecretString"])
    assert stored == {"private_key_pem": key.private_key_pem, "certificate_pem": key.certificate_pem}
    assert keys.get("hpo") == key
    loaded = x509.load_pem_x509_certificate(keys.get("hpo").certificate_pem.encode())
    assert loaded.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "HPO GmbH"


def test_the_first_key_stays_a_second_set_up_answers_it(keys) -> None:
    first, second = self_signed("HPO GmbH"), self_signed("HPO GmbH")
    keys.create("hpo", first)

    assert keys.create("hpo", second) == first
    assert keys.get("hpo") == first


def test_an_account_without_a_key_gets_one_made_once(keys) -> None:
    made: list[SigningKeyPem] = []

    def make() -> SigningKeyPem:
        made.append(self_signed("acme"))
        return made[-1]

    with pytest.raises(NotFoundError):
        keys.get("acme")
    first = signing_key("acme", keys, make=make)
    again = signing_key("acme", keys, make=make)

    assert (first, again, len(made)) == (made[0], made[0], 1)
    with pytest.raises(NotFoundError):
        keys.get("other")  # accounts do not share keys


def test_an_account_id_that_cannot_name_a_secret_is_refused(keys) -> None:
    with pytest.raises(InvalidInputError) as refused:
        keys.get("../hpo")
    assert refused.value.field == "account"
