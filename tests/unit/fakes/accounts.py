"""The accounts' in-memory twin: the person lookups and the accounts as dicts, with the same
conditions as the DynamoDB repository (a second account for a person, a stale version, a touch after a
lock) checked at commit."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any, TypeVar

from chalicelib.accounts.models import Account, AccountChanged, AccountExists
from chalicelib.accounts.service import AccountStores
from chalicelib.core.concurrency import VersionConflict
from chalicelib.core.unit_of_work import UnitOfWork
from tests.unit.fakes.audit import InMemoryAuditLog
from tests.unit.fakes.unit_of_work import FakeUnitOfWork, staged

Stores = TypeVar("Stores", bound=AccountStores)


class InMemoryAccountRepository:
    def __init__(self) -> None:
        self.persons: dict[str, str] = {}  # lookup key → citizen id
        self.accounts: dict[str, Account] = {}
        self.activated_by: dict[str, str] = {}
        self.last_login: dict[str, str] = {}
        self.reads = 0

    def seed(self, account: Account, lookup_key: str) -> Account:
        self.persons[lookup_key] = account.citizen_id
        self.accounts[account.citizen_id] = account
        return account

    def find_citizen_id(self, lookup_key: str) -> str | None:
        self.reads += 1
        return self.persons.get(lookup_key)

    def find_citizen_ids(self, lookup_keys: Iterable[str]) -> dict[str, str]:
        self.reads += 1
        return {k: self.persons[k] for k in lookup_keys if k in self.persons}

    def get(self, citizen_id: str) -> Account | None:
        self.reads += 1
        return self.accounts.get(citizen_id)

    def get_many(self, citizen_ids: Iterable[str]) -> dict[str, Account]:
        self.reads += 1
        return {c: self.accounts[c] for c in citizen_ids if c in self.accounts}

    def add(self, uow: UnitOfWork, account: Account, lookup_key: str, *, activated_by: str | None = None) -> None:
        def check() -> BaseException | None:
            exists = lookup_key in self.persons or account.citizen_id in self.accounts
            return AccountExists() if exists else None

        def apply() -> None:
            self.seed(account, lookup_key)
            if activated_by:
                self.activated_by[account.citizen_id] = activated_by

        staged(uow).stage(apply, check=check)

    def touch_login(self, uow: UnitOfWork, account: Account, *, at: str) -> None:
        def check() -> BaseException | None:
            stored = self.accounts.get(account.citizen_id)
            if stored is None or not stored.active or stored.locked or stored.session_epoch != account.session_epoch:
                return AccountChanged()
            return None

        def apply() -> None:
            stored = self.accounts[account.citizen_id]
            self.accounts[account.citizen_id] = replace(
                stored, first_login_at=stored.first_login_at or at, version=stored.version + 1
            )
            self.last_login[account.citizen_id] = at

        staged(uow).stage(apply, check=check)

    def lift_lock_at_login(self, uow: UnitOfWork, account: Account, *, at: str) -> None:
        def check() -> BaseException | None:
            stored = self.accounts.get(account.citizen_id)
            if stored is None or stored.version != account.version or stored.lock != account.lock:
                return AccountChanged()
            return None

        def apply() -> None:
            stored = self.accounts[account.citizen_id]
            self.accounts[account.citizen_id] = replace(
                stored,
                lock=None,
                unlock_decision=None,
                last_unlocked_at=at,
                first_login_at=stored.first_login_at or at,
                version=stored.version + 1,
            )
            self.last_login[account.citizen_id] = at

        staged(uow).stage(apply, check=check)

    def update(self, uow: UnitOfWork, account: Account, *, expected_version: int) -> None:
        def check() -> BaseException | None:
            stored = self.accounts.get(account.citizen_id)
            return VersionConflict() if stored is None or stored.version != expected_version else None

        def apply() -> None:
            self.accounts[account.citizen_id] = replace(account, version=expected_version + 1)

        staged(uow).stage(apply, check=check)


def in_memory(kind: type[Stores], **own: Any) -> Stores:
    """A capability's stores (`AccountStores` or an extension of it) on in-memory twins: fresh accounts,
    audit log and unit of work, plus the capability's `own` (e.g. `settings=InMemorySettingsRepository()`)."""
    return kind(accounts=InMemoryAccountRepository(), audit=InMemoryAuditLog(), new_uow=FakeUnitOfWork, **own)
