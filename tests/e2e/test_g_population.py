"""Issue 10, R-32 on the local stack: `python -m local population set` changes the running stack's
population register (its copy under .local/, never testdata/population.json) and sends the population
event, which the pump hands to `population_events`. The API process sees the change at its very next
request: Karin can act for Alva once Alva's protected identity is lifted, and not at all from the request
after it comes back (404, gone from `GET /me`).

Karin and Alva: test_c and test_d log Karin in for her own inbox only; Alva's protection is put back in
`finally`, as testdata has it."""

from __future__ import annotations

import hashlib
import json
import subprocess
from typing import Any

import pytest

from tests.support import ROOT, pnr, until

REPOSITORY_FILE = ROOT / "testdata" / "population.json"


def test_population_set_lifts_and_restores_protection_and_the_api_follows_at_once(http: Any) -> None:
    from chalicelib.audit import service as audit

    before = hashlib.sha256(REPOSITORY_FILE.read_bytes()).hexdigest()
    karin = http.token_for(pnr("Karin"))

    def acting_for() -> dict[str, str]:
        me = http.call("GET", "/me", token=karin)
        assert me.status_code == 200, me.text
        return {c["name"]: c["citizenId"] for c in me.json()["actingFor"]}

    def protect(value: str) -> dict[str, Any]:
        return dict(json.loads(http.cli("population", "set", pnr("Alva"), "--protected-identity", value)))

    assert acting_for() == {}  # Alva has protected identity
    try:
        lifted = protect("false")
        assert lifted["protectedIdentity"] is None and lifted["event"] == "protected-identity-changed"
        alva = acting_for()["Alva Ek"]  # the very next request: Karin may act, Alva's account is activated
        assert http.call("GET", f"/citizens/{alva}/inbox", token=karin).status_code == 200

        protected = protect("true")
        assert protected["protectedIdentity"] == "sekretessmarkering"  # as testdata has her
        assert http.call("GET", f"/citizens/{alva}/inbox", token=karin).status_code == 404  # at once
        assert http.call("GET", f"/citizens/{alva}/settings", token=karin).status_code == 404
        assert acting_for() == {}

        # The pump fed both events to population_events: recorded under Alva and under Karin.
        def recorded(subject: str) -> list[dict[str, Any]]:
            return [e for e in audit.entries_for(subject) if e["action"].startswith("population.")]

        # The first event may be handled before the next request activated Alva's account: then it is
        # recorded under the keyed hash of her personnummer, the second under her account.
        from chalicelib.core.personal_number import lookup_key

        def for_alva() -> list[dict[str, Any]]:
            return recorded(audit.citizen_subject(alva)) + recorded(audit.person_subject(lookup_key(pnr("Alva"))))

        assert len(until(lambda: len(found := for_alva()) >= 2 and found)) == 2
        karin_id = karin.split(".")[0]
        assert [e["action"] for e in recorded(audit.citizen_subject(karin_id))] == [
            "population.child-protected-identity-changed"
        ] * 2
        dlq = _dlq_depth(http)
        assert dlq == 0, "population_events failed a message"
    finally:
        protect("true")
    assert hashlib.sha256(REPOSITORY_FILE.read_bytes()).hexdigest() == before  # the repository's file untouched


def _dlq_depth(http: Any) -> int:
    import boto3

    sqs = boto3.client("sqs", endpoint_url=http.env["AWS_ENDPOINT_URL"], region_name=http.env["AWS_DEFAULT_REGION"])
    url = sqs.get_queue_url(QueueName=http.env["POPULATION_EVENTS_QUEUE"] + "-dlq")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def test_population_set_refuses_what_it_cannot_mean(http: Any) -> None:
    for args in (("1980022823", "--protected-identity", "true"), ("189001019802", "--protected-identity", "true")):
        with pytest.raises(subprocess.CalledProcessError) as refused:
            http.cli("population", "set", *args)
        assert refused.value.returncode != 0
