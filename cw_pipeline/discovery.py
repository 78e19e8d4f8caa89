"""Which resources a run watches: named in the configuration, or found from their tags or their metrics.

- ``names``: the ``CW_*_NAMES`` lists (`cw_pipeline.config`).
- ``tags``: one Resource Groups Tagging API ``GetResources`` over the resource types of `TAGGED_TYPES`,
  filtered by ``CW_DISCOVERY_TAGS``; each ARN becomes the service's dimension value by its row's pattern.
  A REST API's ARN carries its id, not its name (``.../restapis/a1b2c3``), while CloudWatch's ``ApiName``
  dimension is the name: the ids are mapped to names with API Gateway ``GetRestApis`` (500 per page), which
  is called only when the tags found at least one REST API.
- ``metrics``: CloudWatch ``ListMetrics`` with ``RecentlyActive=PT3H`` for every (namespace, metric name)
  of the catalog, filtered on the service's dimension name; a metric counts only when that dimension is its
  only one, as in the queries the pipeline makes. Resources that published none of the catalog's metrics
  in the last three hours are not watched (they would have no data anyway).

``CW_EXCLUDE`` patterns then drop every resource whose ``name`` or ``service:name`` matches one.
Every AWS call made is counted, by operation, for the run's metadata.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from cw_pipeline.catalog import METRICS, SERVICES, Service
from cw_pipeline.config import Discovery, MonitoredResource

ClientFor = Callable[[str], object]  # boto3 service name -> client
SAMPLE_SIZE = 5
RECENTLY_ACTIVE = "PT3H"
RESOURCES_PER_PAGE = 100  # GetResources' maximum
REST_APIS_PER_PAGE = 500  # GetRestApis' maximum
LIST_CONCURRENCY = 8  # ListMetrics listings in flight at once


def _rest_api_names(client_for: ClientFor, calls: Counter) -> dict[str, str]:
    """REST API id -> name, every REST API of the account and region."""
    names: dict[str, str] = {}
    request: dict = {"limit": REST_APIS_PER_PAGE}
    while True:
        page = client_for("apigateway").get_rest_apis(**request)
        calls["API Gateway GetRestApis"] += 1
        names.update({api["id"]: api["name"] for api in page.get("items", [])})
        if not page.get("position"):
            return names
        request["position"] = page["position"]


@dataclass(frozen=True)
class TaggedType:
    """How the tagging API shows one service's resources, and how an ARN becomes its dimension value."""

    service: Service
    resource_type: str  # GetResources' ResourceTypeFilters value
    arn_pattern: re.Pattern  # its group ``value`` is the dimension value, or the id that ``names_by_id`` maps
    names_by_id: Callable[[ClientFor, Counter], dict[str, str]] | None = None


TAGGED_TYPES: dict[Service, TaggedType] = {
    row.service: row
    for row in (
        TaggedType(
            Service.APIGATEWAY,
            "apigateway:restapis",
            re.compile(r"^arn:[\w-]+:apigateway:[\w-]*::/restapis/(?P<value>[^/]+)$"),
            names_by_id=_rest_api_names,
        ),
        TaggedType(
            Service.LAMBDA,
            "lambda:function",
            re.compile(r"^arn:[\w-]+:lambda:[\w-]*:\d*:function:(?P<value>[^:]+)$"),
        ),
        TaggedType(Service.RDS, "rds:db", re.compile(r"^arn:[\w-]+:rds:[\w-]*:\d*:db:(?P<value>[^:]+)$")),
    )
}


@dataclass(frozen=True)
class Discovered:
    mode: Discovery
    resources: tuple[MonitoredResource, ...]  # watched, in catalog service order
    excluded: tuple[MonitoredResource, ...] = ()  # found, then dropped by CW_EXCLUDE
    calls: Mapping[str, int] = field(default_factory=dict)  # "Service Operation" -> calls made

    def per_service(self) -> dict[str, int]:
        counts = Counter(resource.service.value for resource in self.resources)
        return {service.value: counts.get(service.value, 0) for service in SERVICES}

    def metadata(self) -> dict:
        """Plain values for the run's metadata: counts per service, a sample of names, exclusions, calls."""
        sample: dict[str, list[str]] = {service.value: [] for service in SERVICES}
        for resource in self.resources:
            names = sample[resource.service.value]
            if len(names) < SAMPLE_SIZE:
                names.append(resource.name)
        return {
            "discovery": self.mode.value,
            "resources_per_service": self.per_service(),
            "resources_sample": sample,
            "resources_excluded": [f"{r.service.value}:{r.name}" for r in self.excluded[:SAMPLE_SIZE]],
            "resources_excluded_count": len(self.excluded),
            "discovery_calls": dict(sorted(self.calls.items())),
        }


