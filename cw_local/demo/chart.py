"""The demo's chart: one panel per alert rule (`cw_pipeline.thresholds.RULES`) over what the pipeline stored.

A panel draws the rule's attribute with the other statistics the catalog pulls of the same CloudWatch
metric (latency average with its p95, p99 and maximum), the rule's threshold, and the windows the
pipeline evaluated in ALARM, shaded. Everything a panel shows is read from `cw_pipeline.catalog` and
`RULES`: a new rule gets a panel, a new statistic of a watched metric gets a line.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cw_local.demo.plan import Plan, iso
from cw_local.demo.readback import Stored
from cw_pipeline import catalog, naming
from cw_pipeline.catalog import SERVICES, MetricSpec, Service
from cw_pipeline.thresholds import RULES, ThresholdRule
from cw_pipeline.windows import WINDOW


@dataclass(frozen=True)
class Panel:
    rule: ThresholdRule  # its threshold is drawn and its ALARM windows are shaded
    title: str
    series: tuple[tuple[str, str], ...]  # (aggregate attribute, legend label)
    unit: str

    @property
    def service(self) -> Service:
        return self.rule.service


def panel_for(rule: ThresholdRule) -> Panel:
    """The rule's attribute and its siblings: every catalog statistic of the same metric, in catalog order."""
    source = catalog.source_of(rule.service, rule.attribute)
    namespace = SERVICES[rule.service].namespace
    if isinstance(source, MetricSpec):
        siblings = [m for m in catalog.metrics_for(rule.service) if m.metric_name == source.metric_name]
        series = tuple((m.attribute, m.statistic) for m in siblings)
        return Panel(rule, f"{namespace} {source.metric_name}", series, source.unit)

    def metric_name(attribute: str) -> str:
        return catalog.source_of(rule.service, attribute).metric_name

    numerators = " + ".join(metric_name(attribute) for attribute in source.numerators)
    title = f"{namespace} {source.scale:g} * ({numerators}) / {metric_name(source.denominator)}"
    return Panel(rule, title, ((source.attribute, source.attribute),), source.unit)


PANELS: tuple[Panel, ...] = tuple(panel_for(rule) for rule in RULES)
# No red among the series: crimson is the threshold and the ALARM shading.
SERIES_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:olive")


def _spans(window_starts: Sequence[datetime]) -> list[tuple[datetime, datetime]]:
    """Consecutive windows merged into ``(start, end)`` spans."""
    spans: list[tuple[datetime, datetime]] = []
    for start in sorted(window_starts):
        if spans and spans[-1][1] == start:
            spans[-1] = (spans[-1][0], start + WINDOW)
        else:
            spans.append((start, start + WINDOW))
    return spans


def _draw(ax, panel: Panel, stored: Stored) -> None:
    items = stored.aggregates_of(panel.service.value)
    starts = [naming.parse_window_sk(item["window_start"]) for item in items]
    rule = panel.rule
    for (attribute, label), color in zip(panel.series, itertools.cycle(SERIES_COLORS)):
        values = [item.get(attribute, float("nan")) for item in items]
        width = 2.0 if attribute == rule.attribute else 1.1  # the rule's own statistic stands out
        # A window's value holds for the whole window: step from its start to its end.
        ax.step(
            [*starts, starts[-1] + WINDOW],
            [*values, values[-1]],
            where="post",
            label=label,
            linewidth=width,
            color=color,
        )
    ax.axhline(rule.threshold, color="crimson", linestyle="--", linewidth=1.2)
    ax.annotate(
        f"{rule.rule_id}: {rule.attribute} > {rule.threshold:g}",
        xy=(1.0, rule.threshold),
        xycoords=("axes fraction", "data"),
        xytext=(-4, 3),
        textcoords="offset points",
        ha="right",
        color="crimson",
        fontsize=8,
    )
    for index, (first, end) in enumerate(_spans(stored.alarm_windows(rule.rule_id))):
        ax.axvspan(first, end, color="crimson", alpha=0.15, label="ALARM" if index == 0 else None)
    ax.set_title(panel.title, fontsize=10, loc="left")
    ax.set_ylabel(panel.unit, fontsize=8)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8, ncols=len(panel.series) + 1)


def write_chart(stored: Stored, plan: Plan, path: Path, panels: Sequence[Panel] = PANELS) -> Path:
    """One panel per rule of what the pipeline stored, each with its threshold and its ALARM windows shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(len(panels), 1, figsize=(11, 12), sharex=True, dpi=80, squeeze=False)
    axes = axes[:, 0]
    for ax, panel in zip(axes, panels, strict=True):
        _draw(ax, panel, stored)
    axes[-1].xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=UTC))
    axes[-1].set_xlabel("window start (UTC)")
    axes[-1].set_xlim(plan.start, plan.end)
    figure.suptitle(
        f"cw-analytics demo: 5-minute aggregates from DynamoDB, {iso(plan.start)} .. {iso(plan.end)}", fontsize=11
    )
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path
