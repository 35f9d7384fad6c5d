"""Keys, item shapes and DynamoDB calls for cases, their messages and their append-only history.

CASE#<id> / CASE                  the case; gsi2 = clinic's cases by status; gsi3 (sparse) = due time
                                  while the clinic owes an answer (R-20)
CASE#<id> / MSG#<at>#<message id>  a message (never changed: R-25)
CASE#<id> / HIST#<at>#<id>         a history entry (never changed: R-28)

Writes go into the caller's unit of work; a case update checks the version the caller read and that
the case is still open, and a failed check raises `VersionConflict` (read again and retry).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from chalicelib.core import dynamo
from chalicelib.core.concurrency import VersionConflict
from chalicelib.core.config import settings
from chalicelib.core.ids import new_id

if TYPE_CHECKING:
    from chalicelib.core.idempotency import Guard
    from chalicelib.core.unit_of_work import UnitOfWork

Page = tuple[list[dict[str, Any]], Any]
Thread = tuple[dict[str, Any] | None, list[dict[str, Any]], list[dict[str, Any]]]


class CaseExists(Exception):
    """The new case's id is taken: its id derives from the Idempotency-Key, so this is a retry."""


class CaseRepository(Protocol):
    """What the case services need from storage (DynamoDB here, dicts in the unit tests)."""

    def get_case(self, case_id: str) -> dict[str, Any] | None: ...

    def get_case_and_guard(self, case_id: str, guard: Guard) -> tuple[dict[str, Any] | None, dict[str, Any] | None]: ...

    def get_thread(self, case_id: str) -> Thread: ...

    def clinic_cases(self, clinic_id: str, status: str, limit: int, start: dict[str, Any] | None) -> Page: ...

    def overdue_cases(self, clinic_id: str, now_iso: str, limit: int, start: dict[str, Any] | None) -> Page: ...

    def awaits_answer(self, case: dict[str, Any]) -> bool: ...

    def add_case(self, uow: UnitOfWork, case: dict[str, Any]) -> None: ...

    def add_message(self, uow: UnitOfWork, message: dict[str, Any]) -> None: ...

    def add_history(self, uow: UnitOfWork, case_id: str, entry: dict[str, Any]) -> None: ...

    def update_case(
        self, uow: UnitOfWork, case: dict[str, Any], changes: dict[str, Any], *, awaits_answer: bool | None = None
    ) -> None: ...


def case_key(case_id: str) -> dict[str, Any]:
    return dynamo.key(f"CASE#{case_id}", "CASE")


def status_index(clinic_id: str, status: str, created_at: str, case_id: str) -> dict[str, str]:
    return {"gsi2pk": f"CLINICCASES#{clinic_id}#{status}", "gsi2sk": f"{created_at}#{case_id}"}


def due_index(clinic_id: str, due_at: str, case_id: str) -> dict[str, str]:
    return {"gsi3pk": f"DUE#{clinic_id}", "gsi3sk": f"{due_at}#{case_id}"}


def cursor_scope(clinic_id: str, status: str) -> dict[str, str]:
    """What a page cursor of the clinic's list with this status must name (another list's is refused)."""
    if status == "overdue":
        return {"gsi3pk": f"DUE#{clinic_id}"}
    return {"gsi2pk": f"CLINICCASES#{clinic_id}#{status}"}


