"""Which children a guardian may act for (R-07, R-30, R-31, R-32).

A guardian acts as proxy for a child under 13 (Stockholm date) when neither has protected identity
and the child's account is not locked. A child's account is activated in proxy mode on the
guardian's first use (R-30).
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.accounts import service as accounts
from chalicelib.core.clock import Clock, stockholm_date
from chalicelib.core.personal_number import parse
from chalicelib.population.models import Person
from chalicelib.population.port import PopulationRegister

PROXY_AGE_LIMIT = 13


@dataclass(frozen=True)
class ProxyLink:
    citizen_id: str
    name: str
    relation: str = "guardian"


def proxy_eligible(guardian: Person, child: Person, clock: Clock) -> bool:
    """Pure rule: may `guardian` act for `child` today, as far as the register goes?"""
    if child.deceased or guardian.protected or child.protected:
        return False
    if guardian.personnummer not in child.guardians:
        return False
    today = stockholm_date(clock())
    return parse(child.personnummer).age_on(today) < PROXY_AGE_LIMIT


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
