"""PASiS and PMO behind the booking-system port, over the national scheduling contracts' operations
(JSON over HTTPS, one POST per operation). The two systems share the contract; they differ in how a
time is marked bookable online (PASiS: 1177-nivå 4; PMO: a booking type visible in the e-services).
Locally the same code talks to the booking-system simulator (local/booking_simulator.py); only the
endpoint and key differ.

Every call has a short timeout (the API answers within API Gateway's limit even after a resolve and a
retry), goes through the system's circuit breaker, and counts `BookingSystemError` on failure."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from chalicelib.core.config import settings
from chalicelib.core.errors import ConfigurationError
from chalicelib.core.observability import logger, metrics
from chalicelib.core.process import process_wide
from chalicelib.web_booking.booking_system import (
    BookingDetails,
    BookingRefused,
    BookingSystemUnavailable,
    SystemName,
    Timeslot,
)
from chalicelib.web_booking.breaker import Breaker

if TYPE_CHECKING:
    import httpx

CONNECT_TIMEOUT_S = 2.0
READ_TIMEOUT_S = 5.0
CHANGING = frozenset({"MakeBooking", "UpdateBooking", "CancelBooking"})
SYSTEMS: tuple[SystemName, ...] = ("PASiS", "PMO")


class ContractClient:
    """One booking system's scheduling contract. Subclasses say how a time is bookable online."""

    name: SystemName

    def __init__(self, url: str, api_key: str, http: httpx.Client, breaker: Breaker) -> None:
        self.url = url if url.endswith("/") else url + "/"
        self._headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
        self._http = http
        self.breaker = breaker

    # ------------------------------------------------------------------ the contract's operations

    def available(self, facility: str, first: date, last: date) -> list[Timeslot]:
        answer = self._call(
            "GetAvailableTimeslots",
            {"healthcareFacility": facility, "startDate": first.isoformat(), "endDate": last.isoformat()},
        )
        return [self._slot(t) for t in answer.get("timeslots", [])]

    def timeslots(self, facility: str, slot_ids: list[str], invitation_id: str | None = None) -> list[Timeslot]:
        body: dict[str, Any] = {"healthcareFacility": facility, "timeslotIds": slot_ids}
        if invitation_id:
            body["invitationId"] = invitation_id
        answer = self._call("GetAvailableTimeslots", body)
        return [self._slot(t) for t in answer.get("timeslots", [])]

    def schedule(self, personnummer: str, facilities: list[str]) -> list[Timeslot]:
        answer = self._call(
            "GetSubjectOfCareSchedule", {"subjectOfCare": personnummer, "healthcareFacilities": facilities}
        )
        return [self._slot(t) for t in answer.get("timeslots", [])]

    def make(
        self, slot_id: str, personnummer: str, facility: str, ref: str, invitation_id: str | None = None
    ) -> Timeslot:
        body: dict[str, Any] = {
            "timeslotId": slot_id,
            "subjectOfCare": personnummer,
            "healthcareFacility": facility,
            "externalRef": ref,
        }
        if invitation_id:
            body["invitationId"] = invitation_id
        answer = self._call("MakeBooking", body)
        return self._slot({**answer["timeslot"], "bookingId": answer["bookingId"]})

    def update(self, booking_id: str, personnummer: str, new_slot_id: str, ref: str) -> Timeslot:
        answer = self._call(
            "UpdateBooking",
            {"bookingId": booking_id, "subjectOfCare": personnummer, "newTimeslotId": new_slot_id, "externalRef": ref},
        )
        return self._slot({**answer["timeslot"], "bookingId": answer["bookingId"]})

    def cancel(self, booking_id: str, personnummer: str, ref: str) -> None:
        self._call("CancelBooking", {"bookingId": booking_id, "subjectOfCare": personnummer, "externalRef": ref})

    def details(self, *, booking_id: str | None = None, ref: str | None = None) -> BookingDetails | None:
        body = {"bookingId": booking_id} if booking_id else {"externalRef": ref}
        try:
            answer = self._call("GetBookingDetails", body)
        except BookingRefused as refused:
            if refused.code == "BOOKING_NOT_FOUND":
                return None
            raise
        booking = answer["booking"]
        return BookingDetails(
            booking_id=booking["bookingId"],
            status="cancelled" if booking["status"] == "cancelled" else "booked",
            timeslot=self._slot({**booking["timeslot"], "bookingId": booking["bookingId"]}),
            external_refs=tuple(booking.get("externalRefs") or ()),
        )

    # ------------------------------------------------------------------ wire

    def bookable_online(self, raw: dict[str, Any]) -> bool:
        raise NotImplementedError

    def _slot(self, raw: dict[str, Any]) -> Timeslot:
        try:
            return Timeslot(
                slot_id=str(raw["timeslotId"]),
                starts_at=_instant(raw["startTimeInclusive"]),
                ends_at=_instant(raw["endTimeExclusive"]),
                facility=str(raw["healthcareFacility"]),
                time_type_name=str(raw.get("timeTypeName") or ""),
                bookable_online=self.bookable_online(raw),
                booking_id=raw.get("bookingId"),
                cancel_allowed=bool(raw.get("cancelBookingAllowed")),
                rebook_allowed=bool(raw.get("rebookingAllowed")),
                hidden=bool(raw.get("hidden")),
                booked_by=raw.get("bookedBy") if raw.get("bookedBy") in ("care", "patient") else None,
                is_invitation=bool(raw.get("isInvitation")),
            )
        except (KeyError, TypeError, ValueError) as error:
            self._failed("bad-answer")
            raise BookingSystemUnavailable(self.name) from error

    def _call(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        import httpx

        if self.url == "/":  # the operator has not filled in the endpoint yet (infra/README.md)
            raise BookingSystemUnavailable(self.name)
        if not self.breaker.allow():
            raise BookingSystemUnavailable(self.name)
        changing = operation in CHANGING
        try:
            response = self._http.post(self.url + operation, content=json.dumps(body), headers=self._headers)
        except httpx.TimeoutException as error:
            # A read timeout on a changing call: it may have been applied. A connect timeout: it was not.
            self._failed("timeout", operation)
            maybe = changing and not isinstance(error, httpx.ConnectTimeout)
            raise BookingSystemUnavailable(self.name, timed_out=True, maybe_done=maybe) from None
        except httpx.HTTPError as error:
            self._failed("transport", operation)
            maybe = changing and not isinstance(error, httpx.ConnectError)
            raise BookingSystemUnavailable(self.name, maybe_done=maybe) from None
        if response.status_code >= 500 or response.status_code in (401, 403, 429):
            self._failed(f"http-{response.status_code}", operation)
            raise BookingSystemUnavailable(self.name, maybe_done=changing and response.status_code >= 500)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            self._failed("bad-answer", operation)
            raise BookingSystemUnavailable(self.name, maybe_done=changing)
        self.breaker.succeeded()
        if answer.get("resultCode") == "ERROR" or response.status_code >= 400:
            raise BookingRefused(str(answer.get("errorCode") or "ERROR"), str(answer.get("message") or ""))
        return answer

    def _failed(self, reason: str, operation: str = "") -> None:
        from aws_lambda_powertools.metrics import MetricUnit, single_metric

        self.breaker.failed()
        # Its own EMF record: the System dimension must not land on the request's other metrics.
        with single_metric(
            name="BookingSystemError", unit=MetricUnit.Count, value=1, namespace=metrics.namespace
        ) as metric:
            metric.add_dimension(name="System", value=self.name)
        logger.warning("booking system failed", extra={"system": self.name, "operation": operation, "reason": reason})


class PasisAdapter(ContractClient):
    name: SystemName = "PASiS"

    def bookable_online(self, raw: dict[str, Any]) -> bool:
        return raw.get("webLevel") == 4  # 1177-nivå 4: visible and bookable in the e-services


class PmoAdapter(ContractClient):
    name: SystemName = "PMO"

    def bookable_online(self, raw: dict[str, Any]) -> bool:
        return raw.get("visibleInEServices") is True


def _instant(value: Any) -> datetime:
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("an instant without a time zone")
    return parsed


def _endpoints() -> dict[str, dict[str, str]]:
    """The booking systems' endpoints and keys; the secret is cached by Powertools for five minutes,
    so a key the operator replaces is picked up without a cold start."""
    config = settings()
    raw: str | None = config.booking_systems
    if config.booking_systems_secret_arn:
        from aws_lambda_powertools.utilities.parameters import get_secret

        raw = str(get_secret(config.booking_systems_secret_arn, max_age=300))
    if not raw:
        raise ConfigurationError("BOOKING_SYSTEMS or BOOKING_SYSTEMS_SECRET_ARN is not set")
    try:
        parsed = json.loads(raw)
        return {name: {"url": str(parsed[name]["url"]), "apiKey": str(parsed[name]["apiKey"])} for name in parsed}
    except (ValueError, KeyError, TypeError) as error:
        raise ConfigurationError("the booking systems' configuration is not {system: {url, apiKey}}") from error


@process_wide
def _http() -> httpx.Client:
    import httpx

    return httpx.Client(
        timeout=httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S),
        limits=httpx.Limits(max_connections=50, max_keepalive_connections=10),
    )


def booking_system(name: SystemName) -> ContractClient:
    """The adapter for a booking system, with its breaker (one per process and endpoint). A system
    without an endpoint answers as unavailable (503), never as a server error."""
    try:
        endpoint = _endpoints().get(name) or {"url": "", "apiKey": ""}
    except Exception as error:  # the secret unreadable or malformed: 503 for the citizen, an error for us
        logger.error("booking systems not configured", extra={"error": type(error).__name__})
        endpoint = {"url": "", "apiKey": ""}
    return _adapter(name, endpoint["url"], endpoint["apiKey"])


@process_wide
def _adapter(name: SystemName, url: str, api_key: str) -> ContractClient:
    adapter = PasisAdapter if name == "PASiS" else PmoAdapter
    return adapter(url, api_key, _http(), Breaker())
