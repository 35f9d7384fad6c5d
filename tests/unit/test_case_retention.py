"""R-24: the main-table stream's removals through `case_retention` (Powertools' batch processor): a
failed record is reported with every later one, which is left untouched for Lambda's retry."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.cases import events
from chalicelib.core import dynamo


def removal(n: int, *, pk: str = "CASE#", sk: str = "CASE") -> dict[str, Any]:
    image = {"pk": f"{pk}{n}", "sk": sk, "caseId": str(n), "citizenId": "sara"}
    return {
        "eventName": "REMOVE",
        "eventSource": "aws:dynamodb",
        "dynamodb": {
            "Keys": {"pk": {"S": f"{pk}{n}"}, "sk": {"S": sk}},
            "OldImage": dynamo.to_item(image),
            "SequenceNumber": str(n),
        },
    }


@pytest.fixture
def purged(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []

    def purge(case: dict[str, Any]) -> None:
        seen.append(case["caseId"])
        if case["caseId"] == "2":
            raise RuntimeError("DynamoDB unavailable")

    monkeypatch.setattr(events, "purge_case", purge)
    return seen


def test_r24_a_failed_purge_is_reported_with_every_later_record_untouched(purged: list[str]) -> None:
    result = events.case_retention({"Records": [removal(n) for n in (1, 2, 3, 4)]}, None)
    assert result == {"batchItemFailures": [{"itemIdentifier": s} for s in ("2", "3", "4")]}
    assert purged == ["1", "2"]  # 3 and 4 wait for the retry from 2


def test_r24_only_removed_cases_are_purged(purged: list[str]) -> None:
    other = removal(5, pk="CITIZEN#", sk="INBOX#x")
    history = removal(6, sk="HIST#2026")
    assert events.case_retention({"Records": [removal(1), other, history]}, None) == {"batchItemFailures": []}
    assert purged == ["1"]
