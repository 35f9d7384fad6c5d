"""R-46 on the local stack (issue 13, "Must show"): Erik's own health declaration is valid 12 months and the one
he fills in for Elsa (9) in proxy mode 6 months; a missing mandatory answer is 422 naming the question; the
pump's `health_declaration_pdf` makes the clinic's PDF within the test's bound; it holds only the medically
relevant answers as extractable text; the clinic's staff fetch it over HTTP as application/pdf, and the fetch
is in the citizen's access log."""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime
from typing import Any

import pypdf

from chalicelib.core.clock import stockholm_date
from chalicelib.health_declarations import rules
from tests.integration.case_helpers import CLINIC, HANDLER
from tests.support import pnr

PDF_BOUND_S = 60  # the pump reads the stream four times a second; R-46 allows about 10 minutes


def answers(**chosen: str) -> dict[str, str]:
    return {**{q.id: q.options[0].id for q in rules.QUESTIONS}, **chosen}


def fetch_pdf(http: Any, declaration_id: str, token: str) -> Any:
    return http.session.get(
        f"{http.base}/staff/health-declarations/{declaration_id}/pdf",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/pdf"},
        timeout=30,
    )


def ready_pdf(http: Any, declaration_id: str, token: str) -> tuple[Any, float]:
    started = time.monotonic()
    while True:
        response = fetch_pdf(http, declaration_id, token)
        waited = time.monotonic() - started
        if response.status_code != 409 or waited > PDF_BOUND_S:
            return response, waited
        assert response.headers["Retry-After"].isdigit()
        time.sleep(0.5)


def text_of(document: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(document))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def test_health_declarations_for_an_adult_and_a_child_and_the_clinics_pdf(http: Any) -> None:
    erik = http.token_for(pnr("Erik"))
    today = stockholm_date(datetime.now(UTC))
    form = http.call("GET", "/health-declaration/form")
    assert form.status_code == 200 and form.json()["questions"], form.text

    missing = answers()
    del missing["narkos"]
    refused = http.call("POST", "/citizens/me/health-declarations", {"answers": missing}, token=erik)
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "answer-required" and refused.json()["questionId"] == "narkos"
    assert "narkos" in refused.json()["detail"]

    own = http.call(
        "POST",
        "/citizens/me/health-declarations",
        {"answers": answers(hjarta="ja", tolk="ja", kontaktsatt="brev"), "clinicId": CLINIC},
        token=erik,
    )
    assert own.status_code == 201, own.text
    assert own.json()["validUntil"] == rules.add_months(today, 12).isoformat()

    elsa = next(
        c["citizenId"] for c in http.call("GET", "/me", token=erik).json()["actingFor"] if c["name"].startswith("Elsa")
    )
    child = http.call(
        "POST",
        f"/citizens/{elsa}/health-declarations",
        {"answers": answers(allergi="ja", freeText="Tål inte plåster."), "clinicId": CLINIC},
        token=erik,
    )
    assert child.status_code == 201, child.text
    assert child.json()["validUntil"] == rules.add_months(today, 6).isoformat()
    listed = http.call("GET", f"/citizens/{elsa}/health-declarations", token=erik).json()["items"]
    assert [(i["declarationId"], i["valid"]) for i in listed] == [(child.json()["declarationId"], True)]

    handler = http.cli("staff-token", "--hsa-id", HANDLER, "--clinic", CLINIC, "--role", "case-handler").strip()
    response, waited = ready_pdf(http, own.json()["declarationId"], handler)
    assert response.status_code == 200, (waited, response.text)
    assert response.headers["Content-Type"] == "application/pdf" and response.content.startswith(b"%PDF-")
    text = text_of(response.content)
    assert "Har du eller har du haft någon hjärtsjukdom" in text and "OBS" in text
    assert "tolk" not in text.lower() and "Hur vill du helst" not in text and "Brev" not in text

    response, _ = ready_pdf(http, child.json()["declarationId"], handler)
    assert response.status_code == 200, response.text
    text = text_of(response.content)
    assert "Ifylld av vårdnadshavare: Erik Andersson" in text and "Tål inte plåster." in text
    assert "Ålder vid ifyllandet: 9 år" in text

    logged = http.call("GET", "/citizens/me/access-log", token=erik).json()["items"]
    assert [e["staffHsaId"] for e in logged if e["what"] == "health-declaration-pdf"] == [HANDLER]
    for_elsa = http.call("GET", f"/citizens/{elsa}/access-log", token=erik).json()["items"]
    assert [e["clinicId"] for e in for_elsa if e["what"] == "health-declaration-pdf"] == [CLINIC]
