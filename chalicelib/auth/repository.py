"""Keys, item shape and DynamoDB calls for e-ID orders and sessions.

BANKID#<orderRef> / ORDER            → QR secret and start time, purpose (login | lock) and, for a lock,
FREJA#<authRef> / ORDER                 the citizen who asked; TTL; deleted when used
CITIZEN#<citizen id> / SESSION#<sha256 of token> → epoch, expiry, which e-ID and what it told us; TTL
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Protocol

from chalicelib.accounts import repository as accounts
from chalicelib.accounts.models import Account
from chalicelib.core import dynamo
from chalicelib.core.config import settings

if TYPE_CHECKING:
    from chalicelib.core.unit_of_work import UnitOfWork


Provider = Literal["BANKID", "FREJA"]
Purpose = Literal["login", "lock"]


class OrderUsed(Exception):
    """The e-ID order was consumed by another session already, has expired, or is not for this purpose."""


def order_key(order_ref: str, provider: Provider = "BANKID") -> dict[str, Any]:
    return dynamo.key(f"{provider}#{order_ref}", "ORDER")


def session_key(citizen_id: str, digest: str) -> dict[str, Any]:
    return dynamo.key(f"CITIZEN#{citizen_id}", f"SESSION#{digest}")


class SessionStore(Protocol):
    def put_order(
        self,
        order_ref: str,
        qr_start_token: str,
        qr_start_secret: str,
        started_at: float,
        expires_at: int,
        *,
        provider: Provider = "BANKID",
        purpose: Purpose = "login",
        citizen_id: str | None = None,
        person_key: str | None = None,
    ) -> None: ...

    def get_order(self, order_ref: str, provider: Provider = "BANKID") -> dict[str, Any] | None: ...

    def delete_order(self, order_ref: str, provider: Provider = "BANKID") -> None: ...

    def consume_order(
        self,
        uow: UnitOfWork,
        order_ref: str,
        now_epoch: int,
        *,
        provider: Provider = "BANKID",
        purpose: Purpose = "login",
    ) -> None:
        """A completed order makes exactly one session or lock, and only for its purpose (`OrderUsed` on
        commit otherwise: a lock's sign order never logs anyone in, a login order never locks)."""

    def add_session(
        self,
        uow: UnitOfWork,
        citizen_id: str,
        digest: str,
        *,
        epoch: int,
        created_at: str,
        expires_at: int,
        evidence: dict[str, Any] | None = None,
    ) -> None: ...

    def get_session_with_account(self, citizen_id: str, digest: str) -> tuple[dict[str, Any] | None, Account | None]:
        """The session and its account in one consistent read: a lock is seen at once (R-04)."""

    def delete_session(self, citizen_id: str, digest: str) -> None: ...


class DynamoSessionStore:
    def put_order(
        self,
        order_ref: str,
        qr_start_token: str,
        qr_start_secret: str,
        started_at: float,
        expires_at: int,
        *,
        provider: Provider = "BANKID",
        purpose: Purpose = "login",
        citizen_id: str | None = None,
        person_key: str | None = None,  # the keyed hash of whom the order was started for
    ) -> None:
        key = {k: v["S"] for k, v in order_key(order_ref, provider).items()}
        item = {
            **key,
            "type": f"{provider.lower()}-order",
            "qrStartToken": qr_start_token,
            "qrStartSecret": qr_start_secret,
            "startedAt": started_at,
            "expiresAt": expires_at,
            "purpose": purpose,
        }
        if citizen_id:
            item["citizenId"] = citizen_id
        if person_key:
            item["personKey"] = person_key
        dynamo.client().put_item(TableName=settings().main_table, Item=dynamo.to_item(item))

    def get_order(self, order_ref: str, provider: Provider = "BANKID") -> dict[str, Any] | None:
        key = order_key(order_ref, provider)
        item = dynamo.client().get_item(TableName=settings().main_table, Key=key).get("Item")
        return dynamo.from_item(item) if item else None

    def delete_order(self, order_ref: str, provider: Provider = "BANKID") -> None:
        dynamo.client().delete_item(TableName=settings().main_table, Key=order_key(order_ref, provider))

    def consume_order(
        self,
        uow: UnitOfWork,
        order_ref: str,
        now_epoch: int,
        *,
        provider: Provider = "BANKID",
        purpose: Purpose = "login",
    ) -> None:
        # First: when the order and the account both fail, "already used" is the answer. Orders written
        # before purposes existed count as login orders.
        purpose_check = (
            "(attribute_not_exists(purpose) OR purpose = :purpose)" if purpose == "login" else "purpose = :purpose"
        )
        uow.add(
            {
                "Delete": {
                    "TableName": settings().main_table,
                    "Key": order_key(order_ref, provider),
                    "ConditionExpression": f"attribute_exists(pk) AND expiresAt > :now AND {purpose_check}",
                    "ExpressionAttributeValues": dynamo.values(now=now_epoch, purpose=purpose),
                }
            },
            on_failed=OrderUsed,
            first=True,
        )

    def add_session(
        self,
        uow: UnitOfWork,
        citizen_id: str,
        digest: str,
        *,
        epoch: int,
        created_at: str,
        expires_at: int,
        evidence: dict[str, Any] | None = None,
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
                            # which e-ID and what it said (risk, issue date, device): never the personnummer
                            **({"evidence": evidence} if evidence else {}),
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
