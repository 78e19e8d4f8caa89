"""Run the Lambda handler behind a local HTTP server, for curl and a browser.

    DB_DSN=postgresql://postgres@127.0.0.1:5432/cw_api python -m cw_local.api_server

Each HTTP request becomes an API Gateway REST proxy event (as a ``{proxy+}`` resource delivers it)
and goes through ``interactions_api.app.handler`` unchanged; the proxy result becomes the HTTP
response. One request at a time, like one Lambda execution environment. ``API_HOST``/``API_PORT``
choose the address (127.0.0.1:8080); the database named in ``DB_DSN`` is created if missing.
"""

from __future__ import annotations

import base64
import json
import os
import time
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cw_local.fakes import FakeLambdaContext

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/cw_api"


def to_proxy_event(
    method: str, target: str, headers: list[tuple[str, str]], body: bytes, source_ip: str = "127.0.0.1"
) -> dict[str, Any]:
    """The API Gateway REST proxy event for one HTTP request (``target`` is path plus query)."""
    url = urlsplit(target)
    multi_query = parse_qs(url.query, keep_blank_values=True) or None
    multi_headers: dict[str, list[str]] = {}
    for name, value in headers:
        multi_headers.setdefault(name, []).append(value)
    try:
        text_body: str | None = body.decode("utf-8") if body else None
        is_base64 = False
    except UnicodeDecodeError:
        text_body, is_base64 = base64.b64encode(body).decode(), True
    now = time.time()
    return {
        "resource": "/{proxy+}",
        "path": url.path,
        "httpMethod": method,
        "headers": {name: values[-1] for name, values in multi_headers.items()} or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} if multi_query else None,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": {"proxy": url.path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": f"/local{url.path}",
            "stage": "local",
            "requestId": str(uuid.uuid4()),
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "requestTimeEpoch": int(now * 1000),
            "protocol": "HTTP/1.1",
            "identity": {"sourceIp": source_ip, "userAgent": multi_headers.get("User-Agent", [""])[-1]},
            "accountId": "000000000000",
            "apiId": "local",
        },
        "body": text_body,
        "isBase64Encoded": is_base64,
    }


def local_context() -> FakeLambdaContext:
    """The context of one request: the API function's memory and API Gateway's 29 s integration limit."""
    return FakeLambdaContext(
        function_name="interactions-api-local", memory_limit_in_mb=512, remaining_time_in_millis=29_000
    )


def _make_request_handler(handler: Any) -> type[BaseHTTPRequestHandler]:
    class ProxyRequestHandler(BaseHTTPRequestHandler):
        # HTTP/1.0 (the default) closes each connection after its response, so a browser's idle
        # keep-alive connection cannot hold this one-request-at-a-time server.

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            event = to_proxy_event(self.command, self.path, list(self.headers.items()), body, self.client_address[0])
            result = handler(event, local_context())
            payload = result.get("body") or ""
            data = base64.b64decode(payload) if result.get("isBase64Encoded") else payload.encode("utf-8")
            self.send_response(int(result["statusCode"]))
            sent = set()
            for name, values in (result.get("multiValueHeaders") or {}).items():
                for value in values:
                    self.send_header(name, value)
                sent.add(name.lower())
            for name, value in (result.get("headers") or {}).items():
                if name.lower() not in sent:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _serve

    return ProxyRequestHandler


def ensure_database(dsn: str) -> None:
    """Create the DSN's database on its server if it does not exist yet (local convenience only)."""
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(dsn)
    name = params.get("dbname") or "postgres"
    with psycopg.connect(**{**params, "dbname": "postgres"}, autocommit=True) as admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def serve(host: str, port: int) -> HTTPServer:
    """A server bound to host:port that feeds every request to the Lambda handler."""
    from interactions_api.app import handler

    return HTTPServer((host, port), _make_request_handler(handler))


def main() -> None:
    os.environ.setdefault("DB_DSN", DEFAULT_DSN)
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "cw-analytics-local-api")
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "CwAnalytics/Api")
    # Metrics would print one EMF blob per request to the terminal; logs are enough locally.
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    ensure_database(os.environ["DB_DSN"])
    host, port = os.environ.get("API_HOST", "127.0.0.1"), int(os.environ.get("API_PORT", "8080"))
    server = serve(host, port)
    base = f"http://{host}:{server.server_port}"
    print(
        json.dumps({"message": "interactions API listening", "url": base, "health": f"{base}/health"}),
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
