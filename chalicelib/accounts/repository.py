"""Keys, item shape and DynamoDB calls for accounts.

PERSON#<lookup key> / PERSON    → {citizenId}           personnummer → account, by keyed hash
CITIZEN#<citizen id> / ACCOUNT  → the account            read on every authenticated request
  gsi5 = SOON13#<shard>, <YYYY-MM-DD>#<citizen id>       until child and guardians were told, 30 days before
  gsi5 = TURNS13#<shard>, <YYYY-MM-DD>#<citizen id>      then until the 13th birthday's reset (R-34)

gsi5 is the main table's sparse index of scheduled work (appointment notices use it too): a child's
account is in it from its creation until the birthday job has reset it, so the job reads exactly the
children whose birthday has come, by key.

Writes join a unit of work: the account commits with its audit entry (and, at login, the session).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from chalicelib.accounts.models import (
    THIRTEEN_NOTICE_DAYS,
    Account,
    AccountChanged,
    AccountExists,
    Lock,
    UnlockDecision,
)
from chalicelib.core import dynamo
from chalicelib.core.concurrency import VersionConflict
from chalicelib.core.config import settings

if TYPE_CHECKING:
    from chalicelib.core.unit_of_work import UnitOfWork


def person_key(lookup_key: str) -> dict[str, Any]:
    return dynamo.key(f"PERSON#{lookup_key}", "PERSON")


def account_key(citizen_id: str) -> dict[str, Any]:
    """The account's key: `auth` reads it together with a session (one BatchGetItem)."""
    return dynamo.key(f"CITIZEN#{citizen_id}", "ACCOUNT")


BIRTHDAY_SHARDS = 4  # a few hundred children turn 13 on a day in the whole country


def birthday_marker(account: Account) -> dict[str, str | None]:
    """The index attributes of a child with birthday work ahead; None values remove them."""
    if not account.thirteen_on:
        return {"gsi5pk": None, "gsi5sk": None}
    shard = zlib.crc32(account.citizen_id.encode()) % BIRTHDAY_SHARDS
    if account.thirteen_notice_at is None:
        told_on = date.fromisoformat(account.thirteen_on) - timedelta(days=THIRTEEN_NOTICE_DAYS)
        return {"gsi5pk": f"SOON13#{shard}", "gsi5sk": f"{told_on.isoformat()}#{account.citizen_id}"}
    return {"gsi5pk": f"TURNS13#{shard}", "gsi5sk": f"{account.thirteen_on}#{account.citizen_id}"}


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
        inactivated_at=item.get("inactivatedAt"),
        last_unlocked_at=item.get("lastUnlockedAt"),
        record_seal_changed_at=item.get("recordSealChangedAt"),
        thirteen_on=item.get("thirteenOn"),
        thirteen_notice_at=item.get("thirteenNoticeAt"),
    )


def _mutable(account: Account) -> dict[str, Any]:
    """What a lifecycle change may set (None: the attribute goes)."""
    return {
        "status": account.status,
        "sessionEpoch": account.session_epoch,
        "lock": account.lock.to_record() if account.lock else None,
        "unlockDecision": account.unlock_decision.to_record() if account.unlock_decision else None,
        "recordSealed": account.record_sealed,
        "mustReviewSettings": account.must_review_settings,
        "inactivatedAt": account.inactivated_at,
        "lastUnlockedAt": account.last_unlocked_at,
        "recordSealChangedAt": account.record_seal_changed_at,
        "thirteenOn": account.thirteen_on,
        "thirteenNoticeAt": account.thirteen_notice_at,
        **birthday_marker(account),
    }


class AccountRepository(Protocol):
    def find_citizen_id(self, lookup_key: str) -> str | None: ...

    def find_citizen_ids(self, lookup_keys: Iterable[str]) -> dict[str, str]:
        """lookup key → citizen id for those that have an account."""

    def get(self, citizen_id: str) -> Account | None: ...

    def get_many(self, citizen_ids: Iterable[str]) -> dict[str, Account]: ...

    def add(self, uow: UnitOfWork, account: Account, lookup_key: str, *, activated_by: str | None = None) -> None:
        """The person lookup and the account; `AccountExists` on commit when either exists."""

    def touch_login(self, uow: UnitOfWork, account: Account, *, at: str) -> None:
        """The login's touch, only while the account is active, unlocked and in the epoch it was read in
        (`AccountChanged` on commit otherwise: a lock placed mid-login wins, R-04)."""

    def lift_lock_at_login(self, uow: UnitOfWork, account: Account, *, at: str) -> None:
        """The login's touch that also lifts the citizen's own lock (`AccountChanged` when the account
        moved on since it was read)."""

    def update(self, uow: UnitOfWork, account: Account, *, expected_version: int) -> None:
        """`account` as it is to be, if nobody changed it since `expected_version` (`VersionConflict`)."""

    def thirteen_due(
        self, shard: int, today: str, limit: int, start: dict[str, Any] | None, *, kind: str = "TURNS13"
    ) -> BirthdayPage:
        """Accounts of children whose 13th birthday (kind TURNS13) or 30-day notice (SOON13) is due on
        `today` or earlier and not yet done."""


