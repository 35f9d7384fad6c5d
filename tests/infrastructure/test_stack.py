"""CDK assertions and cfn-lint on the synthesized e-services stack (see conftest.py for the synth)."""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template
from cfnlint.api import ManualArgs, lint
from constructs import Construct

from chalicelib.core import errors
from infra.definitions import (
    ATTACHMENTS_BUCKET,
    BUCKETS,
    BUSES,
    DOCUMENTS_BUCKET,
    MAIN_TABLE,
    QUEUES,
    TABLES,
    Bucket,
    Queue,
    QueueConsumer,
    StreamConsumer,
    Table,
    resource_name,
)
from infra.functions import (
    BANKID_CERT_ARN_VAR,
    FUNCTIONS,
    HMAC_ARN_VAR,
    OBJECT_CREATED_CONSUMERS,
    QUEUE_CONSUMERS,
    SCHEDULES,
    STREAM_CONSUMERS,
)
from infra.parts.data import DataResources
from infra.parts.functions import wire_queue_consumer, wire_stream_consumer
from infra.stack import (
    API_THROTTLE,
    AUTH_START_THROTTLE,
    DEFAULT_BANKID_API_URL,
    WAF_AUTH_RATE_LIMIT,
    WAF_AUTH_START_RATE_LIMIT,
)

pytestmark = pytest.mark.infrastructure

# conftest.py synthesizes with cdk.json's defaults.
CDK_CONTEXT = json.loads((Path(__file__).resolve().parents[2] / "infra" / "cdk.json").read_text())["context"]
STAGE = CDK_CONTEXT["stage"]
REGION = CDK_CONTEXT["region"]
ADMIN_FUNCTIONS = (
    "admin_lock_account",
    "admin_unlock_account",
    "admin_record_unlock_decision",
    "admin_seal_record",
)
FORBIDDEN_ACTIONS = {"*", "dynamodb:*", "dynamodb:scan"}

# cfn-lint rules ignored, each with the reason. Keep empty unless a finding is a known false positive.
IGNORED_CFN_LINT_RULES: dict[str, str] = {}


@pytest.fixture(scope="module")
def template(template_dict: dict[str, Any]) -> Template:
    return Template.from_json(template_dict)


