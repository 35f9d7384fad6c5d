"""Forms care sends (R-51): keys, item shape and the DynamoDB calls.

FORM#<formId> / FORM    the citizen it was sent to, the clinic and case type, who sent it, the message,
                        the form as sent (`version`, `components`), `state` sent → answered (with
                        `caseId`, `answeredAt`), `expiresAt` (TTL)

The citizen's inbox item of the form (kind `form`, item id = form id) is written through `arrivals`.
Answering moves `state` from `sent` to `answered` by a conditional update in the transaction that opens
the case, so a form is answered once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from chalicelib.core import dynamo
from chalicelib.core.config import settings
from chalicelib.core.unit_of_work import UnitOfWork


def form_key(form_id: str) -> dict[str, Any]:
    return dynamo.key(f"FORM#{form_id}", "FORM")


class FormRepository(Protocol):
    def add_form(self, uow: UnitOfWork, form: dict[str, Any]) -> None: ...

    def get_form(self, form_id: str) -> dict[str, Any] | None: ...

    def mark_answered(
        self,
        uow: UnitOfWork,
        form_id: str,
        *,
        citizen_id: str,
        case_id: str,
        at: str,
        answered: Callable[[], BaseException],
    ) -> None: ...


class DynamoForms:
    def add_form(self, uow: UnitOfWork, form: dict[str, Any]) -> None:
        """A new form (its id is new: derived from the sender's Idempotency-Key or random)."""
        item = {**{k: v["S"] for k, v in form_key(form["formId"]).items()}, "type": "form", **form}
        uow.add(
            {
                "Put": {
                    "TableName": settings().main_table,
                    "Item": dynamo.to_item(item),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        )

    def get_form(self, form_id: str) -> dict[str, Any] | None:
        item = (
            dynamo.client()
            .get_item(TableName=settings().main_table, Key=form_key(form_id), ConsistentRead=True)
            .get("Item")
        )
        return dynamo.from_item(item) if item else None

    def mark_answered(
        self,
        uow: UnitOfWork,
        form_id: str,
        *,
        citizen_id: str,
        case_id: str,
        at: str,
        answered: Callable[[], BaseException],
    ) -> None:
        """`sent` → `answered` by `case_id`, only while it is still unanswered (`answered()` otherwise)."""
        uow.add(
            {
                "Update": {
                    "TableName": settings().main_table,
                    "Key": form_key(form_id),
                    "UpdateExpression": "SET #state = :answered, caseId = :case, answeredAt = :at",
                    "ConditionExpression": "#state = :sent AND citizenId = :citizen",
                    "ExpressionAttributeNames": {"#state": "state"},
                    "ExpressionAttributeValues": dynamo.values(
                        answered="answered", sent="sent", case=case_id, at=at, citizen=citizen_id
                    ),
                }
            },
            on_failed=answered,
        )


DYNAMO = DynamoForms()
