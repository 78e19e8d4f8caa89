"""The aggregator Lambda's handler in a process of its own, which a test can have killed at a chosen call.

``python tests/reliability/aggregator_child.py EVENT_JSON [HOOK N]`` runs ``handler(event, None)`` against
the AWS the environment names (the emulator) and prints its summary as JSON. With HOOK (a botocore event
name, e.g. ``after-call.sns.Publish``) and N, the process sends itself SIGKILL the N-th time that event
fires: nothing after it runs, no ``finally``, no lease release, as when a host dies or Lambda stops a
timed-out invocation. The hook is registered like the tests' faults (`botocore.handlers.BUILTIN_HANDLERS`).
"""

from __future__ import annotations

import json
import os
import signal
import sys
from datetime import UTC, datetime

from botocore import handlers

# The invocation clock the tests' windows are chosen for (the pipeline's own clock stays the real one).
INVOCATION_TIME = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)


def main(argv: list[str]) -> int:
    event = json.loads(argv[0])
    if len(argv) == 3:
        hook_event, nth = argv[1], int(argv[2])
        fired = 0

        def kill(**_kwargs) -> None:
            nonlocal fired
            fired += 1
            if fired == nth:
                os.kill(os.getpid(), signal.SIGKILL)

        handlers.BUILTIN_HANDLERS.append((hook_event, kill, handlers.REGISTER_FIRST))

    from cw_pipeline.runtime import handler as lambda_handler

    lambda_handler.now_utc = lambda: INVOCATION_TIME
    print(json.dumps(lambda_handler.handler(event, None)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
