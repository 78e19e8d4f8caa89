"""ListMetrics' and GetMetricData's answers of the local emulator, written without moto's serializer walk.

moto's serializer builds every response by walking botocore's output shape value by value, looking each
member up under several candidate names: ~80 ms for one GetMetricData of 500 queries over two periods, and
~30 ms per ListMetrics page, the emulator's cost rather than the client's. The answers of this module are
plain (dicts of strings, numbers and datetimes; moto's metrics), so their JSON form is built directly, the
same members in the same order with the same conversions (strings, doubles, Unix timestamps), and written
by moto's JSON serializer itself. Any other result (moto's Metrics Insights answers) or protocol goes
through moto's serializer.

Installed by `cw_local.percentiles.install` as moto's ``CloudWatchResponse.list_metrics`` and ``get_metric_data``.
"""

from __future__ import annotations

from typing import Any

from moto import settings
from moto.cloudwatch.exceptions import ValidationError
from moto.cloudwatch.models import MetricDatumBase
from moto.cloudwatch.responses import CloudWatchResponse
from moto.core.responses import ActionContext, ActionResult
from moto.core.serialize import JSONSerializer, TimestampSerializer, parse_to_aware_datetime

from cw_local.metric_index import list_metrics


def list_metrics_response(self: CloudWatchResponse) -> ActionResult:
    next_token, metrics = list_metrics(
        self.cloudwatch_backend,
        self._get_param("NextToken"),
        self._get_param("Namespace"),
        self._get_param("MetricName"),
        self._get_params().get("Dimensions", []),
        self._get_param("RecentlyActive"),
    )
    result = {"Metrics": metrics, "NextToken": next_token}
    return SerializedResult(result, serialized_metrics(metrics, next_token))


def get_metric_data_response(self: CloudWatchResponse) -> ActionResult:
    # moto's CloudWatchResponse.get_metric_data; `cw_local.percentiles`' results answered without the serializer.
    params = self._get_params()
    queries = params.get("MetricDataQueries", [])
    for query in queries:
        if "MetricStat" not in query and "Expression" not in query:
            # AWS also returns the empty line
            raise ValidationError("The parameter MetricDataQueries.member.1.MetricStat is required.\n")
    results = self.cloudwatch_backend.get_metric_data(
        start_time=params["StartTime"],
        end_time=params["EndTime"],
        queries=queries,
        scan_by=params.get("ScanBy") or "TimestampDescending",
    )
    result = {"MetricDataResults": results}
    serialized = serialized_metric_data(results)
    return ActionResult(result) if serialized is None else SerializedResult(result, serialized)


# --- answers written without moto's serializer walk ------------------------------------------------


class SerializedResult(ActionResult):
    """A result with its JSON form already built (what moto's serializer builds from it): written by moto's JSON
    serializer; for any other serializer, or a service with response transformers, the result is serialized."""

    def __init__(self, result: object, serialized: dict[str, Any]) -> None:
        super().__init__(result)
        self.serialized = serialized

    def execute_result(self, context: ActionContext):
        if context.serializer_class is not JSONSerializer or getattr(
            context.response, "RESPONSE_KEY_PATH_TO_TRANSFORMER", None
        ):
            return super().execute_result(context)
        serializer = JSONSerializer(operation_model=context.operation_model, pretty_print=settings.PRETTIFY_RESPONSES)
        response = serializer._serialized_result_to_response(
            serializer._create_default_response(), self.result, context.operation_model.output_shape, self.serialized
        )
        return response["status_code"], response["headers"], response["body"]


# The keys of a result of `cw_local.percentiles` (its `_result`).
_RESULT_KEYS = frozenset({"id", "label", "values", "timestamps", "status_code"})


def serialized_metric_data(results: list) -> dict[str, Any] | None:
    """GetMetricData's answer as moto's serializer writes it (shape order: Id, Label, Timestamps, Values,
    StatusCode); None when a result is not one of `cw_local.percentiles`' own."""
    entries = []
    for result in results:
        if type(result) is not dict or result.keys() != _RESULT_KEYS:
            return None
        entry: dict[str, Any] = {}
        _put_string(entry, "Id", result["id"])
        _put_string(entry, "Label", result["label"])
        if result["timestamps"] is not None:
            entry["Timestamps"] = [_unix_timestamp(t) for t in result["timestamps"]]
        if result["values"] is not None:
            entry["Values"] = [float(value) for value in result["values"]]
        _put_string(entry, "StatusCode", result["status_code"])
        entries.append(entry)
    return {"MetricDataResults": entries}


def serialized_metrics(metrics: list[MetricDatumBase], next_token: str | None) -> dict[str, Any]:
    """ListMetrics' answer as moto's serializer writes it (Namespace, MetricName, Dimensions: Name, Value)."""
    entries = []
    for metric in metrics:
        entry: dict[str, Any] = {}
        _put_string(entry, "Namespace", metric.namespace)
        _put_string(entry, "MetricName", metric.name)
        if metric.dimensions is not None:
            dimensions = []
            for dimension in metric.dimensions:
                pair: dict[str, Any] = {}
                _put_string(pair, "Name", dimension.name)
                _put_string(pair, "Value", dimension.value)
                dimensions.append(pair)
            entry["Dimensions"] = dimensions
        entries.append(entry)
    serialized: dict[str, Any] = {"Metrics": entries}
    _put_string(serialized, "NextToken", next_token)
    return serialized


def _put_string(serialized: dict[str, Any], key: str, value: Any) -> None:
    # moto: a None member is left out; a string member is str(value), except {} and [] kept as they are.
    if value is not None:
        serialized[key] = str(value) if value not in ({}, []) else value


def _unix_timestamp(value: Any) -> int | float:
    return TimestampSerializer._timestamp_unixtimestamp(parse_to_aware_datetime(value))
