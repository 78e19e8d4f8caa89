"""What the pipeline left behind in the emulator: the aggregates and evaluations in DynamoDB, and the SNS
notifications delivered to the inbox queue subscribed to the alerts topic."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cw_local.emulator import Emulator
from cw_local.provision import read_notifications, scan_table
from cw_pipeline import naming
from cw_pipeline.thresholds import State


@dataclass
class Stored:
    aggregates: dict[tuple[str, str], dict]  # (service, window_start) -> item
    evaluations: list[dict]  # threshold rules, sorted by window, rule
    burn_rates: list[dict]  # SLO burn-rate evaluations, sorted by window, rule ("{slo_id}_{severity}")

    @classmethod
    def from_items(cls, items: list[dict]) -> Stored:
        def of_kind(kind: str) -> list[dict]:
            chosen = (i for i in items if naming.item_kind(i["pk"]) == kind)
            return sorted(chosen, key=lambda i: (i["window_start"], i["rule_id"]))

        aggregates = {
            (i["service"], i["window_start"]): i for i in items if naming.item_kind(i["pk"]) == naming.AGGREGATE
        }
        return cls(aggregates, of_kind(naming.EVALUATION), of_kind(naming.BURN_RATE))

    def aggregates_of(self, service: str) -> list[dict]:
        """One service's aggregates, oldest window first."""
        return [item for (item_service, _), item in sorted(self.aggregates.items()) if item_service == service]

    def transitions(self) -> list[dict]:
        return [e for e in self.evaluations if e["state"] != e["previous_state"]]

    def burn_rate_transitions(self) -> list[dict]:
        return [e for e in self.burn_rates if e["state"] != e["previous_state"]]

    def alarm_windows(self, rule_id: str) -> list[datetime]:
        return [
            naming.parse_window_sk(e["window_start"])
            for e in self.evaluations
            if e["rule_id"] == rule_id and e["state"] == State.ALARM.value
        ]


def read_back(emulator: Emulator) -> tuple[Stored, list[dict]]:
    """Every item of the metrics table, and every notification waiting in the inbox queue (drained)."""
    session = emulator.endpoint_session()
    stored = Stored.from_items(scan_table(session, emulator.resources.table_name))
    return stored, read_notifications(session, emulator.resources.inbox_queue_url)
