"""The 13th birthday (issue 10) in the synthesized stack: birthday_reset just after midnight Stockholm
time, with its own invoker role and dead-letter queue, and least privilege (the birthday index only)."""

from __future__ import annotations

from typing import Any

import pytest

from infra.definitions import resource_name

from .test_stack import STAGE, _allowed_dynamodb, _role_statements, as_list, render, resources, table_id

pytestmark = pytest.mark.infrastructure


def test_birthday_reset_runs_daily_at_0005_stockholm_with_a_role_and_a_dead_letter_queue(
    template_dict: dict[str, Any],
) -> None:
    (props,) = [
        s["Properties"]
        for s in resources(template_dict, "AWS::Scheduler::Schedule").values()
        if s["Properties"]["Name"] == resource_name(STAGE, "birthday_reset")
    ]
    assert props["ScheduleExpression"] == "cron(5 0 * * ? *)"
    assert props["ScheduleExpressionTimezone"] == "Europe/Stockholm"
    assert props["Target"]["RoleArn"] and props["Target"]["DeadLetterConfig"]["Arn"]


def test_birthday_reset_may_only_query_the_birthday_index_update_and_audit(template_dict: dict[str, Any]) -> None:
    main, audit = (table_id(template_dict, t) for t in ("MainTable", "AuditTable"))
    assert _allowed_dynamodb(template_dict, "birthday_reset") == {
        main: {"dynamodb:Query", "dynamodb:GetItem", "dynamodb:UpdateItem"},
        audit: {"dynamodb:PutItem"},
    }
    queried = [
        render(resource)
        for statement in _role_statements(template_dict, "birthday_reset")
        if "dynamodb:Query" in as_list(statement["Action"])
        for resource in as_list(statement["Resource"])
    ]
    assert {text.rsplit("/index/", 1)[1] for text in queried if "/index/" in text} == {"gsi5"}
