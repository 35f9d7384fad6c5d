"""Proxy mode end to end over the routes, against DynamoDB Local (issue 10, item 1; R-30, R-31, R-33, R-36):
a guardian sees and activates their children, reads the child's inbox, starts and answers cases, uploads
files, edits the child's settings and their own contact under each child; staff see which guardian wrote;
the child's access log shows staff reads; the other guardian sees what the first did
(`GET /citizens/{cid}/proxy-activity`); the teen's own save after the 13th birthday's reset ends
`mustReviewSettings` (R-34).

Anna and Erik Andersson are both guardians of Elsa (9) and Nils (4); Sara Berg is unrelated."""

from __future__ import annotations

from datetime import date
from typing import Any

import boto3
import pytest

from chalicelib.attachments.models import Uploader
from chalicelib.core import process
from chalicelib.core.clock import fixed_clock
from tests.integration.case_helpers import HANDLER, RECEIVER, staff_token, start_case
from tests.support import at, pnr

ANNA_OWN_MOBILE, ANNA_FOR_ELSA = "+46701740621", "+46701740622"  # PTS's range for fiction


@pytest.fixture(autouse=True)
def fresh_clients(stack: Any) -> None:
    process.reset()  # this stack's S3/SNS endpoints, whatever an earlier test used


def ids(api: Any, token: str) -> dict[str, str]:
    """First name → citizen id of the children in `GET /me`'s `actingFor`."""
    status, me, _ = api.call("GET", "/me", token=token)
    assert status == 200, me
    return {c["name"].split()[0]: c["citizenId"] for c in me["actingFor"]}


def cid_of(token: str) -> str:
    return token.split(".", maxsplit=1)[0]


def audit_actions(subject: str) -> list[dict[str, Any]]:
    from chalicelib.audit import service as audit

    return audit.entries_for(subject)


def answer(api: Any, case_id: str, body: str = "Smörj med kräm.") -> None:
    status, problem, _ = api.call(
        "POST", f"/staff/cases/{case_id}/messages", {"kind": "answer", "body": body}, token=staff_token(HANDLER)
    )
    assert status == 201, problem


# ---------------------------------------------------------------- every child, activated by the guardian


def test_a_guardian_sees_every_child_and_activates_those_who_never_logged_in(api):
    from chalicelib.accounts import service as accounts

    anna, erik = api.token_for(pnr("Anna")), api.token_for(pnr("Erik"))
    children = ids(api, anna)
    assert set(children) == {"Elsa", "Nils"}  # Leo is 15
    assert ids(api, anna) == children and ids(api, erik) == children  # one account per child, shared
    for name in ("Elsa", "Nils"):
        account = accounts.get(children[name])
        assert account is not None and account.activated_by == "guardian" and account.first_login_at is None
        activated = [e for e in audit_actions(f"CITIZEN#{children[name]}") if e["action"] == "account.activate-proxy"]
        assert [e["actor"] for e in activated] == [cid_of(anna)]
    assert accounts.find_by_personnummer(pnr("Elsa")).citizen_id == children["Elsa"]  # type: ignore[union-attr]


# ---------------------------------------------------------------- in the child's name, and who wrote


