"""What the case services need from other capabilities, as Protocols: the defaults are those
capabilities' own modules (DynamoDB behind them); the unit tests hand in-memory twins."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from chalicelib.accounts.models import Account
    from chalicelib.attachments.models import Uploader
    from chalicelib.clinics.service import Clinic
    from chalicelib.core.unit_of_work import UnitOfWork


class Clinics(Protocol):
    def get(self, clinic_id: str) -> Clinic: ...

    def patient_board(self, region: str) -> Clinic: ...


class Attachments(Protocol):
    def attach(
        self, uow: UnitOfWork, attachment_ids: list[str], uploader: Uploader, *, case_id: str, message_id: str
    ) -> None: ...


class Accounts(Protocol):
    def get(self, citizen_id: str) -> Account | None: ...

    def find_by_personnummer(self, personnummer: str) -> Account | None: ...


class StaffDirectory(Protocol):
    def has_role(self, hsa_id: str, clinic_id: str, role: str) -> bool: ...
