"""The aggregator's Dockerfile, read statically (nothing here builds it): base image, lock, handler."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_the_image_is_a_lambda_python_image_whose_command_is_the_handler():
    parsed = instructions()
    assert re.fullmatch(r"public\.ecr\.aws/lambda/python:3\.1[1-9]", parsed[0][1]) and parsed[0][0] == "FROM"
    commands = [json.loads(arguments) for name, arguments in parsed if name == "CMD"]
    assert commands == [["cw_pipeline.lambda_handler.handler"]]
    module, _, function = commands[0][0].rpartition(".")
    assert callable(getattr(importlib.import_module(module), function))


def test_dependencies_come_from_the_lock_and_only_the_main_group():
    parsed = instructions()
    run = " ".join(arguments for name, arguments in parsed if name == "RUN")
    assert "uv export" in run and "--frozen" in run and "--no-default-groups" in run and "--no-emit-project" in run
    assert "--all-extras" not in run and "--all-groups" not in run and "--extra" not in run
    assert re.search(
        r"pip install [^&]*--require-hashes -r \S+requirements\.txt --target \"?\$\{LAMBDA_TASK_ROOT\}", run
    )
    # The same uv as the Makefile, which is how the lock was written.
    makefile_uv = re.search(r"^UV_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.M).group(1)
    assert ("ARG", f"UV_VERSION={makefile_uv}") in parsed
    copies = [arguments.split() for name, arguments in parsed if name == "COPY"]
    assert ["pyproject.toml", "uv.lock", "/tmp/build/"] in copies
    assert ["cw_pipeline/", "${LAMBDA_TASK_ROOT}/cw_pipeline/"] in copies
    assert ("ENV", "DAGSTER_HOME=/tmp/dagster_home DAGSTER_DISABLE_TELEMETRY=true PIP_DISABLE_PIP_VERSION_CHECK=1") in [
        (name, " ".join(arguments.split())) for name, arguments in parsed
    ]


def test_the_build_context_leaves_out_the_toolchain_and_tests():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".git", ".venv", ".tools", "tests", "cdk.out", "infra_cdk", "node_modules"} <= ignored
    assert {"cw_local", "interactions_api"} <= ignored  # development tooling and the monitored workload
    assert not {"cw_pipeline", "pyproject.toml", "uv.lock"} & ignored


def test_the_package_is_compiled_once_copied_because_lambda_cannot_write_its_bytecode():
    parsed = instructions()
    copied = parsed.index(("COPY", "cw_pipeline/ ${LAMBDA_TASK_ROOT}/cw_pipeline/"))
    compiled = [i for i, (name, arguments) in enumerate(parsed) if name == "RUN" and "compileall" in arguments]
    assert len(compiled) == 1 and compiled[0] > copied
    assert '"${LAMBDA_TASK_ROOT}/cw_pipeline"' in parsed[compiled[0]][1]
