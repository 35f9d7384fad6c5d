"""`GET /citizens/{cid}/services`: the rules (`rules.py`) applied to the resolved subject. No reads of its
own: the subject's account (lock, sealed record, personnummer) was read when the request was resolved."""

from __future__ import annotations

from typing import Any

from chalicelib.core.clock import Clock, stockholm_date
from chalicelib.eservices import rules
from chalicelib.guardians.service import Subject


def facts(subject: Subject, *, clock: Clock) -> rules.Facts:
    account = subject.account
    return rules.Facts(
        age=rules.age_on(account.personnummer, stockholm_date(clock())),  # R-34's one rule
        proxy=subject.proxy,
        record_sealed=account.record_sealed,
        locked=account.locked,
    )


def services(subject: Subject, *, clock: Clock) -> dict[str, Any]:
    return {"items": [_out(a) for a in rules.evaluate(facts(subject, clock=clock))]}


def _out(availability: rules.Availability) -> dict[str, Any]:
    out: dict[str, Any] = {"service": availability.service, "available": availability.available}
    if not availability.available:
        out["reason"] = availability.reason
        out["reasonCode"] = availability.code
    return out
