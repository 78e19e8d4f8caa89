"""The boto3 configuration every AWS resource takes, and the clients they share within one process.

`Boto3Configuration` has the fields and meaning of dagster-aws's ``ResourceWithBoto3Configuration``
(region, retries, profile, SSL, endpoint, credentials) without importing ``dagster_aws``: its package
``__init__`` loads its Secrets Manager component and with it ``dagster._core.test_utils``, SQLAlchemy and
Alembic, 1.5 s of every cold start measured with ``python -X importtime`` (docs/benchmarks.md).

Building a boto3 client parses botocore's JSON service models: 50-250 ms from a new session, ~5 ms from
a session that has built one before. So one session per profile and one client per (service,
configuration) are kept for the life of the process: every resource of a run shares them, and a warm
Lambda invocation builds none. The key of a client is everything that decides where and how it
connects: the options passed to it, and the environment variables botocore reads for endpoint, region
and credentials, so that a changed configuration gets a new client, never a stale one.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

from botocore.config import Config
from dagster import ConfigurableResource
from pydantic import Field

# The environment botocore reads when building a client (AWS_ENDPOINT_URL_<SERVICE> variables too).
_ENVIRONMENT = (
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
)
_LOCK = threading.Lock()
_sessions: dict[tuple, Any] = {}
_shared: dict[tuple, Any] = {}


class Boto3Configuration(ConfigurableResource):
    """Where and how a resource's boto3 clients connect; unset fields leave it to boto3's own configuration."""

    region_name: str | None = Field(default=None, description="Specifies a custom region for the Boto3 session")
    max_attempts: int = Field(
        default=5,
        description="Boto3's maximum attempts for a call, the first one included (standard retry mode)",
    )
    profile_name: str | None = Field(default=None, description="Specifies a profile to connect that session")
    use_ssl: bool = Field(default=True, description="Whether or not to use SSL. By default, SSL is used.")
    endpoint_url: str | None = Field(default=None, description="Specifies a custom endpoint for the Boto3 session.")
    verify: bool | None = Field(default=True, description="Whether or not to verify SSL certificates.")
    aws_access_key_id: str | None = Field(default=None, description="AWS access key ID of the boto3 session.")
    aws_secret_access_key: str | None = Field(default=None, description="AWS secret access key of the session.")
    aws_session_token: str | None = Field(default=None, description="AWS session token of the boto3 session.")


def construct_boto_client_retry_config(max_attempts: int) -> Config:
    """botocore's standard retry mode (exponential backoff with jitter) with ``max_attempts`` attempts, the
    first included. Not dagster-aws's function of the same name: that passes ``max_attempts`` as botocore's
    *retry* count (6 attempts for 5)."""
    return Config(retries={"mode": "standard", "total_max_attempts": max_attempts})


def session(profile_name: str | None):
    """The process's boto3 session for ``profile_name`` (and the current AWS environment)."""
    import boto3

    key = (profile_name, _environment())
    with _LOCK:
        found = _sessions.get(key)
        if found is None:
            found = _sessions[key] = boto3.session.Session(profile_name=profile_name)
        return found


def shared(kind: str, service_name: str, profile_name: str | None, options: Mapping[str, Any], build: Callable):
    """The process's ``kind`` (``client``, ``resource``) of ``service_name`` for these options; built once."""
    key = (kind, service_name, profile_name, _environment(), tuple(sorted((k, _stable(v)) for k, v in options.items())))
    with _LOCK:
        found = _shared.get(key)
    if found is None:
        found = build()
        with _LOCK:
            found = _shared.setdefault(key, found)
    return found


def forget() -> None:
    """Drop every shared session and client (tests that count the clients a run builds start from here)."""
    with _LOCK:
        _sessions.clear()
        _shared.clear()


def _environment() -> tuple:
    endpoints = sorted((k, v) for k, v in os.environ.items() if k.startswith("AWS_ENDPOINT_URL"))
    return (*(os.environ.get(name) for name in _ENVIRONMENT), *endpoints)


def _stable(value: Any) -> Any:
    if isinstance(value, Config):  # compared by what it sets, not by identity
        return tuple(sorted((k, repr(v)) for k, v in vars(value).items()))
    return repr(value)
