"""R-03..R-09: lock, unlock with the head of unit's decision, sealing — through the console functions."""

from __future__ import annotations

from tests.integration.admin_helpers import REGION_JKPG, REGION_SKANE, admin, decide, lock, unlock
from tests.support import pnr


def _audit(citizen_id):
    from chalicelib.audit import service as audit

    return audit.entries_for(audit.citizen_subject(citizen_id))


def _inbox(citizen_id):
    from chalicelib.inbox import service as inbox

    return inbox.items(citizen_id)


def test_r03_lock_records_who_asked_region_form_and_time_and_is_audited(api):
    token = api.token_for(pnr("Sara"))
    citizen_id = token.split(".")[0]
    result = lock(
        pnr("Sara"),
        requested_by="care",
        requester="SE2321000016-S002 Per Lund",
        formRef="COSMIC-FORM-77",
        ticketRef="EASIT-4711",
    )
    assert result["ok"] is True
    recorded = result["lock"]
    assert recorded["requestedBy"] == "care"
    assert recorded["requester"] == "SE2321000016-S002 Per Lund"
    assert recorded["region"] == REGION_JKPG
    assert recorded["formRef"] == "COSMIC-FORM-77"
    assert recorded["lockedAt"].endswith("Z")
    entries = [e for e in _audit(citizen_id) if e["action"] == "account.lock"]
    assert len(entries) == 1
    assert entries[0]["ticketRef"] == "EASIT-4711" and entries[0]["actor"] == "vis-support.anna"
    assert entries[0]["outcome"] == "ok" and entries[0]["region"] == REGION_JKPG
    from chalicelib.audit import service as audit

    assert [e["action"] for e in audit.entries_for_ticket("EASIT-4711")] == ["account.lock"]


def test_r04_lock_ends_existing_sessions_at_once_and_refuses_login(api):
    token = api.token_for(pnr("Sara"))
    other_device = api.token_for(pnr("Sara"))
    assert api.call("GET", "/me", token=token)[0] == 200
    assert lock(pnr("Sara"), requested_by="citizen")["ok"]
    for old in (token, other_device):
        status, problem, _ = api.call("GET", "/me", token=old)
        assert status == 401 and problem["code"] == "account-locked"
    outcome = api.login(pnr("Sara"))
    assert outcome["status"] == 403 and outcome["body"]["title"] == "Inloggningen är låst"


def test_r04_sessions_from_before_a_lock_stay_dead_after_unlock(api):
    token = api.token_for(pnr("Sara"))
    lock(pnr("Sara"), requested_by="citizen")
    assert unlock(pnr("Sara"), requested_by="citizen")["ok"]
    status, problem, _ = api.call("GET", "/me", token=token)
    assert status == 401 and problem["code"] == "session-ended"
    assert api.call("GET", "/me", token=api.token_for(pnr("Sara")))[0] == 200


def test_r05_person_without_account_cannot_be_locked_in_advance(api):
    from chalicelib.accounts import service
    from chalicelib.audit import service as audit
    from chalicelib.core.personal_number import lookup_key

    result = lock(pnr("Sara"), ticketRef="EASIT-5")
    assert result == {"ok": False, "code": "no-account", "detail": result["detail"]}
    assert service.find_by_personnummer(pnr("Sara")) is None
    # The refusal is audited under the keyed hash, never the personnummer.
    entries = audit.entries_for(audit.person_subject(lookup_key(pnr("Sara"))))
    assert [(e["action"], e["outcome"], e["ticketRef"]) for e in entries] == [
        ("account.lock", "refused:no-account", "EASIT-5")
    ]
    # And the person can still log in afterwards: new users cannot be blocked.
    assert api.login(pnr("Sara"))["body"]["status"] == "complete"


def test_r06_inbox_is_kept_and_keeps_receiving_while_locked(api):
    citizen_id = api.token_for(pnr("Sara")).split(".")[0]
    lock(pnr("Sara"), requested_by="care")
    decide(pnr("Sara"), "no")  # a message arrives while locked
    assert [i["subject"] for i in _inbox(citizen_id)] == ["Beslut om din låsta inloggning"]
    decide(pnr("Sara"), "yes", decisionRef="BESLUT-10")
    unlock(pnr("Sara"))
    subjects = [i["subject"] for i in _inbox(citizen_id)]
    assert set(subjects) == {"Beslut om din låsta inloggning", "Din inloggning är upplåst"}


def test_r07_guardian_cannot_act_for_a_locked_child(api):
    guardian = api.token_for(pnr("Anna"))
    me = api.call("GET", "/me", token=guardian)[1]
    names = {c["name"] for c in me["actingFor"]}
    assert names == {"Elsa Andersson", "Nils Andersson"}  # Leo is 15: no proxy
    assert lock(pnr("Elsa"), requested_by="care")["ok"]
    me = api.call("GET", "/me", token=guardian)[1]
    assert {c["name"] for c in me["actingFor"]} == {"Nils Andersson"}


