"""Web booking's records, keys and writes.

BOOKINGOP#<opId> / OP              an operation (models.Operation); TTL two days after it settles
  gsi5 = RECONCILE, <reconcileAt>#<opId>    while `requested`: the reconciler's work, in due order
INVITATION#<invitationId> / INVITATION      an open invitation (R-44); TTL a month after it expires

The reconcile index is sparse: an operation is in it only while the booking system's answer is not
recorded, so the reconciler reads exactly the stuck ones (normally none). Writes are conditioned on the
state they replace, so a request, its retry and the reconciler never both confirm one operation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib.core import dynamo
from chalicelib.core.clock import epoch_seconds, instant, iso
from chalicelib.core.config import settings
from chalicelib.core.errors import Conflict
from chalicelib.core.unit_of_work import UnitOfWork
from chalicelib.web_booking.models import Invitation, OfferedSlot, Operation

INDEX = "gsi5"
RECONCILE_PK = "RECONCILE"
SETTLED_TTL_S = 2 * 24 * 3600
INVITATION_TTL = timedelta(days=30)


class OperationSettled(Conflict):
    """Another attempt recorded this operation's outcome first."""

    code = "booking-busy"


class InvitationTaken(Conflict):
    code = "invitation-used"


def op_key(op_id: str) -> dict[str, Any]:
    return dynamo.key(f"BOOKINGOP#{op_id}", "OP")


def invitation_key(invitation_id: str) -> dict[str, Any]:
    return dynamo.key(f"INVITATION#{invitation_id}", "INVITATION")


def _table() -> str:
    return settings().main_table


def get_op(op_id: str) -> Operation | None:
    item = dynamo.client().get_item(TableName=_table(), Key=op_key(op_id), ConsistentRead=True).get("Item")
    return Operation.from_record(dynamo.from_item(item)) if item else None


def _op_item(op: Operation) -> dict[str, Any]:
    item = {**{k: v["S"] for k, v in op_key(op.op_id).items()}, "type": "booking-op", **op.to_record()}
    if op.state == "requested" and op.reconcile_at:
        item["gsi5pk"], item["gsi5sk"] = RECONCILE_PK, f"{op.reconcile_at}#{op.op_id}"
    return item


def add_requested(op: Operation) -> None:
    """The intent, before the booking system is called; a concurrent twin (same op id) loses here."""
    try:
        dynamo.client().put_item(
            TableName=_table(), Item=dynamo.to_item(_op_item(op)), ConditionExpression="attribute_not_exists(pk)"
        )
    except Exception as error:
        if dynamo.is_condition_failure(error):
            raise OperationSettled("Bokningen pågår redan. Försök igen om en stund.") from None
        raise


def confirm(uow: UnitOfWork, op: Operation, result: dict[str, Any], now: datetime) -> Operation:
    """The booking system's answer recorded: out of the reconcile index, kept two days for replays."""
    done = op.with_(state="confirmed", result=result, reconcile_at=None)
    uow.add(
        {
            "Put": {
                "TableName": _table(),
                "Item": dynamo.to_item({**_op_item(done), "expiresAt": epoch_seconds(now) + SETTLED_TTL_S}),
                "ConditionExpression": "#s = :requested",
                "ExpressionAttributeNames": {"#s": "state"},
                "ExpressionAttributeValues": dynamo.values(requested="requested"),
            }
        },
        on_failed=lambda: OperationSettled("Bokningen är redan registrerad."),
    )
    return done


def drop(uow: UnitOfWork, op: Operation) -> None:
    """The booking system did nothing: the intent goes, so the same Idempotency-Key may try again."""
    uow.add(
        {
            "Delete": {
                "TableName": _table(),
                "Key": op_key(op.op_id),
                "ConditionExpression": "#s = :requested",
                "ExpressionAttributeNames": {"#s": "state"},
                "ExpressionAttributeValues": dynamo.values(requested="requested"),
            }
        },
        on_failed=lambda: OperationSettled("Bokningen är redan registrerad."),
    )


def reschedule(op: Operation, at: datetime) -> None:
    """Try again later (the booking system still gave no answer)."""
    moved = op.with_(reconcile_at=iso(at))
    try:
        dynamo.client().put_item(
            TableName=_table(),
            Item=dynamo.to_item(_op_item(moved)),
            ConditionExpression="#s = :requested",
            ExpressionAttributeNames={"#s": "state"},
            ExpressionAttributeValues=dynamo.values(requested="requested"),
        )
    except Exception as error:
        if not dynamo.is_condition_failure(error):
            raise


@dataclass(frozen=True)
class Due:
    ops: list[Operation]
    more: bool


