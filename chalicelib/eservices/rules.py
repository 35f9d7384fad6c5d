"""Which e-services a person may open now (R-35, R-52, R-55, R-09, R-06): pure rules, no I/O.

The ten services of API.md, in that order, each available or not with a Swedish reason. The facts come
from the resolved subject (whose data, in proxy mode or not) and its account; the age is the one rule
of R-34 (`PersonalNumber.age_on` a Stockholm date: someone born 29 February turns a year older on
28 February in a common year).

- a locked account opens nothing (R-03..R-07);
- `medication-list` (previously registered medicines, R-52): 16 or older, and not in proxy mode (R-35);
- `lakemedelskollen` (dispensed medicines): 18 or older, except that a guardian in proxy mode for a
  child under 13 has it for the child (R-35);
- `journal`: closed by a sealed record (R-09), and by nothing else;
- `prescription-renewal` stays open where the list is hidden: the request is then free text (R-52);
- everything else is open to whoever may use the e-services for this subject.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal, get_args

from chalicelib.accounts.models import PROXY_AGE_LIMIT
from chalicelib.core.personal_number import parse

Service = Literal[
    "messages",
    "web-booking",
    "prescription-renewal",
    "medication-list",
    "lakemedelskollen",
    "journal",
    "health-declaration",
    "supplies",
    "self-sampling",
    "support-and-treatment",
]
SERVICES: tuple[Service, ...] = get_args(Service)  # API.md's order
ReasonCode = Literal["account-locked", "age-limit", "proxy-mode", "record-sealed", "age-unknown"]

MEDICATION_LIST_AGE = 16
LAKEMEDELSKOLLEN_AGE = 18
GUARDIAN_LAKEMEDELSKOLLEN_BELOW = PROXY_AGE_LIMIT  # guardians of children under 13

LOCKED = "Ditt konto är låst. Inga e-tjänster kan öppnas förrän låset har hävts."
MEDICATION_LIST_PROXY = "Listan över tidigare förskrivna läkemedel visas inte när du företräder någon annan."
MEDICATION_LIST_AGE_TEXT = "Listan över tidigare förskrivna läkemedel visas från 16 års ålder."
LAKEMEDELSKOLLEN_AGE_TEXT = "Läkemedelskollen kan användas från 18 års ålder."
LAKEMEDELSKOLLEN_PROXY = "Läkemedelskollen kan bara användas för barn under 13 år."
SEALED = "Journalen är förseglad."
AGE_UNKNOWN = "Åldern kunde inte fastställas."


@dataclass(frozen=True)
class Facts:
    """What decides: the subject's age today (None if it cannot be told), whether a guardian acts in
    proxy mode, the subject's sealed record and lock."""

    age: int | None
    proxy: bool
    record_sealed: bool
    locked: bool


@dataclass(frozen=True)
class Availability:
    service: Service
    available: bool
    reason: str | None = None
    code: ReasonCode | None = None


def age_on(personnummer: str, today: date) -> int | None:
    """Whole years on `today` (a Stockholm date) by R-34's one rule; None for a number that does not parse."""
    try:
        return parse(personnummer).age_on(today)
    except ValueError:
        return None


def _open(service: Service) -> Availability:
    return Availability(service, True)


def _closed(service: Service, code: ReasonCode, reason: str) -> Availability:
    return Availability(service, False, reason, code)


def medication_list(facts: Facts) -> Availability:
    """R-35, R-52: hidden in proxy mode and under 16."""
    if facts.proxy:
        return _closed("medication-list", "proxy-mode", MEDICATION_LIST_PROXY)
    if facts.age is None:
        return _closed("medication-list", "age-unknown", AGE_UNKNOWN)
    if facts.age < MEDICATION_LIST_AGE:
        return _closed("medication-list", "age-limit", MEDICATION_LIST_AGE_TEXT)
    return _open("medication-list")


def lakemedelskollen(facts: Facts) -> Availability:
    """R-35: 18 or older; a guardian in proxy mode has it for a child under 13."""
    if facts.age is None:
        return _closed("lakemedelskollen", "age-unknown", AGE_UNKNOWN)
    if facts.proxy:
        if facts.age < GUARDIAN_LAKEMEDELSKOLLEN_BELOW:
            return _open("lakemedelskollen")
        return _closed("lakemedelskollen", "proxy-mode", LAKEMEDELSKOLLEN_PROXY)
    if facts.age < LAKEMEDELSKOLLEN_AGE:
        return _closed("lakemedelskollen", "age-limit", LAKEMEDELSKOLLEN_AGE_TEXT)
    return _open("lakemedelskollen")


def journal(facts: Facts) -> Availability:
    """R-09, R-55: a sealed record closes the journal, and nothing else does."""
    return _closed("journal", "record-sealed", SEALED) if facts.record_sealed else _open("journal")


def availability(service: Service, facts: Facts) -> Availability:
    if facts.locked:
        return _closed(service, "account-locked", LOCKED)
    if service == "medication-list":
        return medication_list(facts)
    if service == "lakemedelskollen":
        return lakemedelskollen(facts)
    if service == "journal":
        return journal(facts)
    return _open(service)  # prescription-renewal included: free text where the list is hidden


def evaluate(facts: Facts) -> list[Availability]:
    """Every service once, in API.md's order."""
    return [availability(service, facts) for service in SERVICES]
