"""Keys, item shape and DynamoDB calls for settings.

CITIZEN#<citizen id> / SETTINGS → the citizen's settings, `version` for optimistic concurrency
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from chalicelib.core import dynamo
from chalicelib.core.concurrency import VersionConflict
from chalicelib.core.config import settings as config
from chalicelib.settings.rules import Settings

if TYPE_CHECKING:
    from chalicelib.core.unit_of_work import UnitOfWork


def settings_key(citizen_id: str) -> dict[str, Any]:
    """The settings' key: the notification sender reads it with the account (one BatchGetItem)."""
    return dynamo.key(f"CITIZEN#{citizen_id}", "SETTINGS")


class SettingsRepository(Protocol):
    def get(self, citizen_id: str) -> Settings:
        """The citizen's settings; the defaults (version 0) when none are stored yet."""

    def save(self, uow: UnitOfWork, citizen_id: str, settings: Settings, *, expected_version: int) -> None:
        """Replace the settings if they are still at `expected_version` (0: none stored yet);
        `VersionConflict` on commit otherwise."""

    def clear_contacts(self, uow: UnitOfWork, citizen_id: str, *, at: str) -> None:
        """R-34: contact details, channels, sharing, digital only and guardian contacts gone, whatever they
        were (no read: the 13th birthday's reset reads one item per child), the version moved on."""


class DynamoSettingsRepository:
    def get(self, citizen_id: str) -> Settings:
        return Settings.from_record(get(citizen_id))

    def save(self, uow: UnitOfWork, citizen_id: str, settings: Settings, *, expected_version: int) -> None:
        item = {
            "pk": f"CITIZEN#{citizen_id}",
            "sk": "SETTINGS",
            "citizenId": citizen_id,
            **settings.to_record(),
            "version": expected_version + 1,
        }
        action: dict[str, Any] = {"TableName": config().main_table, "Item": dynamo.to_item(item)}
        if expected_version == 0:
            action["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            action["ConditionExpression"] = "version = :expected"
            action["ExpressionAttributeValues"] = dynamo.values(expected=expected_version)
        uow.add({"Put": action}, on_failed=VersionConflict)

    def clear_contacts(self, uow: UnitOfWork, citizen_id: str, *, at: str) -> None:
        uow.add(
            {
                "Update": {
                    "TableName": config().main_table,
                    "Key": settings_key(citizen_id),
                    "UpdateExpression": "SET citizenId = :cid, notifyBySms = :off, notifyByEmail = :off, "
                    "shareContactDetails = :off, digitalOnly = :off, updatedAt = :at, "
                    "version = if_not_exists(version, :zero) + :one "
                    "REMOVE mobile, email, guardianContacts, deliveryProblems, lastDelivery",
                    "ExpressionAttributeValues": dynamo.values(cid=citizen_id, off=False, at=at, zero=0, one=1),
                }
            }
        )


DYNAMO: SettingsRepository = DynamoSettingsRepository()


def get(citizen_id: str) -> dict[str, Any] | None:
    """The stored item as it is (operators and tests look at `version`); services use `DYNAMO.get`."""
    response = dynamo.client().get_item(
        TableName=config().main_table, Key=settings_key(citizen_id), ConsistentRead=True
    )
    item = response.get("Item")
    return dynamo.from_item(item) if item else None