def due(by: datetime, limit: int) -> Due:
    """Requested operations whose reconcile time has come, oldest first (one Query of the sparse index)."""
    response = dynamo.client().query(
        TableName=_table(),
        IndexName=INDEX,
        KeyConditionExpression="gsi5pk = :pk AND gsi5sk <= :by",
        ExpressionAttributeValues=dynamo.values(pk=RECONCILE_PK, by=f"{iso(by)}#~"),
        Limit=limit,
    )
    ops = [Operation.from_record(dynamo.from_item(i)) for i in response.get("Items", [])]
    return Due(ops, "LastEvaluatedKey" in response)


# ---------------------------------------------------------------- invitations


def _invitation_record(inv: Invitation, expires_epoch: int) -> dict[str, Any]:
    return {
        **{k: v["S"] for k, v in invitation_key(inv.invitation_id).items()},
        "type": "invitation",
        "invitationId": inv.invitation_id,
        "system": inv.system,
        "externalId": inv.external_id,
        "citizenId": inv.citizen_id,
        "clinicId": inv.clinic_id,
        "clinicName": inv.clinic_name,
        "slots": [{"slotId": s.slot_id, "startsAt": s.starts_at, "endsAt": s.ends_at} for s in inv.slots],
        "offerExpiresAt": inv.expires_at,
        "state": inv.state,
        "opId": inv.op_id,
        "bookedSlotId": inv.booked_slot_id,
        "bookingId": inv.booking_id,
        "receivedAt": inv.received_at,
        "expiresAt": expires_epoch,  # the table's TTL attribute
    }


def _invitation(raw: dict[str, Any]) -> Invitation:
    return Invitation(
        invitation_id=raw["invitationId"],
        system=raw["system"],
        external_id=raw["externalId"],
        citizen_id=raw["citizenId"],
        clinic_id=raw["clinicId"],
        clinic_name=raw["clinicName"],
        slots=tuple(OfferedSlot(s["slotId"], s["startsAt"], s["endsAt"]) for s in raw["slots"]),
        expires_at=raw["offerExpiresAt"],
        state=raw["state"],
        op_id=raw.get("opId"),
        booked_slot_id=raw.get("bookedSlotId"),
        booking_id=raw.get("bookingId"),
        received_at=raw.get("receivedAt", ""),
    )


def get_invitation(invitation_id: str) -> Invitation | None:
    item = (
        dynamo.client().get_item(TableName=_table(), Key=invitation_key(invitation_id), ConsistentRead=True).get("Item")
    )
    return _invitation(dynamo.from_item(item)) if item else None


def _ttl(inv: Invitation) -> int:
    return epoch_seconds(instant(inv.expires_at) + INVITATION_TTL)


def add_invitation(uow: UnitOfWork, inv: Invitation) -> None:
    uow.add(
        {
            "Put": {
                "TableName": _table(),
                "Item": dynamo.to_item(_invitation_record(inv, _ttl(inv))),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        },
        on_failed=lambda: InvitationTaken("Kallelsen finns redan."),
    )


def claim_invitation(inv: Invitation, op_id: str, slot_id: str) -> None:
    """open → booking by this operation (or already booking by it: a retry); anything else loses."""
    try:
        dynamo.client().update_item(
            TableName=_table(),
            Key=invitation_key(inv.invitation_id),
            UpdateExpression="SET #s = :booking, opId = :op, bookedSlotId = :slot",
            ConditionExpression="#s = :open OR (#s = :booking AND opId = :op)",
            ExpressionAttributeNames={"#s": "state"},
            ExpressionAttributeValues=dynamo.values(booking="booking", open="open", op=op_id, slot=slot_id),
        )
    except Exception as error:
        if dynamo.is_condition_failure(error):
            raise InvitationTaken("Du har redan bokat en tid från den här kallelsen.") from None
        raise


def release_invitation(inv: Invitation, op_id: str) -> None:
    """booking → open again (the booking system refused the slot): the citizen may pick another."""
    try:
        dynamo.client().update_item(
            TableName=_table(),
            Key=invitation_key(inv.invitation_id),
            UpdateExpression="SET #s = :open REMOVE opId, bookedSlotId",
            ConditionExpression="#s = :booking AND opId = :op",
            ExpressionAttributeNames={"#s": "state"},
            ExpressionAttributeValues=dynamo.values(booking="booking", open="open", op=op_id),
        )
    except Exception as error:
        if not dynamo.is_condition_failure(error):
            raise


def use_invitation(uow: UnitOfWork, inv: Invitation, op_id: str, slot_id: str, booking_id: str) -> None:
    uow.add(
        {
            "Update": {
                "TableName": _table(),
                "Key": invitation_key(inv.invitation_id),
                "UpdateExpression": "SET #s = :used, bookedSlotId = :slot, bookingId = :booking, opId = :op",
                "ConditionExpression": "opId = :op OR #s = :open",
                "ExpressionAttributeNames": {"#s": "state"},
                "ExpressionAttributeValues": dynamo.values(
                    used="used", slot=slot_id, booking=booking_id, op=op_id, open="open"
                ),
            }
        },
        on_failed=lambda: InvitationTaken("Du har redan bokat en tid från den här kallelsen."),
    )
