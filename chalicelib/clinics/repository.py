"""Clinics, their case types and the clinic search index.

CLINIC#<hsa-id> / CLINIC               name, region
CLINIC#<hsa-id> / CASETYPE#<id>        name, attachmentsAllowed, active (R-22); webBooking, termsText (R-45a);
                                       components, formVersion (R-50: a local e-service's form)
WEBBOOKING / <hsa-id>                  a clinic with web booking active: its booking system and kinds (R-45a);
                                       one Query lists every such clinic (the citizen's booked times)
CLINICWORD#<first 3 letters> / <word>#<hsa-id>   one per word of the name: prefix search by Query
PATIENTBOARD#<region> / PATIENTBOARD   the region's patient board (R-27)
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chalicelib.core import dynamo
from chalicelib.core.config import settings

if TYPE_CHECKING:
    from chalicelib.core.unit_of_work import UnitOfWork

_WORD = re.compile(r"[0-9a-zåäöéü]+")


def words(text: str) -> list[str]:
    """Lower-case words, keeping å/ä/ö (Swedish collation) but folding other accents."""
    folded = "".join(c if c in "åäö" else unicodedata.normalize("NFKD", c)[0] for c in text.lower())
    return _WORD.findall(folded)


def clinic_items(clinic: dict[str, Any]) -> list[dict[str, Any]]:
    hsa_id = clinic["hsaId"]
    items = [
        {
            "pk": f"CLINIC#{hsa_id}",
            "sk": "CLINIC",
            "type": "clinic",
            "hsaId": hsa_id,
            "name": clinic["name"],
            "region": clinic["region"],
            **list_index(hsa_id),
        }
    ]
    for word in sorted(set(words(clinic["name"]))):
        items.append(
            {
                "pk": f"CLINICWORD#{word[:3]}",
                "sk": f"{word}#{hsa_id}",
                "type": "clinic-word",
                "hsaId": hsa_id,
                "name": clinic["name"],
                "region": clinic["region"],
            }
        )
    return items


def list_index(hsa_id: str) -> dict[str, str]:
    """Every clinic and patient board in one gsi2 partition, for jobs that visit each (e.g. overdue counts)."""
    return {"gsi2pk": "CLINIC-LIST", "gsi2sk": hsa_id}


def all_clinic_ids() -> list[str]:
    ids: list[str] = []
    request: dict[str, Any] = {
        "TableName": settings().main_table,
        "IndexName": "gsi2",
        "KeyConditionExpression": "gsi2pk = :pk",
        "ExpressionAttributeValues": dynamo.values(pk="CLINIC-LIST"),
        "ProjectionExpression": "gsi2sk",
    }
    while True:
        response = dynamo.client().query(**request)
        ids.extend(i["gsi2sk"]["S"] for i in response.get("Items", []))
        if "LastEvaluatedKey" not in response:
            return ids
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def case_type_item(clinic_id: str, case_type: dict[str, Any]) -> dict[str, Any]:
    item = {
        "pk": f"CLINIC#{clinic_id}",
        "sk": f"CASETYPE#{case_type['id']}",
        "type": "case-type",
        "id": case_type["id"],
        "name": case_type["name"],
        "attachmentsAllowed": bool(case_type.get("attachmentsAllowed", False)),
        "active": bool(case_type.get("active", True)),
    }
    if case_type.get("webBooking"):
        item["webBooking"] = dict(case_type["webBooking"])
        item["termsText"] = case_type.get("termsText")
    if case_type.get("components"):
        item["components"] = [dict(c) for c in case_type["components"]]
        item["formVersion"] = int(case_type.get("formVersion") or 1)
        # with a form, attachments are allowed exactly when it has an attachments component
        item["attachmentsAllowed"] = any(c.get("kind") == "attachments" for c in case_type["components"])
    elif case_type.get("formVersion"):
        item["formVersion"] = int(case_type["formVersion"])  # a removed form: its numbers are not reused
    return item


WEB_BOOKING_PK = "WEBBOOKING"


def web_booking_item(clinic_id: str, name: str, system: str, kinds: list[str]) -> dict[str, Any]:
    return {
        "pk": WEB_BOOKING_PK,
        "sk": clinic_id,
        "type": "web-booking",
        "name": name,
        "system": system,
        "kinds": sorted(kinds),
    }


def put_case_type_with_index(
    uow: UnitOfWork,
    clinic_id: str,
    case_type: dict[str, Any],
    web_booking: tuple[str, str, list[str]] | None,
    *,
    read_form_version: int | None = None,
    changed: Callable[[], BaseException] | None = None,
) -> None:
    """The case type and the clinic's web-booking index entry, in one transaction (R-45a). With
    `read_form_version` the Put holds only while the stored form version is still the one read (R-50:
    versions are never based on a stale read); `changed()` is raised otherwise."""
    table = settings().main_table
    put: dict[str, Any] = {"TableName": table, "Item": dynamo.to_item(case_type_item(clinic_id, case_type))}
    if read_form_version is not None:
        if read_form_version:
            put["ConditionExpression"] = "formVersion = :read"
            put["ExpressionAttributeValues"] = dynamo.values(read=read_form_version)
        else:
            put["ConditionExpression"] = "attribute_not_exists(formVersion)"
    uow.add({"Put": put}, on_failed=changed)
    if web_booking is None:
        uow.add({"Delete": {"TableName": table, "Key": dynamo.key(WEB_BOOKING_PK, clinic_id)}})
    else:
        item = web_booking_item(clinic_id, *web_booking)
        uow.add({"Put": {"TableName": table, "Item": dynamo.to_item(item)}})


def web_booking_clinics() -> list[dict[str, Any]]:
    """Every clinic with web booking active (R-45a): one Query (paged past 1 MB)."""
    found: list[dict[str, Any]] = []
    request: dict[str, Any] = {
        "TableName": settings().main_table,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": dynamo.values(pk=WEB_BOOKING_PK),
    }
    while True:
        response = dynamo.client().query(**request)
        found.extend(dynamo.from_item(i) for i in response.get("Items", []))
        if "LastEvaluatedKey" not in response:
            return found
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def put_items(items: list[dict[str, Any]]) -> None:
    dynamo.batch_write(settings().main_table, [{"PutRequest": {"Item": dynamo.to_item(i)}} for i in items])


def get_clinic(clinic_id: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The clinic and its case types: one Query of the clinic's partition."""
    response = dynamo.client().query(
        TableName=settings().main_table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues=dynamo.values(pk=f"CLINIC#{clinic_id}"),
    )
    items = [dynamo.from_item(i) for i in response.get("Items", [])]
    clinic = next((i for i in items if i["sk"] == "CLINIC"), None)
    return clinic, [i for i in items if i["sk"].startswith("CASETYPE#")]


