"""A case type's form (R-50): the components a clinic admin chooses, and a citizen's answers to them.

Pure rules, no storage. A form is a version number and its components:

    single-choice / multi-choice   a fixed-choice question with its options (R-50)
    free-text                      text up to `maxLength` characters
    date                           an ISO date (YYYY-MM-DD)
    attachments                    files may be attached (its presence is what allows attachments, R-22)
    terms                          a terms text the citizen accepts

`check_definition` refuses a form that cannot be answered sensibly (422 with a `code` and the
`componentId`); `answer` checks a citizen's answers against the form they answer (422 naming the
question's label, with `componentId`) and returns the snapshot a case keeps: the version, the component
definitions as they were, and the answers. Later changes to the case type never change a sent case.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, cast

from chalicelib.core.errors import InvalidInput

ComponentKind = Literal["single-choice", "multi-choice", "free-text", "date", "attachments", "terms"]
KINDS: tuple[str, ...] = ("single-choice", "multi-choice", "free-text", "date", "attachments", "terms")
CHOICE_KINDS = frozenset({"single-choice", "multi-choice"})

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$"
MAX_COMPONENTS = 30
MAX_OPTIONS = 30
MAX_LABEL = 300
MAX_OPTION_LABEL = 200
MAX_TERMS_TEXT = 5000
MAX_FREE_TEXT = 5000  # the largest `maxLength` a clinic may choose
DEFAULT_FREE_TEXT = 2000  # a free-text component without `maxLength`
MAX_FORM_BYTES = 48 * 1024  # the definitions as stored (a case keeps a copy; DynamoDB items are ≤ 400 KB)
MAX_ANSWERS = 50

_ID = re.compile(ID_PATTERN)
_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


@dataclass(frozen=True)
class Option:
    id: str
    label: str


@dataclass(frozen=True)
class Component:
    id: str
    kind: ComponentKind
    label: str
    required: bool
    options: tuple[Option, ...] = ()
    max_length: int | None = None  # free text only
    text: str | None = None  # terms only

    @property
    def limit(self) -> int:
        return self.max_length or DEFAULT_FREE_TEXT


@dataclass(frozen=True)
class Form:
    version: int
    components: tuple[Component, ...]

    @property
    def attachments_allowed(self) -> bool:
        """R-22 via R-50: attachments are allowed exactly when the form has an attachments component."""
        return any(c.kind == "attachments" for c in self.components)


# ------------------------------------------------------------------ stored / wire shape (camelCase)


def component_raw(component: Component) -> dict[str, Any]:
    """The API.md shape, which is also how the case type and a case's snapshot store it."""
    raw: dict[str, Any] = {
        "id": component.id,
        "kind": component.kind,
        "label": component.label,
        "required": component.required,
    }
    if component.kind in CHOICE_KINDS:
        raw["options"] = [{"id": o.id, "label": o.label} for o in component.options]
    if component.kind == "free-text":
        raw["maxLength"] = component.limit
    if component.kind == "terms":
        raw["text"] = component.text
    return raw


def components_raw(components: Sequence[Component]) -> list[dict[str, Any]]:
    return [component_raw(c) for c in components]


def component_from_raw(raw: Mapping[str, Any]) -> Component:
    max_length = raw.get("maxLength")
    return Component(
        id=str(raw["id"]),
        kind=cast(ComponentKind, raw["kind"]),
        label=str(raw["label"]),
        required=bool(raw.get("required", False)),
        options=tuple(Option(str(o["id"]), str(o["label"])) for o in raw.get("options") or ()),
        max_length=int(max_length) if max_length is not None else None,
        text=raw.get("text"),
    )


def form_from_raw(version: int, components: Sequence[Mapping[str, Any]]) -> Form:
    return Form(int(version), tuple(component_from_raw(c) for c in components))


def form_out(form: Form) -> dict[str, Any]:
    return {"version": form.version, "components": components_raw(form.components)}


# ------------------------------------------------------------------ the clinic admin's definition


def _refuse(detail: str, code: str, component_id: str | None = None) -> InvalidInput:
    return InvalidInput(detail, code=code, extra={"componentId": component_id} if component_id else None)


