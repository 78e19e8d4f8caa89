"""A code location with one tiny job: what EcsRunLauncher launches in tests/control_plane."""

from __future__ import annotations

from dagster import Definitions, job, op


@op
def greet() -> str:
    return "hello from an ECS run task"


@job
def tiny_job() -> None:
    greet()


defs = Definitions(jobs=[tiny_job])
