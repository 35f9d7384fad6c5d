"""Every cdk-nag finding the stack accepts, with the reason: the one place suppressions live.

The `AwsSolutions` and `HIPAASecurity` packs run over the synthesized and the SAM-transformed
template (tests/infrastructure/test_nag.py, `python -m infra.nag`). A finding is accepted only
when an entry below covers its rule (and, for rules with several findings per resource, such as
IAM5, the finding) on that resource; everything else fails. The stack applies these itself
(`infra.nag.AcknowledgeSuppressed`), so any `cdk synth` with the packs agrees with the tests.

Entries select resources by CloudFormation type, narrowed by a pattern on the logical id where the
reason holds for some resources of a type only. A type-wide entry is one whose reason is true of
every resource of that type in this app (so a new registry function needs no entry here). Nothing
here covers the tables' backup plan: that is fixed, not suppressed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LAMBDA = "AWS::Lambda::Function"
POLICY = "AWS::IAM::Policy"
ROLE = "AWS::IAM::Role"
BUCKET = "AWS::S3::Bucket"
QUEUE = "AWS::SQS::Queue"
STAGE = "AWS::ApiGateway::Stage"


@dataclass(frozen=True)
class Suppression:
    rule: str  # "AwsSolutions-S1", "HIPAA.Security-LambdaDLQ"
    reason: str
    types: tuple[str, ...]  # the CloudFormation types it applies to
    resources: str = ""  # regex searched in the logical id ("": every resource of `types`)
    finding: str = ""  # regex over the "[...]" part of a multi-finding rule's id ("": none)

    def covers(self, rule_id: str, resource_type: str, logical_id: str) -> bool:
        rule, _, rest = rule_id.partition("[")
        if rule != self.rule or resource_type not in self.types:
            return False
        if bool(rest) != bool(self.finding) or (rest and not re.fullmatch(self.finding, rest.removesuffix("]"))):
            return False
        return not self.resources or re.search(self.resources, logical_id) is not None


# DataResources.failure_queue's ids, and the dead-letter queue of an event bus (DataResources._bus)
_FAILURE_QUEUES = r"(InvokeFailures|StreamFailures|ScheduleDlq|BusDlq)"
_DATA_BUCKETS = r"(AttachmentsBucket|DocumentsBucket|AccessLogsBucket)"

SUPPRESSIONS: tuple[Suppression, ...] = (
    # --- functions (every Lambda function of the app) ---
    Suppression(
        "AwsSolutions-L1",
        "python3.12 is the project's interpreter: the layer's wheels are built for it (Chalice); a runtime "
        "upgrade is its own change",
        (LAMBDA,),
    ),
    Suppression(
        "HIPAA.Security-LambdaInsideVPC",
        "The functions call only AWS service endpoints (IAM-authorised, TLS) and BankID/Freja eID/the population "
        "register/the booking systems over HTTPS (BankID and Freja with a client certificate, PASiS/PMO with an API "
        "key); no resource lives in a VPC, one would add only a NAT",
        (LAMBDA,),
    ),
    Suppression(
        "HIPAA.Security-LambdaConcurrency",
        "Concurrency is bounded at the source: API stage throttling and WAF rate limits, SQS MaximumConcurrency, "
        "stream shards, one run per schedule, a support-desk call; reserved concurrency would split the account pool",
        (LAMBDA,),
    ),
    Suppression(
        "HIPAA.Security-LambdaDLQ",
        "Failures are kept per invocation type: async invocations go to an on-failure destination queue "
        "(EventInvokeConfig, which supersedes a DLQ), event source mappings to their on-failure queue or the "
        "queue's DLQ, and synchronous callers (API, console) get the error",
        (LAMBDA,),
    ),
    # --- IAM ---
    Suppression(
        "HIPAA.Security-IAMNoInlinePolicy",
        "Each policy is written for exactly one role (one role per function, least privilege); a managed "
        "policy is for sharing, which is what per-function roles avoid",
        (POLICY, ROLE),
    ),
    Suppression(
        "AwsSolutions-IAM5",
        "The KMS data-key variants (GenerateDataKey, ...WithoutPlaintext) on the one data key, only through "
        "the services that store data with it (kms:ViaService)",
        (POLICY, ROLE),
        finding=r"Action::kms:GenerateDataKey\*",
    ),
    Suppression(
        "AwsSolutions-IAM5",
        "Only actions without resource-level scope: X-Ray trace upload, dynamodb:ListStreams, SMS sns:Publish "
        "to phone numbers (publishing to topics is denied); test_nag.py checks that no other action has '*'",
        (POLICY,),
        finding=r"Resource::\*",
    ),
    Suppression(
        "AwsSolutions-IAM5",
        "Object actions on the keys under one prefix (pending/, files/) of one bucket: keys are generated ids",
        (POLICY,),
        finding=r"Resource::arn:<AWS::Partition>:s3:::[^/*]+/[a-z0-9-]+/\*",  # a prefix, never the bucket
    ),
    Suppression(
        "AwsSolutions-IAM4",
        "AWS Backup's own service-role policy, kept current by AWS for what Backup must read and restore; "
        "the role is assumable by backup.amazonaws.com only",
        (ROLE,),
        resources=r"Backup\w*Role",
        finding=r"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
    ),
    # --- data ---
    Suppression(
        "AwsSolutions-SQS3",
        "This queue is itself where failures land (a Lambda on-failure destination, a Scheduler or an event "
        "bus dead-letter queue), alarmed on depth; cdk-nag only recognises SQS redrive targets as DLQs",
        (QUEUE,),
        resources=_FAILURE_QUEUES,
    ),
    Suppression(
        "AwsSolutions-SMG4",
        "The personnummer HMAC key must never rotate: every stored lookup key is derived from it (README)",
        ("AWS::SecretsManager::Secret",),
        resources=r"PnrHmacSecret",
    ),
    Suppression(
        "HIPAA.Security-SecretsManagerRotationEnabled",
        "The personnummer HMAC key must never rotate: every stored lookup key is derived from it (README)",
        ("AWS::SecretsManager::Secret",),
        resources=r"PnrHmacSecret",
    ),
    Suppression(
        "AwsSolutions-SMG4",
        "The BankID RP certificate is issued by the bank and replaced by operators before it expires (README); "
        "no rotation function can obtain a new one",
        ("AWS::SecretsManager::Secret",),
        resources=r"BankidCertSecret",
    ),
    Suppression(
        "HIPAA.Security-SecretsManagerRotationEnabled",
        "The BankID RP certificate is issued by the bank and replaced by operators before it expires (README); "
        "no rotation function can obtain a new one",
        ("AWS::SecretsManager::Secret",),
        resources=r"BankidCertSecret",
    ),
    Suppression(
        "AwsSolutions-SMG4",
        "The booking systems' API keys are issued by PASiS/PMO and replaced by operators (README); no rotation "
        "function can obtain a new one",
        ("AWS::SecretsManager::Secret",),
        resources=r"BookingSystemsSecret",
    ),
    Suppression(
        "HIPAA.Security-SecretsManagerRotationEnabled",
        "The booking systems' API keys are issued by PASiS/PMO and replaced by operators (README); no rotation "
        "function can obtain a new one",
        ("AWS::SecretsManager::Secret",),
        resources=r"BookingSystemsSecret",
    ),
    Suppression(
        "AwsSolutions-SMG4",
        "The Freja eID client certificate is issued by Freja and its signing certificates are published by Freja; "
        "operators replace them (README); no rotation function can obtain either",
        ("AWS::SecretsManager::Secret",),
        resources=r"FrejaSecret",
    ),
    Suppression(
        "HIPAA.Security-SecretsManagerRotationEnabled",
        "The Freja eID client certificate is issued by Freja and its signing certificates are published by Freja; "
        "operators replace them (README); no rotation function can obtain either",
        ("AWS::SecretsManager::Secret",),
        resources=r"FrejaSecret",
    ),
    Suppression(
        "HIPAA.Security-S3BucketVersioningEnabled",
        "A deleted attachment (retention R-24), an expired health declaration's PDF or an expired log must be gone, "
        "not kept as a noncurrent version",
        (BUCKET,),
        resources=_DATA_BUCKETS,
    ),
    Suppression(
        "HIPAA.Security-S3BucketReplicationEnabled",
        "A replica would outlive deletions (R-24) and copy patient data out of the pinned region; durability "
        "is S3's own (multi-AZ)",
        (BUCKET,),
        resources=_DATA_BUCKETS,
    ),
    Suppression(
        "HIPAA.Security-S3DefaultEncryptionKMS",
        "S3 delivers server access logs only to buckets encrypted with SSE-S3, not SSE-KMS",
        (BUCKET,),
        resources=r"AccessLogsBucket",
    ),
    # --- API edge ---
    Suppression(
        "AwsSolutions-APIG2",
        "The app validates every request body itself (pydantic) and answers the contract's problem+json 400; "
        "a gateway validator would answer in another shape",
        ("AWS::ApiGateway::RestApi",),
    ),
    Suppression(
        "AwsSolutions-APIG6",
        "Access logging is on (a JSON line per request, no personal data); execution logs are off on purpose: "
        "they would log request details to an unencrypted group API Gateway creates",
        (STAGE,),
    ),
    Suppression(
        "HIPAA.Security-APIGWExecutionLoggingEnabled",
        "Access logging is on (a JSON line per request, no personal data); execution logs are off on purpose: "
        "they would log request details to an unencrypted group API Gateway creates",
        (STAGE,),
    ),
    Suppression(
        "HIPAA.Security-APIGWCacheEnabledAndEncrypted",
        "Every answer is per caller and Cache-Control: no-store; a stage cache could serve one patient's data to "
        "another",
        (STAGE,),
    ),
    Suppression(
        "HIPAA.Security-APIGWSSLEnabled",
        "A stage client certificate authenticates API Gateway to HTTP backends; the only integration is Lambda "
        "(AWS_PROXY), invoked through IAM",
        (STAGE,),
    ),
    Suppression(
        "HIPAA.Security-WAFv2LoggingEnabled",
        "WAF logs would keep client IPs and bearer tokens; each rule's CloudWatch metrics say what fired",
        ("AWS::WAFv2::WebACL",),
    ),
)
