"""Routes of the interactions API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import AwareDatetime

from interactions_api import repository
from interactions_api.config import DEFAULT_PAGE_SIZE, DEFAULT_STATS_WINDOW_HOURS, MAX_PAGE_SIZE
from interactions_api.cursor import MAX_ID, Cursor, MalformedCursor
from interactions_api.db import database
from interactions_api.errors import ApiError, bad_request, documented, field_error
from interactions_api.guards import reject_unknown_query_parameters
from interactions_api.models import (
    Health,
    Interaction,
    InteractionCreate,
    InteractionPage,
    InteractionStats,
    InteractionType,
    UserId,
)

logger = Logger(child=True)
metrics = Metrics()
router = Router()

STRICT_QUERY = [reject_unknown_query_parameters]
InteractionId = Annotated[int, Path(ge=1, le=MAX_ID, description="Id returned when the interaction was recorded.")]


@router.post(
    "/interactions",
    status_code=201,
    summary="Record an interaction",
    responses=documented(201, Interaction, "The stored interaction.", 413, 415, 503),
    middlewares=STRICT_QUERY,
    tags=["interactions"],
)
def record_interaction(interaction: InteractionCreate) -> Interaction:
    stored = database.write(lambda conn: repository.insert(conn, interaction))
    metrics.add_metric(name="InteractionsRecorded", unit=MetricUnit.Count, value=1)
    logger.info("Recorded interaction", extra={"interaction_id": stored.id, "interaction_type": stored.type})
    return stored


@router.get(
    "/interactions/stats",
    summary="Count interactions per type",
    responses=documented(200, InteractionStats, "Counts per type, most frequent first.", 503),
    middlewares=STRICT_QUERY,
    tags=["interactions"],
)
def interaction_stats(
    since: Annotated[
        AwareDatetime | None,
        Query(
            description=f"Count from this instant (ISO 8601 with offset); "
            f"{DEFAULT_STATS_WINDOW_HOURS} h ago by default."
        ),
    ] = None,
) -> InteractionStats:
    start = since or datetime.now(UTC) - timedelta(hours=DEFAULT_STATS_WINDOW_HOURS)
    return database.read(lambda conn: repository.stats(conn, start))


@router.get(
    "/interactions/<interaction_id>",
    summary="Fetch one interaction",
    responses=documented(200, Interaction, "The interaction.", 404, 503),
    middlewares=STRICT_QUERY,
    tags=["interactions"],
)
def get_interaction(interaction_id: InteractionId) -> Interaction:
    found = database.read(lambda conn: repository.get(conn, interaction_id))
    if found is None:
        raise ApiError(
            404,
            "not_found",
            f"No interaction with id {interaction_id}",
            [field_error("path", "interaction_id", "matches no interaction", "not_found")],
        )
    return found


@router.get(
    "/interactions",
    summary="List interactions, newest first",
    description="Keyset pagination: pass the previous page's `next_cursor` as `cursor`, same filters.",
    responses=documented(200, InteractionPage, "One page of interactions.", 503),
    middlewares=STRICT_QUERY,
    tags=["interactions"],
)
def list_interactions(
    user_id: Annotated[UserId | None, Query(description="Only this user's interactions.")] = None,
    type: Annotated[InteractionType | None, Query(description="Only interactions of this type.")] = None,
    since: Annotated[AwareDatetime | None, Query(description="Only interactions at or after this instant.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size.")] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[str | None, Query(max_length=512, description="`next_cursor` of the previous page.")] = None,
) -> InteractionPage:
    try:
        after = Cursor.decode(cursor) if cursor is not None else None
    except MalformedCursor as exc:
        raise bad_request("query", "cursor", str(exc), "cursor_invalid") from exc
    items, next_cursor = database.read(
        lambda conn: repository.page(
            conn, user_id=user_id, interaction_type=type, since=since, after=after, limit=limit
        )
    )
    return InteractionPage(items=items, next_cursor=next_cursor.encode() if next_cursor else None)


@router.get(
    "/health",
    summary="Check that the API can reach its database",
    responses=documented(200, Health, "The database answered.", 503),
    middlewares=STRICT_QUERY,
    tags=["operations"],
)
def health() -> Health:
    database.read(repository.ping)
    return Health(status="ok", database="ok")
