"""The case repository's in-memory twin, and stand-ins for what the case services ask other capabilities
(clinics, accounts, the staff directory, attachments), bundled by `in_memory_stores`. Writes are staged
in the unit of work; a case update checks the version it was read with and that the case is open, as the
DynamoDB condition does."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

from chalicelib.accounts.models import Account
from chalicelib.attachments.models import Uploader
from chalicelib.cases.ports import CaseStores
from chalicelib.cases.repository import CaseExists, Page, Thread
from chalicelib.clinics.service import Clinic
from chalicelib.core.concurrency import VersionConflict
from chalicelib.core.errors import NotFound
from chalicelib.core.idempotency import Guard
from chalicelib.core.unit_of_work import UnitOfWork
from tests.unit.fakes.arrivals import InMemoryArrivals
from tests.unit.fakes.audit import InMemoryAuditLog
from tests.unit.fakes.unit_of_work import FakeUnitOfWork, staged


class InMemoryCaseRepository:
    def __init__(self) -> None:
        self.cases: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.history: dict[str, list[dict[str, Any]]] = {}
        self.due: set[str] = set()  # case ids the clinic owes an answer (DynamoDB: the sparse due index)
        self.updates = 0

    # ---------------------------------------------------------------- reads

    def get_case(self, case_id: str) -> dict[str, Any] | None:
        case = self.cases.get(case_id)
        return copy.deepcopy(case) if case else None

    def get_case_and_guard(self, case_id: str, guard: Guard) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        return self.get_case(case_id), None

    def get_thread(self, case_id: str) -> Thread:
        messages = sorted(self.messages.get(case_id, []), key=lambda m: (m["createdAt"], m["id"]))
        return self.get_case(case_id), copy.deepcopy(messages), copy.deepcopy(self.history.get(case_id, []))

    def clinic_cases(self, clinic_id: str, status: str, limit: int, start: dict[str, Any] | None) -> Page:
        found = [c for c in self.cases.values() if c["clinicId"] == clinic_id and c["status"] == status]
        found.sort(key=lambda c: (c["createdAt"], c["caseId"]), reverse=True)
        return copy.deepcopy(found[:limit]), None

    def overdue_cases(self, clinic_id: str, now_iso: str, limit: int, start: dict[str, Any] | None) -> Page:
        found = [
            c
            for c in self.cases.values()
            if c["caseId"] in self.due and c["clinicId"] == clinic_id and c["dueAt"] < now_iso
        ]
        found.sort(key=lambda c: (c["dueAt"], c["caseId"]))
        return copy.deepcopy(found[:limit]), None

    def awaits_answer(self, case: dict[str, Any]) -> bool:
        return case["caseId"] in self.due

    # ---------------------------------------------------------------- writes

    def add_case(self, uow: UnitOfWork, case: dict[str, Any]) -> None:
        stored = {**copy.deepcopy(case), "version": 1}

        def apply() -> None:
            self.cases[case["caseId"]] = stored
            if case.get("dueAt"):
                self.due.add(case["caseId"])

        staged(uow).stage(apply, check=lambda: CaseExists() if case["caseId"] in self.cases else None)

    def add_message(self, uow: UnitOfWork, message: dict[str, Any]) -> None:
        staged(uow).stage(lambda: self.messages.setdefault(message["caseId"], []).append(copy.deepcopy(message)))

    def add_history(self, uow: UnitOfWork, case_id: str, entry: dict[str, Any]) -> None:
        staged(uow).stage(lambda: self.history.setdefault(case_id, []).append(copy.deepcopy(entry)))

    def update_case(
        self, uow: UnitOfWork, case: dict[str, Any], changes: dict[str, Any], *, awaits_answer: bool | None = None
    ) -> None:
        case_id, expected = case["caseId"], int(case["version"])

        def check() -> BaseException | None:
            stored = self.cases.get(case_id)
            if stored is None or stored["version"] != expected or stored["status"] == "closed":
                return VersionConflict()
            return None

        def apply() -> None:
            stored = self.cases[case_id]
            stored.update(copy.deepcopy(changes))
            stored["version"] += 1
            self.updates += 1
            if awaits_answer:
                self.due.add(case_id)
            elif awaits_answer is False:
                self.due.discard(case_id)

        staged(uow).stage(apply, check=check)


class InMemoryClinics:
    def __init__(self, *clinics: Clinic, boards: dict[str, Clinic] | None = None) -> None:
        self.clinics = {c.clinic_id: c for c in clinics}
        self.boards = boards or {}

    def get(self, clinic_id: str) -> Clinic:
        if clinic_id not in self.clinics:
            raise NotFound("Mottagningen finns inte.", code="clinic-not-found")
        return self.clinics[clinic_id]

    def patient_board(self, region: str) -> Clinic:
        if region not in self.boards:
            raise NotFound("Patientnämnden finns inte.", code="patient-board-not-found")
        return self.boards[region]


class InMemoryAccounts:
    def __init__(self, *accounts: Account) -> None:
        self.accounts = {a.citizen_id: a for a in accounts}

    def get(self, citizen_id: str) -> Account | None:
        return self.accounts.get(citizen_id)

    def find_by_personnummer(self, personnummer: str) -> Account | None:
        return next((a for a in self.accounts.values() if a.personnummer == personnummer), None)


class InMemoryStaffDirectory:
    def __init__(self, *roles: tuple[str, str, str]) -> None:
        self.roles = set(roles)  # (hsa id, clinic id, role)

    def has_role(self, hsa_id: str, clinic_id: str, role: str) -> bool:
        return (hsa_id, clinic_id, role) in self.roles


class RecordingAttachments:
    """Binds whatever it is given (the attachment rules have their own tests); remembers what it bound."""

    def __init__(self) -> None:
        self.bound: list[tuple[str, str, str, str]] = []  # (attachment id, uploader kind, case id, message id)

    def attach(
        self, uow: UnitOfWork, attachment_ids: list[str], uploader: Uploader, *, case_id: str, message_id: str
    ) -> None:
        for attachment_id in attachment_ids:
            staged(uow).stage(
                lambda a=attachment_id: self.bound.append((a, uploader.kind, case_id, message_id))  # type: ignore[misc]
            )


def in_memory_stores(**chosen: Any) -> CaseStores:
    """Every collaborator of the case services in memory, committing through `FakeUnitOfWork`; `chosen`
    replaces any of them by name (e.g. `cases=`, `clinics=`)."""
    fresh = CaseStores(
        cases=InMemoryCaseRepository(),
        arrivals=InMemoryArrivals(),
        attachments=RecordingAttachments(),
        clinics=InMemoryClinics(),
        accounts=InMemoryAccounts(),
        directory=InMemoryStaffDirectory(),
        access_log=InMemoryAuditLog(),
        new_uow=FakeUnitOfWork,
    )
    return replace(fresh, **chosen)
