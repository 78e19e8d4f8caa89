"""Helpers shared by the end-to-end tests: free ports, the webserver's GraphQL API, and `make ui` in a subprocess."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 150.0

PG_HOST = os.environ.get("CW_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("CW_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("CW_TEST_PG_USER", "postgres")

LOCATION_QUERY = """
{ workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus
  locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the process that binds it next may still race for it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def pg_url(dbname: str) -> str:
    return f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{dbname}"


class GraphQL:
    def __init__(self, url: str) -> None:
        self.url = url

    def __call__(self, query: str, variables: dict | None = None, timeout: float = 30.0) -> dict:
        response = requests.post(self.url, json={"query": query, "variables": variables or {}}, timeout=timeout)
        response.raise_for_status()
        body = response.json()
        assert not body.get("errors"), body["errors"]
        return body["data"]


class Ui:
    """`python -m cw_local.ui` running: its process, the webserver's and the emulator's URLs, its log."""

    def __init__(self, process, url: str, emulator_url: str, started: datetime, log: Path) -> None:
        self.process, self.url, self.emulator_url, self.started, self.log = process, url, emulator_url, started, log
        self.graphql = GraphQL(f"{url}/graphql")

    def output(self) -> str:
        return self.log.read_text()[-4000:]

    def wait_until_loaded(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        last = None
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"make ui exited with {self.process.returncode}:\n{self.output()}"
            try:
                data = self.graphql(LOCATION_QUERY, timeout=5)
                entries = data["workspaceOrError"]["locationEntries"]
                last = entries
                if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                    errors = [e for e in entries if e["locationOrLoadError"]["__typename"] != "RepositoryLocation"]
                    assert not errors, f"the code location failed to load: {errors}"
                    return
            except (requests.RequestException, KeyError, TypeError):
                pass
            time.sleep(1)
        pytest.fail(f"no code location loaded in {STARTUP_TIMEOUT:.0f} s ({last}):\n{self.output()}")


@contextlib.contextmanager
def running_ui(work: Path, arguments: Sequence[str]) -> Iterator[Ui]:
    """`python -m cw_local.ui` (what `make ui` runs) on free ports with ``arguments`` and DAGSTER_HOME under
    ``work``; stopped with SIGTERM at the end, which must stop the emulator cleanly."""
    port, emulator_port = free_port(), free_port()
    log_path = work / "ui.log"
    command = [sys.executable, "-m", "cw_local.ui", "--port", str(port), "--emulator-port", str(emulator_port)]
    command += ["--dagster-home", str(work / "dagster_home"), *arguments]
    now = datetime.now(UTC)
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=dict(os.environ),
        )
        try:
            yield Ui(process, f"http://127.0.0.1:{port}", f"http://127.0.0.1:{emulator_port}", now, log_path)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)  # ui stops dagster dev, then the emulator
                try:
                    process.wait(60)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
    output = log_path.read_text()
    assert "emulator stopped (exit code 0)" in output, output[-3000:]
