"""Standing gate: nothing the stack logged during the end-to-end tests holds a personnummer, a phone
number or an e-mail address. Runs last (file order)."""

from __future__ import annotations

import re

from tests.e2e.conftest import LOG_DIR
from tests.support import POPULATION

PERSONNUMMER = re.compile(r"(?<![\d.])((?:19|20)?\d{6})[-+]?(\d{4})(?![\d.])")
PHONE = re.compile(r"(?<![\w.])(?:\+46|0046|0)\s?7[02369](?:[\s-]?\d){7}(?!\d)")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}", re.IGNORECASE)
# Request, correlation and order ids: random hex whose last group can hold ten digits that pass Luhn.
UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.IGNORECASE)


def _luhn_ok(ten_digits: str) -> bool:
    total = 0
    for i, ch in enumerate(ten_digits):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _looks_like_personnummer(match: re.Match[str]) -> bool:
    date_part, tail = match.group(1), match.group(2)
    short = date_part[-6:]
    month, day = int(short[2:4]), int(short[4:6])
    if not (1 <= month <= 12 and (1 <= day <= 31 or 61 <= day <= 91)):
        return False
    return _luhn_ok(short + tail)


def findings(text: str) -> list[str]:
    found = [f"test person {p['givenName']}" for p in POPULATION if p["personnummer"] in text]
    text = UUID.sub("<uuid>", text)
    found += [
        f"personnummer-like {m.group(0)[:4]}…" for m in PERSONNUMMER.finditer(text) if _looks_like_personnummer(m)
    ]
    found += [f"phone-like {m.group(0)[:4]}…" for m in PHONE.finditer(text)]
    found += [f"e-mail-like …@{m.group(0).split('@')[1]}" for m in EMAIL.finditer(text)]
    return found


def test_the_scanner_catches_what_it_should():
    assert findings("user 198504022396 logged in")
    assert findings("pnr 850402-2396")
    assert findings("sms to +46701234567")
    assert findings("mail anna.andersson@example.se")
    assert not findings('{"ts": 1795316304682, "orderRef": "131daac9-16c6-4618-beb0-365768f37288"}')
    assert not findings('{"correlation_id": "0b8e5a3e-7f1d-4c2a-9d7e-c1204220352a"}')  # a UUID, not a person
    assert findings('{"note": "x198504022396"}')  # letters around a number do not hide it


def test_stack_logs_hold_no_personal_data(http):
    logs = sorted(LOG_DIR.glob("*.log"))
    assert {p.stem for p in logs} >= {"api", "pump", "dynamodb", "moto", "bankid"}
    api_log = (LOG_DIR / "api.log").read_text(encoding="utf-8", errors="replace")
    assert '"message":"request"' in api_log  # the scan reads real request logs, not an empty file
    problems = {}
    for path in logs:
        hits = findings(path.read_text(encoding="utf-8", errors="replace"))
        if hits:
            problems[path.name] = sorted(set(hits))[:10]
    assert not problems, problems
