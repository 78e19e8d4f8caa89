"""Fixtures of the interactions API tests: a real PostgreSQL database created for the session and
real API Gateway REST proxy events (``events/*.json``) fed to the real Lambda handler."""

from __future__ import annotations

import copy
import json
import os
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

import interactions_api
from cw_local.fakes import FakeLambdaContext, patched_environment

EVENTS = Path(__file__).resolve().parent / "events"

SERVICE_NAME = f"cw-api-test-{uuid.uuid4().hex[:8]}"
API_ENV = {
    "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
    "POWERTOOLS_METRICS_NAMESPACE": "CwAnalytics/Test",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}


# Powertools reads its settings when the app module creates its Logger and Metrics; the variables
# are set only for that import so that other test packages in the same run keep their own.
with patched_environment(API_ENV):
    from interactions_api import migrations, models
    from interactions_api.app import handler, metrics
    from interactions_api.db import database

PG_HOST = os.environ.get("CW_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("CW_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("CW_TEST_PG_USER", "postgres")


def dsn(dbname: str, port: int = PG_PORT) -> str:
    return f"postgresql://{PG_USER}@{PG_HOST}:{port}/{dbname}"


# The API function's context: its memory and its 29 s timeout (API Gateway's integration limit).
API_CONTEXT = {"function_name": "cw-analytics-test-api", "memory_limit_in_mb": 512, "remaining_time_in_millis": 29_000}


@dataclass
class ApiResponse:
    status: int
    body: Any
    headers: dict[str, list[str]]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Powertools warns on every invocation that adds no metric (the read-only routes, by design).
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.filterwarnings("ignore:No application metrics to publish"))


@pytest.fixture(scope="session")
def api_dbname() -> Iterator[str]:
    """A database of its own for this session on the local server, dropped at the end."""
    name = f"cw_api_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(dsn("postgres"), autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"No PostgreSQL on {PG_HOST}:{PG_PORT} ({exc}). Run `bash scripts/ensure-postgres.sh`, "
            "or point CW_TEST_PG_HOST/CW_TEST_PG_PORT/CW_TEST_PG_USER at a server with trust auth."
        )
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    # Migrated up front so tests can count rows before the handler's first connection.
    with psycopg.connect(dsn(name), autocommit=True) as conn:
        migrations.apply(conn)
    yield name
    database.reset()
    with psycopg.connect(dsn("postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(autouse=True)
def api_env(api_dbname: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test starts with an empty table and a handler that has not connected yet."""
    for name, value in API_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DB_DSN", dsn(api_dbname))
    for name in ("DB_SECRET_ARN", "DB_SSLMODE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DB_CONNECT_TIMEOUT_SECONDS", "2")
    database.reset()
    with psycopg.connect(dsn(api_dbname), autocommit=True) as conn:
        conn.execute("TRUNCATE interactions RESTART IDENTITY")
    yield
    database.reset()
    metrics.clear_metrics()


@pytest.fixture
def db(api_dbname: str) -> Iterator[psycopg.Connection]:
    """An independent connection for checking what the handler stored."""
    with psycopg.connect(dsn(api_dbname), autocommit=True) as conn:
        yield conn


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"{name}.json").read_text())


def _template_for(method: str, path: str) -> str:
    if method == "POST":
        return "post_interaction"
    if path == "/interactions":
        return "list_interactions"
    if path == "/interactions/stats":
        return "interaction_stats"
    if path.startswith("/interactions/"):
        return "get_interaction"
    return "health"


def make_event(
    method: str,
    path: str,
    *,
    query: dict[str, str | list[str]] | None = None,
    body: Any = None,
    raw_body: str | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A recorded REST proxy event with this request's method, path, query, headers and body."""
    event = copy.deepcopy(load_event(_template_for(method, path)))
    event["httpMethod"] = event["requestContext"]["httpMethod"] = method
    event["path"] = path
    event["requestContext"]["path"] = f"/{event['requestContext']['stage']}{path}"
    event["pathParameters"] = {"proxy": path.lstrip("/")}
    if query is None:
        event["queryStringParameters"] = event["multiValueQueryStringParameters"] = None
    else:
        multi = {k: v if isinstance(v, list) else [v] for k, v in query.items()}
        event["multiValueQueryStringParameters"] = multi
        event["queryStringParameters"] = {k: v[-1] for k, v in multi.items()}
    if headers:
        event["headers"] = {**event["headers"], **headers}
        event["multiValueHeaders"] = {k: [v] for k, v in event["headers"].items()}
    if raw_body is not None:
        event["body"] = raw_body
    elif body is not None:
        event["body"] = json.dumps(body)
    elif method != "POST":
        event["body"] = None
    return event


_OPENAPI = json.loads((Path(interactions_api.__file__).parent / "openapi.json").read_text())


def _documented_operation(method: str, path: str) -> dict[str, Any] | None:
    # Static paths first, as the resolver matches them: /interactions/stats is not an id.
    for template, operations in sorted(_OPENAPI["paths"].items(), key=lambda item: "{" in item[0]):
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path) and method.lower() in operations:
            return operations[method.lower()]
    return None


def invoke(event: dict[str, Any]) -> ApiResponse:
    """Call the real handler, and check the answer against the committed OpenAPI document."""
    result = handler(event, FakeLambdaContext(**API_CONTEXT))
    status = int(result["statusCode"])
    body = json.loads(result["body"]) if result.get("body") else None
    response = ApiResponse(status=status, body=body, headers=result.get("multiValueHeaders") or {})
    operation = _documented_operation(event["httpMethod"], event["path"])
    if operation is None:
        assert status == 404, f"undocumented route answered {status}"
        models.ErrorResponse.model_validate(body)
        return response
    documented = operation["responses"].get(str(status))
    route = f"{event['httpMethod']} {event['path']}"
    assert documented is not None, f"{route} answered undocumented {status}: {body}"
    schema_name = documented["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    getattr(models, schema_name).model_validate(body)
    if status >= 400:
        assert body["status"] == status
    return response


def call(method: str, path: str, **kwargs: Any) -> ApiResponse:
    return invoke(make_event(method, path, **kwargs))


def record(user_id: str = "user-1", type: str = "click", **fields: Any) -> dict[str, Any]:
    response = call("POST", "/interactions", body={"user_id": user_id, "type": type, **fields})
    assert response.status == 201, response.body
    return response.body


def wait_until(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def backends(db: psycopg.Connection) -> list[int]:
    """Backend pids of the handler's connections (its application_name is the service name)."""
    rows = db.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = %s",
        (SERVICE_NAME,),
    ).fetchall()
    return [row[0] for row in rows]


def terminate_connection(db: psycopg.Connection) -> int:
    """Kill the handler's connection from the server side, as a failover or an admin would."""
    (pid,) = backends(db)
    assert db.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)
    wait_until(lambda: pid not in backends(db))
    return pid


class ApiClient:
    """What the tests use to talk to the handler (a fixture, so test modules import nothing)."""

    load_event = staticmethod(load_event)
    make_event = staticmethod(make_event)
    invoke = staticmethod(invoke)
    call = staticmethod(call)
    record = staticmethod(record)
    wait_until = staticmethod(wait_until)
    backends = staticmethod(backends)
    terminate_connection = staticmethod(terminate_connection)
    dsn = staticmethod(dsn)
    service_name = SERVICE_NAME


@pytest.fixture
def api() -> ApiClient:
    return ApiClient()
