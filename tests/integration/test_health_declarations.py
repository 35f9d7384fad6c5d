"""R-46 over the routes and the stream, against DynamoDB Local and moto (issue 13, item 3): the form, submitting
(an adult, a 15-year-old, a guardian for a 9-year-old in proxy mode), the 422s that name the question,
Idempotency-Key, the list with `valid`, the PDF made by `health_declaration_pdf` from the stream (with the
registry's own filter), and staff fetching it: who may, 409 until it is built, the access log.

Anna Andersson (adult) is a guardian of Elsa (9); Leo (15) is her son too (no proxy: he is 13 or older)."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import boto3
import pypdf
import pytest

from chalicelib.core import process
from chalicelib.core.clock import fixed_clock, stockholm_date, system_clock
from chalicelib.health_declarations import rules
from infra.functions import STREAM_CONSUMERS
from local import pump
from tests.integration.case_helpers import ADMIN, CLINIC, OTHER_CLINIC, OTHER_STAFF, RECEIVER, staff_token
from tests.support import at, pnr

FUNCTION = "health_declaration_pdf"
PDF = "application/pdf"


@pytest.fixture(autouse=True)
def fresh_clients(stack: Any) -> None:
    process.reset()  # this stack's S3 endpoint, whatever an earlier test used


def answers(**chosen: str) -> dict[str, str]:
    """Every question answered with its first option (none needs attention), then `chosen`."""
    return {**{q.id: q.options[0].id for q in rules.QUESTIONS}, **chosen}


def me(api: Any, token: str) -> dict[str, Any]:
    status, body, _ = api.call("GET", "/me", token=token)
    assert status == 200, body
    return dict(body)


def elsa(api: Any, anna: str) -> str:
    return next(c["citizenId"] for c in me(api, anna)["actingFor"] if c["name"].startswith("Elsa"))


def submit(api: Any, token: str, body: dict[str, Any], cid: str = "me", key: str | None = None) -> tuple[int, Any]:
    headers = {"Idempotency-Key": key} if key else None
    status, out, _ = api.call("POST", f"/citizens/{cid}/health-declarations", body, token=token, headers=headers)
    return status, out


def stored(declaration_id: str) -> dict[str, Any] | None:
    from chalicelib.health_declarations import repository

    return repository.DYNAMO.get(declaration_id)


class PdfStream:
    """The main table's stream from now on, fed to the real function through the registry's own consumer
    (batch size and FilterCriteria), as the event source mapping and the pump do."""

    def __init__(self, fail: Callable[[], bool] = lambda: False) -> None:
        from chalicelib.health_declarations.events import health_declaration_pdf

        (consumer,) = [c for c in STREAM_CONSUMERS if c.function == FUNCTION]
        self.delivered: list[dict[str, Any]] = []
        self.fail = fail

        def function(event: dict[str, Any], context: Any) -> Any:
            self.delivered.extend(event["Records"])
            if self.fail():
                return {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["dynamodb"]["SequenceNumber"]}]}
            return health_declaration_pdf(event, context)

        self.poller = pump.StreamPoller(os.environ["MAIN_TABLE"], consumer, {FUNCTION: function})

    def drain(self) -> None:
        quiet = 0
        while quiet < 5:
            quiet = quiet + 1 if self.poller.poll() == 0 else 0


def fetch_pdf(api: Any, declaration_id: str, token: str, accept: str | None = PDF) -> Any:
    headers = {"Authorization": f"Bearer {token}"}
    if accept is not None:
        headers["Accept"] = accept
    return api.client.http.get(f"/staff/health-declarations/{declaration_id}/pdf", headers=headers)


def access_log(api: Any, token: str, cid: str = "me") -> list[dict[str, Any]]:
    status, body, _ = api.call("GET", f"/citizens/{cid}/access-log", token=token)
    assert status == 200, body
    return [e for e in body["items"] if e["what"] == "health-declaration-pdf"]


def pdf_text(document: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(document))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


# --------------------------------------------------------------------------------------------- the form


def test_the_form_is_public_and_in_apis_shape(api):
    status, form, _ = api.call("GET", "/health-declaration/form")
    assert status == 200, form
    assert form == rules.form()
    assert set(form) == {"version", "questions", "freeText"}
    assert {"id", "text", "required", "options"} <= set(form["questions"][0])


# ---------------------------------------------------------------------------------------------- submit


def test_an_adults_declaration_is_valid_12_months_and_listed_as_valid(api):
    anna = api.token_for(pnr("Anna"))
    today = stockholm_date(system_clock())
    status, done = submit(api, anna, {"answers": answers(hjarta="ja", freeText="Pollenallergi.")})
    assert status == 201, done
    assert done["validUntil"] == rules.add_months(today, 12).isoformat()
    status, listed, _ = api.call("GET", "/citizens/me/health-declarations", token=anna)
    assert status == 200, listed
    assert listed["items"] == [
        {
            "declarationId": done["declarationId"],
            "submittedAt": listed["items"][0]["submittedAt"],
            "validUntil": done["validUntil"],
            "valid": True,
        }
    ]
    item = stored(done["declarationId"])
    assert item is not None
    assert item["answers"]["hjarta"] == "ja" and item["freeText"] == "Pollenallergi."
    assert item["submittedBy"] == {"kind": "citizen"} and item["name"] == "Anna Andersson"
    assert item["personnummer"] == pnr("Anna")  # an attribute for the clinic's PDF, never a key
    assert pnr("Anna") not in item["pk"] + item["sk"]


def test_a_15_year_olds_own_declaration_is_valid_6_months(api):
    leo = api.token_for(pnr("Leo"))
    status, done = submit(api, leo, {"answers": answers()})
    assert status == 201, done
    assert done["validUntil"] == rules.add_months(stockholm_date(system_clock()), 6).isoformat()


def test_a_guardian_fills_it_in_for_a_9_year_old_in_proxy_mode(api):
    anna = api.token_for(pnr("Anna"))
    child = elsa(api, anna)
    status, done = submit(api, anna, {"answers": answers(allergi="ja"), "clinicId": CLINIC}, cid=child)
    assert status == 201, done
    assert done["validUntil"] == rules.add_months(stockholm_date(system_clock()), 6).isoformat()
    item = stored(done["declarationId"])
    assert item is not None and item["citizenId"] == child and item["ageAtSubmission"] == 9
    assert item["submittedBy"] == {
        "kind": "guardian",
        "citizenId": me(api, anna)["citizenId"],
        "name": "Anna Andersson",
    }
    assert item["clinicId"] == CLINIC and item["clinicName"]
    _, for_elsa, _ = api.call("GET", f"/citizens/{child}/health-declarations", token=anna)
    _, for_anna, _ = api.call("GET", "/citizens/me/health-declarations", token=anna)
    assert [i["declarationId"] for i in for_elsa["items"]] == [done["declarationId"]]
    assert for_anna["items"] == []
    # the other guardian (and Elsa, once 13) sees that Anna filled it in.
    erik = api.token_for(pnr("Erik"))
    status, acts, _ = api.call("GET", f"/citizens/{child}/proxy-activity", token=erik)
    assert status == 200, acts
    assert [(a["what"], a["guardian"]["name"]) for a in acts["items"]] == [
        ("health-declaration-submitted", "Anna Andersson")
    ]
    # Someone who is not her guardian cannot act for her.
    sara = api.token_for(pnr("Sara"))
    assert submit(api, sara, {"answers": answers()}, cid=child)[0] == 404


def test_a_missing_or_invalid_answer_is_422_naming_the_question(api):
    anna = api.token_for(pnr("Anna"))
    missing = answers()
    del missing["blodning"]
    status, problem = submit(api, anna, {"answers": missing})
    assert status == 422 and problem["code"] == "answer-required", problem
    assert problem["questionId"] == "blodning" and "blodförtunnande" in problem["detail"]
    status, problem = submit(api, anna, {"answers": answers(diabetes="kanske")})
    assert status == 422 and problem["code"] == "answer-invalid" and problem["questionId"] == "diabetes"
    status, problem = submit(api, anna, {"answers": answers(freeText="x" * 1001)})
    assert status == 422 and problem["questionId"] == "freeText"
    assert submit(api, anna, {"answers": "ja"})[0] == 422
    assert submit(api, anna, {"answers": answers(), "clinicId": "SE2321000016-9999"})[0] == 404
    _, listed, _ = api.call("GET", "/citizens/me/health-declarations", token=anna)
    assert listed["items"] == []  # nothing was stored


def test_idempotency_key_answers_the_first_result_and_refuses_another_body(api):
    anna = api.token_for(pnr("Anna"))
    first = submit(api, anna, {"answers": answers()}, key="decl-1")
    again = submit(api, anna, {"answers": answers()}, key="decl-1")
    assert first[0] == 201 and again == first
    status, problem = submit(api, anna, {"answers": answers(tobak="ja")}, key="decl-1")
    assert status == 422 and problem["code"] == "idempotency-key-reused"
    _, listed, _ = api.call("GET", "/citizens/me/health-declarations", token=anna)
    assert len(listed["items"]) == 1


def test_the_list_is_newest_first_and_valid_says_whether_it_is_valid_today(api):
    from chalicelib.accounts import service as accounts
    from chalicelib.guardians.service import Subject
    from chalicelib.health_declarations import service

    anna = api.token_for(pnr("Anna"))
    cid = me(api, anna)["citizenId"]
    subject = Subject(cid, accounts.get(cid), proxy=False, actor_citizen_id=cid)  # type: ignore[arg-type]
    now = system_clock()
    old = service.submit(
        subject, answers=answers(), clinic_id=None, idempotency_key=None, clock=fixed_clock(now - timedelta(days=400))
    )
    assert old.valid_until < stockholm_date(now).isoformat()
    new = submit(api, anna, {"answers": answers()})[1]
    _, listed, _ = api.call("GET", "/citizens/me/health-declarations", token=anna)
    assert [(i["declarationId"], i["valid"]) for i in listed["items"]] == [
        (new["declarationId"], True),
        (old.declaration_id, False),
    ]


# ----------------------------------------------------------------------------------------------- the PDF


def test_the_stream_builds_the_pdf_with_only_the_relevant_answers_and_staff_fetch_it_audited(api):
    anna = api.token_for(pnr("Anna"))
    stream = PdfStream()
    body = {"answers": answers(hjarta="ja", tolk="ja", kontaktsatt="brev"), "clinicId": CLINIC}
    declaration_id = submit(api, anna, body)[1]["declarationId"]
    receiver = staff_token(RECEIVER)

    not_yet = fetch_pdf(api, declaration_id, receiver)
    assert not_yet.status_code == 409, not_yet.body
    assert not_yet.headers["Retry-After"] == "15" and b"pdf-not-ready" in not_yet.body
    assert access_log(api, anna) == []

    stream.drain()
    # Only the declaration's INSERT reaches the function (the list entry and the guard do not).
    assert [r["dynamodb"]["Keys"]["sk"]["S"] for r in stream.delivered] == ["DECLARATION"]
    item = stored(declaration_id)
    assert item is not None and item["pdfKey"] == f"health-declarations/{declaration_id}.pdf" and item["pdfReadyAt"]
    s3 = boto3.client("s3")
    head = s3.head_object(Bucket=os.environ["DOCUMENTS_BUCKET"], Key=item["pdfKey"])
    assert head["ContentType"] == PDF

    response = fetch_pdf(api, declaration_id, receiver)
    assert response.status_code == 200, response.body
    assert response.headers["Content-Type"] == PDF and response.headers["Cache-Control"] == "private, no-store"
    text = pdf_text(response.body)
    assert "Har du eller har du haft någon hjärtsjukdom" in text and "Svar: Ja" in text
    assert "tolk" not in text.lower() and "Hur vill du helst" not in text and "Brev" not in text
    assert "19800228-2385" in text and "Anna Andersson" in text
    (logged,) = access_log(api, anna)
    assert logged["staffHsaId"] == RECEIVER and logged["clinicId"] == CLINIC and logged["clinicName"]


def test_who_may_fetch_the_pdf(api):
    anna = api.token_for(pnr("Anna"))
    stream = PdfStream()
    at_clinic = submit(api, anna, {"answers": answers(), "clinicId": CLINIC})[1]["declarationId"]
    anywhere = submit(api, anna, {"answers": answers()})[1]["declarationId"]
    stream.drain()

    # Named clinic: its case staff only (another clinic's staff: 404, the clinic admin: 403).
    assert fetch_pdf(api, at_clinic, staff_token(OTHER_STAFF)).status_code == 404
    refused = fetch_pdf(api, at_clinic, staff_token(ADMIN))
    assert refused.status_code == 403 and b"role-required" in refused.body
    assert fetch_pdf(api, at_clinic, staff_token(RECEIVER)).status_code == 200
    # No clinic named: case staff of any clinic, logged under their clinic; an admin only: 403.
    assert fetch_pdf(api, anywhere, staff_token(OTHER_STAFF)).status_code == 200
    assert fetch_pdf(api, anywhere, staff_token(ADMIN)).status_code == 403
    assert [(e["staffHsaId"], e["clinicId"]) for e in access_log(api, anna)] == [
        (OTHER_STAFF, OTHER_CLINIC),
        (RECEIVER, CLINIC),
    ]
    # A citizen's session is no staff token; unknown and malformed ids are 404; a JSON Accept is 406.
    assert fetch_pdf(api, at_clinic, anna).status_code == 401
    assert fetch_pdf(api, "3f0d5d54-2a0a-4c3f-9a59-3b3c6c1e2f10", staff_token(RECEIVER)).status_code == 404
    assert fetch_pdf(api, "..%2F..%2Fetc", staff_token(RECEIVER)).status_code == 404
    for accept in (None, "application/json", "text/html", "application/*"):
        wrong = fetch_pdf(api, at_clinic, staff_token(RECEIVER), accept=accept)
        assert wrong.status_code == 406 and b"not-acceptable" in wrong.body, accept
    assert len(access_log(api, anna)) == 2  # refusals read nothing and log nothing
    for accept in ("*/*", "text/html, application/pdf;q=0.9"):  # a browser's or curl's Accept gets the bytes
        fetched = fetch_pdf(api, at_clinic, staff_token(RECEIVER), accept=accept)
        assert fetched.status_code == 200 and fetched.body.startswith(b"%PDF-"), accept


def test_a_failed_build_is_retried_from_that_record_and_an_operator_can_rebuild(api):
    from local.pump import app_functions, invoke

    anna = api.token_for(pnr("Anna"))
    failures = iter([True, True])
    stream = PdfStream(fail=lambda: next(failures, False))
    declaration_id = submit(api, anna, {"answers": answers()})[1]["declarationId"]
    stream.drain()
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in stream.delivered] == [f"HEALTHDECL#{declaration_id}"] * 3
    first = stored(declaration_id)
    assert first is not None and first["pdfKey"]

    rebuilt = invoke(app_functions(), FUNCTION, {"rebuild": [declaration_id, "no-such-declaration"]})
    assert rebuilt == {"built": [declaration_id], "missing": ["no-such-declaration"]}
    assert fetch_pdf(api, declaration_id, staff_token(RECEIVER)).status_code == 200


def test_a_batch_stops_at_the_first_failure_and_reports_it_and_the_rest(monkeypatch):
    from chalicelib.core import dynamo
    from chalicelib.health_declarations import events, service

    def image(n: int) -> dict[str, Any]:
        return {
            "eventName": "INSERT",
            "dynamodb": {
                "SequenceNumber": str(n),
                "Keys": dynamo.key(f"HEALTHDECL#id-{n}", "DECLARATION"),
                "NewImage": dynamo.to_item({"declarationId": f"id-{n}"}),
            },
        }

    built: list[str] = []

    def make_pdf(declaration: dict[str, Any], **_: Any) -> bool:
        if declaration["declarationId"] == "id-2":
            raise RuntimeError("S3 said no")
        built.append(declaration["declarationId"])
        return True

    monkeypatch.setattr(service, "make_pdf", make_pdf)
    result = events.health_declaration_pdf({"Records": [image(1), image(2), image(3)]}, pump.FakeContext(FUNCTION))
    assert built == ["id-1"]
    assert result["batchItemFailures"] == [{"itemIdentifier": "2"}, {"itemIdentifier": "3"}]


def test_an_expired_declaration_is_gone_for_staff_and_from_the_list(api):
    from chalicelib.accounts import service as accounts
    from chalicelib.guardians.service import Subject
    from chalicelib.health_declarations import service

    anna = api.token_for(pnr("Anna"))
    cid = me(api, anna)["citizenId"]
    subject = Subject(cid, accounts.get(cid), proxy=False, actor_citizen_id=cid)  # type: ignore[arg-type]
    long_ago = service.submit(
        subject, answers=answers(), clinic_id=None, idempotency_key=None, clock=fixed_clock(at("2023-01-10T10:00:00Z"))
    )
    # Valid until 2024-01-10, kept two years after: DynamoDB's TTL has not deleted it yet, reads ignore it.
    assert stored(long_ago.declaration_id) is not None
    _, listed, _ = api.call("GET", "/citizens/me/health-declarations", token=anna)
    assert listed["items"] == []
    assert fetch_pdf(api, long_ago.declaration_id, staff_token(RECEIVER)).status_code == 404


def test_two_attempts_racing_with_one_key_make_one_declaration(api):
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from chalicelib.accounts import service as accounts
    from chalicelib.guardians.service import Subject
    from chalicelib.health_declarations import service

    anna = api.token_for(pnr("Anna"))
    cid = me(api, anna)["citizenId"]
    subject = Subject(cid, accounts.get(cid), proxy=False, actor_citizen_id=cid)  # type: ignore[arg-type]
    start = Barrier(2)

    def attempt(_: int) -> Any:
        start.wait()
        return service.submit(subject, answers=answers(), clinic_id=None, idempotency_key="race", clock=system_clock)

    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(attempt, range(2))
    assert first.declaration_id == second.declaration_id and first.valid_until == second.valid_until
    assert sorted([first.created, second.created]) == [False, True]
    _, listed, _ = api.call("GET", "/citizens/me/health-declarations", token=anna)
    assert [i["declarationId"] for i in listed["items"]] == [first.declaration_id]
