"""Data resources built from `infra/definitions.py`: KMS keys, tables, queues, buckets, event buses,
secrets and the alarm topic, plus the helpers other parts use on them (failure queues, alarms, grants)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as sns_subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.definitions import BUCKETS, BUSES, QUEUES, TABLES, Bucket, Bus, Queue, Table, resource_name
from infra.functions import BANKID_CERT_ARN_VAR, BOOKING_SYSTEMS_ARN_VAR, FREJA_ARN_VAR, HMAC_ARN_VAR

APP_NAME = "e-services"
LOG_RETENTION = logs.RetentionDays.THREE_MONTHS
METRICS_NAMESPACE = "EServices"  # POWERTOOLS_METRICS_NAMESPACE: the app's metrics and their alarms
FAILURE_QUEUE_RETENTION = cdk.Duration.days(14)  # SQS's maximum: time for an operator to redrive
ACCESS_LOG_RETENTION_DAYS = 90  # S3 server access logs, as long as LOG_RETENTION keeps the function logs
BOOKING_SYSTEMS = ("PASiS", "PMO")  # web booking's booking systems: the secret's keys, one error alarm each
# Freja publishes two JWS signing certificates per environment (one in use, the next), for rotation.
FREJA_SIGNING_CERTIFICATES = 2


def api_access_log_group_name(stage: str) -> str:
    return f"/aws/apigateway/{APP_NAME}-{stage}/access"


def removal_policy(stage: str) -> cdk.RemovalPolicy:
    """Of log groups: kept for prod, gone with a dev stack."""
    return cdk.RemovalPolicy.RETAIN if stage == "prod" else cdk.RemovalPolicy.DESTROY


class DataResources(Construct):
    """Keys, tables, queues, buckets, event buses, secrets and the alarm topic, built from definitions.py."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        tables: Sequence[Table] = TABLES,
        queues: Sequence[Queue] = QUEUES,
        buckets: Sequence[Bucket] = BUCKETS,
        buses: Sequence[Bus] = BUSES,
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
        self.table_definitions: dict[str, Table] = {t.logical_id: t for t in tables}
        self.queue_definitions: dict[str, Queue] = {q.logical_id: q for q in queues}
        self.queues: dict[str, sqs.Queue] = {}
        self.dead_letter_queues: dict[str, sqs.Queue] = {}
        self.failure_queues: dict[str, sqs.Queue] = {}  # construct id -> on-failure/dead-letter queue
        for q in queues:
            self._queue(q)
        # Bucket names are fixed (not derived by CloudFormation) so that functions, policies and S3
        # notifications can name a bucket without referencing it: a bucket that notifies a function
        # whose environment referenced the bucket would be a dependency cycle.
        self.bucket_names: dict[str, str] = {b.logical_id: self._bucket_name(b) for b in buckets}
        self.access_logs_bucket = self._access_logs_bucket() if buckets else None
        self.buckets: dict[str, s3.Bucket] = {b.logical_id: self._bucket(b) for b in buckets}
        self._bucket_notifications: dict[str, list[s3.CfnBucket.LambdaConfigurationProperty]] = {}
        self.buses: dict[str, events.EventBus] = {b.logical_id: self._bus(b) for b in buses}

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
        # Web booking (issue 11): PASiS's and PMO's endpoints and API keys, filled by operators (README) like
        # the BankID certificate. Empty placeholders of the shape the app reads, never a value.
        self.booking_systems_secret = secretsmanager.Secret(
            self,
            "BookingSystemsSecret",
            secret_name=f"{APP_NAME}/{stage}/booking-systems",
            description='Booking systems for web booking: {"PASiS": {"url": base URL, "apiKey": key}, '
            '"PMO": {"url": ..., "apiKey": ...}}; filled by operators, read by api_handler and reconcile_bookings',
            encryption_key=self.data_key,
            secret_string_value=cdk.SecretValue.unsafe_plain_text(
                json.dumps({system: {"url": "", "apiKey": ""} for system in BOOKING_SYSTEMS})
            ),
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        # Freja eID (issue 12): the mTLS client certificate and key Freja issued us as relying party, and
        # Freja's JWS signing certificates to trust (two per environment, for rotation). Filled by operators
        # from Freja's onboarding (README) like the BankID certificate; empty placeholders of the shape
        # chalicelib/auth/freja.py reads, never a value.
        self.freja_secret = secretsmanager.Secret(
            self,
            "FrejaSecret",
            secret_name=f"{APP_NAME}/{stage}/freja",
            description='Freja eID RP API: {"clientCertificate": PEM, "clientKey": PEM, "trustedCertificates": '
            "[PEM, PEM]}: the mTLS client certificate and key Freja issued us, and the Freja JWS signing "
            "certificates to trust (two per environment, for rotation); filled by operators, read by api_handler",
            encryption_key=self.data_key,
            secret_string_value=cdk.SecretValue.unsafe_plain_text(
                json.dumps(
                    {
                        "clientCertificate": "",
                        "clientKey": "",
                        "trustedCertificates": [""] * FREJA_SIGNING_CERTIFICATES,
                    }
                )
            ),
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self.secrets: dict[str, secretsmanager.Secret] = {
            HMAC_ARN_VAR: self.pnr_hmac_secret,
            BANKID_CERT_ARN_VAR: self.bankid_cert_secret,
            BOOKING_SYSTEMS_ARN_VAR: self.booking_systems_secret,
            FREJA_ARN_VAR: self.freja_secret,
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

    def _bus(self, b: Bus) -> events.EventBus:
        """A custom event bus encrypted with the data key (its events name bookings and notices; the key
        policy lets EventBridge use the key for this bus only), with a dead-letter queue for events it
        could not encrypt or decrypt, alarmed on depth. That queue is SSE-SQS, not the data key: it is
        where events land when the data key is unusable, and they arrive still encrypted with it. No bus
        policy: only this account's roles granted events:PutEvents put events on it."""
        stack = cdk.Stack.of(self)
        name = resource_name(self.stage, b.logical_id)
        bus_arn = stack.format_arn(service="events", resource="event-bus", resource_name=name)
        dlq_id = f"{b.logical_id}Dlq"
        dlq = sqs.Queue(
            self,
            dlq_id,
            queue_name=f"{name}-dlq",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=FAILURE_QUEUE_RETENTION,
        )
        dlq.add_to_resource_policy(
            iam.PolicyStatement(
                sid="EventBridgeDeadLettersOfThisBus",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["sqs:SendMessage"],
                resources=[dlq.queue_arn],
                conditions={"ArnEquals": {"aws:SourceArn": bus_arn}},
            )
        )
        self.dlq_depth_alarm(dlq, f"{dlq_id}Depth")
        self.failure_queues[dlq_id] = dlq
        # EventBus(kms_key=...) lets EventBridge use the key for this bus, but binds DescribeKey (which
        # EventBridge calls to check the key) to an encryption context that call never carries.
        self.data_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid=f"EventBridgeDescribesKeyFor{b.logical_id}",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["kms:DescribeKey"],
                resources=["*"],  # in a key policy "*" means this key
                conditions={"StringEquals": {"aws:SourceAccount": stack.account, "aws:SourceArn": bus_arn}},
            )
        )
        return events.EventBus(
            self,
            b.logical_id,
            event_bus_name=name,
            description=f"{APP_NAME} {self.stage}: events for other systems (ids only)",
            kms_key=self.data_key,
            dead_letter_queue=dlq,
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
        bucket = s3.Bucket(
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
        if self.access_logs_bucket is not None:
            self._log_access(bucket, b, self.access_logs_bucket)
        return bucket

    def _log_access(self, bucket: s3.Bucket, b: Bucket, logs_bucket: s3.Bucket) -> None:
        """Server access logs of `bucket` under its logical id in the access-logs bucket. Wired by hand,
        not with `server_access_logs_bucket`: without a feature flag that grants S3 logging an ACL,
        which the bucket's enforced object ownership refuses; this is the bucket policy either way."""
        prefix = f"{b.logical_id}/"
        resource = bucket.node.default_child
        if not isinstance(resource, s3.CfnBucket):
            raise TypeError(f"{b.logical_id}: no CfnBucket")
        resource.logging_configuration = s3.CfnBucket.LoggingConfigurationProperty(
            destination_bucket_name=logs_bucket.bucket_name, log_file_prefix=prefix
        )
        logs_bucket.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("logging.s3.amazonaws.com")],
                actions=["s3:PutObject"],
                resources=[logs_bucket.arn_for_objects(f"{prefix}*")],
                conditions={
                    "ArnLike": {"aws:SourceArn": self.bucket_arn(b.logical_id)},
                    "StringEquals": {"aws:SourceAccount": cdk.Stack.of(self).account},
                },
            )
        )

    def _access_logs_bucket(self) -> s3.Bucket:
        """S3 server access logs of the data buckets: who read or wrote which key, as audit evidence.
        They hold requesters' IP addresses, so private, TLS-only and kept as long as the function logs.
        SSE-S3, not the data key: S3 delivers access logs only to buckets encrypted with SSE-S3."""
        return s3.Bucket(
            self,
            "AccessLogsBucket",
            lifecycle_rules=[
                s3.LifecycleRule(id="ExpireAccessLogs", expiration=cdk.Duration.days(ACCESS_LOG_RETENTION_DAYS)),
                s3.LifecycleRule(
                    id="AbortIncompleteUploads", abort_incomplete_multipart_upload_after=cdk.Duration.days(1)
                ),
            ],
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,  # S3 logging is granted by bucket policy
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

    def alarm(
        self,
        construct_id: str,
        metric: cloudwatch.IMetric,
        description: str,
        *,
        threshold: float = 1,
        evaluation_periods: int = 1,
    ) -> cloudwatch.Alarm:
        """An alarm that notifies the alarm topic when the metric reaches `threshold` in each of
        `evaluation_periods` periods (by default: any occurrence in one period)."""
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            alarm_name=f"{APP_NAME}-{self.stage}-{construct_id}",
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            evaluation_periods=evaluation_periods,
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
        self.failure_queues[construct_id] = queue
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
        """Use of the data key, only through the services that store data with it. No kms:ReEncrypt*:
        no function re-encrypts anything (a service re-encrypting its own data uses its own grant)."""
        region = cdk.Stack.of(self).region
        return iam.PolicyStatement(
            actions=[
                "kms:Decrypt",
                "kms:Encrypt",
                "kms:GenerateDataKey*",
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
        """`actions` on the table; Query also on its indexes: the named ones, or all when None (each
        by name, not `index/*`: the grant lists what exists)."""
        table = self.tables[table_id]
        resources = [table.table_arn]
        if "dynamodb:Query" in actions:  # only Query reads an index
            every_index = [index.name for index in self.table_definitions[table_id].indexes]
            names = every_index if indexes is None else list(indexes)
            resources += [f"{table.table_arn}/index/{name}" for name in names]
        return iam.PolicyStatement(actions=list(actions), resources=resources)
