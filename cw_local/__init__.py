"""Development-only tooling beside the product package: never imported by `cw_pipeline`, never in an image.

`emulator` (moto over HTTP with `percentiles`, resources from `provision`), `workload` (the CloudWatch
datapoints AWS would publish), `demo/` (``make demo``), `ui` (``make ui``), `api_server` (``make api``) and
`fakes` (the Lambda context, dummy credentials, environment patching and API-call counting that the demo,
the tests and the benchmarks share).
"""
