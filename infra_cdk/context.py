"""What the app reads from CDK context, in one place, and the one naming helper of every construct.

| context key | meaning | default |
| --- | --- | --- |
| ``env`` | environment suffix of every resource name | ``dev`` |
| ``alertEmail`` | address subscribed to the alerts topic | none: no subscription, and a warning |
| ``account`` | AWS account of the stack | ``CDK_DEFAULT_ACCOUNT``, else ``OFFLINE_ACCOUNT`` |
| ``region`` | AWS region of the stack | ``CDK_DEFAULT_REGION``, else ``OFFLINE_REGION`` |
| ``availabilityZones`` | the AZs of the VPC, comma-separated (at least two) | the region's first two |
| ``dagsterUiDomain`` | host name of an internet-facing Dagster UI (needs the next key) | none: internal only |
| ``dagsterUiCertificateArn`` | ACM certificate of that host name, in the stack's region | none |

The stack has an explicit account and region (``TableV2`` with a customer-managed key needs them).
Its availability zones are never looked up at synth (no AWS call): they are either given, or the first
two of ``Fn::GetAZs`` resolved by CloudFormation at deploy time.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cw_pipeline import naming

# Used only when neither context nor the CDK CLI (from credentials) says where the stack goes: enough
# to synthesize and test offline; a deployment passes -c account=... -c region=... or has credentials.
OFFLINE_ACCOUNT = "111111111111"
OFFLINE_REGION = "us-east-1"

_ACCOUNT = re.compile(r"^\d{12}$")
_CERTIFICATE = re.compile(r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[A-Za-z0-9-]+$")
_DOMAIN = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


@dataclass(frozen=True)
class InfraContext:
    env: str
    account: str
    region: str
    availability_zones: tuple[str, ...] = ()
    alert_email: str | None = None
    ui_domain: str | None = None
    ui_certificate_arn: str | None = None

    @property
    def public_ui(self) -> bool:
        """Whether the Dagster UI gets an internet-facing, authenticated load balancer (else internal only)."""
        return self.ui_domain is not None

    @property
    def is_dev(self) -> bool:
        return self.env == "dev"

    def name(self, resource: str) -> str:
        """``cw-analytics-{env}-{resource}``: the name of every named resource (cw_pipeline.naming)."""
        return naming.resource_name(self.env, resource)

    @classmethod
    def from_context(cls, get: Mapping[str, Any] | Any, environ: Mapping[str, str] | None = None) -> InfraContext:
        """Read the context through ``get`` (a mapping, or a construct node's ``try_get_context``)."""
        lookup = get.get if isinstance(get, Mapping) else get
        environ = os.environ if environ is None else environ

        def value(key: str) -> str | None:
            raw = lookup(key)
            if raw is None:
                return None
            text = ",".join(str(v) for v in raw) if isinstance(raw, list | tuple) else str(raw)
            return text.strip() or None

        env = naming.validate_env(value("env") or "dev")
        account = value("account") or environ.get("CDK_DEFAULT_ACCOUNT") or OFFLINE_ACCOUNT
        if not _ACCOUNT.match(account):
            raise ValueError(f"context account={account!r} is not a 12-digit AWS account id")
        region = value("region") or environ.get("CDK_DEFAULT_REGION") or OFFLINE_REGION
        zones = tuple(z.strip() for z in (value("availabilityZones") or "").split(",") if z.strip())
        if len(zones) == 1:
            raise ValueError(f"context availabilityZones={zones!r}: the VPC needs at least two zones")
        email = value("alertEmail")
        if email is not None and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", email):
            raise ValueError(f"context alertEmail={email!r} is not an e-mail address")
        domain, certificate = value("dagsterUiDomain"), value("dagsterUiCertificateArn")
        if (domain is None) != (certificate is None):
            raise ValueError(
                "context dagsterUiDomain and dagsterUiCertificateArn go together: give both for an internet-facing "
                "Dagster UI behind Cognito sign-in, or neither for the internal load balancer only"
            )
        if domain is not None and not _DOMAIN.match(domain):
            raise ValueError(f"context dagsterUiDomain={domain!r} is not a lower-case host name like ui.example.com")
        if certificate is not None and not _CERTIFICATE.match(certificate):
            raise ValueError(
                f"context dagsterUiCertificateArn={certificate!r} is not an ACM certificate ARN "
                "(arn:aws:acm:<region>:<account>:certificate/<id>)"
            )
        return cls(
            env=env,
            account=account,
            region=region,
            availability_zones=zones,
            alert_email=email,
            ui_domain=domain,
            ui_certificate_arn=certificate,
        )
