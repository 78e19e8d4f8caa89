"""Request and response bodies of the interactions API (they are also its OpenAPI schemas)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from interactions_api.config import MAX_PAYLOAD_BYTES, MAX_PAYLOAD_DEPTH

PAYLOAD_TOO_LARGE = "payload_too_large"
# The instants an interaction may have: PostgreSQL stores far more (4713 BC .. 294276 AD), but the API
# reads rows back as Python datetimes (years 1..9999) in the session's time zone, so the upper bound
# keeps a day in hand for any zone's offset. A row outside these could be stored and never read again.
OCCURRED_AT_MIN = datetime(1970, 1, 1, tzinfo=UTC)
OCCURRED_AT_MAX = datetime(9999, 12, 31, tzinfo=UTC)  # exclusive


def _storable(text: str) -> str:
    # PostgreSQL text and jsonb cannot hold NUL, and a lone surrogate (legal in a JSON \u escape)
    # cannot be encoded as UTF-8: both would fail inside the database, so they are refused here.
    if "\x00" in text:
        raise PydanticCustomError("nul_character", "must not contain the NUL character (\\u0000)")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise PydanticCustomError("invalid_unicode", "must be valid Unicode (no lone surrogates)") from None
    return text


def _check_json_value(value: Any, depth: int) -> None:
    if depth > MAX_PAYLOAD_DEPTH:
        raise PydanticCustomError("payload_too_deep", "nests deeper than {limit} levels", {"limit": MAX_PAYLOAD_DEPTH})
    if isinstance(value, str):
        _storable(value)
    elif isinstance(value, float) and not math.isfinite(value):
        raise PydanticCustomError("non_finite_number", "must not contain NaN or Infinity")
    elif isinstance(value, dict):
        for key, item in value.items():
            _storable(key)
            _check_json_value(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_json_value(item, depth + 1)


def _readable_time(moment: datetime) -> datetime:
    # The bounds in UTC, after the offset: 0001-01-01T00:00:00+14:00 is a valid datetime, and a year-0 instant.
    try:
        in_utc = moment.astimezone(UTC)
    except OverflowError:
        in_utc = None
    if in_utc is None or not OCCURRED_AT_MIN <= in_utc < OCCURRED_AT_MAX:
        raise PydanticCustomError(
            "occurred_at_out_of_range",
            "must be from {min} to before {max} once converted to UTC",
            {"min": "1970-01-01T00:00:00Z", "max": "9999-12-31T00:00:00Z"},
        )
    return moment


def _storable_payload(payload: dict[str, Any] | None) -> dict[str, Any] | None:
    if payload is None:
        return None
    _check_json_value(payload, depth=1)
    size = len(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    if size > MAX_PAYLOAD_BYTES:
        raise PydanticCustomError(
            PAYLOAD_TOO_LARGE,
            "is {size} bytes of JSON; the limit is {limit} bytes",
            {"size": size, "limit": MAX_PAYLOAD_BYTES},
        )
    return payload


UserId = Annotated[str, Field(min_length=1, max_length=128, examples=["user-42"]), AfterValidator(_storable)]
InteractionType = Annotated[
    str,
    Field(
        pattern=r"^[a-z0-9][a-z0-9_.:-]{0,63}$",
        description="Lower-case identifier: letters, digits and _ . : - (at most 64 characters).",
        examples=["page_view"],
    ),
]
Payload = Annotated[
    dict[str, Any] | None,
    Field(description=f"Any JSON object up to {MAX_PAYLOAD_BYTES} bytes serialised."),
    AfterValidator(_storable_payload),
]


class InteractionCreate(BaseModel):
    """An interaction to record."""

    model_config = ConfigDict(extra="forbid")

    user_id: UserId
    type: InteractionType
    payload: Payload = None
    occurred_at: Annotated[AwareDatetime, AfterValidator(_readable_time)] | None = Field(
        default=None,
        description="When it happened (ISO 8601 with a UTC offset), from 1970-01-01T00:00:00Z to before "
        "9999-12-31T00:00:00Z in UTC; the server time if absent.",
    )


class Interaction(BaseModel):
    """A stored interaction."""

    id: int
    user_id: str
    type: str
    payload: dict[str, Any] | None
    occurred_at: datetime
    created_at: datetime


class InteractionPage(BaseModel):
    """One page of interactions, newest first."""

    items: list[Interaction]
    next_cursor: str | None = Field(
        description="Opaque cursor for the next page (pass it as `cursor`); null on the last page."
    )


class TypeCount(BaseModel):
    type: str
    count: int


class InteractionStats(BaseModel):
    """Counts of interactions per type since a point in time."""

    since: datetime
    total: int
    by_type: list[TypeCount] = Field(description="Most frequent type first.")


class Health(BaseModel):
    status: Literal["ok"]
    database: Literal["ok"]


class FieldError(BaseModel):
    field: str = Field(description="Dotted name of the offending field, e.g. `payload`, `limit`, `cursor`.")
    location: Literal["body", "query", "path", "header"]
    message: str
    type: str


class ErrorResponse(BaseModel):
    """Every error the API returns has this shape."""

    status: int
    error: str = Field(examples=["validation_error"])
    message: str
    fields: list[FieldError] = Field(default_factory=list)
