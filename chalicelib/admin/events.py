"""Support-desk functions, invoked from the AWS console with typed events (IAM decides who may).

Each returns `{ok: true, ...}` or `{ok: false, code, detail}`; every call, refused or not, is audited
with its ticket reference (by the support-desk and settings services). The event holds a personnummer: it is never
logged (no `log_event`), and only the outcome code is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from chalice.app import Blueprint

from chalicelib.core.clock import system_clock
from chalicelib.core.errors import Problem
from chalicelib.core.http import validate
from chalicelib.core.lazy import lazy_module
from chalicelib.core.observability import logger, metrics

# The API function shares this module (one Chalice app): what only the console functions use is loaded
# when one of them runs, not on the API's cold start.
if TYPE_CHECKING:
    from chalicelib.accounts.models import Account
    from chalicelib.admin import schemas as models
    from chalicelib.audit.models import SupportRequest
    from chalicelib.support import service as support
else:
    support = lazy_module("chalicelib.support.service")

bp = Blueprint(__name__)
E = TypeVar("E", bound="models.AdminEvent")
R = TypeVar("R")


def _account_result(account: Account) -> dict[str, Any]:
    return {
        "citizenId": account.citizen_id,
        "locked": account.locked,
        "lock": account.lock.to_record() if account.lock else None,
        "recordSealed": account.record_sealed,
    }


def _run(
    name: str,
    model_name: str,
    event: Any,
    action: Callable[[E, SupportRequest], R],
    result_of: Callable[[R], dict[str, Any]] = _account_result,  # type: ignore[assignment]
) -> dict[str, Any]:
    from chalicelib.admin import schemas as models
    from chalicelib.audit.models import SupportRequest

    model: type[E] = getattr(models, model_name)
    try:
        parsed = validate(model, event if isinstance(event, dict) else {})
        request = SupportRequest(ticket_ref=parsed.ticket_ref, region=parsed.region, actor=parsed.actor)
        outcome = action(parsed, request)
    except Problem as problem:
        logger.info("admin action refused", extra={"function": name, "code": problem.code})
        metrics.add_metric(name="AdminActionRefused", unit="Count", value=1)
        metrics.flush_metrics()
        result: dict[str, Any] = {"ok": False, "code": problem.code, "detail": problem.detail}
        if "errors" in problem.extra:
            result["errors"] = problem.extra["errors"]
        return result
    logger.info("admin action done", extra={"function": name})
    metrics.add_metric(name="AdminAction", unit="Count", value=1)
    metrics.flush_metrics()
    return {"ok": True, **result_of(outcome)}


@bp.lambda_function(name="admin_lock_account")
def admin_lock_account(event: dict[str, Any], context: Any) -> dict[str, Any]:
    def act(e: models.LockAccountEvent, request: SupportRequest) -> Account:
        return support.lock(
            e.personnummer,
            requested_by=e.requested_by,
            requester=e.requester,
            form_ref=e.form_ref,
            request=request,
            clock=system_clock,
        )

    return _run("admin_lock_account", "LockAccountEvent", event, act)


@bp.lambda_function(name="admin_unlock_account")
def admin_unlock_account(event: dict[str, Any], context: Any) -> dict[str, Any]:
    def act(e: models.UnlockAccountEvent, request: SupportRequest) -> Account:
        return support.unlock(
            e.personnummer, requested_by=e.requested_by, form_ref=e.form_ref, request=request, clock=system_clock
        )

    return _run("admin_unlock_account", "UnlockAccountEvent", event, act)


@bp.lambda_function(name="admin_record_unlock_decision")
def admin_record_unlock_decision(event: dict[str, Any], context: Any) -> dict[str, Any]:
    def act(e: models.UnlockDecisionEvent, request: SupportRequest) -> Account:
        return support.record_unlock_decision(
            e.personnummer,
            approved=e.decision == "yes",
            head_of_unit=e.head_of_unit,
            decision_ref=e.decision_ref,
            request=request,
            clock=system_clock,
        )

    return _run("admin_record_unlock_decision", "UnlockDecisionEvent", event, act)


@bp.lambda_function(name="admin_seal_record")
def admin_seal_record(event: dict[str, Any], context: Any) -> dict[str, Any]:
    def act(e: models.SealRecordEvent, request: SupportRequest) -> Account:
        return support.seal_record(
            e.personnummer, sealed=e.sealed, form_ref=e.form_ref, request=request, clock=system_clock
        )

    return _run("admin_seal_record", "SealRecordEvent", event, act)


@bp.lambda_function(name="admin_change_settings")
def admin_change_settings(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """R-15: change a citizen's settings under a ticket (runbook: change-settings.md)."""
    from chalicelib.settings import service as settings

    def act(e: models.ChangeSettingsEvent, request: SupportRequest) -> tuple[str, dict[str, Any]]:
        changes = e.changes.model_dump(by_alias=True, include=set(e.changes.model_fields_set))
        return settings.change_by_support(e.personnummer, changes, request=request, clock=system_clock)

    def result(outcome: tuple[str, dict[str, Any]]) -> dict[str, Any]:
        citizen_id, view = outcome
        # The answer lands in the console only: the flags, and whether each detail is set — not the details.
        return {
            "citizenId": citizen_id,
            "settings": {
                **{k: v for k, v in view.items() if k not in ("mobile", "email")},
                "hasMobile": view["mobile"] is not None,
                "hasEmail": view["email"] is not None,
            },
        }

    return _run("admin_change_settings", "ChangeSettingsEvent", event, act, result)
