"""Keys and DynamoDB calls for e-ID orders and sessions.

BANKID#<orderRef> / ORDER            → QR secret and start time; TTL; deleted when used
CITIZEN#<citizen id> / SESSION#<sha256 of token> → epoch, expiry; TTL
"""

from __future__ import annotations

from typing import Any

from chalicelib.core import dynamo
from chalicelib.core.config import settings


def order_key(order_ref: str) -> dict[str, Any]:
    return dynamo.key(f"BANKID#{order_ref}", "ORDER")


def session_key(citizen_id: str, digest: str) -> dict[str, Any]:
    return dynamo.key(f"CITIZEN#{citizen_id}", f"SESSION#{digest}")


def put_order(order_ref: str, qr_start_token: str, qr_start_secret: str, started_at: float, expires_at: int) -> None:
    dynamo.client().put_item(
        TableName=settings().main_table,
        Item=dynamo.to_item(
            {
                "pk": f"BANKID#{order_ref}",
                "sk": "ORDER",
                "type": "bankid-order",
                "qrStartToken": qr_start_token,
                "qrStartSecret": qr_start_secret,
                "startedAt": started_at,
                "expiresAt": expires_at,
            }
        ),
    )


def get_order(order_ref: str) -> dict[str, Any] | None:
    item = dynamo.client().get_item(TableName=settings().main_table, Key=order_key(order_ref)).get("Item")
    return dynamo.from_item(item) if item else None


def delete_order(order_ref: str) -> None:
    dynamo.client().delete_item(TableName=settings().main_table, Key=order_key(order_ref))


def consume_order_action(order_ref: str, now_epoch: int) -> dict[str, Any]:
    """Deleting the order with the session makes a completed order usable for exactly one session."""
    return {
        "Delete": {
            "TableName": settings().main_table,
            "Key": order_key(order_ref),
            "ConditionExpression": "attribute_exists(pk) AND expiresAt > :now",
            "ExpressionAttributeValues": dynamo.values(now=now_epoch),
        }
    }


def put_session_action(citizen_id: str, digest: str, epoch: int, created_at: str, expires_at: int) -> dict[str, Any]:
    return {
        "Put": {
            "TableName": settings().main_table,
            "Item": dynamo.to_item(
                {
                    "pk": f"CITIZEN#{citizen_id}",
                    "sk": f"SESSION#{digest}",
                    "type": "session",
                    "epoch": epoch,
                    "createdAt": created_at,
                    "expiresAt": expires_at,
                }
            ),
        }
    }


def get_session_with_account(citizen_id: str, digest: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The session and its account in one consistent BatchGetItem: a lock is seen at once (R-04)."""
    table = settings().main_table
    response = dynamo.client().batch_get_item(
        RequestItems={
            table: {
                "Keys": [session_key(citizen_id, digest), dynamo.key(f"CITIZEN#{citizen_id}", "ACCOUNT")],
                "ConsistentRead": True,
            }
        }
    )
    if response.get("UnprocessedKeys"):
        from chalicelib.core.errors import ServiceUnavailable

        raise ServiceUnavailable("Försök igen om en stund.", code="throttled")
    session = account = None
    for raw in response.get("Responses", {}).get(table, []):
        item = dynamo.from_item(raw)
        if item["sk"] == "ACCOUNT":
            account = item
        else:
            session = item
    return session, account


def delete_session(citizen_id: str, digest: str) -> None:
    dynamo.client().delete_item(TableName=settings().main_table, Key=session_key(citizen_id, digest))
