"""Citizen settings (R-10..R-15, R-33): reading and changing them, the staff view of the notification
method, the support desk's change, and the contract the notification pipeline uses.

Every change is a conditional write on the settings item's `version` (retried on a concurrent change),
committed together with its audit entry. Details (numbers, addresses) never reach a log, a metric or an
audit entry: audit entries name the changed fields only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from chalicelib.accounts import service as accounts
from chalicelib.audit.models import AuditEntry, SupportRequest, citizen_subject, person_subject
from chalicelib.core import dynamo, idempotency
from chalicelib.core.clock import Clock, epoch_seconds, iso, system_clock
from chalicelib.core.concurrency import VersionConflict, retrying
from chalicelib.core.errors import Conflict, Forbidden, Problem
from chalicelib.core.personal_number import lookup_key
from chalicelib.guardians import activity
from chalicelib.settings import repository, rules
from chalicelib.settings.repository import SettingsRepository
from chalicelib.settings.rules import Settings

if TYPE_CHECKING:
    from chalicelib.accounts.models import Account
    from chalicelib.core.unit_of_work import UnitOfWork
    from chalicelib.guardians.service import Subject
    from chalicelib.population.port import PopulationRegister
    from chalicelib.staff.identity import StaffPrincipal

Channel = Literal["sms", "email"]
DeliveryStatus = Literal[
    "created", "sending", "delivered", "temporary-failure", "permanent-failure", "technical-failure"
]
DELIVERY_STATUSES: frozenset[str] = frozenset(
    {"created", "sending", "delivered", "temporary-failure", "permanent-failure", "technical-failure"}
)
SELF = "self"
GUARDIAN_PREFIX = "guardian:"
MAX_ATTEMPTS = 3


@dataclass(frozen=True, kw_only=True)
class SettingsStores(accounts.AccountStores):
    """The account stores (the support desk and staff find the citizen by personnummer) and the settings."""

    settings: SettingsRepository


STORES = SettingsStores(accounts=accounts.STORES.accounts, audit=accounts.STORES.audit, settings=repository.DYNAMO)


def load(citizen_id: str, *, stores: SettingsStores = STORES) -> Settings:
    return stores.settings.get(citizen_id)


# ---------------------------------------------------------------- writing


AuditFor = Callable[[list[str]], AuditEntry]
Decide = Callable[[Settings], tuple[Settings, list[str]]]
Also = Callable[["UnitOfWork", list[str], datetime], None]


def _still_to_review(citizen_id: str, as_authenticated: list[Account | None], stores: SettingsStores) -> Account | None:
    """The account if it still asks for new details: as authenticated on the first attempt, read again
    after a lost race."""
    account = as_authenticated.pop() if as_authenticated else stores.accounts.get(citizen_id)
    return account if account is not None and account.must_review_settings else None


def _commit(
    citizen_id: str,
    decide: Decide,
    audit_for: AuditFor | None,
    clock: Clock,
    guard: idempotency.Guard | None = None,
    *,
    stores: SettingsStores,
    also: Also | None = None,
    reviewed: Account | None = None,
) -> tuple[Settings, list[str]]:
    """Read, decide, write with a version check (and the audit entry, what `also` adds, and the
    Idempotency-Key guard); retried on a concurrent change. A rule broken by `decide` raises before
    anything is written. `reviewed`: the citizen's own account, whose `mustReviewSettings` (R-34) this
    save ends — even a save that changes nothing, since the teen has looked at them."""

    as_authenticated = [reviewed]  # the first attempt trusts the account as read with the session

    def attempt() -> tuple[Settings, list[str]]:
        current = stores.settings.get(citizen_id)
        new, changed = decide(current)
        review = _still_to_review(citizen_id, as_authenticated, stores) if reviewed is not None else None
        if new == current and review is None:
            return current, []
        now = clock()
        uow = stores.new_uow()
        idempotency.add_guard(uow, guard, {}, epoch_seconds(now))
        stamped = current
        if new != current:
            stamped = replace(new, updated_at=iso(now), version=current.version + 1)
            stores.settings.save(uow, citizen_id, stamped, expected_version=current.version)
            if audit_for is not None:
                stores.audit.append(uow, audit_for(changed))
            if also is not None:
                also(uow, changed, now)
        if review is not None:
            # the teen's own save after the 13th birthday's reset ends the request for new details,
            # in the same transaction as the settings (version-checked like every account change).
            stores.accounts.update(
                uow,
                replace(review, must_review_settings=False, version=review.version + 1),
                expected_version=review.version,
            )
            stores.audit.append(
                uow,
                AuditEntry(
                    subject=citizen_subject(citizen_id),
                    action="account.settings-reviewed",
                    actor_kind="citizen",
                    actor=citizen_id,
                    at=now,
                    details={"fields": changed},
                ),
            )
        try:
            uow.commit()
        except idempotency.LostRace:
            return stores.settings.get(citizen_id), []  # the same key won meanwhile: its change is what stands
        except dynamo.TransactionConflict as conflict:
            if dynamo.is_unavailable(conflict):
                raise VersionConflict from conflict  # cancelled by a concurrent transaction: read again
            raise
        return stamped, changed

    return retrying(
        attempt,
        conflict=Conflict("Inställningarna ändrades samtidigt. Försök igen.", code="concurrent-change"),
        attempts=MAX_ATTEMPTS,
    )


def _problems_out(problems: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    return {channel: {"status": p.get("status"), "at": p.get("at")} for channel, p in sorted(problems.items()) if p}


def view(settings: Settings, *, guardian_citizen_id: str | None = None) -> dict[str, Any]:
    """GET /citizens/{cid}/settings. A guardian reading a child's settings also sees their own entry
    in guardianContacts (R-33), never another guardian's."""
    out: dict[str, Any] = {
        "mobile": settings.mobile,
        "email": settings.email,
        "notifyBySms": settings.notify_by_sms,
        "notifyByEmail": settings.notify_by_email,
        "shareContactDetails": settings.share_contact_details,
        "digitalOnly": settings.digital_only,
        "deliveryProblems": _problems_out(settings.delivery_problems),
    }
    if guardian_citizen_id is not None:
        entry = settings.guardian_contacts.get(guardian_citizen_id)
        out["guardianContacts"] = (
            {
                guardian_citizen_id: {
                    "mobile": entry.mobile,
                    "email": entry.email,
                    "deliveryProblems": _problems_out(entry.delivery_problems),
                }
            }
            if entry
            else {}
        )
    return out


