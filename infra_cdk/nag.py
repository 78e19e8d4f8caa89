"""cdk-nag 3 (AwsSolutions) acknowledgements: one helper, so every one carries its rule and its reason.

cdk-nag 3 reads CDK's native ``Validations.of(construct).acknowledge(...)``; a finding is acknowledged on
the construct that draws it (or a parent), one finding id at a time, e.g.
``AwsSolutions-IAM5[Resource::*]``. docs/infra.md lists every acknowledgement and why.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct

PACK = "AwsSolutions"


def acknowledge(scope: IConstruct, finding: str, reason: str) -> None:
    """Acknowledge one AwsSolutions finding (``"IAM5[Resource::*]"`` or ``"RDS11"``) with its reason."""
    if len(reason.split()) < 10:
        raise ValueError(f"acknowledgement of {finding} needs a specific reason, got {reason!r}")
    Validations.of(scope).acknowledge(Acknowledgment(id=f"{PACK}::{PACK}-{finding}", reason=reason))
