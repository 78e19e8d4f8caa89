"""How the two Lambdas and the Dagster control plane are packaged: container images, fingerprinted at synth,
built only at deploy.

No Docker engine runs at synth or in the tests: CDK hashes each image's build context into the asset
hash and the CLI builds and pushes the image when it deploys. The aggregator's image is built from
the repository root (its ``Dockerfile`` belongs to the Lambda-runtime issue); the API's from
``interactions_api/`` with the Dockerfile there, which installs that directory's
``requirements.txt``: pyproject's ``api`` extra pinned to ``uv.lock`` (``api_requirements`` computes
that list, and a test holds the file to it). The control plane's (webserver, daemon, run tasks) is built
from the repository root too, with ``Dockerfile.control-plane``: the aggregator's lock plus the
``control-plane`` extra.
"""

from __future__ import annotations

import re
import tomllib
from functools import cache
from pathlib import Path

from aws_cdk import IgnoreMode
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

REPO_ROOT = Path(__file__).resolve().parent.parent
API_DIR = REPO_ROOT / "interactions_api"

CONTROL_PLANE_DOCKERFILE = "Dockerfile.control-plane"
AGGREGATOR_HANDLER = "cw_pipeline.lambda_handler.handler"
API_HANDLER = "interactions_api.app.handler"
PLATFORM = ecr_assets.Platform.LINUX_AMD64
ARCHITECTURE = lambda_.Architecture.X86_64

# Never part of the aggregator's build context nor of its fingerprint (synth stays fast): the local
# toolchain, caches, synth output and everything that is not the pipeline's runtime.
AGGREGATOR_EXCLUDES = [
    ".git",
    ".venv",
    ".tools",
    "node_modules",
    "**/node_modules",
    "cdk.out",
    "**/cdk.out",
    "**/__pycache__",
    "**/*.pyc",
    ".pytest_cache",
    ".ruff_cache",
    ".demo",
    ".dagster_home",
    "infra_cdk",
    "tests",
    "docs",
    "bench",
    "scripts",
    "cw_local",
    "interactions_api",
]
API_EXCLUDES = ["**/__pycache__", "**/*.pyc"]

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?")


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@cache
def api_requirements() -> tuple[str, ...]:
    """pyproject's ``api`` extra as ``name[extras]==version`` with the versions locked in uv.lock."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    lock = tomllib.loads((REPO_ROOT / "uv.lock").read_text())
    locked = {_normalize(p["name"]): p["version"] for p in lock.get("package", []) if "version" in p}
    pinned = []
    for requirement in project["project"]["optional-dependencies"]["api"]:
        match = _NAME.match(requirement)
        if match is None:
            raise ValueError(f"cannot read requirement {requirement!r} of pyproject's api extra")
        name, extras = match.group(1), match.group(2) or ""
        version = locked.get(_normalize(name))
        if version is None:
            raise ValueError(f"{name} (pyproject's api extra) is not in uv.lock: run uv lock")
        pinned.append(f"{name}{extras}=={version}")
    return tuple(pinned)


def _lambda_image(directory: Path, handler: str, exclude: list[str]) -> lambda_.DockerImageCode:
    """A Lambda image built from ``directory``'s Dockerfile for the Lambdas' platform, ``handler`` its command."""
    return lambda_.DockerImageCode.from_image_asset(
        str(directory),
        file="Dockerfile",
        cmd=[handler],
        platform=PLATFORM,
        exclude=exclude,
        ignore_mode=IgnoreMode.GLOB,
    )


def aggregator_code() -> lambda_.DockerImageCode:
    return _lambda_image(REPO_ROOT, AGGREGATOR_HANDLER, AGGREGATOR_EXCLUDES)


def api_code() -> lambda_.DockerImageCode:
    return _lambda_image(API_DIR, API_HANDLER, API_EXCLUDES)


def control_plane_image(scope: Construct, construct_id: str) -> ecr_assets.DockerImageAsset:
    """The Dagster control plane's image: one asset for the webserver, the daemon and the run tasks."""
    return ecr_assets.DockerImageAsset(
        scope,
        construct_id,
        directory=str(REPO_ROOT),
        file=CONTROL_PLANE_DOCKERFILE,
        platform=PLATFORM,
        exclude=AGGREGATOR_EXCLUDES,
        ignore_mode=IgnoreMode.GLOB,
    )