def get_for(subject: Subject, *, stores: SettingsStores = STORES) -> dict[str, Any]:
    return view(
        stores.settings.get(subject.citizen_id), guardian_citizen_id=subject.actor_citizen_id if subject.proxy else None
    )


def change(
    subject: Subject,
    changes: Mapping[str, Any],
    *,
    guardian_contact: Mapping[str, Any] | None = None,
    clock: Clock,
    idempotency_key: str | None = None,
    stores: SettingsStores = STORES,
) -> dict[str, Any]:
    """PATCH /citizens/{cid}/settings by the citizen, or by a guardian acting for a child under 13.
    A retry with the same Idempotency-Key writes nothing and answers the settings as they are (the first
    answer is not stored: it holds contact details)."""
    guard = idempotency.guard(
        f"settings:{subject.actor_citizen_id}:{subject.citizen_id}",
        idempotency_key,
        {"changes": changes, "guardianContact": guardian_contact},
    )
    if idempotency.replayed(guard, epoch_seconds(clock())) is not None:
        return get_for(subject, stores=stores)
    if guardian_contact is not None and not subject.proxy:
        raise rules.RuleBroken(
            "Kontaktuppgifter för vårdnadshavare anges under barnets inställningar.",
            code="guardian-contact-needs-child",
        )

    def decide(current: Settings) -> tuple[Settings, list[str]]:
        new, changed = rules.apply(current, changes)
        if guardian_contact is not None:
            new, more = rules.apply_guardian_contact(new, subject.actor_citizen_id, guardian_contact)
            changed = changed + more
        return new, changed

    def entry(changed: list[str]) -> AuditEntry:
        return AuditEntry(
            subject=citizen_subject(subject.citizen_id),
            action="settings.change",
            actor_kind="citizen",
            actor=subject.actor_citizen_id,
            at=clock(),
            details={"fields": changed, "proxy": subject.proxy},
        )

    def trace(uow: UnitOfWork, changed: list[str], at: datetime) -> None:
        activity.record(uow, subject, "settings-changed", at, log=stores.audit, fields=changed)

    new, _ = _commit(
        subject.citizen_id,
        decide,
        entry,
        clock,
        guard,
        stores=stores,
        also=trace,
        # only the teen's own save ends the request for new details, never a guardian's
        reviewed=subject.account if not subject.proxy and subject.account.must_review_settings else None,
    )
    return view(new, guardian_citizen_id=subject.actor_citizen_id if subject.proxy else None)


