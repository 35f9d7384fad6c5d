"""The contact-details service (PU-tjänsten, R-13): care providers' systems read a citizen's mobile
number and/or e-mail, only while the citizen shares them. Every lookup is audited under the citizen
(or the keyed hash of the personnummer when there is no account), with the system's id and the outcome.
"""

from __future__ import annotations

from typing import Any

from chalicelib.audit import service as audit
from chalicelib.contacts.identity import CareSystem
from chalicelib.core.clock import Clock
from chalicelib.core.errors import NotFound
from chalicelib.core.personal_number import lookup_key


class NotShared(NotFound):
    code, title = "not-shared", "Kontaktuppgifterna delas inte"


def lookup(system: CareSystem, personnummer: str, *, clock: Clock) -> dict[str, Any]:
    """`{mobile?, email?}` — only the details that exist, and only while shareContactDetails is on.
    No account, an inactivated account or no sharing: 404 `not-shared`, the same answer for each, so the
    caller learns nothing more than that there is nothing to read."""
    from chalicelib.accounts import service as accounts
    from chalicelib.settings import service as settings

    account = accounts.find_by_personnummer(personnummer)
    found: dict[str, Any] = {}
    if account is None:
        outcome, subject = "refused:no-account", audit.person_subject(lookup_key(personnummer))
    else:
        subject = audit.citizen_subject(account.citizen_id)
        current = settings.load(account.citizen_id)
        if not account.active:
            outcome = "refused:inactivated"
        elif not current.share_contact_details:
            outcome = "refused:not-shared"
        else:
            found = {k: v for k, v in (("mobile", current.mobile), ("email", current.email)) if v}
            outcome = "ok" if found else "refused:no-details"
    audit.append(
        audit.AuditEntry(
            subject=subject,
            action="read.contact-details",
            actor_kind="care-system",
            actor=system.client,
            at=clock(),
            outcome=outcome,
            details={"fields": sorted(found), "purpose": "kontaktuppgiftstjänsten"},
        )
    )
    if not found:
        raise NotShared("Det finns inga delade kontaktuppgifter för personen.")
    return found