class DynamoAccountRepository:
    def find_citizen_id(self, lookup_key: str) -> str | None:
        response = dynamo.client().get_item(
            TableName=settings().main_table, Key=person_key(lookup_key), ConsistentRead=True
        )
        item = response.get("Item")
        return dynamo.from_item(item)["citizenId"] if item else None

    def find_citizen_ids(self, lookup_keys: Iterable[str]) -> dict[str, str]:
        table = settings().main_table
        found = dynamo.batch_get((table, person_key(k)) for k in dict.fromkeys(lookup_keys))
        return {item["pk"].removeprefix("PERSON#"): item["citizenId"] for item in found.values()}

    def get(self, citizen_id: str) -> Account | None:
        response = dynamo.client().get_item(
            TableName=settings().main_table, Key=account_key(citizen_id), ConsistentRead=True
        )
        item = response.get("Item")
        return account_from_item(dynamo.from_item(item)) if item else None

    def get_many(self, citizen_ids: Iterable[str]) -> dict[str, Account]:
        table = settings().main_table
        found = dynamo.batch_get((table, account_key(c)) for c in dict.fromkeys(citizen_ids))
        return {item["citizenId"]: account_from_item(item) for item in found.values()}

    def add(self, uow: UnitOfWork, account: Account, lookup_key: str, *, activated_by: str | None = None) -> None:
        table = settings().main_table
        item = {
            "pk": f"CITIZEN#{account.citizen_id}",
            "sk": "ACCOUNT",
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
            "thirteenOn": account.thirteen_on,
            **birthday_marker(account),
            **({"activatedByCitizenId": activated_by} if activated_by else {}),
        }
        person = {"pk": f"PERSON#{lookup_key}", "sk": "PERSON", "type": "person", "citizenId": account.citizen_id}
        for record in (person, item):
            uow.add(
                {
                    "Put": {
                        "TableName": table,
                        "Item": dynamo.to_item(record),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                on_failed=AccountExists,
            )

    def touch_login(self, uow: UnitOfWork, account: Account, *, at: str) -> None:
        uow.add(
            {
                "Update": {
                    "TableName": settings().main_table,
                    "Key": account_key(account.citizen_id),
                    "UpdateExpression": "SET lastLoginAt = :now, firstLoginAt = if_not_exists(firstLoginAt, :now), "
                    "version = version + :one",
                    "ConditionExpression": "attribute_exists(pk) AND #s = :active AND attribute_not_exists(#lock) "
                    "AND sessionEpoch = :epoch",
                    "ExpressionAttributeNames": {"#s": "status", "#lock": "lock"},
                    "ExpressionAttributeValues": dynamo.values(
                        now=at, one=1, active="active", epoch=account.session_epoch
                    ),
                }
            },
            on_failed=AccountChanged,
        )

    def lift_lock_at_login(self, uow: UnitOfWork, account: Account, *, at: str) -> None:
        """A login that lifts the citizen's own lock (issue 12): the lock goes and the login is touched in
        one write, only if the account is still as read (version) and still holds that lock."""
        assert account.lock is not None
        uow.add(
            {
                "Update": {
                    "TableName": settings().main_table,
                    "Key": account_key(account.citizen_id),
                    "UpdateExpression": "SET lastLoginAt = :now, lastUnlockedAt = :now, "
                    "firstLoginAt = if_not_exists(firstLoginAt, :now), version = version + :one "
                    "REMOVE #lock, unlockDecision",
                    "ConditionExpression": "version = :expected AND #s = :active AND #lock.lockedAt = :locked "
                    "AND sessionEpoch = :epoch",
                    "ExpressionAttributeNames": {"#s": "status", "#lock": "lock"},
                    "ExpressionAttributeValues": dynamo.values(
                        now=at,
                        one=1,
                        expected=account.version,
                        active="active",
                        locked=account.lock.locked_at,
                        epoch=account.session_epoch,
                    ),
                }
            },
            on_failed=AccountChanged,
        )

    def update(self, uow: UnitOfWork, account: Account, *, expected_version: int) -> None:
        names: dict[str, str] = {}
        values: dict[str, Any] = {"expected": expected_version, "version": expected_version + 1}
        sets, removes = ["version = :version"], []
        for i, (name, value) in enumerate(_mutable(account).items()):
            names[f"#a{i}"] = name
            if value is None:
                removes.append(f"#a{i}")
            else:
                values[f"v{i}"] = value
                sets.append(f"#a{i} = :v{i}")
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        uow.add(
            {
                "Update": {
                    "TableName": settings().main_table,
                    "Key": account_key(account.citizen_id),
                    "UpdateExpression": expression,
                    "ConditionExpression": "version = :expected",
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": dynamo.values(**values),
                }
            },
            on_failed=VersionConflict,
        )

    def thirteen_due(
        self, shard: int, today: str, limit: int, start: dict[str, Any] | None, *, kind: str = "TURNS13"
    ) -> BirthdayPage:
        request: dict[str, Any] = {
            "TableName": settings().main_table,
            "IndexName": "gsi5",
            "KeyConditionExpression": "gsi5pk = :pk AND gsi5sk <= :upper",
            "ExpressionAttributeValues": dynamo.values(pk=f"{kind}#{shard}", upper=f"{today}#~"),
            "Limit": limit,
        }
        if start:
            request["ExclusiveStartKey"] = start
        answer = dynamo.client().query(**request)
        items = [dynamo.from_item(i) for i in answer.get("Items", [])]
        return BirthdayPage([account_from_item(i) for i in items], answer.get("LastEvaluatedKey"), len(items))


@dataclass(frozen=True)
class BirthdayPage:
    accounts: list[Account]
    last_key: dict[str, Any] | None
    read: int


DYNAMO: AccountRepository = DynamoAccountRepository()
