"""Population events (issue 10, R-32) against the local stack's services, in-process: the HTTP intake
(`population:write`, 202) and the population events queue; protected identity, custody and death in
the register end or start proxy links at the very next request, no notification of the child's inbox
reaches a guardian who may no longer act, and staff see the protected-identity marker.

The register is the stack's own copy of testdata/population.json (POPULATION_SEED_PATH), which every
test's seed makes afresh: changes here never reach the repository's file or the next test."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.integration.case_helpers import HANDLER, RECEIVER, staff_token, start_case
from tests.integration.test_notifications import (  # noqa: F401 - `settings`, `queue_url` are fixtures
    Stream,
    inbox_events,
    outbox,
    queue_url,
    queued,
    send,
    settings,
    sms_sent,
)
from tests.support import POPULATION, ROOT, pnr

UNKNOWN = "189001019802"  # a valid test number the register does not hold


def register_change(given_name: str, **fields: Any) -> None:
    """Changes the stack's register as the population register would (the file the adapter follows)."""
    from local import bootstrap

    path = Path(os.environ["POPULATION_SEED_PATH"])
    assert path.resolve() != (ROOT / "testdata" / "population.json").resolve()
    data = json.loads(path.read_text(encoding="utf-8"))
    (person,) = [p for p in data["persons"] if p["givenName"] == given_name]
    person.update(fields)
    bootstrap.write_population(path, data)


def population_token(scope: str = "population:write") -> str:
    from local.clients import machine_token

    return machine_token("skatteverket-navet", [scope])


def post_event(api: Any, kind: str, name: str, token: str | None = None) -> tuple[int, Any]:
    body = {"kind": kind, "personnummer": pnr(name)}
    status, answer, _ = api.call("POST", "/integrations/population-events", body, token=token or population_token())
    return status, answer


def sqs_record(message_id: str, body: str) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": f"handle-{message_id}",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-north-1:000000000000:population-events",
        "awsRegion": "eu-north-1",
    }


def consume(*bodies: str) -> dict[str, Any]:
    from local.pump import app_functions, invoke

    records = [sqs_record(f"m{n}", body) for n, body in enumerate(bodies)]
    result: dict[str, Any] = invoke(app_functions(), "population_events", {"Records": records})
    return result


def children(api: Any, token: str) -> dict[str, str]:
    status, me, _ = api.call("GET", "/me", token=token)
    assert status == 200, me
    return {c["name"].split()[0]: c["citizenId"] for c in me["actingFor"]}


def inbox_status(api: Any, token: str, cid: str) -> int:
    return int(api.call("GET", f"/citizens/{cid}/inbox", token=token)[0])


def audit_actions(subject: str) -> list[str]:
    from chalicelib.audit import service as audit

    return [e["action"] for e in audit.entries_for(subject)]


def no_personnummer_in_the_audit_log() -> None:
    from chalicelib.core import dynamo
    from chalicelib.core.config import settings as config

    items = dynamo.client().scan(TableName=config().audit_table)["Items"]  # tests only
    text = json.dumps(items)
    assert not [p["givenName"] for p in POPULATION if p["personnummer"] in text]


# ---------------------------------------------------------------- the HTTP intake and the queue


