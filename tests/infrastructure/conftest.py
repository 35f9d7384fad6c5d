"""Synthesizes the real CDK app once per session, the way `cdk synth` does: `python infra/app.py`.

A subprocess keeps `chalice package`'s side effects (it imports app.py and copies the stage's
environment variables into os.environ) out of the test process, where unit tests import app.py too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # `infra` is imported by the tests
    sys.path.insert(0, str(REPO_ROOT))

CDK_CONTEXT = json.loads((REPO_ROOT / "infra" / "cdk.json").read_text())["context"]
STAGE = CDK_CONTEXT["stage"]  # the synth below uses cdk.json's defaults
STACK_NAME = f"e-services-{STAGE}"
# Under pytest-timeout's 300 s. A cold run (fresh clone) pip-downloads the Lambda wheels once into
# .chalice/deployments (~15 s here); warm runs reuse them.
SYNTH_TIMEOUT_S = 280


@pytest.fixture(scope="session")
def cloud_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cdk.out")
    # CDK_* variables come from the CLI (account, extra context); without them cdk.json decides.
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDK_")}
    env["CDK_OUTDIR"] = str(out)
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "infra" / "app.py")],
        cwd=REPO_ROOT / "infra",
        env=env,
        capture_output=True,
        text=True,
        timeout=SYNTH_TIMEOUT_S,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"synth failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return out


@pytest.fixture(scope="session")
def template_dict(cloud_assembly: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((cloud_assembly / f"{STACK_NAME}.template.json").read_text())
    return loaded