def resources(t: Mapping[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in t["Resources"].items() if v["Type"] == type_}


def functions(t: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return resources(t, "AWS::Serverless::Function") | resources(t, "AWS::Lambda::Function")


def function_named(t: Mapping[str, Any], name: str) -> dict[str, Any]:
    matches = [f for f in functions(t).values() if f["Properties"].get("FunctionName") == resource_name(STAGE, name)]
    assert len(matches) == 1, f"expected one function {name}"
    return matches[0]


def table_id(t: Mapping[str, Any], logical_id: str) -> str:
    return next(
        k
        for k, r in resources(t, "AWS::DynamoDB::Table").items()
        if r["Properties"]["TableName"] == resource_name(STAGE, logical_id)
    )


def statements(node: Any) -> Iterator[dict[str, Any]]:
    """Every policy statement anywhere (IAM, key, queue, topic and bucket policies, SAM Policies)."""
    if isinstance(node, dict):
        if isinstance(node.get("Statement"), list):
            yield from node["Statement"]
        for value in node.values():
            yield from statements(value)
    elif isinstance(node, list):
        for value in node:
            yield from statements(value)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def lint_errors(t: Mapping[str, Any]) -> list[str]:
    matches = lint(json.dumps(t), config=ManualArgs(regions=[REGION]))
    return [
        f"{m.rule.id} {m.message} ({'/'.join(map(str, m.path))})"
        for m in matches
        if m.rule.id not in IGNORED_CFN_LINT_RULES
    ]


# --- data -----------------------------------------------------------------------------------


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.logical_id)
def test_every_defined_table_is_encrypted_recoverable_and_protected(
    template_dict: dict[str, Any], table: Table
) -> None:
    resource = resources(template_dict, "AWS::DynamoDB::Table")[table_id(template_dict, table.logical_id)]
    props = resource["Properties"]
    assert resource["DeletionPolicy"] == "Retain"
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["DeletionProtectionEnabled"] is True
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    sse = props["SSESpecification"]
    assert sse["SSEEnabled"] is True and sse["SSEType"] == "KMS"
    assert "Fn::GetAtt" in sse["KMSMasterKeyId"]  # the stack's own key, not an AWS-managed one
    expected_keys = [{"AttributeName": table.partition_key, "KeyType": "HASH"}]
    if table.sort_key:
        expected_keys.append({"AttributeName": table.sort_key, "KeyType": "RANGE"})
    assert props["KeySchema"] == expected_keys
    assert sorted(i["IndexName"] for i in props.get("GlobalSecondaryIndexes", [])) == sorted(
        i.name for i in table.indexes
    )
    if table.ttl_attribute:
        assert props["TimeToLiveSpecification"] == {
            "AttributeName": table.ttl_attribute,
            "Enabled": True,
        }
    else:
        assert "TimeToLiveSpecification" not in props
    if table.stream:
        assert props["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}


def test_main_table_has_stream_and_ttl() -> None:
    # Guards the assumptions the parametrized test checks generically.
    assert MAIN_TABLE.stream and MAIN_TABLE.ttl_attribute


def test_keys_rotate_and_are_retained(template: Template) -> None:
    template.resource_count_is("AWS::KMS::Key", 2)
    template.all_resources(
        "AWS::KMS::Key",
        {"Properties": {"EnableKeyRotation": True}, "DeletionPolicy": "Retain"},
    )


def test_secrets_exist_encrypted_with_the_data_key(template_dict: dict[str, Any]) -> None:
    secrets = resources(template_dict, "AWS::SecretsManager::Secret")
    by_name = {s["Properties"]["Name"]: s for s in secrets.values()}
    hmac = by_name[f"e-services/{STAGE}/pnr-hmac-key"]
    bankid = by_name[f"e-services/{STAGE}/bankid-rp-certificate"]
    for secret in (hmac, bankid):
        assert secret["DeletionPolicy"] == "Retain"
        assert "Fn::GetAtt" in secret["Properties"]["KmsKeyId"]
    assert hmac["Properties"]["GenerateSecretString"]["PasswordLength"] >= 32
    assert set(json.loads(bankid["Properties"]["SecretString"])) == {"certificate", "privateKey"}


# --- attachments bucket ---------------------------------------------------------------------


def render(value: Any) -> str:
    """A CloudFormation string value as text: Fn::Join flattened, Refs as ${Name}, GetAtts as ${Id.Attr}."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(render(part) for part in parts)
    if isinstance(value, dict) and "Ref" in value:
        return "${" + value["Ref"] + "}"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return "${" + ".".join(value["Fn::GetAtt"]) + "}"
    if isinstance(value, dict) and isinstance(value.get("Fn::Sub"), str):
        return str(value["Fn::Sub"])
    raise AssertionError(f"unexpected value {value!r}")


def attachments_bucket(t: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    name = f"{resource_name(STAGE, ATTACHMENTS_BUCKET.logical_id).lower()}-${{AWS::AccountId}}-{REGION}"
    found = [
        (k, b)
        for k, b in resources(t, "AWS::S3::Bucket").items()
        if "BucketName" in b["Properties"] and render(b["Properties"]["BucketName"]) == name
    ]
    assert len(found) == 1, "expected the attachments bucket, named by stage, account and region"
    return found[0]


def test_attachments_bucket_is_private_encrypted_with_the_data_key_and_tls_only(template_dict: dict[str, Any]) -> None:
    bucket_id, bucket = attachments_bucket(template_dict)
    props = bucket["Properties"]
    assert bucket["DeletionPolicy"] == "Retain"
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert "CorsConfiguration" not in props  # uploads come from the mobile app, not from browsers
    assert "VersioningConfiguration" not in props  # a deleted file must be gone, not a noncurrent version
    (sse,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    data_key = next(k for k in resources(template_dict, "AWS::KMS::Key") if k.startswith("DataDataKey"))
    assert sse["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == {"Fn::GetAtt": [data_key, "Arn"]}
    (policy,) = [
        p
        for p in resources(template_dict, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    denials = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} and s["Action"] == "s3:*" for s in denials)
    assert not [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]


def test_attachments_bucket_lifecycle_drops_abandoned_uploads(template_dict: dict[str, Any]) -> None:
    _, bucket = attachments_bucket(template_dict)
    rules = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
    assert {
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        "Id": "AbortIncompleteUploads",
        "Status": "Enabled",
    } in rules
    expiring = [r for r in rules if "ExpirationInDays" in r]
    # Only unchecked uploads expire here; checked files under files/ live as long as their case.
    assert [(r.get("Prefix"), r["ExpirationInDays"], r["Status"]) for r in expiring] == [("pending/", 1, "Enabled")]


def test_uploads_under_pending_invoke_attachment_uploaded(template_dict: dict[str, Any]) -> None:
    assert [(c.function, c.bucket, c.prefix) for c in OBJECT_CREATED_CONSUMERS] == [
        ("attachment_uploaded", ATTACHMENTS_BUCKET, "pending/")
    ]
    _, bucket = attachments_bucket(template_dict)
    (rule,) = bucket["Properties"]["NotificationConfiguration"]["LambdaConfigurations"]
    function_name = resource_name(STAGE, "attachment_uploaded")
    assert rule["Event"] == "s3:ObjectCreated:*"
    assert rule["Filter"] == {"S3Key": {"Rules": [{"Name": "prefix", "Value": "pending/"}]}}
    assert render(rule["Function"]).endswith(f":function:{function_name}")
    # S3 checks it may invoke the function when the notification is set: the permission comes first,
    # and it admits only this bucket in this account.
    permissions = {
        k: p
        for k, p in resources(template_dict, "AWS::Lambda::Permission").items()
        if p["Properties"]["FunctionName"] == function_name
    }
    assert len(permissions) == 1
    permission_id, permission = next(iter(permissions.items()))
    assert permission_id in bucket["DependsOn"]
    assert permission["Properties"]["Principal"] == "s3.amazonaws.com"
    assert permission["Properties"]["SourceAccount"] == {"Ref": "AWS::AccountId"}
    assert render(permission["Properties"]["SourceArn"]) == "arn:${AWS::Partition}:s3:::" + render(
        bucket["Properties"]["BucketName"]
    )
    assert "AttachmentUploaded" in permission["DependsOn"]
    # The function names the bucket by its name, never by a reference (that would be a cycle).
    env = function_named(template_dict, "attachment_uploaded")["Properties"]["Environment"]["Variables"]
    assert render(env["ATTACHMENTS_BUCKET"]) == render(bucket["Properties"]["BucketName"])
    api_env = function_named(template_dict, "api_handler")["Properties"]["Environment"]["Variables"]
    assert render(api_env["ATTACHMENTS_BUCKET"]) == render(bucket["Properties"]["BucketName"])


@pytest.mark.parametrize("stage", ["a-much-too-long-stage-name", "Under_score"])
def test_a_stage_that_makes_an_invalid_bucket_name_fails_synth(stage: str) -> None:
    stack = cdk.Stack(cdk.App(context=CDK_CONTEXT), "Names", env=cdk.Environment(region=REGION))
    with pytest.raises(ValueError, match="bucket name"):
        DataResources(stack, "Data", stage=stage, buckets=(ATTACHMENTS_BUCKET,))


def _s3_grants(template_dict: dict[str, Any], name: str) -> dict[str, set[str]]:
    """S3 action -> the resources (rendered) the function's role may take it on."""
    role_id = function_named(template_dict, name)["Properties"]["Role"]["Fn::GetAtt"][0]
    grants: dict[str, set[str]] = {}
    for policy in resources(template_dict, "AWS::IAM::Policy").values():
        if {"Ref": role_id} not in policy["Properties"]["Roles"]:
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            for action in as_list(statement["Action"]):
                if action.startswith("s3:"):
                    grants.setdefault(action, set()).update(render(r) for r in as_list(statement["Resource"]))
    return grants


def test_s3_permissions_are_exact_per_function_and_prefix(template_dict: dict[str, Any]) -> None:
    _, bucket = attachments_bucket(template_dict)
    arn = "arn:${AWS::Partition}:s3:::" + render(bucket["Properties"]["BucketName"])
    # The API signs presigned POSTs (upload to pending/ only) and GETs (checked files only), and reads the
    # health declarations' PDFs for staff (test_health_declaration_infra.py).
    documents = "arn:${AWS::Partition}:s3:::" + (
        f"{resource_name(STAGE, DOCUMENTS_BUCKET.logical_id).lower()}-${{AWS::AccountId}}-{REGION}"
    )
    assert _s3_grants(template_dict, "api_handler") == {
        "s3:PutObject": {f"{arn}/pending/*"},
        "s3:GetObject": {f"{arn}/files/*", f"{documents}/health-declarations/*"},
    }
    # The content check reads and deletes uploads, copies checked ones to files/ (and removes its
    # copy when another delivery rejected the upload first); ListBucket makes a missing key a 404.
    assert _s3_grants(template_dict, "attachment_uploaded") == {
        "s3:GetObject": {f"{arn}/pending/*"},
        "s3:DeleteObject": {f"{arn}/pending/*", f"{arn}/files/*"},
        "s3:PutObject": {f"{arn}/files/*"},
        "s3:ListBucket": {arn},
    }
    main = table_id(template_dict, "MainTable")
    assert _allowed_dynamodb(template_dict, "attachment_uploaded") == {
        main: {"dynamodb:GetItem", "dynamodb:UpdateItem"}
    }
    for name in ADMIN_FUNCTIONS:
        assert _s3_grants(template_dict, name) == {}
    # KMS for SSE-KMS objects only through S3 (and the other data services), never directly.
    role_id = function_named(template_dict, "attachment_uploaded")["Properties"]["Role"]["Fn::GetAtt"][0]
    kms = [
        s
        for p in resources(template_dict, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if any(a.startswith("kms:") for a in as_list(s["Action"]))
    ]
    assert len(kms) == 1
    assert f"s3.{REGION}.amazonaws.com" in kms[0]["Condition"]["StringEquals"]["kms:ViaService"]


# --- functions ------------------------------------------------------------------------------


def test_every_function_is_python312_traced_and_named(template_dict: dict[str, Any]) -> None:
    fns = functions(template_dict)
    assert len(fns) == len(FUNCTIONS)
    for logical_id, fn in fns.items():
        props = fn["Properties"]
        assert props["Runtime"] == "python3.12", logical_id
        tracing = props.get("Tracing") or props.get("TracingConfig", {}).get("Mode")
        assert tracing == "Active", logical_id
    for name in FUNCTIONS:
        function_named(template_dict, name)


@pytest.mark.parametrize("name", ADMIN_FUNCTIONS)
def test_admin_functions_exist_with_own_role(template_dict: dict[str, Any], name: str) -> None:
    props = function_named(template_dict, name)["Properties"]
    assert props["Handler"].endswith(f".{name}")
    assert props["Role"]["Fn::GetAtt"][0] in resources(template_dict, "AWS::IAM::Role")


def test_api_handler_settings_and_environment(template_dict: dict[str, Any]) -> None:
    props = function_named(template_dict, "api_handler")["Properties"]
    assert props["MemorySize"] == 512
    # A hung DynamoDB must end a request cleanly before the function times out (issue 7, defect 5).
    from chalicelib.core import dynamo

    attempts = dynamo.MAX_ATTEMPTS
    worst_s = attempts * (dynamo.CONNECT_TIMEOUT_S + dynamo.READ_TIMEOUT_S) + sum(2**i for i in range(attempts - 1))
    assert props["Timeout"] == 15 and worst_s < props["Timeout"]
    env = props["Environment"]["Variables"]
    for table in TABLES:
        assert env[table.env_var] == {"Ref": table_id(template_dict, table.logical_id)}
    secret_refs = {env[HMAC_ARN_VAR]["Ref"], env[BANKID_CERT_ARN_VAR]["Ref"]}
    assert secret_refs <= set(resources(template_dict, "AWS::SecretsManager::Secret"))
    assert env["STAGE"] == STAGE
    assert env["BANKID_API_URL"] == DEFAULT_BANKID_API_URL
    assert "POPULATION_REGISTER_URL" in env
    assert env["SESSION_TTL_SECONDS"] == "3600"
    assert env["POWERTOOLS_SERVICE_NAME"] == "e-services"
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "EServices"
    assert env["POWERTOOLS_LOG_LEVEL"] == "INFO"
    for env_var in [q.env_var for q in QUEUES] + [b.env_var for b in BUCKETS]:
        assert env_var in env
    for bus in BUSES:
        (bus_id,) = [k for k, r in resources(template_dict, "AWS::Events::EventBus").items()]
        assert env[bus.env_var] == {"Ref": bus_id}  # the bus's name
        assert bus.local_tap_env_var not in env  # the tap queue is the local stack's only


def test_each_function_has_an_encrypted_log_group_with_retention(template_dict: dict[str, Any]) -> None:
    groups = {
        g["Properties"]["LogGroupName"]: g["Properties"]
        for g in resources(template_dict, "AWS::Logs::LogGroup").values()
        if isinstance(g["Properties"]["LogGroupName"], str)  # the SMS delivery log groups have the account in the name
    }
    for name in FUNCTIONS:
        group = groups[f"/aws/lambda/{resource_name(STAGE, name)}"]
        assert group["RetentionInDays"] == 90
        assert "KmsKeyId" in group


# --- least privilege ------------------------------------------------------------------------


def test_no_scan_and_no_wildcard_actions_anywhere(template_dict: dict[str, Any]) -> None:
    assert "dynamodb:scan" not in json.dumps(template_dict).lower()
    found = list(statements(template_dict["Resources"]))
    assert found
    for statement in found:
        actions = {a.lower() for a in as_list(statement.get("Action", []))}
        assert not actions & FORBIDDEN_ACTIONS, statement
        on_tables = any(a.startswith("dynamodb:") for a in actions)
        # dynamodb:ListStreams is the one DynamoDB action without a resource scope.
        if statement["Effect"] == "Allow" and on_tables and actions != {"dynamodb:liststreams"}:
            assert "*" not in as_list(statement["Resource"]), statement


def test_one_role_per_function_and_no_chalice_managed_policies(template_dict: dict[str, Any]) -> None:
    all_roles = resources(template_dict, "AWS::IAM::Role")
    # EventBridge Scheduler's invoker roles (one per schedule, lambda:InvokeFunction on one function).
    # SNS's SMS delivery status role (writes the two SMS delivery log groups, nothing else).
    # AWS Backup's role for the table backups (the service's managed backup policy, nothing else).
    roles = {
        k: v
        for k, v in all_roles.items()
        if "SchedulerRole" not in k and "SmsDeliveryStatusRole" not in k and not k.startswith("BackupPlanTablesRole")
    }
    fn_roles = [f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions(template_dict).values()]
    assert sorted(fn_roles) == sorted(roles)  # distinct, and no other role in the stack
    for role in roles.values():
        assert "ManagedPolicyArns" not in role["Properties"]
        assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
            {
                "Action": "sts:AssumeRole",
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
            }
        ]
    for fn in functions(template_dict).values():
        assert "Policies" not in fn["Properties"]


def _allowed_dynamodb(template_dict: dict[str, Any], name: str) -> dict[str, set[str]]:
    """Table logical id -> DynamoDB actions the function's role may take on it."""
    role_id = function_named(template_dict, name)["Properties"]["Role"]["Fn::GetAtt"][0]
    allowed: dict[str, set[str]] = {}
    for policy in resources(template_dict, "AWS::IAM::Policy").values():
        if {"Ref": role_id} not in policy["Properties"]["Roles"]:
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            for resource in as_list(statement["Resource"]):
                if isinstance(resource, dict) and "Fn::GetAtt" in resource:
                    allowed.setdefault(resource["Fn::GetAtt"][0], set()).update(
                        a for a in as_list(statement["Action"]) if a.startswith("dynamodb:")
                    )
    return {k: v for k, v in allowed.items() if v}


def test_api_handler_table_permissions_are_exact(template_dict: dict[str, Any]) -> None:
    main, audit = (table_id(template_dict, t) for t in ("MainTable", "AuditTable"))
    assert _allowed_dynamodb(template_dict, "api_handler") == {
        main: {
            "dynamodb:GetItem",
            "dynamodb:BatchGetItem",
            "dynamodb:Query",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:ConditionCheckItem",
            "dynamodb:BatchWriteItem",
        },
        audit: {"dynamodb:PutItem", "dynamodb:Query"},
    }


@pytest.mark.parametrize("name", ADMIN_FUNCTIONS)
def test_admin_table_permissions_are_exact(template_dict: dict[str, Any], name: str) -> None:
    main, audit = (table_id(template_dict, t) for t in ("MainTable", "AuditTable"))
    assert _allowed_dynamodb(template_dict, name) == {
        main: {
            "dynamodb:GetItem",
            "dynamodb:Query",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:ConditionCheckItem",
        },
        audit: {"dynamodb:PutItem"},
    }


# --- operations -----------------------------------------------------------------------------


def test_alarms_notify_the_topic(template: Template, template_dict: dict[str, Any]) -> None:
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "AWS/ApiGateway",
            "MetricName": "5XXError",
            "Dimensions": Match.array_with([{"Name": "ApiName", "Value": f"e-services-{STAGE}"}]),
        },
    )
    for name in FUNCTIONS:
        template.has_resource_properties(
            "AWS::CloudWatch::Alarm",
            {
                "Namespace": "AWS/Lambda",
                "MetricName": "Errors",
                "Dimensions": [{"Name": "FunctionName", "Value": resource_name(STAGE, name)}],
            },
        )
    for alarm in resources(template_dict, "AWS::CloudWatch::Alarm").values():
        assert alarm["Properties"]["AlarmActions"]


