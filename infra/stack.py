"""The e-services stack: data resources from `definitions.py`, the Chalice app, least-privilege roles.

Shape:
- `DataResources` turns `definitions.TABLES/QUEUES/BUCKETS` into encrypted AWS resources (plus the
  KMS keys, the secrets and the alarm topic). Adding an entry in definitions.py is all it takes.
- `FUNCTIONS` says, per Chalice function, exactly which actions it may take on which table/secret and
  which event source feeds it. Every function the app declares must be listed (synth fails otherwise),
  so no function silently runs with another's permissions.
- `EServicesStack` creates one role and one log group per function, packages the Chalice app with
  `chalice.cdk.Chalice` and patches the generated functions (name, role, memory, timeout).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as sns_subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_wafv2 as wafv2
from chalice.cdk import Chalice
from chalice.utils import to_cfn_resource_name
from constructs import Construct

from chalicelib.core.errors import (
    PROBLEM_JSON,
    BadRequest,
    Forbidden,
    NotFound,
    ServiceUnavailable,
    TooManyRequests,
    Unauthenticated,
)
from infra.definitions import (
    ATTACHMENTS_BUCKET,
    AUDIT_TABLE,
    BUCKETS,
    MAIN_TABLE,
    NOTIFICATIONS_QUEUE,
    OBJECT_CREATED_CONSUMERS,
    QUEUE_CONSUMERS,
    QUEUES,
    SCHEDULES,
    STREAM_CONSUMERS,
    TABLES,
    Bucket,
    ObjectCreatedConsumer,
    Queue,
    Table,
    resource_name,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
APP_NAME = "e-services"
DEFAULT_BANKID_API_URL = "https://appapi2.bankid.com/rp/v6.0/"
API_GATEWAY_STAGE = "api"  # Chalice's default; part of EndpointURL and of the 5xx alarm's dimensions
LOG_RETENTION = logs.RetentionDays.THREE_MONTHS
DEFAULT_NOTIFICATION_FROM_EMAIL = "no-reply@e-tjanster.example"  # chalicelib/notifications/text.py
SMS_MONTHLY_SPEND_ALARM_USD = 200
METRICS_NAMESPACE = "EServices"  # POWERTOOLS_METRICS_NAMESPACE: the app's metrics and their alarms
# Lambda retries a failed asynchronous invocation (S3, SNS, CloudWatch Logs, Scheduler) this often and
# for this long, then sends it to the function's on-failure queue.
ASYNC_MAX_RETRIES = 2
ASYNC_MAX_EVENT_AGE_S = 6 * 3600
FAILURE_QUEUE_RETENTION = cdk.Duration.days(14)  # SQS's maximum: time for an operator to redrive


@dataclass(frozen=True)
class Throttle:
    """API Gateway token bucket: steady requests per second and burst."""

    rate_per_s: float
    burst: int


# In front of the app (issue 7, defect 4); app.py takes each from a context value (README "API edge").
# Per client IP per 5 minutes. A BankID login polls /qr every second and /collect every 2 s (about 50
# requests for a 30 s QR login), so the /auth/ budget leaves room for several logins behind one NAT;
# starting an order is what is abused (defect 4) and gets the tight limit.
WAF_AUTH_RATE_LIMIT = 1000
WAF_AUTH_START_RATE_LIMIT = 100
WAF_RATE_WINDOW_S = 300
WAF_RETRY_AFTER_S = 60  # a rate-based block lasts until the IP's rate over the window falls below the limit
API_THROTTLE = Throttle(rate_per_s=200, burst=400)  # every method of the stage (account limit: 10000/5000)
AUTH_START_THROTTLE = Throttle(rate_per_s=10, burst=20)  # POST /auth/bankid/start: 36000 orders an hour
THROTTLED_RETRY_AFTER_S = 2  # stage throttling refills its bucket every second
UNAVAILABLE_RETRY_AFTER_S = 5
AUTH_START_PATH = "/auth/bankid/start"


@dataclass(frozen=True)
class GatewayProblem:
    """A problem+json answer API Gateway gives itself (gateway response), shaped like the app's."""

    status: int
    code: str
    title: str
    detail: str
    retry_after_s: int | None = None

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"/problems/{self.code}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        if self.retry_after_s is not None:
            body["retryAfter"] = self.retry_after_s  # as the app's 429 has it
        return body

    def json(self) -> str:
        # ASCII-only (åäö as \\u escapes): gateway response templates and WAF bodies pass it through as is.
        return json.dumps(self.body(), ensure_ascii=True, separators=(",", ":"))


_INTERNAL = GatewayProblem(500, "internal-error", "Tekniskt fel", "Ett oväntat fel inträffade. Försök igen senare.")
_UNAVAILABLE = GatewayProblem(
    503,
    "service-unavailable",
    ServiceUnavailable.title,
    "Tjänsten svarade inte i tid. Försök igen om en stund.",
    UNAVAILABLE_RETRY_AFTER_S,
)
_BAD_REQUEST = GatewayProblem(400, "bad-request", BadRequest.title, "Begäran kunde inte tolkas.")
_NOT_FOUND = GatewayProblem(404, "not-found", NotFound.title, "Adressen eller metoden finns inte.")
_THROTTLED = GatewayProblem(
    429,
    "rate-limited",
    TooManyRequests.title,
    "För många förfrågningar just nu. Försök igen om en stund.",
    THROTTLED_RETRY_AFTER_S,
)
_FORBIDDEN = GatewayProblem(403, "forbidden", Forbidden.title, "Du har inte behörighet till det här.")
# Every gateway response type API Gateway has. DEFAULT_4XX/5XX fix their status (the body names it) and
# only catch types added to API Gateway later. No method uses IAM auth, API keys, authorizers or request
# validators, so the SigV4 answers (missing token, bad or expired signature) only ever mean "no such
# route or method": 404, as the app answers for an unknown id.
GATEWAY_RESPONSES: dict[str, GatewayProblem] = {
    "DEFAULT_4XX": _BAD_REQUEST,
    "DEFAULT_5XX": _INTERNAL,
    "ACCESS_DENIED": _FORBIDDEN,
    "API_CONFIGURATION_ERROR": _INTERNAL,
    "AUTHORIZER_CONFIGURATION_ERROR": _INTERNAL,
    "AUTHORIZER_FAILURE": _INTERNAL,
    "BAD_REQUEST_PARAMETERS": _BAD_REQUEST,
    "BAD_REQUEST_BODY": _BAD_REQUEST,
    "EXPIRED_TOKEN": _NOT_FOUND,
    "INVALID_SIGNATURE": _NOT_FOUND,
    "MISSING_AUTHENTICATION_TOKEN": _NOT_FOUND,
    "RESOURCE_NOT_FOUND": _NOT_FOUND,
    "INTEGRATION_FAILURE": _UNAVAILABLE,
    "INTEGRATION_TIMEOUT": _UNAVAILABLE,
    "INVALID_API_KEY": _FORBIDDEN,
    "QUOTA_EXCEEDED": _THROTTLED,
    "THROTTLED": _THROTTLED,
    # API Gateway's own limit is 10 MB; the app answers the same problem above 256 KB.
    "REQUEST_TOO_LARGE": GatewayProblem(413, "body-too-large", BadRequest.title, "Begäran är för stor."),
    "UNAUTHORIZED": GatewayProblem(
        401, "unauthenticated", Unauthenticated.title, "Ange en giltig inloggning (Authorization: Bearer)."
    ),
    "UNSUPPORTED_MEDIA_TYPE": GatewayProblem(
        415, "unsupported-media-type", BadRequest.title, "Innehållstypen stöds inte."
    ),
    # Managed rule blocks (the rate-based rules answer with their own 429 body, which takes precedence).
    "WAF_FILTERED": GatewayProblem(403, "request-blocked", Forbidden.title, "Begäran stoppades av säkerhetsskäl."),
}
# The WAF rate-based rules' block answer (WAF custom response bodies allow only application/json).
WAF_RATE_LIMITED = GatewayProblem(
    429,
    "rate-limited",
    TooManyRequests.title,
    "För många inloggningsförsök från din adress. Försök igen om en stund.",
    WAF_RETRY_AFTER_S,
)

# Metrics the notification sweeper publishes (issue 7, defect 8) -> alarm description.
SWEEPER_ALARMS: dict[str, str] = {
    "ArrivalsReconciled": "The sweeper completed inbox arrivals that had no notifications: inbox_events lost "
    "work (crash, DLQ, stream mapping). Check its errors and the stream failure queue.",
    "NotificationsRequeued": "The sweeper re-queued notifications stuck before sending: send_notifications or "
    "the queue lost messages. Check its errors, throttling and the notifications DLQ.",
}

