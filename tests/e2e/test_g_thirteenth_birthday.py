"""R-34 on the local stack (issue 10, "Must show"): Johan acts for Wilma on 2026-11-22; the birthday job
at 00:05 Stockholm on the 23rd clears her notification settings and his contacts under her; his next
request for her is 404 and `GET /me` no longer lists her; an answer to her case notifies no guardian;
Wilma's own first login is asked for new details and sees the case Johan started, marked as his."""

from __future__ import annotations

import json
import time
from typing import Any

from local.pump import schedule_event
from tests.integration.case_helpers import CLINIC, HANDLER
from tests.support import at, pnr

WILMA_MOBILE = "+46701740696"  # PTS's range for fiction, used by this test only
JOHAN_MOBILE = "+46701740697"


def test_on_wilmas_13th_birthday_johan_stops_acting_for_her_and_she_takes_over(http: Any) -> None:
    def sms_to(*numbers: str) -> list[dict[str, Any]]:
        lines = [json.loads(line) for line in http.cli("outbox").splitlines() if line.strip()]
        return [m for m in lines if m["channel"] == "sms" and m["to"] in numbers]

    try:
        http.cli("clock", "set", "2026-11-22T12:00:00+01:00")
        johan = http.token_for(pnr("Johan"))
        me = http.call("GET", "/me", token=johan).json()
        (wilma,) = [c for c in me["actingFor"] if c["name"].startswith("Wilma")]
        cid = wilma["citizenId"]
        settings = {"mobile": WILMA_MOBILE, "notifyBySms": True, "guardianContact": {"mobile": JOHAN_MOBILE}}
        changed = http.call("PATCH", f"/citizens/{cid}/settings", settings, token=johan)
        assert changed.status_code == 200, changed.text
        case = {"clinicId": CLINIC, "caseTypeId": "fraga-sjukskoterskan", "subject": "Vaccin", "body": "När?"}
        created = http.call("POST", f"/citizens/{cid}/cases", case, token=johan)
        assert created.status_code == 201, created.text
        case_id = created.json()["caseId"]

        http.cli("clock", "set", "2026-11-23T00:06:00+01:00")
        # The pump's own 00:05 slot may have run on the moved clock already: then this run finds nothing
        # left (idempotent), and the effects below are the same.
        ran = json.loads(
            http.cli("invoke", "birthday_reset", event=schedule_event("birthday_reset", at("2026-11-22T23:05:00Z")))
        )
        assert ran["reset"] in (0, 1) and ran["skipped"] == 0, ran

        johan = http.token_for(pnr("Johan"))
        refused = http.call("GET", f"/citizens/{cid}/inbox", token=johan)
        assert refused.status_code == 404, refused.text
        assert cid not in [c["citizenId"] for c in http.call("GET", "/me", token=johan).json()["actingFor"]]

        # A token from the dev CLI: it is issued on the stack's moved clock, as the API checks it.
        handler = http.cli("staff-token", "--hsa-id", HANDLER, "--clinic", CLINIC, "--role", "case-handler").strip()
        answer = {"kind": "answer", "body": "I mars."}
        # Before the birthday, the 30-day notice (late: Wilma's account is a day old) may have been sent to
        # her settings' numbers by the pump's own 00:05 slot of the 22nd; nothing may follow the answer.
        before = sms_to(JOHAN_MOBILE, WILMA_MOBILE)
        answered = http.call("POST", f"/staff/cases/{case_id}/messages", answer, token=handler)
        assert answered.status_code == 201, answered.text
        time.sleep(5)  # the pump's stream and queue would have sent by now
        assert sms_to(JOHAN_MOBILE, WILMA_MOBILE) == before  # her settings and his contact under her are gone

        wilma_token = http.token_for(pnr("Wilma"))
        own = http.call("GET", "/me", token=wilma_token).json()
        assert own["mustReviewSettings"] is True and own["actingFor"] == []
        mine = http.call("GET", "/citizens/me/settings", token=wilma_token).json()
        assert mine.get("mobile") is None and mine.get("notifyBySms") is False
        item = http.call("GET", f"/citizens/me/inbox/{case_id}", token=wilma_token)
        assert item.status_code == 200, item.text
        first = item.json()["case"]["messages"][0]
        assert first["author"]["kind"] == "guardian"  # what Johan wrote for her stays, marked as his
    finally:
        http.cli("clock", "reset")