def test_outputs(template_dict: dict[str, Any]) -> None:
    outputs = template_dict["Outputs"]
    assert "execute-api" in json.dumps(outputs["EndpointURL"])  # Chalice's API URL output
    for table in TABLES:
        assert f"{table.logical_id}Name" in outputs


def test_cfn_lint_finds_nothing(template_dict: dict[str, Any]) -> None:
    assert lint_errors(template_dict) == []


# --- what later additions to definitions.py will get ---------------------------------------


def test_future_queues_buckets_and_event_sources() -> None:
    """Queues/buckets added to definitions.py and stream/queue consumers, without Chalice."""
    app = cdk.App(context=CDK_CONTEXT)
    stack = cdk.Stack(app, "Future", env=cdk.Environment(region=REGION))
    queue = Queue("ExampleQueue", "EXAMPLE_QUEUE", max_receive_count=3)
    data = DataResources(
        stack,
        "Data",
        stage=STAGE,
        queues=(queue,),
        buckets=(Bucket("ExampleBucket", "EXAMPLE_BUCKET"),),
        buses=(),
    )
    role = cdk.aws_iam.Role(stack, "ConsumerRole", assumed_by=cdk.aws_iam.ServicePrincipal("lambda.amazonaws.com"))
    wire_stream_consumer(data, name="example_events", role=role, table_id=MAIN_TABLE.logical_id)
    wire_queue_consumer(data, name="example_sender", role=role, queue_id=queue.logical_id, function_timeout_s=30)
    with pytest.raises(ValueError, match="visibility timeout"):
        wire_queue_consumer(data, name="too_slow", role=role, queue_id=queue.logical_id, function_timeout_s=900)
    t = Template.from_stack(stack)
    insecure = {"Bool": {"aws:SecureTransport": "false"}}
    deny_insecure = Match.object_like(
        {"Statement": Match.array_with([Match.object_like({"Effect": "Deny", "Condition": insecure})])}
    )
    raw = t.to_json()

    queues = resources(raw, "AWS::SQS::Queue")
    main_queue = next(q for q in queues.values() if q["Properties"]["QueueName"].endswith("ExampleQueue"))
    assert main_queue["Properties"]["RedrivePolicy"]["maxReceiveCount"] == 3
    for q in queues.values():  # the queue, its DLQ and the stream's on-failure queue
        assert "Fn::GetAtt" in q["Properties"]["KmsMasterKeyId"]
    dlq_alarms = [
        a
        for a in resources(raw, "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
    ]
    assert len(dlq_alarms) == 2  # ExampleQueue's DLQ and example_events' on-failure queue
    t.resource_properties_count_is("AWS::SQS::QueuePolicy", {"PolicyDocument": deny_insecure}, len(queues))

    t.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    Match.object_like({"ServerSideEncryptionByDefault": Match.object_like({"SSEAlgorithm": "aws:kms"})})
                ]
            },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
        },
    )
    t.has_resource_properties("AWS::S3::BucketPolicy", {"PolicyDocument": deny_insecure})

    t.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "FunctionName": resource_name(STAGE, "example_events"),
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "BisectBatchOnFunctionError": True,
            "MaximumRetryAttempts": 5,
            "StartingPosition": "TRIM_HORIZON",
            "DestinationConfig": {"OnFailure": {"Destination": Match.any_value()}},
        },
    )
    t.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "FunctionName": resource_name(STAGE, "example_sender"),
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    )
    for statement in statements(raw["Resources"]):
        assert not {a.lower() for a in as_list(statement.get("Action", []))} & FORBIDDEN_ACTIONS
    assert lint_errors(raw) == []


def test_scheduler_roles_may_only_invoke_their_function_and_dead_letter(template_dict: dict[str, Any]) -> None:
    roles = resources(template_dict, "AWS::IAM::Role")
    schedules = resources(template_dict, "AWS::Scheduler::Schedule")
    assert schedules
    for schedule in schedules.values():
        target = schedule["Properties"]["Target"]
        role = roles[target["RoleArn"]["Fn::GetAtt"][0]]
        assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
            "Service": "scheduler.amazonaws.com"
        }
        attached = [
            p
            for p in resources(template_dict, "AWS::IAM::Policy").values()
            if {"Ref": target["RoleArn"]["Fn::GetAtt"][0]} in p["Properties"]["Roles"]
        ]
        assert not attached  # all of it inline, where the tests below see it
        found = list(statements(role["Properties"]["Policies"]))
        by_action = {s["Action"] if isinstance(s["Action"], str) else tuple(sorted(s["Action"])): s for s in found}
        assert set(by_action) == {"lambda:InvokeFunction", "sqs:SendMessage", ("kms:Decrypt", "kms:GenerateDataKey*")}
        assert by_action["lambda:InvokeFunction"]["Resource"] == target["Arn"]
        assert by_action["sqs:SendMessage"]["Resource"] == target["DeadLetterConfig"]["Arn"]
        kms = by_action[("kms:Decrypt", "kms:GenerateDataKey*")]
        assert kms["Condition"] == {"StringEquals": {"kms:ViaService": f"sqs.{REGION}.amazonaws.com"}}


