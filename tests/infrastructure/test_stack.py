"""CDK assertions and cfn-lint on the synthesized e-services stack (see conftest.py for the synth)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template
from cfnlint.api import ManualArgs, lint

from infra.definitions import (
    ATTACHMENTS_BUCKET,
    BUCKETS,
    OBJECT_CREATED_CONSUMERS,
    QUEUES,
    TABLES,
    Bucket,
    Queue,
    Table,
    resource_name,
)
from infra.stack import (
    BANKID_CERT_ARN_VAR,
    DEFAULT_BANKID_API_URL,
    FUNCTIONS,
    HMAC_ARN_VAR,
    MAIN_TABLE,
    DataResources,
    wire_queue_consumer,
    wire_stream_consumer,
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
    raise AssertionError(f"unexpected value {value!r}")


def attachments_bucket(t: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    name = f"{resource_name(STAGE, ATTACHMENTS_BUCKET.logical_id).lower()}-${{AWS::AccountId}}-{REGION}"
    found = [
        (k, b) for k, b in resources(t, "AWS::S3::Bucket").items() if render(b["Properties"]["BucketName"]) == name
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
    stack = cdk.Stack(cdk.App(), "Names", env=cdk.Environment(region=REGION))
    with pytest.raises(ValueError, match="bucket name"):
        DataResources(stack, "Data", stage=stage, buckets=(ATTACHMENTS_BUCKET,))


def test_failed_content_checks_are_retried_then_kept_on_an_alarmed_queue(template_dict: dict[str, Any]) -> None:
    (config,) = [
        c["Properties"]
        for c in resources(template_dict, "AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == resource_name(STAGE, "attachment_uploaded")
    ]
    assert config["MaximumRetryAttempts"] == 2
    queue_id = config["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
    queue = resources(template_dict, "AWS::SQS::Queue")[queue_id]
    assert "Fn::GetAtt" in queue["Properties"]["KmsMasterKeyId"]
    alarms = [
        a["Properties"]
        for a in resources(template_dict, "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
        and {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}} in a["Properties"]["Dimensions"]
    ]
    assert len(alarms) == 1 and alarms[0]["AlarmActions"]


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
    # The API signs presigned POSTs (upload to pending/ only) and GETs (checked files only).
    assert _s3_grants(template_dict, "api_handler") == {
        "s3:PutObject": {f"{arn}/pending/*"},
        "s3:GetObject": {f"{arn}/files/*"},
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
    roles = {k: v for k, v in all_roles.items() if "SchedulerRole" not in k and "SmsDeliveryStatusRole" not in k}
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
    main, audit, idem = (table_id(template_dict, t) for t in ("MainTable", "AuditTable", "IdempotencyTable"))
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
        idem: {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"},
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
    app = cdk.App()
    stack = cdk.Stack(app, "Future", env=cdk.Environment(region=REGION))
    queue = Queue("ExampleQueue", "EXAMPLE_QUEUE", max_receive_count=3)
    data = DataResources(
        stack,
        "Data",
        stage=STAGE,
        queues=(queue,),
        buckets=(Bucket("ExampleBucket", "EXAMPLE_BUCKET"),),
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


def test_scheduler_roles_may_only_invoke_their_function(template_dict: dict[str, Any]) -> None:
    scheduler_roles = {k for k in resources(template_dict, "AWS::IAM::Role") if "SchedulerRole" in k}
    assert scheduler_roles
    for policy in resources(template_dict, "AWS::IAM::Policy").values():
        if {r["Ref"] for r in policy["Properties"]["Roles"]} & scheduler_roles:
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                assert statement["Action"] == "lambda:InvokeFunction"


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
    idempotency = table_id(template_dict, "IdempotencyTable")
    stream_reads = {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"}  # its stream ARN
    assert _allowed_dynamodb(template_dict, "inbox_events")[main] - stream_reads == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
    }
    assert _allowed_dynamodb(template_dict, "send_notifications") == {
        main: {"dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:PutItem"},
        idempotency: {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"},
    }
    assert _allowed_dynamodb(template_dict, "delivery_feedback") == {
        main: {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:PutItem"}
    }
    # Only the producer sends to the queue; only the sender publishes SMS and sends e-mail.
    assert "sqs:SendMessage" in _actions(template_dict, "inbox_events")
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
