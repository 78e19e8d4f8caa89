"""What every request costs moto's server before and after its service's work: the emulator's cost, not the client's.

During one pipeline run over the 1,070-resource estate (~1,700 requests) the emulator used ~20 s of CPU on a
2-core machine, where the client being measured runs too; its global locks also queue the server's request
threads behind each other. `install()` removes five per-request costs that are the local server's or moto's
bookkeeping, not AWS's behaviour, without changing any answer:

- **A connection and a thread per request**: werkzeug's development server, which moto's server runs on, ends
  every response with ``Connection: close`` (http.server cannot tell where a request body it did not read
  ends), so every call opens a TCP connection and the server starts a thread for it: on the baseline's 5,380
  Queries, about a tenth of the emulator's CPU, and a new connection for the client each time where AWS keeps
  them open. The server now reads each request's body (``Content-Length`` bytes) before the application runs
  and hands it that copy, so the connection is always at the next request when the response has been sent;
  a response with a ``Content-Length`` then keeps the connection open for the client's next request (HTTP/1.1
  keep-alive, as AWS endpoints do), with ``TCP_NODELAY`` so that a response is not held back waiting for an
  acknowledgement. A chunked request body, a client waiting for ``100 Continue``, a response without a length,
  or a client asking to close keep werkzeug's behaviour.
- **Dispatch**: ``DomainDispatcherApplication.get_application`` finds the service of every request under one
  lock: it lists moto's package directory (``backends.list_of_moto_modules``: an ``os.listdir`` and ~200
  ``isdir`` calls) and, for a host that is not a module name, tries ~180 URL patterns in turn. Which backend
  serves a host never changes, so it is looked up once per host and kept; the lock is taken only to create a
  service's Flask app, the first time one is asked for. The host is still inferred from each request
  (signature, target header), as moto does.
- **Backend lookup**: every ``backends[account]`` (each DynamoDB request does it at least once) takes moto's
  global ``backend_lock`` and builds ``list(self.keys())`` to see whether the account exists. When it exists, it
  is now returned without the lock; an account not seen yet still goes through moto's own locked creation.
  (moto's reset empties these dictionaries under the same lock, so a present account is a registered one.)
- **Method lookup**: ``BaseResponse.call_action`` lists the handler class's functions with
  ``inspect.getmembers`` on every request to check that the action is one of them. The list is kept per class
  and listed again only when an action is not in it (a method added since).
- **Request id in XML**: ``BaseResponse._enrich_response`` runs a regular expression with a look-behind over
  every response body to replace ``<RequestId>...</RequestId>``, JSON bodies of hundreds of kilobytes included.
  A body without the text ``<RequestId>`` cannot match, so it is left as it is without the scan.

Idempotent. The connections and the dispatch apply to a moto server in this process (``ThreadedMotoServer``);
the other three also to ``mock_aws``.
"""

from __future__ import annotations

import contextlib
import io
import re
import socket
import threading
from typing import Any

from moto.core import responses, utils
from moto.core.base_backend import BackendDict
from moto.core.responses import BaseResponse
from moto.moto_server.werkzeug_app import DEFAULT_SERVICE_REGION, DomainDispatcherApplication, MotoRequestHandler
from moto.utilities.aws_headers import gen_amzn_requestid_long

_MARKER = "_cw_local_fast_server"
_REQUEST_ID = re.compile(r"(?<=<RequestId>).*(?=<\/RequestId>)")  # moto's pattern
_original_get_backend_for_host = DomainDispatcherApplication.get_backend_for_host
_original_backend_dict_getitem = BackendDict.__getitem__
_original_method_names_from_class = utils.method_names_from_class
_original_run_wsgi = MotoRequestHandler.run_wsgi
_original_send_header = MotoRequestHandler.send_header
_original_setup = MotoRequestHandler.setup


def install() -> None:
    if getattr(DomainDispatcherApplication, _MARKER, False):
        return
    DomainDispatcherApplication.get_backend_for_host = _get_backend_for_host
    DomainDispatcherApplication.get_application = _get_application
    BackendDict.__getitem__ = _backend_dict_getitem
    responses.method_names_from_class = _method_names_from_class  # the name call_action looks up
    BaseResponse._enrich_response = staticmethod(_enrich_response)
    MotoRequestHandler.run_wsgi = _run_wsgi
    MotoRequestHandler.send_header = _send_header
    MotoRequestHandler.setup = _setup
    setattr(DomainDispatcherApplication, _MARKER, True)


# --- connections kept open -------------------------------------------------------------------------------


