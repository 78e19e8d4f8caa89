"""Every error leaves the API as an :class:`~interactions_api.models.ErrorResponse` JSON body."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel

from interactions_api.models import PAYLOAD_TOO_LARGE, ErrorResponse, FieldError

_LOCATIONS = {"body", "query", "path", "header"}


class ApiError(Exception):
    """An error answered as JSON with a status, a machine-readable code and the offending fields."""

    def __init__(self, status: int, error: str, message: str, fields: Sequence[FieldError] = ()) -> None:
        super().__init__(message)
        self.body = ErrorResponse(status=status, error=error, message=message, fields=list(fields))

    @property
    def status(self) -> int:
        return self.body.status

    def response(self) -> Response:
        return Response(
            status_code=self.status,
            content_type=content_types.APPLICATION_JSON,
            body=self.body.model_dump_json(),
        )

    def proxy_result(self) -> dict[str, Any]:
        """The API Gateway proxy result, for answers given before the resolver runs."""
        return {
            "statusCode": self.status,
            "headers": {"Content-Type": content_types.APPLICATION_JSON},
            "body": self.body.model_dump_json(),
            "isBase64Encoded": False,
        }


def field_error(location: str, field: str, message: str, error_type: str) -> FieldError:
    return FieldError(field=field, location=location, message=message, type=error_type)  # type: ignore[arg-type]


def bad_request(location: str, field: str, message: str, error_type: str) -> ApiError:
    return ApiError(400, "bad_request", f"{field} {message}", [field_error(location, field, message, error_type)])


def from_validation_errors(errors: Iterable[dict[str, Any]]) -> ApiError:
    """Turn Powertools/pydantic validation errors into one ApiError naming every offending field."""
    fields: list[FieldError] = []
    for error in errors:
        loc = tuple(error.get("loc") or ("body",))
        location = str(loc[0]) if str(loc[0]) in _LOCATIONS else "body"
        error_type = str(error.get("type", "invalid"))
        if error_type == "json_invalid":
            position = loc[1] if len(loc) > 1 else "?"
            detail = (error.get("ctx") or {}).get("error", "malformed JSON")
            fields.append(
                field_error("body", "body", f"is not valid JSON ({detail} at position {position})", error_type)
            )
            continue
        path = [str(part) for part in loc[1:]]
        fields.append(
            field_error(location, ".".join(path) or location, str(error.get("msg", "is invalid")), error_type)
        )
    types = {f.type for f in fields}
    if PAYLOAD_TOO_LARGE in types:
        status, code = HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "payload_too_large"
    elif "json_invalid" in types:
        status, code = HTTPStatus.BAD_REQUEST, "invalid_json"
    else:
        status, code = HTTPStatus.UNPROCESSABLE_ENTITY, "validation_error"
    summary = "; ".join(f"{f.field}: {f.message}" for f in fields)
    return ApiError(int(status), code, f"Invalid request: {summary}", fields)


_DESCRIPTIONS = {
    400: "Malformed request: invalid JSON, an unknown query parameter or a malformed cursor.",
    404: "No interaction has that id.",
    413: "The request body or the `payload` field is too large.",
    415: "The request body is not JSON.",
    422: "A field has the wrong type or value.",
    500: "Unexpected server error.",
    503: "The database is unavailable; retry later.",
}


def documented(success: int, model: type[BaseModel], description: str, *errors: int) -> dict[int, OpenAPIResponse]:
    """OpenAPI responses of a route: its success body and every error status it can answer.

    Powertools documents only what is listed once ``responses`` is given, so the success response is
    listed too; 400 (unknown query parameter), 422 (validation) and 500 apply to every route.
    """
    documented_responses: dict[int, OpenAPIResponse] = {
        success: {"description": description, "content": {content_types.APPLICATION_JSON: {"model": model}}}
    }
    for code in sorted({400, 422, 500, *errors}):
        documented_responses[code] = {
            "description": _DESCRIPTIONS[code],
            "content": {content_types.APPLICATION_JSON: {"model": ErrorResponse}},
        }
    return documented_responses
