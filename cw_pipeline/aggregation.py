"""From CloudWatch datapoints to aggregates: one record per monitored resource per window.

Pure functions over pandas frames; the catalog decides units and what a missing datapoint means.
The work is vectorised over whole columns (no per-resource filtering), and done one time slice of
`SLICE_WINDOWS` windows at a time, so a long backfill's intermediate frames (the pivot, the grid of
every resource and window) stay the size of one slice, not of the whole range.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from cw_pipeline import naming
from cw_pipeline.catalog import METRICS, RATIOS, Service, WhenMissing, attributes_for
from cw_pipeline.config import MonitoredResource
from cw_pipeline.windows import WINDOW, Window

KEY_COLUMNS = ("service", "resource", "window_start")
SLICE_WINDOWS = 288  # one day of 5-minute windows
ATTRIBUTES = tuple(dict.fromkeys([m.attribute for m in METRICS] + [r.attribute for r in RATIOS]))
_SCALED = {(m.service.value, m.attribute): m.scale for m in METRICS if m.scale != 1.0}


def aggregate(
    datapoints: pd.DataFrame, resources: Sequence[MonitoredResource], windows: Sequence[Window]
) -> pd.DataFrame:
    """One row per (resource, window) for every configured resource and window, data or not.

    Columns: ``service``, ``resource``, ``window_start`` and every catalog attribute; an absent value
    is NaN. Counts without datapoints are 0; ratios over a zero or absent denominator are NaN.
    """
    windows = sorted(windows)
    if not windows or not resources:
        return pd.DataFrame(columns=[*KEY_COLUMNS, *ATTRIBUTES])
    slices = [windows[i : i + SLICE_WINDOWS] for i in range(0, len(windows), SLICE_WINDOWS)]
    parts: dict[int, pd.DataFrame] = {}
    if len(slices) == 1:
        parts = {0: datapoints}
    elif not datapoints.empty:
        # Group once: the slice of each datapoint from its window, then one frame per slice.
        slice_length = pd.Timedelta(WINDOW * SLICE_WINDOWS)
        first = pd.Timestamp(windows[0].start)
        number = ((pd.to_datetime(datapoints["window_start"], utc=True) - first) // slice_length).to_numpy()
        parts = {int(key): part for key, part in datapoints.groupby(number, sort=False)}
    frames = [_aggregate_slice(parts.get(index), resources, part) for index, part in enumerate(slices)]
    wide = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    return wide.sort_values(list(KEY_COLUMNS)).reset_index(drop=True)


def _aggregate_slice(
    datapoints: pd.DataFrame | None, resources: Sequence[MonitoredResource], windows: Sequence[Window]
) -> pd.DataFrame:
    keys = list(dict.fromkeys((r.service.value, r.name) for r in resources))
    starts = pd.DatetimeIndex([w.start for w in windows]).tz_convert("UTC")
    wide = pd.DataFrame(
        {
            "service": np.repeat(np.array([service for service, _ in keys], dtype=object), len(starts)),
            "resource": np.repeat(np.array([name for _, name in keys], dtype=object), len(starts)),
            "window_start": np.tile(starts, len(keys)),
        }
    )
    values = pd.DataFrame(np.nan, index=wide.index, columns=list(ATTRIBUTES))
    if datapoints is not None and not datapoints.empty:
        value = datapoints["value"].to_numpy(dtype=float, copy=True)
        service_column, attribute_column = datapoints["service"].to_numpy(), datapoints["attribute"].to_numpy()
        for (service, attribute), scale in _SCALED.items():
            value[(attribute_column == attribute) & (service_column == service)] *= scale
        latest = datapoints.assign(
            window_start=pd.to_datetime(datapoints["window_start"], utc=True), value=value
        ).drop_duplicates(subset=[*KEY_COLUMNS, "attribute"], keep="last")
        pivot = latest.set_index([*KEY_COLUMNS, "attribute"])["value"].unstack("attribute")
        positions = pd.MultiIndex.from_arrays([wide["service"], wide["resource"], wide["window_start"]])
        aligned = pivot.reindex(positions)
        for attribute in aligned.columns:
            values[attribute] = aligned[attribute].to_numpy()
    of_service = {service.value: (wide["service"] == service.value).to_numpy() for service in Service}
    for metric in METRICS:
        if metric.when_missing is WhenMissing.ZERO:
            column = values[metric.attribute].to_numpy(copy=True)
            column[of_service[metric.service.value] & np.isnan(column)] = 0.0
            values[metric.attribute] = column
    for ratio in RATIOS:
        rows = of_service[ratio.service.value]
        numerator = values.loc[rows, list(ratio.numerators)].sum(axis=1, min_count=len(ratio.numerators))
        denominator = values.loc[rows, ratio.denominator]
        values.loc[rows, ratio.attribute] = ratio.scale * numerator / denominator.where(denominator > 0)
    return pd.concat([wide, values], axis=1)


def aggregate_items(aggregates: pd.DataFrame, run_id: str, collected_at: datetime, retention_days: int) -> list[dict]:
    """The aggregates as items of the metrics table (the README's data contract), absent values left out."""
    collected = naming.window_sk(collected_at.replace(microsecond=0))
    attributes = {service.value: attributes_for(service) for service in Service}
    by_window: dict[pd.Timestamp, tuple[str, str, int]] = {}
    items = []
    for row in aggregates.to_dict("records"):
        timestamp = row["window_start"]
        window_keys = by_window.get(timestamp)
        if window_keys is None:
            window = Window(timestamp.to_pydatetime())
            window_keys = by_window[timestamp] = (
                naming.window_sk(window.start),
                naming.window_sk(window.end),
                expires_at(window, retention_days),
            )
        start, end, expires = window_keys
        service = row["service"]
        item = {
            "pk": naming.aggregate_pk(service, row["resource"]),
            "sk": start,
            "service": service,
            "resource": row["resource"],
            "window_start": start,
            "window_end": end,
            "collected_at": collected,
            "run_id": run_id,
            "expires_at": expires,
        }
        for attribute in attributes[service]:
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
