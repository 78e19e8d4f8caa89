"""The aggregator Lambda's stable entry point, ``cw_pipeline.lambda_handler.handler`` (the image's CMD).

Deployed functions name this path, so it stays; the code lives in `cw_pipeline.runtime.handler`.
"""

from cw_pipeline.runtime.handler import InvalidEvent, RunFailed, handler

__all__ = ["InvalidEvent", "RunFailed", "handler"]
