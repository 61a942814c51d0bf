"""cdk-nag 3: the AwsSolutions rules run as a CDK policy-validation plugin; a finding that is right for this
app is acknowledged on the construct it concerns, with its reason, next to the code that causes it.

An acknowledgement covers the construct and everything under it. IAM4/IAM5 findings are acknowledged one by
one (``AwsSolutions-IAM5[Resource::*]``): a new wildcard is a new finding.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct


def acknowledge(construct: IConstruct, finding: str, reason: str) -> None:
    Validations.of(construct).acknowledge(Acknowledgment(id=finding, reason=reason))


def check_on_synth(scope: IConstruct) -> None:
    """``app.synth()`` fails (``ValidationFailed``, report in the cloud assembly) on any unacknowledged
    AwsSolutions finding."""
    Validations.of(scope).add_plugins(AwsSolutionsChecks(scope))
