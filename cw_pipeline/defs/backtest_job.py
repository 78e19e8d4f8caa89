"""The backtest job: replay a candidate rule over the stored aggregates from the Dagster UI (Launchpad).

Its run config is typed (`BacktestConfig`), for example::

    ops:
      backtest_rule:
        config: {rule_id: api_error_rate, threshold: 8.0, days: 7}

The report (`cw_pipeline.backtest.render_text`) is logged and the figures are the op's output metadata.
"""

from datetime import UTC, datetime

from dagster import Config, MetadataValue, OpExecutionContext, Out, Output, job, op
from pydantic import Field

from cw_pipeline.backtest import Signal, backtest_windows, render_text, run_backtest, slo_signal, threshold_signal
from cw_pipeline.defs.metric_store import MetricStore
from cw_pipeline.defs.resources import MonitoredResources, PipelineClock

BACKTEST_JOB = "backtest_job"


class BacktestConfig(Config):
    """A candidate rule: a threshold rule with another threshold, or an SLO with another objective."""

    rule_id: str = Field(default="", description="threshold rule to replay, e.g. api_error_rate")
    threshold: float | None = Field(default=None, description="candidate threshold (default: the rule's own)")
    slo_id: str = Field(default="", description="SLO to replay instead of a rule, e.g. api_availability")
    objective: float | None = Field(default=None, description="candidate objective in percent (default: the SLO's)")
    severity: str = Field(default="page", description="the SLO severity to replay: page or ticket")
    days: float = Field(default=7.0, description="how many days before `until` to replay (at most 63)")
    until: str = Field(default="", description="ISO-8601 end of the replay (default: now)")

    def signals(self) -> tuple[Signal, Signal]:
        """The current rule and the candidate; a clear error for a config that names neither or both."""
        if bool(self.rule_id) == bool(self.slo_id):
            raise ValueError("backtest config: set exactly one of rule_id (a threshold rule) or slo_id (an SLO)")
        if self.rule_id:
            if self.objective is not None:
                raise ValueError("backtest config: objective applies to an SLO (slo_id); for a rule, set threshold")
            return threshold_signal(self.rule_id), threshold_signal(self.rule_id, self.threshold)
        if self.threshold is not None:
            raise ValueError("backtest config: threshold applies to a rule (rule_id); for an SLO, set objective")
        current = slo_signal(self.slo_id, self.severity)
        return current, slo_signal(self.slo_id, self.severity, self.objective)

    def end(self, now: datetime) -> datetime:
        if not self.until:
            return now
        try:
            until = datetime.fromisoformat(self.until)
        except ValueError:
            raise ValueError(
                f"backtest config: until={self.until!r} is not ISO-8601, e.g. 2026-11-20T12:00:00Z"
            ) from None
        return until if until.tzinfo else until.replace(tzinfo=UTC)


@op(out=Out(dict, description="the figures of both rules"))
def backtest_rule(
    context: OpExecutionContext,
    config: BacktestConfig,
    metric_store: MetricStore,
    monitored: MonitoredResources,
    clock: PipelineClock,
) -> Output[dict]:
    """Replay the current rule and the candidate over the same stored windows and compare them."""
    current, candidate = config.signals()
    windows = backtest_windows(config.days, config.end(clock.now()))
    comparison = run_backtest(metric_store, monitored.resources(), current, candidate, windows)
    context.log.info("\n" + render_text(comparison))
    figures = {
        name: {
            "rule": replay.signal.label,
            "alerts": replay.alerts,
            "notifications": len(replay.notifications),
            "minutes_in_alarm": int(replay.time_in_alarm.total_seconds() // 60),
            "transitions_per_day": round(replay.transitions_per_day, 3),
            "caught_only_by_this_rule": len(only),
        }
        for name, replay, only in (
            ("current", comparison.current, comparison.only_current),
            ("candidate", comparison.candidate, comparison.only_candidate),
        )
    }
    return Output(
        figures,
        metadata={
            "first_window": windows[0].partition_key,
            "last_window": windows[-1].partition_key,
            "current": MetadataValue.json(figures["current"]),
            "candidate": MetadataValue.json(figures["candidate"]),
            "report": MetadataValue.md(f"```\n{render_text(comparison)}\n```"),
        },
    )


@job(
    name=BACKTEST_JOB, description="Replay a candidate threshold or SLO over stored aggregates next to the current one."
)
def backtest_job() -> None:
    backtest_rule()
