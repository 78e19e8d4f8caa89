"""The development fakes the demo, the tests and the benchmarks share: a Lambda context, dummy AWS
credentials, environment patching, and a count of the AWS API calls this process makes.

Calls are counted by a botocore ``before-call`` hook, not by wrapping botocore's own methods: importing
this module adds the hook to ``botocore.handlers.BUILTIN_HANDLERS``, so every botocore session created
afterwards (boto3 sessions, and so every client and resource) carries it, as moto's request stubber does.
The hook counts only inside `counting_api_calls`; elsewhere it returns at once.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from botocore import handlers

from cw_pipeline import naming

# Moto ignores credentials, but boto3 refuses to sign without some: these never reach AWS.
DUMMY_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
DUMMY_REGION = "us-east-1"
DUMMY_ACCOUNT_ID = "123456789012"
# The same credentials as the environment, for code that reads only the environment (the Lambda handler).
DUMMY_AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": DUMMY_CREDENTIALS["aws_access_key_id"],
    "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIALS["aws_secret_access_key"],
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": DUMMY_REGION,
    "AWS_REGION": DUMMY_REGION,
    "DAGSTER_DISABLE_TELEMETRY": "true",
}


# --- the Lambda context ----------------------------------------------------------------------------------


@dataclass
class FakeLambdaContext:
    """What a Lambda context object offers that our handlers and Powertools' logger read.

    Defaults describe the aggregator function of the ``dev`` environment; each caller names its own
    function, memory and timeout where they differ.
    """

    function_name: str = naming.resource_name("dev", naming.AGGREGATOR_FUNCTION)
    memory_limit_in_mb: int = 1536
    remaining_time_in_millis: int = 900_000  # the aggregator's timeout: 15 minutes
    region: str = DUMMY_REGION
    account_id: str = DUMMY_ACCOUNT_ID
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_time_in_millis


# --- the environment -------------------------------------------------------------------------------------


@contextlib.contextmanager
def patched_environment(values: Mapping[str, str], cleared: Sequence[str] = ()) -> Iterator[None]:
    """Set ``values`` (and unset ``cleared``) in os.environ for the block; restored afterwards."""
    saved = {name: os.environ.get(name) for name in (*values, *cleared)}
    try:
        for name in cleared:
            os.environ.pop(name, None)
        os.environ.update(values)
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# --- counting AWS API calls ------------------------------------------------------------------------------


class ApiCall(NamedTuple):
    service: str  # botocore's service name, as given to boto3.client(): "cloudwatch", "dynamodb"
    operation: str  # the API operation: "GetMetricData"


class ApiCalls(Counter):
    """Calls made per `ApiCall`; a plain ``("cloudwatch", "GetMetricData")`` tuple finds the same count."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.service_ids: dict[str, str] = {}  # service name -> AWS's service id ("CloudWatch")

    def label(self, call: tuple[str, str]) -> str:
        """A call as AWS spells it: ``CloudWatch.GetMetricData``."""
        service, operation = call
        return f"{self.service_ids.get(service, service)}.{operation}"

    def labelled(self) -> dict[str, int]:
        return {self.label(call): count for call, count in self.items()}


_counting: list[ApiCalls] = []  # one per active `counting_api_calls` block, innermost last


def _count_call(model, **_kwargs) -> None:
    # Returns None: a before-call handler that returns something replaces the call's response.
    if not _counting:
        return
    service_model = model.service_model
    call = ApiCall(service_model.service_name, model.name)
    for calls in _counting:
        calls[call] += 1
        calls.service_ids.setdefault(call.service, service_model.service_id)


_HOOK = ("before-call", _count_call, handlers.REGISTER_FIRST)  # first: before any handler that answers the call
if _HOOK not in handlers.BUILTIN_HANDLERS:
    handlers.BUILTIN_HANDLERS.append(_HOOK)


@contextlib.contextmanager
def counting_api_calls() -> Iterator[ApiCalls]:
    """Count every AWS API call this process makes in the block (retries of one call count once).

    Only clients of botocore sessions created after this module was imported are seen (see above).
    Blocks may nest: each counts what happens inside it.
    """
    calls = ApiCalls()
    _counting.append(calls)
    try:
        yield calls
    finally:
        _counting.remove(calls)
