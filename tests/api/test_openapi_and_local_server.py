"""The committed OpenAPI document is the code's, and the local server speaks plain HTTP to the handler."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

import pytest

from cw_local import api_server as local_server
from interactions_api import openapi


def test_committed_openapi_document_is_generated_from_the_code():
    committed = openapi.OPENAPI_PATH.read_text(encoding="utf-8")
    assert committed == openapi.render(), "run: python -m interactions_api.openapi"


def test_openapi_document_lists_the_five_routes_with_their_parameters():
    document = json.loads(openapi.OPENAPI_PATH.read_text(encoding="utf-8"))
    operations = {
        (method.upper(), path): sorted(p["name"] for p in op.get("parameters", []))
        for path, ops in document["paths"].items()
        for method, op in ops.items()
    }
    assert operations == {
        ("POST", "/interactions"): [],
        ("GET", "/interactions/{interaction_id}"): ["interaction_id"],
        ("GET", "/interactions"): ["cursor", "limit", "since", "type", "user_id"],
        ("GET", "/interactions/stats"): ["since"],
        ("GET", "/health"): [],
    }
    create = document["paths"]["/interactions"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/InteractionCreate")
    assert set(create["responses"]) == {"201", "400", "413", "415", "422", "500", "503"}


@pytest.fixture
def server():
    httpd = local_server.serve("127.0.0.1", 0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


def http(url: str, body: dict | None = None, content_type: str = "application/json") -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": content_type} if data else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_local_server_translates_http_into_api_gateway_events(server):
    status, created = http(f"{server}/interactions", {"user_id": "curl user", "type": "click", "payload": {"a": 1}})
    _, second = http(f"{server}/interactions", {"user_id": "curl user", "type": "view"})
    listed_status, listed = http(f"{server}/interactions?user_id=curl%20user&limit=1")
    _, rest = http(f"{server}/interactions?user_id=curl%20user&limit=1&cursor={listed['next_cursor']}")
    _, stats = http(f"{server}/interactions/stats?since=2000-01-01T00:00:00%2B00:00")
    unknown_status, unknown = http(f"{server}/interactions?colour=red")
    form_status, _ = http(f"{server}/interactions", {"user_id": "u"}, content_type="application/x-www-form-urlencoded")

    assert (status, created["user_id"], created["payload"]) == (201, "curl user", {"a": 1})
    assert (listed_status, [i["id"] for i in listed["items"] + rest["items"]]) == (200, [second["id"], created["id"]])
    assert stats["total"] == 2
    assert (unknown_status, unknown["fields"][0]["field"]) == (400, "colour")
    assert form_status == 415


def test_proxy_event_carries_repeated_query_values_and_binary_bodies():
    event = local_server.to_proxy_event("POST", "/interactions?a=1&a=2&b=", [("X-Test", "1")], b"\xff\x00")
    assert event["queryStringParameters"] == {"a": "2", "b": ""}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": [""]}
    assert (event["body"], event["isBase64Encoded"]) == ("/wA=", True)
    assert event["headers"] == {"X-Test": "1"}
