"""Which children a guardian may act for (R-07, R-30, R-31, R-32).

A guardian acts as proxy for a child under 13 (Stockholm date) when neither has protected identity
and the child's account is not locked. A child's account is activated in proxy mode on the
guardian's first use (R-30).
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.accounts import service as accounts
from chalicelib.accounts.models import PROXY_AGE_LIMIT, Account
from chalicelib.core.clock import Clock, stockholm_date
from chalicelib.core.errors import NotFound
from chalicelib.core.personal_number import parse
from chalicelib.population.models import Person
from chalicelib.population.port import PopulationRegister


@dataclass(frozen=True)
class ProxyLink:
    citizen_id: str
    name: str
    relation: str = "guardian"


def proxy_eligible(guardian: Person, child: Person, clock: Clock) -> bool:
    """Pure rule: may `guardian` act for `child` today, as far as the register goes?"""
    if child.deceased or guardian.deceased or guardian.protected or child.protected:
        return False
    if guardian.personnummer not in child.guardians:
        return False
    today = stockholm_date(clock())
    return parse(child.personnummer).age_on(today) < PROXY_AGE_LIMIT


def may_act_for(guardian: Account | None, child: Account, *, register: PopulationRegister, clock: Clock) -> bool:
    """May the holder of `guardian` act for `child` right now (R-31, R-32, R-33)? The register decides
    (custody, age under 13, no protected identity), and the guardian's own account must be open."""
    if guardian is None or guardian.locked or not guardian.active:
        return False
    child_person, guardian_person = register.find(child.personnummer), register.find(guardian.personnummer)
    if child_person is None or guardian_person is None:
        return False
    return proxy_eligible(guardian_person, child_person, clock)


def acting_for(
    guardian: Person, guardian_citizen_id: str, *, register: PopulationRegister, clock: Clock
) -> list[ProxyLink]:
    children = [c for c in register.children_of(guardian.personnummer) if proxy_eligible(guardian, c, clock)]
    if not children:
        return []
    ids = accounts.citizen_ids_for([c.personnummer for c in children])
    for child in children:
        if child.personnummer not in ids:
            ids[child.personnummer] = accounts.activate_by_guardian(child, guardian_citizen_id, clock)
    found = accounts.get_many(list(ids.values()))
    links = []
    for child in children:
        account = found.get(ids[child.personnummer])
        if account is None or account.locked or not account.active:
            continue  # a locked child cannot be acted for
        links.append(ProxyLink(citizen_id=account.citizen_id, name=child.name))
    return links


@dataclass(frozen=True)
class Subject:
    """Whose data a citizen request is about: themselves, or a child they act for (R-31)."""

    citizen_id: str
    account: Account
    proxy: bool
    actor_citizen_id: str  # who is logged in
    actor_name: str | None = None  # the guardian's name from the register, in proxy mode (R-36: who wrote)


def resolve(principal_account: Account, cid: str, *, register: PopulationRegister, clock: Clock) -> Subject:
    """`me` or the caller's own id, or a child they may act for right now; anything else is 404,
    so nobody learns whether another citizen exists."""
    own = principal_account.citizen_id
    if cid in ("me", own):
        return Subject(own, principal_account, proxy=False, actor_citizen_id=own)
    not_found = NotFound("Finns inte.", code="not-found")
    if len(cid) > 64:
        raise not_found
    child_account = accounts.get(cid)
    if child_account is None or child_account.locked or not child_account.active:
        raise not_found  # no proxy for a locked child
    guardian = register.find(principal_account.personnummer)
    child = register.find(child_account.personnummer)
    if guardian is None or child is None or not proxy_eligible(guardian, child, clock):
        raise not_found
    return Subject(child_account.citizen_id, child_account, proxy=True, actor_citizen_id=own, actor_name=guardian.name)
