"""Lambda entry point of the interactions API: ``interactions_api.app.handler``.

API Gateway (REST, proxy integration) -> this function -> RDS PostgreSQL. Environment variables are
documented in :mod:`interactions_api.config`.
"""

from __future__ import annotations

import warnings

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from interactions_api.db import DatabaseUnavailable
from interactions_api.errors import ApiError, from_validation_errors
from interactions_api.guards import reject_unreadable_bodies
from interactions_api.routes import router

# Read-only routes add no metric by design; without this every GET would log a warning.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)

logger = Logger()
metrics = Metrics()
app = APIGatewayRestResolver(enable_validation=True)
app.include_router(router)


@app.exception_handler(RequestValidationError)
def validation_failed(exc: RequestValidationError) -> Response:
    return from_validation_errors(exc.errors()).response()


@app.exception_handler(ApiError)
def api_error(exc: ApiError) -> Response:
    return exc.response()


@app.exception_handler(DatabaseUnavailable)
def database_unavailable(exc: DatabaseUnavailable) -> Response:
    logger.warning("Database unavailable", extra={"reason": str(exc)})
    metrics.add_metric(name="DatabaseUnavailable", unit=MetricUnit.Count, value=1)
    return ApiError(503, "database_unavailable", "The database is unavailable; retry later").response()


@app.not_found
def not_found(exc: NotFoundError) -> Response:
    event = app.current_event
    return ApiError(404, "not_found", f"No route for {event.http_method} {event.path}").response()


@app.exception_handler(Exception)
def unexpected(exc: Exception) -> Response:
    # Details go to the log only: the client learns nothing about the internals.
    logger.exception("Unhandled error")
    return ApiError(500, "internal_error", "Internal server error").response()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics(capture_cold_start_metric=True)
@reject_unreadable_bodies
def handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
