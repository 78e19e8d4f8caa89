"""The daily SLO report as one self-contained HTML page: tables and inline SVG charts, no script, no asset.

The charts are SVG written here rather than matplotlib PNGs: matplotlib is a development dependency,
and the aggregator image should not carry a plotting stack for a few polylines.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from html import escape

from cw_pipeline.slo_report import BurnSeries, Incident, SloReport
from cw_pipeline.slos import POLICIES, Severity

CHART_WIDTH, CHART_HEIGHT = 720, 170
_LEFT, _RIGHT, _TOP, _BOTTOM = 48, 24, 10, 24
SEVERITY_COLORS = {Severity.PAGE.value: "#d62728", Severity.TICKET.value: "#ff7f0e"}
# Reference lines: a burn rate of 1 spends the budget exactly over the period; the fastest page rate.
REFERENCE_RATES = (1.0, max(p.burn_rate for p in POLICIES if p.severity is Severity.PAGE))

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 24px; color: #222; }
table { border-collapse: collapse; margin: 8px 0 24px; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; font-size: 13px; }
th { background: #f2f2f2; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.bad { color: #b00020; font-weight: 600; }
.good { color: #1b7f3b; }
figure { margin: 0 0 16px; }
figcaption { font-size: 13px; margin-bottom: 4px; }
"""


def _time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


def _number(value: float | None, digits: int = 4) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}g}"


