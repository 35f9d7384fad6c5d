"""The local pump's Scheduler runs the registry's schedules as EventBridge Scheduler does in
Europe/Stockholm: an evening window every few minutes, its morning catch-up, on the local clock; after a
restart or a jump of the clock only the latest due slot of each schedule, never a flood of past ones."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from infra import definitions
from infra.functions import FUNCTIONS, Evenings, Function, schedules
from local import pump

# As the registry declares release_notices: 18:00-23:55 every 5 minutes, catch-up at 06:30.
EVENINGS = schedules(
    (Function("release", Evenings(from_hour=18, every_minutes=5, catch_up_hour=6, catch_up_minute=30)),)
)


class Calls:
    def __init__(self) -> None:
        self.times: list[str] = []
        self.schedules: list[str] = []

    def __call__(self, event: dict[str, Any], context: Any) -> None:
        self.times.append(event["time"])
        self.schedules.append(event["resources"][0].rsplit("/", 1)[1])


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def scheduler(calls: Calls, state: Path | None = None, **kwargs: Any) -> pump.Scheduler:
    return pump.Scheduler(EVENINGS, {"release": calls}, state, **kwargs)


def test_the_registry_gives_release_notices_an_evening_window_and_a_catch_up() -> None:
    evening, catch_up = (s for s in pump.SCHEDULES if s.function == "release_notices")
    assert (evening.every_minutes, evening.from_hour) == (5, 18)
    assert (catch_up.name, catch_up.hour, catch_up.minute) == ("release_notices-catch-up", 6, 30)
    assert FUNCTIONS["release_notices"].trigger == Evenings(
        from_hour=18, every_minutes=5, catch_up_hour=6, catch_up_minute=30
    )


@pytest.mark.parametrize(
    ("opens_utc", "season"),
    [(utc(2026, 11, 23, 17, 0), "winter: 18:00 CET is 17:00 UTC"), (utc(2027, 6, 1, 16, 0), "summer: 16:00 UTC")],
)
def test_the_window_opens_at_1800_stockholm_time(opens_utc: datetime, season: str) -> None:
    calls = Calls()
    runs = scheduler(calls)
    runs.last_run["release"] = (opens_utc - timedelta(hours=18, minutes=5)).isoformat()  # last evening's 23:55
    runs.last_run["release-catch-up"] = opens_utc.astimezone(pump.STOCKHOLM).date().isoformat()
    assert runs.tick(opens_utc - timedelta(minutes=1)) == 0, season  # 17:59: nothing new
    assert runs.tick(opens_utc) == 1, season
    assert calls.times == [opens_utc.strftime("%Y-%m-%dT%H:%M:%SZ")]
    assert runs.tick(opens_utc + timedelta(minutes=4, seconds=59)) == 0  # the same slot
    assert runs.tick(opens_utc + timedelta(minutes=5)) == 1  # 18:05
    assert calls.times[-1] == (opens_utc + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_every_slot_until_2355_then_nothing_until_the_catch_up_at_0630() -> None:
    calls = Calls()
    runs = scheduler(calls)
    runs.adopt_new_schedules(utc(2026, 11, 23, 12, 0))  # 13:00 CET: before the window
    now = utc(2026, 11, 23, 12, 0)
    while now < utc(2026, 11, 24, 8, 0):  # a tick a minute until 09:00 the next day
        runs.tick(now)
        now += timedelta(minutes=1)
    evening = [t for t, s in zip(calls.times, calls.schedules, strict=True) if s == "release"]
    assert len(evening) == 72  # 18:00, 18:05, ... 23:55
    assert (evening[0], evening[-1]) == ("2026-11-23T17:00:00Z", "2026-11-23T22:55:00Z")
    catch_up = [t for t, s in zip(calls.times, calls.schedules, strict=True) if s == "release-catch-up"]
    assert catch_up == ["2026-11-24T05:30:00Z"]  # 06:30 CET, once


def test_a_restart_at_1907_runs_the_latest_slot_once_not_the_thirteen_it_missed(tmp_path: Path) -> None:
    state = tmp_path / "schedules.json"
    calls = Calls()
    first = scheduler(calls, state)
    first.adopt_new_schedules(utc(2026, 11, 23, 16, 0))
    assert first.tick(utc(2026, 11, 23, 16, 55)) == 0  # 17:55: the window has not opened
    # The pump is down from 17:56 to 19:07 (CET): 18:00 ... 19:05 were thirteen slots.
    back = scheduler(calls, state)
    back.adopt_new_schedules(utc(2026, 11, 23, 18, 7))
    assert back.tick(utc(2026, 11, 23, 18, 7)) == 1
    assert calls.times == ["2026-11-23T18:05:00Z"]  # 19:05 CET, whose run covers everything due by then
    assert scheduler(calls, state).tick(utc(2026, 11, 23, 18, 9)) == 0  # kept across restarts
    assert json.loads(state.read_text())["release"] == "2026-11-23T18:05:00+00:00"


def test_a_clock_jump_runs_only_the_latest_slot_of_each_schedule() -> None:
    calls = Calls()
    runs = scheduler(calls)
    runs.adopt_new_schedules(utc(2026, 11, 23, 10, 0))
    assert runs.tick(utc(2026, 11, 23, 10, 0)) == 0
    # `clock set` to 20:42 CET two days later: one evening slot and one catch-up, not hundreds.
    assert runs.tick(utc(2026, 11, 25, 19, 42)) == 2
    assert sorted(zip(calls.schedules, calls.times, strict=True)) == [
        ("release", "2026-11-25T19:40:00Z"),
        ("release-catch-up", "2026-11-25T05:30:00Z"),
    ]


def test_a_restart_in_the_night_runs_last_evenings_missed_slot_once(tmp_path: Path) -> None:
    state = tmp_path / "schedules.json"
    calls = Calls()
    runs = scheduler(calls, state)
    runs.adopt_new_schedules(utc(2026, 11, 23, 21, 0))  # 22:00 CET, inside the window: runs at once
    assert runs.tick(utc(2026, 11, 23, 21, 0)) == 1
    # Down from 22:01 to 02:00: the slots until 23:55 were missed; the latest runs when the pump is back.
    assert scheduler(calls, state).tick(utc(2026, 11, 24, 1, 0)) == 1
    assert calls.times == ["2026-11-23T21:00:00Z", "2026-11-23T22:55:00Z"]


def test_a_new_window_schedule_outside_its_window_waits_for_the_evening() -> None:
    calls = Calls()
    runs = scheduler(calls)
    runs.adopt_new_schedules(utc(2026, 11, 23, 9, 0))  # 10:00 CET, after the catch-up: both counted as run
    assert runs.tick(utc(2026, 11, 23, 9, 0)) == 0
    assert runs.tick(utc(2026, 11, 23, 16, 59)) == 0
    assert runs.tick(utc(2026, 11, 23, 17, 0)) == 1


def test_the_catch_up_runs_on_the_day_daylight_saving_ends() -> None:
    """2026-10-25: 03:00 CEST became 02:00 CET; 06:30 that morning is 05:30 UTC, 18:00 is 17:00 UTC."""
    calls = Calls()
    runs = scheduler(calls)
    runs.last_run.update({"release": "2026-10-24T21:55:00+00:00", "release-catch-up": "2026-10-24"})
    assert runs.tick(utc(2026, 10, 25, 5, 29)) == 0
    assert runs.tick(utc(2026, 10, 25, 5, 30)) == 1
    assert runs.tick(utc(2026, 10, 25, 16, 59)) == 0
    assert runs.tick(utc(2026, 10, 25, 17, 0)) == 1
    assert calls.times == ["2026-10-25T05:30:00Z", "2026-10-25T17:00:00Z"]


def test_now_is_the_local_clock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`python -m local clock set` moves what the pump calls now (STAGE=local and LOCAL_CLOCK_FILE, as the
    stack's environment gives the pump process)."""
    from chalicelib.core import process

    clock = tmp_path / "clock.json"
    monkeypatch.setenv("STAGE", "local")
    monkeypatch.setenv("LOCAL_CLOCK_FILE", str(clock))
    process.reset()
    target = utc(2026, 12, 1, 17, 0, 30)  # 18:00:30 CET
    clock.write_text(json.dumps({"offsetSeconds": (target - datetime.now(UTC)).total_seconds()}), encoding="utf-8")
    calls = Calls()
    runs = scheduler(calls)  # the default clock: chalicelib.core.clock.system_clock
    runs.last_run.update({"release": "2026-11-30T22:55:00+00:00", "release-catch-up": "2026-12-01"})
    assert runs.tick() == 1
    assert calls.times == ["2026-12-01T17:00:00Z"]
    monkeypatch.undo()
    process.reset()


def test_the_latest_slot_of_a_window() -> None:
    (window, _) = EVENINGS
    assert pump.latest_window_slot(window, utc(2026, 11, 23, 18, 7)) == utc(2026, 11, 23, 18, 5)
    assert pump.latest_window_slot(window, utc(2026, 11, 23, 16, 59)) == utc(2026, 11, 22, 22, 55)
    assert pump.latest_window_slot(window, utc(2026, 11, 23, 22, 59, 59)) == utc(2026, 11, 23, 22, 55)
    assert pump.latest_window_slot(window, utc(2026, 11, 23, 23, 0)) == utc(2026, 11, 23, 22, 55)  # 00:00 CET
    with pytest.raises(ValueError):
        pump.latest_window_slot(definitions.Schedule("daily", hour=7), utc(2026, 11, 23, 12, 0))
