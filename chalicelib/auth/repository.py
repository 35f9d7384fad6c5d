"""Keys, item shape and DynamoDB calls for e-ID orders and sessions.

BANKID#<orderRef> / ORDER            → QR secret and start time; TTL; deleted when used
CITIZEN#<citizen id> / SESSION#<sha256 of token> → epoch, expiry; TTL
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from chalicelib.accounts import repository as accounts
from chalicelib.accounts.models import Account
from chalicelib.core import dynamo
from chalicelib.core.config import settings

if TYPE_CHECKING:
    from chalicelib.core.unit_of_work import UnitOfWork


class OrderUsed(Exception):
    """The e-ID order was consumed by another session already (or has expired)."""


def order_key(order_ref: str) -> dict[str, Any]:
    return dynamo.key(f"BANKID#{order_ref}", "ORDER")


def session_key(citizen_id: str, digest: str) -> dict[str, Any]:
    return dynamo.key(f"CITIZEN#{citizen_id}", f"SESSION#{digest}")


class SessionStore(Protocol):
    def put_order(
        self, order_ref: str, qr_start_token: str, qr_start_secret: str, started_at: float, expires_at: int
    ) -> None: ...

    def get_order(self, order_ref: str) -> dict[str, Any] | None: ...

    def delete_order(self, order_ref: str) -> None: ...

    def consume_order(self, uow: UnitOfWork, order_ref: str, now_epoch: int) -> None:
        """A completed order makes exactly one session (`OrderUsed` on commit otherwise)."""

    def add_session(
        self, uow: UnitOfWork, citizen_id: str, digest: str, *, epoch: int, created_at: str, expires_at: int
    ) -> None: ...

    def get_session_with_account(self, citizen_id: str, digest: str) -> tuple[dict[str, Any] | None, Account | None]:
        """The session and its account in one consistent read: a lock is seen at once (R-04)."""

    def delete_session(self, citizen_id: str, digest: str) -> None: ...


class DynamoSessionStore:
    def put_order(
        self, order_ref: str, qr_start_token: str, qr_start_secret: str, started_at: float, expires_at: int
    ) -> None:
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

    def get_order(self, order_ref: str) -> dict[str, Any] | None:
        item = dynamo.client().get_item(TableName=settings().main_table, Key=order_key(order_ref)).get("Item")
        return dynamo.from_item(item) if item else None

    def delete_order(self, order_ref: str) -> None:
        dynamo.client().delete_item(TableName=settings().main_table, Key=order_key(order_ref))

    def consume_order(self, uow: UnitOfWork, order_ref: str, now_epoch: int) -> None:
        # First: when the order and the account both fail, "already used" is the answer.
        uow.add(
            {
                "Delete": {
                    "TableName": settings().main_table,
                    "Key": order_key(order_ref),
                    "ConditionExpression": "attribute_exists(pk) AND expiresAt > :now",
                    "ExpressionAttributeValues": dynamo.values(now=now_epoch),
                }
            },
            on_failed=OrderUsed,
            first=True,
        )

    def add_session(
        self, uow: UnitOfWork, citizen_id: str, digest: str, *, epoch: int, created_at: str, expires_at: int
    ) -> None:
        uow.add(
            {
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
        )

    def get_session_with_account(self, citizen_id: str, digest: str) -> tuple[dict[str, Any] | None, Account | None]:
        table = settings().main_table
        wanted_session, wanted_account = session_key(citizen_id, digest), accounts.account_key(citizen_id)
        found = dynamo.batch_get([(table, wanted_session), (table, wanted_account)])
        account = found.get(dynamo.ref(table, wanted_account))
        return found.get(dynamo.ref(table, wanted_session)), accounts.account_from_item(account) if account else None

    def delete_session(self, citizen_id: str, digest: str) -> None:
        dynamo.client().delete_item(TableName=settings().main_table, Key=session_key(citizen_id, digest))


DYNAMO: SessionStore = DynamoSessionStore()
