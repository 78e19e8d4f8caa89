"""Bad input gets a 4xx JSON error naming the field: never a 500, never a partial write."""

from __future__ import annotations

import base64
import json

import pytest

VALID = {"user_id": "u-1", "type": "click"}
BIG_PAYLOAD = {"blob": "x" * (16 * 1024)}  # 16 KiB of text plus the JSON around it: just over the limit


def nested(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth - 1):
        value = {"n": value}
    return value


BODY_CASES = [
    # (case, raw body, content type, status, field, error type)
    ("truncated JSON", '{"user_id": "u-1", "type": ', "application/json", 400, "body", "json_invalid"),
    ("not JSON at all", "user_id=u-1&type=click", "application/json", 400, "body", "json_invalid"),
    ("form content type", "user_id=u-1&type=click", "application/x-www-form-urlencoded", 415, "content-type", None),
    ("array instead of object", json.dumps([VALID]), "application/json", 422, "body", "dict_type"),
    ("user_id is a number", json.dumps({**VALID, "user_id": 42}), "application/json", 422, "user_id", "string_type"),
    ("user_id missing", json.dumps({"type": "click"}), "application/json", 422, "user_id", "missing"),
    ("user_id empty", json.dumps({**VALID, "user_id": ""}), None, 422, "user_id", "string_too_short"),
    ("user_id too long", json.dumps({**VALID, "user_id": "u" * 129}), None, 422, "user_id", "string_too_long"),
    ("type has capitals", json.dumps({**VALID, "type": "Click"}), None, 422, "type", "string_pattern_mismatch"),
    ("type is a list", json.dumps({**VALID, "type": ["click"]}), None, 422, "type", "string_type"),
    ("payload is a list", json.dumps({**VALID, "payload": [1, 2]}), None, 422, "payload", "dict_type"),
    ("payload is a string", json.dumps({**VALID, "payload": "{}"}), None, 422, "payload", "dict_type"),
    ("occurred_at is not a date", json.dumps({**VALID, "occurred_at": "yesterday"}), None, 422, "occurred_at", None),
    (
        "occurred_at without offset",
        json.dumps({**VALID, "occurred_at": "2024-11-26T09:00:00"}),
        None,
        422,
        "occurred_at",
        "timezone_aware",
    ),
    ("unknown body field", json.dumps({**VALID, "admin": True}), None, 422, "admin", "extra_forbidden"),
    ("NUL in user_id", json.dumps({**VALID, "user_id": "a\u0000b"}), None, 422, "user_id", "nul_character"),
    ("NUL in payload", json.dumps({**VALID, "payload": {"k": "a\u0000"}}), None, 422, "payload", "nul_character"),
    ("lone surrogate", '{"user_id": "\\ud800", "type": "click"}', None, 422, "user_id", "string_unicode"),
    ("lone surrogate in payload", '{"user_id": "u", "type": "t", "payload": {"k": "\\udc00"}}', None, 422, "payload",
     "invalid_unicode"),
    ("NaN in payload", '{"user_id": "u", "type": "click", "payload": {"x": NaN}}', None, 422, "payload", None),
    ("payload too deep", json.dumps({**VALID, "payload": nested(40)}), None, 422, "payload", "payload_too_deep"),
    ("body nested past the parser", "[" * 5000 + "]" * 5000, None, 400, "body", "json_unreadable"),
    ("integer with 5000 digits", '{"user_id": "u", "type": "t", "payload": {"n": ' + "9" * 5000 + "}}", None,
     400, "body", "json_unreadable"),
    ("payload over 16 KiB", json.dumps({**VALID, "payload": BIG_PAYLOAD}), None, 413, "payload", "payload_too_large"),
    ("body over 64 KiB", json.dumps({**VALID, "payload": {"b": "x" * 70_000}}), None, 413, "body", "body_too_large"),
    ("empty body", "", None, 422, "body", "missing"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "content_type", "status", "field", "error_type"),
    [case[1:] for case in BODY_CASES],
    ids=[case[0] for case in BODY_CASES],
)
def test_bad_bodies_are_refused_naming_the_field_and_write_nothing(
    api, db, raw, content_type, status, field, error_type
):
    headers = {"Content-Type": content_type} if content_type else {}
    event = api.make_event("POST", "/interactions", raw_body=raw, headers=headers)
    if content_type is None:
        event["headers"].pop("Content-Type", None)
        event["multiValueHeaders"].pop("Content-Type", None)

    response = api.invoke(event)

    assert response.status == status, response.body
    assert field in [f["field"] for f in response.body["fields"]], response.body
    if error_type is not None:
        assert error_type in [f["type"] for f in response.body["fields"]]
    assert field in response.body["message"] or response.status in (413, 415)
    assert db.execute("SELECT count(*) FROM interactions").fetchone() == (0,)


