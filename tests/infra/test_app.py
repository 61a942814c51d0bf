"""The app: a stack per stage, named by the stage, with the outputs an operator needs."""

from __future__ import annotations

from typing import Any

import pytest

from infra.cdk.sources import REPOSITORY
from infra.cdk.stages import DEV, PROD, stages_from_context, with_overrides


def test_without_a_stage_the_app_has_both_stacks(synthesized: Any) -> None:
    assert {stage: stack.stack_name for stage, stack in synthesized.stacks.items()} == {
        "dev": "meterbill-dev",
        "prod": "meterbill-prod",
    }
    assert stages_from_context({}) == [DEV, PROD]


def test_a_stage_from_the_context_selects_one_stack() -> None:
    assert stages_from_context({"stage": "prod"}) == [PROD]


def test_an_unknown_stage_or_a_retention_under_a_day_is_refused() -> None:
    with pytest.raises(
        ValueError, match=r"unknown stage 'staging': choose one of dev, prod \(-c stage=dev\)"
    ):
        stages_from_context({"stage": "staging"})
    with pytest.raises(ValueError, match="invoice_retention_days must be at least 1, got 0"):
        with_overrides(DEV, {"invoice_retention_days": "0"})


def test_the_stack_outputs_what_the_cli_and_an_operator_need(dev: dict[str, Any]) -> None:
    assert sorted(dev["Outputs"]) == [
        "AccessLogsBucketName",
        "ApiUrl",
        "CatalogTableName",
        "EmailConfigurationSet",
        "IdempotencyTableName",
        "InvoicesBucketName",
        "OperationsTopicArn",
        "ReadingsTableName",
        "SigningKeySecretPrefix",
    ]
    assert (dev["Outputs"]["CatalogTableName"]["Value"], dev["Outputs"]["ReadingsTableName"]["Value"]) == (
        {
            "Ref": next(
                k
                for k, r in dev["Resources"].items()
                if r["Properties"].get("TableName") == "meterbill-dev-catalog"
            )
        },
        {
            "Ref": next(
                k
                for k, r in dev["Resources"].items()
                if r["Properties"].get("TableName") == "meterbill-dev-readings"
            )
        },
    )


def test_the_readme_deploy_section_names_the_stacks_outputs_and_the_clis_variables(
    dev: dict[str, Any],
) -> None:
    readme = (REPOSITORY / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Deploy to AWS", 1)[1]
    assert [name for name in sorted(dev["Outputs"]) if f"`{name}`" not in section] == []
    for line in ("export CATALOG_TABLE=meterbill-dev-catalog READINGS_TABLE=meterbill-dev-readings",
                 "npx aws-cdk@2 deploy -c stage=dev",
                 '.venv/bin/meterbill accounts create "Stadtwerke Beispiel" --aws'):  # fmt: skip
        assert line in section
