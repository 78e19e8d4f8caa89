"""How the pipeline runs in production: the Lambda handler, the parsing of its events, its Dagster instance."""
