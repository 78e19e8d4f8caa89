"""One aggregator invocation as a whole process, the way a new Lambda execution environment runs it.

Imports the production handler (nothing of the project imported before it), runs one event and prints, as
its last line, the summary and the AWS calls made by operation (counted by a botocore ``before-call`` hook on
the session the clients are built from). Where calls go is the standard AWS environment (``AWS_ENDPOINT_URL``
for the emulator). ``--baseline`` runs the yardstick instead; ``--import-only`` stops after the import (the
Lambda Init phase).

    python -m bench.invoke '{"scheduled_time": "2026-11-20T12:12:00Z"}'
    python -m bench.invoke --baseline '{"scheduled_time": "2026-11-20T12:12:00Z"}'
"""

from __future__ import annotations

import json
import sys
from collections import Counter


class LambdaContext:
    function_name = "cw-analytics-bench-aggregator"
    function_version = "$LATEST"
    memory_limit_in_mb = 1536
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:cw-analytics-bench-aggregator"
    aws_request_id = "bench"


def main(argv: list[str]) -> None:
    baseline, import_only = "--baseline" in argv, "--import-only" in argv
    calls: Counter = Counter()

    def count(model, **_kwargs) -> None:
        calls[model.name] += 1

    if baseline:
        import boto3

        boto3.setup_default_session()
        boto3.DEFAULT_SESSION.events.register("before-call", count)
        from bench.baseline import aggregator

        if import_only:
            return
        summary = aggregator.run(json.loads(argv[-1]))
    else:
        from cw_pipeline.runtime.handler import handler

        if import_only:
            return
        from cw_pipeline.defs import aws_clients

        aws_clients.session(None).events.register("before-call", count)
        summary = handler(json.loads(argv[-1]), LambdaContext())
    print(json.dumps({"summary": summary, "calls": dict(sorted(calls.items()))}))


if __name__ == "__main__":
    main(sys.argv[1:])
