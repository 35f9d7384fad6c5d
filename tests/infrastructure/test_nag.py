"""cdk-nag's AwsSolutions and HIPAASecurity packs pass over the synthesized stack and over its
SAM-transformed template (the functions and the API), with every accepted finding in
infra/nag_suppressions.py; plus the fixes those packs called for."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from infra.definitions import BUCKETS
from infra.nag import METADATA_KEY, Finding, sam_transform, template_findings
from infra.nag_suppressions import SUPPRESSIONS, Suppression

pytestmark = pytest.mark.infrastructure

# IAM actions that have no resource-level scope, the only ones the AwsSolutions-IAM5 "Resource::*"
# suppression may cover (infra/nag_suppressions.py says so).
UNSCOPED_ACTIONS = {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "dynamodb:ListStreams", "sns:Publish"}


def _report(findings: list[Finding]) -> str:
    return "\n".join(str(f) for f in findings)


def _without_records(template: Mapping[str, Any]) -> dict[str, Any]:
    """The template without the stack's `cdk_nag` metadata: only SUPPRESSIONS can then accept a finding."""
    stripped = copy.deepcopy(dict(template))
    for resource in stripped["Resources"].values():
        resource.get("Metadata", {}).pop(METADATA_KEY, None)
    return stripped


@pytest.fixture(scope="module")
def transformed(template_dict: dict[str, Any]) -> dict[str, Any]:
    return sam_transform(template_dict)


@pytest.fixture(scope="module")
def transformed_check(transformed: dict[str, Any]) -> tuple[list[Finding], list[tuple[Finding, Suppression]]]:
    return template_findings(_without_records(transformed), SUPPRESSIONS)


def test_the_sam_transform_exposes_the_functions_and_the_api(
    template_dict: dict[str, Any], transformed: dict[str, Any]
) -> None:
    serverless = [r for r in template_dict["Resources"].values() if r["Type"].startswith("AWS::Serverless::")]
    functions = [r for r in template_dict["Resources"].values() if r["Type"] == "AWS::Serverless::Function"]
    assert serverless and functions  # what the packs cannot read untransformed
    types = [r["Type"] for r in transformed["Resources"].values()]
    assert not [t for t in types if t.startswith("AWS::Serverless::")]
    assert types.count("AWS::Lambda::Function") == len(functions)
    assert {"AWS::ApiGateway::RestApi", "AWS::ApiGateway::Stage", "AWS::Lambda::LayerVersion"} <= set(types)


def test_synthesized_stack_passes_with_the_suppressions_the_stack_applies(template_dict: dict[str, Any]) -> None:
    """Only what the stack itself recorded (AcknowledgeSuppressed) is accepted here."""
    left, _ = template_findings(template_dict, ())
    assert not left, "unsuppressed cdk-nag findings:\n" + _report(left)


def test_sam_transformed_stack_passes(transformed_check: tuple[list[Finding], Any]) -> None:
    left, _ = transformed_check
    assert not left, "unsuppressed cdk-nag findings:\n" + _report(left)


def test_every_suppression_is_needed(transformed_check: tuple[list[Finding], list[tuple[Finding, Any]]]) -> None:
    _, accepted = transformed_check
    used = {id(suppression) for _, suppression in accepted}
    unused = [s for s in SUPPRESSIONS if id(s) not in used]
    assert not unused, f"suppressions that cover no finding (remove them): {unused}"


def test_the_stack_records_each_accepted_finding_with_its_reason(template_dict: dict[str, Any]) -> None:
    reasons = {s.reason for s in SUPPRESSIONS}
    recorded = [
        rule
        for resource in template_dict["Resources"].values()
        for rule in resource.get("Metadata", {}).get(METADATA_KEY, {}).get("rules_to_suppress", [])
    ]
    assert recorded
    for rule in recorded:
        assert rule["reason"] in reasons, rule


