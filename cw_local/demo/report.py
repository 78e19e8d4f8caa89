"""The demo's text report: one function per section, each a list of lines.

The aggregate tables read their columns from `cw_pipeline.catalog` and `cw_pipeline.thresholds.RULES`
(`aggregate_columns`), headed by the attribute names of the data contract.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from cw_local.dagster_instance import SharedInstance
from cw_local.demo.plan import Plan, iso
from cw_local.demo.readback import Stored
from cw_local.fakes import ApiCalls
from cw_local.workload import Resources
from cw_pipeline import catalog, naming
from cw_pipeline.catalog import SERVICES, MetricSpec, Service, WhenMissing
from cw_pipeline.thresholds import RULES, State, rule, rules_for

AROUND_INCIDENT = timedelta(minutes=15)  # aggregates shown before and after the incident
RULER = "=" * 100


@dataclass
class DemoResult:
    plan: Plan
    emulator_endpoint: str
    resources: Resources
    summaries: list[dict]  # the handler's return values, backfill then scheduled
    api_calls: list[ApiCalls]  # per handler invocation
    publish_calls: ApiCalls
    stored: Stored
    notifications: list[dict]
    chart: Path | None
    timings: dict[str, float] = field(default_factory=dict)
    instance: SharedInstance | None = None  # where the handler's Dagster runs were recorded
    slo_report: str | None = None  # where the daily SLO report was written


# --- plain-text tables -----------------------------------------------------------------------------------


def text_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table, numbers right-aligned."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(headers)]
    numeric = [all(isinstance(row[i], int | float) or row[i] is None for row in rows) for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        cells = (v.rjust(w) if n else v.ljust(w) for v, w, n in zip(values, widths, numeric, strict=True))
        return "  ".join(cells).rstrip()

    return "\n".join([line(headers), "  ".join("-" * w for w in widths), *(line(row) for row in cells)])


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e9:
            return f"{int(value)}"
        return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"
    return str(value)


def _hhmm(window_start: str) -> str:
    return naming.parse_window_sk(window_start).strftime("%H:%M")


# --- which aggregate attributes are shown ----------------------------------------------------------------


def aggregate_columns(service: Service) -> tuple[str, ...]:
    """The attributes shown around the incident, in catalog order: the service's counts (zero without
    traffic), every statistic of each metric one of its rules reads, and its ratios."""
    watched = set()
    for service_rule in rules_for(service):
        source = catalog.source_of(service, service_rule.attribute)
        if isinstance(source, MetricSpec):
            watched.add(source.metric_name)
    metrics = tuple(
        m.attribute
        for m in catalog.metrics_for(service)
        if m.when_missing is WhenMissing.ZERO or m.metric_name in watched
    )
    return metrics + tuple(r.attribute for r in catalog.ratios_for(service))


# --- the sections ----------------------------------------------------------------------------------------


def _header(result: DemoResult) -> list[str]:
    plan = result.plan
    resources = ", ".join(f"{spec.dimension_name} {result.resources.name_for(s)}" for s, spec in SERVICES.items())
    return [
        RULER,
        "cw-analytics demo report",
        RULER,
        f"workload  {iso(plan.start)} .. {iso(plan.end)}  ({len(plan.windows)} windows of 5 minutes, "
        "one datapoint a minute per metric)",
        f"incident  {iso(plan.incident.start)} .. {iso(plan.incident.end)}  (database saturation: Lambda ~4 s, "
        "~15 % 5XX, CPU ~90 %, ~130 connections)",
        f"resources {resources}",
        f"emulator  {result.emulator_endpoint} (moto + percentiles; stopped at the end)",
        *_instance_lines(result.instance),
    ]


def _instance_lines(instance: SharedInstance | None) -> list[str]:
    if instance is None:
        return []
    lines = [f"dagster   {instance.note.removeprefix('Dagster instance: ')}"]
    if instance.shared:
        lines.append(
            "          the runs below are in it: `make ui`, then Runs (http://127.0.0.1:3000/runs), "
            "tags cw/trigger and cw/lambda_request_id"
        )
    return lines


def _invocations(result: DemoResult) -> list[str]:
    headers = ["event", "windows", "range", "aggregates", "evaluations", "notifications", "run ms", "run id"]
    rows = [
        [
            summary["trigger"],
            len(summary["windows"]),
            f"{summary['windows'][0]} .. {summary['windows'][-1]}",
            summary["aggregates_written"],
            summary["evaluations_written"],
            summary["notifications_sent"],
            summary["duration_ms"],
            summary["run_id"][:8],
        ]
        for summary in result.summaries
    ]
    return [
        "Lambda invocations (cw_pipeline.lambda_handler.handler; each is one Dagster run over its windows)",
        text_table(headers, rows),
    ]


def _api_calls(result: DemoResult) -> list[str]:
    per_invocation = [calls.labelled() for calls in result.api_calls]
    operations = sorted({label for labelled in per_invocation for label in labelled})
    rows = [[label, *(labelled.get(label, 0) for labelled in per_invocation)] for label in operations]
    rows.append(["total", *(sum(labelled.values()) for labelled in per_invocation)])
    return [
        "AWS API calls (counted by a botocore before-call hook on every client in this process)",
        text_table(["operation", *(s["trigger"] for s in result.summaries)], rows),
        f"(publishing the workload beforehand: {result.publish_calls[('cloudwatch', 'PutMetricData')]} "
        "PutMetricData calls)",
    ]


def _aggregates(result: DemoResult, service: Service) -> list[str]:
    plan, stored = result.plan, result.stored
    first, last = iso(plan.incident.start - AROUND_INCIDENT), iso(plan.incident.end + AROUND_INCIDENT)
    in_alarm = {
        e["window_start"]
        for e in stored.evaluations
        if e["state"] == State.ALARM.value and rule(e["rule_id"]).service == service
    }
    columns = aggregate_columns(service)
    rows = [
        [_hhmm(item["window_start"]) + ("*" if item["window_start"] in in_alarm else ""), *map(item.get, columns)]
        for item in stored.aggregates_of(service.value)
        if first <= item["window_start"] < last
    ]
    pk = naming.aggregate_pk(service.value, result.resources.name_for(service))
    return [
        f"Aggregates around the incident: {pk} (DynamoDB; * = a rule in ALARM)",
        text_table(["window", *columns], rows),
    ]


def _transitions(result: DemoResult) -> list[str]:
    headers = ["window", "rule", "resource", "transition", "value", "threshold", "notified"]
    rows = [
        [
            _hhmm(e["window_start"]),
            e["rule_id"],
            e["resource"],
            f"{e['previous_state']} -> {e['state']}",
            e.get("value"),
            e["threshold"],
            "yes" if e.get("notified") else "no",
        ]
        for e in result.stored.transitions()
    ]
    return [
        "Alert transitions (every evaluation whose state differs from the previous window's)",
        text_table(headers, rows),
    ]


def _burn_rates(result: DemoResult) -> list[str]:
    headers = ["window", "SLO rule", "resource", "transition", "long burn", "short burn", "rate", "windows", "notified"]
    rows = [
        [
            _hhmm(e["window_start"]),
            e["rule_id"],
            e["resource"],
            f"{e['previous_state']} -> {e['state']}",
            e.get("long_burn_rate"),
            e.get("short_burn_rate"),
            e["threshold"],
            f"{e['long_window']}/{e['short_window']}",
            "yes" if e.get("notified") else "no",
        ]
        for e in result.stored.burn_rate_transitions()
    ]
    return [
        "SLO burn-rate transitions (cw_pipeline/slos.py; ALARM when both the long and the short window burn too fast)",
        text_table(headers, rows),
    ]


def _notifications(result: DemoResult) -> list[str]:
    notifications = sorted(result.notifications, key=lambda n: (n["message"]["window_start"], n["message"]["rule_id"]))
    headers = ["window", "state", "rule", "resource", "transition", "value", "threshold"]
    rows = [
        [
            _hhmm(n["message"]["window_start"]),
            n["attributes"].get("state"),
            n["message"]["rule_id"],
            n["message"]["resource"],
            f"{n['message']['previous_state']} -> {n['message']['state']}",
            n["message"].get("value"),
            n["message"]["threshold"],
        ]
        for n in notifications
    ]
    lines = [
        f"SNS notifications read back from the inbox queue subscribed to the alerts topic ({len(notifications)})",
        text_table(headers, rows),
    ]
    if notifications:
        lines.append(f"e.g. subject: {notifications[0]['subject']}")
    return lines


def _summary(result: DemoResult) -> list[str]:
    alarms = ", ".join(f"{r.rule_id} {len(result.stored.alarm_windows(r.rule_id))}" for r in RULES)
    lines = [f"Windows in ALARM per rule: {alarms}"]
    if result.chart:
        lines.append(f"Chart: {result.chart}")
    if result.slo_report:
        lines.append(f"SLO report: {result.slo_report}")
    return [*lines, RULER]


def render_report(result: DemoResult) -> str:
    sections = [
        _header(result),
        _invocations(result),
        _api_calls(result),
        *(_aggregates(result, service) for service in SERVICES),
        _transitions(result),
        _burn_rates(result),
        _notifications(result),
        _summary(result),
    ]
    return "\n" + "\n\n".join("\n".join(section) for section in sections)
