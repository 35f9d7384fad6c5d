"""R-46's rules, pure: the form, checking answers (422s that name the question), validity by the age on the
day of submission (12/6 calendar months, a missing day → the month's last day), and the PDF holding only
the medically relevant answers, each marked red (needs attention) or green, as extractable text."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date
from typing import Any

import pypdf
import pytest

from chalicelib.core.errors import InvalidInput
from chalicelib.core.personal_number import parse
from chalicelib.health_declarations import pdf, rules
from tests.support import at

ANNA = parse("198002282385")  # born 28 February 1980
LEO = parse("201101022398")  # born 2 January 2011
SAGA = parse("201602292383")  # born 29 February 2016


def all_no() -> dict[str, Any]:
    """An answer to every question, each with the first option (none of which needs attention)."""
    return {q.id: q.options[0].id for q in rules.QUESTIONS}


# --- the form -----------------------------------------------------------------------------------


def test_the_form_has_fixed_choice_mandatory_questions_and_a_final_free_text():
    form = rules.form()
    assert form["version"] == rules.FORM_VERSION
    assert form["questions"] and all(q["required"] and q["options"] for q in form["questions"])
    assert all({"id", "label", "needsAttention"} <= set(o) for q in form["questions"] for o in q["options"])
    assert form["freeText"] == {
        "id": "freeText",
        "label": rules.FREE_TEXT_LABEL,
        "maxLength": rules.FREE_TEXT_MAX_LENGTH,
        "required": False,
    }
    ids = [q["id"] for q in form["questions"]]
    assert len(ids) == len(set(ids)) and "freeText" not in ids
    practical = {q["id"] for q in form["questions"] if not q["medicallyRelevant"]}
    assert practical == {"tolk", "kontaktsatt"}  # interpreter need and contact preference do not matter medically
    # Each medically relevant question can both raise and clear attention.
    for q in form["questions"]:
        if q["medicallyRelevant"]:
            assert {o["needsAttention"] for o in q["options"]} == {True, False}, q["id"]


# --- answers ------------------------------------------------------------------------------------


def test_complete_answers_pass_and_the_free_text_is_optional():
    chosen, free_text = rules.checked_answers(all_no())
    assert chosen == all_no() and free_text is None
    assert rules.checked_answers({**all_no(), "freeText": "   "})[1] is None


def test_a_missing_answer_is_422_naming_the_question():
    answers = all_no()
    del answers["allergi"]
    with pytest.raises(InvalidInput) as refused:
        rules.checked_answers(answers)
    assert refused.value.code == "answer-required"
    assert refused.value.extra == {"questionId": "allergi"}
    assert "allergisk" in refused.value.detail  # the question's own text


@pytest.mark.parametrize("value", ["kanske", "", "JA", 1, ["ja"], None])
def test_an_answer_that_is_not_one_of_the_options_is_refused(value):
    answers = {**all_no(), "hjarta": value}
    with pytest.raises(InvalidInput) as refused:
        rules.checked_answers(answers)
    assert refused.value.code in ("answer-invalid", "answer-required")
    assert refused.value.extra == {"questionId": "hjarta"}
    assert "hjärtsjukdom" in refused.value.detail


def test_an_answer_to_no_question_is_refused():
    with pytest.raises(InvalidInput) as refused:
        rules.checked_answers({**all_no(), "extra": "ja"})
    assert refused.value.code == "answer-unknown-question"


def test_the_free_text_is_bounded_and_must_be_printable_in_the_pdf():
    with pytest.raises(InvalidInput) as too_long:
        rules.checked_answers({**all_no(), "freeText": "x" * (rules.FREE_TEXT_MAX_LENGTH + 1)})
    assert too_long.value.code == "answer-too-long" and too_long.value.extra == {"questionId": "freeText"}
    assert rules.FREE_TEXT_LABEL in too_long.value.detail
    assert rules.checked_answers({**all_no(), "freeText": "x" * rules.FREE_TEXT_MAX_LENGTH})[1]
    with pytest.raises(InvalidInput) as emoji:
        rules.checked_answers({**all_no(), "freeText": "Allergisk mot penicillin 🙂"})
    assert emoji.value.code == "answer-unsupported-characters"
    with pytest.raises(InvalidInput):
        rules.checked_answers({**all_no(), "freeText": "nul\x00byte"})
    # Swedish letters, typographic quotes and dashes from a phone keyboard are fine; line breaks are kept.
    text = "Åsa’s “pollen” – året runt…\r\nÄter Waran"
    assert rules.checked_answers({**all_no(), "freeText": text})[1] == "Åsa’s “pollen” – året runt…\nÄter Waran"


# --- validity -----------------------------------------------------------------------------------


def test_an_adult_declaration_is_valid_12_months_and_a_childs_6():
    assert rules.valid_until(ANNA, date(2026, 12, 2)) == date(2027, 12, 2)
    assert rules.valid_until(LEO, date(2026, 12, 2)) == date(2027, 6, 2)  # 15 years old


def test_the_age_is_the_one_on_the_day_of_submission():
    eve = date(2029, 1, 1)  # Leo turns 18 on 2 January 2029
    assert LEO.age_on(eve) == 17 and rules.valid_until(LEO, eve) == date(2029, 7, 1)
    assert rules.valid_until(LEO, date(2029, 1, 2)) == date(2030, 1, 2)


def test_a_29_february_child_turns_18_on_28_february_in_a_common_year():
    # Saga, born 29 February 2016, is 18 on 28 February 2034 (R-34's birthday rule, the one age rule).
    assert rules.validity_months(SAGA, date(2034, 2, 27)) == 6
    assert rules.validity_months(SAGA, date(2034, 2, 28)) == 12


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 8, 31), 6, date(2027, 2, 28)),  # no 31 February: the month's last day
        (date(2027, 8, 31), 6, date(2028, 2, 29)),  # a leap year's last day of February
        (date(2028, 2, 29), 12, date(2029, 2, 28)),
        (date(2026, 3, 31), 6, date(2026, 9, 30)),
        (date(2026, 7, 15), 6, date(2027, 1, 15)),  # over the turn of the year
        (date(2026, 12, 31), 12, date(2027, 12, 31)),
    ],
)
def test_calendar_months_with_the_months_last_day_for_a_missing_day(day, months, expected):
    assert rules.add_months(day, months) == expected


def test_valid_through_the_last_day_inclusive():
    until = date(2027, 6, 2)
    assert rules.is_valid(until, date(2027, 6, 2))
    assert not rules.is_valid(until, date(2027, 6, 3))


# --- the PDF ------------------------------------------------------------------------------------


def _answers_with(**attention: str) -> dict[str, str]:
    return {**all_no(), **attention}


def test_only_medically_relevant_answers_reach_the_pdf_in_the_forms_order():
    lines = rules.pdf_lines(_answers_with(hjarta="ja", tolk="ja", kontaktsatt="sms"))
    relevant = [q for q in rules.QUESTIONS if q.medically_relevant]
    assert [line.question for line in lines] == [q.text for q in relevant]
    assert [line.needs_attention for line in lines if line.question.startswith("Har du eller har du haft")] == [True]
    assert sum(line.needs_attention for line in lines) == 1


DECLARATION = pdf.Declaration(
    declaration_id="3f0d5d54-2a0a-4c3f-9a59-3b3c6c1e2f10",
    personnummer="198002282385",
    name="Anna Andersson",
    submitted_at=at("2026-12-02T09:30:00Z"),
    valid_until=date(2027, 12, 2),
    age_at_submission=46,
    answers=_answers_with(hjarta="ja", diabetes="ja-insulin", tolk="ja", kontaktsatt="brev"),
    free_text="Jag tål inte plåster med latex.",
    form_version=rules.FORM_VERSION,
    clinic_name="Vårdcentralen Storgatan",
)


def _coloured_text(document: bytes) -> tuple[str, list[tuple[tuple[float, ...], str]]]:
    """The text, and each piece of it with the fill colour it was drawn in."""
    reader = pypdf.PdfReader(io.BytesIO(document))
    pieces: list[tuple[tuple[float, ...], str]] = []
    colour: list[tuple[float, ...]] = [(0.0, 0.0, 0.0)]

    def before(operator: bytes, operands: list[Any], *_: Any) -> None:
        if operator == b"rg":
            colour[0] = tuple(round(float(x), 2) for x in operands)

    def text(value: str, *_: Any) -> None:
        if value.strip():
            pieces.append((colour[0], value.strip()))

    full = "\n".join(page.extract_text(visitor_operand_before=before, visitor_text=text) for page in reader.pages)
    return full, pieces


def _rgb(colour: tuple[int, int, int]) -> tuple[float, ...]:
    return tuple(round(c / 255, 2) for c in colour)


def test_the_pdf_is_text_with_the_relevant_answers_marked_red_or_green_and_nothing_else():
    document = pdf.build(DECLARATION)
    assert document.startswith(b"%PDF-")
    text, pieces = _coloured_text(document)
    assert "Hälsodeklaration" in text and "19800228-2385" in text and "Anna Andersson" in text
    assert "Giltig till och med: 2027-12-02" in text and "Vårdcentralen Storgatan" in text
    for question in rules.QUESTIONS:
        assert (question.text[:40] in " ".join(text.split())) is question.medically_relevant, question.id
    assert "tolk" not in text.lower() and "Brev" not in text  # the practical answers stay out
    red, green = _rgb(pdf.RED), _rgb(pdf.GREEN)
    drawn = [(c, value) for c, value in pieces if value.startswith("Svar:")]
    expected = [
        (red if line.needs_attention else green, f"Svar: {line.answer}")
        for line in rules.pdf_lines(DECLARATION.answers)
    ]
    assert drawn == expected
    assert (red, "Svar: Ja, behandlad med insulin") in drawn and (red, "Svar: Ja") in drawn  # diabetes, heart
    assert (green, "Svar: Nej") in drawn
    assert [c for c, value in pieces if value == pdf.ATTENTION].count(red) == 3  # two answers and the free text
    assert all(c == green for c, value in pieces if value == pdf.NO_ATTENTION)
    assert (red, "Jag tål inte plåster med latex.") in pieces


def test_a_guardians_declaration_for_a_child_says_who_filled_it_in():
    child = replace(
        DECLARATION,
        personnummer="201706142385",
        name="Elsa Andersson",
        age_at_submission=9,
        guardian_name="Anna Andersson",
        free_text=None,
        clinic_name=None,
    )
    text, _ = _coloured_text(pdf.build(child))
    assert "Ifylld av vårdnadshavare: Anna Andersson" in text and "Ålder vid ifyllandet: 9 år" in text
    assert rules.FREE_TEXT_LABEL not in text


def test_a_long_free_text_flows_onto_more_pages_and_stays_extractable():
    long_text = " ".join(["Tidigare opererad i knät och fick illamående efter narkosen."] * 16)
    document = pdf.build(replace(DECLARATION, free_text=long_text[: rules.FREE_TEXT_MAX_LENGTH]))
    text, _ = _coloured_text(document)
    assert "illamående efter narkosen" in text
