"""How the invoice functions find out whether and how they store documents (``invoice_wiring.document_step``):
from the environment the stack sets, once a renderer is wired."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from meterbill import invoice_wiring
from meterbill.adapters.s3 import S3DocumentStore
from meterbill.adapters.secrets import SecretsManagerSigningKeys
from meterbill.settings import Retention

STACK_ENVIRONMENT = {
    "INVOICES_BUCKET": "meterbill-prod-invoices",
    "INVOICE_RETENTION_DAYS": "3653",
    "INVOICE_RETENTION_FROM": "year_end",
    "SIGNING_KEY_SECRET_PREFIX": "meterbill/prod/signing-key/",
    "AWS_REGION": "eu-central-1",
}


@pytest.fixture(autouse=True)
def clean() -> Iterator[None]:
    invoice_wiring.reset()
    invoice_wiring._renderer.clear()
    yield
    invoice_wiring.reset()
    invoice_wiring._renderer.clear()


def test_without_a_bucket_or_a_renderer_no_documents_are_stored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INVOICES_BUCKET", raising=False)
    invoice_wiring.set_renderer(lambda keys: lambda document: b"%PDF")
    assert invoice_wiring.document_step() is None

    for name, value in STACK_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    invoice_wiring._renderer.clear()
    invoice_wiring.reset()
    assert invoice_wiring.document_step() is None  # a bucket, but nothing to render with


def test_the_stack_environment_and_a_renderer_make_the_step(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in STACK_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    given: list[SecretsManagerSigningKeys] = []

    def make(keys):  # type: ignore[no-untyped-def]
        given.append(keys)
        return lambda document: b"%PDF"

    invoice_wiring.set_renderer(make)
    step = invoice_wiring.document_step()

    assert step is not None
    assert isinstance(step.documents, S3DocumentStore) and step.documents.bucket == "meterbill-prod-invoices"
    assert step.retention == Retention.model_validate({"days": 3653, "from": "year_end"})
    assert [keys.prefix for keys in given] == ["meterbill/prod/signing-key/"]