def test_case_functions_retention_on_the_stream_and_overdue_on_a_stockholm_schedule(template) -> None:
    from aws_cdk.assertions import Match

    template.has_resource_properties(
        "AWS::Scheduler::Schedule",
        {"ScheduleExpression": "rate(15 minutes)", "ScheduleExpressionTimezone": "Europe/Stockholm"},
    )
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "FunctionName": Match.string_like_regexp("case_retention"),
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    )
    template.has_resource_properties("AWS::CloudWatch::Alarm", {"MetricName": "OverdueCases"})


# --- notifications (R-11, R-12) ---------------------------------------------------------------


def _role_statements(template_dict: dict[str, Any], name: str) -> list[dict[str, Any]]:
    role_id = function_named(template_dict, name)["Properties"]["Role"]["Fn::GetAtt"][0]
    found = []
    for policy in resources(template_dict, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            found.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return found


def _actions(template_dict: dict[str, Any], name: str) -> set[str]:
    return {a for s in _role_statements(template_dict, name) if s["Effect"] == "Allow" for a in as_list(s["Action"])}


def test_notification_functions_are_fed_by_the_stream_and_the_queue(template: Template) -> None:
    for name in ("inbox_events", "case_retention"):  # two mappings on the one stream
        template.has_resource_properties(
            "AWS::Lambda::EventSourceMapping",
            {
                "FunctionName": resource_name(STAGE, name),
                "EventSourceArn": Match.object_like({"Fn::GetAtt": Match.array_with(["StreamArn"])}),
                "FunctionResponseTypes": ["ReportBatchItemFailures"],
            },
        )
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "FunctionName": resource_name(STAGE, "send_notifications"),
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    )
    template.has_resource_properties(
        "AWS::SQS::Queue",
        {
            "QueueName": resource_name(STAGE, "NotificationsQueue"),
            "VisibilityTimeout": 60,
            "RedrivePolicy": Match.object_like({"maxReceiveCount": 5}),
            "KmsMasterKeyId": Match.any_value(),
        },
    )
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Dimensions": [{"Name": "QueueName", "Value": Match.any_value()}],
            "AlarmName": Match.string_like_regexp("NotificationsQueueDlqDepth"),
        },
    )