def _put_new(uow: UnitOfWork, item: dict[str, Any], **on_failed: Any) -> None:
    """A Put that never overwrites (ids are unique; a retried create finds its first result)."""
    uow.add(
        {
            "Put": {
                "TableName": settings().main_table,
                "Item": dynamo.to_item(item),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        },
        **on_failed,
    )


def _query_all(request: dict[str, Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    while True:
        response = dynamo.client().query(**request)
        items.extend(dynamo.from_item(i) for i in response.get("Items", []))
        if "LastEvaluatedKey" not in response:
            return items
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def _page(request: dict[str, Any], start: dict[str, Any] | None) -> Page:
    if start:
        request["ExclusiveStartKey"] = start
    response = dynamo.client().query(**request)
    return [dynamo.from_item(i) for i in response.get("Items", [])], response.get("LastEvaluatedKey")


class DynamoCaseRepository:
    # ---------------------------------------------------------------- reads

    def get_case(self, case_id: str) -> dict[str, Any] | None:
        item = dynamo.client().get_item(TableName=settings().main_table, Key=case_key(case_id), ConsistentRead=True)
        return dynamo.from_item(item["Item"]) if "Item" in item else None

    def get_case_and_guard(self, case_id: str, guard: Guard) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """The case and its Idempotency-Key guard in one consistent BatchGetItem."""
        table = settings().main_table
        found = dynamo.batch_get([(table, case_key(case_id)), (table, guard.key)])
        return found.get(dynamo.ref(table, case_key(case_id))), found.get(dynamo.ref(table, guard.key))

    def get_thread(self, case_id: str) -> Thread:
        """The case, its messages and its history in one Query (oldest first)."""
        items = _query_all(
            {
                "TableName": settings().main_table,
                "KeyConditionExpression": "pk = :pk",
                "ExpressionAttributeValues": dynamo.values(pk=f"CASE#{case_id}"),
                "ConsistentRead": True,
            }
        )
        case = next((i for i in items if i["sk"] == "CASE"), None)
        messages = [i for i in items if i["sk"].startswith("MSG#")]
        history = [i for i in items if i["sk"].startswith("HIST#")]
        return case, messages, history

    def clinic_cases(self, clinic_id: str, status: str, limit: int, start: dict[str, Any] | None) -> Page:
        request: dict[str, Any] = {
            "TableName": settings().main_table,
            "IndexName": "gsi2",
            "KeyConditionExpression": "gsi2pk = :pk",
            "ExpressionAttributeValues": dynamo.values(pk=f"CLINICCASES#{clinic_id}#{status}"),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        return _page(request, start)

    def overdue_cases(self, clinic_id: str, now_iso: str, limit: int, start: dict[str, Any] | None) -> Page:
        """Unanswered, open cases whose due time has passed: a range read of the sparse due index."""
        request: dict[str, Any] = {
            "TableName": settings().main_table,
            "IndexName": "gsi3",
            "KeyConditionExpression": "gsi3pk = :pk AND gsi3sk < :now",
            "ExpressionAttributeValues": dynamo.values(pk=f"DUE#{clinic_id}", now=now_iso),
            "Limit": limit,
        }
        return _page(request, start)

    def awaits_answer(self, case: dict[str, Any]) -> bool:
        """Whether the clinic owes an answer (the case is in the due index)."""
        return "gsi3pk" in case

    def count_overdue(self, clinic_id: str, now_iso: str) -> int:
        request: dict[str, Any] = {
            "TableName": settings().main_table,
            "IndexName": "gsi3",
            "KeyConditionExpression": "gsi3pk = :pk AND gsi3sk < :now",
            "ExpressionAttributeValues": dynamo.values(pk=f"DUE#{clinic_id}", now=now_iso),
            "Select": "COUNT",
        }
        total = 0
        while True:
            response = dynamo.client().query(**request)
            total += int(response.get("Count", 0))
            if "LastEvaluatedKey" not in response:
                return total
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    # ---------------------------------------------------------------- writes

    def add_case(self, uow: UnitOfWork, case: dict[str, Any]) -> None:
        """A new case at version 1; in the clinic's list by status, and due when it has `dueAt`."""
        case_id, clinic_id = case["caseId"], case["clinicId"]
        item = {
            "pk": f"CASE#{case_id}",
            "sk": "CASE",
            "type": "case",
            **case,
            "version": 1,
            **status_index(clinic_id, case["status"], case["createdAt"], case_id),
            **(due_index(clinic_id, case["dueAt"], case_id) if case.get("dueAt") else {}),
        }
        _put_new(uow, item, on_failed=CaseExists)

    def add_message(self, uow: UnitOfWork, message: dict[str, Any]) -> None:
        item = {
            "pk": f"CASE#{message['caseId']}",
            "sk": f"MSG#{message['createdAt']}#{message['id']}",
            "type": "case-message",
            **message,
        }
        _put_new(uow, item)

    def add_history(self, uow: UnitOfWork, case_id: str, entry: dict[str, Any]) -> None:
        item = {"pk": f"CASE#{case_id}", "sk": f"HIST#{entry['at']}#{new_id()}", "type": "case-history", **entry}
        _put_new(uow, item)

    def update_case(
        self, uow: UnitOfWork, case: dict[str, Any], changes: dict[str, Any], *, awaits_answer: bool | None = None
    ) -> None:
        """`changes` to the open case at the version it was read with (else `VersionConflict`). A new
        `status` moves it in the clinic's lists; `awaits_answer` puts it in the due index at its
        `dueAt` (True) or takes it out (False)."""
        case_id, clinic_id = case["caseId"], case["clinicId"]
        set_values = dict(changes)
        if "status" in changes:
            set_values.update(status_index(clinic_id, changes["status"], case["createdAt"], case_id))
        if awaits_answer:
            set_values.update(due_index(clinic_id, changes["dueAt"], case_id))
        remove = ("gsi3pk", "gsi3sk") if awaits_answer is False else ()
        names: dict[str, str] = {"#v": "version", "#st": "status"}
        vals: dict[str, Any] = {"expected": int(case["version"]), "one": 1, "closed": "closed"}
        sets = ["#v = #v + :one"]
        for i, (name, value) in enumerate(set_values.items()):
            names[f"#s{i}"] = name
            vals[f"s{i}"] = value
            sets.append(f"#s{i} = :s{i}")
        expression = "SET " + ", ".join(sets)
        if remove:
            for i, name in enumerate(remove):
                names[f"#r{i}"] = name
            expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(remove)))
        uow.add(
            {
                "Update": {
                    "TableName": settings().main_table,
                    "Key": case_key(case_id),
                    "UpdateExpression": expression,
                    "ConditionExpression": "#v = :expected AND #st <> :closed",
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": dynamo.values(**vals),
                }
            },
            on_failed=VersionConflict,
        )

    # ---------------------------------------------------------------- retention

    def delete_thread(self, case_id: str) -> list[dict[str, Any]]:
        """Deletes everything left in the case's partition; returns what was deleted."""
        _, messages, history = self.get_thread(case_id)
        items = messages + history
        dynamo.batch_write(
            settings().main_table, [{"DeleteRequest": {"Key": dynamo.key(i["pk"], i["sk"])}} for i in items]
        )
        return items


DYNAMO = DynamoCaseRepository()

# Module-level reads, for the event functions and the tests.
get_case = DYNAMO.get_case
get_thread = DYNAMO.get_thread
clinic_cases = DYNAMO.clinic_cases
overdue_cases = DYNAMO.overdue_cases
count_overdue = DYNAMO.count_overdue
delete_thread = DYNAMO.delete_thread
