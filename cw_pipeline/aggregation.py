"""From CloudWatch datapoints to aggregates: one record per monitored resource per window.

Pure functions over pandas frames; the catalog decides units and what a missing datapoint means.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

import pandas as pd

from cw_pipeline import naming
from cw_pipeline.catalog import METRICS, RATIOS, Service, WhenMissing, attributes_for
from cw_pipeline.config import MonitoredResource
from cw_pipeline.windows import Window

KEY_COLUMNS = ("service", "resource", "window_start")


def aggregate(
    datapoints: pd.DataFrame, resources: Sequence[MonitoredResource], windows: Sequence[Window]
) -> pd.DataFrame:
    """One row per (resource, window) for every configured resource and window, data or not.

    Columns: ``service``, ``resource``, ``window_start`` and every catalog attribute; an absent value
    is NaN. Counts without datapoints are 0; ratios over a zero or absent denominator are NaN.
    """
    grid = pd.DataFrame(
        [(r.service.value, r.name, w.start) for r in resources for w in windows], columns=list(KEY_COLUMNS)
    )
    grid["window_start"] = pd.to_datetime(grid["window_start"], utc=True)
    scales = {(m.service.value, m.attribute): m.scale for m in METRICS}
    if datapoints.empty:
        wide = grid
    else:
        scaled = datapoints.assign(
            value=[v * scales[(s, a)] for s, a, v in zip(datapoints["service"], datapoints["attribute"],
                                                          datapoints["value"], strict=True)]
        )  # fmt: skip
        pivot = scaled.pivot_table(index=list(KEY_COLUMNS), columns="attribute", values="value", aggfunc="last")
        wide = grid.merge(pivot.reset_index(), on=list(KEY_COLUMNS), how="left")
    for metric in METRICS:
        if metric.attribute not in wide.columns:
            wide[metric.attribute] = math.nan
        if metric.when_missing is WhenMissing.ZERO:
            of_service = wide["service"] == metric.service.value
            wide.loc[of_service, metric.attribute] = wide.loc[of_service, metric.attribute].fillna(0.0)
    for ratio in RATIOS:
        of_service = wide["service"] == ratio.service.value
        numerator = wide.loc[of_service, list(ratio.numerators)].sum(axis=1, min_count=len(ratio.numerators))
        denominator = wide.loc[of_service, ratio.denominator]
        value = ratio.scale * numerator / denominator.where(denominator > 0)
        if ratio.attribute not in wide.columns:
            wide[ratio.attribute] = math.nan
        wide.loc[of_service, ratio.attribute] = value
    return wide.sort_values(list(KEY_COLUMNS)).reset_index(drop=True)


def aggregate_items(aggregates: pd.DataFrame, run_id: str, collected_at: datetime, retention_days: int) -> list[dict]:
    """The aggregates as items of the metrics table (the README's data contract), absent values left out."""
    items = []
    for row in aggregates.to_dict("records"):
        start = row["window_start"].to_pydatetime()
        window = Window(start)
        service = row["service"]
        item = {
            "pk": naming.aggregate_pk(service, row["resource"]),
            "sk": naming.window_sk(window.start),
            "service": service,
            "resource": row["resource"],
            "window_start": naming.window_sk(window.start),
            "window_end": naming.window_sk(window.end),
            "collected_at": naming.window_sk(collected_at.replace(microsecond=0)),
            "run_id": run_id,
            "expires_at": expires_at(window, retention_days),
        }
        for attribute in attributes_for(Service(service)):
            value = row.get(attribute)
            if value is not None and not math.isnan(value):
                item[attribute] = value
        items.append(item)
    return items


def expires_at(window: Window, retention_days: int) -> int:
    """TTL in epoch seconds, counted from the window start so backfilled data does not outlive fresh data."""
    return int((window.start + timedelta(days=retention_days)).timestamp())


def aggregates_from_items(items: Sequence[dict]) -> pd.DataFrame:
    """Aggregate items read back from the table as the frame `aggregate` returns (absent values NaN).

    Every attribute of the items' services is a column, so a value no item has is NaN rather than a
    missing column; rows are sorted like `aggregate`'s.
    """
    services = sorted({item["service"] for item in items})
    attributes = list(dict.fromkeys(a for service in services for a in attributes_for(Service(service))))
    rows = [
        {
            "service": item["service"],
            "resource": item["resource"],
            "window_start": naming.parse_window_sk(item["window_start"]),
            **{attribute: float(item[attribute]) for attribute in attributes if attribute in item},
        }
        for item in items
    ]
    frame = pd.DataFrame(rows, columns=[*KEY_COLUMNS, *attributes])
    frame["window_start"] = pd.to_datetime(frame["window_start"], utc=True)
    frame[attributes] = frame[attributes].astype(float)
    return frame.sort_values(list(KEY_COLUMNS)).reset_index(drop=True)