def test_the_http_intake_needs_the_population_scope_and_answers_202(api: Any) -> None:
    from chalicelib.audit import service as audit
    from chalicelib.core.personal_number import lookup_key

    body = {"kind": "custody-changed", "personnummer": pnr("Elsa")}
    path = "/integrations/population-events"
    assert api.call("POST", path, body)[0] == 401
    assert api.call("POST", path, body, token=staff_token(RECEIVER))[0] == 401  # staff are not a system
    assert api.call("POST", path, body, token=api.token_for(pnr("Sara")))[0] == 401  # nor a citizen
    status, problem, _ = api.call("POST", path, body, token=population_token("bookings:write"))
    assert status == 403 and problem["code"] == "scope-required"
    assert audit.entries_for(audit.person_subject(lookup_key(pnr("Elsa")))) == []  # refused: nothing recorded

    status, receipt = post_event(api, "custody-changed", "Elsa")
    assert status == 202, receipt
    assert receipt == {
        "kind": "custody-changed",
        "citizenId": None,  # Elsa has no account yet: recorded under the keyed hash
        "protectedIdentity": False,
        "deceased": False,
        "relatedAccounts": 0,
    }
    (entry,) = audit.entries_for(audit.person_subject(lookup_key(pnr("Elsa"))))
    assert entry["action"] == "population.custody-changed" and entry["actor"] == "skatteverket-navet"
    assert entry["actorKind"] == "system"
    no_personnummer_in_the_audit_log()


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"kind": "moved", "personnummer": "198002282385"}, "invalid-input"),
        ({"personnummer": "198002282385"}, "invalid-input"),
        ({"kind": "deceased"}, "invalid-input"),
        ({"kind": "deceased", "personnummer": "１９８００２２８２３８５"}, "invalid-input"),  # full-width digits
        ({"kind": "deceased", "personnummer": "198002282386"}, "invalid-input"),  # check digit
        ({"kind": "deceased", "personnummer": UNKNOWN}, "unknown-person"),
    ],
)
def test_events_that_can_never_be_accepted_are_422_and_record_nothing(
    api: Any, body: dict[str, Any], code: str
) -> None:
    status, problem, headers = api.call("POST", "/integrations/population-events", body, token=population_token())
    assert status == 422 and problem["code"] == code and headers["content-type"] == "application/problem+json"
    assert "1980022823" not in json.dumps(problem)  # the number is never echoed
    from chalicelib.core import dynamo
    from chalicelib.core.config import settings as config

    assert dynamo.client().scan(TableName=config().audit_table)["Items"] == []


def test_not_json_is_400(api: Any) -> None:
    status, problem, _ = api.call("POST", "/integrations/population-events", "{", token=population_token())
    assert status == 400 and problem["code"] == "invalid-json"