def test_notification_permissions_are_least_privilege(template_dict: dict[str, Any]) -> None:
    main = table_id(template_dict, "MainTable")
    stream_reads = {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"}  # its stream ARN
    # inbox_events reads the stream and queues ids; it touches no item.
    assert _allowed_dynamodb(template_dict, "inbox_events") == {main: stream_reads}
    assert _allowed_dynamodb(template_dict, "send_notifications") == {
        main: {
            "dynamodb:GetItem",
            "dynamodb:BatchGetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:BatchWriteItem",
        }
    }
    assert _allowed_dynamodb(template_dict, "sweep_notifications") == {
        main: {"dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:GetItem", "dynamodb:PutItem"}
    }
    assert _allowed_dynamodb(template_dict, "delivery_feedback") == {
        main: {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:PutItem"}
    }
    # Only the producers send to the notifications queue; only the sender publishes SMS and sends e-mail.
    (queue_id,) = [
        k
        for k, q in resources(template_dict, "AWS::SQS::Queue").items()
        if q["Properties"]["QueueName"] == resource_name(STAGE, "NotificationsQueue")
    ]
    producers = {
        name
        for name in FUNCTIONS
        if any(
            "sqs:SendMessage" in as_list(s["Action"]) and {"Fn::GetAtt": [queue_id, "Arn"]} in as_list(s["Resource"])
            for s in _role_statements(template_dict, name)
        )
    }
    assert producers == {"inbox_events", "sweep_notifications"}
    for name in FUNCTIONS:
        actions = _actions(template_dict, name)
        assert ("sns:Publish" in actions) == (name == "send_notifications"), name
        assert ("ses:SendEmail" in actions) == (name == "send_notifications"), name
    statements = _role_statements(template_dict, "send_notifications")
    sms = next(s for s in statements if s.get("Sid") == "SmsToPhoneNumbers")
    assert sms["Resource"] == "*"  # SMS to a phone number has no resource ARN
    deny = next(s for s in statements if s.get("Sid") == "NoTopicPublish")
    assert deny["Effect"] == "Deny" and deny["Action"] == "sns:Publish"
    email = next(s for s in statements if s.get("Sid") == "NotificationEmail")
    assert "*" not in as_list(email["Resource"])
    assert "configuration-set/" in json.dumps(email["Resource"])
    assert email["Condition"] == {"StringEquals": {"ses:FromAddress": "no-reply@e-tjanster.example"}}
    env = function_named(template_dict, "send_notifications")["Properties"]["Environment"]["Variables"]
    assert env["NOTIFICATION_FROM_EMAIL"] == "no-reply@e-tjanster.example"
    assert env["SES_CONFIGURATION_SET"] == f"e-services-{STAGE}-notifications"


def test_ses_events_reach_delivery_feedback_through_an_encrypted_topic(template_dict: dict[str, Any]) -> None:
    topics = {k: v for k, v in resources(template_dict, "AWS::SNS::Topic").items() if "SesEvents" in k}
    ((topic_id, topic),) = topics.items()
    assert topic["Properties"]["KmsMasterKeyId"]
    ((config_set),) = resources(template_dict, "AWS::SES::ConfigurationSet").values()
    assert config_set["Properties"]["Name"] == f"e-services-{STAGE}-notifications"
    ((destination),) = resources(template_dict, "AWS::SES::ConfigurationSetEventDestination").values()
    event_destination = destination["Properties"]["EventDestination"]
    assert event_destination["SnsDestination"]["TopicARN"] == {"Ref": topic_id}
    assert {"delivery", "bounce", "complaint"} <= set(event_destination["MatchingEventTypes"])
    subscriptions = [
        s
        for s in resources(template_dict, "AWS::SNS::Subscription").values()
        if s["Properties"]["TopicArn"] == {"Ref": topic_id}
    ]
    assert len(subscriptions) == 1 and subscriptions[0]["Properties"]["Protocol"] == "lambda"
    assert resource_name(STAGE, "delivery_feedback") in json.dumps(subscriptions[0]["Properties"]["Endpoint"])
    permissions = resources(template_dict, "AWS::Lambda::Permission").values()
    assert any(
        p["Properties"]["Principal"] == "sns.amazonaws.com" and p["Properties"]["SourceArn"] == {"Ref": topic_id}
        for p in permissions
    )


def test_sms_delivery_logs_reach_delivery_feedback_and_spend_is_alarmed(
    template: Template, template_dict: dict[str, Any]
) -> None:
    filters = resources(template_dict, "AWS::Logs::SubscriptionFilter").values()
    assert len(filters) == 2
    for subscription_filter in filters:
        assert resource_name(STAGE, "delivery_feedback") in json.dumps(
            subscription_filter["Properties"]["DestinationArn"]
        )
        group_id = subscription_filter["Properties"]["LogGroupName"]["Ref"]
        group_name = resources(template_dict, "AWS::Logs::LogGroup")[group_id]["Properties"]["LogGroupName"]
        assert "DirectPublishToPhoneNumber" in json.dumps(group_name)
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {"Namespace": "AWS/SNS", "MetricName": "SMSMonthToDateSpentUSD", "AlarmActions": Match.any_value()},
    )
    template.has_resource_properties("AWS::CloudWatch::Alarm", {"MetricName": "NotificationDeliveryFailures"})


# --- failure destinations (issue 7, defect 10) ----------------------------------------------------

FUNCTION_PREFIX = f"e-services-{STAGE}-"
FAILURE_QUEUE_RETENTION_S = 14 * 24 * 3600


def _invoked_function(target: Any) -> str:
    arn = render(target)
    assert ":function:" in arn, arn
    return arn.rsplit(":function:", 1)[1].removeprefix(FUNCTION_PREFIX)


def asynchronously_invoked(t: Mapping[str, Any]) -> set[str]:
    """Functions something invokes asynchronously: SNS, CloudWatch Logs, S3 and EventBridge Scheduler."""
    targets = [
        s["Properties"]["Endpoint"]
        for s in resources(t, "AWS::SNS::Subscription").values()
        if s["Properties"]["Protocol"] == "lambda"
    ]
    targets += [f["Properties"]["DestinationArn"] for f in resources(t, "AWS::Logs::SubscriptionFilter").values()]
    for bucket in resources(t, "AWS::S3::Bucket").values():
        notifications = bucket["Properties"].get("NotificationConfiguration", {})
        targets += [c["Function"] for c in notifications.get("LambdaConfigurations", [])]
    targets += [s["Properties"]["Target"]["Arn"] for s in resources(t, "AWS::Scheduler::Schedule").values()]
    return {_invoked_function(target) for target in targets}


def assert_alarmed_encrypted_failure_queue(t: Mapping[str, Any], queue_ref: Any) -> str:
    queue_id = queue_ref["Fn::GetAtt"][0]
    assert queue_ref == {"Fn::GetAtt": [queue_id, "Arn"]}
    props = resources(t, "AWS::SQS::Queue")[queue_id]["Properties"]
    data_key = next(k for k in resources(t, "AWS::KMS::Key") if k.startswith("DataDataKey"))
    assert props["KmsMasterKeyId"] == {"Fn::GetAtt": [data_key, "Arn"]}
    assert props["MessageRetentionPeriod"] == FAILURE_QUEUE_RETENTION_S
    alarms = [
        a["Properties"]
        for a in resources(t, "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
        and {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}} in a["Properties"]["Dimensions"]
    ]
    assert len(alarms) == 1, queue_id
    assert alarms[0]["Threshold"] == 1 and alarms[0]["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarms[0]["AlarmActions"]
    return queue_id


def test_the_asynchronously_invoked_functions_are_the_expected_ones(template_dict: dict[str, Any]) -> None:
    # Guards the detection the next test relies on.
    expected = {"delivery_feedback"} | {c.function for c in OBJECT_CREATED_CONSUMERS} | {s.function for s in SCHEDULES}
    assert asynchronously_invoked(template_dict) == expected


def test_every_asynchronously_invoked_function_keeps_its_failures_on_an_alarmed_queue(
    template_dict: dict[str, Any],
) -> None:
    configs = [c["Properties"] for c in resources(template_dict, "AWS::Lambda::EventInvokeConfig").values()]
    for name in sorted(asynchronously_invoked(template_dict)):
        (config,) = [c for c in configs if c["FunctionName"] == resource_name(STAGE, name)]
        assert config["Qualifier"] == "$LATEST"
        assert config["MaximumRetryAttempts"] == 2
        assert 60 <= config["MaximumEventAgeInSeconds"] <= 6 * 3600
        queue_ref = config["DestinationConfig"]["OnFailure"]["Destination"]
        assert_alarmed_encrypted_failure_queue(template_dict, queue_ref)
        # The function's role may send there (Lambda sends as the function), through SQS's use of the key.
        role_statements = [s for s in _role_statements(template_dict, name) if s["Effect"] == "Allow"]
        assert any(s["Action"] == "sqs:SendMessage" and s["Resource"] == queue_ref for s in role_statements), name
        assert any(
            f"sqs.{REGION}.amazonaws.com"
            in as_list(s.get("Condition", {}).get("StringEquals", {}).get("kms:ViaService"))
            for s in role_statements
        ), name


def test_schedules_retry_within_a_period_then_dead_letter_to_an_alarmed_queue(template_dict: dict[str, Any]) -> None:
    schedules = resources(template_dict, "AWS::Scheduler::Schedule")
    assert {_invoked_function(s["Properties"]["Target"]["Arn"]) for s in schedules.values()} == {
        s.function for s in SCHEDULES
    }
    assert sorted(s["Properties"]["Name"] for s in schedules.values()) == sorted(
        resource_name(STAGE, s.name) for s in SCHEDULES
    )
    dead_letter_queues = set()
    for schedule in SCHEDULES:
        (props,) = [
            s["Properties"]
            for s in schedules.values()
            if s["Properties"]["Name"] == resource_name(STAGE, schedule.name)
        ]
        assert _invoked_function(props["Target"]["Arn"]) == schedule.function
        assert props["ScheduleExpression"] == schedule.expression
        assert props["ScheduleExpressionTimezone"] == "Europe/Stockholm"
        retry = props["Target"]["RetryPolicy"]
        assert retry["MaximumRetryAttempts"] == 2
        period_s = schedule.every_minutes * 60 if schedule.every_minutes else 24 * 3600
        assert 60 <= retry["MaximumEventAgeInSeconds"] <= period_s
        dead_letter_queues.add(
            assert_alarmed_encrypted_failure_queue(template_dict, props["Target"]["DeadLetterConfig"]["Arn"])
        )
    assert len(dead_letter_queues) == len(SCHEDULES)  # one each


def test_schedules_send_scheduler_events_with_their_planned_time(template_dict: dict[str, Any]) -> None:
    """Functions take "now" from the event's `time`: every schedule sends the "Scheduled Event" shape the
    local pump sends (`local.pump.schedule_event`), with Scheduler's context attributes filled in."""
    from local.pump import schedule_event

    for schedule in resources(template_dict, "AWS::Scheduler::Schedule").values():
        sent = json.loads(render(schedule["Properties"]["Target"]["Input"]))
        assert sent["time"] == "<aws.scheduler.scheduled-time>"
        assert sent["resources"] == ["<aws.scheduler.schedule-arn>"]
        assert set(sent) == set(schedule_event("x", datetime(2026, 1, 1, tzinfo=UTC)))
        assert (sent["detail-type"], sent["source"]) == ("Scheduled Event", "aws.scheduler")


# --- queue and stream consumers (issue 7, defect 9) -----------------------------------------------


def _mapping(t: Mapping[str, Any], name: str) -> dict[str, Any]:
    (mapping,) = [
        m["Properties"]
        for m in resources(t, "AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == resource_name(STAGE, name)
    ]
    return mapping


@pytest.mark.parametrize("consumer", QUEUE_CONSUMERS, ids=lambda c: c.function)
def test_queue_consumers_are_capped_as_defined(template_dict: dict[str, Any], consumer: Any) -> None:
    function = FUNCTIONS[consumer.function]
    if function.sends_sms or function.sends_email:
        # A backlog must not run more senders at once than the SMS/e-mail quotas allow.
        assert consumer.max_concurrency is not None, f"{consumer.function}: set max_concurrency in functions.py"
    mapping = _mapping(template_dict, consumer.function)
    cap = consumer.max_concurrency
    assert mapping.get("ScalingConfig") == ({"MaximumConcurrency": cap} if cap else None)
    assert mapping["BatchSize"] == consumer.batch_size


@pytest.mark.parametrize("consumer", STREAM_CONSUMERS, ids=lambda c: c.function)
def test_stream_consumers_take_their_batch_size_from_definitions(template_dict: dict[str, Any], consumer: Any) -> None:
    assert _mapping(template_dict, consumer.function)["BatchSize"] == consumer.batch_size


def test_queue_consumer_concurrency_cap_and_its_range() -> None:
    stack = cdk.Stack(cdk.App(context=CDK_CONTEXT), "Capped", env=cdk.Environment(region=REGION))
    queue = Queue("CappedQueue", "CAPPED_QUEUE")
    data = DataResources(stack, "Data", stage=STAGE, queues=(queue,), buckets=(), buses=())
    role = cdk.aws_iam.Role(stack, "Role", assumed_by=cdk.aws_iam.ServicePrincipal("lambda.amazonaws.com"))
    wire_queue_consumer(
        data, name="capped", role=role, queue_id=queue.logical_id, function_timeout_s=30, max_concurrency=5
    )
    wire_queue_consumer(data, name="uncapped", role=role, queue_id=queue.logical_id, function_timeout_s=30)
    for invalid in (1, 1001):
        with pytest.raises(ValueError, match="max_concurrency"):
            wire_queue_consumer(
                data, name="bad", role=role, queue_id=queue.logical_id, function_timeout_s=30, max_concurrency=invalid
            )
    mappings = {
        m["Properties"]["FunctionName"]: m["Properties"]
        for m in resources(Template.from_stack(stack).to_json(), "AWS::Lambda::EventSourceMapping").values()
    }
    assert mappings[resource_name(STAGE, "capped")]["ScalingConfig"] == {"MaximumConcurrency": 5}
    assert "ScalingConfig" not in mappings[resource_name(STAGE, "uncapped")]


# --- the sweeper's findings (issue 7, defect 8) ---------------------------------------------------


@pytest.mark.parametrize("metric", ["ArrivalsReconciled", "NotificationsRequeued"])
def test_what_the_notification_sweeper_finds_raises_an_alarm(template_dict: dict[str, Any], metric: str) -> None:
    env = function_named(template_dict, "api_handler")["Properties"]["Environment"]["Variables"]
    (alarm,) = [
        a["Properties"]
        for a in resources(template_dict, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == metric
    ]
    assert alarm["Namespace"] == env["POWERTOOLS_METRICS_NAMESPACE"]
    # Powertools adds the service dimension to every metric it publishes.
    assert alarm["Dimensions"] == [{"Name": "service", "Value": env["POWERTOOLS_SERVICE_NAME"]}]
    assert alarm["Statistic"] == "Sum" and alarm["Period"] == 900 and alarm["EvaluationPeriods"] == 1
    assert alarm["Threshold"] == 1 and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"
    (topic,) = [k for k in resources(template_dict, "AWS::SNS::Topic") if k.startswith("DataAlarmTopic")]
    assert alarm["AlarmActions"] == [{"Ref": topic}]


# --- the API edge (issue 7, defects 4 and 10) -----------------------------------------------------


def rest_api(t: Mapping[str, Any]) -> dict[str, Any]:
    (api,) = resources(t, "AWS::Serverless::Api").values()
    props: dict[str, Any] = api["Properties"]
    return props


# The e-ID order starts (issue 12): BankID login, Freja eID login, the BankID sign order of a self-lock.
EID_STARTS = {
    "/auth/bankid/start": "/~1auth~1bankid~1start",
    "/auth/freja/start": "/~1auth~1freja~1start",
    "/me/lock/start": "/~1me~1lock~1start",
}


def test_stage_throttling_and_a_tighter_limit_on_starting_logins(template_dict: dict[str, Any]) -> None:
    api = rest_api(template_dict)
    settings = {(s["ResourcePath"], s["HttpMethod"]): s for s in api["MethodSettings"]}
    assert set(settings) == {("/*", "*")} | {(escaped, "POST") for escaped in EID_STARTS.values()}
    default = settings[("/*", "*")]
    assert (default["ThrottlingRateLimit"], default["ThrottlingBurstLimit"]) == (
        API_THROTTLE.rate_per_s,
        API_THROTTLE.burst,
    )
    for path, escaped in EID_STARTS.items():
        start = settings[(escaped, "POST")]
        assert (start["ThrottlingRateLimit"], start["ThrottlingBurstLimit"]) == (
            AUTH_START_THROTTLE.rate_per_s,
            AUTH_START_THROTTLE.burst,
        ), path
        assert start["ThrottlingRateLimit"] < default["ThrottlingRateLimit"]
        assert "post" in api["DefinitionBody"]["paths"][path]  # the setting names a real method
    for setting in settings.values():
        assert setting.get("DataTraceEnabled") is False  # never request/response bodies in execution logs
        assert setting.get("LoggingLevel", "OFF") == "OFF"


# Every gateway response type API Gateway has (developer guide, "Gateway response types").
GATEWAY_RESPONSE_TYPES = (
    "ACCESS_DENIED",
    "API_CONFIGURATION_ERROR",
    "AUTHORIZER_CONFIGURATION_ERROR",
    "AUTHORIZER_FAILURE",
    "BAD_REQUEST_PARAMETERS",
    "BAD_REQUEST_BODY",
    "DEFAULT_4XX",
    "DEFAULT_5XX",
    "EXPIRED_TOKEN",
    "INTEGRATION_FAILURE",
    "INTEGRATION_TIMEOUT",
    "INVALID_API_KEY",
    "INVALID_SIGNATURE",
    "MISSING_AUTHENTICATION_TOKEN",
    "QUOTA_EXCEEDED",
    "REQUEST_TOO_LARGE",
    "RESOURCE_NOT_FOUND",
    "THROTTLED",
    "UNAUTHORIZED",
    "UNSUPPORTED_MEDIA_TYPE",
    "WAF_FILTERED",
)
# type -> (status, code, title as the app has it); Retry-After on the ones a client should retry.
EXPECTED_GATEWAY_PROBLEMS = {
    "MISSING_AUTHENTICATION_TOKEN": (404, "not-found", errors.NotFound.title),  # an unknown route or method
    "THROTTLED": (429, "rate-limited", errors.TooManyRequests.title),
    "QUOTA_EXCEEDED": (429, "rate-limited", errors.TooManyRequests.title),
    "REQUEST_TOO_LARGE": (413, "body-too-large", errors.BadRequest.title),
    "UNAUTHORIZED": (401, "unauthenticated", errors.Unauthenticated.title),
    "ACCESS_DENIED": (403, "forbidden", errors.Forbidden.title),
    "BAD_REQUEST_BODY": (400, "bad-request", errors.BadRequest.title),
    "DEFAULT_4XX": (400, "bad-request", errors.BadRequest.title),
    "WAF_FILTERED": (403, "request-blocked", errors.Forbidden.title),
    "INTEGRATION_TIMEOUT": (503, "service-unavailable", errors.ServiceUnavailable.title),
    "INTEGRATION_FAILURE": (503, "service-unavailable", errors.ServiceUnavailable.title),
    "DEFAULT_5XX": (500, "internal-error", "Tekniskt fel"),
}
RETRY_AFTER = {"THROTTLED", "QUOTA_EXCEEDED", "INTEGRATION_TIMEOUT", "INTEGRATION_FAILURE"}


@pytest.mark.parametrize("response_type", GATEWAY_RESPONSE_TYPES)
def test_api_gateways_own_errors_are_problem_json_like_the_apps(
    template_dict: dict[str, Any], response_type: str
) -> None:
    response = rest_api(template_dict)["GatewayResponses"][response_type]
    headers = response["ResponseParameters"]["Headers"]
    assert headers["Content-Type"] == "'application/problem+json'"
    assert headers["Cache-Control"] == "'no-store'"
    (template_key,) = response["ResponseTemplates"]
    assert template_key == "application/json"
    body = json.loads(response["ResponseTemplates"][template_key])
    assert {"type", "title", "status", "detail", "code"} <= set(body)
    assert body["status"] == response["StatusCode"]
    assert body["type"] == f"/problems/{body['code']}"
    assert body["detail"] and body["title"]
    if response_type in EXPECTED_GATEWAY_PROBLEMS:
        assert (body["status"], body["code"], body["title"]) == EXPECTED_GATEWAY_PROBLEMS[response_type]
    if response_type in RETRY_AFTER:
        assert int(headers["Retry-After"].strip("'")) >= 1
        if body["status"] == 429:
            assert body["retryAfter"] == int(headers["Retry-After"].strip("'"))
    else:
        assert "Retry-After" not in headers


ACCESS_LOG_REQUIRED = {
    "$context.requestId",
    "$context.requestTime",
    "$context.httpMethod",
    "$context.resourcePath",
    "$context.status",
    "$context.responseLatency",
    "$context.integration.error",
    "$context.wafResponseCode",
}
# Where a client's address, identity or data could appear (raw path, query, headers, body, error text).
ACCESS_LOG_FORBIDDEN = re.compile(
    r"\$context\.(identity|path\b|authorizer|requestOverride|responseOverride|error\.message|integrationErrorMessage)"
    r"|\$input|\$method|\$util|querystring|body|sourceIp|userAgent",
    re.IGNORECASE,
)


def test_api_access_log_is_json_without_personal_data_in_an_encrypted_group(template_dict: dict[str, Any]) -> None:
    setting = rest_api(template_dict)["AccessLogSetting"]
    fields = json.loads(setting["Format"])
    assert all(isinstance(v, str) and re.fullmatch(r"\$context\.[\w.]+", v) for v in fields.values()), fields
    assert set(fields.values()) >= ACCESS_LOG_REQUIRED
    assert not ACCESS_LOG_FORBIDDEN.search(setting["Format"])
    # DestinationArn: the group's ARN without ":*" (API Gateway refuses that form).
    destination = render(setting["DestinationArn"])
    assert not destination.endswith(":*")
    (group_id,) = re.findall(r":log-group:\$\{(\w+)\}$", destination)
    group = resources(template_dict, "AWS::Logs::LogGroup")[group_id]["Properties"]
    assert group["LogGroupName"] == f"/aws/apigateway/e-services-{STAGE}/access"
    assert group["RetentionInDays"] == 90
    ops_key = next(k for k in resources(template_dict, "AWS::KMS::Key") if k.startswith("DataOpsKey"))
    assert group["KmsKeyId"] == {"Fn::GetAtt": [ops_key, "Arn"]}
    # CloudWatch Logs may use the ops key for this group.
    key_policy = resources(template_dict, "AWS::KMS::Key")[ops_key]["Properties"]["KeyPolicy"]
    (logs_statement,) = [s for s in key_policy["Statement"] if s.get("Sid") == "CloudWatchLogsForThisAppsLogGroups"]
    allowed = [render(a) for a in as_list(logs_statement["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"])]
    assert any(a.endswith(f":log-group:/aws/apigateway/e-services-{STAGE}/access") for a in allowed)


def web_acl(t: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    ((acl_id, acl),) = resources(t, "AWS::WAFv2::WebACL").items()
    return acl_id, acl["Properties"]


def test_a_regional_web_acl_guards_the_api_stage(template_dict: dict[str, Any]) -> None:
    acl_id, acl = web_acl(template_dict)
    assert acl["Scope"] == "REGIONAL"
    assert acl["DefaultAction"] == {"Allow": {}}
    (association,) = resources(template_dict, "AWS::WAFv2::WebACLAssociation").values()
    assert association["Properties"]["WebACLArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}
    # SAM resolves RestAPI.Stage to the stage it creates; the association then waits for that stage.
    assert render(association["Properties"]["ResourceArn"]) == (
        "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${RestAPI}/stages/${RestAPI.Stage}"
    )
    # Metrics for every rule; no sampled requests and no WAF log (they would keep IPs and bearer tokens).
    for visibility in [acl["VisibilityConfig"]] + [r["VisibilityConfig"] for r in acl["Rules"]]:
        assert visibility["CloudWatchMetricsEnabled"] is True
        assert visibility["SampledRequestsEnabled"] is False
    assert not resources(template_dict, "AWS::WAFv2::LoggingConfiguration")


def test_the_web_acl_uses_managed_rules_that_fit_a_json_api(template_dict: dict[str, Any]) -> None:
    _, acl = web_acl(template_dict)
    managed = {
        r["Statement"]["ManagedRuleGroupStatement"]["Name"]: r
        for r in acl["Rules"]
        if "ManagedRuleGroupStatement" in r["Statement"]
    }
    assert {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"} <= set(managed)
    for rule in managed.values():
        assert rule["OverrideAction"] == {"None": {}}  # the groups' own block actions apply
    # The common rule set blocks bodies over 8 KB; the app takes up to 256 KB (and answers 413 itself).
    overrides = managed["AWSManagedRulesCommonRuleSet"]["Statement"]["ManagedRuleGroupStatement"]["RuleActionOverrides"]
    assert overrides == [{"Name": "SizeRestrictions_BODY", "ActionToUse": {"Count": {}}}]


def _transform(value: str, transformations: list[dict[str, Any]]) -> str:
    for t in sorted(transformations, key=lambda t: t["Priority"]):
        if t["Type"] == "URL_DECODE":
            value = unquote(value)
        elif t["Type"] == "NORMALIZE_PATH":
            value = posixpath.normpath(re.sub("/+", "/", value)) + ("/" if value.endswith("/") else "")
        elif t["Type"] == "LOWERCASE":
            value = value.lower()
        elif t["Type"] != "NONE":
            raise AssertionError(f"no model of {t['Type']}")
    return value


def waf_matches(statement: Mapping[str, Any], path: str) -> bool:
    """A model of the WAF statements the scope-downs use, on the URI path."""
    if "OrStatement" in statement:
        return any(waf_matches(s, path) for s in statement["OrStatement"]["Statements"])
    if "AndStatement" in statement:
        return all(waf_matches(s, path) for s in statement["AndStatement"]["Statements"])
    match = statement["ByteMatchStatement"]
    assert match["FieldToMatch"] == {"UriPath": {}}
    value, search = _transform(path, match["TextTransformations"]), match["SearchString"]
    return {
        "STARTS_WITH": value.startswith,
        "EXACTLY": lambda s: value == s,
        "CONTAINS": lambda s: s in value,
    }[match["PositionalConstraint"]](search)


@pytest.mark.parametrize(
    ("path", "counted_by"),
    [
        ("/api/auth/bankid/start", {"AuthStartPerIp", "AuthPerIp"}),
        ("/api//auth/./bankid/start", {"AuthStartPerIp", "AuthPerIp"}),
        ("/api/auth%2Fbankid%2Fstart", {"AuthStartPerIp", "AuthPerIp"}),
        ("/auth/bankid/start", {"AuthStartPerIp", "AuthPerIp"}),  # through a custom domain
        ("/api/auth/freja/start", {"AuthStartPerIp", "AuthPerIp"}),
        ("/api//auth/./freja/start", {"AuthStartPerIp", "AuthPerIp"}),
        ("/api/auth%2Ffreja%2Fstart", {"AuthStartPerIp", "AuthPerIp"}),
        ("/auth/freja/start", {"AuthStartPerIp", "AuthPerIp"}),
        ("/api/me/lock/start", {"AuthStartPerIp", "AuthPerIp"}),
        ("/api//me/./lock/start", {"AuthStartPerIp", "AuthPerIp"}),
        ("/api/me%2Flock%2Fstart", {"AuthStartPerIp", "AuthPerIp"}),
        ("/api/me/x/../lock//start", {"AuthStartPerIp", "AuthPerIp"}),
        ("/me/lock/start", {"AuthStartPerIp", "AuthPerIp"}),
        ("/api/auth/bankid/collect", {"AuthPerIp"}),
        ("/api/auth/bankid/qr", {"AuthPerIp"}),
        ("/api/auth/freja/collect", {"AuthPerIp"}),
        ("/api/auth/freja/cancel", {"AuthPerIp"}),
        ("/api/me/lock/collect", {"AuthPerIp"}),
        ("/me/lock/collect", {"AuthPerIp"}),
        ("/auth/logout", {"AuthPerIp"}),
        ("/api/me", set()),
        ("/api/citizens/c-1/inbox", set()),
        ("/api/openapi.json", set()),
    ],
)
def test_login_calls_are_rate_limited_per_client_ip(
    template_dict: dict[str, Any], path: str, counted_by: set[str]
) -> None:
    _, acl = web_acl(template_dict)
    rate_rules = {r["Name"]: r for r in acl["Rules"] if "RateBasedStatement" in r["Statement"]}
    assert set(rate_rules) == {"AuthStartPerIp", "AuthPerIp"}
    assert {
        name
        for name, r in rate_rules.items()
        if waf_matches(r["Statement"]["RateBasedStatement"]["ScopeDownStatement"], path)
    } == counted_by


def test_rate_limited_logins_get_a_429_problem_with_retry_after(template_dict: dict[str, Any]) -> None:
    _, acl = web_acl(template_dict)
    limits = {"AuthStartPerIp": WAF_AUTH_START_RATE_LIMIT, "AuthPerIp": WAF_AUTH_RATE_LIMIT}
    for rule in acl["Rules"]:
        if "RateBasedStatement" not in rule["Statement"]:
            continue
        statement = rule["Statement"]["RateBasedStatement"]
        assert statement["AggregateKeyType"] == "IP"
        assert statement["EvaluationWindowSec"] == 300
        assert statement["Limit"] == limits[rule["Name"]]
        response = rule["Action"]["Block"]["CustomResponse"]
        assert response["ResponseCode"] == 429
        headers = {h["Name"]: h["Value"] for h in response["ResponseHeaders"]}
        assert int(headers["Retry-After"]) >= 1
        body = acl["CustomResponseBodies"][response["CustomResponseBodyKey"]]
        assert body["ContentType"] == "APPLICATION_JSON"  # WAF offers no problem+json content type
        problem = json.loads(body["Content"])
        assert problem["code"] == "rate-limited" and problem["status"] == 429
        assert problem["title"] == errors.TooManyRequests.title
        assert problem["type"] == "/problems/rate-limited" and problem["detail"]
        assert problem["retryAfter"] == int(headers["Retry-After"])
    assert WAF_AUTH_START_RATE_LIMIT < WAF_AUTH_RATE_LIMIT


@pytest.mark.parametrize(
    ("name", "indexes"),
    [
        ("sweep_notifications", {"gsi4"}),
        ("delivery_feedback", {"gsi1"}),
        ("count_overdue", {"gsi2", "gsi3"}),
        ("release_due_notices", {"gsi5"}),
        ("report_unread_notices", {"gsi5"}),
    ],
)
def test_jobs_query_only_the_indexes_they_use(template_dict: dict[str, Any], name: str, indexes: set[str]) -> None:
    """Least privilege down to the index: a job that reads one sparse index cannot read the others."""
    granted = set()
    for statement in _role_statements(template_dict, name):
        if "dynamodb:Query" not in as_list(statement["Action"]):
            continue
        for resource in as_list(statement["Resource"]):
            text = render(resource)
            if "/index/" in text:
                granted.add(text.rsplit("/index/", 1)[1])
    assert granted == indexes


def test_stream_consumers_are_invoked_only_for_the_records_they_handle(template_dict: dict[str, Any]) -> None:
    """Lambda event filtering from definitions.py: inbox_events only for inbox items with an arrival,
    case_retention only for deletions (the local pump applies the same patterns)."""
    mappings = {
        m["Properties"]["FunctionName"]: m["Properties"]
        for m in resources(template_dict, "AWS::Lambda::EventSourceMapping").values()
        if "StartingPosition" in m["Properties"]
    }
    for consumer in STREAM_CONSUMERS:
        props = mappings[resource_name(STAGE, consumer.function)]
        patterns = [json.loads(f["Pattern"]) for f in props["FilterCriteria"]["Filters"]]
        assert patterns == [dict(p) for p in consumer.filters] and patterns
        assert props["BatchSize"] == consumer.batch_size
    inbox = mappings[resource_name(STAGE, "inbox_events")]["FilterCriteria"]["Filters"]
    assert "INBOX#" in inbox[0]["Pattern"] and "arrivalId" in inbox[0]["Pattern"]


# --- the registry is what CDK wires (issue 8) -----------------------------------------------------


def test_every_event_source_mapping_is_a_registry_consumer_with_its_batch_window_and_cap(
    template_dict: dict[str, Any],
) -> None:
    """The local pump polls with these same consumers (local/pump.py imports them from the registry)."""
    from local import pump

    assert (pump.STREAM_CONSUMERS, pump.QUEUE_CONSUMERS) == (STREAM_CONSUMERS, QUEUE_CONSUMERS)
    mappings = {
        m["Properties"]["FunctionName"]: m["Properties"]
        for m in resources(template_dict, "AWS::Lambda::EventSourceMapping").values()
    }
    consumers: list[StreamConsumer | QueueConsumer] = [*STREAM_CONSUMERS, *QUEUE_CONSUMERS]
    assert sorted(mappings) == sorted(resource_name(STAGE, c.function) for c in consumers)
    for consumer in consumers:
        mapping = mappings[resource_name(STAGE, consumer.function)]
        assert mapping["BatchSize"] == consumer.batch_size, consumer.function
        assert mapping.get("MaximumBatchingWindowInSeconds", 0) == consumer.window_s, consumer.function
        cap = getattr(consumer, "max_concurrency", None)
        assert mapping.get("ScalingConfig") == ({"MaximumConcurrency": cap} if cap else None), consumer.function


def test_each_registry_entry_has_its_trigger_memory_and_timeout(template_dict: dict[str, Any]) -> None:
    from infra.functions import Console, DeliveryReports

    async_targets = asynchronously_invoked(template_dict)
    for name, function in FUNCTIONS.items():
        props = function_named(template_dict, name)["Properties"]
        assert (props["MemorySize"], props["Timeout"]) == (function.memory_mb, function.timeout_s), name
        assert (name in async_targets) == function.invoked_asynchronously, name
        if isinstance(function.trigger, Console | DeliveryReports):
            assert not [
                m
                for m in resources(template_dict, "AWS::Lambda::EventSourceMapping").values()
                if m["Properties"]["FunctionName"] == resource_name(STAGE, name)
            ]


# --- operations: dashboard and backups (issue 8) --------------------------------------------------


def dashboard_body(t: Mapping[str, Any]) -> dict[str, Any]:
    (dashboard,) = resources(t, "AWS::CloudWatch::Dashboard").values()
    assert dashboard["Properties"]["DashboardName"] == f"e-services-{STAGE}"
    body: dict[str, Any] = json.loads(render(dashboard["Properties"]["DashboardBody"]))
    return body


def dashboard_metrics(t: Mapping[str, Any]) -> list[tuple[str, str, dict[str, str], str]]:
    """(namespace, metric, dimensions, statistic) of every metric the dashboard shows."""
    found = []
    for widget in dashboard_body(t)["widgets"]:
        for line in widget.get("properties", {}).get("metrics", []):
            *names, options = line
            namespace, metric, *dims = names
            found.append((namespace, metric, dict(zip(dims[::2], dims[1::2], strict=True)), options["stat"]))
    return found


def test_the_operators_dashboard_shows_the_api_notifications_queues_overdue_cases_and_throttles(
    template_dict: dict[str, Any],
) -> None:
    shown = dashboard_metrics(template_dict)
    api = {"ApiName": f"e-services-{STAGE}", "Stage": "api"}
    for metric in ("Count", "4XXError", "5XXError"):
        assert ("AWS/ApiGateway", metric, api, "Sum") in shown
    assert ("AWS/ApiGateway", "Latency", api, "p99") in shown
    service = {"service": "e-services"}
    for metric in ("NotificationsSent", "NotificationDeliveryFailures", "NotificationsAbandoned", "ArrivalsQueued"):
        assert ("EServices", metric, service, "Sum") in shown, metric
    assert ("EServices", "OverdueCases", service, "Maximum") in shown
    queues = {k: q["Properties"]["QueueName"] for k, q in resources(template_dict, "AWS::SQS::Queue").items()}
    depth = {
        render_queue(d["QueueName"], queues)
        for ns, metric, d, _ in shown
        if ns == "AWS/SQS" and metric == "ApproximateNumberOfMessagesVisible"
    }
    assert depth == {render_queue({"Fn::GetAtt": [k, "QueueName"]}, queues) for k in queues if "AccessLogs" not in k}
    assert any(ns == "AWS/SQS" and metric == "ApproximateAgeOfOldestMessage" for ns, metric, _, _ in shown)
    for name in FUNCTIONS:
        for metric in ("Errors", "Throttles"):
            assert ("AWS/Lambda", metric, {"FunctionName": resource_name(STAGE, name)}, "Sum") in shown


def render_queue(value: Any, queues: Mapping[str, str]) -> str:
    """A queue's name in a dashboard: a literal or `${Id.QueueName}`."""
    text = value if isinstance(value, str) else render(value)
    match = re.fullmatch(r"\$\{(\w+)\.QueueName\}", text)
    return queues[match.group(1)] if match else text


def test_tables_are_backed_up_daily_for_35_days_in_a_vault_encrypted_with_the_data_key(
    template_dict: dict[str, Any],
) -> None:
    ((vault_id, vault),) = resources(template_dict, "AWS::Backup::BackupVault").items()
    data_key = next(k for k in resources(template_dict, "AWS::KMS::Key") if k.startswith("DataDataKey"))
    assert vault["Properties"]["EncryptionKeyArn"] == {"Fn::GetAtt": [data_key, "Arn"]}
    assert vault["DeletionPolicy"] == "Retain"
    ((plan_id, plan),) = resources(template_dict, "AWS::Backup::BackupPlan").items()
    (rule,) = plan["Properties"]["BackupPlan"]["BackupPlanRule"]
    assert rule["TargetBackupVault"] == {"Fn::GetAtt": [vault_id, "BackupVaultName"]}
    assert re.fullmatch(r"cron\(\d+ \d+ \* \* \? \*\)", rule["ScheduleExpression"])  # once a day
    assert rule["Lifecycle"] == {"DeleteAfterDays": 35}
    (selection,) = resources(template_dict, "AWS::Backup::BackupSelection").values()
    assert selection["Properties"]["BackupPlanId"] == {"Fn::GetAtt": [plan_id, "BackupPlanId"]}
    backed_up = selection["Properties"]["BackupSelection"]["Resources"]
    assert sorted(backed_up, key=str) == sorted(
        ({"Fn::GetAtt": [table_id(template_dict, t.logical_id), "Arn"]} for t in TABLES), key=str
    )


# The logical ids of the deployed stack's stateful resources: a changed id replaces the resource (a table
# and its data would be gone; a named log group or queue fails to create). infra/parts/__init__.py.
KEPT_LOGICAL_IDS = {
    "DataDataKeyCDD1A924",
    "DataOpsKey154728E1",
    "DataMainTable7D30227F",
    "DataAuditTableD7A94F1A",
    "DataIdempotencyTable36C198C8",
    "DataNotificationsQueueF030DBE2",
    "DataAttachmentsBucketF3BC0329",
    "APIHandlerLogs63A3AFC4",
    "APIHandlerRole96DAA1D3",
    "SendNotificationsLogsEF7A0968",
    "SesEventsTopic6E3F217C",
    "NotificationsConfigurationSet228007DE",
    "SmsDeliveryLogsCD9AB346",
    "ApiAccessLogsE9DF007D",
    "ApiWebAcl",
    "RestAPI",
    "APIHandler",
}


def test_the_split_into_constructs_kept_the_logical_ids(template_dict: dict[str, Any]) -> None:
    assert set(template_dict["Resources"]) >= KEPT_LOGICAL_IDS


def test_namespaces_reproduce_cdks_logical_ids() -> None:
    """infra.parts.logical_id is aws-cdk-lib's own algorithm: same ids for the same paths."""
    from infra.parts import logical_id

    stack = cdk.Stack(cdk.App(context=CDK_CONTEXT), "Ids")
    paths = [("Data", "MainTable", "Resource"), ("Role", "DefaultPolicy", "Resource"), ("Single",), ("A", "Default")]
    for path in paths:
        scope: Any = stack
        for part in path:
            scope = cdk.CfnResource(scope, part, type="AWS::SQS::Queue") if part == path[-1] else Construct(scope, part)
        assert logical_id(path) == stack.resolve(scope.logical_id), path
