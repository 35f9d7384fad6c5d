"""Keys and DynamoDB calls for accounts.

PERSON#<lookup key> / PERSON    → {citizenId}           personnummer → account, by keyed hash
CITIZEN#<citizen id> / ACCOUNT  → the account            read on every authenticated request
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chalicelib.accounts.models import Account, Lock, UnlockDecision
from chalicelib.core import dynamo
from chalicelib.core.config import settings


def person_key(lookup_key: str) -> dict[str, Any]:
    return dynamo.key(f"PERSON#{lookup_key}", "PERSON")


def account_key(citizen_id: str) -> dict[str, Any]:
    return dynamo.key(f"CITIZEN#{citizen_id}", "ACCOUNT")


def account_from_item(item: dict[str, Any]) -> Account:
    return Account(
        citizen_id=item["citizenId"],
        personnummer=item["personnummer"],
        status=item.get("status", "active"),
        activated_at=item["activatedAt"],
        activated_by=item.get("activatedBy", "self"),
        first_login_at=item.get("firstLoginAt"),
        session_epoch=int(item.get("sessionEpoch", 0)),
        version=int(item.get("version", 0)),
        lock=Lock.from_record(item["lock"]) if item.get("lock") else None,
        unlock_decision=UnlockDecision.from_record(item["unlockDecision"]) if item.get("unlockDecision") else None,
        record_sealed=bool(item.get("recordSealed", False)),
        must_review_settings=bool(item.get("mustReviewSettings", False)),
    )


def find_citizen_id(lookup_key: str) -> str | None:
    response = dynamo.client().get_item(
        TableName=settings().main_table, Key=person_key(lookup_key), ConsistentRead=True
    )
    item = response.get("Item")
    return dynamo.from_item(item)["citizenId"] if item else None


def find_citizen_ids(lookup_keys: Iterable[str]) -> dict[str, str]:
    """lookup key → citizen id for those that have an account (one BatchGetItem)."""
    keys = list(dict.fromkeys(lookup_keys))
    if not keys:
        return {}
    items = _batch_get([person_key(k) for k in keys])
    return {item["pk"].removeprefix("PERSON#"): item["citizenId"] for item in items}


def get_account(citizen_id: str) -> Account | None:
    response = dynamo.client().get_item(
        TableName=settings().main_table, Key=account_key(citizen_id), ConsistentRead=True
    )
    item = response.get("Item")
    return account_from_item(dynamo.from_item(item)) if item else None


def get_accounts(citizen_ids: Iterable[str]) -> dict[str, Account]:
    ids = list(dict.fromkeys(citizen_ids))
    if not ids:
        return {}
    return {item["citizenId"]: account_from_item(item) for item in _batch_get([account_key(c) for c in ids])}


def _batch_get(keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
    table = settings().main_table
    found: list[dict[str, Any]] = []
    for start in range(0, len(keys), 100):
        pending: dict[str, Any] = {table: {"Keys": keys[start : start + 100], "ConsistentRead": True}}
        for _ in range(5):  # unprocessed keys come back under throttling; retry them a few times
            response = dynamo.client().batch_get_item(RequestItems=pending)
            found.extend(dynamo.from_item(i) for i in response.get("Responses", {}).get(table, []))
            pending = response.get("UnprocessedKeys") or {}
            if not pending:
                break
    return found


def create_actions(account: Account, lookup_key: str, extra: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Transaction actions that create the person lookup and the account; fail if either exists."""
    table = settings().main_table
    account_item = {
        **account_key_plain(account.citizen_id),
        "type": "account",
        "citizenId": account.citizen_id,
        "personnummer": account.personnummer,
        "status": account.status,
        "activatedAt": account.activated_at,
        "activatedBy": account.activated_by,
        "firstLoginAt": account.first_login_at,
        "lastLoginAt": account.first_login_at,
        "sessionEpoch": account.session_epoch,
        "version": account.version,
        "recordSealed": account.record_sealed,
        "mustReviewSettings": account.must_review_settings,
        **(extra or {}),
    }
    return [
        {
            "Put": {
                "TableName": table,
                "Item": dynamo.to_item(
                    {"pk": f"PERSON#{lookup_key}", "sk": "PERSON", "type": "person", "citizenId": account.citizen_id}
                ),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        },
        {
            "Put": {
                "TableName": table,
                "Item": dynamo.to_item(account_item),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        },
    ]


def account_key_plain(citizen_id: str) -> dict[str, str]:
    return {"pk": f"CITIZEN#{citizen_id}", "sk": "ACCOUNT"}


def login_action(citizen_id: str, now_iso: str, expected_epoch: int) -> dict[str, Any]:
    """Touch the account at login, only if it is still active, unlocked and in the same epoch.

    Committing this with the new session closes the race with a lock placed mid-login (R-04).
    """
    return {
        "Update": {
            "TableName": settings().main_table,
            "Key": account_key(citizen_id),
            "UpdateExpression": "SET lastLoginAt = :now, firstLoginAt = if_not_exists(firstLoginAt, :now), "
            "version = version + :one",
            "ConditionExpression": "attribute_exists(pk) AND #s = :active AND attribute_not_exists(#lock) "
            "AND sessionEpoch = :epoch",
            "ExpressionAttributeNames": {"#s": "status", "#lock": "lock"},
            "ExpressionAttributeValues": dynamo.values(now=now_iso, one=1, active="active", epoch=expected_epoch),
        }
    }


def versioned_update_action(
    citizen_id: str,
    expected_version: int,
    *,
    set_values: dict[str, Any] | None = None,
    remove: Iterable[str] = (),
    bump_epoch: bool = False,
) -> dict[str, Any]:
    """An account change that applies only if nobody changed the account since it was read."""
    names: dict[str, str] = {}
    vals: dict[str, Any] = {"expected": expected_version, "one": 1}
    sets = ["version = version + :one"]
    if bump_epoch:
        sets.append("sessionEpoch = sessionEpoch + :one")
    for i, (name, value) in enumerate((set_values or {}).items()):
        names[f"#s{i}"] = name
        vals[f"s{i}"] = value
        sets.append(f"#s{i} = :s{i}")
    removes = []
    for i, name in enumerate(remove):
        names[f"#r{i}"] = name
        removes.append(f"#r{i}")
    expression = "SET " + ", ".join(sets)
    if removes:
        expression += " REMOVE " + ", ".join(removes)
    action: dict[str, Any] = {
        "TableName": settings().main_table,
        "Key": account_key(citizen_id),
        "UpdateExpression": expression,
        "ConditionExpression": "version = :expected",
        "ExpressionAttributeValues": dynamo.values(**vals),
    }
    if names:
        action["ExpressionAttributeNames"] = names
    return {"Update": action}