def test_the_queue_takes_the_same_events_drops_what_can_never_be_accepted_and_retries_the_rest(
    api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.audit import service as audit
    from chalicelib.core.errors import ServiceUnavailable
    from chalicelib.population.port import population_register

    anna = api.token_for(pnr("Anna")).split(".")[0]
    register = population_register()
    real_find = register.find

    def find(personnummer: str) -> Any:
        if personnummer == pnr("Nils"):
            raise ServiceUnavailable("Folkbokföringen svarar inte just nu.", code="population-register-unavailable")
        return real_find(personnummer)

    monkeypatch.setattr(register, "find", find)
    result = consume(
        json.dumps({"kind": "protected-identity-changed", "personnummer": pnr("Anna")}),
        json.dumps({"kind": "deceased", "personnummer": UNKNOWN}),  # 422: dropped
        "[[[",  # not JSON: dropped
        json.dumps({"kind": "adopted", "personnummer": pnr("Anna")}),  # not an event: dropped
        json.dumps({"kind": "custody-changed", "personnummer": pnr("Nils")}),  # the register is down: again
    )
    assert result == {"batchItemFailures": [{"itemIdentifier": "m4"}]}
    assert audit_actions(audit.citizen_subject(anna)) == ["population.protected-identity-changed"]
    monkeypatch.setattr(register, "find", real_find)
    assert consume(json.dumps({"kind": "custody-changed", "personnummer": pnr("Nils")})) == {"batchItemFailures": []}


# ---------------------------------------------------------------- proxy links follow the register


def test_protected_identity_on_a_child_ends_the_guardians_proxy_at_the_very_next_request(
    api: Any,
    settings: Any,  # noqa: F811 - the fixture
    queue_url: str,  # noqa: F811 - the fixture
) -> None:
    from chalicelib.audit import service as audit

    anna = api.token_for(pnr("Anna"))
    anna_id = anna.split(".")[0]
    elsa = children(api, anna)["Elsa"]
    assert inbox_status(api, anna, elsa) == 200
    settings.targets = [(f"guardian:{anna_id}", "sms")]  # Anna's mobile under Elsa's settings
    stream = Stream()
    status, case = start_case(api, anna, cid=elsa)
    assert status == 201, case
    stream.drain()

    def staff_view() -> dict[str, Any]:
        status, view, _ = api.call("GET", f"/staff/cases/{case['caseId']}", token=staff_token(HANDLER))
        assert status == 200, view
        return dict(view["citizen"])

    def answer() -> list[dict[str, Any]]:
        status, _, _ = api.call(
            "POST",
            f"/staff/cases/{case['caseId']}/messages",
            {"kind": "answer", "body": "Svar"},
            token=staff_token(HANDLER),
        )
        assert status == 201
        return stream.drain()

    assert staff_view()["protectedIdentity"] is False
    before = len(outbox())
    inbox_events(answer())
    assert send(queued(queue_url)) == {"batchItemFailures": []}
    assert len(sms_sent(before)) == 1  # Anna may act for Elsa: notified

    # Elsa gets protected identity; the register's feed tells us on the queue.
    register_change("Elsa", protectedIdentity="sekretessmarkering", address=None)
    assert consume(json.dumps({"kind": "protected-identity-changed", "personnummer": pnr("Elsa")})) == {
        "batchItemFailures": []
    }
    assert inbox_status(api, anna, elsa) == 404  # the very next request: as if Elsa did not exist
    assert api.call("GET", f"/citizens/{elsa}/settings", token=anna)[0] == 404
    assert start_case(api, anna, cid=elsa)[0] == 404
    assert set(children(api, anna)) == {"Nils"}  # GET /me no longer lists her
    assert staff_view()["protectedIdentity"] is True  # staff with her open case see the marker

    before = len(outbox())
    inbox_events(answer())
    assert send(queued(queue_url)) == {"batchItemFailures": []}
    assert sms_sent(before) == []  # no notification reaches a guardian who may no longer act

    assert "population.protected-identity-changed" in audit_actions(audit.citizen_subject(elsa))
    assert "population.child-protected-identity-changed" in audit_actions(audit.citizen_subject(anna_id))
    no_personnummer_in_the_audit_log()


def test_protected_identity_on_the_guardian_ends_every_link_of_theirs(api: Any) -> None:
    anna = api.token_for(pnr("Anna"))
    kids = children(api, anna)
    assert set(kids) == {"Elsa", "Nils"}
    register_change("Anna", protectedIdentity="skyddad-folkbokforing", address=None)
    status, receipt = post_event(api, "protected-identity-changed", "Anna")
    assert status == 202 and receipt["protectedIdentity"] is True and receipt["relatedAccounts"] == 2
    assert [inbox_status(api, anna, cid) for cid in kids.values()] == [404, 404]
    assert inbox_status(api, anna, "me") == 200  # her own inbox stays hers
    assert children(api, anna) == {}


def test_lifted_protection_lets_the_guardian_act_from_the_next_request(api: Any) -> None:
    karin = api.token_for(pnr("Karin"))
    assert children(api, karin) == {}  # Alva has protected identity (testdata)
    register_change("Alva", protectedIdentity=None)
    status, receipt = post_event(api, "protected-identity-changed", "Alva")
    assert status == 202 and receipt["protectedIdentity"] is False
    alva = children(api, karin)["Alva"]  # activated in proxy mode on this read
    assert inbox_status(api, karin, alva) == 200


def test_custody_moves_from_one_guardian_to_a_new_one_at_the_next_request(api: Any) -> None:
    anna, sara = api.token_for(pnr("Anna")), api.token_for(pnr("Sara"))
    nils = children(api, anna)["Nils"]
    assert children(api, sara) == {} and inbox_status(api, sara, nils) == 404
    register_change("Nils", guardians=[pnr("Erik"), pnr("Sara")])
    status, receipt = post_event(api, "custody-changed", "Nils")
    assert status == 202 and receipt["citizenId"] == nils
    assert inbox_status(api, anna, nils) == 404  # custody ended
    assert set(children(api, anna)) == {"Elsa"}
    assert children(api, sara) == {"Nils": nils}  # the new guardian, from her next request
    assert inbox_status(api, sara, nils) == 200


def test_death_of_a_child_or_of_a_guardian_ends_the_link(api: Any) -> None:
    anna, erik = api.token_for(pnr("Anna")), api.token_for(pnr("Erik"))
    kids = children(api, anna)
    register_change("Elsa", deceased=True)
    assert post_event(api, "deceased", "Elsa")[0] == 202
    assert inbox_status(api, anna, kids["Elsa"]) == 404 and inbox_status(api, erik, kids["Elsa"]) == 404
    assert inbox_status(api, erik, kids["Nils"]) == 200
    register_change("Erik", deceased=True)
    status, receipt = post_event(api, "deceased", "Erik")
    assert status == 202 and receipt["deceased"] is True
    assert inbox_status(api, erik, kids["Nils"]) == 401  # his account inactivated at once: the session ended
    assert api.call("GET", "/me", token=erik)[0] == 401
    from chalicelib.accounts import service as accounts

    found = accounts.find_by_personnummer(pnr("Erik"))
    assert found is not None and not found.active
    assert inbox_status(api, anna, kids["Nils"]) == 200  # the other guardian still acts
