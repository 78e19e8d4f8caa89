"""Checks that Powertools' validation does not make, each answered with a 4xx naming the field.

``reject_unreadable_bodies`` runs before the resolver: the body must be JSON that Python can parse,
within the size limit. Powertools would otherwise parse it itself and turn some failures (a
non-JSON content type with a malformed boundary, nesting deeper than the recursion limit, an
integer beyond Python's digit limit) into 500s.

``reject_unknown_query_parameters`` is a route middleware: a misspelt filter (``?usr_id=``) must
fail loudly instead of silently returning unfiltered data.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.middleware_factory import lambda_handler_decorator

from interactions_api.config import MAX_BODY_BYTES
from interactions_api.errors import ApiError, bad_request, field_error

_METHODS_WITH_BODY = {"POST", "PUT", "PATCH"}


def _header(event: dict[str, Any], name: str) -> str | None:
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name:
            return value
    return None


def _body_bytes(event: dict[str, Any]) -> bytes:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise bad_request("body", "body", "is not valid base64", "base64_invalid") from exc
    return body.encode("utf-8", errors="surrogatepass")


def check_body(event: dict[str, Any]) -> None:
    """Raise ApiError unless the event's body is absent or readable JSON within the limits."""
    if str(event.get("httpMethod", "")).upper() not in _METHODS_WITH_BODY or not event.get("body"):
        return
    content_type = (_header(event, "content-type") or "").strip().lower()
    if content_type and not content_type.startswith("application/json"):
        message = "must be application/json"
        raise ApiError(
            415,
            "unsupported_media_type",
            f"Content-Type {message}",
            [field_error("header", "content-type", message, "unsupported_media_type")],
        )
    raw = _body_bytes(event)
    if len(raw) > MAX_BODY_BYTES:
        message = f"is {len(raw)} bytes; the limit is {MAX_BODY_BYTES} bytes"
        raise ApiError(
            413,
            "payload_too_large",
            f"Request body {message}",
            [field_error("body", "body", message, "body_too_large")],
        )
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ApiError(
            400,
            "invalid_json",
            f"Request body is not valid JSON: {exc.msg} at position {exc.pos}",
            [field_error("body", "body", f"is not valid JSON ({exc.msg} at position {exc.pos})", "json_invalid")],
        ) from exc
    except (RecursionError, ValueError) as exc:
        # Too deeply nested, an integer over Python's digit limit, or bytes that are not UTF-8.
        raise bad_request(
            "body",
            "body",
            "is JSON this API cannot read (nesting, number size or encoding)",
            "json_unreadable",
        ) from exc
    if not isinstance(document, dict):
        # Powertools would take the first element of a JSON array as the body; only objects are bodies.
        message = "must be a JSON object"
        raise ApiError(
            422, "validation_error", f"Request body {message}", [field_error("body", "body", message, "dict_type")]
        )


@lambda_handler_decorator
def reject_unreadable_bodies(handler, event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        check_body(event)
    except ApiError as error:
        return error.proxy_result()
    return handler(event, context)


def reject_unknown_query_parameters(app: Any, next_middleware: NextMiddleware) -> Response:
    allowed = {param.alias for param in app.context["_route"].dependant.query_params}
    event = app.current_event
    given = set(event.multi_value_query_string_parameters or {}) | set(event.query_string_parameters or {})
    unknown = sorted(given - allowed)
    if unknown:
        accepted = ", ".join(sorted(allowed)) or "none"
        message = f"is not a query parameter of this route (accepted: {accepted})"
        raise ApiError(
            400,
            "unknown_query_parameter",
            f"Unknown query parameter(s): {', '.join(unknown)}",
            [field_error("query", name, message, "unknown_query_parameter") for name in unknown],
        )
    return next_middleware(app)
