"""The CDK app: ``cdk synth -c env=qa`` from infra_cdk/, or offline ``python infra_cdk/app.py -c env=qa``.

Only assembles: reads the context (cdk.json, then ``-c`` values), builds the stack for one environment,
registers cdk-nag's AwsSolutions checks (synth fails on an unacknowledged error) and synthesizes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks

from infra_cdk.context import InfraContext
from infra_cdk.stack import AnalyticsStack

HERE = Path(__file__).resolve().parent

CDK_JSON = HERE / "cdk.json"


def cdk_json_context() -> dict[str, Any]:
    return dict(json.loads(CDK_JSON.read_text()).get("context", {}))


def create_app(
    context: Mapping[str, Any] | None = None,
    outdir: str | None = None,
    envs: Sequence[str] | None = None,
) -> App:
    """The app with cdk.json's context overridden by ``context``; ``envs`` builds several environments
    side by side in one app (the tests synthesize dev and qa at once)."""
    merged = {**cdk_json_context(), **(context or {})}
    app = App(context=merged, outdir=outdir)
    for env in envs or [None]:
        ctx = InfraContext.from_context(
            lambda key, env=env: env if key == "env" and env is not None else app.node.try_get_context(key)
        )
        AnalyticsStack(app, f"CwAnalytics-{ctx.env}", ctx=ctx)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


def _parse(argv: Sequence[str]) -> tuple[dict[str, str], str | None]:
    parser = argparse.ArgumentParser(description="Synthesize the cw-analytics CDK app without the cdk CLI.")
    parser.add_argument("-c", "--context", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("-o", "--output", default=None, help="cloud assembly directory (default: CDK_OUTDIR)")
    args = parser.parse_args(argv)
    context = {}
    for item in args.context:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"-c {item!r}: expected KEY=VALUE")
        context[key] = value
    return context, args.output


def main(argv: Sequence[str] | None = None) -> None:
    context, output = _parse(sys.argv[1:] if argv is None else argv)
    outdir = output or os.environ.get("CDK_OUTDIR") or str(HERE / "cdk.out")
    create_app(context, outdir=outdir).synth()


if __name__ == "__main__":
    main()
