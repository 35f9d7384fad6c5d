"""Freja eID (issue 12) in the synthesized stack: the Freja secret (a placeholder operators fill from Freja's
onboarding: the mTLS client certificate and key, Freja's two signing certificates), encrypted, retained and
output; only api_handler may read it; every function gets its ARN and the stage's Freja environment; cdk-nag
accepts only the rotation findings, with a reason (Freja issues the certificates)."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from chalicelib.core.config import DEFAULT_FREJA_URL
from infra.functions import FREJA_ARN_VAR, FUNCTIONS
from infra.nag import METADATA_KEY, template_findings
from infra.nag_suppressions import SUPPRESSIONS
from infra.parts.data import FREJA_SIGNING_CERTIFICATES
from infra.stack import FREJA_PROD_API_URL, FREJA_TEST_API_URL, default_freja_api_url

from .conftest import CDK_CONTEXT, REPO_ROOT, SYNTH_TIMEOUT_S
from .test_stack import STAGE, _role_statements, as_list, function_named, render, resources, statements

pytestmark = pytest.mark.infrastructure

READERS = {"api_handler"}  # the only function that may read the Freja secret
PLACEHOLDER = {"clientCertificate": "", "clientKey": "", "trustedCertificates": ["", ""]}
ROTATION_RULES = {"AwsSolutions-SMG4", "HIPAA.Security-SecretsManagerRotationEnabled"}


def _secret(t: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    (found,) = [
        (k, s)
        for k, s in resources(t, "AWS::SecretsManager::Secret").items()
        if s["Properties"]["Name"] == f"e-services/{STAGE}/freja"
    ]
    return found


def _secrets_read(t: dict[str, Any], name: str) -> list[Any]:
    return [
        resource
        for s in _role_statements(t, name)
        if s["Effect"] == "Allow" and "secretsmanager:GetSecretValue" in as_list(s["Action"])
        for resource in as_list(s["Resource"])
    ]


# --- the secret -----------------------------------------------------------------------------------


def test_the_freja_secret_is_an_encrypted_retained_placeholder(template_dict: dict[str, Any]) -> None:
    secret_id, secret = _secret(template_dict)
    props = secret["Properties"]
    assert secret_id.startswith("DataFrejaSecret")
    assert secret["DeletionPolicy"] == secret["UpdateReplacePolicy"] == "Retain"
    data_key = next(k for k in resources(template_dict, "AWS::KMS::Key") if k.startswith("DataDataKey"))
    assert props["KmsKeyId"] == {"Fn::GetAtt": [data_key, "Arn"]}
    # The shape chalicelib/auth/freja.py reads, with nothing in it: the operator fills it (README). Two
    # signing certificates per Freja environment, for rotation.
    assert json.loads(props["SecretString"]) == PLACEHOLDER
    assert FREJA_SIGNING_CERTIFICATES == len(PLACEHOLDER["trustedCertificates"]) == 2
    assert "GenerateSecretString" not in props
    for key in PLACEHOLDER:
        assert key in props["Description"]
    assert "api_handler" in props["Description"]
    assert template_dict["Outputs"]["FrejaSecretArn"]["Value"] == {"Ref": secret_id}
    # No resource policy widens who may read it: the roles decide.
    assert not [
        p
        for p in resources(template_dict, "AWS::SecretsManager::ResourcePolicy").values()
        if p["Properties"]["SecretId"] == {"Ref": secret_id}
    ]
    assert not [r for r in resources(template_dict, "AWS::SecretsManager::RotationSchedule").values()]


def test_the_placeholder_is_a_configuration_error_not_a_login(monkeypatch: pytest.MonkeyPatch) -> None:
    """Until the operator fills it, the client refuses to start (and never trusts an empty certificate list)."""
    from chalicelib.auth import freja
    from chalicelib.core import process
    from chalicelib.core.errors import ConfigurationError

    monkeypatch.setenv("MAIN_TABLE", "main")
    monkeypatch.setenv("AUDIT_TABLE", "audit")
    monkeypatch.setenv(FREJA_ARN_VAR, "arn:aws:secretsmanager:eu-north-1:123456789012:secret:e-services/dev/freja")
    monkeypatch.setenv("FREJA_API_URL", FREJA_TEST_API_URL)
    monkeypatch.delenv("FREJA_TRUSTED_CERTS_PATH", raising=False)
    monkeypatch.setattr(freja, "_secret", lambda: copy.deepcopy(PLACEHOLDER))
    process.reset()
    try:
        with pytest.raises(ConfigurationError, match="Freja eID"):
            freja.freja_client()
    finally:
        process.reset()


# --- who may read it ------------------------------------------------------------------------------


def test_only_the_api_may_read_the_freja_secret(template_dict: dict[str, Any]) -> None:
    secret_id, _ = _secret(template_dict)
    readers = {name for name in FUNCTIONS if {"Ref": secret_id} in _secrets_read(template_dict, name)}
    assert readers == READERS
    assert {name for name, f in FUNCTIONS.items() if FREJA_ARN_VAR in f.secrets} == READERS
    # The statement that names it allows GetSecretValue only, on named secrets only (no wildcard).
    naming = [s for s in _role_statements(template_dict, "api_handler") if {"Ref": secret_id} in as_list(s["Resource"])]
    assert naming
    for statement in naming:
        assert statement["Effect"] == "Allow"
        assert as_list(statement["Action"]) == ["secretsmanager:GetSecretValue"]
        assert all(isinstance(r, dict) and set(r) == {"Ref"} for r in as_list(statement["Resource"]))
    # Nothing else in the stack mentions the secret in a permission, and no wildcard reaches it.
    for statement in statements(template_dict["Resources"]):
        if statement in naming:
            continue
        actions = [a for a in as_list(statement.get("Action", [])) if isinstance(a, str)]
        if any(a.startswith("secretsmanager:") for a in actions):
            assert actions == ["secretsmanager:GetSecretValue"], statement
            assert "*" not in json.dumps(statement["Resource"]), statement
            assert {"Ref": secret_id} not in as_list(statement["Resource"]), statement


def test_every_function_gets_the_freja_secrets_arn_and_the_stages_freja_environment(
    template_dict: dict[str, Any],
) -> None:
    secret_id, _ = _secret(template_dict)
    for name in FUNCTIONS:
        env = function_named(template_dict, name)["Properties"]["Environment"]["Variables"]
        assert env[FREJA_ARN_VAR] == {"Ref": secret_id}, name  # like every secret's ARN; the role decides
        assert env["FREJA_API_URL"] == FREJA_TEST_API_URL, name  # cdk.json's stage (dev) is a test stage
    api = {render(r) for r in _secrets_read(template_dict, "api_handler")}
    assert "${" + secret_id + "}" in api


# --- the Freja environment per stage --------------------------------------------------------------


def test_prod_uses_freja_production_and_every_other_stage_freja_test() -> None:
    assert FREJA_TEST_API_URL == "https://services.test.frejaeid.com"
    assert FREJA_PROD_API_URL == "https://services.prod.frejaeid.com" == DEFAULT_FREJA_URL
    assert default_freja_api_url("prod") == FREJA_PROD_API_URL
    for stage in ("dev", "test", "staging", "example"):
        assert default_freja_api_url(stage) == FREJA_TEST_API_URL, stage
    # cdk.json leaves the context value empty, so the stage decides (`-c frejaApiUrl=...` overrides).
    assert CDK_CONTEXT["frejaApiUrl"] == ""


PROD_APP = """
from chalice import Chalice