def get_case_type(clinic_id: str, case_type_id: str) -> dict[str, Any] | None:
    item = (
        dynamo.client()
        .get_item(TableName=settings().main_table, Key=dynamo.key(f"CLINIC#{clinic_id}", f"CASETYPE#{case_type_id}"))
        .get("Item")
    )
    return dynamo.from_item(item) if item else None


def search(word: str, limit: int) -> list[dict[str, Any]]:
    response = dynamo.client().query(
        TableName=settings().main_table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :word)",
        ExpressionAttributeValues=dynamo.values(pk=f"CLINICWORD#{word[:3]}", word=word),
        Limit=limit,
    )
    return [dynamo.from_item(i) for i in response.get("Items", [])]


def patient_board(region: str) -> dict[str, Any] | None:
    item = (
        dynamo.client()
        .get_item(TableName=settings().main_table, Key=dynamo.key(f"PATIENTBOARD#{region}", "PATIENTBOARD"))
        .get("Item")
    )
    return dynamo.from_item(item) if item else None


def patient_board_item(board: dict[str, Any]) -> dict[str, Any]:
    return {
        "pk": f"PATIENTBOARD#{board['region']}",
        "sk": "PATIENTBOARD",
        "type": "patient-board",
        "hsaId": board["hsaId"],
        "name": board["name"],
        "region": board["region"],
        **list_index(board["hsaId"]),
    }
