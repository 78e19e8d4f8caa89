"""Credentials from Secrets Manager (moto holds the secret; the database is the real local server)."""

from __future__ import annotations

import json
import socket

import boto3
import psycopg
import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws

from interactions_api.config import DatabaseSettings
from interactions_api.db import database


@pytest.fixture
def secret_arn(api, api_dbname, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        parameters.clear_caches()  # the provider's boto3 client must be created inside the mock
        client = boto3.client("secretsmanager")
        secret = {
            "engine": "postgres",
            "host": api.dsn(api_dbname).split("@")[1].split(":")[0],
            "port": int(api.dsn(api_dbname).rsplit(":", 1)[1].split("/")[0]),
            "username": "postgres",
            "password": "unused-with-trust-auth",
            "dbname": api_dbname,
        }
        arn = client.create_secret(Name="cw-analytics-test-api-db", SecretString=json.dumps(secret))["ARN"]
        monkeypatch.delenv("DB_DSN")
        monkeypatch.setenv("DB_SECRET_ARN", arn)
        database.reset()
        yield arn
        parameters.clear_caches()


def server_offers_tls(db: psycopg.Connection) -> bool:
    return db.execute("SHOW ssl").fetchone()[0] == "on"


def test_the_secret_path_connects_and_caches_the_secret(api, db, secret_arn, monkeypatch):
    monkeypatch.setenv("DB_SSLMODE", "disable" if not server_offers_tls(db) else "require")

    assert api.call("POST", "/interactions", body={"user_id": "via-secret", "type": "click"}).status == 201
    # Delete the secret: a reconnect must use the copy cached in the execution environment.
    boto3.client("secretsmanager").delete_secret(SecretId=secret_arn, ForceDeleteWithoutRecovery=True)
    api.terminate_connection(db)

    listed = api.call("GET", "/interactions")

    assert [i["user_id"] for i in listed.body["items"]] == ["via-secret"]
    assert len(api.backends(db)) == 1


def test_tls_is_required_by_default_with_the_secret(api, db, secret_arn):
    if server_offers_tls(db):
        assert api.call("GET", "/health").status == 200
        row = db.execute(
            "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.application_name = %s",
            (api.service_name,),
        ).fetchone()
        assert row == (True,)
    else:
        # The local server has TLS off, so sslmode=require must refuse to connect in clear text.
        response = api.call("GET", "/health")
        assert (response.status, response.body["error"]) == (503, "database_unavailable")
        assert api.backends(db) == []


def test_a_missing_secret_is_503_not_500(api, secret_arn, monkeypatch):
    monkeypatch.setenv("DB_SECRET_ARN", secret_arn.replace("cw-analytics-test-api-db", "no-such-secret"))
    database.reset()
    assert api.call("GET", "/health").status == 503


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def point_secret_at(secret_arn: str, **changes) -> tuple[str, int]:
    """Rewrite the secret (as RDS would name the instance behind the proxy); return the real host and port."""
    client = boto3.client("secretsmanager")
    secret = json.loads(client.get_secret_value(SecretId=secret_arn)["SecretString"])
    real = (secret["host"], secret["port"])
    client.put_secret_value(SecretId=secret_arn, SecretString=json.dumps({**secret, **changes}))
    return real


@pytest.mark.parametrize(
    ("in_secret", "in_env"),
    [
        ({"host": "rds-instance.invalid"}, {"DB_HOST"}),
        ({"host": "rds-instance.invalid", "port": "free"}, {"DB_HOST", "DB_PORT"}),
        ({"port": "free"}, {"DB_PORT"}),
    ],
)
def test_db_host_and_db_port_override_the_secrets_endpoint(api, db, secret_arn, monkeypatch, in_secret, in_env):
    monkeypatch.setenv("DB_SSLMODE", "disable" if not server_offers_tls(db) else "require")
    changes = {k: free_port() if v == "free" else v for k, v in in_secret.items()}
    host, port = point_secret_at(secret_arn, **changes)
    assert api.call("GET", "/health").status == 503  # the secret's endpoint alone is unreachable

    if "DB_HOST" in in_env:
        monkeypatch.setenv("DB_HOST", host)
    if "DB_PORT" in in_env:
        monkeypatch.setenv("DB_PORT", str(port))
    database.reset()

    assert api.call("POST", "/interactions", body={"user_id": "via-proxy", "type": "click"}).status == 201
    assert len(api.backends(db)) == 1
    # The credentials and the database still come from the secret.
    assert (
        database._conn.info.dbname
        == json.loads(boto3.client("secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"])["dbname"]
    )
    assert database._conn.prepare_threshold is None


def test_db_host_is_ignored_with_a_dsn(api, monkeypatch):
    monkeypatch.setenv("DB_HOST", "rds-proxy.invalid")
    monkeypatch.setenv("DB_PORT", str(free_port()))
    database.reset()
    assert api.call("GET", "/health").status == 200


def test_settings_default_to_tls_with_the_secret_and_to_libpq_defaults_with_a_dsn():
    with_secret = DatabaseSettings.from_env({"DB_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:1:secret:x"})
    with_dsn = DatabaseSettings.from_env({"DB_DSN": "postgresql://localhost/x"})
    overridden = DatabaseSettings.from_env({"DB_SECRET_ARN": "arn", "DB_SSLMODE": "verify-full"})

    assert (with_secret.sslmode, with_dsn.sslmode, overridden.sslmode) == ("require", None, "verify-full")
    assert (with_secret.connect_timeout_seconds, with_secret.statement_timeout_ms) == (5, 5000)
    assert (with_secret.host, with_secret.port) == (None, None)
    proxied = DatabaseSettings.from_env({"DB_SECRET_ARN": "arn", "DB_HOST": "proxy.example", "DB_PORT": "6432"})
    assert (proxied.host, proxied.port) == ("proxy.example", 6432)
    with pytest.raises(RuntimeError, match="DB_SECRET_ARN"):
        DatabaseSettings.from_env({})
