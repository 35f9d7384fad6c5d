"""Staff directory look-ups used by other capabilities (e.g. who may be assigned a case)."""

from __future__ import annotations

from chalicelib.staff import repository


def has_role(hsa_id: str, clinic_id: str, role: str) -> bool:
    member = repository.get(hsa_id) or {}
    return any(r.get("clinic") == clinic_id and r.get("role") == role for r in member.get("roles", []))


def name_of(hsa_id: str) -> str | None:
    member = repository.get(hsa_id)
    return str(member["name"]) if member else None
