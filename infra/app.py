"""CDK entry point. From infra/: `npx aws-cdk@2 deploy -c stage=prod` (README.md).

Also runnable as `python infra/app.py` (the tests do): cdk.json's context is loaded here too, so a
direct run synthesizes with the same feature flags and defaults as the CLI.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

INFRA_DIR = Path(__file__).resolve().parent
REPO_ROOT = INFRA_DIR.parent
# The repo root goes first: `infra.*` resolves, and the `import app` that Chalice's packaging does
# finds the Lambda app.py at the root, never this file (whose directory Python put on the path).
sys.path[:] = [str(REPO_ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != INFRA_DIR]

import aws_cdk as cdk  # noqa: E402

from infra.stack import (  # noqa: E402
    API_THROTTLE,
    AUTH_START_THROTTLE,
    DEFAULT_BANKID_API_URL,
    WAF_AUTH_RATE_LIMIT,
    WAF_AUTH_START_RATE_LIMIT,
    EServicesStack,
    Throttle,
)


def main() -> None:
    # The Lambda layer is pip-downloaded from requirements.txt, a hashed lock. Chalice fetches the arm64
    # wheels of binary packages (cryptography, cffi, pydantic-core) in a second pass by `name==version`
    # alone; with the lock as the constraint and hashes required, pip checks those downloads as well.
    os.environ["PIP_REQUIRE_HASHES"] = "1"
    os.environ["PIP_CONSTRAINT"] = str(REPO_ROOT / "requirements.txt")
    context = json.loads((INFRA_DIR / "cdk.json").read_text())["context"]
    # Values given with -c (or CDK_CONTEXT_JSON) take precedence over these.
    app = cdk.App(context=context)

    def ctx(key: str, default: str = "") -> str:
        value = app.node.try_get_context(key)
        return default if value is None else str(value)

    stage = ctx("stage", "dev")
    stack = EServicesStack(
        app,
        f"e-services-{stage}",
        stage=stage,
        bankid_api_url=ctx("bankidApiUrl", DEFAULT_BANKID_API_URL),
        # Empty (cdk.json): Freja's production environment for stage=prod, its test environment otherwise.
        freja_api_url=ctx("frejaApiUrl") or None,
        population_register_url=ctx("populationRegisterUrl"),
        alarm_email=ctx("alarmEmail") or None,
        # The API edge (README "API edge"): WAF limits per client IP per 5 minutes, stage throttling.
        waf_auth_rate_limit=int(ctx("wafAuthRateLimit", str(WAF_AUTH_RATE_LIMIT))),
        waf_auth_start_rate_limit=int(ctx("wafAuthStartRateLimit", str(WAF_AUTH_START_RATE_LIMIT))),
        api_throttle=Throttle(
            rate_per_s=float(ctx("apiThrottleRate", str(API_THROTTLE.rate_per_s))),
            burst=int(ctx("apiThrottleBurst", str(API_THROTTLE.burst))),
        ),
        auth_start_throttle=Throttle(
            rate_per_s=float(ctx("authStartThrottleRate", str(AUTH_START_THROTTLE.rate_per_s))),
            burst=int(ctx("authStartThrottleBurst", str(AUTH_START_THROTTLE.burst))),
        ),
        # Pinned region: patient data must not land wherever a default profile points.
        env=cdk.Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=ctx("region", "eu-north-1")),
        termination_protection=stage == "prod",
        description=f"e-services ({stage}): 1177-style patient e-services backend",
    )
    # For cost allocation and for finding everything of one stage in the console.
    cdk.Tags.of(stack).add("app", "e-services")
    cdk.Tags.of(stack).add("stage", stage)
    app.synth()


if __name__ == "__main__":
    main()
