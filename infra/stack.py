"""The e-services stack: composes the constructs in `infra/parts/` (README "What gets created").

Data resources come from `infra/definitions.py`, the functions and what invokes them from the registry
`infra/functions.py`; this module only puts the parts together and passes the stage's settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
from constructs import Construct

from infra.definitions import BUCKETS, BUSES, QUEUES, TABLES
from infra.functions import FUNCTIONS, Registry
from infra.nag import AcknowledgeSuppressed
from infra.parts import Namespace, logical_id
from infra.parts.api import (
    API_THROTTLE,
    AUTH_START_THROTTLE,
    WAF_AUTH_RATE_LIMIT,
    WAF_AUTH_START_RATE_LIMIT,
    ApiEdge,
    Throttle,
)
from infra.parts.backup import TableBackups
from infra.parts.data import APP_NAME, METRICS_NAMESPACE, DataResources
from infra.parts.functions import Functions, chalice_logical_id
from infra.parts.monitoring import Monitoring
from infra.parts.notifications import (
    DEFAULT_NOTIFICATION_FROM_EMAIL,
    SMS_MONTHLY_SPEND_ALARM_USD,
    Notifications,
    ses_configuration_set_name,
)

__all__ = [  # what infra/app.py and the tests take from here
    "API_THROTTLE",
    "AUTH_START_THROTTLE",
    "DEFAULT_BANKID_API_URL",
    "FREJA_PROD_API_URL",
    "FREJA_TEST_API_URL",
    "WAF_AUTH_RATE_LIMIT",
    "WAF_AUTH_START_RATE_LIMIT",
    "EServicesStack",
    "Throttle",
    "default_freja_api_url",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BANKID_API_URL = "https://appapi2.bankid.com/rp/v6.0/"
# Freja eID's RP API (issue 12), per environment: each has its own client certificates and signing keys.
FREJA_PROD_API_URL = "https://services.prod.frejaeid.com"
FREJA_TEST_API_URL = "https://services.test.frejaeid.com"
PROD_STAGE = "prod"


def default_freja_api_url(stage: str) -> str:
    """Freja's production environment for the prod stage, its test environment for every other stage."""
    return FREJA_PROD_API_URL if stage == PROD_STAGE else FREJA_TEST_API_URL


class EServicesStack(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        bankid_api_url: str = DEFAULT_BANKID_API_URL,
        freja_api_url: str | None = None,  # None: the stage's Freja environment (default_freja_api_url)
        population_register_url: str = "",
        alarm_email: str | None = None,
        source_dir: Path = REPO_ROOT,
        functions: Registry = FUNCTIONS,
        notification_from_email: str = DEFAULT_NOTIFICATION_FROM_EMAIL,
        sms_spend_alarm_usd: float = SMS_MONTHLY_SPEND_ALARM_USD,
        waf_auth_rate_limit: int = WAF_AUTH_RATE_LIMIT,
        waf_auth_start_rate_limit: int = WAF_AUTH_START_RATE_LIMIT,
        api_throttle: Throttle = API_THROTTLE,
        auth_start_throttle: Throttle = AUTH_START_THROTTLE,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        # cdk-nag findings accepted with a reason (infra/nag_suppressions.py), applied at synth.
        cdk.Aspects.of(self).add(AcknowledgeSuppressed())
        self.stage = stage
        if not population_register_url:
            cdk.Annotations.of(self).add_warning_v2(
                "e-services:populationRegisterUrl",
                "populationRegisterUrl context is empty: POPULATION_REGISTER_URL will be blank",
            )
        self.data = data = DataResources(self, "Data", stage=stage, alarm_email=alarm_email)
        self.functions = Functions(
            self,
            "Functions",
            data=data,
            functions=functions,
            source_dir=source_dir,
            environment={
                "STAGE": stage,
                **{t.env_var: data.tables[t.logical_id].table_name for t in TABLES},
                **{q.env_var: data.queues[q.logical_id].queue_url for q in QUEUES},
                **{b.env_var: data.bucket_names[b.logical_id] for b in BUCKETS},
                **{b.env_var: data.buses[b.logical_id].event_bus_name for b in BUSES},
                # Every secret's ARN (HMAC_ARN_VAR, BANKID_CERT_ARN_VAR, BOOKING_SYSTEMS_ARN_VAR, FREJA_ARN_VAR);
                # only the functions naming a secret in the registry may read it (their roles).
                **{env_var: secret.secret_arn for env_var, secret in data.secrets.items()},
                "BANKID_API_URL": bankid_api_url,
                "FREJA_API_URL": freja_api_url or default_freja_api_url(stage),
                "POPULATION_REGISTER_URL": population_register_url,
                "SESSION_TTL_SECONDS": "3600",
                "POWERTOOLS_SERVICE_NAME": APP_NAME,
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                "POWERTOOLS_LOG_LEVEL": "INFO",
                "NOTIFICATION_FROM_EMAIL": notification_from_email,
                "SES_CONFIGURATION_SET": ses_configuration_set_name(stage),
            },
            notification_from_email=notification_from_email,
            ses_configuration_set_name=ses_configuration_set_name(stage),
        )
        if Notifications.needed(self.functions):
            Notifications(
                self, "Notifications", data=data, functions=self.functions, sms_spend_alarm_usd=sms_spend_alarm_usd
            )
        self.api = ApiEdge(
            self,
            "Api",
            data=data,
            functions=self.functions,
            waf_auth_rate_limit=waf_auth_rate_limit,
            waf_auth_start_rate_limit=waf_auth_start_rate_limit,
            api_throttle=api_throttle,
            auth_start_throttle=auth_start_throttle,
        )
        Monitoring(self, "Monitoring", data=data, functions=self.functions, api=self.api)
        TableBackups(self, "Backup", data=data)

        # Chalice already outputs EndpointURL (the API URL); add what operators look up.
        for t in TABLES:
            cdk.CfnOutput(self, f"{t.logical_id}Name", value=data.tables[t.logical_id].table_name)
        cdk.CfnOutput(self, "BankidCertSecretArn", value=data.bankid_cert_secret.secret_arn)
        cdk.CfnOutput(self, "BookingSystemsSecretArn", value=data.booking_systems_secret.secret_arn)
        cdk.CfnOutput(self, "FrejaSecretArn", value=data.freja_secret.secret_arn)
        cdk.CfnOutput(self, "AlarmTopicArn", value=data.alarm_topic.topic_arn)
        for name in functions:
            if name.startswith("admin_"):
                cdk.CfnOutput(self, f"{chalice_logical_id(name)}FunctionName", value=self.functions.names[name])

    def _allocate_logical_id(self, cfn_element: cdk.CfnElement) -> str:
        """CDK's logical ids, with the grouping constructs (`Namespace`) left out of the path: the
        resources of the deployed stack keep their ids (infra/parts/__init__.py)."""
        scopes = cfn_element.node.scopes
        below_stack = scopes[scopes.index(self) + 1 :]
        if not any(isinstance(scope, Namespace) for scope in below_stack):
            return super()._allocate_logical_id(cfn_element)
        return logical_id([scope.node.id for scope in below_stack if not isinstance(scope, Namespace)])
