"""The clinic's PDF of a health declaration (R-46), built with fpdf2 (imported here only: it is large and
only the event function needs it).

Only the medically relevant answers (`rules.pdf_lines`), each with a coloured square and a word, so the
mark survives printing in black and white and text extraction: red "OBS" = needs attention, green "OK" =
nothing to note. The free text, when there is one, follows as the patient wrote it, marked "OBS" (a
clinician must read it). The text is real text in the PDF's standard fonts (Windows-1252), so record
systems and screen readers can extract it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from chalicelib.core.clock import stockholm
from chalicelib.health_declarations import rules

if TYPE_CHECKING:
    from fpdf import FPDF

RED = (178, 0, 0)
GREEN = (0, 120, 40)
BLACK = (0, 0, 0)
GREY = (90, 90, 90)
ATTENTION = "OBS"
NO_ATTENTION = "OK"


@dataclass(frozen=True)
class Declaration:
    """What the PDF shows, read from the stored declaration."""

    declaration_id: str
    personnummer: str
    name: str | None
    submitted_at: datetime
    valid_until: date
    age_at_submission: int
    answers: Mapping[str, str]
    free_text: str | None
    form_version: int
    clinic_name: str | None = None
    guardian_name: str | None = None  # filled in by a guardian in proxy mode


def _pnr(value: str) -> str:
    return f"{value[:8]}-{value[8:]}" if len(value) == 12 else value


def _mark(pdf: FPDF, needs_attention: bool, line_height: float) -> None:
    colour = RED if needs_attention else GREEN
    pdf.set_fill_color(*colour)
    pdf.rect(pdf.l_margin, pdf.get_y() + (line_height - 3.5) / 2, 3.5, 3.5, style="F")
    pdf.set_x(pdf.l_margin + 5.5)
    pdf.set_text_color(*colour)
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(11, line_height, ATTENTION if needs_attention else NO_ATTENTION)


def build(declaration: Declaration) -> bytes:
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.core_fonts_encoding = rules.PDF_ENCODING
    pdf.set_creation_date(declaration.submitted_at)  # the same declaration always makes the same document
    pdf.set_title("Hälsodeklaration")
    pdf.set_subject("Medicinskt relevanta svar")
    pdf.set_creator("1177 e-tjänster")
    pdf.set_lang("sv")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    _header(pdf, declaration)
    _answers(pdf, declaration)
    return bytes(pdf.output())


def _header(pdf: FPDF, declaration: Declaration) -> None:
    width = pdf.w - pdf.l_margin - pdf.r_margin
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(width, 9, "Hälsodeklaration", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    submitted = declaration.submitted_at.astimezone(stockholm()).strftime("%Y-%m-%d %H:%M")
    facts = [
        f"Patient: {declaration.name or 'okänt namn'}, {_pnr(declaration.personnummer)}",
        f"Ålder vid ifyllandet: {declaration.age_at_submission} år",
        f"Ifylld: {submitted} (svensk tid)",
        f"Giltig till och med: {declaration.valid_until.isoformat()}",
        f"Formulärversion: {declaration.form_version}",
        f"Id: {declaration.declaration_id}",
    ]
    if declaration.clinic_name:
        facts.insert(1, f"Mottagning: {declaration.clinic_name}")
    if declaration.guardian_name:
        facts.append(f"Ifylld av vårdnadshavare: {declaration.guardian_name}")
    for fact in facts:
        pdf.cell(width, 5.5, fact, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_text_color(*GREY)
    pdf.multi_cell(
        width,
        5,
        f"Endast medicinskt relevanta svar visas. {ATTENTION} (röd) = behöver uppmärksammas, "
        f"{NO_ATTENTION} (grön) = inget att notera.",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(3)


def _answers(pdf: FPDF, declaration: Declaration) -> None:
    width = pdf.w - pdf.l_margin - pdf.r_margin
    line_height = 5.5
    text_x = pdf.l_margin + 17
    for line in rules.pdf_lines(declaration.answers):
        if pdf.will_page_break(line_height * 3):
            pdf.add_page()
        _mark(pdf, line.needs_attention, line_height)
        pdf.set_text_color(*BLACK)
        pdf.set_font("Helvetica", "", 10)
        pdf.set_x(text_x)
        pdf.multi_cell(width - 17, line_height, line.question, new_x="LMARGIN", new_y="NEXT")
        pdf.set_x(text_x)
        pdf.set_font("Helvetica", "B", 10)
        pdf.set_text_color(*(RED if line.needs_attention else GREEN))
        pdf.multi_cell(width - 17, line_height, f"Svar: {line.answer}", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1.5)

    if declaration.free_text:
        pdf.ln(2)
        if pdf.will_page_break(line_height * 3):
            pdf.add_page()
        _mark(pdf, True, line_height)
        pdf.set_text_color(*BLACK)
        pdf.set_font("Helvetica", "", 10)
        pdf.set_x(text_x)
        pdf.multi_cell(width - 17, line_height, rules.FREE_TEXT_LABEL, new_x="LMARGIN", new_y="NEXT")
        pdf.set_x(text_x)
        pdf.set_font("Helvetica", "B", 10)
        pdf.set_text_color(*RED)
        pdf.multi_cell(width - 17, line_height, declaration.free_text, new_x="LMARGIN", new_y="NEXT")
