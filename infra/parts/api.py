"""The API edge (README "API edge"; issue 7, defects 4 and 10): the REST API's name and tracing, stage
throttling, API Gateway's own errors as problem+json, a JSON access log without personal data, a WAF
web ACL, and the 5xx alarm."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
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
from infra.parts import Namespace
from infra.parts.data import (
    APP_NAME,
    LOG_RETENTION,
    DataResources,
    api_access_log_group_name,
    removal_policy,
)
from infra.parts.functions import API_GATEWAY_STAGE, Functions


@dataclass(frozen=True)
class Throttle:
    """API Gateway token bucket: steady requests per second and burst."""

    rate_per_s: float
    burst: int


# In front of the app (issue 7, defect 4; issue 12); app.py takes each from a context value (README
# "API edge"). Per client IP per 5 minutes. A BankID login polls /qr every second and /collect every 2 s
# (about 50 requests for a 30 s QR login), so the budget of the e-ID flows (AUTH_FLOW_PREFIXES) leaves
# room for several logins behind one NAT; starting an order is what is abused (defect 4) and gets the
# tight limit, one budget per IP over all AUTH_START_PATHS together.
WAF_AUTH_RATE_LIMIT = 1000
WAF_AUTH_START_RATE_LIMIT = 100
WAF_RATE_WINDOW_S = 300
WAF_RETRY_AFTER_S = 60  # a rate-based block lasts until the IP's rate over the window falls below the limit
API_THROTTLE = Throttle(rate_per_s=200, burst=400)  # every method of the stage (account limit: 10000/5000)
# Each POST of AUTH_START_PATHS has its own bucket of this size (API Gateway throttles per method):
# 36000 orders an hour per route.
AUTH_START_THROTTLE = Throttle(rate_per_s=10, burst=20)
THROTTLED_RETRY_AFTER_S = 2  # stage throttling refills its bucket every second
UNAVAILABLE_RETRY_AFTER_S = 5
# The routes (POST) that start an e-ID order: each order costs money at the e-ID provider, and the
# provider keeps one order per person, so a start with someone's personnummer cancels theirs
# (harassment). The tight WAF rule (AuthStartPerIp) and the AUTH_START_THROTTLE method setting cover
# each; a new start route belongs here (tests/infrastructure/test_eid_start_limits.py looks for them).
AUTH_START_PATHS = ("/auth/bankid/start", "/auth/freja/start", "/me/lock/start")
# The e-ID flows (start, poll, cancel, logout) under the general per-IP rule (AuthPerIp). The self-lock
# is a BankID sign order outside /auth/: its /collect polls like a login's.
AUTH_FLOW_PREFIXES = ("/auth/", "/me/lock/")


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


class ApiEdge(Namespace):
    """What stands in front of the app. The REST API is Chalice's (`RestAPI` in the packaged app);
    this names it per stage and adds to it."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        data: DataResources,
        functions: Functions,
        waf_auth_rate_limit: int = WAF_AUTH_RATE_LIMIT,
        waf_auth_start_rate_limit: int = WAF_AUTH_START_RATE_LIMIT,
        api_throttle: Throttle = API_THROTTLE,
        auth_start_throttle: Throttle = AUTH_START_THROTTLE,
    ) -> None:
        super().__init__(scope, construct_id)
        # Named per stage so the 5xx alarm's (and the dashboard's) ApiName dimension is unambiguous.
        self.api_name = f"{APP_NAME}-{data.stage}"
        rest_api = functions.chalice.get_resource("RestAPI")
        rest_api.add_property_override("Name", self.api_name)
        rest_api.add_property_override("TracingEnabled", True)  # Chalice's `xray` covers Lambda only
        data.alarm(
            "Api5xx",
            self.metric("5XXError", period=cdk.Duration.minutes(5)),
            "The API answered 5xx (the contract allows none).",
        )
        self._edge(
            data,
            self.api_name,
            rest_api,
            waf_auth_rate_limit=waf_auth_rate_limit,
            waf_auth_start_rate_limit=waf_auth_start_rate_limit,
            api_throttle=api_throttle,
            auth_start_throttle=auth_start_throttle,
        )

    def metric(self, metric_name: str, *, period: cdk.Duration, statistic: str = "Sum") -> cloudwatch.Metric:
        """An AWS/ApiGateway metric of the stage (Count, 4XXError, 5XXError, Latency, ...)."""
        return cloudwatch.Metric(
            namespace="AWS/ApiGateway",
            metric_name=metric_name,
            dimensions_map={"ApiName": self.api_name, "Stage": API_GATEWAY_STAGE},
            statistic=statistic,
            period=period,
        )

    def _edge(
        self,
        data: DataResources,
        api_name: str,
        rest_api: cdk.CfnResource,
        *,
        waf_auth_rate_limit: int,
        waf_auth_start_rate_limit: int,
        api_throttle: Throttle,
        auth_start_throttle: Throttle,
    ) -> None:
        stage = data.stage
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
                *(
                    {
                        # "/auth/bankid/start" -> "/~1auth~1bankid~1start" (a method setting's path is escaped so).
                        "ResourcePath": "/" + path.replace("/", "~1"),
                        "HttpMethod": "POST",
                        "ThrottlingRateLimit": auth_start_throttle.rate_per_s,
                        "ThrottlingBurstLimit": auth_start_throttle.burst,
                        "DataTraceEnabled": False,
                    }
                    for path in AUTH_START_PATHS
                ),
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
            log_group_name=api_access_log_group_name(stage),
            retention=LOG_RETENTION,
            encryption_key=data.ops_key,
            removal_policy=removal_policy(stage),
        )
        rest_api.add_property_override(
            "AccessLogSetting",
            {
                # API Gateway wants the group's ARN without the ":*" that its Arn attribute ends with.
                "DestinationArn": cdk.Stack.of(self).format_arn(
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

        def path_starts_with(paths: Sequence[str]) -> wafv2.CfnWebACL.StatementProperty:
            """The URI path starts with any of `paths`. Through the execute-api URL the path carries the stage
            ("/api/auth/..."); through a custom domain mapped to the stage it does not. Decoded and
            normalised first ("//", "./", %2F)."""
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
                        for path in paths
                        for prefix in (f"/{API_GATEWAY_STAGE}", "")
                    ]
                )
            )

        def rate_rule(name: str, priority: int, limit: int, paths: Sequence[str]) -> wafv2.CfnWebACL.RuleProperty:
            return wafv2.CfnWebACL.RuleProperty(
                name=name,
                priority=priority,
                statement=wafv2.CfnWebACL.StatementProperty(
                    rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                        aggregate_key_type="IP",
                        limit=limit,
                        evaluation_window_sec=WAF_RATE_WINDOW_S,
                        scope_down_statement=path_starts_with(paths),
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
                # One count per IP over every start route together (a rate-based rule counts what its
                # scope-down matches); the starts count against AuthPerIp too. Each path costs 2 byte
                # matches of 22 WCUs; the ACL is ~1150 of the 1500 WCUs in the base price (test_eid_start_limits).
                rate_rule("AuthStartPerIp", 1, auth_start_rate_limit, AUTH_START_PATHS),
                rate_rule("AuthPerIp", 2, auth_rate_limit, AUTH_FLOW_PREFIXES),
                # The common rule set blocks bodies over 8 KB; the app takes JSON up to 256 KB and answers
                # 413 itself (attachments go to S3 directly), so that one rule only counts.
                managed_rule("AWSManagedRulesCommonRuleSet", 3, count_only=("SizeRestrictions_BODY",)),
                managed_rule("AWSManagedRulesKnownBadInputsRuleSet", 4),
            ],
        )
