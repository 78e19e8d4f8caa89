"""The control plane's Dockerfile, read statically (nothing here builds it), and what it installs from the lock."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from infra_cdk import packaging
from infra_cdk.sections import control_plane

ROOT = packaging.REPO_ROOT


def instructions(name: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / name).read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_same_python_and_uv_as_the_aggregator_image_and_a_non_root_user() -> None:
    parsed = instructions(packaging.CONTROL_PLANE_DOCKERFILE)
    lambda_python = re.search(r"python:(3\.\d+)$", instructions("Dockerfile")[0][1]).group(1)
    assert parsed[0] == ("FROM", f"public.ecr.aws/docker/library/python:{lambda_python}-slim")
    makefile_uv = re.search(r"^UV_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.M).group(1)
    assert ("ARG", f"UV_VERSION={makefile_uv}") in parsed
    users = [arguments for name, arguments in parsed if name == "USER"]
    assert users == ["dagster"]


def test_it_installs_the_lock_with_the_control_plane_extra_and_holds_the_instance_and_workspace() -> None:
    parsed = instructions(packaging.CONTROL_PLANE_DOCKERFILE)
    run = " ".join(arguments for name, arguments in parsed if name == "RUN")
    for flag in ("--frozen", "--no-default-groups", "--extra control-plane", "--no-emit-project"):
        assert flag in run, flag
    assert "--all-extras" not in run and "--all-groups" not in run
    assert re.search(r"pip install [^&]*--require-hashes -r /tmp/build/requirements\.txt", run)
    env = " ".join(arguments for name, arguments in parsed if name == "ENV")
    assert f"DAGSTER_HOME={control_plane.DAGSTER_HOME}" in env
    copies = [arguments.split() for name, arguments in parsed if name == "COPY"]
    assert ["cw_pipeline/runtime/dagster.yaml", "${DAGSTER_HOME}/dagster.yaml"] in copies
    assert ["workspace.yaml", "./"] in copies and ["cw_pipeline/", "./cw_pipeline/"] in copies
    workdir = [arguments for name, arguments in parsed if name == "WORKDIR"]
    assert workdir == [str(Path(control_plane.WORKSPACE).parent)]
    (cmd,) = [json.loads(arguments) for name, arguments in parsed if name == "CMD"]
    assert cmd == control_plane.WEBSERVER_COMMAND  # the image alone starts the webserver, as ECS does
    workspace = yaml.safe_load((ROOT / "workspace.yaml").read_text())
    assert workspace["load_from"][0]["python_module"]["module_name"] == "cw_pipeline.definitions"


def test_the_control_plane_extra_adds_the_webserver_at_dagster_s_version_and_nothing_of_the_dev_tools() -> None:
    uv = ROOT / ".tools" / "bin" / "uv"
    if not uv.exists():
        pytest.fail(f"{uv} is missing: run `make install` first")
    exported = subprocess.run(
        [
            str(uv),
            "export",
            "--frozen",
            "--no-default-groups",
            "--extra",
            "control-plane",
            "--no-emit-project",
            "--no-header",
            "--no-hashes",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    pins = dict(re.findall(r"^([a-z0-9-]+)==(\S+)", exported, re.M))
    assert pins["dagster-webserver"] == pins["dagster"]
    assert {"dagster-aws", "dagster-postgres", "psycopg2-binary", "pandas", "boto3"} <= set(pins)
    # Not the dev, infra or api dependencies; psycopg 3 would take over dagster-postgres's bare URLs.
    assert not {"pytest", "moto", "aws-cdk-lib", "cdk-nag", "psycopg", "pydantic-settings"} & set(pins)