def test_guardians_read_the_childs_inbox_and_write_in_its_cases_and_staff_see_which_guardian_wrote(api):
    anna, erik = api.token_for(pnr("Anna")), api.token_for(pnr("Erik"))
    elsa = ids(api, anna)["Elsa"]
    status, created = start_case(api, anna, cid=elsa)
    assert status == 201, created
    case_id = created["caseId"]
    answer(api, case_id)
    inbox = api.call("GET", f"/citizens/{elsa}/inbox", token=anna)[1]["items"]
    assert [(i["id"], i["unread"]) for i in inbox] == [(case_id, True)]  # care's answer is new for Elsa
    assert api.call("GET", "/citizens/me/inbox", token=anna)[1]["items"] == []  # not in Anna's own inbox
    status, item, _ = api.call("GET", f"/citizens/{elsa}/inbox/{case_id}", token=anna)
    assert status == 200 and item["unread"] is False
    assert api.call("GET", f"/citizens/{elsa}/inbox", token=erik)[1]["items"][0]["unread"] is False  # one inbox

    status, written, _ = api.call(
        "POST", f"/citizens/{elsa}/cases/{case_id}/messages", {"body": "Tack! Hur länge?"}, token=erik
    )
    assert status == 201, written
    thread = api.call("GET", f"/citizens/{elsa}/inbox/{case_id}", token=anna)[1]["case"]
    assert thread["startedBy"] == {"kind": "guardian", "name": "Anna Andersson"}
    assert [(m["author"]["kind"], m["author"].get("name")) for m in thread["messages"]] == [
        ("guardian", "Anna Andersson"),
        ("staff", "Personal S002"),
        ("guardian", "Erik Andersson"),
    ]
    assert "guardianCitizenId" not in str(thread)  # the citizen side shows no ids

    view = api.call("GET", f"/staff/cases/{case_id}", token=staff_token(RECEIVER))[1]
    assert view["startedBy"] == {
        "kind": "guardian",
        "name": "Anna Andersson",
        "guardianCitizenId": cid_of(anna),
    }
    assert view["citizen"]["name"] == "Elsa Andersson"
    authors = [
        (m["author"]["kind"], m["author"].get("name"), m["author"].get("guardianCitizenId")) for m in view["messages"]
    ]
    assert authors == [
        ("guardian", "Anna Andersson", cid_of(anna)),
        ("staff", "Personal S002", None),
        ("guardian", "Erik Andersson", cid_of(erik)),
    ]
    listed = api.call("GET", "/staff/clinics/SE2321000016-1001/cases?status=open", token=staff_token(RECEIVER))[1]
    assert [c["startedBy"]["kind"] for c in listed["items"]] == ["guardian"]

    # the staff read shows in the child's access log, for the guardians as for anyone
    log = api.call("GET", f"/citizens/{elsa}/access-log", token=erik)[1]["items"]
    assert [(e["what"], e["staffHsaId"]) for e in log] == [("case", RECEIVER)]
    assert api.call("GET", f"/citizens/{elsa}/access-log", token=api.token_for(pnr("Sara")))[0] == 404


def test_staff_see_the_guardians_name_on_cases_written_before_names_were_recorded(api):
    from chalicelib.cases import repository
    from chalicelib.core import dynamo
    from chalicelib.core.config import settings

    anna = api.token_for(pnr("Anna"))
    elsa = ids(api, anna)["Elsa"]
    case_id = start_case(api, anna, cid=elsa)[1]["caseId"]
    case = repository.get_case(case_id)
    assert case is not None and case["startedBy"]["name"] == "Anna Andersson"
    dynamo.client().update_item(  # as an entry from before this issue: no name recorded
        TableName=settings().main_table,
        Key=repository.case_key(case_id),
        UpdateExpression="REMOVE startedBy.#n",
        ExpressionAttributeNames={"#n": "name"},
    )
    view = api.call("GET", f"/staff/cases/{case_id}", token=staff_token(RECEIVER))[1]
    assert view["startedBy"]["name"] == "Anna Andersson"  # looked up in the register


def test_a_guardian_uploads_a_file_for_the_child_and_only_those_who_may_see_the_case_get_it(api):
    from tests.integration.test_attachments import deliver, upload

    anna, erik, sara = (api.token_for(pnr(n)) for n in ("Anna", "Erik", "Sara"))
    elsa = ids(api, anna)["Elsa"]
    pdf = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n"
    status, created, _ = api.call(
        "POST",
        f"/citizens/{elsa}/attachments",
        {"fileName": "intyg.pdf", "contentType": "application/pdf", "size": len(pdf)},
        token=anna,
    )
    assert status == 201, created
    attachment_id = created["attachmentId"]
    assert upload(created["upload"], pdf).status_code == 204
    assert deliver(boto3.client("s3"), attachment_id)["checked"] == 1
    status, case = start_case(api, anna, cid=elsa, attachment_ids=[attachment_id])
    assert status == 201, case
    assert api.call("GET", f"/citizens/{elsa}/attachments/{attachment_id}", token=erik)[0] == 200
    assert api.call("GET", f"/citizens/me/attachments/{attachment_id}", token=sara)[0] == 404
    assert api.call("GET", f"/citizens/{elsa}/attachments/{attachment_id}", token=sara)[0] == 404
    view = api.call("GET", f"/staff/cases/{case['caseId']}", token=staff_token(RECEIVER))[1]
    assert view["messages"][0]["attachmentIds"] == [attachment_id]


