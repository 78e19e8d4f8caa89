"""The baseline's burn-rate step: every SLO at every severity for every resource, in plain Python.

Same outputs as the pipeline's ``slo_burn_rates`` (its items and its SNS transitions), computed the way
`cw_pipeline.burn_rate` defines them, with none of its machinery: no pandas, one Query of stored aggregates
per resource (from the longest long window before the first window to the last) and one Query of stored
evaluations per SLO, severity and resource. It reads the SLO and policy tables, never the evaluation code.

- An SLO turns an aggregate into bad and total events: an `EventSLO` counts its ``total`` attribute and the
  sum of its ``bad`` ones; a `WindowSLO` counts a window with a value as one event, bad when above
  ``good_at_most``. A window without the attributes is no data and adds nothing.
- A policy row sums the events of the long and short windows ending with the evaluated one; burn rate =
  (bad / total) / error budget, undefined without events. ALARM when both exceed the row's rate,
  INSUFFICIENT_DATA when the long window has no events, else OK.
- A severity is the worst of its rows; the row kept (its policy and burn rates) is the first in ALARM,
  else the first OK, else the first.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from boto3.dynamodb.conditions import Key

from bench.baseline import notify
from cw_pipeline import naming
from cw_pipeline.slos import POLICIES, SLOS, EventSLO, window_label
from cw_pipeline.thresholds import State

WINDOW = timedelta(minutes=5)
LONGEST = max(policy.long_window for policy in POLICIES)
SEVERITIES = list(dict.fromkeys(policy.severity for policy in POLICIES))
WORST_FIRST = {State.ALARM.value: 0, State.OK.value: 1, State.INSUFFICIENT_DATA.value: 2}


def query(table, pk: str, first: str, last: str) -> list[dict]:
    """Every item of ``pk`` whose sort key is in ``[first, last]``, page after page."""
    request = {"KeyConditionExpression": Key("pk").eq(pk) & Key("sk").between(first, last), "ConsistentRead": True}
    items = []
    while True:
        page = table.query(**request)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def events(slo, item: dict | None) -> tuple[float, float] | None:
    """(bad, total) events of one window's aggregate item; None when the window has no data for ``slo``."""
    if item is None or any(attribute not in item for attribute in slo.attributes):
        return None
    if isinstance(slo, EventSLO):
        return sum(float(item[a]) for a in slo.bad), float(item[slo.total])
    return (1.0 if float(item[slo.attribute]) > slo.good_at_most else 0.0), 1.0


class Series:
    """Bad and total events per grid window (0 where there is no data) and whether the window has data."""

    def __init__(self, per_window: list[tuple[float, float] | None]) -> None:
        self.bad = [e[0] if e else 0.0 for e in per_window]
        self.total = [e[1] if e else 0.0 for e in per_window]
        self.has_data = [e is not None for e in per_window]

    def span(self, index: int, windows: int) -> tuple[float, float, bool]:
        """Bad and total events of the ``windows`` windows ending with grid window ``index``; whether any had data."""
        covered = slice(max(0, index + 1 - windows), index + 1)
        return sum(self.bad[covered]), sum(self.total[covered]), any(self.has_data[covered])


def burn_rate(bad: float, total: float, budget: float) -> float | None:
    return bad / total / budget if total > 0 else None


def policy_row(slo, policy, series: Series, index: int) -> dict:
    """One policy row at grid window ``index``: the long window's sums, both burn rates and the state."""
    long_bad, long_total, long_has_data = series.span(index, policy.long_windows)
    short_bad, short_total, _ = series.span(index, policy.short_windows)
    long_rate = burn_rate(long_bad, long_total, slo.error_budget)
    short_rate = burn_rate(short_bad, short_total, slo.error_budget)
    if long_rate is None:
        state = State.INSUFFICIENT_DATA.value
    elif long_rate > policy.burn_rate and short_rate is not None and short_rate > policy.burn_rate:
        state = State.ALARM.value
    else:
        state = State.OK.value
    if not long_has_data:
        long_bad = long_total = None
    return {"policy": policy, "state": state, "long_burn_rate": long_rate, "short_burn_rate": short_rate,
            "long_bad": long_bad, "long_total": long_total}  # fmt: skip


