"""Same inputs, same outputs: the pipeline's items and the baseline's, compared item by item after a scenario.

Every item of the scenario's windows is compared: aggregates, threshold evaluations and burn-rate evaluations
(told apart by their partition key, `kind_of`). Run-specific attributes (``run_id``, ``collected_at``,
``evaluated_at``) are left out; numbers are compared to 1e-9 relative (the two compute averages, ratios and
sums in a different order).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

from cw_pipeline import naming

RUN_SPECIFIC = frozenset({"run_id", "collected_at", "evaluated_at"})


@dataclass(frozen=True)
class Comparison:
    compared: int
    differing: list[str]  # "pk sk: what differs", the first few
    only_one_side: int
    kinds: dict[str, int] = field(default_factory=dict)  # items compared, by `kind_of`
    one_side_kinds: dict[str, int] = field(default_factory=dict)  # items on one side only, by `kind_of`

    @property
    def identical(self) -> bool:
        return not self.differing and not self.only_one_side


_LABELS = {naming.EVALUATION: "threshold evaluation", naming.BURN_RATE: "burn-rate evaluation"}


def kind_of(pk: str) -> str:
    """``aggregate``, ``threshold evaluation`` or ``burn-rate evaluation``, from the partition key (README)."""
    kind = naming.item_kind(pk)
    return _LABELS.get(kind, kind)


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
    differing, both, one_side = [], pipeline.keys() & baseline.keys(), pipeline.keys() ^ baseline.keys()
    for key in sorted(both):
        ours, theirs = pipeline[key], baseline[key]
        different = sorted(name for name in ours.keys() | theirs.keys() if not _same(ours.get(name), theirs.get(name)))
        if different:
            differing.append(f"{key[0]} {key[1]}: {', '.join(different)}")
    return Comparison(
        len(both),
        differing[:5],
        len(one_side),
        dict(sorted(Counter(kind_of(pk) for pk, _ in both).items())),
        dict(sorted(Counter(kind_of(pk) for pk, _ in one_side).items())),
    )


def _same(a, b) -> bool:
    if isinstance(a, Decimal | int | float) and isinstance(b, Decimal | int | float) and not isinstance(a, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return a == b