# API stage access log: one JSON line per request. Route template (never the raw path), status, timings,
# errors and the WAF verdict; no source IP, user agent, query string, headers or body, and no error
# message (API Gateway's answer to a malformed Authorization header quotes a hash of it).
ACCESS_LOG_FIELDS: dict[str, str] = {
    "requestId": "$context.requestId",
    "extendedRequestId": "$context.extendedRequestId",
    "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationLatency": "$context.integrationLatency",
    "integrationStatus": "$context.integration.status",
    "integrationError": "$context.integration.error",
    "errorResponseType": "$context.error.responseType",
    "wafResponseCode": "$context.wafResponseCode",
    "wafStatus": "$context.waf.status",
    "xrayTraceId": "$context.xrayTraceId",
}

# Env var names of the two secrets; FunctionSpec.secrets refers to secrets by these names.
HMAC_ARN_VAR = "PNR_HMAC_SECRET_ARN"
BANKID_CERT_ARN_VAR = "BANKID_CERT_SECRET_ARN"

# --- DynamoDB action sets. There is no Scan anywhere, on purpose (DESIGN.md: reads are by key). ---
# IAM has no TransactWriteItems/TransactGetItems actions: a transaction is authorised per item with
# PutItem/UpdateItem/DeleteItem/ConditionCheckItem (and GetItem for TransactGetItems).
ITEM_READ = ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query")
ITEM_WRITE = (
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:BatchWriteItem",
)
ADMIN_MAIN_ACCESS = (
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:ConditionCheckItem",
)
# What a Powertools idempotency consumer needs on the IdempotencyTable (the booking consumer, issue 9);
# no function uses the table today.
IDEMPOTENCY_ACCESS = (
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
)


@dataclass(frozen=True)
class ObjectGrant:
    """S3 object actions on the keys under `prefix` ("" = every key) of one bucket."""

    bucket: str  # Bucket.logical_id
    actions: tuple[str, ...]
    prefix: str = ""


@dataclass(frozen=True)
class FunctionSpec:
    """Everything one Chalice function may do; anything not listed is denied."""

    tables: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # Table.logical_id -> actions
    # Table.logical_id -> the only indexes its Query may read (a table not named here: every index).
    query_indexes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()  # env var names of the secrets it may read
    send_to: tuple[str, ...] = ()  # Queue.logical_ids it may send messages to
    objects: tuple[ObjectGrant, ...] = ()  # S3 object actions, per bucket and key prefix
    # Bucket.logical_ids it may list. Also what makes S3 answer 404 rather than 403 for a missing key.
    list_buckets: tuple[str, ...] = ()
    memory_mb: int = 512
    timeout_s: int = 30
    stream_from: str | None = None  # Table.logical_id whose stream invokes it
    queue_from: str | None = None  # Queue.logical_id whose messages invoke it
    sends_sms: bool = False  # sns:Publish to phone numbers (never to topics)
    sends_email: bool = False  # ses:SendEmail from the notification identity, with the configuration set
    delivery_feedback: bool = False  # fed by SES events (SNS topic) and SMS delivery status logs


_ADMIN = FunctionSpec(
    tables={MAIN_TABLE.logical_id: ADMIN_MAIN_ACCESS, AUDIT_TABLE.logical_id: ("dynamodb:PutItem",)},
    secrets=(HMAC_ARN_VAR,),
)

# Chalice function name -> its permissions. Event functions are one entry each, e.g.
#   "inbox_events": FunctionSpec(tables={...}, stream_from=MAIN_TABLE.logical_id),
#   "send_notifications": FunctionSpec(tables={...}, queue_from="NotificationsQueue"),
# and `send_to=("NotificationsQueue",)` / `objects=(ObjectGrant("AttachmentsBucket", ("s3:GetObject",)),)`
# for the producers. S3-triggered functions are wired from definitions.OBJECT_CREATED_CONSUMERS.
# The env vars naming every table/queue/bucket reach all functions.
FUNCTIONS: dict[str, FunctionSpec] = {
    "api_handler": FunctionSpec(
        tables={
            MAIN_TABLE.logical_id: ITEM_READ + ITEM_WRITE,
            # Idempotency-Key guards live in the main table (core/idempotency), not Powertools' table.
            AUDIT_TABLE.logical_id: ("dynamodb:PutItem", "dynamodb:Query"),
        },
        secrets=(HMAC_ARN_VAR, BANKID_CERT_ARN_VAR),
        objects=(
            # Presigned POST uploads (signed with this role) land under pending/ only; presigned
            # GETs reach checked files only.
            ObjectGrant(ATTACHMENTS_BUCKET.logical_id, ("s3:PutObject",), prefix="pending/"),
            ObjectGrant(ATTACHMENTS_BUCKET.logical_id, ("s3:GetObject",), prefix="files/"),
        ),
        # .chalice/config.json says the same; the DynamoDB client's worst case (core/dynamo.py) fits inside.
        timeout_s=15,
    ),
    # S3 ObjectCreated under pending/: judges the upload, moves it to files/ (copy: read the
    # source, write the target) or deletes it, and records the verdict on the attachment.
    "attachment_uploaded": FunctionSpec(
        tables={MAIN_TABLE.logical_id: ("dynamodb:GetItem", "dynamodb:UpdateItem")},
        objects=(
            ObjectGrant(ATTACHMENTS_BUCKET.logical_id, ("s3:GetObject", "s3:DeleteObject"), prefix="pending/"),
            ObjectGrant(ATTACHMENTS_BUCKET.logical_id, ("s3:PutObject", "s3:DeleteObject"), prefix="files/"),
        ),
        list_buckets=(ATTACHMENTS_BUCKET.logical_id,),
    ),
    # when TTL deletes a case, its messages, history, inbox item and files go too.
    "case_retention": FunctionSpec(
        tables={
            MAIN_TABLE.logical_id: (
                "dynamodb:GetItem",
                "dynamodb:BatchGetItem",
                "dynamodb:Query",
                "dynamodb:DeleteItem",
                "dynamodb:BatchWriteItem",
            )
        },
        objects=(
            ObjectGrant(ATTACHMENTS_BUCKET.logical_id, ("s3:DeleteObject",), prefix="files/"),
            ObjectGrant(ATTACHMENTS_BUCKET.logical_id, ("s3:DeleteObject",), prefix="pending/"),
        ),
        stream_from=MAIN_TABLE.logical_id,
    ),
    # counts overdue cases per clinic (reads the index of clinics and the due index only).
    "count_overdue": FunctionSpec(
        tables={MAIN_TABLE.logical_id: ("dynamodb:Query",)},
        query_indexes={MAIN_TABLE.logical_id: ("gsi2", "gsi3")},  # clinics, due index
    ),
    # a new inbox arrival → its ids on the queue. No table access: the stream record says it all.
    "inbox_events": FunctionSpec(
        send_to=(NOTIFICATIONS_QUEUE.logical_id,),
        stream_from=MAIN_TABLE.logical_id,
    ),
    # sends each arrival's notifications once (SNS SMS / SES e-mail). BatchGetItem: accounts,
    # settings, inbox items, notifications; PutItem/UpdateItem: the claim transaction (notifications,
    # the inbox item's due marker), taking a notification up again, the settings;
    # BatchWriteItem: the notifications' outcomes; GetItem: the settings when recording a failure.
    "send_notifications": FunctionSpec(
        tables={
            MAIN_TABLE.logical_id: (
                "dynamodb:GetItem",
                "dynamodb:BatchGetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:BatchWriteItem",
            ),
        },
        queue_from=NOTIFICATIONS_QUEUE.logical_id,
        sends_sms=True,
        sends_email=True,
    ),
    # the outbox's reconciler, every 5 minutes. Query: the due index (gsi4); UpdateItem: moving a
    # marker on, giving up; GetItem/PutItem: the settings when recording a notification given up.
    "sweep_notifications": FunctionSpec(
        tables={
            MAIN_TABLE.logical_id: ("dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:GetItem", "dynamodb:PutItem")
        },
        query_indexes={MAIN_TABLE.logical_id: ("gsi4",)},  # the sweep-due index only
        send_to=(NOTIFICATIONS_QUEUE.logical_id,),
        timeout_s=60,
    ),
    # delivery reports → the notification (found through gsi1 by provider message id) and the
    # citizen's settings.
    "delivery_feedback": FunctionSpec(
        tables={
            MAIN_TABLE.logical_id: ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:PutItem")
        },
        query_indexes={MAIN_TABLE.logical_id: ("gsi1",)},  # by provider message id
        delivery_feedback=True,
    ),
    "admin_lock_account": _ADMIN,
    "admin_unlock_account": _ADMIN,
    "admin_record_unlock_decision": _ADMIN,
    "admin_seal_record": _ADMIN,
    "admin_change_settings": _ADMIN,  # R-15 (settings); listed here so synth matches app.py
}