def test_a_file_of_the_guardians_own_cannot_go_on_the_childs_case(api):
    from tests.integration.test_attachments import checked

    anna = api.token_for(pnr("Anna"))
    elsa = ids(api, anna)["Elsa"]
    own_file = checked(boto3.client("s3"), Uploader("citizen", cid_of(anna))).attachment_id
    status, problem = start_case(api, anna, cid=elsa, attachment_ids=[own_file])
    assert status == 404 and problem["code"] == "attachment-not-found"  # the child's case takes the child's files
    assert api.call("GET", f"/citizens/{elsa}/inbox", token=anna)[1]["items"] == []  # and nothing was written


# ---------------------------------------------------------------- the guardian's contact, per child


def test_guardian_contacts_are_kept_per_child_and_notifications_go_only_to_them(api, sent, queue_url):
    from tests.integration.test_notifications import Stream, inbox_events, queued, send

    anna, erik = api.token_for(pnr("Anna")), api.token_for(pnr("Erik"))
    children = ids(api, anna)
    elsa, nils = children["Elsa"], children["Nils"]
    own = {"mobile": ANNA_OWN_MOBILE, "notifyBySms": True}
    assert api.call("PATCH", "/citizens/me/settings", own, token=anna)[0] == 200  # her own, for her own inbox
    elsa_case = start_case(api, anna, cid=elsa, key="elsa")[1]["caseId"]
    nils_case = start_case(api, erik, cid=nils, key="nils")[1]["caseId"]
    stream = Stream()

    def notified_after(case_id: str) -> list[str]:
        stream.drain()
        before = len(sent)
        answer(api, case_id)
        inbox_events(stream.drain())
        assert send(queued(queue_url)) == {"batchItemFailures": []}
        return [m["to"] for m in sent[before:]]

    assert notified_after(elsa_case) == []  # Anna's own details do not notify about Elsa's inbox

    status, changed, _ = api.call(
        "PATCH", f"/citizens/{elsa}/settings", {"guardianContact": {"mobile": ANNA_FOR_ELSA}}, token=anna
    )
    assert status == 200, changed
    assert api.call("GET", f"/citizens/{nils}/settings", token=anna)[1]["guardianContacts"] == {}  # per child
    assert api.call("GET", f"/citizens/{elsa}/settings", token=erik)[1]["guardianContacts"] == {}  # per guardian
    assert notified_after(elsa_case) == [ANNA_FOR_ELSA]  # through her contact under Elsa, nothing else
    assert notified_after(nils_case) == []  # nothing filled in under Nils


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What reached moto's SNS and SES (the real settings decide who gets what)."""
    from chalicelib.notifications import rate, repository

    monkeypatch.setenv(rate.ENV, "1000")
    process.reset()
    record: list[dict[str, Any]] = []
    sns, ses = repository.sns(), repository.ses()
    publish, send_email = sns.publish, ses.send_email

    def sms(**kwargs: Any) -> Any:
        record.append({"channel": "sms", "to": kwargs["PhoneNumber"]})
        return publish(**kwargs)

    def email(**kwargs: Any) -> Any:
        record.append({"channel": "email", "to": kwargs["Destination"]["ToAddresses"][0]})
        return send_email(**kwargs)

    monkeypatch.setattr(sns, "publish", sms)
    monkeypatch.setattr(ses, "send_email", email)
    return record


@pytest.fixture
def queue_url(stack: Any) -> str:
    import os

    from tests.integration.test_notifications import queued

    url = str(boto3.client("sqs").get_queue_url(QueueName=os.environ["NOTIFICATIONS_QUEUE"])["QueueUrl"])
    queued(url)  # what an earlier test left
    return url


# ---------------------------------------------------------------- what the other guardian did


