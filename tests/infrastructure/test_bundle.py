"""The Lambda layer that synth packages holds exactly the hashed lock's pins, built for arm64.

Chalice pip-downloads requirements.txt (the lock) and fetches the arm64 wheels of binary packages in a
second pass; infra/app.py makes pip check both passes against the lock's hashes. A download that fails
that check is left out of the layer (Chalice only warns), so this test is what stops such a synth.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from tests.unit.test_locks import BUNDLE, lock

pytestmark = pytest.mark.infrastructure

_SITE_PACKAGES = "python/lib/python3.12/site-packages/"
_DIST_INFO = re.compile(re.escape(_SITE_PACKAGES) + r"([^/]+)-([^/-]+)\.dist-info/WHEEL$")


@pytest.fixture(scope="module")
def layer(cloud_assembly: Path) -> zipfile.ZipFile:
    layers = []
    for asset in sorted(cloud_assembly.glob("asset.*.zip")):
        archive = zipfile.ZipFile(asset)
        if any(name.startswith(_SITE_PACKAGES) for name in archive.namelist()):
            layers.append(archive)
    assert len(layers) == 1, f"expected one dependency layer, found {len(layers)}"
    return layers[0]


def test_layer_holds_exactly_the_locked_distributions(layer: zipfile.ZipFile) -> None:
    packaged = {}
    for name in layer.namelist():
        match = _DIST_INFO.match(name)
        if match:
            packaged[canonicalize_name(match.group(1))] = match.group(2)
    locked = {name: version for name, (version, _) in lock(BUNDLE[1]).items()}
    assert packaged == locked


def test_binary_wheels_in_the_layer_are_for_arm64_linux(layer: zipfile.ZipFile) -> None:
    tags: dict[str, list[str]] = {}
    for name in layer.namelist():
        match = _DIST_INFO.match(name)
        if match:
            wheel = layer.read(name).decode()
            tags[match.group(1)] = [line.split(": ", 1)[1] for line in wheel.splitlines() if line.startswith("Tag: ")]
    binary = {dist: found for dist, found in tags.items() if any(not tag.endswith("-any") for tag in found)}
    assert {"cryptography", "cffi", "pydantic_core"} <= set(binary)
    for dist, found in binary.items():
        assert all("linux" in tag and tag.endswith("aarch64") for tag in found), (dist, found)
