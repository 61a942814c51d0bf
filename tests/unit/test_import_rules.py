"""The pure core never talks to AWS: only meterbill.adapters may import the AWS SDKs or their fakes."""

from __future__ import annotations

import ast
from pathlib import Path

import meterbill

AWS_PACKAGES = {"boto3", "botocore", "moto", "pynamodb", "aiobotocore"}
PACKAGE_ROOT = Path(meterbill.__file__).parent


def aws_imports(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [f"line {node.lineno}: {name}" for name in names if name.split(".")[0] in AWS_PACKAGES]
    return found


def test_nothing_outside_the_adapters_imports_an_aws_sdk() -> None:
    offenders = {
        str(path.relative_to(PACKAGE_ROOT)): hits
        for path in PACKAGE_ROOT.rglob("*.py")
        if "adapters" not in path.relative_to(PACKAGE_ROOT).parts
        if (hits := aws_imports(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}


def test_the_rule_catches_plain_dotted_and_from_imports() -> None:
    source = (
        "import json\nimport boto3\nfrom botocore.exceptions import ClientError\nimport pynamodb.models\n"
    )
    assert aws_imports(source) == ["line 2: boto3", "line 3: botocore.exceptions", "line 4: pynamodb.models"]


def test_the_rule_ignores_look_alike_names_and_relative_imports() -> None:
    assert aws_imports("import boto3_stubs_like\nfrom . import moto\nfrom .adapters import boto3\n") == []
