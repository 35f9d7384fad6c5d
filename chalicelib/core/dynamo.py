"""DynamoDB plumbing shared by the repositories: a lazy client, (de)serialization, TTL-aware reads.

Repositories own their keys and calls; this module owns nothing about the domain.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_client: DynamoDBClient | None = None

Item = dict[str, Any]
AttrMap = dict[str, Any]


def client() -> DynamoDBClient:
    """One client per process, created on first use so imports stay cheap (cold start)."""
    global _client  # noqa: PLW0603 - a process-wide lazy singleton is the point
    if _client is None:
        import boto3
        from botocore.config import Config

        _client = boto3.client(
            "dynamodb",
            config=Config(
                retries={"mode": "standard", "max_attempts": 4},
                connect_timeout=2,
                read_timeout=5,
                tcp_keepalive=True,
            ),
        )
    return _client


def reset_client() -> None:
    """Forget the client (tests that switch endpoints)."""
    global _client  # noqa: PLW0603
    _client = None


def _to_attr(value: Any) -> AttrMap:
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, int | float | Decimal):
        return {"N": str(value)}
    if isinstance(value, Mapping):
        return {"M": {k: _to_attr(v) for k, v in value.items()}}
    if isinstance(value, list | tuple):
        return {"L": [_to_attr(v) for v in value]}
    if isinstance(value, set | frozenset):
        return {"SS": sorted(value)}
    raise TypeError(f"cannot store a {type(value).__name__} in DynamoDB")


def _from_attr(attr: AttrMap) -> Any:
    ((kind, value),) = attr.items()
    if kind == "S":
        return value
    if kind == "N":
        number = Decimal(value)
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == "BOOL":
        return value
    if kind == "NULL":
        return None
    if kind == "M":
        return {k: _from_attr(v) for k, v in value.items()}
    if kind == "L":
        return [_from_attr(v) for v in value]
    if kind == "SS":
        return set(value)
    raise TypeError(f"unsupported attribute type {kind}")


def to_item(values: Mapping[str, Any]) -> AttrMap:
    """Python values → DynamoDB attribute map (None values are left out)."""
    return {k: _to_attr(v) for k, v in values.items() if v is not None}


def from_item(item: Mapping[str, Any]) -> Item:
    return {k: _from_attr(v) for k, v in item.items()}


def values(**named: Any) -> AttrMap:
    """ExpressionAttributeValues from keyword arguments: values(now=1) → {":now": {"N": "1"}}."""
    return {f":{k}": _to_attr(v) for k, v in named.items()}


def key(pk: str, sk: str) -> AttrMap:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def is_live(item: Mapping[str, Any] | None, now_epoch: int, ttl_attribute: str = "expiresAt") -> bool:
    """DynamoDB deletes expired items only eventually (DynamoDB Local never): reads must ignore them."""
    if item is None:
        return False
    expires = item.get(ttl_attribute)
    return expires is None or int(expires) > now_epoch


class TransactionConflict(Exception):
    """A transaction was cancelled; `reasons[i]` is the cancellation code of its i-th action."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(", ".join(reasons))
        self.reasons = reasons

    def failed(self, index: int) -> bool:
        return index < len(self.reasons) and self.reasons[index] == "ConditionalCheckFailed"


def transact_write(actions: Iterable[Mapping[str, Any]], token: str | None = None) -> None:
    """TransactWriteItems that raises `TransactionConflict` with per-action reasons."""
    from botocore.exceptions import ClientError

    request: dict[str, Any] = {"TransactItems": list(actions)}
    if token:
        request["ClientRequestToken"] = token
    try:
        client().transact_write_items(**request)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
            raise
        reasons = [r.get("Code", "None") for r in error.response.get("CancellationReasons", [])]
        raise TransactionConflict(reasons) from error


def is_condition_failure(error: Exception) -> bool:
    from botocore.exceptions import ClientError

    return (
        isinstance(error, ClientError)
        and error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"
    )
