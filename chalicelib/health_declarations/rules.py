"""The health declaration's rules (R-46), pure: the national form, checking a citizen's answers, how long
a declaration is valid, and which answers go into the clinic's PDF.

The form follows the structure of SFAI's "Hälsodeklaration inför operation": every question has fixed
options and must be answered; a last, optional free-text question. Each option says whether the answer
needs the clinic's attention (red in the PDF) or not (green); each question says whether it matters
medically. Only medically relevant questions reach the PDF (the seed: "Endast svar som måste beaktas ur
ett medicinskt perspektiv sparas i pdf:en"); practical ones (interpreter, how to be contacted) do not.

Validity (R-46): 12 months for an adult, 6 months for a child, by the age on the day it was submitted
(the one age rule, `PersonalNumber.age_on` on the Stockholm date). Months are calendar months; when the
target month has no such day the declaration is valid through that month's last day (31 August + 6
months → 28/29 February). `validUntil` is the last day it is valid, inclusive.
"""

from __future__ import annotations

import calendar
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from chalicelib.core.errors import InvalidInput
from chalicelib.core.personal_number import PersonalNumber

FORM_VERSION = 1
FREE_TEXT_ID = "freeText"
FREE_TEXT_LABEL = "Finns det något mer du vill att vården ska veta inför din vårdkontakt?"
FREE_TEXT_MAX_LENGTH = 1000
ADULT_AGE = 18
ADULT_MONTHS = 12
CHILD_MONTHS = 6
# What the PDF's standard fonts can show (Windows-1252: Swedish letters, €, typographic quotes and dashes).
# A free text with anything else (an emoji, another script) is refused rather than silently changed.
PDF_ENCODING = "windows-1252"


@dataclass(frozen=True)
class Option:
    id: str
    label: str
    needs_attention: bool


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    options: tuple[Option, ...]
    medically_relevant: bool = True
    required: bool = True

    def option(self, option_id: str) -> Option | None:
        return next((o for o in self.options if o.id == option_id), None)


def _yes_no(yes_needs_attention: bool = True) -> tuple[Option, ...]:
    return (Option("nej", "Nej", False), Option("ja", "Ja", yes_needs_attention))


QUESTIONS: tuple[Question, ...] = (
    Question(
        "hjarta",
        "Har du eller har du haft någon hjärtsjukdom, till exempel kärlkramp, hjärtinfarkt, hjärtsvikt, "
        "klaffel eller oregelbunden puls?",
        _yes_no(),
    ),
    Question(
        "blodtryck",
        "Har du högt blodtryck?",
        (
            Option("nej", "Nej", False),
            Option("ja-behandlat", "Ja, och det är välbehandlat", False),
            Option("ja-obehandlat", "Ja, men det är obehandlat eller svårt att få ner", True),
        ),
    ),
    Question("lungor", "Har du astma, KOL eller någon annan lungsjukdom?", _yes_no()),
    Question("somnapne", "Har du sömnapné, eller snarkar du kraftigt med andningsuppehåll?", _yes_no()),
    Question(
        "diabetes",
        "Har du diabetes?",
        (
            Option("nej", "Nej", False),
            Option("ja-kost-tabletter", "Ja, behandlad med kost eller tabletter", True),
            Option("ja-insulin", "Ja, behandlad med insulin", True),
        ),
    ),
    Question("njurar-lever", "Har du någon njur- eller leversjukdom?", _yes_no()),
    Question(
        "neurologi", "Har du epilepsi, har du haft stroke eller har du någon annan neurologisk sjukdom?", _yes_no()
    ),
    Question(
        "blodning",
        "Blöder du lätt eller länge, eller tar du blodförtunnande läkemedel?",
        _yes_no(),
    ),
    Question(
        "allergi",
        "Är du allergisk eller överkänslig mot läkemedel, latex, plåster eller födoämnen?",
        _yes_no(),
    ),
    Question(
        "narkos",
        "Har du eller någon nära släkting haft problem i samband med narkos eller bedövning?",
        (
            Option("nej", "Nej", False),
            Option("ja", "Ja", True),
            Option("vet-ej", "Vet inte", True),
        ),
    ),
    Question(
        "ork",
        "Kan du gå två trappor i normal takt utan att behöva stanna?",
        (Option("ja", "Ja", False), Option("nej", "Nej", True)),
    ),
    Question(
        "tobak",
        "Röker eller snusar du?",
        (
            Option("nej", "Nej", False),
            Option("slutat", "Jag har slutat", False),
            Option("ja", "Ja", True),
        ),
    ),
    Question("alkohol", "Dricker du mer än tio standardglas alkohol i veckan?", _yes_no()),
    Question(
        "gravid",
        "Är du gravid eller kan du vara gravid?",
        (
            Option("nej", "Nej", False),
            Option("ja", "Ja", True),
            Option("ej-aktuellt", "Inte aktuellt", False),
        ),
    ),
    Question(
        "tander",
        "Har du lösa tänder, tandprotes, tandställning eller piercing i munnen?",
        _yes_no(),
    ),
    # Practical questions: they help the clinic plan the visit, but do not matter medically.
    Question("tolk", "Behöver du tolk vid besöket?", _yes_no(yes_needs_attention=False), medically_relevant=False),
    Question(
        "kontaktsatt",
        "Hur vill du helst att vi kontaktar dig inför besöket?",
        (
            Option("telefon", "Telefon", False),
            Option("sms", "SMS", False),
            Option("brev", "Brev", False),
            Option("e-tjanst", "Via 1177", False),
        ),
        medically_relevant=False,
    ),
)
_BY_ID: dict[str, Question] = {q.id: q for q in QUESTIONS}
MAX_ANSWERS = len(QUESTIONS) + 1  # every question and the free text


