"""What the case services need from storage and from other capabilities, as Protocols, bundled in one
`CaseStores` (the unit of work's factory with it, as cosmicpython's unit of work carries its
repositories). `STORES` holds the DynamoDB-backed defaults; the unit tests hand in-memory twins
(`tests/unit/fakes/cases.py: in_memory_stores`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from chalicelib.accounts import service as account_service
from chalicelib.arrivals import repository as arrivals_repository
from chalicelib.attachments import service as attachment_service
from chalicelib.audit import repository as audit_repository
from chalicelib.cases import repository as case_repository
from chalicelib.clinics import service as clinic_service
from chalicelib.core.unit_of_work import UnitOfWork

if TYPE_CHECKING:
    from chalicelib.accounts.models import Account
    from chalicelib.arrivals.repository import ArrivalRepository
    from chalicelib.attachments.models import Uploader
    from chalicelib.audit.repository import AuditLog
    from chalicelib.cases.repository import CaseRepository
    from chalicelib.clinics.service import Clinic

NewUnitOfWork = Callable[[], UnitOfWork]


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


class _StaffDirectory:
    """`chalicelib.staff.service`, imported on the first question: only the staff side asks, so the
    citizen side's cold start does without it."""

    def has_role(self, hsa_id: str, clinic_id: str, role: str) -> bool:
        from chalicelib.staff import service

        return service.has_role(hsa_id, clinic_id, role)


@dataclass(frozen=True)
class CaseStores:
    cases: CaseRepository
    arrivals: ArrivalRepository  # the citizen's inbox item of the case (the inbox's write side)
    attachments: Attachments
    clinics: Clinics
    accounts: Accounts
    directory: StaffDirectory
    access_log: AuditLog  # staff reads of a citizen's case
    new_uow: NewUnitOfWork


STORES = CaseStores(
    cases=case_repository.DYNAMO,
    arrivals=arrivals_repository.DYNAMO,
    attachments=attachment_service,
    clinics=clinic_service,
    accounts=account_service,
    directory=_StaffDirectory(),
    access_log=audit_repository.DYNAMO,
    new_uow=UnitOfWork,
)
