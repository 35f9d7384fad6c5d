"""The hashed locks (`make lock`) agree with their human-edited inputs.

requirements.txt is the Lambda bundle's lock (Chalice packages the layer from it), requirements-dev.txt
the development lock (dev + infra + the bundle) that `make deps` installs with --require-hashes.
"""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, requires
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support import ROOT

BUNDLE = (ROOT / "requirements.in", ROOT / "requirements.txt")
DEVELOPMENT = (ROOT / "requirements-dev.in", ROOT / "requirements-dev.txt")
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


def inputs(path: Path) -> list[Requirement]:
    """Top-level requirements of an input, following its `-r` includes (not its `-c` constraints)."""
    found: list[Requirement] = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#") or line.startswith("-c "):
            continue
        if line.startswith("-r "):
            found += inputs(path.parent / line[3:].strip())
            continue
        assert not line.startswith("-"), f"{path.name}: unexpected option {line!r}"
        found.append(Requirement(line))
    return found


def lock(path: Path) -> dict[str, tuple[str, int]]:
    """name → (version, number of --hash options) for every entry of a lock."""
    entries: dict[str, tuple[str, int]] = {}
    text = path.read_text(encoding="utf-8").replace("\\\n", " ")
    for line in text.splitlines():
        match = _PIN.match(line)
        if match:
            name = canonicalize_name(match.group(1))
            assert name not in entries, f"{path.name}: {name} twice"
            entries[name] = (match.group(2), line.count("--hash=sha256:"))
    return entries


@pytest.mark.parametrize("source, locked", [BUNDLE, DEVELOPMENT], ids=["bundle", "development"])
def test_every_input_is_pinned_in_its_lock_with_a_hash(source: Path, locked: Path) -> None:
    entries = lock(locked)
    assert entries, f"{locked.name} pins nothing"
    for name, (version, hashes) in entries.items():
        assert hashes >= 1, f"{locked.name}: {name}=={version} has no --hash"
    for requirement in inputs(source):
        name = canonicalize_name(requirement.name)
        assert name in entries, f"{requirement} is in {source.name} but not in {locked.name}: run `make lock`"
        version = entries[name][0]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{locked.name} pins {name}=={version}, outside {source.name}'s {requirement}: run `make lock`"
        )


@pytest.mark.parametrize("source, locked", [BUNDLE, DEVELOPMENT], ids=["bundle", "development"])
def test_requested_extras_are_in_the_lock(source: Path, locked: Path) -> None:
    """e.g. PyJWT[crypto] brings cryptography: the lock holds what each requested extra adds."""
    entries = lock(locked)
    added: set[str] = set()
    for requirement in inputs(source):
        try:
            declared = [Requirement(line) for line in requires(requirement.name) or []]
        except PackageNotFoundError:  # not installed here, so its metadata cannot be read offline
            continue
        for dependency in declared:
            marker = dependency.marker
            if marker is None or marker.evaluate({"extra": ""}):
                continue  # not brought by an extra
            if any(marker.evaluate({"extra": extra}) for extra in requirement.extras):
                added.add(canonicalize_name(dependency.name))
    assert added - set(entries) == set()
    if source == BUNDLE[0]:
        assert "cryptography" in added


def test_development_runs_exactly_the_versions_the_bundle_ships() -> None:
    bundle, development = lock(BUNDLE[1]), lock(DEVELOPMENT[1])
    assert {name: version for name, (version, _) in bundle.items()} == {
        name: development[name][0] for name in bundle if name in development
    }
    assert set(bundle) <= set(development)


def test_every_requirements_file_is_a_generated_lock_beside_its_input() -> None:
    """A hand-written requirements*.txt would be installed unhashed or packaged unpinned."""
    ignored = {".venv", ".local", "cdk.out", ".chalice", "node_modules"}
    found = [p for p in ROOT.rglob("requirements*.txt") if not ignored & set(p.relative_to(ROOT).parts)]
    assert sorted(found) == sorted([BUNDLE[1], DEVELOPMENT[1]]), "inputs are *.in; `make lock` writes the locks"
    for locked in found:
        assert locked.with_suffix(".in").exists()
        assert "#    make lock" in locked.read_text(encoding="utf-8").splitlines()[1]
