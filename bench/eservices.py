"""`make bench`, issue 13: the other e-services, in-process through the routes against DynamoDB Local, for one
adult citizen (Sara), each op BENCH_RUNS times. Added to `p50_ms`, `p95_ms`, `overhead_ratio` and
`dynamodb_requests` under these names:

- form_case: a case on the seeded local e-service (`hudbesvar-bilder`: answers checked against its components,
  R-50), each with its own Idempotency-Key;
- health_declaration: a health declaration submitted (R-46), each with its own Idempotency-Key;
- services: `GET /citizens/me/services` (R-35, R-55: rules over the session's account, no read of its own);
- medications: `GET /citizens/me/medications` (R-52; the local fixture adapter behind the port).

And `health_declaration_pdf_p50_ms` / `_p95_ms`: building one declaration's PDF with fpdf2 (pure CPU, what the
`health_declaration_pdf` function spends besides one PutObject and one UpdateItem).
"""

from __future__ import annotations

import json
import statistics
import time
from datetime import UTC, date, datetime
from typing import Any

CLINIC = "SE2321000016-2002"
LOCAL_ESERVICE = "hudbesvar-bilder"

NOTES = {
    "form_case": "POST /citizens/me/cases on a local e-service (answers validated against the case type's "
    "components): session check, clinic Query, one transaction (bench/eservices.py)",
    "health_declaration": "POST /citizens/me/health-declarations: session check, register lookup, one "
    "transaction (guard, declaration, list entry); the PDF is made afterwards from the stream",
    "health_declaration_pdf_p50_ms": "fpdf2 building one health declaration's PDF (CPU only), the event "
    "function's own work besides PutObject and UpdateItem",
    "services": "GET /citizens/me/services: the session's BatchGetItem and the rules, nothing else",
    "medications": "GET /citizens/me/medications through the port's local fixture adapter",
}


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))]


def measure(
    app: Any,
    api_event: Any,
    meter: Any,
    token: str,
    *,
    runs: int,
    samples: dict[str, list[float]],
    raw: dict[str, list[float]],
    requests: dict[str, Any],
) -> dict[str, Any]:
    from chalicelib.health_declarations import rules

    def call(method: str, resource: str, body: Any = None, key: str | None = None) -> Any:
        event = api_event(method, resource.format(cid="me"), body=body, token=token, resource=resource)
        event["pathParameters"] = {"cid": "me"}
        if key:
            event["headers"]["idempotency-key"] = key
            event["multiValueHeaders"]["idempotency-key"] = [key]
        response = app(event, None)
        assert response["statusCode"] < 300, response
        return json.loads(response["body"] or "null")

    declaration = {"answers": {q.id: q.options[0].id for q in rules.QUESTIONS}}
    operations: dict[str, tuple[str, str, Any]] = {
        "form_case": (
            "POST",
            "/citizens/{cid}/cases",
            {"clinicId": CLINIC, "caseTypeId": LOCAL_ESERVICE, "answers": {"varaktighet": "dagar", "villkor": True}},
        ),
        "health_declaration": ("POST", "/citizens/{cid}/health-declarations", declaration),
        "services": ("GET", "/citizens/{cid}/services", None),
        "medications": ("GET", "/citizens/{cid}/medications", None),
    }
    stamp = time.time_ns()
    for name, (method, resource, body) in operations.items():
        samples[name], raw[name] = [], []
        for i in range(runs):
            key = f"bench-{name}-{stamp}-{i}" if method == "POST" else None
            meter.reset()
            started = time.perf_counter()
            call(method, resource, body, key)
            samples[name].append(time.perf_counter() - started)
            raw[name].append(meter.seconds)
            requests[name] = len(meter.calls)
    return _pdf_build(runs)


def _pdf_build(runs: int) -> dict[str, Any]:
    from chalicelib.health_declarations import pdf, rules

    answers = {q.id: q.options[-1].id for q in rules.QUESTIONS}
    declaration = pdf.Declaration(
        declaration_id="00000000-0000-4000-8000-000000000000",
        personnummer="198504022396",  # Sara, a Skatteverket test number
        name="Sara Berg",
        submitted_at=datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
        valid_until=date(2027, 12, 1),
        age_at_submission=41,
        answers=answers,
        free_text="Tål inte plåster.",
        form_version=rules.FORM_VERSION,
        clinic_name="Hudmottagningen Länssjukhuset",
        guardian_name=None,
    )
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        pdf.build(declaration)
        timings.append(time.perf_counter() - started)
    return {
        "health_declaration_pdf_p50_ms": round(statistics.median(timings) * 1000, 2),
        "health_declaration_pdf_p95_ms": round(_percentile(timings, 95) * 1000, 2),
    }
