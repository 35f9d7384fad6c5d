"""Self-sampling (egen provhantering, R-54): the citizen orders a test kit, the sample goes to a lab, and
the lab's result comes back to the citizen's inbox — automated end to end.

- `order_kit` (`POST /citizens/{cid}/sample-kits`): a kit from the catalogue, delivered to the home
  address in the population register (read now, never typed by the citizen; none for a protected
  identity → 422), a pickup point, or another address. One transaction: the order, the Idempotency-Key
  guard and, in proxy mode, the guardian's trace (R-36). A retry with the same key answers the first order.
- `receive_result` (`POST /integrations/lab-results`, a lab's machine JWT): the order id says whose result
  it is (no personnummer travels); the result goes to that citizen's inbox as a message (notified once,
  R-11) in one transaction with the result's record and the order's status. The same result again is a
  harmless replay (202, `duplicate`); the same result id with other content is 409.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from chalicelib.arrivals import service as arrivals
from chalicelib.audit import repository as audit_repository
from chalicelib.core import dynamo, idempotency
from chalicelib.core.clock import Clock, epoch_seconds, iso
from chalicelib.core.errors import Conflict, InvalidInput, NotFound
from chalicelib.core.ids import keyed_id
from chalicelib.core.observability import metrics
from chalicelib.core.unit_of_work import UnitOfWork
from chalicelib.guardians import activity
from chalicelib.self_sampling import repository
from chalicelib.self_sampling.models import CATALOGUE, OUTCOME_TEXT, DeliveryInput, Ordered, Received

if TYPE_CHECKING:
    from chalicelib.guardians.service import Subject
    from chalicelib.population.port import PopulationRegister

ORDER_TTL_S = 365 * 24 * 3600  # a kit not sent back within a year is not coming back
SENDER = "Egen provhantering"
RESULT_SUBJECT = "Provsvar"
_IDS = uuid.UUID("3d0c1a9e-6f54-4f0e-8a8b-1177e0000054")


def _derived_id(scope: str, key: str | None) -> str:
    """A new id, or the same id for the same (caller, key): a retry finds its first order."""
    return keyed_id(_IDS, scope, key)


def result_item_id(order_id: str, result_id: str) -> str:
    """The inbox item of a result: one per (order, result), whoever delivers it how often."""
    return str(uuid.uuid5(_IDS, f"result:{order_id}:{result_id}"))


def _delivery(delivery: DeliveryInput, subject: Subject, register: PopulationRegister) -> dict[str, Any]:
    """Where the kit goes, as stored on the order; 422 for a delivery that does not add up."""
    if delivery.kind == "home":
        if delivery.address is not None or delivery.pickup_point_id is not None:
            raise InvalidInput(
                "Hemleverans går till adressen i folkbokföringen: ange ingen annan adress.", code="delivery-invalid"
            )
        person = register.find(subject.account.personnummer)
        if person is None or person.address is None:
            raise InvalidInput(
                "Det finns ingen folkbokföringsadress att skicka till. "
                "Välj ett utlämningsställe eller en annan adress.",
                code="no-home-address",
            )
        address = person.address
        return {
            "kind": "home",
            "address": {"street": address.street, "postalCode": address.postal_code, "city": address.city},
        }
    if delivery.kind == "pickup-point":
        if delivery.pickup_point_id is None or delivery.address is not None:
            raise InvalidInput("Ange utlämningsställe (pickupPointId) och ingen adress.", code="delivery-invalid")
        return {"kind": "pickup-point", "pickupPointId": delivery.pickup_point_id}
    if delivery.address is None or delivery.pickup_point_id is not None:
        raise InvalidInput("Ange leveransadressen (address) och inget utlämningsställe.", code="delivery-invalid")
    return {"kind": "other", "address": delivery.address.to_record()}


def _ordered_by(subject: Subject) -> dict[str, Any]:
    if subject.proxy:  # which guardian ordered in the child's name
        return {"kind": "guardian", "citizenId": subject.actor_citizen_id, "name": subject.actor_name}
    return {"kind": "citizen", "citizenId": subject.citizen_id}


def order_kit(
    subject: Subject,
    *,
    kit_type: str,
    delivery: DeliveryInput,
    idempotency_key: str | None,
    clock: Clock,
    register: PopulationRegister,
) -> Ordered:
    kit = CATALOGUE.get(kit_type)
    if kit is None:
        raise InvalidInput("Det finns inget sådant provtagningskit.", code="unknown-kit-type")
    scope = f"sample-kit:{subject.actor_citizen_id}:{subject.citizen_id}"
    guard = idempotency.guard(scope, idempotency_key, {"kitType": kit_type, "delivery": delivery.to_request()})
    now = clock()
    now_epoch = epoch_seconds(now)
    if first := idempotency.replayed(guard, now_epoch):
        return Ordered(str(first["orderId"]), created=False)
    where = _delivery(delivery, subject, register)
    order_id = _derived_id(scope, idempotency_key)
    order = {
        "orderId": order_id,
        "citizenId": subject.citizen_id,
        "kitType": kit.kit_type,
        "kitName": kit.name,
        "delivery": where,
        "orderedBy": {k: v for k, v in _ordered_by(subject).items() if v is not None},
        "status": "ordered",
        "createdAt": iso(now),
        "expiresAt": now_epoch + ORDER_TTL_S,
    }
    uow = UnitOfWork()
    repository.add_order(uow, order)
    activity.record(uow, subject, "sample-kit-ordered", now, log=audit_repository.DYNAMO)
    idempotency.add_guard(uow, guard, {"orderId": order_id}, now_epoch)
    try:
        uow.commit()
    except idempotency.LostRace as lost:
        return Ordered(str(idempotency.winner(lost, now_epoch)["orderId"]), created=False)
    metrics.add_metric(name="SampleKitOrdered", unit="Count", value=1)
    return Ordered(order_id, created=True)


def _fingerprint(analysis: str, outcome: str, text: str) -> str:
    return idempotency.fingerprint({"analysis": analysis, "outcome": outcome, "text": text})


def _not_found() -> NotFound:
    return NotFound("Beställningen finns inte.", code="order-not-found")


def _same_or_conflict(stored: dict[str, Any], printed: str, order_id: str, result_id: str) -> Received:
    if stored.get("fingerprint") != printed:
        raise Conflict(
            "Provsvaret är redan mottaget med ett annat innehåll. Skicka ett rättat svar med ett nytt resultId.",
            code="result-differs",
        )
    return Received(order_id, result_id, duplicate=True)


def receive_result(
    *,
    lab: str,
    order_id: str,
    result_id: str,
    analysis: str,
    outcome: str,
    text: str,
    clock: Clock,
) -> Received:
    """The lab's result in the citizen's inbox, once per (order, result)."""
    now = clock()
    order, stored = repository.order_and_result(order_id, result_id)
    if not dynamo.is_live(order, epoch_seconds(now)):
        raise _not_found()
    assert order is not None
    printed = _fingerprint(analysis, outcome, text)
    if stored is not None:
        return _same_or_conflict(stored, printed, order_id, result_id)
    item_id = result_item_id(order_id, result_id)
    lab_result = {
        "orderId": order_id,
        "resultId": result_id,
        "kitType": order["kitType"],
        "analysis": analysis,
        "outcome": outcome,
        "receivedAt": iso(now),
    }
    uow = UnitOfWork()
    repository.add_result(
        uow,
        order_id,
        result_id,
        {
            "orderId": order_id,
            "resultId": result_id,
            "fingerprint": printed,
            "itemId": item_id,
            "lab": lab,
            "receivedAt": iso(now),
            "expiresAt": order.get("expiresAt"),
        },
    )
    repository.result_arrived(uow, order_id, iso(now))
    arrivals.new_item(
        uow,
        order["citizenId"],
        item_id=item_id,
        kind="message",
        subject=RESULT_SUBJECT,
        sender=SENDER,
        at=now,
        unread=True,  # something new for the citizen: notified once
        body=f"{order['kitName']}\n\n{analysis}: {OUTCOME_TEXT[outcome]}\n\n{text}",
        details={"labResult": lab_result},
    )
    try:
        uow.commit()
    except repository.ResultExists:
        # a concurrent delivery of the same result committed first: compare with what it stored
        _, stored = repository.order_and_result(order_id, result_id)
        if stored is None:
            raise
        return _same_or_conflict(stored, printed, order_id, result_id)
    metrics.add_metric(name="LabResultDelivered", unit="Count", value=1)
    return Received(order_id, result_id, duplicate=False)
