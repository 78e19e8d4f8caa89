"""Synthesize the CDK app once per session, offline (no Docker, no AWS credentials), for dev and qa.

Both environments are stacks of one app, so one synth (with cdk-nag) serves every test. A cdk-nag
failure does not stop the templates from being written: it is recorded and reported by its own test.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra_cdk.app import create_app
from tests.infra.cdk_template import CONTEXT, ENVS


@dataclass
class Synthesis:
    outdir: Path
    error: str | None
    templates: dict[str, dict[str, Any]]

    def template_path(self, env: str) -> Path:
        return self.outdir / f"CwAnalytics-{env}.template.json"

    @property
    def report(self) -> dict[str, Any]:
        return json.loads((self.outdir / "validation-report.json").read_text())


@pytest.fixture(scope="session")
def synthesis(tmp_path_factory: pytest.TempPathFactory) -> Synthesis:
    outdir = tmp_path_factory.mktemp("cdk.out")
    error = None
    try:
        create_app(CONTEXT, outdir=str(outdir), envs=ENVS).synth()
    except RuntimeError as exc:  # jsii surfaces a failed validation (cdk-nag errors) as RuntimeError
        error = str(exc)
    templates = {}
    for env in ENVS:
        path = outdir / f"CwAnalytics-{env}.template.json"
        if not path.exists():
            pytest.fail(f"synth wrote no template for {env}: {error}")
        templates[env] = json.loads(path.read_text())
    return Synthesis(outdir=outdir, error=error, templates=templates)


@pytest.fixture(scope="session")
def dev_json(synthesis: Synthesis) -> dict[str, Any]:
    return synthesis.templates["dev"]


@pytest.fixture(scope="session")
def qa_json(synthesis: Synthesis) -> dict[str, Any]:
    return synthesis.templates["qa"]


@pytest.fixture(scope="session")
def dev(dev_json: dict[str, Any]) -> Template:
    return Template.from_json(dev_json)


@pytest.fixture(scope="session")
def qa(qa_json: dict[str, Any]) -> Template:
    return Template.from_json(qa_json)
