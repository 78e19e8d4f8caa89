"""What tests/control_plane shares: the local PostgreSQL, the names of the test environment's ECS estate, the
production instance loader and the ECS task metadata endpoint (served over HTTP on 127.0.0.1, as Fargate serves it
at 169.254.170.2)."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from dagster import DagsterInstance
from dagster._core.instance.ref import InstanceRef

from cw_pipeline import naming
from infra_cdk import packaging
from infra_cdk.sections import control_plane

PG_HOST = os.environ.get("CW_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("CW_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("CW_TEST_PG_USER", "postgres")
PRODUCTION_YAML = Path(packaging.REPO_ROOT, "cw_pipeline", "runtime", "dagster.yaml")
ENV = "test"
CLUSTER = naming.resource_name(ENV, "dagster")
RUN_FAMILY = naming.resource_name(ENV, "dagster-run")
DAEMON_FAMILY = naming.resource_name(ENV, "dagster-daemon")
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/cdk-assets:control-plane"
# The plain environment CDK gives the run container (control_plane.py), with this test's names.
RUN_ENVIRONMENT = {
    "CW_ENV": ENV,
    "CW_METRICS_TABLE": naming.resource_name(ENV, "metrics"),
    "DAGSTER_HOME": control_plane.DAGSTER_HOME,
    "DAGSTER_DISABLE_TELEMETRY": "true",
    control_plane.RUN_TASK_DEFINITION_VARIABLE: RUN_FAMILY,
}


def load_instance(home: Path) -> DagsterInstance:
    return DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))


@dataclass
class EcsEstate:
    ecs: object
    ec2: object
    cluster_arn: str
    run_task_definition_arn: str
    daemon_task_arn: str
    subnet_id: str
    security_group_id: str
    secret_arn: str


def metadata_server(estate_task: dict[str, str]) -> ThreadingHTTPServer:
    """The task metadata endpoint v4 of the daemon's task: ``/task`` answers its cluster and task ARN."""

    class Metadata(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(estate_task if self.path == "/task" else {"Name": "daemon"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Metadata)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