app = Chalice(app_name="e-services")


@app.route("/")
def index():
    return {}
"""

PROD_SYNTH = """
import json, sys
from pathlib import Path
sys.path.insert(0, {repo!r})
import aws_cdk as cdk
from infra.functions import FUNCTIONS, registry
from infra.stack import EServicesStack

context = json.loads(Path({repo!r}, "infra", "cdk.json").read_text())["context"]
app = cdk.App(context=context, outdir={out!r})
EServicesStack(app, "Prod", stage="prod", source_dir=Path({source!r}), functions=registry(FUNCTIONS["api_handler"]),
               env=cdk.Environment(region="eu-north-1"))
app.synth()
"""


def test_a_prod_stack_sends_the_api_to_freja_production(tmp_path: Path) -> None:
    source = tmp_path / "app"
    (source / ".chalice").mkdir(parents=True)
    (source / "app.py").write_text(textwrap.dedent(PROD_APP))
    (source / "requirements.txt").write_text("")
    (source / ".chalice" / "config.json").write_text(json.dumps({"version": "2.0", "app_name": "e-services"}))
    script = tmp_path / "synth.py"
    script.write_text(PROD_SYNTH.format(repo=str(REPO_ROOT), out=str(tmp_path / "out"), source=str(source)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDK_")}
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=SYNTH_TIMEOUT_S,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"synth failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    template = json.loads((tmp_path / "out" / "Prod.template.json").read_text())
    (api,) = [
        f["Properties"]
        for f in resources(template, "AWS::Serverless::Function").values()
        if f["Properties"].get("FunctionName") == "e-services-prod-api_handler"
    ]
    assert api["Environment"]["Variables"]["FREJA_API_URL"] == FREJA_PROD_API_URL
    (secret_id,) = [
        k
        for k, s in resources(template, "AWS::SecretsManager::Secret").items()
        if s["Properties"]["Name"] == "e-services/prod/freja"
    ]
    assert api["Environment"]["Variables"][FREJA_ARN_VAR] == {"Ref": secret_id}


# --- cdk-nag --------------------------------------------------------------------------------------


def test_cdk_nag_accepts_only_the_rotation_findings_on_the_freja_secret(template_dict: dict[str, Any]) -> None:
    secret_id, secret = _secret(template_dict)
    # What the stack records on the secret (AcknowledgeSuppressed): the two rotation rules, with Freja's reason.
    recorded = secret["Metadata"][METADATA_KEY]["rules_to_suppress"]
    assert {r["id"] for r in recorded} == ROTATION_RULES
    assert all("Freja" in r["reason"] for r in recorded)
    # cdk-nag over the secret and its key alone, without the records: exactly those findings, each covered by
    # a Freja-specific suppression; nothing left.
    (key_id,) = secret["Properties"]["KmsKeyId"]["Fn::GetAtt"][:1]
    key = copy.deepcopy(template_dict["Resources"][key_id])
    key["Properties"]["KeyPolicy"] = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }  # the real policy names other resources; only the secret's findings matter here
    stripped = copy.deepcopy(secret)
    stripped.pop("Metadata", None)
    left, accepted = template_findings({"Resources": {secret_id: stripped, key_id: key}}, SUPPRESSIONS)
    assert not [f for f in left if f.logical_id == secret_id], left
    on_secret = [(f, s) for f, s in accepted if f.logical_id == secret_id]
    assert {f.rule_id for f, _ in on_secret} == ROTATION_RULES
    assert all(s.resources == "FrejaSecret" and "Freja" in s.reason for _, s in on_secret)