def change_by_support(
    personnummer: str,
    changes: Mapping[str, Any],
    *,
    request: SupportRequest,
    clock: Clock,
    stores: SettingsStores = STORES,
) -> tuple[str, dict[str, Any]]:
    """R-15: the support desk changes a citizen's settings under a ticket. Same rules as the citizen's
    own change; refusals are audited too (outcome `refused:<code>`). Returns (citizen id, settings)."""
    action = "settings.change"

    def refuse(subject: str, problem: Problem) -> None:
        stores.audit.append_now(
            AuditEntry.refusal(
                subject, action, request, code=problem.code, at=clock(), details={"fields": sorted(changes)}
            )
        )

    account = accounts.find_by_personnummer(personnummer, stores=stores)
    if account is None:
        problem = accounts.NoAccount("Personen har aldrig loggat in i e-tjänsterna och har inga inställningar.")
        refuse(person_subject(lookup_key(personnummer)), problem)
        raise problem
    citizen_id = account.citizen_id

    def entry(changed: list[str]) -> AuditEntry:
        return AuditEntry.by_support_desk(
            citizen_subject(citizen_id), action, request, at=clock(), details={"fields": changed}
        )

    try:
        if not changes:
            raise rules.RuleBroken("Ange minst en ändring i `changes`.", code="no-changes")
        new, _ = _commit(
            citizen_id,
            lambda current: rules.apply(current, changes),
            entry,
            clock,
            stores=stores,
        )
    except Problem as problem:
        refuse(citizen_subject(citizen_id), problem)
        raise
    return citizen_id, view(new)


# ---------------------------------------------------------------- staff


def staff_lookup(
    staff: StaffPrincipal,
    personnummer: str,
    *,
    clinic_id: str | None,
    register: PopulationRegister,
    clock: Clock,
    stores: SettingsStores = STORES,
) -> dict[str, Any]:
    """POST /staff/citizen-lookup: which notification method the citizen chose, and whether deliveries
    fail — never the number or the address. Read only; audited under the citizen (R-29)."""
    from chalicelib.staff.identity import CASE_ROLES

    case_clinics = sorted({clinic for clinic, role in staff.roles if role in CASE_ROLES})
    if clinic_id is None:
        if not case_clinics:
            raise Forbidden(
                "Du behöver rollen ärendemottagare eller ärendehanterare.",
                code="role-required",
                extra={"requiredRoles": sorted(CASE_ROLES)},
            )
        clinic_id = case_clinics[0]
    else:
        staff.require(clinic_id, *sorted(CASE_ROLES))
    account = accounts.find_by_personnummer(personnummer, stores=stores)
    person = register.find(personnummer)
    settings = stores.settings.get(account.citizen_id) if account else Settings()
    subject = citizen_subject(account.citizen_id) if account else person_subject(lookup_key(personnummer))
    stores.audit.append_now(
        AuditEntry(
            subject=subject,
            action="read.citizen-lookup",
            actor_kind="staff",
            actor=staff.hsa_id,
            at=clock(),
            outcome="ok" if account else "no-account",
            details={
                "staffName": staff.name,
                "clinicId": clinic_id,
                "clinicName": _clinic_name(clinic_id),
                "reference": "notification-method",
                "purpose": "kontroll av aviseringssätt",
            },
        )
    )
    return {
        "activated": bool(account and account.active),
        "locked": bool(account and account.locked),
        "protectedIdentity": bool(person and person.protected),
        "notifyBySms": settings.notify_by_sms,
        "notifyByEmail": settings.notify_by_email,
        "digitalOnly": settings.digital_only,
        "lastDelivery": _latest_delivery(settings),
        "deliveryProblems": {channel: bool(settings.delivery_problems.get(channel)) for channel in rules.CHANNELS},
    }


def _clinic_name(clinic_id: str) -> str | None:
    from chalicelib.clinics import service as clinics

    try:
        return clinics.get(clinic_id).name
    except Problem:
        return None


def _latest_delivery(settings: Settings) -> dict[str, Any] | None:
    latest = max(
        ((channel, d) for channel, d in settings.last_delivery.items() if d and d.get("at")),
        key=lambda pair: str(pair[1]["at"]),
        default=None,
    )
    if latest is None:
        return None
    channel, delivery = latest
    return {"channel": channel, "status": delivery.get("status"), "at": delivery.get("at")}


# ---------------------------------------------------------------- the notification pipeline's contract


