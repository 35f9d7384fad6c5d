"""What the notice services need from storage and from other capabilities, bundled in one `NoticeStores`
(DynamoDB-backed defaults in `STORES`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from chalicelib.arrivals import repository as arrivals_repository
from chalicelib.core.unit_of_work import UnitOfWork
from chalicelib.notices import repository

if TYPE_CHECKING:
    from chalicelib.accounts.models import Account
    from chalicelib.arrivals.repository import ArrivalRepository
    from chalicelib.clinics.service import Clinic
    from chalicelib.notices.repository import NoticeRepository
    from chalicelib.population.port import PopulationRegister


class Accounts(Protocol):
    def find_by_personnummer(self, personnummer: str) -> Account | None: ...


class Clinics(Protocol):
    def get(self, clinic_id: str) -> Clinic: ...


class DigitalOnly(Protocol):
    def __call__(self, citizen_id: str) -> bool: ...


class Bus(Protocol):
    def publish(self, detail_type: str, detail: dict[str, str]) -> None: ...


class _Accounts:
    def find_by_personnummer(self, personnummer: str) -> Account | None:
        from chalicelib.accounts import service

        return service.find_by_personnummer(personnummer)


class _Clinics:
    def get(self, clinic_id: str) -> Clinic:
        from chalicelib.clinics import service

        return service.get(clinic_id)


def _digital_only(citizen_id: str) -> bool:
    from chalicelib.settings import service

    return service.load(citizen_id).digital_only


def _register() -> PopulationRegister:
    from chalicelib.population.port import population_register

    return population_register()


class _Bus:
    def publish(self, detail_type: str, detail: dict[str, str]) -> None:
        from chalicelib.notices import bus

        bus.publish(detail_type, detail)


@dataclass(frozen=True, kw_only=True)
class NoticeStores:
    notices: NoticeRepository
    arrivals: ArrivalRepository
    accounts: Accounts
    clinics: Clinics
    digital_only: DigitalOnly
    register: Callable[[], PopulationRegister]
    bus: Bus
    new_uow: Callable[[], UnitOfWork] = UnitOfWork


STORES = NoticeStores(
    notices=repository.DYNAMO,
    arrivals=arrivals_repository.DYNAMO,
    accounts=_Accounts(),
    clinics=_Clinics(),
    digital_only=_digital_only,
    register=_register,
    bus=_Bus(),
)
