"""docs/openapi.json is clean under Spectral's `spectral:oas` and Redocly's `recommended` rules.

Both CLIs come from npm (`make deps` installs them, pinned, into .local/npm); the rule sets and the one
switched-off rule, with its reason, are in .spectral.yaml and redocly.yaml at the project root.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support import ROOT

PUBLISHED = ROOT / "docs" / "openapi.json"
BIN = ROOT / ".local" / "npm" / "node_modules" / ".bin"
# Offline and quiet: no usage telemetry, no update check.
ENV = {**os.environ, "REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true", "NO_UPDATE_NOTIFIER": "1"}


def _cli(name: str) -> str:
    path = BIN / name
    assert path.exists(), f"{path} is missing: run `make deps`"
    return str(path)


def spectral(document: Path, tmp_path: Path) -> list[tuple[str, str]]:
    """(rule, severity) of every finding."""
    report = tmp_path / "spectral.json"
    command = [_cli("spectral"), "lint", str(document), "--ruleset", str(ROOT / ".spectral.yaml")]
    command += ["--format", "json", "--output", str(report), "--fail-severity", "error"]
    result = subprocess.run(command, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=120, check=False)
    assert report.exists(), result.stdout + result.stderr
    severities = {0: "error", 1: "warning", 2: "info", 3: "hint"}
    return [(finding["code"], severities[finding["severity"]]) for finding in json.loads(report.read_text())]


def redocly(document: Path) -> list[tuple[str, str]]:
    command = [_cli("redocly"), "lint", str(document), "--config", str(ROOT / "redocly.yaml"), "--format", "json"]
    result = subprocess.run(command, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=120, check=False)
    assert result.stdout.lstrip().startswith("{"), result.stdout + result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return [(problem["ruleId"], problem["severity"]) for problem in report["problems"]]


def test_spectral_finds_nothing(tmp_path: Path) -> None:
    assert spectral(PUBLISHED, tmp_path) == []


def test_redocly_finds_nothing() -> None:
    assert redocly(PUBLISHED) == []


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    """The published document with two operations sharing an operationId and a public one unmarked."""
    document = json.loads(PUBLISHED.read_text(encoding="utf-8"))
    doubled = copy.deepcopy(document["paths"]["/auth/bankid/start"]["post"])
    document["paths"]["/auth/bankid/collect"]["post"]["operationId"] = doubled["operationId"]
    del document["paths"]["/auth/bankid/start"]["post"]["security"]
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_the_linters_do_report_a_broken_document(broken: Path, tmp_path: Path) -> None:
    assert ("operation-operationId-unique", "error") in spectral(broken, tmp_path)
    found = redocly(broken)
    assert ("operation-operationId-unique", "error") in found
    assert ("security-defined", "error") in found