def check_definition(components: Sequence[Component]) -> None:
    """R-50: a form a citizen can answer. Unique ids; options for the choice kinds only, at least one,
    unique; `maxLength` for free text only; a terms text for terms only; at most one attachments
    component; bounded counts and lengths (the whole form at most `MAX_FORM_BYTES` stored)."""
    if len(components) > MAX_COMPONENTS:
        raise _refuse(f"Ett formulär kan ha högst {MAX_COMPONENTS} frågor.", "too-many-components")
    seen: set[str] = set()
    for c in components:
        if not _ID.match(c.id):
            raise _refuse("Frågans id får bara innehålla bokstäver a–z, siffror, - och _.", "invalid-component-id")
        if c.id in seen:
            raise _refuse(f'Id "{c.id}" används för flera frågor.', "duplicate-component-id", c.id)
        seen.add(c.id)
        if c.kind not in KINDS:
            raise _refuse("Okänd typ av fråga.", "invalid-component-kind", c.id)
        if not c.label.strip() or len(c.label) > MAX_LABEL:
            raise _refuse(f"Frågan behöver en rubrik på högst {MAX_LABEL} tecken.", "invalid-component-label", c.id)
        _check_options(c)
        if c.max_length is not None and (c.kind != "free-text" or not 1 <= c.max_length <= MAX_FREE_TEXT):
            raise _refuse(
                f"maxLength gäller bara fritext och ska vara 1–{MAX_FREE_TEXT} tecken.", "invalid-max-length", c.id
            )
        if c.kind == "terms":
            if not (c.text or "").strip() or len(c.text or "") > MAX_TERMS_TEXT:
                raise _refuse(
                    f"Villkor behöver en villkorstext på högst {MAX_TERMS_TEXT} tecken.", "terms-text-required", c.id
                )
        elif c.text is not None:
            raise _refuse("Bara villkor har en villkorstext.", "text-not-allowed", c.id)
    if sum(c.kind == "attachments" for c in components) > 1:
        raise _refuse("Ett formulär kan ha högst en bilagedel.", "duplicate-attachments-component")
    if len(json.dumps(components_raw(components), ensure_ascii=False).encode()) > MAX_FORM_BYTES:
        raise _refuse("Formuläret är för stort.", "form-too-large")


def _check_options(c: Component) -> None:
    if c.kind not in CHOICE_KINDS:
        if c.options:
            raise _refuse("Bara flervalsfrågor har svarsalternativ.", "options-not-allowed", c.id)
        return
    if not 1 <= len(c.options) <= MAX_OPTIONS:
        raise _refuse(f"En flervalsfråga behöver 1–{MAX_OPTIONS} svarsalternativ.", "options-required", c.id)
    ids = [o.id for o in c.options]
    if len(set(ids)) != len(ids):
        raise _refuse("Svarsalternativen behöver olika id.", "duplicate-option-id", c.id)
    for o in c.options:
        if not _ID.match(o.id) or not o.label.strip() or len(o.label) > MAX_OPTION_LABEL:
            raise _refuse(
                f"Ett svarsalternativ behöver ett id och en text på högst {MAX_OPTION_LABEL} tecken.",
                "invalid-option",
                c.id,
            )


def next_version(current: Form | None, current_version: int, components: Sequence[Component]) -> int:
    """The version counts changes of the components: the same components keep it, any change (also
    removing the form) takes the next number. Numbers are never reused."""
    before = components_raw(current.components) if current else []
    return current_version if before == components_raw(components) else current_version + 1


def derived_attachments_allowed(components: Sequence[Component], explicit: bool | None) -> bool:
    """R-22 via R-50: with components, attachments are allowed exactly when there is an attachments
    component; an explicit `attachmentsAllowed` that says otherwise is refused."""
    derived = any(c.kind == "attachments" for c in components)
    if explicit is not None and explicit != derived:
        raise InvalidInput(
            "Bilagor tillåts när formuläret har en bilagedel (och bara då); attachmentsAllowed stämmer inte.",
            code="attachments-allowed-mismatch",
        )
    return derived


# ------------------------------------------------------------------ the citizen's answers


@dataclass(frozen=True)
class AnswerError:
    component_id: str
    code: str
    detail: str

    def out(self) -> dict[str, str]:
        return {"componentId": self.component_id, "code": self.code, "detail": self.detail}


def _required(c: Component) -> AnswerError:
    if c.kind == "terms":
        detail = f'Du behöver godkänna "{c.label}".'
    elif c.kind == "attachments":
        detail = f'"{c.label}": bifoga minst en fil.'
    else:
        detail = f'Frågan "{c.label}" måste besvaras.'
    return AnswerError(c.id, "answer-required", detail)


def _invalid(c: Component, why: str) -> AnswerError:
    return AnswerError(c.id, "answer-invalid", f'Svaret på frågan "{c.label}" är inte giltigt: {why}.')


Checked = tuple[Any, AnswerError | None]  # (the value to keep, or None when unanswered; the error, if any)


def _single(c: Component, value: Any) -> Checked:
    if not isinstance(value, str) or value not in [o.id for o in c.options]:
        return None, _invalid(c, "välj ett av svarsalternativen")
    return value, None


def _multi(c: Component, value: Any) -> Checked:
    option_ids = [o.id for o in c.options]
    if not isinstance(value, list) or not all(isinstance(v, str) and v in option_ids for v in value):
        return None, _invalid(c, "välj bland svarsalternativen")
    chosen = set(value)
    return [o for o in option_ids if o in chosen], None  # in the form's order, each once


def _free_text(c: Component, value: Any) -> Checked:
    if not isinstance(value, str):
        return None, _invalid(c, "svaret ska vara text")
    text = value.strip()
    if len(text) > c.limit:
        return None, _invalid(c, f"högst {c.limit} tecken")
    return text, None


