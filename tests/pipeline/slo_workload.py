"""A scripted API outage for the SLO tests, every number small enough to work out by hand.

Fourteen windows from 12:00 on 2026-11-20; the API serves 1,000 requests in each, 5XX: 0 in W0-W5,
200 in W6 and W7 (20 %), 0 in W8-W13. No other metric is published: the function has zero traffic and
the API no latency, so their SLOs have no events (INSUFFICIENT_DATA).

The API availability objective is 99.9 % (budget 0.001), so a burn rate is the error ratio / 0.001:

- page, 1 h / 5 min above 14.4: W6 long 200/7,000 -> 28.57, short 200 -> ALARM; W7 50 and 200 -> ALARM;
  W8 short 0 -> not above.
- page, 6 h / 30 min above 6 (every window so far is in the 6 h): W6 long 28.57, short 200/6,000 -> 33.3;
  the 30 minutes hold W6 or W7 until W12 (W7-W12: 200/6,000 -> 33.3); W13 (W8-W13) has 0 -> OK.
- So the page severity is OK in W0-W5, ALARM in W6-W12 (the 1 h pair decides W6-W7, the 6 h pair
  W8-W12), OK in W13; the ticket (3 d / 6 h above 1) is ALARM from W6 to W13.
"""

from __future__ import annotations

from datetime import UTC, datetime

from cw_pipeline.windows import WINDOW, Window

API, FUNCTION, DB = "orders-api", "orders-handler", "orders-db"
FIRST = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
WINDOWS = [Window(FIRST + i * WINDOW) for i in range(14)]
BAD = {6: 200, 7: 200}
REQUESTS = 1000


def sk(index: int) -> str:
    return WINDOWS[index].start.strftime("%Y-%m-%dT%H:%M:%SZ")


def publish_outage(aws) -> None:
    for index, window in enumerate(WINDOWS):
        when = window.start.replace(minute=window.start.minute + 1)
        aws.put("AWS/ApiGateway", "ApiName", API, "Count", when, [float(REQUESTS)], "Count")
        aws.put("AWS/ApiGateway", "ApiName", API, "5XXError", when, [float(BAD.get(index, 0))], "Count")
