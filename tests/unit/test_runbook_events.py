"""The ready test events in docs/runbooks/events/ are valid events for their functions."""

import json

import pytest

from chalicelib.admin import schemas as models
from tests.support import ROOT

EVENTS = {
    "lock-account.json": models.LockAccountEvent,
    "unlock-account.json": models.UnlockAccountEvent,
    "record-unlock-decision.json": models.UnlockDecisionEvent,
    "seal-record.json": models.SealRecordEvent,
    "change-settings.json": models.ChangeSettingsEvent,
}


@pytest.mark.parametrize(("name", "model"), EVENTS.items())
def test_runbook_event_validates(name, model):
    event = json.loads((ROOT / "docs" / "runbooks" / "events" / name).read_text(encoding="utf-8"))
    parsed = model.model_validate(event)
    assert parsed.ticket_ref and parsed.actor


def test_every_event_file_is_covered():
    assert {p.name for p in (ROOT / "docs" / "runbooks" / "events").glob("*.json")} == set(EVENTS)
