"""Issue 13 over HTTP on the local stack: `GET /citizens/{cid}/services` for an adult, a 15-year-old, a
guardian acting for a 9-year-old and a citizen with a sealed record (R-35, R-55, R-09); and self-sampling
(R-54): a kit ordered, the lab's result (a machine JWT from the dev CLI) in the inbox, notified by exactly
one SMS even when the lab sends it twice (the pump feeds inbox_events and send_notifications).

Persons: Sara (adult; her record is sealed and unsealed again in `finally`), Leo (15), Erik acting for
Elsa (9; Erik, not Anna: test_a locks Anna)."""

from __future__ import annotations

import json
import time
from typing import Any

from tests.support import pnr

SERVICES = [
    "messages",
    "web-booking",
    "prescription-renewal",
    "medication-list",
    "lakemedelskollen",
    "journal",
    "health-declaration",
    "supplies",
    "self-sampling",
    "support-and-treatment",
]
MOBILE = "+46701740654"  # PTS's range for fiction, used by this test only


def _services(http: Any, token: str, cid: str = "me") -> dict[str, str | None]:
    """Service → None when available, else its reason code; in API.md's order, each once."""
    response = http.call("GET", f"/citizens/{cid}/services", token=token)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [i["service"] for i in items] == SERVICES
    for i in items:
        assert i["available"] is ("reason" not in i)
    return {i["service"]: (None if i["available"] else i["reasonCode"]) for i in items}


def _closed(listed: dict[str, str | None]) -> dict[str, str | None]:
    return {k: v for k, v in listed.items() if v is not None}


def _seal(http: Any, personnummer: str, sealed: bool) -> dict[str, Any]:
    event = {
        "ticketRef": "EASIT-E2E-13",
        "region": "Region Jönköpings län",
        "actor": "vis-support.e2e",
        "personnummer": personnummer,
        "sealed": sealed,
        "formRef": f"FORSEGLA-E2E-{int(sealed)}",
    }
    return dict(json.loads(http.cli("invoke", "admin_seal_record", event=event)))


def test_services_for_an_adult_a_15_year_old_a_guardian_for_a_9_year_old_and_a_sealed_record(http: Any) -> None:
    sara = http.token_for(pnr("Sara"))
    assert _closed(_services(http, sara)) == {}

    leo = http.token_for(pnr("Leo"))
    assert _closed(_services(http, leo)) == {"medication-list": "age-limit", "lakemedelskollen": "age-limit"}

    erik = http.token_for(pnr("Erik"))
    me = http.call("GET", "/me", token=erik).json()
    elsa = next(c["citizenId"] for c in me["actingFor"] if c["name"].startswith("Elsa"))
    assert _closed(_services(http, erik, elsa)) == {"medication-list": "proxy-mode"}  # Läkemedelskollen: yes

    try:
        assert _seal(http, pnr("Sara"), True)["recordSealed"] is True
        assert _closed(_services(http, sara)) == {"journal": "record-sealed"}
    finally:
        assert _seal(http, pnr("Sara"), False)["recordSealed"] is False
    assert _closed(_services(http, sara)) == {}


def _outbox_to(http: Any, number: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in http.cli("outbox").splitlines() if line.strip()]
    return [m for m in lines if m["to"] == number]


def test_a_kit_order_and_the_labs_result_in_the_inbox_with_one_sms(http: Any) -> None:
    sara = http.token_for(pnr("Sara"))
    changed = http.call("PATCH", "/citizens/me/settings", {"mobile": MOBILE, "notifyBySms": True}, token=sara)
    assert changed.status_code == 200, changed.text

    order = {"kitType": "klamydia-gonorre", "delivery": {"kind": "home"}}
    headers = {"Authorization": f"Bearer {sara}", "Idempotency-Key": "e2e-kit-1"}
    first = http.session.post(f"{http.base}/citizens/me/sample-kits", json=order, headers=headers, timeout=30)
    assert first.status_code == 201, first.text
    again = http.session.post(f"{http.base}/citizens/me/sample-kits", json=order, headers=headers, timeout=30)
    assert again.status_code == 201 and again.json() == first.json()
    order_id = first.json()["orderId"]

    lab = http.cli("machine-token", "--client", "lab-e2e", "--scope", "lab-results:write").strip()
    result = {
        "orderId": order_id,
        "resultId": "E2E-R-1",
        "analysis": "Klamydia",
        "outcome": "negative",
        "text": "Inga bakterier påvisades.",
    }
    sent = http.call("POST", "/integrations/lab-results", result, token=lab)
    assert sent.status_code == 202 and sent.json()["duplicate"] is False, sent.text
    replay = http.call("POST", "/integrations/lab-results", result, token=lab)
    assert replay.status_code == 202 and replay.json()["duplicate"] is True, replay.text
    refused = http.call("POST", "/integrations/lab-results", result, token=sara)
    assert refused.status_code == 401

    inbox = http.call("GET", "/citizens/me/inbox", token=sara).json()["items"]
    results = [i for i in inbox if i["subject"] == "Provsvar"]
    assert len(results) == 1 and results[0]["kind"] == "message" and results[0]["unread"] is True
    opened = http.call("GET", f"/citizens/me/inbox/{results[0]['id']}", token=sara)
    assert opened.status_code == 200 and "Inga bakterier påvisades." in opened.json()["body"]

    deadline = time.monotonic() + 45
    while time.monotonic() < deadline and not _outbox_to(http, MOBILE):
        time.sleep(0.5)
    time.sleep(3)  # a second SMS (the replay) would show up now
    sms = _outbox_to(http, MOBILE)
    assert len(sms) == 1, sms
    assert "Klamydia" not in sms[0]["body"] and "bakterier" not in sms[0]["body"]  # no content
