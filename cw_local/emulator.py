"""The local AWS emulator: moto over HTTP with percentile support and the pipeline's resources.

Run ``python -m cw_local.emulator [--port 5000] [--host 127.0.0.1] [--env dev]``. It serves
moto (``moto.server.ThreadedMotoServer``) with `cw_local.percentiles` (percentiles, an indexed
GetMetricData and ListMetrics), `cw_local.tagging` (REST APIs in the tagging API),
`cw_local.fast_dynamodb` (a Query reads one partition; items built, parsed and answered without moto's
per-value overheads; partitions created under a lock) and `cw_local.fast_server` (connections kept open;
requests dispatched without moto's per-request directory listing, URL-pattern scan and global locks)
installed, creates the metrics table, the alerts topic and its inbox queue with `cw_local.provision`, prints
ONE line of JSON on stdout::

    {"endpoint_url": "http://127.0.0.1:5000", "region": "us-east-1", "env": "dev", "pid": 123,
     "table_name": "...", "topic_arn": "...", "inbox_queue_url": "..."}

and serves until SIGINT or SIGTERM, then stops and exits 0. ``--port 0`` picks a free port (the line
says which). A port already in use is refused with exit code 2 and a message on stderr.

Tests and the demo use `running_emulator()`, which runs the same command in a subprocess and yields an
`Emulator` (endpoint, region, resources, boto3 helpers, environment for child processes).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import queue
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import boto3

from cw_local import fast_dynamodb, fast_server, percentiles, tagging
from cw_local.fakes import DUMMY_CREDENTIALS
from cw_local.provision import ProvisionedResources, provision
from cw_pipeline import naming

DEFAULT_PORT = 5000
DEFAULT_HOST = "127.0.0.1"
EXIT_PORT_IN_USE = 2


class EmulatorError(RuntimeError):
    """The emulator subprocess did not start (the message carries its exit code and stderr)."""


def default_region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


class EndpointSession:
    """A boto3 session whose clients and resources all go to one endpoint."""

    def __init__(self, session: boto3.Session, endpoint_url: str) -> None:
        self._session, self._endpoint_url = session, endpoint_url

    def client(self, service_name: str):
        return self._session.client(service_name, endpoint_url=self._endpoint_url)

    def resource(self, service_name: str):
        return self._session.resource(service_name, endpoint_url=self._endpoint_url)


@dataclass
class Emulator:
    endpoint_url: str
    region: str
    env: str
    resources: ProvisionedResources
    pid: int
    exit_code: int | None = field(default=None)  # set once the subprocess has stopped
    _process: subprocess.Popen | None = field(default=None, repr=False, compare=False)

    def stop(self, signal_number: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Signal the subprocess (SIGTERM or SIGINT both stop it cleanly) and return its exit code."""
        process = self._process
        if process is None:
            raise EmulatorError("this Emulator was not started by running_emulator()")
        if process.poll() is None:
            process.send_signal(signal_number)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.exit_code = process.returncode
        return self.exit_code

    def session(self) -> boto3.Session:
        """A boto3 session with dummy credentials; pass ``endpoint_url`` to its clients (or use `client`)."""
        return boto3.Session(region_name=self.region, **DUMMY_CREDENTIALS)

    def client(self, service_name: str):
        return self.session().client(service_name, endpoint_url=self.endpoint_url)

    def endpoint_session(self) -> EndpointSession:
        """A session whose clients and resources reach this emulator without an ``AWS_ENDPOINT_URL``."""
        return EndpointSession(self.session(), self.endpoint_url)

    def environment(self) -> dict[str, str]:
        """Variables that point unchanged pipeline code (a child process) at this emulator."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ACCESS_KEY_ID": DUMMY_CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIALS["aws_secret_access_key"],
            "CW_ENV": self.env,
            "CW_METRICS_TABLE": self.resources.table_name,
            "CW_ALERTS_TOPIC_ARN": self.resources.topic_arn,
        }


# --- the server process ---------------------------------------------------------------------------------


def port_is_free(host: str, port: int) -> bool:
    """Whether ``port`` can be bound on ``host`` now (same SO_REUSEADDR as werkzeug's server socket)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _start_server(host: str, port: int, timeout: float = 15.0):
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    # ThreadedMotoServer.start() waits forever when its thread fails to bind: wait on it with a timeout.
    starter = threading.Thread(target=server.start, daemon=True)
    starter.start()
    starter.join(timeout)
    if starter.is_alive():
        return None
    return server


def _refuse_port(host: str, port: int) -> int:
    print(
        f"cw_local.emulator: port {port} on {host} is already in use (another emulator or "
        f"moto server?). Stop the process listening on it (e.g. `lsof -i :{port}`) or choose another "
        "port with --port N (--port 0 picks a free one).",
        file=sys.stderr,
        flush=True,
    )
    return EXIT_PORT_IN_USE


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cw_local.emulator",
        description="Serve moto with percentile support and the pipeline's resources provisioned.",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--env", default="dev", help="environment suffix of the resource names")
    args = parser.parse_args(argv)
    try:
        naming.validate_env(args.env)
    except ValueError as error:
        parser.error(str(error))

    if args.port and not port_is_free(args.host, args.port):
        return _refuse_port(args.host, args.port)

    stop = threading.Event()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, lambda *_: stop.set())

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request on stderr
    percentiles.install()
    tagging.install()
    fast_dynamodb.install()
    fast_server.install()
    server = _start_server(args.host, args.port)
    if server is None:  # lost a race for the port between the check and the bind
        return _refuse_port(args.host, args.port)
    try:
        host, port = server.get_host_and_port()
        endpoint_url = f"http://{host}:{port}"
        region = default_region()
        # provision() creates plain session clients: the endpoint reaches them through the environment.
        os.environ["AWS_ENDPOINT_URL"] = endpoint_url
        resources = provision(boto3.Session(region_name=region, **DUMMY_CREDENTIALS), env=args.env)
        line = {"endpoint_url": endpoint_url, "region": region, "env": args.env, "pid": os.getpid()}
        line.update(
            table_name=resources.table_name,
            topic_arn=resources.topic_arn,
            inbox_queue_url=resources.inbox_queue_url,
        )
        print(json.dumps(line), flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


# --- the subprocess wrapper for tests and the demo --------------------------------------------------------


@contextmanager
def running_emulator(
    port: int = 0,
    host: str = DEFAULT_HOST,
    env: str = "dev",
    startup_timeout: float = 60.0,
    stop_timeout: float = 15.0,
) -> Iterator[Emulator]:
    """Run the emulator in a subprocess for the duration of the ``with`` block (port 0: a free port)."""
    command = [sys.executable, "-m", "cw_local.emulator", "--port", str(port), "--host", host]
    command += ["--env", env]
    child_environment = dict(os.environ)
    child_environment.pop("AWS_ENDPOINT_URL", None)  # the child sets its own
    with tempfile.TemporaryFile(mode="w+") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True, env=child_environment)
        try:
            emulator = _read_startup_line(process, stderr, startup_timeout)
        except BaseException:
            if process.poll() is None:
                process.kill()
                process.wait()
            raise
        emulator._process = process
        try:
            yield emulator
        finally:
            emulator.stop(signal.SIGTERM, stop_timeout)


def _read_startup_line(process: subprocess.Popen, stderr, timeout: float) -> Emulator:
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        # Keep draining stdout after the startup line so the child can never block on a full pipe.
        for text in process.stdout:
            lines.put(text)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    while True:
        try:
            text = lines.get(timeout=timeout)
        except queue.Empty:
            process.kill()
            raise EmulatorError(f"the emulator printed no startup line within {timeout:.0f} s") from None
        if text is None:
            process.wait()
            stderr.seek(0)
            raise EmulatorError(
                f"the emulator exited with code {process.returncode} before starting: {stderr.read().strip()}"
            )
        try:
            line = json.loads(text)
        except ValueError:
            continue  # not ours (a library printing on stdout)
        if isinstance(line, dict) and "endpoint_url" in line:
            return Emulator(
                endpoint_url=line["endpoint_url"],
                region=line["region"],
                env=line["env"],
                resources=ProvisionedResources(line["table_name"], line["topic_arn"], line["inbox_queue_url"]),
                pid=line["pid"],
            )


if __name__ == "__main__":
    sys.exit(main())
