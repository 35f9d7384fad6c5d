"""The citizen's own emergency lock (beyond 1177, which needs a paper form): a logged-in citizen confirms
with a BankID sign order for the same person, and on completion the account is locked and every
session ends at once (R-03a, R-04). The lock is lifted by the support desk on the citizen's request
(R-08), or by logging in with a BankID issued after the lock (`service._newer_e_id`)."""

from __future__ import annotations

from chalicelib.accounts import service as accounts
from chalicelib.auth import repository
from chalicelib.auth.service import STORES, BankID, Principal, SessionStores, StartedOrder, bankid_call, start_limits
from chalicelib.core import dynamo, rate_limit
from chalicelib.core.clock import Clock, epoch_seconds
from chalicelib.core.concurrency import VersionConflict
from chalicelib.core.config import settings
from chalicelib.core.errors import Conflict, Forbidden, NotFound
from chalicelib.core.observability import metrics

# What the citizen reads in the BankID app before signing.
LOCK_TEXT = (
    "Jag vill låsa min inloggning till e-tjänsterna på 1177. Ingen kan logga in på mitt konto förrän det låses upp."
)


def start(
    principal: Principal, end_user_ip: str, *, bankid: BankID, clock: Clock, stores: SessionStores = STORES
) -> StartedOrder:
    personnummer = principal.account.personnummer
    rate_limit.consume(start_limits(personnummer, end_user_ip), clock())
    order = bankid_call(
        bankid.sign, end_user_ip=end_user_ip, user_visible_data=LOCK_TEXT, requirement={"personalNumber": personnummer}
    )
    now = clock()
    stores.sessions.put_order(
        order["orderRef"],
        order["qrStartToken"],
        order["qrStartSecret"],
        started_at=now.timestamp(),
        expires_at=epoch_seconds(now) + settings().bankid_order_ttl_seconds,
        purpose="lock",
        citizen_id=principal.citizen_id,
    )
    return StartedOrder(order["orderRef"], order["autoStartToken"], order["qrStartToken"])


def collect(
    principal: Principal, order_ref: str, *, bankid: BankID, clock: Clock, stores: SessionStores = STORES
) -> tuple[str, str | None]:
    """(status, hintCode); on `complete` the account is locked and this very session has ended."""
    order = stores.sessions.get_order(order_ref)
    if (
        order is None
        or not dynamo.is_live(order, epoch_seconds(clock()))
        or order.get("purpose") != "lock"
        or order.get("citizenId") != principal.citizen_id
    ):
        raise NotFound("Låsningen finns inte eller har gått ut. Starta om.", code="order-not-found")
    result = bankid_call(bankid.collect, order_ref)
    status = result.get("status")
    if status != "complete":
        if status == "failed":
            stores.sessions.delete_order(order_ref)
        return status or "pending", result.get("hintCode")
    signer = result["completionData"]["user"]["personalNumber"]
    if signer != principal.account.personnummer:  # BankID bound the order to this person; never trust less
        stores.sessions.delete_order(order_ref)
        raise Forbidden("Låsningen måste bekräftas med ditt eget BankID.", code="wrong-person")
    uow = stores.new_uow()
    accounts.lock_by_citizen(uow, principal.account, at=clock(), stores=stores)
    stores.sessions.consume_order(uow, order_ref, epoch_seconds(clock()), purpose="lock")
    try:
        uow.commit()
    except repository.OrderUsed:
        raise Conflict("Låsningen är redan gjord eller har gått ut.", code="order-already-used") from None
    except (VersionConflict, dynamo.TransactionConflict):
        raise Conflict("Kontot ändrades samtidigt. Försök igen.", code="concurrent-change") from None
    metrics.add_metric(name="SelfLock", unit="Count", value=1)
    return "complete", None