def _gateway_response(problem: GatewayProblem) -> dict[str, Any]:
    """A SAM `GatewayResponses` entry: the problem as the body, problem+json as its content type."""
    headers = {"Content-Type": f"'{PROBLEM_JSON}'", "Cache-Control": "'no-store'"}
    if problem.retry_after_s is not None:
        headers["Retry-After"] = f"'{problem.retry_after_s}'"
    return {
        "StatusCode": problem.status,
        "ResponseParameters": {"Headers": headers},
        # Keyed on application/json: API Gateway's default template key; the header above sets the type.
        "ResponseTemplates": {"application/json": problem.json()},
    }


def api_access_log_group_name(stage: str) -> str:
    return f"/aws/apigateway/{APP_NAME}-{stage}/access"


def chalice_logical_id(function_name: str) -> str:
    """The CloudFormation logical id `chalice package` gives a function."""
    # The REST API handler is special-cased by Chalice (it is not "ApiHandler").
    return "APIHandler" if function_name == "api_handler" else to_cfn_resource_name(function_name)


class DataResources(Construct):
    """Keys, tables, queues, buckets, secrets and the alarm topic, built from definitions.py."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        tables: Sequence[Table] = TABLES,
        queues: Sequence[Queue] = QUEUES,
        buckets: Sequence[Bucket] = BUCKETS,
        alarm_email: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.stage = stage
        stack = cdk.Stack.of(self)

        # One customer-managed key for all health data (tables, streams, secrets, queues, buckets):
        # rotation on, and never deleted with the stack, since losing it loses the data.
        self.data_key = kms.Key(
            self,
            "DataKey",
            alias=f"alias/{APP_NAME}-{stage}-data",
            description=f"{APP_NAME} {stage}: encrypts patient data at rest",
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        # A separate key for operational data (logs, alarm topic), so the services that need it
        # (CloudWatch Logs, CloudWatch alarms) get no grant on the data key.
        self.ops_key = kms.Key(
            self,
            "OpsKey",
            alias=f"alias/{APP_NAME}-{stage}-ops",
            description=f"{APP_NAME} {stage}: encrypts logs and alarm notifications",
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self.ops_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchLogsForThisAppsLogGroups",
                principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                actions=[
                    "kms:Encrypt*",
                    "kms:Decrypt*",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:Describe*",
                ],
                resources=["*"],  # in a key policy "*" means this key
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": [
                            stack.format_arn(
                                service="logs",
                                resource="log-group",
                                resource_name=group,
                                arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                            )
                            for group in (f"/aws/lambda/{APP_NAME}-{stage}-*", api_access_log_group_name(stage))
                        ]
                    }
                },
            )
        )
        # CloudWatch alarms publish to the encrypted topic as the cloudwatch service principal.
        self.ops_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsToEncryptedTopic",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
            )
        )
        self.alarm_topic = sns.Topic(
            self,
            "AlarmTopic",
            topic_name=f"{APP_NAME}-{stage}-alarms",
            master_key=self.ops_key,
            enforce_ssl=True,
        )
        if alarm_email:
            self.alarm_topic.add_subscription(sns_subscriptions.EmailSubscription(alarm_email))

        self.tables: dict[str, dynamodb.Table] = {t.logical_id: self._table(t) for t in tables}
        self.queue_definitions: dict[str, Queue] = {q.logical_id: q for q in queues}
        self.queues: dict[str, sqs.Queue] = {}
        self.dead_letter_queues: dict[str, sqs.Queue] = {}
        for q in queues:
            self._queue(q)
        # Bucket names are fixed (not derived by CloudFormation) so that functions, policies and S3
        # notifications can name a bucket without referencing it: a bucket that notifies a function
        # whose environment referenced the bucket would be a dependency cycle.
        self.bucket_names: dict[str, str] = {b.logical_id: self._bucket_name(b) for b in buckets}
        self.buckets: dict[str, s3.Bucket] = {b.logical_id: self._bucket(b) for b in buckets}
        self._bucket_notifications: dict[str, list[s3.CfnBucket.LambdaConfigurationProperty]] = {}

        # The HMAC key that turns a personnummer into a lookup key. Generated here and never
        # rotated automatically: a new key would orphan every stored lookup key.
        self.pnr_hmac_secret = secretsmanager.Secret(
            self,
            "PnrHmacSecret",
            secret_name=f"{APP_NAME}/{stage}/pnr-hmac-key",
            description="HMAC key (plain string) for personnummer lookup keys; never rotate casually",
            encryption_key=self.data_key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True, include_space=False
            ),
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        # BankID RP client certificate: created as a placeholder, filled by operators (README).
        # CloudFormation only rewrites SecretString when this template value changes, so later
        # deploys leave the operators' value alone.
        self.bankid_cert_secret = secretsmanager.Secret(
            self,
            "BankidCertSecret",
            secret_name=f"{APP_NAME}/{stage}/bankid-rp-certificate",
            description='BankID RP client certificate: {"certificate": PEM, "privateKey": PEM}',
            encryption_key=self.data_key,
            secret_object_value={
                # Empty placeholders, not secrets.
                "certificate": cdk.SecretValue.unsafe_plain_text(""),
                "privateKey": cdk.SecretValue.unsafe_plain_text(""),
            },
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self.secrets: dict[str, secretsmanager.Secret] = {
            HMAC_ARN_VAR: self.pnr_hmac_secret,
            BANKID_CERT_ARN_VAR: self.bankid_cert_secret,
        }

    # -- builders -------------------------------------------------------------------------------

    def _table(self, t: Table) -> dynamodb.Table:
        # Every table gets the same protection (PITR, CMK, deletion protection, RETAIN): the
        # idempotency table does not need it, but a future table holding patient data will.
        table = dynamodb.Table(
            self,
            t.logical_id,
            table_name=resource_name(self.stage, t.logical_id),
            partition_key=dynamodb.Attribute(name=t.partition_key, type=dynamodb.AttributeType.STRING),
            sort_key=(dynamodb.Attribute(name=t.sort_key, type=dynamodb.AttributeType.STRING) if t.sort_key else None),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=self.data_key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=True,
            time_to_live_attribute=t.ttl_attribute,
            stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES if t.stream else None,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        for index in t.indexes:
            table.add_global_secondary_index(
                index_name=index.name,
                partition_key=dynamodb.Attribute(name=index.partition_key, type=dynamodb.AttributeType.STRING),
                sort_key=(
                    dynamodb.Attribute(name=index.sort_key, type=dynamodb.AttributeType.STRING)
                    if index.sort_key
                    else None
                ),
                projection_type=dynamodb.ProjectionType.ALL,
            )
        return table

    def encrypted_queue(self, construct_id: str, queue_name: str, **kwargs: Any) -> sqs.Queue:
        return sqs.Queue(
            self,
            construct_id,
            queue_name=queue_name,
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.data_key,
            enforce_ssl=True,
            **kwargs,
        )

    def _queue(self, q: Queue) -> None:
        name = resource_name(self.stage, q.logical_id)
        dlq = self.encrypted_queue(f"{q.logical_id}Dlq", f"{name}-dlq", retention_period=cdk.Duration.days(14))
        self.dlq_depth_alarm(dlq, f"{q.logical_id}DlqDepth")
        self.dead_letter_queues[q.logical_id] = dlq
        self.queues[q.logical_id] = self.encrypted_queue(
            q.logical_id,
            name,
            visibility_timeout=cdk.Duration.seconds(q.visibility_timeout_s),
            dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=q.max_receive_count),
        )

    def _bucket(self, b: Bucket) -> s3.Bucket:
        # Bucket names are global: the account and region in the name keep it unique.
        rules = [
            s3.LifecycleRule(id="AbortIncompleteUploads", abort_incomplete_multipart_upload_after=cdk.Duration.days(1))
        ]
        rules += [
            s3.LifecycleRule(id=f"Expire-{prefix}", prefix=prefix, expiration=cdk.Duration.days(days))
            for prefix, days in b.expire_prefixes
        ]
        return s3.Bucket(
            self,
            b.logical_id,
            bucket_name=self.bucket_names[b.logical_id],
            lifecycle_rules=rules,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.data_key,
            bucket_key_enabled=True,  # fewer KMS calls per object
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=False,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )

    def _bucket_name(self, b: Bucket) -> str:
        """<app>-<stage>-<bucket>-<account>-<region>: S3 names are global, lowercase, at most 63 chars."""
        stack = cdk.Stack.of(self)
        prefix = resource_name(self.stage, b.logical_id).lower()
        region_length = 14 if cdk.Token.is_unresolved(stack.region) else len(stack.region)  # ap-southeast-2
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", prefix) or len(prefix) + 1 + 12 + 1 + region_length > 63:
            raise ValueError(f"{b.logical_id}: stage {self.stage!r} makes an invalid or too long S3 bucket name")
        return f"{prefix}-{stack.account}-{stack.region}"

    def bucket_arn(self, bucket_id: str) -> str:
        """The bucket's ARN from its fixed name (no reference to the bucket resource)."""
        return f"arn:{cdk.Aws.PARTITION}:s3:::{self.bucket_names[bucket_id]}"

    def objects_arn(self, bucket_id: str, prefix: str = "") -> str:
        return f"{self.bucket_arn(bucket_id)}/{prefix}*"

    def notify_function(self, bucket_id: str, function_arn: str, prefix: str) -> None:
        """Add an ObjectCreated notification to `function_arn` for keys under `prefix`."""
        prefix_rule = s3.CfnBucket.FilterRuleProperty(name="prefix", value=prefix)
        key_filter = s3.CfnBucket.S3KeyFilterProperty(rules=[prefix_rule])
        rule = s3.CfnBucket.LambdaConfigurationProperty(
            event="s3:ObjectCreated:*",
            function=function_arn,
            filter=s3.CfnBucket.NotificationFilterProperty(s3_key=key_filter) if prefix else None,
        )
        configurations = self._bucket_notifications.setdefault(bucket_id, [])
        configurations.append(rule)
        self.cfn_bucket(bucket_id).notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
            lambda_configurations=configurations
        )

    def cfn_bucket(self, bucket_id: str) -> s3.CfnBucket:
        resource = self.buckets[bucket_id].node.default_child
        if not isinstance(resource, s3.CfnBucket):
            raise TypeError(f"{bucket_id}: no CfnBucket")
        return resource

    # -- alarms ---------------------------------------------------------------------------------

    def alarm(self, construct_id: str, metric: cloudwatch.IMetric, description: str) -> cloudwatch.Alarm:
        """An alarm that fires on any occurrence (>= 1 in 5 minutes) and notifies the alarm topic."""
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            alarm_name=f"{APP_NAME}-{self.stage}-{construct_id}",
            alarm_description=description,
            metric=metric,
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(cw_actions.SnsAction(self.alarm_topic))
        return alarm

    def dlq_depth_alarm(self, dlq: sqs.Queue, construct_id: str) -> cloudwatch.Alarm:
        return self.alarm(
            construct_id,
            dlq.metric_approximate_number_of_messages_visible(period=cdk.Duration.minutes(5), statistic="Maximum"),
            "Messages reached a dead-letter queue: see docs/runbooks/ before redriving.",
        )

    def failure_queue(self, construct_id: str) -> sqs.Queue:
        """A queue that keeps what failed for an operator (encrypted, 14 days), alarmed on its depth."""
        queue = self.encrypted_queue(
            construct_id, resource_name(self.stage, construct_id), retention_period=FAILURE_QUEUE_RETENTION
        )
        self.dlq_depth_alarm(queue, f"{construct_id}Depth")
        return queue

    # -- grants ---------------------------------------------------------------------------------

    def queue_producer_statements(self, queue: sqs.IQueue) -> list[iam.PolicyStatement]:
        """Sending to one encrypted queue, for a role that needs nothing else of the data key."""
        return [
            iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[queue.queue_arn]),
            iam.PolicyStatement(
                actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                resources=[self.data_key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"sqs.{cdk.Stack.of(self).region}.amazonaws.com"}},
            ),
        ]

    def data_key_statement(self) -> iam.PolicyStatement:
        """Use of the data key, only through the services that store data with it."""
        region = cdk.Stack.of(self).region
        return iam.PolicyStatement(
            actions=[
                "kms:Decrypt",
                "kms:Encrypt",
                "kms:GenerateDataKey*",
                "kms:ReEncrypt*",
                "kms:DescribeKey",
            ],
            resources=[self.data_key.key_arn],
            conditions={
                "StringEquals": {
                    "kms:ViaService": [
                        f"{service}.{region}.amazonaws.com" for service in ("dynamodb", "secretsmanager", "sqs", "s3")
                    ]
                }
            },
        )

    def table_statement(
        self, table_id: str, actions: Sequence[str], indexes: Sequence[str] | None = None
    ) -> iam.PolicyStatement:
        """`actions` on the table; Query also on its indexes: the named ones, or all when None."""
        table = self.tables[table_id]
        resources = [table.table_arn]
        if "dynamodb:Query" in actions:  # only Query reads an index
            names = ["*"] if indexes is None else list(indexes)
            resources += [f"{table.table_arn}/index/{name}" for name in names]
        return iam.PolicyStatement(actions=list(actions), resources=resources)


