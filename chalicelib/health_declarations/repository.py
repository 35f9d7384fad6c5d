"""Keys, item shapes and DynamoDB calls for health declarations (R-46).

HEALTHDECL#<declarationId> / DECLARATION        the declaration: answers, free text, personnummer and name
                                                (for the clinic's PDF), who filled it in, validity, clinic,
                                                and once built `pdfKey`/`pdfReadyAt`; TTL `expiresAt`
CITIZEN#<citizenId> / HEALTHDECL#<submittedAt>#<declarationId>
                                                the citizen's list entry: id, submittedAt, validUntil; TTL

Both are written in one transaction (with the Idempotency-Key guard). The list is one consistent Query of
the citizen's partition, newest first; staff find a declaration by id with one GetItem. The stream's
INSERT of a `DECLARATION` item is what makes its PDF (`events.health_declaration_pdf`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from chalicelib.core import dynamo
from chalicelib.core.config import settings

if TYPE_CHECKING:
    from chalicelib.core.unit_of_work import UnitOfWork

PK_PREFIX = "HEALTHDECL#"
SORT_KEY = "DECLARATION"
LIST_PREFIX = "HEALTHDECL#"
LIST_LIMIT = 100  # newest first; a citizen fills in a few a year


def declaration_key(declaration_id: str) -> dict[str, Any]:
    return dynamo.key(f"{PK_PREFIX}{declaration_id}", SORT_KEY)


class DeclarationRepository(Protocol):
    def add(self, uow: UnitOfWork, declaration: dict[str, Any]) -> None:
        """The declaration and the citizen's list entry, both only if new."""

    def for_citizen(self, citizen_id: str) -> list[dict[str, Any]]:
        """The citizen's list entries, newest first (at most LIST_LIMIT)."""

    def get(self, declaration_id: str) -> dict[str, Any] | None: ...

    def mark_pdf_ready(self, declaration_id: str, *, pdf_key: str, at: str) -> bool:
        """Records the built PDF on the declaration; False when the declaration is gone."""


class DynamoDeclarationRepository:
    def add(self, uow: UnitOfWork, declaration: dict[str, Any]) -> None:
        table = settings().main_table
        declaration_id = declaration["declarationId"]
        item = {"pk": f"{PK_PREFIX}{declaration_id}", "sk": SORT_KEY, "type": "health-declaration", **declaration}
        entry = {
            "pk": f"CITIZEN#{declaration['citizenId']}",
            "sk": f"{LIST_PREFIX}{declaration['submittedAt']}#{declaration_id}",
            "type": "health-declaration-entry",
            "declarationId": declaration_id,
            "submittedAt": declaration["submittedAt"],
            "validUntil": declaration["validUntil"],
            "clinicId": declaration.get("clinicId"),
            "expiresAt": declaration["expiresAt"],
        }
        for put in (item, entry):
            uow.add(
                {
                    "Put": {
                        "TableName": table,
                        "Item": dynamo.to_item(put),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            )

    def for_citizen(self, citizen_id: str) -> list[dict[str, Any]]:
        response = dynamo.client().query(
            TableName=settings().main_table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues=dynamo.values(pk=f"CITIZEN#{citizen_id}", prefix=LIST_PREFIX),
            ScanIndexForward=False,
            ConsistentRead=True,
            Limit=LIST_LIMIT,
        )
        return [dynamo.from_item(i) for i in response.get("Items", [])]

    def get(self, declaration_id: str) -> dict[str, Any] | None:
        response = dynamo.client().get_item(
            TableName=settings().main_table, Key=declaration_key(declaration_id), ConsistentRead=True
        )
        return dynamo.from_item(response["Item"]) if "Item" in response else None

    def mark_pdf_ready(self, declaration_id: str, *, pdf_key: str, at: str) -> bool:
        client = dynamo.client()
        try:
            client.update_item(
                TableName=settings().main_table,
                Key=declaration_key(declaration_id),
                UpdateExpression="SET pdfKey = :key, pdfReadyAt = if_not_exists(pdfReadyAt, :at)",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=dynamo.values(key=pdf_key, at=at),
            )
        except client.exceptions.ConditionalCheckFailedException:
            return False
        return True


DYNAMO: DeclarationRepository = DynamoDeclarationRepository()
