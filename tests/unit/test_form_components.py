"""R-50: a case type's form (components chosen by the clinic admin) and a citizen's answers to it, as pure
rules; and a citizen's case on such a case type through the case service with in-memory stores. The
DynamoDB Local tests (tests/integration/test_forms.py) cover storage, versions on save, and R-51."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.cases import service
from chalicelib.clinics import components as rules
from chalicelib.clinics.components import Component, Form, Option
from chalicelib.clinics.service import CaseType, Clinic
from chalicelib.core.clock import fixed_clock
from chalicelib.core.errors import InvalidInput
from chalicelib.guardians.service import Subject
from tests.unit.fakes.arrivals import InMemoryArrivals
from tests.unit.fakes.audit import InMemoryAuditLog
from tests.unit.fakes.cases import (
    InMemoryAccounts,
    InMemoryCaseRepository,
    InMemoryClinics,
    RecordingAttachments,
    in_memory_stores,
)
from tests.unit.test_case_service import SARA

DURATION = Component(
    "duration",
    "single-choice",
    "Hur länge har du haft besvären?",
    required=True,
    options=(Option("days", "Några dagar"), Option("weeks", "Några veckor"), Option("months", "Månader")),
)
WHERE = Component(
    "where",
    "multi-choice",
    "Var sitter utslagen?",
    required=False,
    options=(Option("arms", "Armar"), Option("legs", "Ben"), Option("face", "Ansikte")),
)
DESCRIBE = Component("describe", "free-text", "Beskriv besvären", required=False, max_length=20)
SINCE = Component("since", "date", "När började det?", required=False)
PHOTOS = Component("photos", "attachments", "Bifoga bilder", required=False)
TERMS = Component("terms", "terms", "Villkor", required=True, text="Jag vet att svar kan dröja två dagar.")
FORM = Form(3, (DURATION, WHERE, DESCRIBE, SINCE, PHOTOS, TERMS))


def refused(call: Any) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        call()
    return caught.value


# ------------------------------------------------------------------ the clinic admin's definition


def test_a_sensible_form_passes() -> None:
    rules.check_definition(FORM.components)
    rules.check_definition([])  # no form at all


@pytest.mark.parametrize(
    ("components", "code"),
    [
        ([DURATION, Component("duration", "free-text", "Igen", required=False)], "duplicate-component-id"),
        ([Component("x", "single-choice", "Välj", required=True)], "options-required"),
        ([Component("x", "free-text", "Text", required=True, options=(Option("a", "A"),))], "options-not-allowed"),
        (
            [Component("x", "multi-choice", "Välj", required=True, options=(Option("a", "A"), Option("a", "B")))],
            "duplicate-option-id",
        ),
        ([Component("x", "multi-choice", "Välj", required=True, options=(Option("a", " "),))], "invalid-option"),
        ([Component("x", "date", "Datum", required=True, max_length=10)], "invalid-max-length"),
        (
            [Component("x", "free-text", "Text", required=True, max_length=rules.MAX_FREE_TEXT + 1)],
            "invalid-max-length",
        ),
        ([Component("x", "terms", "Villkor", required=True)], "terms-text-required"),
        ([Component("x", "date", "Datum", required=True, text="villkor")], "text-not-allowed"),
        ([PHOTOS, Component("more", "attachments", "Fler filer", required=False)], "duplicate-attachments-component"),
        ([Component("bad id!", "date", "Datum", required=True)], "invalid-component-id"),
        ([Component("x", "date", "   ", required=True)], "invalid-component-label"),
        ([Component(f"q{i}", "date", "Datum", required=False) for i in range(rules.MAX_COMPONENTS + 1)], None),
    ],
)
def test_definitions_that_cannot_be_answered_are_refused(components: list[Component], code: str | None) -> None:
    problem = refused(lambda: rules.check_definition(components))
    assert problem.status == 422
    assert problem.code == (code or "too-many-components")


def test_a_form_too_large_to_keep_with_every_case_is_refused() -> None:
    options = tuple(Option(f"o{i}", "x" * rules.MAX_OPTION_LABEL) for i in range(rules.MAX_OPTIONS))
    huge = [Component(f"q{i}", "single-choice", "Fråga", required=False, options=options) for i in range(10)]
    assert refused(lambda: rules.check_definition(huge)).code == "form-too-large"


def test_the_version_counts_changes_of_the_components_only() -> None:
    assert rules.next_version(FORM, 3, FORM.components) == 3  # saved again unchanged
    changed = (DURATION, Component("describe", "free-text", "Beskriv besvären", required=True))
    assert rules.next_version(FORM, 3, changed) == 4
    assert rules.next_version(FORM, 3, []) == 4  # removed: the number is not reused
    assert rules.next_version(None, 4, [DURATION]) == 5
    assert rules.next_version(None, 0, [DURATION]) == 1


def test_attachments_allowed_follows_the_attachments_component() -> None:
    assert rules.derived_attachments_allowed([DURATION, PHOTOS], None) is True
    assert rules.derived_attachments_allowed([DURATION], None) is False
    assert rules.derived_attachments_allowed([DURATION], False) is False
    assert refused(lambda: rules.derived_attachments_allowed([DURATION], True)).code == "attachments-allowed-mismatch"
    assert refused(lambda: rules.derived_attachments_allowed([PHOTOS], False)).code == "attachments-allowed-mismatch"
    assert FORM.attachments_allowed and not Form(1, (DURATION,)).attachments_allowed


def test_stored_shape_round_trips_in_the_api_shape() -> None:
    raw = rules.components_raw(FORM.components)
    assert raw[0] == {
        "id": "duration",
        "kind": "single-choice",
        "label": "Hur länge har du haft besvären?",
        "required": True,
        "options": [
            {"id": "days", "label": "Några dagar"},
            {"id": "weeks", "label": "Några veckor"},
            {"id": "months", "label": "Månader"},
        ],
    }
    assert raw[2]["maxLength"] == 20 and raw[5]["text"].startswith("Jag vet")
    assert rules.form_from_raw(3, raw) == FORM
    free = Component("free", "free-text", "Fritt", required=False)
    assert rules.component_raw(free)["maxLength"] == rules.DEFAULT_FREE_TEXT


# ------------------------------------------------------------------ the citizen's answers

VALID = {"duration": "weeks", "terms": True}


def test_valid_answers_are_kept_normalised() -> None:
    kept = rules.check_answers(
        FORM,
        {**VALID, "where": ["face", "arms", "face"], "describe": "  Kliar  ", "since": "2026-02-28"},
        ["file-1"],
    )
    assert kept == {
        "duration": "weeks",
        "where": ["arms", "face"],  # the form's order, each once
        "describe": "Kliar",
        "since": "2026-02-28",
        "photos": ["file-1"],
        "terms": True,
    }
    assert rules.check_answers(FORM, {**VALID, "describe": "   ", "where": []}, []) == VALID  # blank = unanswered


def test_a_missing_required_answer_names_the_question() -> None:
    problem = refused(lambda: rules.check_answers(FORM, {"terms": True}, []))
    assert problem.status == 422 and problem.code == "answer-required"
    assert "Hur länge har du haft besvären?" in problem.detail
    assert problem.extra["componentId"] == "duration"


@pytest.mark.parametrize(
    ("answers", "component_id", "code"),
    [
        ({**VALID, "duration": "years"}, "duration", "answer-invalid"),  # not one of the options
        ({**VALID, "duration": ["weeks"]}, "duration", "answer-invalid"),
        ({**VALID, "where": "arms"}, "where", "answer-invalid"),  # multi-choice takes a list
        ({**VALID, "where": ["arms", "tail"]}, "where", "answer-invalid"),
        ({**VALID, "describe": "x" * 21}, "describe", "answer-invalid"),  # over maxLength
        ({**VALID, "describe": 12}, "describe", "answer-invalid"),
        ({**VALID, "since": "28/2/2026"}, "since", "answer-invalid"),
        ({**VALID, "since": "2026-02-30"}, "since", "answer-invalid"),  # no such day
        ({**VALID, "terms": False}, "terms", "answer-required"),  # required terms must be accepted
        ({**VALID, "terms": "yes"}, "terms", "answer-invalid"),
        ({**VALID, "photos": ["not-sent"]}, "photos", "answer-invalid"),
        ({**VALID, "nonsense": "x"}, "nonsense", "answer-unknown"),
    ],
)
def test_invalid_answers_are_refused_naming_the_question(answers: dict[str, Any], component_id: str, code: str) -> None:
    problem = refused(lambda: rules.check_answers(FORM, answers, []))
    assert (problem.code, problem.extra["componentId"]) == (code, component_id)
    label = next((c.label for c in FORM.components if c.id == component_id), component_id)
    assert label in problem.detail


def test_every_problem_is_listed_the_first_in_form_order_leads() -> None:
    problem = refused(lambda: rules.check_answers(FORM, {"since": "igår", "extra": 1}, []))
    assert problem.code == "answer-required" and problem.extra["componentId"] == "duration"
    assert [(e["componentId"], e["code"]) for e in problem.extra["errors"]] == [
        ("duration", "answer-required"),
        ("since", "answer-invalid"),
        ("terms", "answer-required"),
        ("extra", "answer-unknown"),
    ]


def test_a_required_attachments_component_needs_a_file() -> None:
    form = Form(1, (Component("photos", "attachments", "Bifoga bilder", required=True),))
    problem = refused(lambda: rules.check_answers(form, {}, []))
    assert problem.code == "answer-required" and "Bifoga bilder" in problem.detail
    assert rules.check_answers(form, {}, ["a", "b"]) == {"photos": ["a", "b"]}


def test_the_view_shows_the_snapshot_with_option_labels_not_the_current_form() -> None:
    snapshot = rules.answer(FORM, {**VALID, "where": ["legs"]}, [])
    view = rules.answers_view(snapshot)
    assert view["version"] == 3
    assert [a["componentId"] for a in view["answers"]] == ["duration", "where", "describe", "since", "photos", "terms"]
    first = view["answers"][0]
    assert first == {
        "componentId": "duration",
        "label": "Hur länge har du haft besvären?",
        "kind": "single-choice",
        "value": "weeks",
        "optionLabels": ["Några veckor"],
    }
    assert view["answers"][1]["optionLabels"] == ["Ben"] and view["answers"][2]["value"] is None
    sent = {**snapshot, "formId": "f1", "sentBy": {"hsaId": "HSA-1", "name": "Eva"}}
    assert rules.answers_view(sent)["sentBy"] == {"hsaId": "HSA-1", "name": "Eva"}
    assert rules.answers_view(sent, for_staff=False)["sentBy"] == {"name": "Eva"}  # the citizen sees no HSA-id


def test_prepare_case_without_a_form_needs_a_body_and_takes_no_answers() -> None:
    common: dict[str, Any] = {"case_type_name": "Fråga", "attachment_ids": []}
    assert rules.prepare_case(None, title="Utslag", body="Hej", answers=None, **common) == ("Utslag", "Hej", None)
    assert refused(lambda: rules.prepare_case(None, title="x", body=None, answers=None, **common)).code == (
        "body-required"
    )
    problem = refused(lambda: rules.prepare_case(None, title="x", body="Hej", answers={"a": "b"}, **common))
    assert problem.code == "answers-not-expected"
    title, body, extra = rules.prepare_case(FORM, title=None, body=None, answers=VALID, **common)
    assert (title, body) == ("Fråga", "") and extra is not None and extra["form"]["version"] == 3


# ------------------------------------------------------------------ the case service with a form

CLINIC = "SE2321000016-CLINIC"
MONDAY_10 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _stores(form: Form) -> tuple[Any, InMemoryCaseRepository, RecordingAttachments]:
    repo, attachments = InMemoryCaseRepository(), RecordingAttachments()
    clinic = Clinic(
        CLINIC,
        "Hudmottagningen",
        "Region Test",
        (CaseType("hud", "Hudbesvär", form.attachments_allowed, True, form=form, form_version=form.version),),
    )
    stores = in_memory_stores(
        cases=repo,
        arrivals=InMemoryArrivals(),
        attachments=attachments,
        clinics=InMemoryClinics(clinic),
        accounts=InMemoryAccounts(SARA),
        access_log=InMemoryAuditLog(),
    )
    return stores, repo, attachments


def _start(stores: Any, answers: dict[str, Any] | None, files: list[str] | None = None) -> str:
    me = Subject(SARA.citizen_id, SARA, proxy=False, actor_citizen_id=SARA.citizen_id)
    return service.start_case(
        me,
        clinic_id=CLINIC,
        case_type_id="hud",
        title=None,
        body=None,
        attachment_ids=files or [],
        idempotency_key=None,
        clock=fixed_clock(MONDAY_10),
        stores=stores,
        answers=answers,
    ).id


def test_a_form_case_keeps_its_version_components_and_answers() -> None:
    stores, repo, attachments = _stores(FORM)
    case_id = _start(stores, {**VALID, "describe": "Kliar"}, files=["file-1"])
    case = repo.cases[case_id]
    assert case["subject"] == "Hudbesvär"  # defaults to the case type's name
    assert case["form"]["version"] == 3
    assert case["form"]["components"] == rules.components_raw(FORM.components)
    assert case["form"]["answers"] == {"duration": "weeks", "describe": "Kliar", "photos": ["file-1"], "terms": True}
    assert [b[0] for b in attachments.bound] == ["file-1"]  # the attachments component allows files
    view = service.citizen_view(
        Subject(SARA.citizen_id, SARA, proxy=False, actor_citizen_id=SARA.citizen_id),
        case_id,
        clock=fixed_clock(MONDAY_10),
        stores=stores,
    )
    assert view["form"]["answers"][0]["optionLabels"] == ["Några veckor"]


def test_a_form_case_missing_a_required_answer_writes_nothing() -> None:
    stores, repo, _ = _stores(FORM)
    problem = refused(lambda: _start(stores, {"terms": True}))
    assert problem.code == "answer-required" and problem.extra["componentId"] == "duration"
    assert repo.cases == {}


def test_without_an_attachments_component_files_are_refused() -> None:
    stores, repo, _ = _stores(Form(1, (DURATION,)))
    problem = refused(lambda: _start(stores, {"duration": "days"}, files=["file-1"]))
    assert problem.code == "attachments-not-allowed" and repo.cases == {}