def wire_stream_consumer(
    data: DataResources,
    *,
    name: str,
    role: iam.IRole,
    table_id: str,
    batch_size: int = 100,
    max_retries: int = 5,
    filters: Sequence[Mapping[str, Any]] = (),
) -> lambda_.CfnEventSourceMapping:
    """Feed a table's stream to function `name` (Chalice cannot map a CDK-created stream itself).

    Partial batch failures, bisect on error and bounded retries; what still fails is recorded on an
    on-failure queue (stream metadata, not item data) whose depth raises an alarm.
    """
    table = data.tables[table_id]
    if table.table_stream_arn is None:
        raise ValueError(f"{table_id} has no stream: set stream=True in definitions.py")
    cfn_name = to_cfn_resource_name(name)
    failures = data.failure_queue(f"{cfn_name}StreamFailures")
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"],
            resources=[table.table_stream_arn],
        )
    )
    role.add_to_principal_policy(  # ListStreams has no resource-level scope
        iam.PolicyStatement(actions=["dynamodb:ListStreams"], resources=["*"])
    )
    role.add_to_principal_policy(iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[failures.queue_arn]))
    mapping = lambda_.CfnEventSourceMapping(
        data,
        f"{cfn_name}StreamMapping",
        function_name=resource_name(data.stage, name),
        event_source_arn=table.table_stream_arn,
        # From the oldest record: a re-created mapping misses nothing; consumers are idempotent.
        starting_position="TRIM_HORIZON",
        batch_size=batch_size,
        bisect_batch_on_function_error=True,
        maximum_retry_attempts=max_retries,
        maximum_record_age_in_seconds=24 * 3600,
        function_response_types=["ReportBatchItemFailures"],
        destination_config=lambda_.CfnEventSourceMapping.DestinationConfigProperty(
            on_failure=lambda_.CfnEventSourceMapping.OnFailureProperty(destination=failures.queue_arn)
        ),
        # Records that match no pattern never invoke the function (and cost nothing).
        filter_criteria=lambda_.CfnEventSourceMapping.FilterCriteriaProperty(
            filters=[lambda_.CfnEventSourceMapping.FilterProperty(pattern=json.dumps(p)) for p in filters]
        )
        if filters
        else None,
    )
    # Lambda checks the role's permissions when it creates the mapping.
    mapping.node.add_dependency(role)
    return mapping


def wire_schedule(
    data: DataResources, *, name: str, every_minutes: int | None, hour: int, minute: int
) -> scheduler.CfnSchedule:
    """EventBridge Scheduler invokes `name` at a Stockholm wall-clock time each day (daylight saving
    handled by the scheduler's time zone), or at a fixed rate. The event carries the planned `time`.

    The scheduler retries an invocation it cannot deliver (throttling, a missing function) for at most
    one period (the next run supersedes it), then puts the event on a dead-letter queue whose depth
    raises an alarm. Failures inside the function are the function's on-failure queue's (Scheduler
    invokes asynchronously; see wire_async_failure_destination)."""
    stack = cdk.Stack.of(data)
    cfn_name = to_cfn_resource_name(name)
    function_arn = stack.format_arn(
        service="lambda",
        resource="function",
        resource_name=resource_name(data.stage, name),
        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
    )
    dead_letters = data.failure_queue(f"{cfn_name}ScheduleDlq")
    # Inline: the schedule references the role, so its permissions exist before the schedule does.
    invoker = iam.Role(
        data,
        f"{cfn_name}SchedulerRole",
        assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com"),
        description=f"EventBridge Scheduler: may invoke {name} and dead-letter to its queue, nothing else",
        inline_policies={
            "InvokeAndDeadLetter": iam.PolicyDocument(
                statements=[
                    iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[function_arn]),
                    *data.queue_producer_statements(dead_letters),
                ]
            )
        },
    )
    expression = f"rate({every_minutes} minutes)" if every_minutes else f"cron({minute} {hour} * * ? *)"
    period_s = every_minutes * 60 if every_minutes else 24 * 3600
    return scheduler.CfnSchedule(
        data,
        f"{cfn_name}Schedule",
        name=resource_name(data.stage, name),
        schedule_expression=expression,
        schedule_expression_timezone="Europe/Stockholm",
        flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
        target=scheduler.CfnSchedule.TargetProperty(
            arn=function_arn,
            role_arn=invoker.role_arn,
            retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                maximum_retry_attempts=2, maximum_event_age_in_seconds=max(60, period_s)
            ),
            dead_letter_config=scheduler.CfnSchedule.DeadLetterConfigProperty(arn=dead_letters.queue_arn),
        ),
    )


