from __future__ import annotations

from typing import Any

REGION_JKPG = "Region Jönköpings län"
REGION_SKANE = "Region Skåne"


def admin(function: str, personnummer: str, **fields: Any) -> dict[str, Any]:
    from local.pump import app_functions, invoke

    event = {
        "ticketRef": fields.pop("ticketRef", "EASIT-1001"),
        "region": fields.pop("region", REGION_JKPG),
        "actor": fields.pop("actor", "vis-support.anna"),
        "personnummer": personnummer,
        **fields,
    }
    return invoke(app_functions(), function, event)  # type: ignore[no-any-return]


def lock(personnummer: str, requested_by: str = "care", **fields: Any) -> dict[str, Any]:
    return admin(
        "admin_lock_account",
        personnummer,
        requestedBy=requested_by,
        requester=fields.pop("requester", "SE2321000016-S002 Per Lund" if requested_by == "care" else "citizen"),
        formRef=fields.pop("formRef", "COSMIC-FORM-77"),
        **fields,
    )


def decide(personnummer: str, decision: str, **fields: Any) -> dict[str, Any]:
    return admin(
        "admin_record_unlock_decision",
        personnummer,
        decision=decision,
        headOfUnit=fields.pop("headOfUnit", "Lena Falk"),
        decisionRef=fields.pop("decisionRef", "BESLUT-9"),
        **fields,
    )


def unlock(personnummer: str, requested_by: str = "care", **fields: Any) -> dict[str, Any]:
    return admin(
        "admin_unlock_account",
        personnummer,
        requestedBy=requested_by,
        formRef=fields.pop("formRef", "HAVA-FORM-12"),
        **fields,
    )
