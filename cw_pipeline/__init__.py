"""cw-analytics pipeline: 5-minute CloudWatch pulls, DynamoDB aggregates, threshold evaluation.

This package's top level imports nothing heavy on purpose: `cw_pipeline.catalog`,
`cw_pipeline.thresholds`, `cw_pipeline.naming` and `cw_pipeline.windows` are plain Python so that
infra_cdk can build its dashboard and alarms from the same tables without importing Dagster.
"""