def wire_async_failure_destination(
    data: DataResources,
    *,
    name: str,
    role: iam.IRole,
    max_retries: int = ASYNC_MAX_RETRIES,
    max_event_age_s: int = ASYNC_MAX_EVENT_AGE_S,
) -> lambda_.CfnEventInvokeConfig:
    """For a function invoked asynchronously (S3, SNS, CloudWatch Logs, EventBridge Scheduler): Lambda
    retries a failed invocation `max_retries` times within `max_event_age_s`, then sends the event to an
    on-failure queue (encrypted with the data key: it is the event as sent, e.g. a delivery report naming
    an address) whose depth raises an alarm. The caller makes the config depend on the function."""
    cfn_name = to_cfn_resource_name(name)
    failures = data.failure_queue(f"{cfn_name}InvokeFailures")
    role.add_to_principal_policy(iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[failures.queue_arn]))
    invoke_config = lambda_.CfnEventInvokeConfig(
        data,
        f"{cfn_name}InvokeConfig",
        function_name=resource_name(data.stage, name),
        qualifier="$LATEST",
        maximum_retry_attempts=max_retries,
        maximum_event_age_in_seconds=max_event_age_s,
        destination_config=lambda_.CfnEventInvokeConfig.DestinationConfigProperty(
            on_failure=lambda_.CfnEventInvokeConfig.OnFailureProperty(destination=failures.queue_arn)
        ),
    )
    # Lambda checks the role's permission to send to the destination when the config is created.
    invoke_config.node.add_dependency(role)
    return invoke_config


def wire_object_created_consumer(
    data: DataResources,
    *,
    consumer: ObjectCreatedConsumer,
) -> lambda_.CfnPermission:
    """S3 invokes function `consumer.function` (asynchronously) for every object created under
    `consumer.prefix`; its failures go to its on-failure queue (wire_async_failure_destination: the
    event holds bucket and key, no content).

    Returns the invoke permission: the caller makes it depend on the function. The bucket depends on
    the permission, since S3 checks that it may invoke the function when the notification is set."""
    stack = cdk.Stack.of(data)
    name = consumer.function
    cfn_name = to_cfn_resource_name(name)
    bucket_id = consumer.bucket.logical_id
    function_name = resource_name(data.stage, name)
    function_arn = stack.format_arn(
        service="lambda",
        resource="function",
        resource_name=function_name,
        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
    )
    permission = lambda_.CfnPermission(
        data,
        f"{cfn_name}S3Invoke",
        action="lambda:InvokeFunction",
        function_name=function_name,
        principal="s3.amazonaws.com",
        source_arn=data.bucket_arn(bucket_id),
        source_account=stack.account,
    )
    data.notify_function(bucket_id, function_arn, consumer.prefix)
    data.cfn_bucket(bucket_id).node.add_dependency(permission)
    return permission


def wire_queue_consumer(
    data: DataResources,
    *,
    name: str,
    role: iam.IRole,
    queue_id: str,
    function_timeout_s: int,
    batch_size: int = 10,
    max_concurrency: int | None = None,
) -> lambda_.CfnEventSourceMapping:
    """Feed an SQS queue to function `name` with partial batch failures (the queue's own DLQ and
    its alarm catch what keeps failing). `max_concurrency` caps the function instances the mapping
    runs at once, so a backlog drains at a bounded rate (provider quotas) instead of all at once."""
    queue = data.queues[queue_id]
    if data.queue_definitions[queue_id].visibility_timeout_s < function_timeout_s:
        # Lambda refuses such a mapping at deploy time; fail at synth instead.
        raise ValueError(f"{queue_id}: visibility timeout must be >= the function timeout")
    if max_concurrency is not None and not 2 <= max_concurrency <= 1000:
        raise ValueError(f"{name}: max_concurrency must be 2-1000 (Lambda's ScalingConfig range)")
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=[
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:ChangeMessageVisibility",
                "sqs:GetQueueAttributes",
            ],
            resources=[queue.queue_arn],
        )
    )
    mapping = lambda_.CfnEventSourceMapping(
        data,
        f"{to_cfn_resource_name(name)}QueueMapping",
        function_name=resource_name(data.stage, name),
        event_source_arn=queue.queue_arn,
        batch_size=batch_size,
        function_response_types=["ReportBatchItemFailures"],
        scaling_config=(
            lambda_.CfnEventSourceMapping.ScalingConfigProperty(maximum_concurrency=max_concurrency)
            if max_concurrency is not None
            else None
        ),
    )
    mapping.node.add_dependency(role)
    return mapping


class _ChaliceStageScope(Construct):
    """A scope whose `to_string()` is the stage name.

    `chalice.cdk.Chalice` takes its Chalice stage from `scope.to_string()` (normally the construct
    path, e.g. "e-services-dev"). Wrapping it makes the Chalice stage the plain stage ("dev"), so
    `.chalice/config.json` stage sections, the layer name and the chalice tags line up with it.
    """

    def __init__(self, scope: Construct, construct_id: str, *, stage: str) -> None:
        super().__init__(scope, construct_id)
        self._stage = stage

    def to_string(self) -> str:
        return self._stage


@contextlib.contextmanager
def _chalice_packaging_sandbox(region: str) -> Iterator[None]:
    """Contain the side effects of `chalice package`, which `Chalice(...)` runs in-process.

    - It writes `chalice.out/` into the current directory: use a temporary one. The construct's
      CfnInclude and assets copy what they need into cdk.out before the constructor returns.
    - It copies the stage's environment variables into `os.environ` (they are CDK tokens here):
      restore the environment afterwards.
    - It builds a botocore client to learn the region's service principals: it needs a region.
    """
    saved = dict(os.environ)
    os.environ["AWS_DEFAULT_REGION"] = region
    try:
        with tempfile.TemporaryDirectory(prefix="chalice-out-") as tmp, contextlib.chdir(tmp):
            yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


