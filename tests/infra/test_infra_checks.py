"""cdk-nag (AwsSolutions) and cfn-lint over the synthesized templates."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.infra.cdk_template import ENVS


def test_cdk_nag_reports_no_unacknowledged_error(synthesis) -> None:
    report = synthesis.report
    plugins = {p["pluginName"]: p for p in report["pluginReports"]}
    assert "AwsSolutions" in plugins
    open_findings = [
        (v["ruleName"], v["severity"], [c["constructPath"] for c in v["violatingConstructs"]])
        for plugin in plugins.values()
        for v in plugin["violations"]
    ]
    assert open_findings == [], open_findings
    assert synthesis.error is None, synthesis.error


def test_every_acknowledgement_carries_a_specific_reason(synthesis) -> None:
    acknowledged = [v for p in synthesis.report["pluginReports"] for v in p.get("suppressedViolations", [])]
    assert acknowledged
    for finding in acknowledged:
        assert len(finding["reason"].split()) >= 10, finding["ruleName"]
    # Each rule is acknowledged for a reason of its own.
    reasons = {}
    for finding in acknowledged:
        reasons.setdefault(finding["reason"], set()).add(finding["ruleName"].split("[")[0])
    assert all(len(rules) == 1 for rules in reasons.values()), reasons


def test_cfn_lint_finds_no_error(synthesis) -> None:
    templates = [str(synthesis.template_path(env)) for env in ENVS]
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run(
        [str(cfn_lint), "--format", "parseable", "--non-zero-exit-code", "error", *templates],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    errors = [line for line in result.stdout.splitlines() if ":E" in line]
    assert not errors, "\n".join(errors)
