"""Appointment notices (issue 9) in the synthesized stack: the bookings and release queues with their
DLQs and alarms, the sparse release index gsi5, the bookings bus, release_notices' two Stockholm
schedules, and each notice function's least privilege. Plus the registry's `Evenings` trigger."""

from __future__ import annotations

from typing import Any

import pytest

from infra.definitions import BOOKINGS_BUS, BOOKINGS_QUEUE, MAIN_TABLE, NOTICE_RELEASE_QUEUE, resource_name
from infra.functions import CATCH_UP, FUNCTIONS, Evenings, Function, schedules

from .test_stack import (
    REGION,
    STAGE,
    _allowed_dynamodb,
    _mapping,
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

NOTICE_FUNCTIONS = ("booking_events", "release_notices", "release_due_notices", "report_unread_notices")


def _queue_id(t: dict[str, Any], name: str) -> str:
    (found,) = [k for k, q in resources(t, "AWS::SQS::Queue").items() if q["Properties"]["QueueName"] == name]
    return found


def _data_key(t: dict[str, Any]) -> str:
    return next(k for k in resources(t, "AWS::KMS::Key") if k.startswith("DataDataKey"))


def _bus(t: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    ((bus_id, bus),) = resources(t, "AWS::Events::EventBus").items()
    return bus_id, bus["Properties"]


def _depth_alarms(t: dict[str, Any], queue_id: str) -> list[dict[str, Any]]:
    return [
        a["Properties"]
        for a in resources(t, "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
        and {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}} in a["Properties"]["Dimensions"]
    ]


# --- queues, index, bus ---------------------------------------------------------------------------


@pytest.mark.parametrize(("queue", "visibility_s"), [(BOOKINGS_QUEUE, 60), (NOTICE_RELEASE_QUEUE, 360)])
def test_notice_queues_are_encrypted_with_a_dlq_after_five_receives_and_an_alarm(
    template_dict: dict[str, Any], queue: Any, visibility_s: int
) -> None:
    name = resource_name(STAGE, queue.logical_id)
    props = resources(template_dict, "AWS::SQS::Queue")[_queue_id(template_dict, name)]["Properties"]
    assert props["VisibilityTimeout"] == visibility_s == queue.visibility_timeout_s
    assert props["KmsMasterKeyId"] == {"Fn::GetAtt": [_data_key(template_dict), "Arn"]}
    dlq_id = props["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
    assert props["RedrivePolicy"]["maxReceiveCount"] == 5
    dlq = resources(template_dict, "AWS::SQS::Queue")[dlq_id]["Properties"]
    assert dlq["QueueName"] == f"{name}-dlq"
    assert dlq["KmsMasterKeyId"] == {"Fn::GetAtt": [_data_key(template_dict), "Arn"]}
    (alarm,) = _depth_alarms(template_dict, dlq_id)
    assert alarm["AlarmName"] == f"e-services-{STAGE}-{queue.logical_id}DlqDepth"
    assert alarm["Threshold"] == 1 and alarm["AlarmActions"]


def test_the_release_queue_outlasts_its_worker(template_dict: dict[str, Any]) -> None:
    """A release running to its timeout is never received by a second worker meanwhile."""
    worker = function_named(template_dict, "release_due_notices")["Properties"]
    assert worker["Timeout"] == 300 < NOTICE_RELEASE_QUEUE.visibility_timeout_s
    assert worker["MemorySize"] == 1024


def test_the_main_table_has_the_sparse_release_index(template_dict: dict[str, Any]) -> None:
    props = resources(template_dict, "AWS::DynamoDB::Table")[table_id(template_dict, MAIN_TABLE.logical_id)][
        "Properties"
    ]
    (gsi5,) = [i for i in props["GlobalSecondaryIndexes"] if i["IndexName"] == "gsi5"]
    assert gsi5["KeySchema"] == [
        {"AttributeName": "gsi5pk", "KeyType": "HASH"},
        {"AttributeName": "gsi5sk", "KeyType": "RANGE"},
    ]
    assert gsi5["Projection"] == {"ProjectionType": "ALL"}
    assert {"AttributeName": "gsi5pk", "AttributeType": "S"} in props["AttributeDefinitions"]
    assert {"AttributeName": "gsi5sk", "AttributeType": "S"} in props["AttributeDefinitions"]


def test_the_bookings_bus_is_encrypted_with_the_data_key_and_dead_letters_to_an_alarmed_queue(
    template_dict: dict[str, Any],
) -> None:
    bus_id, bus = _bus(template_dict)
    assert bus["Name"] == resource_name(STAGE, BOOKINGS_BUS.logical_id)
    assert bus["KmsKeyIdentifier"] == {"Fn::GetAtt": [_data_key(template_dict), "Arn"]}
    assert not resources(template_dict, "AWS::Events::EventBusPolicy")  # this account's roles only
    bus_arn = f"arn:aws:events:{REGION}:${{AWS::AccountId}}:event-bus/{bus['Name']}"
    # EventBridge may use the data key for this bus only.
    key = resources(template_dict, "AWS::KMS::Key")[_data_key(template_dict)]["Properties"]["KeyPolicy"]
    for_events = [s for s in key["Statement"] if s.get("Principal") == {"Service": "events.amazonaws.com"}]
    assert for_events
    for statement in for_events:
        assert render(statement["Condition"]["StringEquals"]["aws:SourceArn"]) == bus_arn
    # Its dead-letter queue: SSE-SQS (it takes events when the data key is unusable; they stay encrypted
    # with it), TLS only, 14 days, alarmed, and only this bus may send to it.
    dlq_id = bus["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    dlq = resources(template_dict, "AWS::SQS::Queue")[dlq_id]["Properties"]
    assert dlq["SqsManagedSseEnabled"] is True and dlq["MessageRetentionPeriod"] == 14 * 24 * 3600
    (alarm,) = _depth_alarms(template_dict, dlq_id)
    assert alarm["AlarmActions"]
    (policy,) = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in resources(template_dict, "AWS::SQS::QueuePolicy").values()
        if p["Properties"]["Queues"] == [{"Ref": dlq_id}]
    ]
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in policy)
    (allowed,) = [s for s in policy if s["Effect"] == "Allow"]
    assert allowed["Principal"] == {"Service": "events.amazonaws.com"} and allowed["Action"] == "sqs:SendMessage"
    assert render(allowed["Condition"]["ArnEquals"]["aws:SourceArn"]) == bus_arn
    assert bus_id.startswith("DataBookingsBus")


# --- release_notices' schedules -------------------------------------------------------------------


def test_release_notices_runs_every_five_minutes_of_a_stockholm_evening_and_catches_up_at_0630(
    template_dict: dict[str, Any],
) -> None:
    found = {
        s["Properties"]["ScheduleExpression"]: s["Properties"]
        for s in resources(template_dict, "AWS::Scheduler::Schedule").values()
        if f":function:{resource_name(STAGE, 'release_notices')}" in render(s["Properties"]["Target"]["Arn"])
    }
    assert set(found) == {"cron(0/5 18-23 * * ? *)", "cron(30 6 * * ? *)"}
    roles = resources(template_dict, "AWS::IAM::Role")
    role_ids, dlq_ids = set(), set()
    for expression, props in found.items():
        assert props["ScheduleExpressionTimezone"] == "Europe/Stockholm"
        assert props["FlexibleTimeWindow"] == {"Mode": "OFF"}
        target = props["Target"]
        role_id = target["RoleArn"]["Fn::GetAtt"][0]
        role_ids.add(role_id)
        role = roles[role_id]["Properties"]
        assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "scheduler.amazonaws.com"}
        (invoke,) = [s for s in statements(role["Policies"]) if s["Action"] == "lambda:InvokeFunction"]
        assert invoke["Resource"] == target["Arn"]
        dlq_ids.add(assert_alarmed_encrypted_failure_queue(template_dict, target["DeadLetterConfig"]["Arn"]))
        # A run not delivered within the period is superseded by the next one.
        assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] == (300 if "0/5" in expression else 24 * 3600)
    assert len(role_ids) == 2 and len(dlq_ids) == 2  # each schedule its own role and dead-letter queue
    names = {p["Name"] for p in found.values()}
    assert names == {resource_name(STAGE, "release_notices"), resource_name(STAGE, f"release_notices-{CATCH_UP}")}


