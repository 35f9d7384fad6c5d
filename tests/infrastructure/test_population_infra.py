"""Population events (issue 10, R-32) in the synthesized stack: the population events queue with its DLQ
and alarm, `population_events` fed from it with partial batch failures and a concurrency cap, and the
function's least privilege (lookups by key, audit entries, the HMAC key; nothing else)."""

from __future__ import annotations

from typing import Any

import pytest

from infra.definitions import AUDIT_TABLE, MAIN_TABLE, POPULATION_EVENTS_QUEUE, resource_name
from infra.functions import FUNCTIONS, QueueMessages

from .test_notice_infra import _data_key, _depth_alarms, _queue_id
from .test_stack import (
    STAGE,
    _allowed_dynamodb,
    _mapping,
    _role_statements,
    as_list,
    function_named,
    resources,
    table_id,
)

pytestmark = pytest.mark.infrastructure

NAME = "population_events"


def test_the_registry_declares_the_consumer_of_the_population_events_queue() -> None:
    function = FUNCTIONS[NAME]
    assert isinstance(function.trigger, QueueMessages) and function.trigger.queue == POPULATION_EVENTS_QUEUE
    assert POPULATION_EVENTS_QUEUE.visibility_timeout_s >= function.timeout_s


def test_the_queue_is_encrypted_with_a_dlq_after_five_receives_and_an_alarm(template_dict: dict[str, Any]) -> None:
    name = resource_name(STAGE, POPULATION_EVENTS_QUEUE.logical_id)
    props = resources(template_dict, "AWS::SQS::Queue")[_queue_id(template_dict, name)]["Properties"]
    assert props["VisibilityTimeout"] == 60 == POPULATION_EVENTS_QUEUE.visibility_timeout_s
    assert props["KmsMasterKeyId"] == {"Fn::GetAtt": [_data_key(template_dict), "Arn"]}
    assert props["RedrivePolicy"]["maxReceiveCount"] == 5
    dlq_id = props["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
    dlq = resources(template_dict, "AWS::SQS::Queue")[dlq_id]["Properties"]
    assert dlq["QueueName"] == f"{name}-dlq"
    assert dlq["KmsMasterKeyId"] == {"Fn::GetAtt": [_data_key(template_dict), "Arn"]}
    (alarm,) = _depth_alarms(template_dict, dlq_id)
    assert alarm["AlarmName"] == f"e-services-{STAGE}-PopulationEventsQueueDlqDepth"
    assert alarm["Threshold"] == 1 and alarm["AlarmActions"]


def test_the_consumer_takes_batches_of_ten_reports_partial_failures_and_is_capped(
    template_dict: dict[str, Any],
) -> None:
    mapping = _mapping(template_dict, NAME)
    queue_id = _queue_id(template_dict, resource_name(STAGE, POPULATION_EVENTS_QUEUE.logical_id))
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    assert mapping["BatchSize"] == 10 and mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 5}  # the register takes no backlog's full force
    function = function_named(template_dict, NAME)["Properties"]
    assert function["Timeout"] == 30 and function["Environment"]["Variables"][POPULATION_EVENTS_QUEUE.env_var] == {
        "Ref": queue_id
    }


def test_population_events_reads_lookups_by_key_and_only_appends_to_the_audit_log(
    template_dict: dict[str, Any],
) -> None:
    main, audit = table_id(template_dict, MAIN_TABLE.logical_id), table_id(template_dict, AUDIT_TABLE.logical_id)
    assert _allowed_dynamodb(template_dict, NAME) == {main: {"dynamodb:BatchGetItem"}, audit: {"dynamodb:PutItem"}}
    statements = _role_statements(template_dict, NAME)
    actions = {a for s in statements if s["Effect"] == "Allow" for a in as_list(s["Action"])}
    assert not {a for a in actions if "Scan" in a or "Query" in a}
    assert not any("/index/" in str(r) for s in statements for r in as_list(s["Resource"]))
    assert not {a for a in actions if a.startswith(("sqs:Send", "events:", "sns:", "ses:", "s3:"))}


def test_population_events_reads_the_hmac_key_and_no_other_secret(template_dict: dict[str, Any]) -> None:
    env = function_named(template_dict, NAME)["Properties"]["Environment"]["Variables"]
    read = [
        s["Resource"] for s in _role_statements(template_dict, NAME) if s["Action"] == "secretsmanager:GetSecretValue"
    ]
    assert read == [env["PNR_HMAC_SECRET_ARN"]]
    assert "POPULATION_REGISTER_URL" in env  # it reads the person again from the register


def test_no_function_sends_to_the_population_events_queue(template_dict: dict[str, Any]) -> None:
    """The register's feed sends; the app only consumes."""
    queue = {"Fn::GetAtt": [_queue_id(template_dict, resource_name(STAGE, POPULATION_EVENTS_QUEUE.logical_id)), "Arn"]}
    senders = {
        name
        for name in FUNCTIONS
        if any(
            "sqs:SendMessage" in as_list(s["Action"]) and queue in as_list(s["Resource"])
            for s in _role_statements(template_dict, name)
        )
    }
    assert senders == set()
