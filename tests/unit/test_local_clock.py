"""The local stack's movable clock (`python -m local clock set`): honoured on the local stage only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chalicelib.core import process
from chalicelib.core.clock import system_clock


@pytest.fixture
def clock_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "clock.json"
    monkeypatch.setenv("STAGE", "local")
    monkeypatch.setenv("LOCAL_CLOCK_FILE", str(path))
    process.reset()
    yield path
    monkeypatch.undo()
    process.reset()


def _set(path: Path, offset_s: float) -> None:
    path.write_text(json.dumps({"offsetSeconds": offset_s}), encoding="utf-8")


def test_without_a_clock_set_it_is_real_time(clock_file: Path) -> None:
    assert abs(system_clock() - datetime.now(UTC)) < timedelta(seconds=1)


def test_a_set_clock_moves_every_reading_and_keeps_ticking(clock_file: Path) -> None:
    _set(clock_file, 86_400.0)
    first = system_clock()
    assert abs(first - (datetime.now(UTC) + timedelta(days=1))) < timedelta(seconds=1)
    assert system_clock() >= first
    _set(clock_file, -3600.5)  # a new setting is seen at once (the file changed)
    assert abs(system_clock() - (datetime.now(UTC) - timedelta(hours=1))) < timedelta(seconds=1)


def test_a_reset_clock_is_real_time_again(clock_file: Path) -> None:
    _set(clock_file, 86_400.0)
    clock_file.unlink()
    assert abs(system_clock() - datetime.now(UTC)) < timedelta(seconds=1)


def test_a_broken_file_means_real_time_not_a_wrong_one(clock_file: Path) -> None:
    clock_file.write_text("{half", encoding="utf-8")
    assert abs(system_clock() - datetime.now(UTC)) < timedelta(seconds=1)


def test_never_outside_the_local_stage(clock_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _set(clock_file, 86_400.0)
    monkeypatch.setenv("STAGE", "prod")
    process.reset()
    assert abs(system_clock() - datetime.now(UTC)) < timedelta(seconds=1)