def test_report_unread_notices_runs_daily_at_0700_stockholm(template_dict: dict[str, Any]) -> None:
    (props,) = [
        s["Properties"]
        for s in resources(template_dict, "AWS::Scheduler::Schedule").values()
        if s["Properties"]["Name"] == resource_name(STAGE, "report_unread_notices")
    ]
    assert props["ScheduleExpression"] == "cron(0 7 * * ? *)"
    assert props["ScheduleExpressionTimezone"] == "Europe/Stockholm"


def test_notice_consumers_are_fed_with_their_batch_and_cap(template_dict: dict[str, Any]) -> None:
    bookings = _mapping(template_dict, "booking_events")
    assert bookings["EventSourceArn"] == {
        "Fn::GetAtt": [_queue_id(template_dict, resource_name(STAGE, "BookingsQueue")), "Arn"]
    }
    assert bookings["BatchSize"] == 10 and bookings["ScalingConfig"] == {"MaximumConcurrency": 10}
    assert bookings["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    release = _mapping(template_dict, "release_due_notices")
    assert release["EventSourceArn"] == {
        "Fn::GetAtt": [_queue_id(template_dict, resource_name(STAGE, "NoticeReleaseQueue")), "Arn"]
    }
    assert release["BatchSize"] == 1 and release["ScalingConfig"] == {"MaximumConcurrency": 16}
    assert release["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


# --- least privilege ------------------------------------------------------------------------------


def test_notice_functions_table_permissions_are_exact(template_dict: dict[str, Any]) -> None:
    main = table_id(template_dict, MAIN_TABLE.logical_id)
    writes = {"dynamodb:PutItem"}  # whole-item Puts, alone or in a transaction: never an update
    assert _allowed_dynamodb(template_dict, "booking_events") == {main: {"dynamodb:GetItem", "dynamodb:Query"} | writes}
    assert _allowed_dynamodb(template_dict, "release_notices") == {}  # it reads nothing: it fans out
    assert _allowed_dynamodb(template_dict, "release_due_notices") == {
        main: {"dynamodb:Query", "dynamodb:GetItem"} | writes
    }
    assert _allowed_dynamodb(template_dict, "report_unread_notices") == {
        main: {"dynamodb:Query", "dynamodb:GetItem", "dynamodb:PutItem"}
    }
    # The audit table: none of them.
    audit = table_id(template_dict, "AuditTable")
    for name in NOTICE_FUNCTIONS:
        assert audit not in _allowed_dynamodb(template_dict, name), name


@pytest.mark.parametrize(
    ("name", "indexes"),
    [("release_due_notices", {"gsi5"}), ("report_unread_notices", {"gsi5"}), ("booking_events", set())],
)
def test_the_notice_functions_query_only_the_index_they_use(
    template_dict: dict[str, Any], name: str, indexes: set[str]
) -> None:
    """Due notices are read by key through the sparse index (never a scan, never another index); the
    booking consumer queries one clinic's partition of the table and no index."""
    queried = [
        render(resource)
        for statement in _role_statements(template_dict, name)
        if "dynamodb:Query" in as_list(statement["Action"])
        for resource in as_list(statement["Resource"])
    ]
    assert {text.rsplit("/index/", 1)[1] for text in queried if "/index/" in text} == indexes
    assert not any("scan" in a.lower() for s in _role_statements(template_dict, name) for a in as_list(s["Action"]))


def test_only_report_unread_notices_puts_events_and_only_on_the_bookings_bus(template_dict: dict[str, Any]) -> None:
    bus_id, _ = _bus(template_dict)
    found: dict[str, list[Any]] = {}
    for name in FUNCTIONS:
        for statement in _role_statements(template_dict, name):
            if statement["Effect"] == "Allow" and any(a.startswith("events:") for a in as_list(statement["Action"])):
                assert as_list(statement["Action"]) == ["events:PutEvents"], (name, statement)
                found.setdefault(name, []).extend(as_list(statement["Resource"]))
    assert found == {"report_unread_notices": [{"Fn::GetAtt": [bus_id, "Arn"]}]}
    # Nothing anywhere else may put events (no other role mentions EventBridge actions).
    for statement in statements(template_dict["Resources"]):
        actions = [a for a in as_list(statement.get("Action", [])) if isinstance(a, str) and a.startswith("events:")]
        assert actions in ([], ["events:PutEvents"]), statement


def test_who_sends_to_the_notice_queues(template_dict: dict[str, Any]) -> None:
    """Only release_notices (the fan-out) and release_due_notices (its continuation) send to the release
    queue; no function sends to the bookings queue (the booking systems do)."""
    release = {"Fn::GetAtt": [_queue_id(template_dict, resource_name(STAGE, "NoticeReleaseQueue")), "Arn"]}
    bookings = {"Fn::GetAtt": [_queue_id(template_dict, resource_name(STAGE, "BookingsQueue")), "Arn"]}

    def senders(queue: dict[str, Any]) -> set[str]:
        return {
            name
            for name in FUNCTIONS
            if any(
                "sqs:SendMessage" in as_list(s["Action"]) and queue in as_list(s["Resource"])
                for s in _role_statements(template_dict, name)
            )
        }

    assert senders(release) == {"release_notices", "release_due_notices"}
    assert senders(bookings) == set()


def test_booking_events_reads_the_hmac_key_and_no_other_secret(template_dict: dict[str, Any]) -> None:
    env = function_named(template_dict, "booking_events")["Properties"]["Environment"]["Variables"]
    read = [
        s["Resource"]
        for s in _role_statements(template_dict, "booking_events")
        if s["Action"] == "secretsmanager:GetSecretValue"
    ]
    assert read == [env["PNR_HMAC_SECRET_ARN"]]
    for name in ("release_notices", "release_due_notices", "report_unread_notices"):
        assert not [s for s in _role_statements(template_dict, name) if s["Action"] == "secretsmanager:GetSecretValue"]


@pytest.mark.parametrize("name", NOTICE_FUNCTIONS)
def test_notice_functions_learn_the_queue_and_bus_names(template_dict: dict[str, Any], name: str) -> None:
    env = function_named(template_dict, name)["Properties"]["Environment"]["Variables"]
    bus_id, _ = _bus(template_dict)
    assert env["BOOKINGS_BUS"] == {"Ref": bus_id}
    for queue in (BOOKINGS_QUEUE, NOTICE_RELEASE_QUEUE):
        queue_id = _queue_id(template_dict, resource_name(STAGE, queue.logical_id))
        assert env[queue.env_var] == {"Ref": queue_id}  # the queue's URL


# --- the registry's Evenings trigger (no synth) ---------------------------------------------------


def test_an_evenings_trigger_is_two_schedules_the_stack_and_the_pump_share() -> None:
    function = Function("evening_job", Evenings(from_hour=18, every_minutes=5, catch_up_hour=6, catch_up_minute=30))
    evening, catch_up = schedules((function,))
    assert (evening.name, evening.expression, evening.period_s) == ("evening_job", "cron(0/5 18-23 * * ? *)", 300)
    assert (catch_up.name, catch_up.expression, catch_up.period_s) == (
        "evening_job-catch-up",
        "cron(30 6 * * ? *)",
        24 * 3600,
    )
    assert function.invoked_asynchronously  # Scheduler invokes asynchronously: an on-failure queue
    (late, _) = schedules((Function("late", Evenings(from_hour=23, every_minutes=30, catch_up_hour=0)),))
    assert late.expression == "cron(0/30 23 * * ? *)"


@pytest.mark.parametrize(
    "values",
    [
        {"from_hour": 0, "every_minutes": 5, "catch_up_hour": 6},  # a window of the whole day: use Every
        {"from_hour": 24, "every_minutes": 5, "catch_up_hour": 6},
        {"from_hour": 18, "every_minutes": 7, "catch_up_hour": 6},  # 0/7 would restart at :00 each hour
        {"from_hour": 18, "every_minutes": 60, "catch_up_hour": 6},
        {"from_hour": 18, "every_minutes": 0, "catch_up_hour": 6},
        {"from_hour": 18, "every_minutes": 5, "catch_up_hour": 18},  # the catch-up inside the window
        {"from_hour": 18, "every_minutes": 5, "catch_up_hour": 20},
        {"from_hour": 18, "every_minutes": 5, "catch_up_hour": 6, "catch_up_minute": 60},
        {"from_hour": 18, "every_minutes": 5, "catch_up_hour": -1},
    ],
)
def test_an_evenings_trigger_refuses_what_it_cannot_mean(values: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        Evenings(**values)