def form() -> dict[str, Any]:
    """The form in API.md's shape (`GET /health-declaration/form`)."""
    return {
        "version": FORM_VERSION,
        "questions": [
            {
                "id": q.id,
                "text": q.text,
                "required": q.required,
                "medicallyRelevant": q.medically_relevant,
                "options": [{"id": o.id, "label": o.label, "needsAttention": o.needs_attention} for o in q.options],
            }
            for q in QUESTIONS
        ],
        "freeText": {
            "id": FREE_TEXT_ID,
            "label": FREE_TEXT_LABEL,
            "maxLength": FREE_TEXT_MAX_LENGTH,
            "required": False,
        },
    }


def _refuse(code: str, question: Question | None, detail: str) -> InvalidInput:
    extra = {"questionId": question.id if question else FREE_TEXT_ID}
    return InvalidInput(detail, code=code, extra=extra)


def checked_answers(answers: Mapping[str, Any]) -> tuple[dict[str, str], str | None]:
    """The citizen's answers, checked against the form: every question answered with one of its options,
    nothing unknown, the free text within its length and printable in the PDF. Returns (question id →
    option id, free text or None). A 422 names the question (`questionId` in the problem)."""
    unknown = sorted(k for k in answers if k not in _BY_ID and k != FREE_TEXT_ID)
    if unknown:
        raise InvalidInput(
            "Svaret hör inte till någon fråga i hälsodeklarationen.",
            code="answer-unknown-question",
            extra={"questionId": unknown[0][:64]},
        )
    chosen: dict[str, str] = {}
    for question in QUESTIONS:
        value = answers.get(question.id)
        if value is None or (isinstance(value, str) and not value.strip()):
            if question.required:
                raise _refuse("answer-required", question, f"Svara på frågan: ”{question.text}”")
            continue
        if not isinstance(value, str) or question.option(value) is None:
            raise _refuse("answer-invalid", question, f"Välj ett av svarsalternativen på frågan: ”{question.text}”")
        chosen[question.id] = value
    return chosen, checked_free_text(answers.get(FREE_TEXT_ID))


def checked_free_text(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _refuse("answer-invalid", None, f"Svaret på frågan ”{FREE_TEXT_LABEL}” ska vara text.")
    text = unicodedata.normalize("NFC", value).replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ").strip()
    if not text:
        return None
    if len(text) > FREE_TEXT_MAX_LENGTH:
        raise _refuse(
            "answer-too-long",
            None,
            f"Svaret på frågan ”{FREE_TEXT_LABEL}” får vara högst {FREE_TEXT_MAX_LENGTH} tecken.",
        )
    if not printable_in_pdf(text):
        raise _refuse(
            "answer-unsupported-characters",
            None,
            f"Svaret på frågan ”{FREE_TEXT_LABEL}” innehåller tecken som inte kan visas för vården, till exempel "
            "emojier. Skriv med vanliga bokstäver, siffror och skiljetecken.",
        )
    return text


def printable_in_pdf(text: str) -> bool:
    """Only characters the PDF shows as written: Windows-1252, no control characters but line breaks."""
    if any(unicodedata.category(c) == "Cc" and c != "\n" for c in text):
        return False
    try:
        text.encode(PDF_ENCODING)
    except UnicodeEncodeError:
        return False
    return True


def add_months(day: date, months: int) -> date:
    """Calendar months later; a day the target month lacks becomes its last day (31 Aug + 6 → 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def validity_months(personnummer: PersonalNumber, submitted_on: date) -> int:
    """R-46: 12 months for an adult (18 or older on the day of submission), 6 months for a child."""
    return ADULT_MONTHS if personnummer.age_on(submitted_on) >= ADULT_AGE else CHILD_MONTHS


def valid_until(personnummer: PersonalNumber, submitted_on: date) -> date:
    """The last day (Stockholm date, inclusive) the declaration is valid."""
    return add_months(submitted_on, validity_months(personnummer, submitted_on))


def is_valid(valid_until_day: date, today: date) -> bool:
    return today <= valid_until_day


@dataclass(frozen=True)
class PdfLine:
    """One medically relevant answer as the PDF shows it."""

    question: str
    answer: str
    needs_attention: bool


def pdf_lines(answers: Mapping[str, str]) -> list[PdfLine]:
    """The medically relevant answers in the form's order, each with its mark; practical ones left out."""
    lines = []
    for question in QUESTIONS:
        if not question.medically_relevant or question.id not in answers:
            continue
        option = question.option(answers[question.id])
        if option is None:  # stored answers were checked against this form version; never guess
            raise ValueError(f"answer to {question.id} is not an option of form version {FORM_VERSION}")
        lines.append(PdfLine(question.text, option.label, option.needs_attention))
    return lines
