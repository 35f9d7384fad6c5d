"""Against in-memory twins: a guardian's acts in the child's name leave a trace under the child
(R-36, `guardians.activity`) in the act's own transaction, and the teen's own save after the 13th
birthday's reset ends `mustReviewSettings` (R-34) in the same transaction as the settings."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from chalicelib.accounts.models import Account
from chalicelib.audit.models import proxy_subject
from chalicelib.audit.repository import record_of
from chalicelib.core.clock import fixed_clock
from chalicelib.core.cursor import encode
from chalicelib.core.errors import BadRequest, Conflict
from chalicelib.guardians import activity
from chalicelib.guardians.service import Subject
from chalicelib.settings import service
from chalicelib.settings.rules import RuleBroken
from tests.support import at, pnr
from tests.unit.fakes.settings import settings_stores

CLOCK = fixed_clock(at("2026-11-24T12:00:00Z"))
MOBILE_E164 = "+46701740605"


def _account(citizen_id: str, personnummer: str, *, review: bool = False) -> Account:
    return Account(
        citizen_id, personnummer, "active", "2026-01-01T00:00:00.000Z", "guardian", None, 0, 3,
        must_review_settings=review,
    )  # fmt: skip


WILMA = _account("wilma", pnr("Wilma"), review=True)
ELSA = _account("elsa", pnr("Elsa"), review=True)  # (a child never has it; a guardian's save must not clear it)


class World:
    def __init__(self) -> None:
        self.stores = settings_stores()
        self.accounts = self.stores.accounts
        for account in (WILMA, ELSA):
            self.accounts.seed(account, account.citizen_id)  # type: ignore[attr-defined]

    def change(self, subject: Subject, changes: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return service.change(subject, changes, clock=CLOCK, stores=self.stores, **kwargs)

    def account(self, citizen_id: str) -> Account:
        found = self.accounts.get(citizen_id)
        assert found is not None
        return found

    def actions(self) -> list[tuple[str, str, str]]:
        return [(e.subject, e.action, e.actor) for e in self.stores.audit.entries]  # type: ignore[attr-defined]


@pytest.fixture
def world() -> World:
    return World()


def own(account: Account) -> Subject:
    return Subject(account.citizen_id, account, proxy=False, actor_citizen_id=account.citizen_id)


def test_r34_the_teens_own_save_ends_the_review_with_the_settings_in_one_transaction(world: World) -> None:
    world.change(own(WILMA), {"mobile": "070-174 06 05", "notifyBySms": True})
    account = world.account("wilma")
    assert not account.must_review_settings and account.version == WILMA.version + 1
    assert world.stores.settings.stored["wilma"].mobile == MOBILE_E164  # type: ignore[attr-defined]
    assert [a for _, a, _ in world.actions()] == ["settings.change", "account.settings-reviewed"]


def test_r34_a_save_that_changes_nothing_still_ends_the_review(world: World) -> None:
    world.change(own(WILMA), {"notifyBySms": False})  # the defaults after the reset: looked at, kept
    assert not world.account("wilma").must_review_settings
    assert world.stores.settings.writes == 0  # type: ignore[attr-defined]
    assert [a for _, a, _ in world.actions()] == ["account.settings-reviewed"]
    world.change(own(replace(WILMA, must_review_settings=False, version=4)), {"notifyBySms": False})
    assert len(world.actions()) == 1  # nothing more to do: nothing written


def test_r34_a_refused_save_leaves_the_review_pending(world: World) -> None:
    with pytest.raises(RuleBroken):
        world.change(own(WILMA), {"notifyBySms": True})  # SMS needs a mobile
    assert world.account("wilma").must_review_settings and world.actions() == []


def test_r34_an_account_changed_meanwhile_is_read_again_and_the_save_retried(world: World) -> None:
    world.accounts.accounts["wilma"] = replace(WILMA, version=WILMA.version + 1)  # type: ignore[attr-defined]
    world.change(own(WILMA), {"mobile": "070-174 06 05"})  # the session's copy is stale: one lost race
    account = world.account("wilma")
    assert not account.must_review_settings and account.version == WILMA.version + 2


def test_r34_an_account_that_keeps_changing_is_a_409_and_nothing_is_written(world: World, monkeypatch) -> None:
    stored = world.accounts.accounts  # type: ignore[attr-defined]

    def read_then_changed(citizen_id: str) -> Account | None:
        found = stored.get(citizen_id)
        stored[citizen_id] = replace(found, version=found.version + 1)  # a concurrent lifecycle change
        return found

    def interfere() -> None:  # the session's copy: stale from the start
        stored["wilma"] = replace(stored["wilma"], version=stored["wilma"].version + 1)
        world.stores.settings.after_read = None  # type: ignore[attr-defined]

    world.stores.settings.after_read = interfere  # type: ignore[attr-defined]
    monkeypatch.setattr(world.accounts, "get", read_then_changed)
    with pytest.raises(Conflict):
        world.change(own(WILMA), {"mobile": "070-174 06 05"})
    assert world.account("wilma").must_review_settings and world.stores.settings.stored == {}  # type: ignore[attr-defined]


def test_a_guardians_save_for_the_child_neither_ends_a_review_nor_goes_untraced(world: World) -> None:
    anna = Subject("elsa", ELSA, proxy=True, actor_citizen_id="anna", actor_name="Anna Andersson")
    world.change(anna, {"mobile": "070-174 06 05"}, guardian_contact={"email": "anna@example.com"})
    assert world.account("elsa").must_review_settings  # only the citizen's own save counts
    assert world.actions() == [
        ("CITIZEN#elsa", "settings.change", "anna"),
        ("PROXY#elsa", "proxy.settings-changed", "anna"),
    ]
    trace = world.stores.audit.entries[1]  # type: ignore[attr-defined]
    assert trace.details == {"guardianName": "Anna Andersson", "fields": ["mobile", "guardianContact.email"]}


def test_the_citizens_own_acts_leave_no_proxy_trace(world: World) -> None:
    sara = _account("sara", pnr("Sara"))
    world.change(own(sara), {"mobile": "070-174 06 05"})
    assert [s for s, _, _ in world.actions()] == ["CITIZEN#sara"]


class Pages:
    """The audit table's pages, in memory."""

    def __init__(self, entries: list[dict[str, Any]]) -> None:
        self.entries = entries
        self.asked: list[tuple[str, int, Any]] = []

    def page(self, subject: str, limit: int, start: dict[str, Any] | None) -> tuple[list[dict[str, Any]], Any]:
        self.asked.append((subject, limit, start))
        mine = sorted((e for e in self.entries if e["pk"] == subject), key=lambda e: e["sk"], reverse=True)
        if start:
            mine = [e for e in mine if e["sk"] < start["sk"]["S"]]
        page = mine[:limit]
        more = len(mine) > limit
        return page, ({"pk": {"S": subject}, "sk": {"S": page[-1]["sk"]}} if more else None)


