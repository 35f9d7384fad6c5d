"""Changes in the population register (R-32): protected identity appearing or ending on a child or a
guardian, custody ending or a new guardian, death.

Who may act for whom is decided from the register at every request and at every notification
(`guardians.proxy_eligible`, through `guardians.resolve`, `guardians.acting_for` and
`guardians.may_act_for`), and the register adapters keep no copy across requests (the local one
follows its file). So an event needs to change no link: a proxy link that protection, a custody change
or a death ends fails at the guardian's very next request (404, and the child is gone from `GET /me`),
no notification of the child's inbox reaches that guardian afterwards, and a new guardian acts from
their next request. Staff see the protected-identity marker wherever they see the citizen (the case
view, the citizen lookup), read from the register too.

What an event adds: the person read again from the register, and the change recorded in the audit log,
in one transaction: under the person (their citizen id, or the keyed hash of the personnummer when they
have no account: never the number itself), and under each guardian and child of theirs who has an
account (a support desk answering "I cannot see my child" finds it under either). A replayed event
records again; it changes nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.accounts import service as accounts
from chalicelib.accounts.service import STORES, AccountStores
from chalicelib.audit.models import AuditEntry, citizen_subject, person_subject
from chalicelib.core.clock import Clock
from chalicelib.core.errors import InvalidInput
from chalicelib.core.personal_number import lookup_key
from chalicelib.population.port import PopulationRegister
from chalicelib.registry_events.schemas import EventKind

ACTOR = "population-register"  # the audit actor of the queue's events (the HTTP ones: the calling client)


@dataclass(frozen=True)
class Relations:
    """The person's account and the accounts of their guardians and children (citizen ids)."""

    citizen_id: str | None
    guardians: tuple[str, ...]
    children: tuple[str, ...]


def receive(
    kind: EventKind,
    personnummer: str,
    *,
    actor: str,
    register: PopulationRegister,
    clock: Clock,
    stores: AccountStores = STORES,
) -> dict[str, Any]:
    """Reads the person again and records the change (the audit entries commit together). 422
    `unknown-person` when the register does not know the number: nothing is written."""
    person = register.find(personnummer)
    if person is None:
        raise InvalidInput("Personen finns inte i folkbokföringen.", code="unknown-person")
    children = [c.personnummer for c in register.children_of(personnummer)]
    ids = accounts.citizen_ids_for([personnummer, *person.guardians, *children], stores=stores)
    relations = Relations(
        citizen_id=ids.get(personnummer),
        guardians=tuple(sorted({ids[g] for g in person.guardians if g in ids})),
        children=tuple(sorted({ids[c] for c in children if c in ids})),
    )
    now = clock()
    subject = (
        citizen_subject(relations.citizen_id) if relations.citizen_id else person_subject(lookup_key(personnummer))
    )
    state = {"protectedIdentity": person.protected_identity, "deceased": person.deceased}
    uow = stores.new_uow()
    stores.audit.append(
        uow,
        AuditEntry(
            subject=subject,
            action=f"population.{kind}",
            actor_kind="system",
            actor=actor,
            at=now,
            details={**state, "guardians": list(relations.guardians), "children": list(relations.children)},
        ),
    )
    for relation, related in (("guardian", relations.guardians), ("child", relations.children)):
        for citizen_id in related:
            # Under the guardian: "your child's register entry changed"; under the child: "your guardian's".
            stores.audit.append(
                uow,
                AuditEntry(
                    subject=citizen_subject(citizen_id),
                    action=f"population.{'child' if relation == 'guardian' else 'guardian'}-{kind}",
                    actor_kind="system",
                    actor=actor,
                    at=now,
                    details={**state, "citizenId": relations.citizen_id},
                ),
            )
    uow.commit()
    if person.deceased and relations.citizen_id:
        # At once, not at a next login attempt: the sessions end and nothing more is sent to the account.
        accounts.inactivate_deceased(relations.citizen_id, clock, stores=stores)
    return {
        "kind": kind,
        "citizenId": relations.citizen_id,
        "protectedIdentity": person.protected,
        "deceased": person.deceased,
        "relatedAccounts": len(relations.guardians) + len(relations.children),
    }
