"""The CDK (Python) app that provisions the seed architecture: see docs/infra.md."""