def test_payload_just_under_the_limit_is_accepted(api):
    filler = 16 * 1024 - len(json.dumps({"blob": ""}, separators=(",", ":")))
    response = api.call("POST", "/interactions", body={**VALID, "payload": {"blob": "x" * filler}})
    assert response.status == 201
    assert len(response.body["payload"]["blob"]) == filler


def test_base64_encoded_bodies_are_decoded_like_api_gateway_does(api):
    event = api.make_event("POST", "/interactions", raw_body=base64.b64encode(json.dumps(VALID).encode()).decode())
    event["isBase64Encoded"] = True
    assert api.invoke(event).status == 201


QUERY_CASES = [
    ("/interactions", {"usr_id": "alice"}, 400, "usr_id", "unknown_query_parameter"),
    ("/interactions/stats", {"since": "2024-01-01T00:00:00Z", "until": "x"}, 400, "until", "unknown_query_parameter"),
    ("/health", {"verbose": "1"}, 400, "verbose", "unknown_query_parameter"),
    ("/interactions/1", {"expand": "user"}, 400, "expand", "unknown_query_parameter"),
    ("/interactions", {"limit": "0"}, 422, "limit", "greater_than_equal"),
    ("/interactions", {"limit": "501"}, 422, "limit", "less_than_equal"),
    ("/interactions", {"limit": "ten"}, 422, "limit", "int_parsing"),
    ("/interactions", {"since": "last week"}, 422, "since", None),
    ("/interactions", {"since": "2024-11-26T09:00:00"}, 422, "since", "timezone_aware"),
    ("/interactions", {"type": "DROP TABLE"}, 422, "type", "string_pattern_mismatch"),
    ("/interactions/stats", {"since": "2024-13-01T00:00:00Z"}, 422, "since", None),
    ("/interactions", {"cursor": "not-a-cursor"}, 400, "cursor", "cursor_invalid"),
    ("/interactions", {"cursor": "!!!"}, 400, "cursor", "cursor_invalid"),
    ("/interactions", {"cursor": base64.urlsafe_b64encode(b'{"a":1}').decode()}, 400, "cursor", "cursor_invalid"),
    ("/interactions", {"cursor": base64.urlsafe_b64encode(b'["2024-11-26T09:00:00", 5]').decode()}, 400, "cursor",
     "cursor_invalid"),
    ("/interactions", {"cursor": base64.urlsafe_b64encode(b'["2024-11-26T09:00:00Z", "5"]').decode()}, 400,
     "cursor", "cursor_invalid"),
    ("/interactions", {"cursor": base64.urlsafe_b64encode(b'["2024-11-26T09:00:00Z", 1e30]').decode()}, 400,
     "cursor", "cursor_invalid"),
    ("/interactions", {"cursor": "x" * 600}, 422, "cursor", "string_too_long"),
    ("/interactions/abc", None, 422, "interaction_id", "int_parsing"),
    ("/interactions/0", None, 422, "interaction_id", "greater_than_equal"),
    ("/interactions/99999999999999999999", None, 422, "interaction_id", "less_than_equal"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "query", "status", "field", "error_type"), QUERY_CASES)
def test_bad_query_and_path_parameters_are_refused_naming_the_field(api, path, query, status, field, error_type):
    response = api.call("GET", path, query=query)

    assert response.status == status, response.body
    fields = response.body["fields"]
    assert field in [f["field"] for f in fields], response.body
    if error_type is not None:
        assert error_type in [f["type"] for f in fields]


def test_an_unknown_route_is_a_json_404(api):
    response = api.call("GET", "/nothing-here")
    assert (response.status, response.body["error"]) == (404, "not_found")


def test_a_cursor_from_another_page_size_still_resumes_after_its_row(api):
    # The cursor only says where to resume, so changing the page size mid-walk is fine.
    ids = [api.record(type="view")["id"] for _ in range(4)]
    first = api.call("GET", "/interactions", query={"limit": "1"})
    rest = api.call("GET", "/interactions", query={"limit": "10", "cursor": first.body["next_cursor"]})
    assert [i["id"] for i in first.body["items"] + rest.body["items"]] == sorted(ids, reverse=True)
