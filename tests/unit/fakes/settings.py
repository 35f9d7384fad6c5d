"""The settings' in-memory twin: one Settings per citizen, versioned like the DynamoDB item."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from chalicelib.core.concurrency import VersionConflict
from chalicelib.core.unit_of_work import UnitOfWork
from chalicelib.settings.rules import Settings
from chalicelib.settings.service import SettingsStores
from tests.unit.fakes.accounts import in_memory
from tests.unit.fakes.unit_of_work import staged


class InMemorySettingsRepository:
    def __init__(self) -> None:
        self.stored: dict[str, Settings] = {}
        self.writes = 0
        self.after_read: Callable[[], None] | None = None  # a test's concurrent writer

    def get(self, citizen_id: str) -> Settings:
        found = self.stored.get(citizen_id, Settings())
        if self.after_read is not None:
            self.after_read()
        return found

    def save(self, uow: UnitOfWork, citizen_id: str, settings: Settings, *, expected_version: int) -> None:
        def check() -> BaseException | None:
            current = self.stored.get(citizen_id)
            return VersionConflict() if (current.version if current else 0) != expected_version else None

        def apply() -> None:
            self.stored[citizen_id] = replace(settings, version=expected_version + 1)
            self.writes += 1

        staged(uow).stage(apply, check=check)

    def clear_contacts(self, uow: UnitOfWork, citizen_id: str, *, at: str) -> None:
        def apply() -> None:
            current = self.stored.get(citizen_id, Settings())
            self.stored[citizen_id] = Settings(updated_at=at, version=current.version + 1)
            self.writes += 1

        staged(uow).stage(apply)


def settings_stores() -> SettingsStores:
    return in_memory(SettingsStores, settings=InMemorySettingsRepository())
