"""Settings, the staff view of the notification method, the contact-details service and the support
desk's change (R-10..R-15, R-33) in-process over the routes, against DynamoDB Local.

Numbers are from PTS's range reserved for fiction (070-174 06 05 … 070-174 06 99)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest

from tests.integration.admin_helpers import admin
from tests.integration.case_helpers import ADMIN, CLINIC, RECEIVER, staff_token
from tests.support import pnr

MOBILE = "070-174 06 05"
MOBILE_E164 = "+46701740605"
OTHER_MOBILE = "070-174 06 99"
OTHER_MOBILE_E164 = "+46701740699"
EMAIL = "sara.berg@example.com"
PEOPLE_ROUTES = ("/citizens/{cid}/settings", "/staff/citizen-lookup", "/contact-details/lookup")


@pytest.fixture(autouse=True)
def _routes_registered() -> None:
    """Until app.py registers the settings and contacts blueprints, add them to the app here."""
    from app import app
    from chalicelib.contacts.routes import bp as contact_routes
    from chalicelib.settings.routes import bp as settings_routes

    if "/citizens/{cid}/settings" not in app.routes:
        app.register_blueprint(settings_routes)
    if "/contact-details/lookup" not in app.routes:
        app.register_blueprint(contact_routes)


def contact_token(client: str = "journal-system-1", scope: str = "contact-details:read", **overrides: Any) -> str:
    from local.bootstrap import ensure_staff_key

    now = int(time.time())
    claims = {
        "iss": "local-staff-idp",
        "aud": "e-services",
        "client": client,
        "scope": scope,
        "iat": now,
        "exp": now + 600,
        **overrides,
    }
    return jwt.encode(claims, ensure_staff_key().read_bytes(), algorithm="RS256")


def settings_of(api, token: str, cid: str = "me") -> dict[str, Any]:
    status, body, _ = api.call("GET", f"/citizens/{cid}/settings", token=token)
    assert status == 200, body
    return body  # type: ignore[no-any-return]


def patch(api, token: str, changes: dict[str, Any], cid: str = "me") -> tuple[int, Any]:
    status, body, _ = api.call("PATCH", f"/citizens/{cid}/settings", changes, token=token)
    return status, body


def full_settings(api, token: str) -> None:
    status, body = patch(
        api,
        token,
        {"mobile": MOBILE, "email": EMAIL, "notifyBySms": True, "shareContactDetails": True, "digitalOnly": True},
    )
    assert status == 200, body


def audit_of(citizen_id: str) -> list[dict[str, Any]]:
    from chalicelib.audit import service as audit

    return audit.entries_for(audit.citizen_subject(citizen_id))


def stored(citizen_id: str) -> dict[str, Any] | None:
    from chalicelib.settings import repository

    return repository.get(citizen_id)


# ---------------------------------------------------------------- citizen settings


def test_defaults_then_set_normalizes_and_audits_field_names_only(api):
    token = api.token_for(pnr("Sara"))
    citizen_id = token.split(".")[0]
    assert settings_of(api, token) == {
        "mobile": None,
        "email": None,
        "notifyBySms": False,
        "notifyByEmail": False,
        "shareContactDetails": False,
        "digitalOnly": False,
        "deliveryProblems": {},
    }
    status, body = patch(api, token, {"mobile": "070-123 45 67", "email": "Sara.Berg@EXAMPLE.com"})
    assert status == 200, body
    assert body["mobile"] == "+46701234567" and body["email"] == "Sara.Berg@example.com"
    assert settings_of(api, token)["mobile"] == "+46701234567"
    full_settings(api, token)
    body = settings_of(api, token)
    assert body["mobile"] == MOBILE_E164 and body["digitalOnly"] is True and "guardianContacts" not in body
    entries = [e for e in audit_of(citizen_id) if e["action"] == "settings.change"]
    assert entries and all(e["actorKind"] == "citizen" and e["actor"] == citizen_id for e in entries)
    assert MOBILE_E164 not in str(entries) and "example.com" not in str(entries)


def test_absent_fields_stay_and_null_clears(api):
    token = api.token_for(pnr("Sara"))
    assert patch(api, token, {"mobile": MOBILE, "email": EMAIL})[0] == 200
    status, body = patch(api, token, {"email": None})
    assert status == 200 and body["mobile"] == MOBILE_E164 and body["email"] is None


@pytest.mark.parametrize("mobile", ["12345", "08-123 456 78", "+46 8 123 456 78", "not a number", "070-17"])
def test_invalid_or_fixed_line_mobile_is_refused(api, mobile):
    token = api.token_for(pnr("Sara"))
    citizen_id = token.split(".")[0]
    status, problem = patch(api, token, {"mobile": mobile})
    assert status == 422 and problem["code"] == "invalid-mobile" and problem["detail"]
    assert mobile not in str(problem)
    assert stored(citizen_id) is None


@pytest.mark.parametrize("email", ["sara.berg", "sara@", "@example.com", "sara berg@example.com", "sara@localhost"])
def test_invalid_email_is_refused(api, email):
    token = api.token_for(pnr("Sara"))
    status, problem = patch(api, token, {"email": email})
    assert status == 422 and problem["code"] == "invalid-email"
    assert settings_of(api, token)["email"] is None


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"notifyBySms": True}, "sms-needs-mobile"),
        ({"notifyByEmail": True, "mobile": MOBILE}, "email-needs-email"),
        ({"shareContactDetails": True}, "sharing-needs-contact-details"),
        (
            {"mobile": MOBILE, "notifyBySms": True, "digitalOnly": True},
            "digital-only-needs-notifications-and-sharing",
        ),
        (
            {"mobile": MOBILE, "shareContactDetails": True, "digitalOnly": True},
            "digital-only-needs-notifications-and-sharing",
        ),
    ],
)
def test_rule_breaks_are_422_with_the_rule_and_write_nothing(api, changes, code):
    token = api.token_for(pnr("Sara"))
    citizen_id = token.split(".")[0]
    status, problem = patch(api, token, changes)
    assert status == 422 and problem["code"] == code and problem["detail"], problem
    assert stored(citizen_id) is None  # nothing written, not even the valid mobile
    assert settings_of(api, token)["mobile"] is None


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"notifyBySms": False}, "digital-only-needs-notifications-and-sharing"),
        ({"shareContactDetails": False}, "digital-only-needs-notifications-and-sharing"),
        ({"mobile": None}, "sms-needs-mobile"),
    ],
)
def test_a_change_that_would_break_digital_only_is_refused(api, changes, code):
    token = api.token_for(pnr("Sara"))
    full_settings(api, token)
    before = settings_of(api, token)
    status, problem = patch(api, token, changes)
    assert status == 422 and problem["code"] == code
    assert settings_of(api, token) == before
    # switching digital only off first makes the same change possible
    assert patch(api, token, {"digitalOnly": False, **changes})[0] == 200 or code == "sms-needs-mobile"


def test_staff_token_cannot_read_or_change_settings(api):
    token = api.token_for(pnr("Sara"))
    citizen_id = token.split(".")[0]
    staff = staff_token(RECEIVER)
    for cid in ("me", citizen_id):
        status, problem = patch(api, staff, {"notifyBySms": False}, cid=cid)
        assert (status, problem["code"]) == (403, "citizen-only"), problem
        assert api.call("GET", f"/citizens/{cid}/settings", token=staff)[0] == 403
    assert stored(citizen_id) is None


def test_another_citizen_cannot_touch_settings(api):
    sara = api.token_for(pnr("Sara"))
    johan = api.token_for(pnr("Johan"))
    sara_id = sara.split(".")[0]
    assert patch(api, johan, {"mobile": MOBILE}, cid=sara_id)[0] == 404
    assert api.call("GET", f"/citizens/{sara_id}/settings", token=johan)[0] == 404
    assert stored(sara_id) is None


# ---------------------------------------------------------------- guardians


def _child_id(api, token: str, name: str) -> str:
    children = api.call("GET", "/me", token=token)[1]["actingFor"]
    return str(next(c["citizenId"] for c in children if c["name"] == name))


def test_guardians_set_their_own_contact_on_a_young_child_and_see_only_their_own(api):
    from chalicelib.settings import service

    anna = api.token_for(pnr("Anna"))
    erik = api.token_for(pnr("Erik"))
    anna_id, erik_id = anna.split(".")[0], erik.split(".")[0]
    elsa = _child_id(api, anna, "Elsa Andersson")
    assert settings_of(api, anna, elsa)["guardianContacts"] == {}

    status, body = patch(api, anna, {"guardianContact": {"mobile": MOBILE}}, cid=elsa)
    assert status == 200, body
    assert body["guardianContacts"] == {anna_id: {"mobile": MOBILE_E164, "email": None, "deliveryProblems": {}}}
    status, body = patch(api, erik, {"guardianContact": {"email": "erik@example.com"}}, cid=elsa)
    assert status == 200 and set(body["guardianContacts"]) == {erik_id}
    assert MOBILE_E164 not in str(settings_of(api, erik, elsa))  # never another guardian's entry
    assert set(settings_of(api, anna, elsa)["guardianContacts"]) == {anna_id}

    assert service.notification_targets(elsa) == sorted(
        [(f"guardian:{anna_id}", "sms"), (f"guardian:{erik_id}", "email")]
    )
    assert service.contact_for(elsa, f"guardian:{anna_id}", "sms") == MOBILE_E164
    assert service.contact_for(elsa, f"guardian:{anna_id}", "email") is None

    status, problem = patch(api, anna, {"guardianContact": {"mobile": "12345"}}, cid=elsa)
    assert status == 422 and problem["code"] == "invalid-mobile"
    assert patch(api, anna, {"guardianContact": None}, cid=elsa)[0] == 200  # null clears the own entry
    assert service.notification_targets(elsa) == [(f"guardian:{erik_id}", "email")]

    # a guardian contact on one's own settings makes no sense
    status, problem = patch(api, anna, {"guardianContact": {"mobile": MOBILE}})
    assert status == 422 and problem["code"] == "guardian-contact-needs-child"


def test_guardian_of_a_fifteen_year_old_gets_404(api):
    anna = api.token_for(pnr("Anna"))
    leo = api.token_for(pnr("Leo"))
    leo_id = leo.split(".")[0]
    assert patch(api, anna, {"guardianContact": {"mobile": MOBILE}}, cid=leo_id)[0] == 404
    assert patch(api, anna, {"mobile": MOBILE}, cid=leo_id)[0] == 404
    assert api.call("GET", f"/citizens/{leo_id}/settings", token=anna)[0] == 404
    assert stored(leo_id) is None


# ---------------------------------------------------------------- delivery problems and staff lookup


def lookup(api, personnummer: str, token: str | None = None, **extra: Any) -> tuple[int, Any]:
    status, body, _ = api.call(
        "POST", "/staff/citizen-lookup", {"personnummer": personnummer, **extra}, token=token or staff_token(RECEIVER)
    )
    return status, body


def test_permanent_failure_shows_to_citizen_and_staff_until_the_mobile_changes(api):
    from chalicelib.settings import service

    token = api.token_for(pnr("Sara"))
    citizen_id = token.split(".")[0]
    full_settings(api, token)
    assert service.notification_targets(citizen_id) == [("self", "sms")]
    assert service.contact_for(citizen_id, "self", "sms") == MOBILE_E164
    assert service.contact_for(citizen_id, "self", "email") is None  # e-mail set, but not switched on

    sent = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    service.record_delivery(citizen_id, "self", "sms", status="sending", at=sent, notification_id="n1")
    failed = datetime(2026, 11, 22, 9, 1, tzinfo=UTC)
    service.record_delivery(citizen_id, "self", "sms", status="permanent-failure", at=failed, notification_id="n1")
    # a late, older status does not overwrite the newer one
    service.record_delivery(citizen_id, "self", "sms", status="sending", at=sent, notification_id="n1")

    problems = settings_of(api, token)["deliveryProblems"]
    assert problems == {"sms": {"status": "permanent-failure", "at": "2026-11-22T09:01:00.000Z"}}
    status, view = lookup(api, pnr("Sara"))
    assert status == 200 and view["deliveryProblems"] == {"sms": True, "email": False}
    assert view["lastDelivery"]["channel"] == "sms" and view["lastDelivery"]["status"] == "permanent-failure"

    # changing the e-mail leaves the SMS problem; changing the mobile clears it
    assert patch(api, token, {"email": "sara.b@example.com"})[1]["deliveryProblems"] == problems
    status, body = patch(api, token, {"mobile": OTHER_MOBILE})
    assert status == 200 and body["mobile"] == OTHER_MOBILE_E164 and body["deliveryProblems"] == {}
    assert lookup(api, pnr("Sara"))[1]["deliveryProblems"] == {"sms": False, "email": False}

    # a late bounce for the old number does not flag the new one
    service.record_delivery(
        citizen_id, "self", "sms", status="permanent-failure", at=failed, notification_id="n1", sent_to=MOBILE_E164
    )
    assert settings_of(api, token)["deliveryProblems"] == {}


def test_staff_lookup_never_shows_details_and_is_audited(api):
    token = api.token_for(pnr("Sara"))
    citizen_id = token.split(".")[0]
    full_settings(api, token)
    status, view, headers = api.call(
        "POST", "/staff/citizen-lookup", {"personnummer": pnr("Sara")}, token=staff_token(RECEIVER)
    )
    assert status == 200, view
    assert view == {
        "activated": True,
        "locked": False,
        "protectedIdentity": False,
        "notifyBySms": True,
        "notifyByEmail": False,
        "digitalOnly": True,
        "lastDelivery": None,
        "deliveryProblems": {"sms": False, "email": False},
    }
    raw = str(view) + str(headers)
    for secret in (MOBILE_E164, "0701740605", "701740605", EMAIL, "example.com"):
        assert secret not in raw
    entries = [e for e in audit_of(citizen_id) if e["action"] == "read.citizen-lookup"]
    assert len(entries) == 1
    entry = entries[0]
    assert entry["actorKind"] == "staff" and entry["actor"] == RECEIVER
    assert entry["details"]["clinicId"] == CLINIC and entry["details"]["staffName"]
    access_log = api.call("GET", "/citizens/me/access-log", token=token)[1]
    assert "citizen-lookup" in str(access_log)


def test_staff_lookup_of_a_person_without_account_and_protected_identity(api):
    from chalicelib.audit import service as audit
    from chalicelib.core.personal_number import lookup_key

    status, view = lookup(api, pnr("Maria"))
    assert status == 200 and view["activated"] is False and view["protectedIdentity"] is True
    assert view["notifyBySms"] is False and view["deliveryProblems"] == {"sms": False, "email": False}
    entries = audit.entries_for(audit.person_subject(lookup_key(pnr("Maria"))))
    assert [e["action"] for e in entries] == ["read.citizen-lookup"] and entries[0]["actor"] == RECEIVER


def test_staff_lookup_needs_a_case_role_and_a_staff_token(api):
    citizen = api.token_for(pnr("Sara"))
    assert lookup(api, pnr("Sara"), token=staff_token(ADMIN))[0] == 403  # clinic admin only
    assert lookup(api, pnr("Sara"), token=citizen)[0] == 401
    assert lookup(api, pnr("Sara"), token=contact_token())[0] == 401
    assert lookup(api, pnr("Sara"), clinicId="SE2321000016-9999")[0] == 404
    status, problem = lookup(api, "123")
    assert status == 422 and "123" not in str(problem.get("errors"))


# ---------------------------------------------------------------- contact-details service


def contact_lookup(api, personnummer: str, token: str | None = None) -> tuple[int, Any]:
    status, body, _ = api.call(
        "POST", "/contact-details/lookup", {"personnummer": personnummer}, token=token or contact_token()
    )
    return status, body


def test_contact_details_only_while_shared_and_every_lookup_audited(api):
    token = api.token_for(pnr("Sara"))
    citizen_id = token.split(".")[0]
    assert patch(api, token, {"mobile": MOBILE})[0] == 200
    status, problem = contact_lookup(api, pnr("Sara"))
    assert status == 404 and problem["code"] == "not-shared"

    assert patch(api, token, {"shareContactDetails": True})[0] == 200
    assert contact_lookup(api, pnr("Sara")) == (200, {"mobile": MOBILE_E164})
    assert patch(api, token, {"email": EMAIL})[0] == 200
    assert contact_lookup(api, pnr("Sara")) == (200, {"mobile": MOBILE_E164, "email": EMAIL})

    assert patch(api, token, {"shareContactDetails": False})[0] == 200  # withdrawn
    status, problem = contact_lookup(api, pnr("Sara"))
    assert status == 404 and problem["code"] == "not-shared" and MOBILE_E164 not in str(problem)

    entries = [e for e in audit_of(citizen_id) if e["action"] == "read.contact-details"]
    assert [e["outcome"] for e in sorted(entries, key=lambda e: e["at"])] == [
        "refused:not-shared",
        "ok",
        "ok",
        "refused:not-shared",
    ]
    assert all(e["actorKind"] == "care-system" and e["actor"] == "journal-system-1" for e in entries)
    assert MOBILE_E164 not in str(entries)


def test_contact_lookup_without_account_is_404_and_audited(api):
    from chalicelib.audit import service as audit
    from chalicelib.core.personal_number import lookup_key

    status, problem = contact_lookup(api, pnr("Johan"))
    assert status == 404 and problem["code"] == "not-shared"
    entries = audit.entries_for(audit.person_subject(lookup_key(pnr("Johan"))))
    assert [(e["actorKind"], e["outcome"]) for e in entries] == [("care-system", "refused:no-account")]


def test_contact_lookup_needs_a_machine_token_with_the_scope(api):
    token = api.token_for(pnr("Sara"))
    full_settings(api, token)
    assert contact_lookup(api, pnr("Sara"), token=staff_token(RECEIVER))[0] == 401
    assert contact_lookup(api, pnr("Sara"), token=token)[0] == 401
    assert contact_lookup(api, pnr("Sara"), token=contact_token(scope="bookings:write"))[0] == 403
    assert contact_lookup(api, pnr("Sara"), token=contact_token(exp=int(time.time()) - 3600))[0] == 401
    assert contact_lookup(api, pnr("Sara"), token=contact_token(aud="someone-else"))[0] == 401
    assert contact_lookup(api, pnr("Sara"), token=contact_token(scope="openid contact-details:read"))[0] == 200


# ---------------------------------------------------------------- support desk


def change(personnummer: str, changes: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return admin("admin_change_settings", personnummer, changes=changes, **fields)


def test_support_desk_changes_settings_under_a_ticket(api):
    from chalicelib.audit import service as audit

    token = api.token_for(pnr("Sara"))
    citizen_id = token.split(".")[0]
    result = change(pnr("Sara"), {"mobile": MOBILE, "notifyBySms": True}, ticketRef="EASIT-2026-0042")
    assert result["ok"] is True and result["citizenId"] == citizen_id, result
    assert result["settings"]["notifyBySms"] is True and result["settings"]["hasMobile"] is True
    assert MOBILE_E164 not in str(result)
    body = settings_of(api, token)
    assert body["mobile"] == MOBILE_E164 and body["notifyBySms"] is True

    refused = change(pnr("Sara"), {"digitalOnly": True}, ticketRef="EASIT-2026-0042")
    assert refused == {
        "ok": False,
        "code": "digital-only-needs-notifications-and-sharing",
        "detail": refused["detail"],
    }
    assert change(pnr("Sara"), {"mobile": "12345"})["code"] == "invalid-mobile"
    assert settings_of(api, token)["digitalOnly"] is False

    entries = audit.entries_for_ticket("EASIT-2026-0042")
    outcomes = sorted((e["action"], e["outcome"], e["actorKind"]) for e in entries)
    assert outcomes == [
        ("settings.change", "ok", "support-desk"),
        ("settings.change", "refused:digital-only-needs-notifications-and-sharing", "support-desk"),
    ]
    assert all(e["pk"] == f"CITIZEN#{citizen_id}" for e in entries)
    assert MOBILE_E164 not in str(entries)


def test_support_desk_change_for_a_person_without_account_or_with_a_bad_event(api):
    result = change(pnr("Johan"), {"notifyBySms": False})
    assert result["ok"] is False and result["code"] == "no-account"
    assert change(pnr("Sara"), {}, ticketRef="EASIT-1")["code"] in ("no-changes", "no-account")
    bad = admin("admin_change_settings", pnr("Sara"))
    assert bad["ok"] is False and bad["code"] == "invalid-input"


def test_a_concurrent_change_is_not_lost(api, monkeypatch):
    """Optimistic concurrency: a delivery recorded between read and write makes the citizen's change
    retry on fresh data, and both survive."""
    from chalicelib.settings import rules, service

    token = api.token_for(pnr("Sara"))
    citizen_id = token.split(".")[0]
    full_settings(api, token)
    original = rules.apply
    calls = []

    def racing_apply(current, changes):
        if not calls:
            service.record_delivery(
                citizen_id,
                "self",
                "sms",
                status="permanent-failure",
                at=datetime(2026, 11, 22, 9, 0, tzinfo=UTC),
                notification_id="n9",
            )
        calls.append(current.version)
        return original(current, changes)

    monkeypatch.setattr(rules, "apply", racing_apply)
    status, body = patch(api, token, {"email": "sara.b@example.com"})
    assert status == 200 and len(calls) == 2 and calls[1] == calls[0] + 1
    assert body["email"] == "sara.b@example.com" and body["deliveryProblems"]["sms"]["status"] == "permanent-failure"
    assert stored(citizen_id)["version"] == calls[1] + 1