def test_the_other_guardian_sees_what_the_first_did_in_proxy_mode(api):
    anna, erik = api.token_for(pnr("Anna")), api.token_for(pnr("Erik"))
    children = ids(api, anna)
    elsa, nils = children["Elsa"], children["Nils"]
    headers = {"Idempotency-Key": "anna-case-1"}
    status, created = start_case(api, anna, cid=elsa, key="anna-case-1")
    assert status == 201
    assert start_case(api, anna, cid=elsa, key="anna-case-1") == (201, created)  # a retry: no second trace
    case_id = created["caseId"]
    status, body, _ = api.call(
        "PATCH", f"/citizens/{elsa}/settings", {"mobile": "070-174 06 23", "notifyBySms": True}, token=anna
    )
    assert status == 200, body
    assert api.call("PATCH", f"/citizens/{elsa}/settings", {"notifyBySms": True}, token=anna)[0] == 200  # no change
    status, _, _ = api.call(
        "POST", f"/citizens/{elsa}/cases/{case_id}/messages", {"body": "En sak till."}, token=erik, headers=headers
    )
    assert status == 201

    status, activity, _ = api.call("GET", f"/citizens/{elsa}/proxy-activity", token=erik)
    assert status == 200, activity
    acts = [(a["what"], a["guardian"]["citizenId"], a["guardian"]["name"], a.get("caseId")) for a in activity["items"]]
    assert acts == [
        ("message-sent", cid_of(erik), "Erik Andersson", case_id),
        ("settings-changed", cid_of(anna), "Anna Andersson", None),
        ("case-started", cid_of(anna), "Anna Andersson", case_id),
    ]  # newest first
    assert activity["items"][1]["fields"] == ["mobile", "notifyBySms"]  # names only, never the number
    assert "70174" not in str(activity) and activity["nextCursor"] is None
    stamps = [a["at"] for a in activity["items"]]
    assert stamps == sorted(stamps, reverse=True)

    assert api.call("GET", f"/citizens/{nils}/proxy-activity", token=erik)[1]["items"] == []  # per child
    complaint = {"clinicId": "SE2321000016-1001", "eventDate": "2026-11-02", "body": "Lång väntan."}
    assert api.call("POST", f"/citizens/{nils}/complaints", complaint, token=erik)[0] == 201
    nils_acts = api.call("GET", f"/citizens/{nils}/proxy-activity", token=anna)[1]["items"]
    assert [(a["what"], a["guardian"]["name"]) for a in nils_acts] == [("complaint-submitted", "Erik Andersson")]
    assert api.call("GET", "/citizens/me/proxy-activity", token=anna)[1]["items"] == []  # nobody acted for Anna
    sara = api.token_for(pnr("Sara"))
    status, problem, _ = api.call("GET", f"/citizens/{elsa}/proxy-activity", token=sara)
    assert status == 404 and problem["code"] == "not-found"  # unrelated: as if Elsa did not exist
    assert api.call("GET", f"/citizens/{elsa}/proxy-activity")[0] == 401

    # the child, logged in with an e-ID of her own, sees the same
    own = api.call("GET", "/citizens/me/proxy-activity", token=api.token_for(pnr("Elsa")))[1]
    assert [a["what"] for a in own["items"]] == ["message-sent", "settings-changed", "case-started"]


def test_proxy_activity_pages_with_a_cursor_bound_to_the_child(api):
    from chalicelib.guardians import activity

    anna = api.token_for(pnr("Anna"))
    children = ids(api, anna)
    elsa, nils = children["Elsa"], children["Nils"]
    for n in range(activity.PAGE_SIZE + 1):
        assert start_case(api, anna, cid=elsa, key=f"k{n}")[0] == 201
    first = api.call("GET", f"/citizens/{elsa}/proxy-activity", token=anna)[1]
    assert len(first["items"]) == activity.PAGE_SIZE and first["nextCursor"]
    rest = api.call("GET", f"/citizens/{elsa}/proxy-activity?cursor={first['nextCursor']}", token=anna)[1]
    assert len(rest["items"]) == 1 and rest["nextCursor"] is None
    status, problem, _ = api.call("GET", f"/citizens/{nils}/proxy-activity?cursor={first['nextCursor']}", token=anna)
    assert status == 400 and problem["code"] == "invalid-cursor"


# ---------------------------------------------------------------- mustReviewSettings


def _turned_13(name: str, birthday: str) -> str:
    """The child's account as a guardian created it before the 13th birthday, and the birthday job's run
    that day (`birthdays.service`): the settings cleared and the account asking for new details."""
    from chalicelib.accounts import service as accounts
    from chalicelib.birthdays import service as birthdays
    from chalicelib.population.port import population_register

    child = population_register().find(pnr(name))
    assert child is not None
    citizen_id = accounts.activate_by_guardian(child, "a-guardian", fixed_clock(at("2026-11-01T12:00:00Z")))
    ran = birthdays.run_day(date.fromisoformat(birthday), clock=fixed_clock(at(f"{birthday}T00:05:00+01:00")))
    assert ran.reset == 1, ran
    return citizen_id