def test_suppressions_are_narrow() -> None:
    """A finding on something of ours that no reason covers stays a finding: a public bucket, a wildcard
    action, a whole bucket's objects, a bucket that is not one of ours."""
    template = {
        "Resources": {
            "Uploads": {"Type": "AWS::S3::Bucket", "Properties": {}},
            "LooseRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "lambda.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                            }
                        ],
                    }
                },
            },
            "LoosePolicy": {
                "Type": "AWS::IAM::Policy",
                "Properties": {
                    "PolicyName": "loose",
                    "Roles": [{"Ref": "LooseRole"}],
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::somebucket/*"},
                        ],
                    },
                },
            },
        }
    }
    left, _ = template_findings(template)
    rules = {(f.rule_id, f.logical_id) for f in left}
    assert {
        ("AwsSolutions-S1", "Uploads"),
        ("AwsSolutions-S10", "Uploads"),
        ("HIPAA.Security-S3BucketVersioningEnabled", "Uploads"),
        ("AwsSolutions-IAM5[Action::s3:*]", "LoosePolicy"),
        ("AwsSolutions-IAM5[Resource::arn:aws:s3:::somebucket/*]", "LoosePolicy"),
    } <= rules


def _iam_statements(template: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for logical_id, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Policy":
            documents = [props["PolicyDocument"]]
        elif resource["Type"] == "AWS::IAM::Role":
            documents = [p["PolicyDocument"] for p in props.get("Policies", [])]
        else:
            continue
        for document in documents:
            for statement in document["Statement"]:
                yield logical_id, statement


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_wildcard_resources_only_for_actions_without_resource_scope(transformed: dict[str, Any]) -> None:
    for logical_id, statement in _iam_statements(transformed):
        if statement["Effect"] == "Allow" and "*" in _as_list(statement["Resource"]):
            assert set(_as_list(statement["Action"])) <= UNSCOPED_ACTIONS, (logical_id, statement)


def test_no_role_may_reencrypt_and_queries_name_their_indexes(transformed: dict[str, Any]) -> None:
    """kms:ReEncrypt* was granted though no call needs it; Query named `index/*` where it means the
    table's indexes, which the grant now lists."""
    for logical_id, statement in _iam_statements(transformed):
        actions = _as_list(statement["Action"])
        assert not [a for a in actions if a.lower().startswith("kms:reencrypt")], logical_id
        assert "index/*" not in repr(statement["Resource"]), logical_id


def _bucket_named(template: Mapping[str, Any], fragment: str) -> tuple[str, dict[str, Any]]:
    (found,) = [(k, r) for k, r in template["Resources"].items() if r["Type"] == "AWS::S3::Bucket" and fragment in k]
    return found


def test_attachments_bucket_has_server_access_logs_in_a_private_tls_only_bucket(template_dict: dict[str, Any]) -> None:
    _, attachments = _bucket_named(template_dict, "AttachmentsBucket")
    logs_id, logs = _bucket_named(template_dict, "AccessLogsBucket")
    logging = attachments["Properties"]["LoggingConfiguration"]
    assert logging["DestinationBucketName"] == {"Ref": logs_id}
    assert logging["LogFilePrefix"] == "AttachmentsBucket/"

    props = logs["Properties"]
    assert logs["DeletionPolicy"] == "Retain"
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    (sse,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert sse["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}  # the only kind S3 logs into
    expirations = [r["ExpirationInDays"] for r in props["LifecycleConfiguration"]["Rules"] if "ExpirationInDays" in r]
    assert expirations == [90]
    assert "VersioningConfiguration" not in props

    (policy,) = [
        r["Properties"]["PolicyDocument"]["Statement"]
        for r in template_dict["Resources"].values()
        if r["Type"] == "AWS::S3::BucketPolicy" and r["Properties"]["Bucket"] == {"Ref": logs_id}
    ]
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in policy)
    # One delivery grant per logged bucket, each under its own prefix (the documents bucket's too).
    deliveries = [s for s in policy if s.get("Principal") == {"Service": "logging.s3.amazonaws.com"}]
    (delivery,) = [s for s in deliveries if "/AttachmentsBucket/*" in json.dumps(s["Resource"])]
    assert delivery["Effect"] == "Allow" and delivery["Action"] == "s3:PutObject"
    assert len(deliveries) == len(BUCKETS)
