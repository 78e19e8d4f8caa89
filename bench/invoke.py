"""One aggregator invocation as a whole process, the way a new Lambda execution environment runs it.

Imports the production handler (nothing imported before it), runs one event and prints the summary as
the last line. Where calls go is the standard AWS environment (``AWS_ENDPOINT_URL`` for the emulator).

    python -m bench.invoke '{"scheduled_time": "2026-11-20T12:12:00Z"}'
    python -m bench.invoke --baseline '{"scheduled_time": "2026-11-20T12:12:00Z"}'   # the yardstick instead
"""

from __future__ import annotations

import json
import sys


class LambdaContext:
    function_name = "cw-analytics-bench-aggregator"
    function_version = "$LATEST"
    memory_limit_in_mb = 1536
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:cw-analytics-bench-aggregator"
    aws_request_id = "bench"


def main(argv: list[str]) -> None:
    baseline = argv[:1] == ["--baseline"]
    event = json.loads(argv[-1])
    if baseline:
        from bench.baseline import aggregator

        summary = aggregator.run(event)
    else:
        from cw_pipeline.runtime.handler import handler

        summary = handler(event, LambdaContext())
    print(json.dumps(summary))


if __name__ == "__main__":
    main(sys.argv[1:])
