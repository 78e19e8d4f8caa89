"""Same inputs, same outputs: the pipeline's items and the baseline's, compared item by item after a scenario.

Run-specific attributes (``run_id``, ``collected_at``, ``evaluated_at``) are left out; numbers are compared to
1e-9 relative (the two compute averages and ratios in a different order).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

RUN_SPECIFIC = frozenset({"run_id", "collected_at", "evaluated_at"})


@dataclass(frozen=True)
class Comparison:
    compared: int
    differing: list[str]  # "pk sk: what differs", the first few
    only_one_side: int

    @property
    def identical(self) -> bool:
        return not self.differing and not self.only_one_side


def scan(session, endpoint_url: str, table_name: str, window_starts: set[str]) -> dict[tuple[str, str], dict]:
    table = session.resource("dynamodb", endpoint_url=endpoint_url).Table(table_name)
    items, request = {}, {}
    while True:
        page = table.scan(**request)
        for item in page["Items"]:
            if item.get("window_start") in window_starts:
                items[(item["pk"], item["sk"])] = {k: v for k, v in item.items() if k not in RUN_SPECIFIC}
        if "LastEvaluatedKey" not in page:
            return items
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def compare(pipeline: dict[tuple[str, str], dict], baseline: dict[tuple[str, str], dict]) -> Comparison:
    differing = []
    for key in sorted(pipeline.keys() & baseline.keys()):
        ours, theirs = pipeline[key], baseline[key]
        different = sorted(name for name in ours.keys() | theirs.keys() if not _same(ours.get(name), theirs.get(name)))
        if different:
            differing.append(f"{key[0]} {key[1]}: {', '.join(different)}")
    return Comparison(len(pipeline.keys() & baseline.keys()), differing[:5], len(pipeline.keys() ^ baseline.keys()))


def _same(a, b) -> bool:
    if isinstance(a, Decimal | int | float) and isinstance(b, Decimal | int | float) and not isinstance(a, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return a == b