class EServicesStack(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        bankid_api_url: str = DEFAULT_BANKID_API_URL,
        population_register_url: str = "",
        alarm_email: str | None = None,
        source_dir: Path = REPO_ROOT,
        functions: Mapping[str, FunctionSpec] = FUNCTIONS,
        notification_from_email: str = DEFAULT_NOTIFICATION_FROM_EMAIL,
        sms_spend_alarm_usd: float = SMS_MONTHLY_SPEND_ALARM_USD,
        waf_auth_rate_limit: int = WAF_AUTH_RATE_LIMIT,
        waf_auth_start_rate_limit: int = WAF_AUTH_START_RATE_LIMIT,
        api_throttle: Throttle = API_THROTTLE,
        auth_start_throttle: Throttle = AUTH_START_THROTTLE,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.stage = stage
        self.notification_from_email = notification_from_email
        self.ses_configuration_set_name = f"{APP_NAME}-{stage}-notifications"
        if not population_register_url:
            cdk.Annotations.of(self).add_warning_v2(
                "e-services:populationRegisterUrl",
                "populationRegisterUrl context is empty: POPULATION_REGISTER_URL will be blank",
            )
        data = DataResources(self, "Data", stage=stage, alarm_email=alarm_email)
        self.data = data

        # Invoked asynchronously (each gets an on-failure queue): by S3, by a schedule, or by SNS and
        # CloudWatch Logs (delivery reports).
        self.async_functions = {c.function for c in OBJECT_CREATED_CONSUMERS} | {s.function for s in SCHEDULES}
        self.async_functions |= {name for name, spec in functions.items() if spec.delivery_feedback}
        # Roles and log groups first: Chalice needs the role ARNs in its stage config.
        self.function_names = {name: resource_name(stage, name) for name in functions}
        self.roles: dict[str, iam.Role] = {}
        log_groups: dict[str, logs.LogGroup] = {}
        policies: dict[str, iam.Policy] = {}
        for name, spec in functions.items():
            log_groups[name] = logs.LogGroup(
                self,
                f"{chalice_logical_id(name)}Logs",
                log_group_name=f"/aws/lambda/{self.function_names[name]}",
                retention=LOG_RETENTION,
                encryption_key=data.ops_key,
                removal_policy=cdk.RemovalPolicy.RETAIN if stage == "prod" else cdk.RemovalPolicy.DESTROY,
            )
            self.roles[name], policies[name] = self._function_role(name, spec, log_groups[name])

        environment = {
            "STAGE": stage,
            **{t.env_var: data.tables[t.logical_id].table_name for t in TABLES},
            **{q.env_var: data.queues[q.logical_id].queue_url for q in QUEUES},
            **{b.env_var: data.bucket_names[b.logical_id] for b in BUCKETS},
            HMAC_ARN_VAR: data.pnr_hmac_secret.secret_arn,
            BANKID_CERT_ARN_VAR: data.bankid_cert_secret.secret_arn,
            "BANKID_API_URL": bankid_api_url,
            "POPULATION_REGISTER_URL": population_register_url,
            "SESSION_TTL_SECONDS": "3600",
            "POWERTOOLS_SERVICE_NAME": APP_NAME,
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            "POWERTOOLS_LOG_LEVEL": "INFO",
            "NOTIFICATION_FROM_EMAIL": notification_from_email,
            "SES_CONFIGURATION_SET": self.ses_configuration_set_name,
        }
        stage_config: dict[str, Any] = {
            # No Chalice-managed role or autogenerated policy (it would grant whatever boto3
            # calls it finds, Scan included). The top-level role is the API handler's; each
            # other function's Role is overridden below.
            "manage_iam_role": False,
            "autogen_policy": False,
            "iam_role_arn": self.roles["api_handler"].role_arn,
            # Dependencies in a layer: `chalice package` caches it in .chalice/deployments keyed by
            # requirements.txt alone, so only a requirements change downloads wheels again.
            "automatic_layer": True,
            "lambda_architecture": "arm64",
            "lambda_memory_size": functions["api_handler"].memory_mb,
            "lambda_timeout": functions["api_handler"].timeout_s,
            "xray": True,  # Lambda active tracing (no X-Ray SDK in the code; DESIGN.md)
            "api_gateway_endpoint_type": "REGIONAL",  # clients are in Sweden; no edge hop
            "api_gateway_stage": API_GATEWAY_STAGE,
            "environment_variables": environment,
        }
        with _chalice_packaging_sandbox(self.region):
            self.chalice = Chalice(
                _ChaliceStageScope(self, "App", stage=stage),
                "Chalice",
                source_dir=str(source_dir),
                stage_config=stage_config,
            )

        self._check_functions_match(functions)
        for name, spec in functions.items():
            fn = self.chalice.get_resource(chalice_logical_id(name))
            # A fixed name gives a known log group (created first, encrypted, with retention)
            # and names the support desk can find in the console.
            fn.add_property_override("FunctionName", self.function_names[name])
            fn.add_property_override("Role", self.roles[name].role_arn)
            fn.add_property_override("MemorySize", spec.memory_mb)
            fn.add_property_override("Timeout", spec.timeout_s)
            fn.node.add_dependency(policies[name])  # permissions in place before the code runs
            fn.node.add_dependency(log_groups[name])
            self._wire_event_source(name, spec, fn)
            data.alarm(
                f"{chalice_logical_id(name)}Errors",
                cloudwatch.Metric(
                    namespace="AWS/Lambda",
                    metric_name="Errors",
                    dimensions_map={"FunctionName": self.function_names[name]},
                    statistic="Sum",
                    period=cdk.Duration.minutes(5),
                ),
                f"{name} raised errors.",
            )

        self._notifications(functions, sms_spend_alarm_usd)

        # Name the REST API per stage so the 5xx alarm's ApiName dimension is unambiguous.
        api_name = f"{APP_NAME}-{stage}"
        rest_api = self.chalice.get_resource("RestAPI")
        rest_api.add_property_override("Name", api_name)
        rest_api.add_property_override("TracingEnabled", True)  # Chalice's `xray` covers Lambda only
        data.alarm(
            "Api5xx",
            cloudwatch.Metric(
                namespace="AWS/ApiGateway",
                metric_name="5XXError",
                dimensions_map={"ApiName": api_name, "Stage": API_GATEWAY_STAGE},
                statistic="Sum",
                period=cdk.Duration.minutes(5),
            ),
            "The API answered 5xx (the contract allows none).",
        )
        # cases past their due time (published by count_overdue every 15 minutes).
        data.alarm(
            "OverdueCases",
            cloudwatch.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name="OverdueCases",
                dimensions_map={"service": APP_NAME},
                statistic="Maximum",
                period=cdk.Duration.minutes(15),
            ),
            "Cases are past their response time (R-20): clinics should answer; see GET "
            "/staff/clinics/{clinicId}/cases?status=overdue.",
        )
        # Issue 7, defect 8: the notification sweeper repairs what the outbox path left undone. Anything
        # it finds means a step failed or a process died mid-way: look before it becomes a pattern.
        for metric_name, description in SWEEPER_ALARMS.items():
            data.alarm(
                metric_name,
                cloudwatch.Metric(
                    namespace=METRICS_NAMESPACE,
                    metric_name=metric_name,
                    dimensions_map={"service": APP_NAME},
                    statistic="Sum",
                    period=cdk.Duration.minutes(15),
                ),
                description,
            )
        self._api_edge(
            api_name,
            rest_api,
            waf_auth_rate_limit=waf_auth_rate_limit,
            waf_auth_start_rate_limit=waf_auth_start_rate_limit,
            api_throttle=api_throttle,
            auth_start_throttle=auth_start_throttle,
        )

        # Chalice already outputs EndpointURL (the API URL); add what operators look up.
        for t in TABLES:
            cdk.CfnOutput(self, f"{t.logical_id}Name", value=data.tables[t.logical_id].table_name)
        cdk.CfnOutput(self, "BankidCertSecretArn", value=data.bankid_cert_secret.secret_arn)
        cdk.CfnOutput(self, "AlarmTopicArn", value=data.alarm_topic.topic_arn)
        for name in functions:
            if name.startswith("admin_"):
                cdk.CfnOutput(self, f"{chalice_logical_id(name)}FunctionName", value=self.function_names[name])

    def _function_role(self, name: str, spec: FunctionSpec, log_group: logs.LogGroup) -> tuple[iam.Role, iam.Policy]:
        """The function's own role and the policy granting exactly what `spec` lists."""
        data = self.data
        cfn_name = chalice_logical_id(name)
        role = iam.Role(
            self,
            f"{cfn_name}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{name} ({self.stage}): only what infra/stack.py FUNCTIONS lists",
        )
        statements = [
            # AWSLambdaBasicExecutionRole, narrowed to the function's own, pre-created log group.
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[log_group.log_group_arn],
            ),
            # Active tracing; these X-Ray actions have no resource-level scope.
            iam.PolicyStatement(actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords"], resources=["*"]),
        ]
        statements += [
            data.table_statement(t, actions, spec.query_indexes.get(t)) for t, actions in spec.tables.items()
        ]
        statements += [
            iam.PolicyStatement(
                actions=["secretsmanager:GetSecretValue"],
                resources=[data.secrets[secret_env].secret_arn],
            )
            for secret_env in spec.secrets
        ]
        statements += [
            iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[data.queues[q].queue_arn]) for q in spec.send_to
        ]
        # Bucket ARNs from the fixed names, not references: see DataResources.bucket_names.
        statements += [
            iam.PolicyStatement(actions=list(grant.actions), resources=[data.objects_arn(grant.bucket, grant.prefix)])
            for grant in spec.objects
        ]
        statements += [
            iam.PolicyStatement(actions=["s3:ListBucket"], resources=[data.bucket_arn(b)]) for b in spec.list_buckets
        ]
        if spec.sends_sms:
            statements += [
                # Publishing an SMS to a phone number has no resource to scope to: IAM evaluates it
                # against "*". The deny below keeps that "*" from reaching any topic.
                iam.PolicyStatement(sid="SmsToPhoneNumbers", actions=["sns:Publish"], resources=["*"]),
                iam.PolicyStatement(
                    sid="NoTopicPublish",
                    effect=iam.Effect.DENY,
                    actions=["sns:Publish"],
                    resources=[f"arn:{cdk.Aws.PARTITION}:sns:*:*:*"],
                ),
            ]
        if spec.sends_email:
            statements.append(self._send_email_statement())
        if any((spec.tables, spec.secrets, spec.send_to, spec.objects, spec.stream_from, spec.queue_from)) or (
            name in self.async_functions  # its on-failure queue is encrypted with the data key
        ):
            statements.append(data.data_key_statement())
        # A separate policy (not inline in the role) so the function can depend on it without
        # a cycle; event-source wiring adds its statements to the role's default policy.
        policy = iam.Policy(self, f"{cfn_name}Policy", roles=[role], statements=statements)
        return role, policy

    def _send_email_statement(self) -> iam.PolicyStatement:
        """SES sending from the notification identity (the address or its domain), with the
        configuration set (SendEmail is authorised against both), and from that address only."""
        stack = cdk.Stack.of(self)
        address = self.notification_from_email
        domain = address.rsplit("@", 1)[-1]

        def ses_arn(resource: str) -> str:
            return stack.format_arn(service="ses", resource=resource, arn_format=cdk.ArnFormat.SLASH_RESOURCE_NAME)

        return iam.PolicyStatement(
            sid="NotificationEmail",
            actions=["ses:SendEmail", "ses:SendRawEmail"],
            resources=[
                ses_arn(f"identity/{address}"),
                ses_arn(f"identity/{domain}"),
                ses_arn(f"configuration-set/{self.ses_configuration_set_name}"),
            ],
            conditions={"StringEquals": {"ses:FromAddress": address}},
        )

    def _invoke_permission(
        self, name: str, construct_id: str, principal: str, source_arn: str
    ) -> lambda_.CfnPermission:
        return lambda_.CfnPermission(
            self,
            construct_id,
            action="lambda:InvokeFunction",
            function_name=self.function_names[name],
            principal=principal,
            source_arn=source_arn,
            source_account=self.account,
        )

    def _notifications(self, functions: Mapping[str, FunctionSpec], sms_spend_alarm_usd: float) -> None:
        """R-11/R-12 around the functions: SES configuration set → encrypted topic → delivery_feedback;
        SMS delivery status logs → delivery_feedback; the SMS spend alarm."""
        data = self.data
        feedback = [name for name, spec in functions.items() if spec.delivery_feedback]
        if not feedback and not any(spec.sends_sms or spec.sends_email for spec in functions.values()):
            return
        # SES events name recipients' addresses: the topic is encrypted with the data key, which
        # SES may use for this account's publishes only.
        data.data_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="SesEventsToEncryptedTopic",
                principals=[iam.ServicePrincipal("ses.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy "*" means this key
                conditions={"StringEquals": {"aws:SourceAccount": self.account}},
            )
        )
        topic = sns.Topic(
            self,
            "SesEventsTopic",
            topic_name=f"{APP_NAME}-{self.stage}-ses-events",
            master_key=data.data_key,
            enforce_ssl=True,
        )
        configuration_set = ses.ConfigurationSet(
            self,
            "NotificationsConfigurationSet",
            configuration_set_name=self.ses_configuration_set_name,
            reputation_metrics=True,
            sending_enabled=True,
        )
        configuration_set.add_event_destination(
            "ToFeedbackTopic",
            destination=ses.EventDestination.sns_topic(topic),
            events=[
                ses.EmailSendingEvent.DELIVERY,
                ses.EmailSendingEvent.BOUNCE,
                ses.EmailSendingEvent.COMPLAINT,
                ses.EmailSendingEvent.REJECT,
                ses.EmailSendingEvent.RENDERING_FAILURE,
            ],
        )
        # SNS writes SMS delivery status to these log groups once the account's SMS preferences name
        # the delivery status role below (docs/architecture.md, Notifications: one CLI call per account).
        status_role = iam.Role(
            self,
            "SmsDeliveryStatusRole",
            assumed_by=iam.ServicePrincipal("sns.amazonaws.com"),
            description="SNS: writes SMS delivery status logs (AWS account SMS preference DeliveryStatusIAMRole)",
        )
        # The logs name the destination number: encrypted with the ops key, like the functions' logs.
        data.ops_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchLogsForSmsDeliveryStatus",
                principals=[iam.ServicePrincipal(f"logs.{self.region}.amazonaws.com")],
                actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": cdk.Fn.sub(
                            "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"
                            "sns/${AWS::Region}/${AWS::AccountId}/DirectPublishToPhoneNumber*"
                        )
                    }
                },
            )
        )
        sms_log_groups = []
        for suffix, construct_id in (("", "SmsDeliveryLogs"), ("/Failure", "SmsDeliveryFailureLogs")):
            group = logs.LogGroup(
                self,
                construct_id,
                log_group_name=cdk.Fn.sub("sns/${AWS::Region}/${AWS::AccountId}/DirectPublishToPhoneNumber" + suffix),
                retention=LOG_RETENTION,
                encryption_key=data.ops_key,
                removal_policy=cdk.RemovalPolicy.RETAIN if self.stage == "prod" else cdk.RemovalPolicy.DESTROY,
            )
            status_role.add_to_policy(
                iam.PolicyStatement(
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[group.log_group_arn]
                )
            )
            sms_log_groups.append(group)
        cdk.CfnOutput(self, "SmsDeliveryStatusRoleArn", value=status_role.role_arn)
        for name in feedback:
            cfn_name = chalice_logical_id(name)
            function_arn = cdk.Fn.sub(
                "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:" + self.function_names[name]
            )
            fn = self.chalice.get_resource(cfn_name)
            permission = self._invoke_permission(
                name, f"{cfn_name}SesEventsInvoke", "sns.amazonaws.com", topic.topic_arn
            )
            permission.node.add_dependency(fn)
            subscription = sns.Subscription(
                self,
                f"{cfn_name}SesEvents",
                topic=topic,
                protocol=sns.SubscriptionProtocol.LAMBDA,
                endpoint=function_arn,
            )
            subscription.node.add_dependency(permission)
            for index, group in enumerate(sms_log_groups):
                permission = self._invoke_permission(
                    name, f"{cfn_name}SmsLogsInvoke{index}", "logs.amazonaws.com", group.log_group_arn
                )
                permission.node.add_dependency(fn)
                subscription_filter = logs.CfnSubscriptionFilter(
                    self,
                    f"{cfn_name}SmsLogs{index}",
                    log_group_name=group.log_group_name,
                    filter_pattern="",
                    destination_arn=function_arn,
                )
                subscription_filter.node.add_dependency(permission)
        # SMS cost: AWS/SNS publishes the month's SMS spend (USD) account-wide.
        spend = cloudwatch.Alarm(
            self,
            "SmsMonthlySpend",
            alarm_name=f"{APP_NAME}-{self.stage}-SmsMonthlySpend",
            alarm_description=f"SMS spend this month passed {sms_spend_alarm_usd} USD: check for a loop or abuse.",
            metric=cloudwatch.Metric(
                namespace="AWS/SNS",
                metric_name="SMSMonthToDateSpentUSD",
                statistic="Maximum",
                period=cdk.Duration.minutes(5),
            ),
            threshold=sms_spend_alarm_usd,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        spend.add_alarm_action(cw_actions.SnsAction(data.alarm_topic))
        # many failed deliveries at once point at the provider or the texts, not at citizens.
        failures = cloudwatch.Alarm(
            self,
            "NotificationDeliveryFailures",
            alarm_name=f"{APP_NAME}-{self.stage}-NotificationDeliveryFailures",
            alarm_description="Many notifications failed within an hour: check SES/SNS and the delivery logs.",
            metric=cloudwatch.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name="NotificationDeliveryFailures",
                dimensions_map={"service": APP_NAME},
                statistic="Sum",
                period=cdk.Duration.hours(1),
            ),
            threshold=50,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        failures.add_alarm_action(cw_actions.SnsAction(data.alarm_topic))

    def _wire_event_source(self, name: str, spec: FunctionSpec, fn: cdk.CfnResource) -> None:
        """Event source mappings (batch sizes and caps from definitions.py), S3 notifications, schedules,
        and the on-failure queue of every function invoked asynchronously."""
        mappings: list[lambda_.CfnEventSourceMapping] = []
        if spec.stream_from:
            stream_consumer = next(
                (c for c in STREAM_CONSUMERS if c.function == name and c.table.logical_id == spec.stream_from), None
            )
            mappings.append(
                wire_stream_consumer(
                    self.data,
                    name=name,
                    role=self.roles[name],
                    table_id=spec.stream_from,
                    batch_size=stream_consumer.batch_size if stream_consumer else 100,
                    filters=stream_consumer.filters if stream_consumer else (),
                )
            )
        if spec.queue_from:
            queue_consumer = next(
                (c for c in QUEUE_CONSUMERS if c.function == name and c.queue.logical_id == spec.queue_from), None
            )
            mappings.append(
                wire_queue_consumer(
                    self.data,
                    name=name,
                    role=self.roles[name],
                    queue_id=spec.queue_from,
                    function_timeout_s=spec.timeout_s,
                    batch_size=queue_consumer.batch_size if queue_consumer else 10,
                    max_concurrency=queue_consumer.max_concurrency if queue_consumer else None,
                )
            )
        for mapping in mappings:
            mapping.node.add_dependency(fn)  # the mapping names the function; it must exist
        for consumer in OBJECT_CREATED_CONSUMERS:
            if consumer.function == name:
                wire_object_created_consumer(self.data, consumer=consumer).node.add_dependency(fn)
        for schedule in SCHEDULES:
            if schedule.function == name:
                wire_schedule(
                    self.data,
                    name=name,
                    every_minutes=schedule.every_minutes,
                    hour=schedule.hour,
                    minute=schedule.minute,
                ).node.add_dependency(fn)
        if name in self.async_functions:
            wire_async_failure_destination(self.data, name=name, role=self.roles[name]).node.add_dependency(fn)

    def _api_edge(
        self,
        api_name: str,
        rest_api: cdk.CfnResource,
        *,
        waf_auth_rate_limit: int,
        waf_auth_start_rate_limit: int,
        api_throttle: Throttle,
        auth_start_throttle: Throttle,
    ) -> None:
        """What stands in front of the app (issue 7, defects 4 and 10): stage throttling, API Gateway's own
        errors as problem+json, a JSON access log without personal data, and a WAF web ACL."""
        data = self.data
        # "/auth/bankid/start" -> "/~1auth~1bankid~1start" (a method setting's path is escaped so).
        start_path = "/" + AUTH_START_PATH.replace("/", "~1")
        rest_api.add_property_override(
            "MethodSettings",
            [
                {
                    "ResourcePath": "/*",
                    "HttpMethod": "*",
                    "ThrottlingRateLimit": api_throttle.rate_per_s,
                    "ThrottlingBurstLimit": api_throttle.burst,
                    "DataTraceEnabled": False,  # full request/response logging would log bodies
                },
                {
                    "ResourcePath": start_path,
                    "HttpMethod": "POST",
                    "ThrottlingRateLimit": auth_start_throttle.rate_per_s,
                    "ThrottlingBurstLimit": auth_start_throttle.burst,
                    "DataTraceEnabled": False,
                },
            ],
        )
        rest_api.add_property_override(
            "GatewayResponses",
            {response_type: _gateway_response(problem) for response_type, problem in GATEWAY_RESPONSES.items()},
        )
        # REST API access logs need the account's API Gateway CloudWatch role (README: once per account).
        access_logs = logs.LogGroup(
            self,
            "ApiAccessLogs",
            log_group_name=api_access_log_group_name(self.stage),
            retention=LOG_RETENTION,
            encryption_key=data.ops_key,
            removal_policy=cdk.RemovalPolicy.RETAIN if self.stage == "prod" else cdk.RemovalPolicy.DESTROY,
        )
        rest_api.add_property_override(
            "AccessLogSetting",
            {
                # API Gateway wants the group's ARN without the ":*" that its Arn attribute ends with.
                "DestinationArn": self.format_arn(
                    service="logs",
                    resource="log-group",
                    resource_name=access_logs.log_group_name,
                    arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                ),
                "Format": json.dumps(ACCESS_LOG_FIELDS, separators=(",", ":")),
            },
        )

        web_acl = self._web_acl(api_name, waf_auth_rate_limit, waf_auth_start_rate_limit)
        wafv2.CfnWebACLAssociation(
            self,
            "ApiWebAclAssociation",
            # `RestAPI.Stage` is SAM's reference to the stage it creates: the association waits for it.
            resource_arn=cdk.Fn.sub(
                "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${RestAPI}/stages/${RestAPI.Stage}"
            ),
            web_acl_arn=web_acl.attr_arn,
        )

    def _web_acl(self, api_name: str, auth_rate_limit: int, auth_start_rate_limit: int) -> wafv2.CfnWebACL:
        """REGIONAL web ACL for the API stage: per-IP rate limits on logins (429 problem body), AWS managed
        rules for a JSON API, CloudWatch metrics per rule. No sampled requests and no WAF logging: both
        would keep client IPs and bearer tokens; the metrics say which rule fired."""
        for limit in (auth_rate_limit, auth_start_rate_limit):
            if not 10 <= limit <= 2_000_000_000:
                raise ValueError(f"WAF rate limit {limit}: AWS WAF takes 10-2000000000 per window")

        def visibility(metric: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
            return wafv2.CfnWebACL.VisibilityConfigProperty(
                cloud_watch_metrics_enabled=True, metric_name=f"{api_name}-{metric}", sampled_requests_enabled=False
            )

        def path_starts_with(path: str) -> wafv2.CfnWebACL.StatementProperty:
            # Through the execute-api URL the path carries the stage ("/api/auth/..."); through a custom
            # domain mapped to the stage it does not. Decoded and normalised first ("//", "./", %2F).
            transformations = [
                wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="URL_DECODE"),
                wafv2.CfnWebACL.TextTransformationProperty(priority=1, type="NORMALIZE_PATH"),
            ]
            return wafv2.CfnWebACL.StatementProperty(
                or_statement=wafv2.CfnWebACL.OrStatementProperty(
                    statements=[
                        wafv2.CfnWebACL.StatementProperty(
                            byte_match_statement=wafv2.CfnWebACL.ByteMatchStatementProperty(
                                field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(uri_path={}),
                                positional_constraint="STARTS_WITH",
                                search_string=prefix + path,
                                text_transformations=transformations,
                            )
                        )
                        for prefix in (f"/{API_GATEWAY_STAGE}", "")
                    ]
                )
            )

        def rate_rule(name: str, priority: int, limit: int, path: str) -> wafv2.CfnWebACL.RuleProperty:
            return wafv2.CfnWebACL.RuleProperty(
                name=name,
                priority=priority,
                statement=wafv2.CfnWebACL.StatementProperty(
                    rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                        aggregate_key_type="IP",
                        limit=limit,
                        evaluation_window_sec=WAF_RATE_WINDOW_S,
                        scope_down_statement=path_starts_with(path),
                    )
                ),
                action=wafv2.CfnWebACL.RuleActionProperty(
                    block=wafv2.CfnWebACL.BlockActionProperty(
                        custom_response=wafv2.CfnWebACL.CustomResponseProperty(
                            response_code=WAF_RATE_LIMITED.status,
                            custom_response_body_key=WAF_RATE_LIMITED.code,
                            response_headers=[
                                wafv2.CfnWebACL.CustomHTTPHeaderProperty(
                                    name="Retry-After", value=str(WAF_RATE_LIMITED.retry_after_s)
                                ),
                                wafv2.CfnWebACL.CustomHTTPHeaderProperty(name="Cache-Control", value="no-store"),
                            ],
                        )
                    )
                ),
                visibility_config=visibility(name),
            )

        def managed_rule(name: str, priority: int, count_only: Sequence[str] = ()) -> wafv2.CfnWebACL.RuleProperty:
            return wafv2.CfnWebACL.RuleProperty(
                name=name,
                priority=priority,
                statement=wafv2.CfnWebACL.StatementProperty(
                    managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                        vendor_name="AWS",
                        name=name,
                        rule_action_overrides=[
                            wafv2.CfnWebACL.RuleActionOverrideProperty(
                                name=rule, action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={})
                            )
                            for rule in count_only
                        ]
                        or None,
                    )
                ),
                override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                visibility_config=visibility(name),
            )

        return wafv2.CfnWebACL(
            self,
            "ApiWebAcl",
            name=api_name,
            description=f"{api_name}: login rate limits and AWS managed rules in front of the API stage",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=visibility("WebAcl"),
            custom_response_bodies={
                WAF_RATE_LIMITED.code: wafv2.CfnWebACL.CustomResponseBodyProperty(
                    content_type="APPLICATION_JSON", content=WAF_RATE_LIMITED.json()
                )
            },
            rules=[
                managed_rule("AWSManagedRulesAmazonIpReputationList", 0),
                rate_rule("AuthStartPerIp", 1, auth_start_rate_limit, AUTH_START_PATH),
                rate_rule("AuthPerIp", 2, auth_rate_limit, "/auth/"),
                # The common rule set blocks bodies over 8 KB; the app takes JSON up to 256 KB and answers
                # 413 itself (attachments go to S3 directly), so that one rule only counts.
                managed_rule("AWSManagedRulesCommonRuleSet", 3, count_only=("SizeRestrictions_BODY",)),
                managed_rule("AWSManagedRulesKnownBadInputsRuleSet", 4),
            ],
        )

    def _check_functions_match(self, functions: Mapping[str, FunctionSpec]) -> None:
        """Fail synth if app.py and FUNCTIONS disagree (an unlisted function would run with the
        API handler's role; a listed but missing one would break the overrides)."""
        in_app = {
            child.node.id
            for child in self.chalice.sam_template.node.children
            if isinstance(child, cdk.CfnResource) and child.cfn_resource_type == "AWS::Serverless::Function"
        }
        expected = {chalice_logical_id(name) for name in functions}
        if in_app != expected:
            raise ValueError(
                "Chalice functions and infra/stack.py FUNCTIONS differ: "
                f"only in app.py: {sorted(in_app - expected)}, "
                f"only in FUNCTIONS: {sorted(expected - in_app)}"
            )
        unwired = sorted({c.function for c in OBJECT_CREATED_CONSUMERS} - set(functions))
        if unwired:
            raise ValueError(f"definitions.OBJECT_CREATED_CONSUMERS name functions not in FUNCTIONS: {unwired}")
