"""Self-sampling's records, keys and writes (R-54).

KITORDER#<orderId> / KITORDER              an order: citizen, kit type, delivery, who ordered, status;
                                           `expiresAt` a year after ordering
KITORDER#<orderId> / RESULT#<resultId>     a lab result received for the order: fingerprint, inbox item
                                           id; the same `expiresAt` as its order

A result is written once (`attribute_not_exists`), in the same transaction as its inbox item and the
order's status, so a replayed or concurrent result puts nothing in the inbox twice. No personnummer and
no result content is in a key; the result's text lives only on the citizen's inbox item.
"""

from __future__ import annotations

from typing import Any

from chalicelib.core import dynamo
from chalicelib.core.config import settings
from chalicelib.core.errors import Conflict, NotFound
from chalicelib.core.unit_of_work import UnitOfWork

ORDER_SK = "KITORDER"


class OrderExists(Conflict):
    """An order with this id is already stored (a retry raced the first attempt)."""

    code = "order-exists"


class ResultExists(Conflict):
    """This result was stored by a concurrent delivery of it."""

    code = "result-exists"


def _table() -> str:
    return settings().main_table


def order_key(order_id: str) -> dict[str, Any]:
    return dynamo.key(f"KITORDER#{order_id}", ORDER_SK)


def result_key(order_id: str, result_id: str) -> dict[str, Any]:
    return dynamo.key(f"KITORDER#{order_id}", f"RESULT#{result_id}")


def add_order(uow: UnitOfWork, order: dict[str, Any]) -> None:
    uow.add(
        {
            "Put": {
                "TableName": _table(),
                "Item": dynamo.to_item(
                    {**{k: v["S"] for k, v in order_key(order["orderId"]).items()}, "type": "kit-order", **order}
                ),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        },
        on_failed=lambda: OrderExists("Beställningen finns redan."),
    )


def get_order(order_id: str) -> dict[str, Any] | None:
    item = dynamo.client().get_item(TableName=_table(), Key=order_key(order_id), ConsistentRead=True).get("Item")
    return dynamo.from_item(item) if item else None


def order_and_result(order_id: str, result_id: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The order and the result already stored for it, if any: one consistent BatchGetItem."""
    table = _table()
    found = dynamo.batch_get([(table, order_key(order_id)), (table, result_key(order_id, result_id))])
    return found.get(dynamo.ref(table, order_key(order_id))), found.get(
        dynamo.ref(table, result_key(order_id, result_id))
    )


def add_result(uow: UnitOfWork, order_id: str, result_id: str, record: dict[str, Any]) -> None:
    uow.add(
        {
            "Put": {
                "TableName": _table(),
                "Item": dynamo.to_item(
                    {
                        **{k: v["S"] for k, v in result_key(order_id, result_id).items()},
                        "type": "kit-result",
                        **record,
                    }
                ),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        },
        on_failed=lambda: ResultExists("Provsvaret är redan mottaget."),
    )


def result_arrived(uow: UnitOfWork, order_id: str, at: str) -> None:
    """The order has (another) result: its status and count, while the order is still there."""
    uow.add(
        {
            "Update": {
                "TableName": _table(),
                "Key": order_key(order_id),
                "UpdateExpression": "SET #s = :s, lastResultAt = :at ADD resultCount :one",
                "ConditionExpression": "attribute_exists(pk)",
                "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": dynamo.values(s="result-received", at=at, one=1),
            }
        },
        on_failed=lambda: NotFound("Beställningen finns inte.", code="order-not-found"),
    )
