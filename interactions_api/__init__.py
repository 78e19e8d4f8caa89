"""The interactions API: the monitored workload (API Gateway -> this Lambda -> RDS PostgreSQL).

Handler: ``interactions_api.app.handler``. Configuration comes only from environment variables,
listed in :mod:`interactions_api.config`.
"""
