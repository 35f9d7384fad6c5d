"""DynamoDB plumbing shared by the repositories: a lazy client, (de)serialization, TTL-aware reads.

Repositories own their keys and calls; this module owns nothing about the domain.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from chalicelib.core import clients
from chalicelib.core.clients import DYNAMODB_CONNECT_TIMEOUT_S as CONNECT_TIMEOUT_S  # noqa: F401 - infra tests
from chalicelib.core.clients import DYNAMODB_MAX_ATTEMPTS as MAX_ATTEMPTS  # noqa: F401
from chalicelib.core.clients import DYNAMODB_READ_TIMEOUT_S as READ_TIMEOUT_S  # noqa: F401

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

Item = dict[str, Any]
AttrMap = dict[str, Any]


# Error codes that mean "DynamoDB (or AWS) is unavailable or throttling now", not "your request is wrong".
UNAVAILABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "ThrottlingException",
        "Throttling",
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "LimitExceededException",
    }
)


def client() -> DynamoDBClient:
    """The process's DynamoDB client (`core/clients.py`: timeouts, retries, created on first use)."""
    return clients.dynamodb()


def is_unavailable(error: BaseException) -> bool:
    """True when the error says AWS could not be reached, timed out, or is throttling: retryable later."""
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

    if isinstance(error, ConnectionError | HTTPClientError):  # refused, timed out, closed, DNS
        return True
    if isinstance(error, TransactionConflict):
        failed = {reason for reason in error.reasons if reason not in ("None", "")}
        return bool(failed) and failed <= RETRYABLE_CANCELLATIONS
    if isinstance(error, ClientError):
        return error.response.get("Error", {}).get("Code") in UNAVAILABLE_CODES
    return False


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


# Cancellation reasons of a transaction that a later attempt can overcome (not a failed condition).
RETRYABLE_CANCELLATIONS = frozenset(
    {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"}
)


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


# ---------------------------------------------------------------- BatchGetItem

KeyRef = tuple[str, tuple[tuple[str, str], ...]]
BATCH_GET_MAX_KEYS = 100  # DynamoDB's limit per BatchGetItem
BATCH_GET_MAX_RETRIES = 8  # rounds in a row that still leave keys unprocessed; then UnprocessedKeysError


class UnprocessedKeysError(Exception):
    """DynamoDB kept answering some keys with UnprocessedKeys (throttling): retry the whole operation."""


def ref(table: str, key: Mapping[str, Any]) -> KeyRef:
    """A hashable name for a (table, key) pair: how `batch_get` reports what it found."""
    return table, tuple(sorted((name, str(next(iter(attr.values())))) for name, attr in key.items()))


def batch_get(keys: Iterable[tuple[str, AttrMap]], *, consistent: bool = True, sleep: Any = None) -> dict[KeyRef, Item]:
    """Reads any number of (table, key) pairs with BatchGetItem; returns what exists, by `ref(table, key)`.

    Duplicates are asked once and at most 100 keys per request. Keys DynamoDB answers as
    UnprocessedKeys (throttled) are asked again with exponential backoff and jitter; none is ever
    dropped: after `BATCH_GET_MAX_RETRIES` rounds in a row without progress it raises."""
    import random
    import time

    pause = sleep or time.sleep
    wanted: dict[KeyRef, tuple[str, AttrMap]] = {}
    for table, key in keys:
        wanted.setdefault(ref(table, key), (table, key))
    key_names = {table: tuple(key) for table, key in wanted.values()}
    queue = list(wanted.values())
    found: dict[KeyRef, Item] = {}
    retries = 0
    while queue:
        chunk, queue = queue[:BATCH_GET_MAX_KEYS], queue[BATCH_GET_MAX_KEYS:]
        request: dict[str, Any] = {}
        for table, key in chunk:
            request.setdefault(table, {"Keys": [], "ConsistentRead": consistent})["Keys"].append(key)
        response = client().batch_get_item(RequestItems=request)
        for table, raw_items in response.get("Responses", {}).items():
            for raw in raw_items:
                found[ref(table, {name: raw[name] for name in key_names[table]})] = from_item(raw)
        unprocessed = [
            (table, key) for table, spec in (response.get("UnprocessedKeys") or {}).items() for key in spec["Keys"]
        ]
        if not unprocessed:
            retries = 0
            continue
        retries = retries + 1 if len(unprocessed) == len(chunk) else 1
        if retries > BATCH_GET_MAX_RETRIES:
            raise UnprocessedKeysError(f"{len(unprocessed)} keys still unprocessed after {retries - 1} retries")
        pause(min(1.0, 0.05 * 2 ** (retries - 1)) * random.uniform(0.5, 1.0))  # noqa: S311 - jitter, not a secret
        queue = unprocessed + queue
    return found


# ---------------------------------------------------------------- BatchWriteItem

BATCH_WRITE_MAX_ITEMS = 25  # DynamoDB's limit per BatchWriteItem


class UnprocessedItemsError(Exception):
    """DynamoDB kept answering some writes with UnprocessedItems (throttling): retry the whole operation."""


def batch_write(table: str, requests: Iterable[Mapping[str, Any]], *, sleep: Any = None) -> None:
    """PutRequest/DeleteRequest entries for one table, 25 per BatchWriteItem. Writes DynamoDB answers as
    UnprocessedItems are sent again with exponential backoff and jitter; none is ever dropped: after
    `BATCH_GET_MAX_RETRIES` rounds in a row without progress it raises."""
    import random
    import time

    pause = sleep or time.sleep
    queue = list(requests)
    retries = 0
    while queue:
        chunk, queue = queue[:BATCH_WRITE_MAX_ITEMS], queue[BATCH_WRITE_MAX_ITEMS:]
        response = client().batch_write_item(RequestItems={table: chunk})  # type: ignore[dict-item]
        unprocessed = (response.get("UnprocessedItems") or {}).get(table, [])
        if not unprocessed:
            retries = 0
            continue
        retries = retries + 1 if len(unprocessed) == len(chunk) else 1
        if retries > BATCH_GET_MAX_RETRIES:
            raise UnprocessedItemsError(f"{len(unprocessed)} writes still unprocessed after {retries - 1} retries")
        pause(min(1.0, 0.05 * 2 ** (retries - 1)) * random.uniform(0.5, 1.0))  # noqa: S311 - jitter, not a secret
        queue = list(unprocessed) + queue
