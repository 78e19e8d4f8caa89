"""PutMetricData items for one metric of one resource for one minute, shared by the workload and the estate."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from cw_pipeline.catalog import SERVICES, Service

MAX_VALUES_PER_ITEM = 150  # PutMetricData's limit of Values (and Counts) in one item


def metric_data(
    service: Service,
    metric_name: str,
    resource: str,
    timestamp: datetime,
    unit: str,
    values: Sequence[float],
    counts: Sequence[float],
) -> list[dict[str, Any]]:
    """One ``Value`` when a single sample was seen once, else ``Values``/``Counts`` in chunks of 150."""
    base = {
        "MetricName": metric_name,
        "Dimensions": [{"Name": SERVICES[service].dimension_name, "Value": resource}],
        "Timestamp": timestamp,
        "Unit": unit,
    }
    if tuple(counts) == (1.0,):
        return [{**base, "Value": values[0]}]
    return [
        {
            **base,
            "Values": list(values[i : i + MAX_VALUES_PER_ITEM]),
            "Counts": list(counts[i : i + MAX_VALUES_PER_ITEM]),
        }
        for i in range(0, len(values), MAX_VALUES_PER_ITEM)
    ]