def _date(c: Component, value: Any) -> Checked:
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        return None, _invalid(c, "ange ett datum som ÅÅÅÅ-MM-DD")
    try:
        return date.fromisoformat(value).isoformat(), None
    except ValueError:
        return None, _invalid(c, "datumet finns inte")


def _terms(c: Component, value: Any) -> Checked:
    if not isinstance(value, bool):
        return None, _invalid(c, "svara true för att godkänna")
    if not value:
        return None, (_required(c) if c.required else None)
    return True, None


_CHECKS = {"single-choice": _single, "multi-choice": _multi, "free-text": _free_text, "date": _date, "terms": _terms}


def _answer_one(c: Component, value: Any, attachment_ids: Sequence[str]) -> Checked:
    if c.kind == "attachments":  # the files themselves come in `attachmentIds`
        if value is not None and (
            not isinstance(value, list) or not all(isinstance(v, str) and v in attachment_ids for v in value)
        ):
            return None, _invalid(c, "ange filerna i attachmentIds")
        return (list(attachment_ids) or None), (_required(c) if c.required and not attachment_ids else None)
    if value is None or (isinstance(value, str) and not value.strip()) or value == []:
        return None, (_required(c) if c.required else None)
    return _CHECKS[c.kind](c, value)


def check_answers(form: Form, answers: Mapping[str, Any], attachment_ids: Sequence[str]) -> dict[str, Any]:
    """The answers as kept (only answered components), or 422: the first problem in the form's order
    (`code` `answer-required` / `answer-invalid` / `answer-unknown`, a detail naming the question's
    label, `componentId`), with every problem listed in `errors`."""
    known = {c.id for c in form.components}
    kept: dict[str, Any] = {}
    errors: list[AnswerError] = []
    for c in form.components:
        value, error = _answer_one(c, answers.get(c.id), attachment_ids)
        if error:
            errors.append(error)
        elif value is not None:
            kept[c.id] = value
    for unknown in sorted(k for k in answers if k not in known):
        shown = unknown[:64]
        errors.append(AnswerError(shown, "answer-unknown", f'Formuläret har ingen fråga med id "{shown}".'))
    if len(answers) > MAX_ANSWERS:
        errors.append(AnswerError("", "too-many-answers", "För många svar."))
    if errors:
        first = errors[0]
        raise InvalidInput(
            first.detail,
            code=first.code,
            extra={"componentId": first.component_id, "errors": [e.out() for e in errors[:MAX_ANSWERS]]},
        )
    return kept


def answer(form: Form, answers: Mapping[str, Any], attachment_ids: Sequence[str]) -> dict[str, Any]:
    """The snapshot a case keeps (R-50): `{version, components, answers}`."""
    return {
        "version": form.version,
        "components": components_raw(form.components),
        "answers": check_answers(form, answers, attachment_ids),
    }


def answers_view(snapshot: Mapping[str, Any], *, for_staff: bool = True) -> dict[str, Any]:
    """A case's answers as staff and the citizen see them, from the snapshot the case kept: every question
    in the form's order with its label, kind and value (None when unanswered), and the chosen options'
    labels for the choice kinds. The citizen side shows who sent a form by name only (no HSA-id)."""
    form = form_from_raw(int(snapshot.get("version", 0)), snapshot.get("components") or [])
    answers: Mapping[str, Any] = snapshot.get("answers") or {}
    shown: list[dict[str, Any]] = []
    for c in form.components:
        value = answers.get(c.id)
        entry: dict[str, Any] = {"componentId": c.id, "label": c.label, "kind": c.kind, "value": value}
        if c.kind in CHOICE_KINDS and value is not None:
            labels = {o.id: o.label for o in c.options}
            chosen = value if isinstance(value, list) else [value]
            entry["optionLabels"] = [labels.get(v, v) for v in chosen]
        shown.append(entry)
    view: dict[str, Any] = {"version": form.version, "answers": shown}
    if snapshot.get("formId"):  # answers to a form care sent, and who sent it
        sent_by = dict(snapshot.get("sentBy") or {})
        view["formId"] = snapshot["formId"]
        view["sentBy"] = sent_by if for_staff else {"name": sent_by.get("name")}
    return view


def prepare_case(
    form: Form | None,
    *,
    case_type_name: str,
    title: str | None,
    body: str | None,
    answers: Mapping[str, Any] | None,
    attachment_ids: Sequence[str],
) -> tuple[str, str, dict[str, Any] | None]:
    """A citizen's case on a case type: (subject, first message's body, the case's own fields). With a
    form the answers are checked against its current version and kept as a snapshot (`{"form": ...}`),
    the body may be left out and the subject defaults to the case type's name; without one a body is
    needed and answers are refused."""
    if form is None:
        if answers is not None:
            raise InvalidInput("Ärendetypen har inget formulär att besvara.", code="answers-not-expected")
        if not (body or "").strip():
            raise InvalidInput("Skriv ditt meddelande.", code="body-required")
        return (title or case_type_name), str(body), None
    snapshot = answer(form, answers or {}, attachment_ids)
    return (title or case_type_name), (body or ""), {"form": snapshot}
