"""boto3 clients: one per service for a run, shared by every resource of it, and none built by a warm run.

Clients are counted where botocore builds them: its ``creating-client-class`` event, registered on the session
the pipeline's clients come from (`cw_pipeline.defs.aws_clients`).
"""

from __future__ import annotations

import threading
from collections import Counter

from scale_support import COLLECTED_AT, NOW, W1, W2, create_function, create_rest_api, put_metric, run, settings_for

from cw_pipeline.definitions import build_definitions
from cw_pipeline.defs import aws_clients
from cw_pipeline.defs.resources import CloudWatchMetrics


class ClientsBuilt:
    def __init__(self) -> None:
        self.services: Counter = Counter()
        self._lock = threading.Lock()
        aws_clients.session(None).events.register("creating-client-class", self)

    def __call__(self, event_name: str, **_kwargs) -> None:
        with self._lock:
            self.services[event_name.rsplit(".", 1)[-1]] += 1

    def take(self) -> Counter:
        with self._lock:
            taken, self.services = self.services, Counter()
        return taken


def publish_an_alarm(aws) -> None:
    """Lambda errors over the rule's 10 in W1, so the run also publishes to SNS."""
    put_metric(aws, "AWS/Lambda", "Invocations", {"FunctionName": "fn-a"}, W1.start, 40)
    put_metric(aws, "AWS/Lambda", "Errors", {"FunctionName": "fn-a"}, W1.start, 12)


def test_one_client_per_service_for_a_run_and_none_for_the_next(aws, tmp_path):
    publish_an_alarm(aws)
    built = ClientsBuilt()
    # Metrics discovery and the pull both read CloudWatch: they share one client.
    defs = build_definitions(
        settings_for(aws, CW_DISCOVERY="metrics"), NOW, work_dir=str(tmp_path), fixed_clock=COLLECTED_AT
    )

    first = run(defs, [W1, W2])
    assert first.success
    assert built.take() == Counter({"cloudwatch": 1, "dynamodb": 1, "sns": 1})
    states = [
        (n["message"]["rule_id"], n["message"]["window_start"], n["message"]["state"]) for n in aws.notifications()
    ]
    # The errors rule: W1 in alarm, W2 not. The SLO (30 % of W1's invocations failed) pages and opens a ticket in W1;
    # W2 has no invocation, so both burn-rate windows still hold only W1's events and stay in ALARM.
    assert sorted(states) == [
        ("lambda_errors", "2026-11-20T12:00:00Z", "ALARM"),
        ("lambda_errors", "2026-11-20T12:05:00Z", "OK"),
        ("lambda_success_page", "2026-11-20T12:00:00Z", "ALARM"),
        ("lambda_success_ticket", "2026-11-20T12:00:00Z", "ALARM"),
    ]

    second = run(defs, [W1, W2])  # a warm run: same process, same configuration
    assert second.success
    assert built.take() == Counter()


def test_tags_discovery_adds_one_client_for_each_of_its_services(aws, tmp_path):
    create_function(aws, "fn-a", {"team": "orders"})
    create_rest_api(aws, "orders-api", {"team": "orders"})
    put_metric(aws, "AWS/Lambda", "Invocations", {"FunctionName": "fn-a"}, W1.start, 1)
    built = ClientsBuilt()
    settings = settings_for(aws, CW_DISCOVERY="tags", CW_DISCOVERY_TAGS="team=orders")

    assert run(build_definitions(settings, NOW, work_dir=str(tmp_path), fixed_clock=COLLECTED_AT), [W1, W2]).success
    # botocore names the event after the service id: "resource-groups-tagging-api", "api-gateway".
    assert built.take() == Counter({"resource-groups-tagging-api": 1, "api-gateway": 1, "cloudwatch": 1, "dynamodb": 1})


def test_a_changed_endpoint_gets_a_new_client_never_a_stale_one(aws, monkeypatch):
    first = CloudWatchMetrics().client("cloudwatch")
    assert CloudWatchMetrics().client("cloudwatch") is first
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    built = ClientsBuilt()  # on the session of the new environment
    moved = CloudWatchMetrics().client("cloudwatch")
    assert moved is not first and moved.meta.endpoint_url == "http://127.0.0.1:1"
    assert CloudWatchMetrics(max_attempts=2).client("cloudwatch") is not moved  # another retry configuration
    assert built.take() == Counter({"cloudwatch": 2})