def _guardian_id(recipient: str) -> str | None:
    """None for "self"; the guardian's citizen id for "guardian:<id>"; ValueError otherwise."""
    if recipient == SELF:
        return None
    if recipient.startswith(GUARDIAN_PREFIX) and len(recipient) > len(GUARDIAN_PREFIX):
        return recipient.removeprefix(GUARDIAN_PREFIX)
    raise ValueError("recipient must be 'self' or 'guardian:<citizenId>'")


def _check_channel(channel: str) -> None:
    if channel not in rules.CHANNELS:
        raise ValueError("channel must be 'sms' or 'email'")


def notification_targets(citizen_id: str, *, stores: SettingsStores = STORES) -> list[tuple[str, Channel]]:
    """(recipient, channel) pairs to notify for a new inbox item of this citizen: ("self", ch) for each
    channel the citizen switched on and has a detail for; for a child, ("guardian:<guardianCitizenId>", ch)
    for each guardian entry with that detail filled in (R-33). Whether the guardian may still act for the
    child is NOT checked here (the caller decides)."""
    return targets_in(stores.settings.get(citizen_id))


def targets_in(settings: Settings) -> list[tuple[str, Channel]]:
    """`notification_targets` of settings already read (the notification sender batch-reads them)."""
    targets: list[tuple[str, Channel]] = [
        (SELF, channel) for channel in rules.CHANNELS if settings.notifies(channel) and settings.detail(channel)
    ]
    for guardian_id, entry in sorted(settings.guardian_contacts.items()):
        if entry.mobile:
            targets.append((GUARDIAN_PREFIX + guardian_id, "sms"))
        if entry.email:
            targets.append((GUARDIAN_PREFIX + guardian_id, "email"))
    return targets


def contact_for(citizen_id: str, recipient: str, channel: Channel, *, stores: SettingsStores = STORES) -> str | None:
    """The current detail to send to (read at send time), or None if no longer wanted/present."""
    return contact_in(stores.settings.get(citizen_id), recipient, channel)


def contact_in(settings: Settings, recipient: str, channel: Channel) -> str | None:
    """`contact_for` in settings already read (the notification sender batch-reads them)."""
    _check_channel(channel)
    guardian_id = _guardian_id(recipient)
    if guardian_id is None:
        return settings.detail(channel) if settings.notifies(channel) else None
    entry = settings.guardian_contacts.get(guardian_id)
    if entry is None:
        return None
    return entry.mobile if channel == "sms" else entry.email


def record_delivery(
    citizen_id: str,
    recipient: str,
    channel: Channel,
    *,
    status: str,
    at: datetime,
    notification_id: str,
    sent_to: str | None = None,
    stores: SettingsStores = STORES,
) -> None:
    """Stores lastDelivery; status "permanent-failure" for recipient "self" also sets
    deliveryProblems[channel] (kept until the citizen changes that detail). Statuses: created, sending,
    delivered, temporary-failure, permanent-failure, technical-failure.

    An older status never overwrites a newer one. `sent_to` (optional) is the detail the notification
    went to: a late bounce for a number or address the citizen has since changed then flags nothing.
    A guardian's permanent failure is kept on their entry under the child's settings."""
    _check_channel(channel)
    if status not in DELIVERY_STATUSES:
        raise ValueError("unknown delivery status")
    guardian_id = _guardian_id(recipient)
    at_iso = iso(at)
    record = {"status": status, "at": at_iso, "notificationId": notification_id}

    def decide(current: Settings) -> tuple[Settings, list[str]]:
        if guardian_id is not None:
            entry = current.guardian_contacts.get(guardian_id)
            if entry is None or status != "permanent-failure":
                return current, []
            detail = entry.mobile if channel == "sms" else entry.email
            if detail is None or (sent_to is not None and sent_to != detail):
                return current, []
            contacts = dict(current.guardian_contacts)
            contacts[guardian_id] = replace(entry, delivery_problems={**entry.delivery_problems, channel: record})
            return replace(current, guardian_contacts=contacts), []
        new = current
        previous = current.last_delivery.get(channel) or {}
        if str(previous.get("at") or "") <= at_iso:
            new = replace(new, last_delivery={**current.last_delivery, channel: record})
        detail = current.detail(channel)
        if status == "permanent-failure" and detail and (sent_to is None or sent_to == detail):
            new = replace(new, delivery_problems={**current.delivery_problems, channel: record})
        return new, []

    _commit(citizen_id, decide, None, system_clock, stores=stores)
