"""Fixtures shared by every test: dummy AWS credentials, so nothing can ever reach a real account."""

from __future__ import annotations

import os

import pytest

from cw_local.fakes import DUMMY_AWS_ENVIRONMENT

# Set at import too: modules that build clients or Definitions at import time must see them.
os.environ.update(DUMMY_AWS_ENVIRONMENT)


@pytest.fixture(autouse=True)
def dummy_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable, value in DUMMY_AWS_ENVIRONMENT.items():
        monkeypatch.setenv(variable, value)
    # An endpoint or profile left in the shell must not redirect the in-process mocks.
    for variable in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_CLOUDWATCH", "AWS_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
