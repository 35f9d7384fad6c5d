"""The health declaration's PDF (R-46, issue 13) in the synthesized stack: the documents bucket (private,
SSE-KMS with the data key, TLS only, retained, its lifecycle), `health_declaration_pdf` on the main table's
stream filtered to a declaration's INSERT with retries that settle well within 10 minutes and an alarmed
on-failure queue, least privilege (the function writes PDFs only, the API reads them only, nobody else
touches the bucket), and application/pdf as a binary media type of the API."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.definitions import DOCUMENTS_BUCKET, MAIN_TABLE, resource_name
from infra.functions import FUNCTIONS, HEALTH_DECLARATION_PDFS

from .test_stack import (
    REGION,
    STAGE,
    _allowed_dynamodb,
    _mapping,
    _role_statements,
    _s3_grants,
    as_list,
    assert_alarmed_encrypted_failure_queue,
    function_named,
    render,
    resources,
    table_id,
)

pytestmark = pytest.mark.infrastructure

NAME = "health_declaration_pdf"
PDF_BUDGET_S = 10 * 60  # the clinic reaches the PDF within about 10 minutes


def documents_bucket(t: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    name = f"{resource_name(STAGE, DOCUMENTS_BUCKET.logical_id).lower()}-${{AWS::AccountId}}-{REGION}"
    (found,) = [
        (k, b)
        for k, b in resources(t, "AWS::S3::Bucket").items()
        if "BucketName" in b["Properties"] and render(b["Properties"]["BucketName"]) == name
    ]
    return found


def bucket_arn(t: dict[str, Any]) -> str:
    return "arn:${AWS::Partition}:s3:::" + render(documents_bucket(t)[1]["Properties"]["BucketName"])


def test_the_documents_bucket_is_private_encrypted_with_the_data_key_tls_only_and_retained(
    template_dict: dict[str, Any],
) -> None:
    bucket_id, bucket = documents_bucket(template_dict)
    props = bucket["Properties"]
    assert bucket["DeletionPolicy"] == bucket["UpdateReplacePolicy"] == "Retain"
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert "VersioningConfiguration" not in props  # an expired PDF must be gone, not a noncurrent version
    (sse,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    data_key = next(k for k in resources(template_dict, "AWS::KMS::Key") if k.startswith("DataDataKey"))
    assert sse["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": {"Fn::GetAtt": [data_key, "Arn"]},
    }
    assert sse["BucketKeyEnabled"] is True
    assert "LoggingConfiguration" in props  # S3 server access logs: who read which key
    (policy,) = [
        p
        for p in resources(template_dict, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert not [s for s in statements if s["Effect"] == "Allow"]
    denials = [s for s in statements if s["Effect"] == "Deny"]
    assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in denials)
    assert any(s["Condition"] == {"NumericLessThan": {"s3:TlsVersion": 1.2}} for s in denials)


def test_pdfs_expire_after_the_declarations_longest_life(template_dict: dict[str, Any]) -> None:
    """A declaration is kept until two years after its validity ends: at most 12 months + 2 years (1097
    days) after it was made; its PDF goes a few days later, and nothing else in the bucket expires."""
    rules = documents_bucket(template_dict)[1]["Properties"]["LifecycleConfiguration"]["Rules"]
    expiring = [(r.get("Prefix"), r["ExpirationInDays"], r["Status"]) for r in rules if "ExpirationInDays" in r]
    assert expiring == [(HEALTH_DECLARATION_PDFS, 1100, "Enabled")]
    from chalicelib.health_declarations import service

    assert 366 + service.RETENTION_DAYS_AFTER_VALIDITY < 1100


def test_the_pdf_function_runs_on_a_declarations_insert_only(template_dict: dict[str, Any]) -> None:
    mapping = _mapping(template_dict, NAME)
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": [table_id(template_dict, MAIN_TABLE.logical_id), "StreamArn"]}
    (pattern,) = [json.loads(f["Pattern"]) for f in mapping["FilterCriteria"]["Filters"]]
    assert pattern == {
        "eventName": ["INSERT"],
        "dynamodb": {"Keys": {"pk": {"S": [{"prefix": "HEALTHDECL#"}]}, "sk": {"S": ["DECLARATION"]}}},
    }
    from chalicelib.health_declarations import events, repository

    assert (events.PK_PREFIX, events.SORT_KEY) == (repository.PK_PREFIX, repository.SORT_KEY)
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["StartingPosition"] == "TRIM_HORIZON"


def test_a_failing_build_is_retried_and_settled_well_within_10_minutes(template_dict: dict[str, Any]) -> None:
    """Lambda retries a failed stream record at once (no waiting between attempts): the first attempt and
    every retry each end within the function's timeout, so the last ends within (1 + retries) × timeout;
    then the record goes to an alarmed, encrypted on-failure queue (an operator rebuilds it)."""
    mapping = _mapping(template_dict, NAME)
    props = function_named(template_dict, NAME)["Properties"]
    assert (1 + mapping["MaximumRetryAttempts"]) * props["Timeout"] <= PDF_BUDGET_S / 2
    assert mapping["BisectBatchOnFunctionError"] is True
    assert_alarmed_encrypted_failure_queue(template_dict, mapping["DestinationConfig"]["OnFailure"]["Destination"])
    assert props["MemorySize"] == FUNCTIONS[NAME].memory_mb == 1024
    assert mapping["BatchSize"] == 10 and "MaximumBatchingWindowInSeconds" not in mapping  # no waiting for a batch
    # Its own error alarm.
    assert any(
        a["Properties"].get("MetricName") == "Errors"
        and {"Name": "FunctionName", "Value": resource_name(STAGE, NAME)} in a["Properties"]["Dimensions"]
        for a in resources(template_dict, "AWS::CloudWatch::Alarm").values()
    )


def test_the_pdf_function_may_write_pdfs_and_record_them_and_nothing_else(template_dict: dict[str, Any]) -> None:
    arn = bucket_arn(template_dict)
    assert _s3_grants(template_dict, NAME) == {"s3:PutObject": {f"{arn}/{HEALTH_DECLARATION_PDFS}*"}}
    main = table_id(template_dict, MAIN_TABLE.logical_id)
    stream_reads = {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"}  # on the stream
    assert _allowed_dynamodb(template_dict, NAME) == {main: {"dynamodb:GetItem", "dynamodb:UpdateItem", *stream_reads}}
    table_actions = {
        a
        for s in _role_statements(template_dict, NAME)
        if {"Fn::GetAtt": [main, "Arn"]} in as_list(s["Resource"])
        for a in as_list(s["Action"])
    }
    assert table_actions == {"dynamodb:GetItem", "dynamodb:UpdateItem"}  # no Query, no Put: the image says it all
    allowed = [s for s in _role_statements(template_dict, NAME) if s["Effect"] == "Allow"]
    actions = {a for s in allowed for a in as_list(s["Action"])}
    assert not {a for a in actions if a.startswith(("secretsmanager:", "sns:", "ses:", "events:")) or "Scan" in a}
    # KMS only through the services that store data with it (S3 for the PDF, DynamoDB, SQS).
    (kms,) = [s for s in allowed if any(a.startswith("kms:") for a in as_list(s["Action"]))]
    assert f"s3.{REGION}.amazonaws.com" in kms["Condition"]["StringEquals"]["kms:ViaService"]
    sent_to = [r for s in allowed if "sqs:SendMessage" in as_list(s["Action"]) for r in as_list(s["Resource"])]
    assert sent_to == [_mapping(template_dict, NAME)["DestinationConfig"]["OnFailure"]["Destination"]]


def test_only_the_api_reads_pdfs_and_only_the_pdf_function_writes_them(template_dict: dict[str, Any]) -> None:
    arn = bucket_arn(template_dict)
    touching: dict[str, dict[str, set[str]]] = {}
    for name in FUNCTIONS:
        for statement in _role_statements(template_dict, name):
            on_bucket = {render(r) for r in as_list(statement["Resource"]) if render(r).startswith(arn)}
            for action in as_list(statement["Action"]) if on_bucket else ():
                assert statement["Effect"] == "Allow"
                touching.setdefault(name, {}).setdefault(action, set()).update(on_bucket)
    assert touching == {
        "api_handler": {"s3:GetObject": {f"{arn}/{HEALTH_DECLARATION_PDFS}*"}},
        NAME: {"s3:PutObject": {f"{arn}/{HEALTH_DECLARATION_PDFS}*"}},
    }
    bucket_name = render(documents_bucket(template_dict)[1]["Properties"]["BucketName"])
    for name in (NAME, "api_handler"):
        env = function_named(template_dict, name)["Properties"]["Environment"]["Variables"]
        assert render(env[DOCUMENTS_BUCKET.env_var]) == bucket_name


def test_the_api_returns_pdfs_as_binary(template_dict: dict[str, Any]) -> None:
    (api,) = resources(template_dict, "AWS::Serverless::Api").values()
    assert "application/pdf" in api["Properties"]["DefinitionBody"]["x-amazon-apigateway-binary-media-types"]
