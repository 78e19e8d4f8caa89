"""moto AWS (percentiles, indexed ListMetrics, REST APIs in the tagging API) and counters at the botocore boundary."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cw_local import fast_dynamodb, tagging
from cw_pipeline.defs import aws_clients
from tests.emulated_aws import EmulatedAws, emulated_aws


@pytest.fixture
def aws() -> Iterator[EmulatedAws]:
    tagging.install()
    # As in the emulator: moto's TransactWriteItems would otherwise deep-copy the estate's table once per action.
    fast_dynamodb.install()
    with emulated_aws() as emulated:
        # Clients shared by the process were built for earlier tests' mocks: every test here starts without.
        aws_clients.forget()
        yield emulated
    aws_clients.forget()
