"""The layer asset: meterbill and its runtime dependencies built for Lambda (arm64, CPython 3.12), the
versions the tests ran against, and nothing of the tests', the tools' or the AWS SDK's."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from packaging.utils import canonicalize_name

from infra.cdk.layer_build import BABEL_LOCALES
from infra.cdk.sources import LAYER_PACKAGE
from meterbill.domain import LANGUAGES
from tests.infra.templates import the_one

LAMBDA_LIMIT_BYTES = 250 * 1024 * 1024  # function and layers, unzipped
NOT_IN_THE_LAYER = {
    # tests and tools
    "pytest", "_pytest", "hypothesis", "moto", "ruff", "mypy", "importlinter", "numpy", "nemreader", "PySAM",
    "aws_cdk", "jsii", "cdk_nag", "cfnlint", "pymodbus",
    # the AWS SDK, and what only it needs: the Lambda runtime has them
    "boto3", "botocore", "s3transfer", "urllib3",
    # console scripts and man pages of the wheels
    "bin", "share",
}  # fmt: skip


@pytest.fixture(scope="module")
def layer(synthesized: Any) -> Path:
    """The staged layer asset of the dev stack (``asset.<hash>`` in the cloud assembly)."""
    s3_key = the_one(synthesized.templates["dev"], "AWS::Lambda::LayerVersion")["Content"]["S3Key"]
    return Path(synthesized.outdir) / f"asset.{s3_key.removesuffix('.zip')}"


def distributions(layer: Path) -> dict[str, str]:
    return {
        canonicalize_name(d.metadata["Name"]): d.version
        for d in importlib.metadata.distributions(path=[str(layer / "python")])
    }


def test_the_layer_holds_the_meterbill_package_as_in_the_repository(layer: Path) -> None:
    shipped = {
        p.relative_to(layer / "python" / "meterbill") for p in (layer / "python" / "meterbill").rglob("*.py")
    }
    source = {
        p.relative_to(LAYER_PACKAGE) for p in LAYER_PACKAGE.rglob("*.py") if "__pycache__" not in p.parts
    }
    assert shipped == source
    assert (layer / "python" / "meterbill" / "py.typed").is_file()


def test_the_layer_holds_the_consoles_templates_and_static_files(layer: Path) -> None:
    console = LAYER_PACKAGE / "console"
    shipped = layer / "python" / "meterbill" / "console"
    for kind in ("templates", "static"):
        files = {p.relative_to(console) for p in (console / kind).rglob("*") if p.is_file()}
        assert {p.relative_to(shipped) for p in (shipped / kind).rglob("*") if p.is_file()} == files
    assert (shipped / "templates" / "home.html").is_file()
    assert (shipped / "static" / "vendor" / "htmx.min.js").is_file()


def test_compiled_dependencies_are_the_aarch64_cpython_3_12_builds(layer: Path) -> None:
    assert [p.name for p in (layer / "python" / "pydantic_core").glob("*.so")] == [
        "_pydantic_core.cpython-312-aarch64-linux-gnu.so"
    ]
    shared_objects = [p.name for p in (layer / "python").rglob("*.so")]
    assert [name for name in shared_objects if "x86_64" in name or "cpython-311" in name] == []


def test_the_layer_ships_the_versions_the_tests_ran_against(layer: Path) -> None:
    shipped = distributions(layer)
    for name in (
        "pydantic",
        "pydantic-core",
        "aws-lambda-powertools",
        "pynamodb",
        "holidays",
        "rich",
        "fpdf2",
        "jinja2",  # the console's pages
        "markupsafe",
    ):
        assert (name, shipped[name]) == (name, importlib.metadata.version(name))


def test_the_layer_has_the_x_ray_sdk_that_powertools_tracer_needs_on_lambda(layer: Path) -> None:
    assert "aws-xray-sdk" in distributions(layer)
    assert (layer / "python" / "aws_xray_sdk" / "core" / "__init__.py").is_file()


def test_nothing_of_the_tests_the_tools_or_the_aws_sdk_is_in_the_layer(layer: Path) -> None:
    top_level = {p.name.removesuffix(".py") for p in (layer / "python").iterdir()}
    assert top_level & NOT_IN_THE_LAYER == set()
    assert set(distributions(layer)) & {canonicalize_name(n) for n in NOT_IN_THE_LAYER} == set()
    assert [p for p in (layer / "python").rglob("__pycache__")] == []  # bytecode of this machine's Python


def test_the_layer_fits_lambdas_size_limit_with_room_for_the_function(layer: Path) -> None:
    size = sum(p.stat().st_size for p in layer.rglob("*") if p.is_file())
    assert size < LAMBDA_LIMIT_BYTES / 2, f"{size / 1024 / 1024:.0f} MB"


def test_the_layer_keeps_babels_data_for_the_document_languages_only(layer: Path) -> None:
    assert set(LANGUAGES) <= set(BABEL_LOCALES)
    formatted = subprocess.run(
        [sys.executable, "-I", "-c", FORMAT_IN_EACH_LANGUAGE, str(layer / "python")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert formatted == ["1.234,56\xa0€", "€1,234.56", "en_US de_AT", "no fr"]


FORMAT_IN_EACH_LANGUAGE = """
import sys
sys.path.insert(0, sys.argv[1])
from decimal import Decimal
from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency
print(format_currency(Decimal("1234.56"), "EUR", locale="de_DE"))
print(format_currency(Decimal("1234.56"), "EUR", locale="en_IE"))
print(Locale.parse("en_US"), Locale.parse("de_AT"))
try:
    Locale.parse("fr")
except UnknownLocaleError:
    print("no fr")
"""