def _setup(self: MotoRequestHandler) -> None:
    _original_setup(self)
    # An open connection meets Nagle's algorithm: the response's headers and body are separate writes, and the
    # second waits for the client's delayed acknowledgement (~40 ms per request). Closing flushed it before.
    with contextlib.suppress(OSError):
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _run_wsgi(self: MotoRequestHandler) -> None:
    length = self.headers.get("Content-Length")
    chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
    waiting = self.headers.get("Expect", "").lower().strip() == "100-continue"  # the body comes after werkzeug's 100
    if chunked or waiting or (length is not None and not length.strip().isdigit()):
        self._cw_keep_alive = False
        return _original_run_wsgi(self)
    body = self.rfile.read(int(length)) if length else b""
    if length and len(body) < int(length):  # the client went away mid-body: close, as werkzeug would
        self._cw_keep_alive = False
        self.close_connection = True
        return None
    # The application reads its body from this copy, and werkzeug's end-of-response drain (meant to discard
    # what the application left unread) drains the copy too: never the client's next request on the socket.
    connection_stream = self.rfile
    self.rfile = io.BytesIO(body)
    self._cw_keep_alive = True
    self._cw_response_length_known = False
    try:
        return _original_run_wsgi(self)
    finally:
        self.rfile = connection_stream
        self._cw_keep_alive = False  # what is sent outside run_wsgi (http.server's own errors) is untouched


def _send_header(self: MotoRequestHandler, keyword: str, value: str) -> None:
    name = keyword.lower()
    if name == "content-length":
        self._cw_response_length_known = True
    elif (
        name == "connection"
        and value.lower() == "close"
        and getattr(self, "_cw_keep_alive", False)
        and getattr(self, "_cw_response_length_known", False)
    ):
        return  # werkzeug's unconditional close: the response is delimited and the request fully read
    _original_send_header(self, keyword, value)


# --- dispatch ----------------------------------------------------------------------------------------------

_backends_by_host: dict[str, Any] = {}


def _get_backend_for_host(self: DomainDispatcherApplication, host: str | None) -> Any:
    if host is None:
        return None
    try:
        return _backends_by_host[host]
    except KeyError:
        pass
    backend = _original_get_backend_for_host(self, host)
    if backend:  # a host moto does not know is asked again next time (and moto says so again)
        _backends_by_host[host] = backend
    return backend


def _get_application(self: DomainDispatcherApplication, environ: dict[str, Any]) -> Any:
    # moto's get_application, with the host -> backend answer kept and the lock only around creating an app.
    path_info = environ.get("PATH_INFO", "")
    if isinstance(path_info, bytes):
        path_info = path_info.decode("utf-8")
    if path_info.startswith("/moto-api") or path_info == "/favicon.ico":
        host = "moto_api"
    elif path_info.startswith("/latest/meta-data/") or path_info.startswith("/latest/api/"):
        host = "instance_metadata"
    else:
        host = None
    backend = self.get_backend_for_host(host)
    if not backend:
        host = self.infer_service_region_host(environ, path_info)
        if host is None:
            service, region = DEFAULT_SERVICE_REGION
            host = f"{service}.{region}.amazonaws.com"
        backend = self.get_backend_for_host(host)
    app = self.app_instances.get(backend)
    if app is None:
        with self.lock:
            app = self.app_instances.get(backend)
            if app is None:
                app = self.create_app(backend)
                self.app_instances[backend] = app
    return app


# --- backends and methods ---------------------------------------------------------------------------------


def _backend_dict_getitem(self: BackendDict, account_id: str) -> Any:
    try:
        return dict.__getitem__(self, account_id)
    except KeyError:
        return _original_backend_dict_getitem(self, account_id)


class _MethodNames:
    """The names of a class's functions, for ``in``: listed once, listed again when a name is missing."""

    def __init__(self, clazz: type) -> None:
        self._clazz = clazz
        self._names = frozenset(_original_method_names_from_class(clazz))

    def __contains__(self, name: object) -> bool:
        if name in self._names:
            return True
        self._names = frozenset(_original_method_names_from_class(self._clazz))
        return name in self._names


_method_names: dict[type, _MethodNames] = {}
_method_names_lock = threading.Lock()


def _method_names_from_class(clazz: type) -> _MethodNames:
    names = _method_names.get(clazz)
    if names is None:
        with _method_names_lock:
            names = _method_names.setdefault(clazz, _MethodNames(clazz))
    return names


# --- responses --------------------------------------------------------------------------------------------


def _enrich_response(headers: dict[str, str], body: Any) -> tuple[dict[str, str], Any]:
    # moto's BaseResponse._enrich_response, the substitution skipped where it cannot match.
    if "status" in headers:
        headers["status"] = str(headers["status"])
    request_id = gen_amzn_requestid_long(headers)
    if isinstance(body, str) and "<RequestId>" not in body:
        return headers, body
    with contextlib.suppress(Exception):  # as moto: a body the substitution cannot take (bytes) is kept
        body = _REQUEST_ID.sub(request_id, body)
    return headers, body