def discover(
    mode: Discovery,
    client_for: ClientFor,
    names: Mapping[str, Sequence[str]] | None = None,
    tags: Sequence[tuple[str, str]] = (),
    exclude: Sequence[str] = (),
) -> Discovered:
    """The resources to watch: ``names`` (service value -> dimension values) in ``names`` mode, else found."""
    calls: Counter = Counter()
    if mode is Discovery.NAMES:
        found = [MonitoredResource(s, n) for s in SERVICES for n in (names or {}).get(s.value, [])]
    elif mode is Discovery.TAGS:
        found = by_tags(client_for, tags, calls)
    else:
        found = by_metrics(client_for, calls)
    kept = [r for r in found if not is_excluded(r, exclude)]
    dropped = [r for r in found if is_excluded(r, exclude)]
    return Discovered(mode, tuple(kept), tuple(dropped), dict(calls))


def by_tags(client_for: ClientFor, tags: Sequence[tuple[str, str]], calls: Counter) -> list[MonitoredResource]:
    values_by_key: dict[str, list[str]] = {}
    for key, value in tags:
        values_by_key.setdefault(key, []).append(value)
    request: dict = {
        "TagFilters": [{"Key": key, "Values": values} for key, values in values_by_key.items()],
        "ResourceTypeFilters": [row.resource_type for row in TAGGED_TYPES.values()],
        "ResourcesPerPage": RESOURCES_PER_PAGE,
    }
    found: dict[Service, set[str]] = {service: set() for service in SERVICES}
    while True:
        page = client_for("resourcegroupstaggingapi").get_resources(**request)
        calls["Resource Groups Tagging GetResources"] += 1
        for mapping in page.get("ResourceTagMappingList", []):
            for row in TAGGED_TYPES.values():
                match = row.arn_pattern.match(mapping["ResourceARN"])
                if match:
                    found[row.service].add(match.group("value"))
                    break
        if not page.get("PaginationToken"):
            break
        request["PaginationToken"] = page["PaginationToken"]
    for row in TAGGED_TYPES.values():
        if row.names_by_id is not None and found[row.service]:
            by_id = row.names_by_id(client_for, calls)
            # An id the second call does not know was deleted in between: nothing to watch.
            found[row.service] = {by_id[value] for value in found[row.service] if value in by_id}
    return _in_order(found)


def by_metrics(client_for: ClientFor, calls: Counter) -> list[MonitoredResource]:
    """Every resource with a catalog metric published in the last three hours; the listings of the catalog's
    (namespace, metric name) pairs are independent, so up to `LIST_CONCURRENCY` run at once."""
    cloudwatch = client_for("cloudwatch")  # a client is thread-safe
    pairs = list(dict.fromkeys((m.service, m.metric_name) for m in METRICS))
    with ThreadPoolExecutor(max_workers=LIST_CONCURRENCY) as pool:
        listed = list(pool.map(lambda pair: _recently_active(cloudwatch, *pair), pairs))
    found: dict[Service, set[str]] = {service: set() for service in SERVICES}
    for (service, _), (names, pages) in zip(pairs, listed, strict=True):
        found[service] |= names
        calls["CloudWatch ListMetrics"] += pages
    return _in_order(found)


def _recently_active(cloudwatch, service: Service, metric_name: str) -> tuple[set[str], int]:
    """The dimension values of one catalog metric published recently, and the ListMetrics pages read."""
    spec = SERVICES[service]
    request: dict = {
        "Namespace": spec.namespace,
        "MetricName": metric_name,
        "Dimensions": [{"Name": spec.dimension_name}],
        "RecentlyActive": RECENTLY_ACTIVE,
    }
    names: set[str] = set()
    pages = 0
    while True:
        page = cloudwatch.list_metrics(**request)
        pages += 1
        for metric in page.get("Metrics", []):
            dimensions = metric.get("Dimensions", [])
            # Only the metric with exactly the service's dimension is the one the pipeline's queries read.
            if len(dimensions) == 1 and dimensions[0]["Name"] == spec.dimension_name:
                names.add(dimensions[0]["Value"])
        if not page.get("NextToken"):
            return names, pages
        request["NextToken"] = page["NextToken"]


def is_excluded(resource: MonitoredResource, patterns: Iterable[str]) -> bool:
    qualified = f"{resource.service.value}:{resource.name}"
    return any(fnmatchcase(resource.name, p) or fnmatchcase(qualified, p) for p in patterns)


def _in_order(found: Mapping[Service, set[str]]) -> list[MonitoredResource]:
    return [MonitoredResource(service, name) for service in SERVICES for name in sorted(found[service])]