def _duration(span: timedelta) -> str:
    minutes = int(span.total_seconds()) // 60
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def _table(headers: Sequence[str], rows: Sequence[Sequence[tuple[str, str]]], empty: str) -> str:
    """``rows`` of ``(text, css class)`` cells, the text already escaped."""
    if not rows:
        return f"<p>{escape(empty)}</p>"
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f'<td class="{css}">{text}</td>' if css else f"<td>{text}</td>" for text, css in row) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def burn_chart_svg(series: BurnSeries, incidents: Sequence[Incident], start: datetime, end: datetime) -> str:
    """The per-window burn rate of one SLO on one resource, its burn-rate incidents shaded by severity."""
    width, height = CHART_WIDTH - _LEFT - _RIGHT, CHART_HEIGHT - _TOP - _BOTTOM
    finite = [v for v in series.burn_rates if not math.isnan(v)]
    top = max([*finite, REFERENCE_RATES[-1]]) * 1.1
    span = (end - start).total_seconds()

    def x(moment: datetime) -> float:
        return _LEFT + width * (moment - start).total_seconds() / span

    def y(rate: float) -> float:
        return _TOP + height * (1 - rate / top)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{CHART_WIDTH}" height="{CHART_HEIGHT}" '
        f'role="img" aria-label="burn rate of {escape(series.slo_id)} on {escape(series.resource)}">',
        f'<rect x="{_LEFT}" y="{_TOP}" width="{width}" height="{height}" fill="#fafafa" stroke="#ccc"/>',
    ]
    for incident in incidents:
        severity = incident.name.rsplit(" ", 1)[-1]
        left, right = x(max(incident.start, start)), x(min(incident.end, end))
        parts.append(
            f'<rect x="{left:.1f}" y="{_TOP}" width="{max(right - left, 1):.1f}" height="{height}" '
            f'fill="{SEVERITY_COLORS.get(severity, "#999")}" fill-opacity="0.18"><title>{escape(incident.name)} '
            f"ALARM {_time(incident.start)} .. {_time(incident.end)}</title></rect>"
        )
    parts.append(f'<text x="{_LEFT - 4}" y="{_TOP + 8}" font-size="10" text-anchor="end">{top:.3g}</text>')
    for rate in REFERENCE_RATES:
        parts.append(
            f'<line x1="{_LEFT}" x2="{_LEFT + width}" y1="{y(rate):.1f}" y2="{y(rate):.1f}" stroke="#888" '
            f'stroke-dasharray="4 3"/><text x="{_LEFT - 4}" y="{y(rate) + 4:.1f}" font-size="10" '
            f'text-anchor="end">{rate:g}</text>'
        )
    segment: list[str] = []
    segments: list[list[str]] = []
    for moment, rate in zip(series.window_starts, series.burn_rates, strict=True):
        if math.isnan(rate):  # no events: the line breaks rather than drawing a zero
            segments.append(segment)
            segment = []
            continue
        segment.append(f"{x(moment):.1f},{y(rate):.1f}")
    segments.append(segment)
    for points in filter(None, segments):
        parts.append(f'<polyline fill="none" stroke="#1f77b4" stroke-width="1.5" points="{" ".join(points)}"/>')
    hours = int(span // 3600)
    step = 6 if hours >= 12 else 1
    for hour in range(0, hours + 1, step):
        tick = start + timedelta(hours=hour)
        parts.append(
            f'<text x="{x(tick):.1f}" y="{CHART_HEIGHT - 6}" font-size="10" text-anchor="middle">{tick:%H:%M}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def render_html(report: SloReport, env: str) -> str:
    """The whole page; every text from the data is escaped."""
    period = f"{_time(report.start)} .. {_time(report.end)} UTC"
    attainment_rows = [
        [
            (escape(a.slo_id), ""),
            (escape(a.resource), ""),
            (f"{a.objective:g} %", "num"),
            (f"{a.good:.0f} / {a.total:.0f}", "num"),
            (
                "no events" if a.attainment is None else f"{a.attainment:.3f} %",
                "num" + ("" if a.met is None else (" good" if a.met else " bad")),
            ),
            (
                "-" if a.budget_remaining is None else f"{100 * a.budget_remaining:.1f} %",
                "num" + (" bad" if a.budget_remaining is not None and a.budget_remaining < 0 else ""),
            ),
            (str(a.budget_windows), "num"),
        ]
        for a in report.attainment
    ]
    incident_rows = [
        [
            (escape(i.kind.replace("_", " ")), ""),
            (escape(i.name), ""),
            (escape(i.resource), ""),
            (_time(i.start) + (" (from the day before)" if i.began_before else ""), ""),
            (_time(i.end) + (" (still open)" if i.still_open else ""), ""),
            (_duration(i.duration), "num"),
            (_number(i.peak), "num"),
            (_number(i.threshold), "num"),
        ]
        for i in report.incidents
    ]
    worst_rows = [
        [
            (escape(w.slo_id), ""),
            (escape(w.resource), ""),
            (_time(w.window_start), ""),
            (escape(w.measure), ""),
            (_number(w.value), "num"),
            (f"{w.bad:.0f} / {w.total:.0f}", "num"),
        ]
        for w in report.worst_windows
    ]
    charts = []
    for series in report.series:
        of_series = [
            i
            for i in report.incidents
            if i.kind == "burn_rate" and i.name.split(" ")[0] == series.slo_id and i.resource == series.resource
        ]
        charts.append(
            f"<figure><figcaption>{escape(series.slo_id)} on {escape(series.resource)}: burn rate per 5-minute "
            f"window (dashed: {', '.join(f'{r:g}' for r in REFERENCE_RATES)}; shaded: burn-rate ALARM)"
            f"</figcaption>{burn_chart_svg(series, of_series, report.start, report.end)}</figure>"
        )
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>SLO report {escape(env)} {report.start:%Y-%m-%d}</title><style>{_STYLE}</style></head><body>",
            f"<h1>SLO report, cw-analytics {escape(env)}</h1>",
            f"<p>{period}; generated {_time(report.generated_at)} UTC.</p>",
            "<h2>Attainment and error budget</h2>",
            _table(
                ["SLO", "resource", "objective", "good / total", "attainment", "budget left", "budget windows"],
                attainment_rows,
                "No SLO had data in this period.",
            ),
            "<h2>Burn rate</h2>",
            *(charts or ["<p>No SLO had events in this period.</p>"]),
            "<h2>Incidents (ALARM intervals)</h2>",
            _table(
                ["kind", "rule / SLO", "resource", "start", "end", "duration", "peak", "threshold"],
                incident_rows,
                "No rule and no SLO severity was in ALARM.",
            ),
            "<h2>Worst windows</h2>",
            _table(
                ["SLO", "resource", "window", "measure", "value", "bad / total"],
                worst_rows,
                "No window had a bad event.",
            ),
            "</body></html>",
        ]
    )