def test_r34_the_teens_own_save_ends_must_review_settings(api):
    wilma_id = _turned_13("Wilma", "2026-11-23")
    wilma = api.token_for(pnr("Wilma"))
    me = api.call("GET", "/me", token=wilma)[1]
    assert me["citizenId"] == wilma_id and me["mustReviewSettings"] is True and me["actingFor"] == []
    assert api.call("GET", "/citizens/me/settings", token=wilma)[0] == 200
    assert api.call("GET", "/me", token=wilma)[1]["mustReviewSettings"] is True  # reading is not saving

    status, problem, _ = api.call("PATCH", "/citizens/me/settings", {"notifyBySms": True}, token=wilma)
    assert status == 422, problem  # SMS needs a mobile: refused, and still to review
    assert api.call("GET", "/me", token=wilma)[1]["mustReviewSettings"] is True

    status, body, _ = api.call(
        "PATCH", "/citizens/me/settings", {"mobile": "070-174 06 24", "notifyBySms": True}, token=wilma
    )
    assert status == 200, body
    assert api.call("GET", "/me", token=wilma)[1]["mustReviewSettings"] is False
    assert api.call("PATCH", "/citizens/me/settings", {"mobile": "070-174 06 25"}, token=wilma)[0] == 200
    actions = [e["action"] for e in audit_actions(f"CITIZEN#{wilma_id}")]
    assert actions.count("account.settings-reviewed") == 1 and "settings.change" in actions


def test_r34_keeping_the_cleared_settings_is_a_review_too(api):
    _turned_13("Wilma", "2026-11-23")
    wilma = api.token_for(pnr("Wilma"))
    status, body, _ = api.call("PATCH", "/citizens/me/settings", {"notifyBySms": False}, token=wilma)
    assert status == 200 and body["notifyBySms"] is False
    assert api.call("GET", "/me", token=wilma)[1]["mustReviewSettings"] is False


def test_r34_a_guardians_save_does_not_end_the_childs_review(api):
    from dataclasses import replace

    from chalicelib.accounts import repository as accounts
    from chalicelib.core.unit_of_work import UnitOfWork

    anna = api.token_for(pnr("Anna"))
    elsa = ids(api, anna)["Elsa"]
    account = accounts.DYNAMO.get(elsa)
    assert account is not None
    uow = UnitOfWork()  # (a child under 13 is never asked; this shows whose save counts)
    accounts.DYNAMO.update(uow, replace(account, must_review_settings=True), expected_version=account.version)
    uow.commit()
    assert api.call("PATCH", f"/citizens/{elsa}/settings", {"mobile": "070-174 06 25"}, token=anna)[0] == 200
    after = accounts.DYNAMO.get(elsa)
    assert after is not None and after.must_review_settings


def test_r36_what_the_guardian_did_before_the_13th_birthday_stays_for_the_teen(api):
    from chalicelib.accounts import service as accounts
    from chalicelib.birthdays import service as birthdays
    from chalicelib.cases import service as cases
    from chalicelib.guardians import service as guardians
    from chalicelib.population.port import population_register

    johan = api.token_for(pnr("Johan"))
    johan_account = accounts.get(cid_of(johan))
    wilma_person = population_register().find(pnr("Wilma"))
    assert johan_account is not None and wilma_person is not None
    the_day_before = fixed_clock(at("2026-11-22T12:00:00+01:00"))
    wilma_id = accounts.activate_by_guardian(wilma_person, cid_of(johan), the_day_before)
    acting = guardians.resolve(johan_account, wilma_id, register=population_register(), clock=the_day_before)
    assert acting.proxy and acting.actor_name == "Johan Lind"
    case_id = cases.start_case(
        acting,
        clinic_id="SE2321000016-1001",
        case_type_id="fraga-sjukskoterskan",
        title="Vaccin",
        body="När?",
        attachment_ids=[],
        idempotency_key=None,
        clock=the_day_before,
    ).id
    assert birthdays.run_day(date(2026, 11, 23), clock=fixed_clock(at("2026-11-23T00:05:00+01:00"))).reset == 1
    assert api.call("GET", f"/citizens/{wilma_id}/inbox", token=johan)[0] == 404  # 13 now: no proxy

    wilma = api.token_for(pnr("Wilma"))
    acts = api.call("GET", "/citizens/me/proxy-activity", token=wilma)[1]["items"]
    assert [(a["what"], a["guardian"]["name"], a["caseId"]) for a in acts] == [("case-started", "Johan Lind", case_id)]
    item = api.call("GET", f"/citizens/me/inbox/{case_id}", token=wilma)[1]
    assert item["case"]["startedBy"] == {"kind": "guardian", "name": "Johan Lind"}
    assert item["case"]["messages"][0]["author"] == {"kind": "guardian", "name": "Johan Lind"}