def test_the_activity_view_pages_newest_first_and_refuses_a_cursor_of_another_child() -> None:
    from chalicelib.audit.models import AuditEntry

    def act(minute: int, what: str, actor: str, **details: Any) -> dict[str, Any]:
        return record_of(
            AuditEntry(
                subject=proxy_subject("elsa"),
                action=f"proxy.{what}",
                actor_kind="citizen",
                actor=actor,
                at=at(f"2026-11-24T12:{minute:02d}:00Z"),
                details={"guardianName": actor.title(), **details},
            )
        )

    pages = Pages(
        [
            act(1, "case-started", "anna", caseId="c1"),
            act(2, "settings-changed", "anna", fields=["mobile"]),
            act(3, "message-sent", "erik", caseId="c1"),
            {**act(4, "case-started", "anna", caseId="c2"), "pk": proxy_subject("nils")},
        ]
    )
    first = activity.page("elsa", None, limit=2, pages=pages)
    assert [(i["what"], i["guardian"]["citizenId"]) for i in first["items"]] == [
        ("message-sent", "erik"),
        ("settings-changed", "anna"),
    ]
    assert first["items"][1]["fields"] == ["mobile"] and first["items"][0]["guardian"]["name"] == "Erik"
    rest = activity.page("elsa", first["nextCursor"], limit=2, pages=pages)
    assert [(i["what"], i["caseId"]) for i in rest["items"]] == [("case-started", "c1")]
    assert rest["nextCursor"] is None
    with pytest.raises(BadRequest):  # a cursor names its partition: no reading another child's this way
        activity.page("nils", first["nextCursor"], pages=pages)
    assert encode(None) is None and all(subject == "PROXY#elsa" for subject, _, _ in pages.asked)