def test_r07_r32_protected_identity_breaks_proxy(api):
    assert api.call("GET", "/me", token=api.token_for(pnr("Maria")))[1]["actingFor"] == []  # protected guardian
    assert api.call("GET", "/me", token=api.token_for(pnr("Karin")))[1]["actingFor"] == []  # protected child


def test_r08_citizen_lock_is_lifted_on_the_citizens_request_only(api):
    api.token_for(pnr("Sara"))
    lock(pnr("Sara"), requested_by="citizen")
    refused = unlock(pnr("Sara"), requested_by="care")
    assert refused["ok"] is False and refused["code"] == "citizen-request-required"
    assert unlock(pnr("Sara"), requested_by="citizen")["ok"] is True
    assert api.login(pnr("Sara"))["body"]["status"] == "complete"


def test_r08_care_lock_only_by_placing_region_after_yes_and_citizen_told_either_way(api):
    citizen_id = api.token_for(pnr("Sara")).split(".")[0]
    lock(pnr("Sara"), requested_by="care", region=REGION_JKPG)

    other_region = unlock(pnr("Sara"), region=REGION_SKANE)
    assert other_region["ok"] is False and other_region["code"] == "wrong-region"
    assert decide(pnr("Sara"), "yes", region=REGION_SKANE)["code"] == "wrong-region"

    no_decision = unlock(pnr("Sara"))
    assert no_decision["ok"] is False and no_decision["code"] == "decision-missing"

    assert decide(pnr("Sara"), "no")["ok"] is True
    said_no = unlock(pnr("Sara"))
    assert said_no["ok"] is False and said_no["code"] == "decision-no"
    assert api.login(pnr("Sara"))["status"] == 403
    assert [i["subject"] for i in _inbox(citizen_id)] == ["Beslut om din låsta inloggning"]

    assert decide(pnr("Sara"), "yes", decisionRef="BESLUT-11")["ok"] is True
    done = unlock(pnr("Sara"))
    assert done["ok"] is True and done["locked"] is False
    assert "Din inloggning är upplåst" in [i["subject"] for i in _inbox(citizen_id)]
    assert api.login(pnr("Sara"))["body"]["status"] == "complete"
    actions = [(e["action"], e["outcome"]) for e in _audit(citizen_id)]
    assert ("account.unlock", "refused:wrong-region") in actions
    assert ("account.unlock", "ok") in actions
    assert all(e["ticketRef"] for e in _audit(citizen_id))


def test_r08_a_yes_from_before_the_current_lock_does_not_count(api):
    api.token_for(pnr("Sara"))
    lock(pnr("Sara"))
    decide(pnr("Sara"), "yes")
    unlock(pnr("Sara"))
    lock(pnr("Sara"))  # locked again: the old decision was consumed
    assert unlock(pnr("Sara"))["code"] == "decision-missing"


def test_r09_sealing_is_separate_from_locking(api):
    token = api.token_for(pnr("Sara"))
    sealed = admin("admin_seal_record", pnr("Sara"), sealed=True, formRef="FORSEGLA-1")
    assert sealed["ok"] and sealed["recordSealed"] is True and sealed["locked"] is False
    me = api.call("GET", "/me", token=token)
    assert me[0] == 200 and me[1]["recordSealed"] is True  # still logged in: sealing is not a lock
    lock(pnr("Sara"), requested_by="citizen")
    from chalicelib.accounts import service

    account = service.find_by_personnummer(pnr("Sara"))
    assert account.locked and account.record_sealed
    unlock(pnr("Sara"), requested_by="citizen")
    assert service.is_record_sealed(account.citizen_id) is True  # unlocking does not unseal
    assert admin("admin_seal_record", pnr("Sara"), sealed=False, formRef="FORSEGLA-2")["recordSealed"] is False


def test_admin_events_are_validated_and_never_echo_personnummer(api):
    result = admin("admin_lock_account", "198504022390", requestedBy="care", requester="x", formRef="f")
    assert result["ok"] is False and result["code"] == "invalid-input"
    assert "198504022390" not in str(result)
    missing = admin(
        "admin_lock_account", pnr("Sara"), region="Region Atlantis", requestedBy="care", requester="x", formRef="f"
    )
    assert missing["code"] == "invalid-input"


def test_already_locked_is_a_clear_refusal(api):
    api.token_for(pnr("Sara"))
    lock(pnr("Sara"))
    again = lock(pnr("Sara"))
    assert again["ok"] is False and again["code"] == "already-locked"
