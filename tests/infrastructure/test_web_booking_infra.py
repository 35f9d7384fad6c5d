"""Web booking (issue 11) in the synthesized stack: reconcile_bookings every minute with its own invoker
role and dead-letter queue, its least privilege (gsi5 only, the HMAC key and the booking-systems secret),
the booking-systems secret (a placeholder operators fill, read by two functions only), and the alarms on
the booking systems' errors and on bookings left in between."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.definitions import AUDIT_TABLE, MAIN_TABLE, resource_name
from infra.functions import BOOKING_SYSTEMS_ARN_VAR, FUNCTIONS, HMAC_ARN_VAR, Every, Function, schedules

from .test_stack import (
    STAGE,
    _allowed_dynamodb,
    _role_statements,
    as_list,
    assert_alarmed_encrypted_failure_queue,
    function_named,
    render,
    resources,
    statements,
    table_id,
)

pytestmark = pytest.mark.infrastructure

NAME = "reconcile_bookings"
READERS = {"api_handler", NAME}  # the only functions that may read the booking-systems secret


def _secret(t: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    (found,) = [
        (k, s)
        for k, s in resources(t, "AWS::SecretsManager::Secret").items()
        if s["Properties"]["Name"] == f"e-services/{STAGE}/booking-systems"
    ]
    return found


def _secrets_read(t: dict[str, Any], name: str) -> list[Any]:
    return [
        resource
        for s in _role_statements(t, name)
        if s["Effect"] == "Allow" and "secretsmanager:GetSecretValue" in as_list(s["Action"])
        for resource in as_list(s["Resource"])
    ]


def _invoke_config(t: dict[str, Any]) -> dict[str, Any]:
    (config,) = [
        c["Properties"]
        for c in resources(t, "AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == resource_name(STAGE, NAME)
    ]
    return config


def _app_alarm(t: dict[str, Any], metric: str, **dimensions: str) -> dict[str, Any]:
    env = function_named(t, "api_handler")["Properties"]["Environment"]["Variables"]
    # Powertools adds the service dimension next to the metric's own: the alarm must name the full set.
    wanted = sorted(
        [{"Name": "service", "Value": env["POWERTOOLS_SERVICE_NAME"]}]
        + [{"Name": k, "Value": v} for k, v in dimensions.items()],
        key=lambda d: d["Name"],
    )
    (alarm,) = [
        a["Properties"]
        for a in resources(t, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == metric
        and sorted(a["Properties"]["Dimensions"], key=lambda d: d["Name"]) == wanted
    ]
    assert alarm["Namespace"] == env["POWERTOOLS_METRICS_NAMESPACE"] == "EServices"
    (topic,) = [k for k in resources(t, "AWS::SNS::Topic") if k.startswith("DataAlarmTopic")]
    assert alarm["AlarmActions"] == [{"Ref": topic}]
    assert alarm["TreatMissingData"] == "notBreaching"
    return alarm


# --- the schedule ---------------------------------------------------------------------------------


def test_reconcile_bookings_runs_every_minute_with_its_own_role_and_dead_letter_queue(
    template_dict: dict[str, Any],
) -> None:
    (props,) = [
        s["Properties"]
        for s in resources(template_dict, "AWS::Scheduler::Schedule").values()
        if s["Properties"]["Name"] == resource_name(STAGE, NAME)
    ]
    assert props["ScheduleExpression"] == "rate(1 minute)"  # singular: EventBridge refuses "rate(1 minutes)"
    assert props["ScheduleExpressionTimezone"] == "Europe/Stockholm"
    assert props["FlexibleTimeWindow"] == {"Mode": "OFF"}
    target = props["Target"]
    assert render(target["Arn"]).endswith(f":function:{resource_name(STAGE, NAME)}")
    role = resources(template_dict, "AWS::IAM::Role")[target["RoleArn"]["Fn::GetAtt"][0]]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "scheduler.amazonaws.com"}
    (invoke,) = [s for s in statements(role["Policies"]) if s["Action"] == "lambda:InvokeFunction"]
    assert invoke["Resource"] == target["Arn"]
    assert_alarmed_encrypted_failure_queue(template_dict, target["DeadLetterConfig"]["Arn"])
    # A run not delivered within the minute is superseded by the next one.
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 60}


def test_reconcile_bookings_has_its_timeout_and_an_alarmed_on_failure_queue(template_dict: dict[str, Any]) -> None:
    props = function_named(template_dict, NAME)["Properties"]
    assert props["Timeout"] == 60 and props["Handler"].endswith(f".{NAME}")
    config = _invoke_config(template_dict)
    assert_alarmed_encrypted_failure_queue(template_dict, config["DestinationConfig"]["OnFailure"]["Destination"])
    assert not [
        m
        for m in resources(template_dict, "AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == resource_name(STAGE, NAME)
    ]


def test_an_every_minute_trigger_is_rate_1_minute() -> None:
    (schedule,) = schedules((Function("each_minute", Every(minutes=1)),))
    assert (schedule.expression, schedule.period_s) == ("rate(1 minute)", 60)
    (schedule,) = schedules((Function("each_quarter", Every(minutes=15)),))
    assert schedule.expression == "rate(15 minutes)"


# --- least privilege ------------------------------------------------------------------------------


def test_reconcile_bookings_table_permissions_are_exact(template_dict: dict[str, Any]) -> None:
    """Reads by key and through gsi5; writes one transaction per booking (no batch writes), and only appends
    to the audit log (a guardian's booking for a child leaves its proxy trace there)."""
    main, audit = (table_id(template_dict, t.logical_id) for t in (MAIN_TABLE, AUDIT_TABLE))
    assert _allowed_dynamodb(template_dict, NAME) == {
        main: {
            "dynamodb:Query",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:ConditionCheckItem",
        },
        audit: {"dynamodb:PutItem"},
    }


def test_reconcile_bookings_queries_only_gsi5(template_dict: dict[str, Any]) -> None:
    queried = [
        render(resource)
        for statement in _role_statements(template_dict, NAME)
        if "dynamodb:Query" in as_list(statement["Action"])
        for resource in as_list(statement["Resource"])
    ]
    assert {text.rsplit("/index/", 1)[1] for text in queried if "/index/" in text} == {"gsi5"}
    allowed = [s for s in _role_statements(template_dict, NAME) if s["Effect"] == "Allow"]
    actions = {a for s in allowed for a in as_list(s["Action"])}
    assert not {a for a in actions if "Scan" in a or a.startswith(("events:", "sns:", "ses:", "s3:"))}
    # It sends to no queue but its own on-failure queue (Lambda's destination, sent as the function's role).
    sent_to = [r for s in allowed if "sqs:SendMessage" in as_list(s["Action"]) for r in as_list(s["Resource"])]
    assert sent_to == [_invoke_config(template_dict)["DestinationConfig"]["OnFailure"]["Destination"]]


def test_reconcile_bookings_reads_exactly_the_hmac_key_and_the_booking_systems_secret(
    template_dict: dict[str, Any],
) -> None:
    env = function_named(template_dict, NAME)["Properties"]["Environment"]["Variables"]
    secret_id, _ = _secret(template_dict)
    assert env[BOOKING_SYSTEMS_ARN_VAR] == {"Ref": secret_id}
    assert sorted(_secrets_read(template_dict, NAME), key=str) == sorted(
        [env[HMAC_ARN_VAR], env[BOOKING_SYSTEMS_ARN_VAR]], key=str
    )


def test_only_the_api_and_the_reconciler_may_read_the_booking_systems_secret(template_dict: dict[str, Any]) -> None:
    secret_id, _ = _secret(template_dict)
    readers = {name for name in FUNCTIONS if {"Ref": secret_id} in _secrets_read(template_dict, name)}
    assert readers == READERS
    assert {name for name, f in FUNCTIONS.items() if BOOKING_SYSTEMS_ARN_VAR in f.secrets} == READERS
    # Nothing else in the stack mentions the secret in a permission (no wildcard reaches it either).
    for statement in statements(template_dict["Resources"]):
        actions = [a for a in as_list(statement.get("Action", [])) if isinstance(a, str)]
        if any(a.startswith("secretsmanager:") for a in actions):
            assert actions == ["secretsmanager:GetSecretValue"], statement
            assert "*" not in json.dumps(statement["Resource"]), statement
    api = {render(r) for r in _secrets_read(template_dict, "api_handler")}
    assert "${" + secret_id + "}" in api


# --- the secret -----------------------------------------------------------------------------------


def test_the_booking_systems_secret_is_an_encrypted_retained_placeholder(template_dict: dict[str, Any]) -> None:
    secret_id, secret = _secret(template_dict)
    props = secret["Properties"]
    assert secret["DeletionPolicy"] == secret["UpdateReplacePolicy"] == "Retain"
    data_key = next(k for k in resources(template_dict, "AWS::KMS::Key") if k.startswith("DataDataKey"))
    assert props["KmsKeyId"] == {"Fn::GetAtt": [data_key, "Arn"]}
    # The shape the app reads, with nothing in it: operators fill it after the first deploy (README).
    assert json.loads(props["SecretString"]) == {
        "PASiS": {"url": "", "apiKey": ""},
        "PMO": {"url": "", "apiKey": ""},
    }
    assert "GenerateSecretString" not in props
    assert "PASiS" in props["Description"] and "apiKey" in props["Description"]
    assert template_dict["Outputs"]["BookingSystemsSecretArn"]["Value"] == {"Ref": secret_id}
    assert secret_id.startswith("DataBookingSystemsSecret")


# --- alarms ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("system", ["PASiS", "PMO"])
def test_each_booking_system_has_an_error_alarm(template_dict: dict[str, Any], system: str) -> None:
    alarm = _app_alarm(template_dict, "BookingSystemError", System=system)
    assert alarm["AlarmName"] == f"e-services-{STAGE}-BookingSystemErrors{system}"
    assert alarm["Statistic"] == "Sum" and alarm["Period"] == 300 and alarm["EvaluationPeriods"] == 1
    assert alarm["Threshold"] == 5 and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert system in alarm["AlarmDescription"]


def test_bookings_left_in_between_for_15_minutes_raise_an_alarm(template_dict: dict[str, Any]) -> None:
    alarm = _app_alarm(template_dict, "BookingReconcileBacklog")
    assert alarm["AlarmName"] == f"e-services-{STAGE}-BookingReconcileBacklog"
    assert alarm["Statistic"] == "Maximum" and alarm["Period"] == 300
    # Every period of the 15 minutes above 0 (DatapointsToAlarm defaults to EvaluationPeriods).
    assert alarm["EvaluationPeriods"] == 3 and alarm.get("DatapointsToAlarm", 3) == 3
    assert alarm["Threshold"] == 1 and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_the_dashboard_shows_web_booking(template_dict: dict[str, Any]) -> None:
    from .test_stack import dashboard_metrics

    shown = dashboard_metrics(template_dict)
    service = {"service": "e-services"}
    for system in ("PASiS", "PMO"):
        assert ("EServices", "BookingSystemError", service | {"System": system}, "Sum") in shown
    assert ("EServices", "BookingReconcileBacklog", service, "Maximum") in shown
    assert ("EServices", "BookingsReconciled", service, "Sum") in shown


# --- the API's timeout ----------------------------------------------------------------------------


def test_the_api_timeout_outlasts_a_booking_system_call(template_dict: dict[str, Any]) -> None:
    """The adapters bound a call (connect, read, one resolve and one retry) at 10 s; the API has 15."""
    from chalicelib.web_booking import adapters

    props = function_named(template_dict, "api_handler")["Properties"]
    assert props["Timeout"] == FUNCTIONS["api_handler"].timeout_s == 15
    assert adapters.CONNECT_TIMEOUT_S <= 2 and adapters.READ_TIMEOUT_S <= 5
    assert props["Timeout"] > 10
