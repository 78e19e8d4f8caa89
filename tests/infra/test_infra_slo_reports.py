"""The SLO reports bucket: private, KMS-encrypted with the project key, TLS-only, expiring, access-logged;
the aggregator may only put report objects in it, and finds it through CW_REPORTS_BUCKET."""

from __future__ import annotations

from cw_pipeline import naming
from infra_cdk.sections import storage
from tests.infra.cdk_template import ACCOUNT, one, ref, resources

ALL_BLOCKED = {
    "BlockPublicAcls": True,
    "BlockPublicPolicy": True,
    "IgnorePublicAcls": True,
    "RestrictPublicBuckets": True,
}


def _bucket(template: dict, name: str) -> tuple[str, dict]:
    return one(template, "AWS::S3::Bucket", BucketName=name)


def _tls_only(template: dict, bucket_id: str) -> bool:
    (policy,) = [p for p in resources(template, "AWS::S3::BucketPolicy").values() if p["Bucket"] == {"Ref": bucket_id}]
    return any(
        s["Effect"] == "Deny"
        and s["Action"] == "s3:*"
        and s["Principal"] == {"AWS": "*"}
        and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in policy["PolicyDocument"]["Statement"]
    )


def test_reports_bucket_is_private_encrypted_with_the_project_key_tls_only_and_expiring(dev_json: dict) -> None:
    bucket_id, bucket = _bucket(dev_json, f"cw-analytics-dev-reports-{ACCOUNT}")
    key_id, _ = one(dev_json, "AWS::KMS::Key")
    (encryption,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert ref(encryption["ServerSideEncryptionByDefault"]["KMSMasterKeyID"]) == key_id
    assert encryption["BucketKeyEnabled"] is True
    assert bucket["PublicAccessBlockConfiguration"] == ALL_BLOCKED
    assert bucket["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    (rule,) = bucket["LifecycleConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled" and rule["ExpirationInDays"] == storage.REPORTS_EXPIRATION.to_days() == 400
    assert _tls_only(dev_json, bucket_id)


def test_reports_bucket_access_is_logged_to_a_private_expiring_log_bucket(dev_json: dict) -> None:
    _, bucket = _bucket(dev_json, f"cw-analytics-dev-reports-{ACCOUNT}")
    logs_id, logs = _bucket(dev_json, f"cw-analytics-dev-reports-logs-{ACCOUNT}")
    assert ref(bucket["LoggingConfiguration"]["DestinationBucketName"]) == logs_id
    assert bucket["LoggingConfiguration"]["LogFilePrefix"] == "reports/"
    # S3 delivers access logs only to SSE-S3 buckets.
    (encryption,) = logs["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert logs["PublicAccessBlockConfiguration"] == ALL_BLOCKED
    assert logs["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == 90
    assert _tls_only(dev_json, logs_id)


def _s3_statements(template: dict, role_id: str) -> list[dict]:
    return [
        statement
        for policy in resources(template, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Roles"]
        for statement in policy["PolicyDocument"]["Statement"]
        if any(
            a.startswith("s3:")
            for a in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
        )
    ]


def test_the_roles_running_the_report_may_only_put_objects_under_the_report_prefix(dev_json: dict) -> None:
    bucket_id, _ = _bucket(dev_json, f"cw-analytics-dev-reports-{ACCOUNT}")
    _, function = one(dev_json, "AWS::Lambda::Function", FunctionName="cw-analytics-dev-aggregator")
    run_role_id, _ = one(dev_json, "AWS::IAM::Role", RoleName="cw-analytics-dev-dagster-run-role")
    expected = [
        {
            "Sid": "WriteSloReports",
            "Action": "s3:PutObject",
            "Effect": "Allow",
            "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, f"/{naming.SLO_REPORTS_PREFIX}*"]]},
        }
    ]
    # The aggregator Lambda, and the control plane's run tasks, where the daily report job's schedule runs.
    assert _s3_statements(dev_json, ref(function["Role"])) == expected
    assert _s3_statements(dev_json, run_role_id) == expected
    assert ref(function["Environment"]["Variables"]["CW_REPORTS_BUCKET"]) == bucket_id


def test_qa_keeps_its_reports_bucket_on_stack_deletion(qa_json: dict) -> None:
    bucket_id, _ = _bucket(qa_json, f"cw-analytics-qa-reports-{ACCOUNT}")
    assert qa_json["Resources"][bucket_id]["DeletionPolicy"] == "Retain"
