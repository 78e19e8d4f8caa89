"""Warm invocations: the pipeline's Lambda handler and the baseline, invoked in turn in one process.

What a warm Lambda execution environment does: the module is imported, the first invocation has run, and the
next ones reuse what it built. Both are invoked once untimed (cold), then ``--invocations`` times each,
alternating, timed in-process with ``time.perf_counter``; prints one JSON line with every duration (ms).
The pipeline and the baseline each read their own ``CW_*`` environment (a JSON object per argument).

    python -m bench.warm --invocations 7 EVENT_JSON PIPELINE_ENV_JSON BASELINE_ENV_JSON
"""

from __future__ import annotations

import argparse
import json
import os
import time
from contextlib import contextmanager

from bench.invoke import LambdaContext


@contextmanager
def environment(variables: dict[str, str]):
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invocations", type=int, default=7)
    parser.add_argument("event")
    parser.add_argument("pipeline_env")
    parser.add_argument("baseline_env")
    args = parser.parse_args()
    event, pipeline_env, baseline_env = map(json.loads, (args.event, args.pipeline_env, args.baseline_env))

    with environment(pipeline_env):
        from cw_pipeline.runtime.handler import handler

        handler(event, LambdaContext())
    with environment(baseline_env):
        from bench.baseline import aggregator

        aggregator.run(event)

    timings: dict[str, list[float]] = {"pipeline_ms": [], "baseline_ms": []}
    for _ in range(args.invocations):
        with environment(pipeline_env):
            started = time.perf_counter()
            handler(event, LambdaContext())
            timings["pipeline_ms"].append(round((time.perf_counter() - started) * 1000, 1))
        with environment(baseline_env):
            started = time.perf_counter()
            aggregator.run(event)
            timings["baseline_ms"].append(round((time.perf_counter() - started) * 1000, 1))
    print(json.dumps(timings))


if __name__ == "__main__":
    main()
