"""The case services' rules against in-memory repositories (no DynamoDB): each test names the rule
(DOMAIN.md) it holds the service to. The DynamoDB Local tests in tests/integration cover the storage."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from chalicelib.accounts.models import Account
from chalicelib.arrivals import due as outbox
from chalicelib.cases import service, staff_service
from chalicelib.cases.ports import CaseStores
from chalicelib.cases.response_time import due_at
from chalicelib.clinics.service import CaseType, Clinic
from chalicelib.core.clock import epoch_seconds, fixed_clock, iso
from chalicelib.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from chalicelib.guardians.service import Subject
from chalicelib.staff.identity import StaffPrincipal
from tests.unit.fakes.arrivals import InMemoryArrivals
from tests.unit.fakes.audit import InMemoryAuditLog
from tests.unit.fakes.cases import (
    InMemoryAccounts,
    InMemoryCaseRepository,
    InMemoryClinics,
    InMemoryStaffDirectory,
    RecordingAttachments,
    in_memory_stores,
)

CLINIC = "SE2321000016-CLINIC"
OTHER_CLINIC = "SE2321000016-OTHER"
QUESTION = "fraga-sjukskoterskan"
NO_FILES = "fornya-recept"
MONDAY_10 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # 10:00 in Stockholm, a working day: due 12:00
HANDLER = StaffPrincipal("HSA-HANDLER", "Per Lund", frozenset({(CLINIC, "case-handler")}))
RECEIVER = StaffPrincipal("HSA-RECEIVER", "Eva Ek", frozenset({(CLINIC, "case-receiver")}))
STRANGER = StaffPrincipal("HSA-OTHER", "Ola Berg", frozenset({(OTHER_CLINIC, "case-handler")}))


def account(citizen_id: str, personnummer: str, *, locked: bool = False, active: bool = True) -> Account:
    from chalicelib.accounts.models import Lock

    lock = Lock.__new__(Lock) if locked else None  # only its presence matters here (`Account.locked`)
    return Account(
        citizen_id=citizen_id,
        personnummer=personnummer,
        status="active" if active else "inactive",  # type: ignore[arg-type]
        activated_at="2026-01-01T00:00:00Z",
        activated_by="self",
        first_login_at="2026-01-01T00:00:00Z",
        session_epoch=1,
        version=1,
        lock=lock,
    )


SARA = account("sara", "198504022396")


@dataclass
class World:
    """The case service with every collaborator in memory, and a clock that can be moved."""

    now: datetime = MONDAY_10
    repo: InMemoryCaseRepository = field(default_factory=InMemoryCaseRepository)
    inbox: InMemoryArrivals = field(default_factory=InMemoryArrivals)
    attachments: RecordingAttachments = field(default_factory=RecordingAttachments)
    audit: InMemoryAuditLog = field(default_factory=InMemoryAuditLog)
    accounts: InMemoryAccounts = field(default_factory=lambda: InMemoryAccounts(SARA))
    directory: InMemoryStaffDirectory = field(
        default_factory=lambda: InMemoryStaffDirectory((HANDLER.hsa_id, CLINIC, "case-handler"))
    )
    clinics: InMemoryClinics = field(
        default_factory=lambda: InMemoryClinics(
            Clinic(
                CLINIC,
                "Vårdcentralen Centrum",
                "Region Test",
                (
                    CaseType(QUESTION, "Fråga sjuksköterskan", attachments_allowed=True, active=True),
                    CaseType(NO_FILES, "Förnya recept", attachments_allowed=False, active=True),
                    CaseType("stangd", "Stängd", attachments_allowed=False, active=False),
                    CaseType("synpunkter-klagomal", "Synpunkter och klagomål", attachments_allowed=False, active=True),
                ),
            ),
            boards={"Region Test": Clinic("BOARD", "Patientnämnden", "Region Test", (), patient_board=True)},
        )
    )

    def clock(self) -> Any:
        return fixed_clock(self.now)

    @property
    def stores(self) -> CaseStores:
        return in_memory_stores(
            cases=self.repo,
            arrivals=self.inbox,
            attachments=self.attachments,
            clinics=self.clinics,
            accounts=self.accounts,
            directory=self.directory,
            access_log=self.audit,
        )

    def common(self) -> dict[str, Any]:
        return {"clock": self.clock(), "stores": self.stores}

    def start(
        self, subject: Subject | None = None, *, case_type: str = QUESTION, files: list[str] | None = None
    ) -> str:
        return service.start_case(
            subject or me(),
            clinic_id=CLINIC,
            case_type_id=case_type,
            title="Utslag",
            body="Jag har fått utslag.",
            attachment_ids=files or [],
            idempotency_key=None,
            **self.common(),
        ).id

    def write(self, case_id: str, body: str = "En fråga till") -> Any:
        return service.citizen_message(
            me(),
            case_id,
            body=body,
            attachment_ids=[],
            idempotency_key=None,
            **self.common(),
        )

    def answer(self, case_id: str, kind: Any = "answer", staff: StaffPrincipal = HANDLER) -> Any:
        return staff_service.staff_message(
            staff,
            case_id,
            kind=kind,
            body="Svar från vården",
            attachment_ids=[],
            idempotency_key=None,
            **self.common(),
        )

    def assign(self, staff: StaffPrincipal, case_id: str, handler: str) -> dict[str, Any]:
        return staff_service.assign(staff, case_id, handler, **self.common())

    def close(self, case_id: str) -> dict[str, Any]:
        return staff_service.close(HANDLER, case_id, **self.common())

    def overdue(self, at: datetime) -> list[str]:
        items, _ = staff_service.staff_list(
            HANDLER, CLINIC, "overdue", cursor=None, clock=fixed_clock(at), stores=self.stores
        )
        return [c["caseId"] for c in items]

    def writes(self) -> int:
        return sum(len(m) for m in self.repo.messages.values()) + sum(len(h) for h in self.repo.history.values())


def me() -> Subject:
    return Subject(SARA.citizen_id, SARA, proxy=False, actor_citizen_id=SARA.citizen_id)


@pytest.fixture
def world() -> World:
    return World()


def test_r20_a_new_case_is_open_due_by_the_response_time_rule_and_in_the_inbox(world: World) -> None:
    case_id = world.start()
    case, messages, history = world.repo.get_thread(case_id)
    assert case is not None and case["status"] == "open" and case["dueAt"] == iso(due_at(MONDAY_10))
    assert [m["kind"] for m in messages] == ["citizen-message"] and [h["event"] for h in history] == ["created"]
    item = world.inbox.get_item(SARA.citizen_id, case_id)
    assert item is not None and item["unread"] is False  # the citizen wrote it: nothing to notify
    assert (SARA.citizen_id, case_id) not in world.inbox.due
    assert world.overdue(datetime(2026, 11, 23, 10, 59, tzinfo=UTC)) == []
    assert world.overdue(datetime(2026, 11, 23, 11, 1, tzinfo=UTC)) == [case_id]


def test_r22_files_only_where_the_case_type_allows_them_and_nothing_is_written(world: World) -> None:
    with pytest.raises(InvalidInput) as refused:
        world.start(case_type=NO_FILES, files=["a1"])
    assert refused.value.code == "attachments-not-allowed"
    assert world.repo.cases == {} and world.inbox.items == {} and world.attachments.bound == []
    case_id = world.start(files=["a1", "a2"])
    first = world.repo.get_thread(case_id)[1][0]
    assert world.attachments.bound == [("a1", "citizen", case_id, first["id"]), ("a2", "citizen", case_id, first["id"])]


def test_r22_a_case_type_the_clinic_does_not_offer_is_refused(world: World) -> None:
    for case_type in ("stangd", "finns-inte"):
        with pytest.raises(InvalidInput) as refused:
            world.start(case_type=case_type)
        assert refused.value.code == "case-type-not-offered"
    assert world.repo.cases == {}


def test_r24_a_citizen_message_on_a_closed_case_is_refused_and_writes_nothing(world: World) -> None:
    case_id = world.start()
    world.close(case_id)
    before = world.writes()
    with pytest.raises(Conflict) as refused:
        world.write(case_id)
    assert refused.value.code == "case-closed"
    assert world.writes() == before


def test_r20_a_staff_answer_clears_the_due_marker_and_notifies_the_citizen(world: World) -> None:
    case_id = world.start()
    world.now = MONDAY_10 + timedelta(hours=3)  # overdue by now
    assert world.overdue(world.now) == [case_id]
    world.answer(case_id)
    case = world.repo.get_case(case_id)
    assert case is not None and case["answeredAt"] == iso(world.now) and case["version"] == 2
    assert world.overdue(world.now + timedelta(days=1)) == []
    summary = staff_service.staff_list(HANDLER, CLINIC, "open", cursor=None, clock=world.clock(), stores=world.stores)[
        0
    ]
    assert summary[0]["overdue"] is False and summary[0]["dueAt"] is None
    item = world.inbox.get_item(SARA.citizen_id, case_id)
    assert item is not None and item["unread"] is True and item["arrivalId"]  # notified once
    assert world.inbox.due[(SARA.citizen_id, case_id)] == world.now + outbox.BOUND


def test_r20_a_partial_answer_keeps_the_case_due_and_a_citizen_reply_makes_it_due_again(world: World) -> None:
    case_id = world.start()
    world.answer(case_id, kind="partial-answer")
    assert world.repo.awaits_answer(world.repo.cases[case_id])
    world.answer(case_id, kind="counter-question")
    assert not world.repo.awaits_answer(world.repo.cases[case_id])
    world.now = datetime(2026, 11, 23, 15, 30, tzinfo=UTC)  # 16:30 in Stockholm: due 18:30 the same day
    world.write(case_id, "Svar på motfrågan")
    case = world.repo.cases[case_id]
    assert world.repo.awaits_answer(case) and case["dueAt"] == iso(datetime(2026, 11, 23, 17, 30, tzinfo=UTC))


def test_r21_roles_decide_who_answers_and_other_clinics_cases_do_not_exist(world: World) -> None:
    case_id = world.start()
    with pytest.raises(Forbidden) as receiver:
        world.answer(case_id, kind="answer", staff=RECEIVER)
    assert receiver.value.code == "role-required"
    with pytest.raises(NotFound) as stranger:
        world.answer(case_id, kind="partial-answer", staff=STRANGER)
    assert stranger.value.code == "case-not-found"
    assert world.answer(case_id, kind="partial-answer", staff=RECEIVER).created  # receivers send partial answers


def test_r21_a_case_is_redistributed_only_to_a_case_handler_of_its_clinic(world: World) -> None:
    case_id = world.start()
    with pytest.raises(InvalidInput) as refused:
        world.assign(RECEIVER, case_id, "HSA-NOBODY")
    assert refused.value.code == "not-a-case-handler"
    done = world.assign(RECEIVER, case_id, HANDLER.hsa_id)
    assert done == {"caseId": case_id, "status": "assigned", "handlerHsaId": HANDLER.hsa_id}
    assert world.repo.clinic_cases(CLINIC, "assigned", 10, None)[0][0]["caseId"] == case_id
    again = world.assign(RECEIVER, case_id, HANDLER.hsa_id)
    assert again == done and world.repo.updates == 1  # a repeated call writes nothing


class ContendedCases(InMemoryCaseRepository):
    """Another writer commits between each of the first `losses` reads and the write that follows."""

    def __init__(self, losses: int) -> None:
        super().__init__()
        self.losses = losses
        self.reads = 0

    def get_case(self, case_id: str) -> dict[str, Any] | None:
        case = super().get_case(case_id)
        self.reads += 1
        if case is not None and self.losses > 0:
            self.losses -= 1
            self.cases[case_id]["version"] += 1
        return case


def test_a_lost_race_is_retried_with_fresh_state_and_the_message_stored_once() -> None:
    world = World(repo=ContendedCases(losses=0))
    case_id = world.start()
    world.repo.losses = 2  # type: ignore[attr-defined]
    world.now += timedelta(minutes=5)
    created = world.answer(case_id, kind="partial-answer")
    assert created.created and world.repo.reads == 3  # type: ignore[attr-defined]
    assert [m["kind"] for m in world.repo.get_thread(case_id)[1]] == ["citizen-message", "partial-answer"]


def test_a_case_that_keeps_changing_gives_409_concurrent_change_and_writes_nothing() -> None:
    world = World(repo=ContendedCases(losses=0))
    case_id = world.start()
    before = world.writes()
    world.repo.losses = 100  # type: ignore[attr-defined]
    with pytest.raises(Conflict) as gave_up:
        world.write(case_id)
    assert gave_up.value.code == "concurrent-change"
    assert world.writes() == before


def test_r24_closing_keeps_the_case_and_its_inbox_item_two_years_29_february_to_1_march(world: World) -> None:
    world.now = datetime(2028, 2, 29, 12, 0, tzinfo=UTC)
    case_id = world.start()
    closed = world.close(case_id)
    expires = epoch_seconds(datetime(2030, 3, 1, 12, 0, tzinfo=UTC))
    case = world.repo.cases[case_id]
    assert closed["status"] == "closed" and case["expiresAt"] == expires and not world.repo.awaits_answer(case)
    assert world.inbox.items[(SARA.citizen_id, case_id)]["expiresAt"] == expires
    assert world.close(case_id) == closed  # closing again writes nothing
    assert [h["event"] for h in world.repo.history[case_id]] == ["created", "closed"]


def test_r06_care_cannot_start_a_conversation_with_a_locked_or_unactivated_citizen(world: World) -> None:
    world.accounts = InMemoryAccounts(
        account("lena", "199001012380", locked=True), account("leo", "201501012386", active=False)
    )

    def start(personnummer: str) -> Any:
        return staff_service.start_conversation(
            HANDLER,
            CLINIC,
            personnummer=personnummer,
            title="Provsvar",
            body="Dina prover är bra.",
            attachment_ids=[],
            idempotency_key=None,
            **world.common(),
        )

    with pytest.raises(Forbidden) as locked:
        start("199001012380")
    assert locked.value.code == "citizen-locked"
    for personnummer in ("201501012386", "191212121212"):
        with pytest.raises(Conflict) as unreachable:
            start(personnummer)
        assert unreachable.value.code == "citizen-not-activated"
    assert world.repo.cases == {} and world.inbox.items == {}


def test_r06_a_locked_citizen_still_receives_answers_to_earlier_cases(world: World) -> None:
    case_id = world.start()
    world.accounts = InMemoryAccounts(account("sara", SARA.personnummer, locked=True))
    assert world.answer(case_id).created
    assert world.inbox.items[(SARA.citizen_id, case_id)]["unread"] is True


def test_r27_a_complaint_without_a_clinic_goes_to_the_patient_board_and_never_from_the_future(world: World) -> None:
    def complain(event_date: date, **target: Any) -> str:
        return service.complain(
            me(),
            event_date=event_date,
            care_process=True,
            body="Jag fick vänta länge.",
            idempotency_key=None,
            **target,
            **world.common(),
        ).id

    with pytest.raises(InvalidInput) as future:
        complain(date(2026, 11, 24), clinic_id=None, board_region="Region Test", location="Akuten")
    assert future.value.code == "event-date-in-future"
    case_id = complain(date(2026, 1, 10), clinic_id=None, board_region="Region Test", location="Akuten")
    case = world.repo.cases[case_id]
    assert (case["kind"], case["clinicId"], case["attachmentsAllowed"]) == ("complaint", "BOARD", False)
    assert case["complaint"] == {"eventDate": "2026-01-10", "concernsCareProcess": True, "location": "Akuten"}


def test_r31_a_guardian_writes_in_the_childs_name_and_staff_see_that_a_guardian_wrote(world: World) -> None:
    child = account("elsa", "201801012384")
    proxy = Subject(child.citizen_id, child, proxy=True, actor_citizen_id=SARA.citizen_id)
    case_id = world.start(proxy)
    case, messages, _ = world.repo.get_thread(case_id)
    assert case is not None and case["citizenId"] == "elsa" and case["startedBy"]["kind"] == "guardian"
    assert messages[0]["author"] == {"kind": "guardian", "citizenId": "sara", "onBehalfOf": "elsa"}
    assert (child.citizen_id, case_id) in world.inbox.items
    thread = service.citizen_view(proxy, case_id, clock=world.clock(), stores=world.stores)
    assert thread["messages"][0]["author"] == {"kind": "guardian"}  # the citizen side shows no ids


def test_r29_every_staff_read_of_a_case_is_logged_with_who_where_and_why(world: World) -> None:
    case_id = world.start()

    class Register:
        def find(self, personnummer: str) -> None:
            return None

    view = staff_service.staff_view(
        RECEIVER,
        case_id,
        register=Register(),  # type: ignore[arg-type]
        clock=world.clock(),
        stores=world.stores,
    )
    assert view["caseId"] == case_id and [m["kind"] for m in view["messages"]] == ["citizen-message"]
    [entry] = world.audit.entries
    assert (entry.subject, entry.action, entry.actor_kind, entry.actor) == (
        "CITIZEN#sara",
        "read.case",
        "staff",
        RECEIVER.hsa_id,
    )
    assert entry.details["clinicId"] == CLINIC and entry.details["purpose"] == "ärendehantering"


def test_r28_every_change_appends_to_the_history_and_messages_are_never_rewritten(world: World) -> None:
    case_id = world.start()
    for step in (
        lambda: world.answer(case_id, kind="partial-answer"),
        lambda: world.assign(RECEIVER, case_id, HANDLER.hsa_id),
        lambda: world.answer(case_id),
        lambda: world.close(case_id),
    ):
        world.now += timedelta(minutes=1)
        step()
    _, messages, history = world.repo.get_thread(case_id)
    assert [h["event"] for h in history] == ["created", "message", "assigned", "message", "closed"]
    assert [m["body"] for m in messages] == ["Jag har fått utslag.", "Svar från vården", "Svar från vården"]