def decide(slo, severity, series: Series, index: int) -> dict:
    """The severity's row: the first in ALARM, else the first OK, else the first (policy table order)."""
    rows = [policy_row(slo, policy, series, index) for policy in POLICIES if policy.severity == severity]
    return min(rows, key=lambda row: WORST_FIRST[row["state"]])  # min keeps the first of equals


MESSAGE_FIELDS = ("rule_id", "slo_id", "severity", "policy", "service", "resource", "state", "previous_state",
                  "window_start", "window_end", "value", "threshold", "long_window", "short_window",
                  "long_burn_rate", "short_burn_rate", "objective")  # fmt: skip


def burn_rate_item(slo, severity, resource: str, window: datetime, row: dict, previous: str, run: dict) -> dict:
    """The stored evaluation without its notification trail: `BurnRateEvaluation.item`'s attributes."""
    policy, long_rate, short_rate = row["policy"], row["long_burn_rate"], row["short_burn_rate"]
    item = {"pk": naming.slo_evaluation_pk(slo.slo_id, severity.value, resource), "sk": naming.window_sk(window),
            "kind": "burn_rate", "rule_id": f"{slo.slo_id}_{severity.value}", "slo_id": slo.slo_id,
            "severity": severity.value, "policy": policy.name, "service": slo.service.value, "resource": resource,
            "objective": slo.objective, "threshold": policy.burn_rate, "long_window": window_label(policy.long_window),
            "short_window": window_label(policy.short_window), "state": row["state"], "previous_state": previous,
            "window_start": naming.window_sk(window), "window_end": naming.window_sk(window + WINDOW),
            "evaluated_at": run["now"], "run_id": run["run_id"],
            "expires_at": int((window + timedelta(days=run["retention_days"])).timestamp())}  # fmt: skip
    # The pair burn rate: the lower of the two, an undefined short one counting as 0.
    numbers = {"value": None if long_rate is None else min(long_rate, short_rate or 0.0),
               "long_burn_rate": long_rate, "short_burn_rate": short_rate,
               "long_bad": row["long_bad"], "long_total": row["long_total"]}  # fmt: skip
    return item | {name: value for name, value in numbers.items() if value is not None}


def evaluate_slos(resources: list[tuple[str, str]], windows: list[datetime], table, sns, run: dict) -> tuple[list, int]:
    """Every SLO at every severity for every resource of its service and window of ``windows``; the items
    (notification trail included, `bench.baseline.notify`) and the notifications sent.
    ``run``: ``run_id``, ``now``, ``retention_days``."""
    # The grid: every window from the start of the first window's longest long window to the last window.
    grid = [windows[-1] - i * WINDOW for i in range(int((LONGEST + windows[-1] - windows[0]) / WINDOW))][::-1]
    evaluated = range(grid.index(windows[0]), len(grid))
    before, last = naming.window_sk(windows[0] - WINDOW), naming.window_sk(windows[-1])
    items, sent = [], 0
    for service, name in resources:
        slos = [slo for slo in SLOS if slo.service.value == service]
        stored = query(table, naming.aggregate_pk(service, name), naming.window_sk(grid[0]), last) if slos else []
        if not stored:
            continue  # no SLO of its service, or no aggregates to evaluate (the pipeline evaluates none either)
        aggregates = {item["window_start"]: item for item in stored}
        for slo in slos:
            series = Series([events(slo, aggregates.get(naming.window_sk(w))) for w in grid])
            for severity in SEVERITIES:
                pk = naming.slo_evaluation_pk(slo.slo_id, severity.value, name)
                earlier = {item["sk"]: item for item in query(table, pk, before, last)}
                previous = earlier[before]["state"] if before in earlier else State.INSUFFICIENT_DATA.value
                for index in evaluated:
                    item = burn_rate_item(slo, severity, name, grid[index], decide(slo, severity, series, index),
                                          previous, run)  # fmt: skip
                    message = {field: item.get(field) for field in MESSAGE_FIELDS}
                    what = f"SLO {item['rule_id']} on {name}"
                    trail, published = notify.notify(sns, item, message, what, earlier.get(item["sk"], {}))
                    items.append({**item, **trail})
                    sent += published
                    previous = item["state"]
    return items, sent
