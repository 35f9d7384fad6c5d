"""cdk-nag's `AwsSolutions` and `HIPAASecurity` packs over the stack, with the accepted findings of
`infra/nag_suppressions.py`.

The Chalice functions and the REST API reach the template as `AWS::Serverless::*` resources, which the
packs cannot read; so the template is also checked after the SAM transform (aws-sam-translator, offline:
the app names no AWS managed policy), loaded back into a construct tree with `CfnInclude`.

- `AcknowledgeSuppressed`: the stack's aspect: acknowledges (`Validations.of(...).acknowledge`) each
  finding a suppression covers, and records it in the resource's `cdk_nag` metadata (the audit trail
  a template scanner reads, and what the template checks below honour).
- `template_findings(template)`: the findings left in a synthesized template.
- `python -m infra.nag TEMPLATE.json`: the same for CI/CD; exits 1 on any finding.
"""

from __future__ import annotations

import copy
import json
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import cloudformation_include as cfn_inc
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks, NagPack
from constructs import IConstruct

from infra.nag_suppressions import SUPPRESSIONS, Suppression

# Pseudo parameters only: SAM resolves AWS::Region/AWS::Partition for ARNs it builds (layers, roles).
SAM_REGION = "eu-north-1"
METADATA_KEY = "cdk_nag"  # cdk-nag v2's audit-trail format: {"rules_to_suppress": [{"id", "reason"}]}


@dataclass(frozen=True)
class Finding:
    rule_id: str  # "AwsSolutions-S1", or "AwsSolutions-IAM5[Action::s3:*]" for one of a rule's findings
    level: str  # "error" or "warning"
    logical_id: str
    resource_type: str
    description: str

    def __str__(self) -> str:
        return f"{self.level} {self.rule_id} on {self.logical_id} ({self.resource_type}): {self.description}"


def rule_packs() -> list[NagPack]:
    return [AwsSolutionsChecks(), HIPAASecurityChecks()]


def _cfn_resources(scope: IConstruct) -> Iterator[cdk.CfnResource]:
    for node in scope.node.find_all():
        if isinstance(node, cdk.CfnResource):
            yield node


def _logical_id(resource: cdk.CfnResource) -> str:
    return str(cdk.Stack.of(resource).resolve(resource.logical_id))


def _by_path(scope: IConstruct) -> dict[str, cdk.CfnResource]:
    return {r.node.path: r for r in _cfn_resources(scope)}


def findings(
    scope: IConstruct, by_path: Mapping[str, cdk.CfnResource] | None = None
) -> list[tuple[Finding, cdk.CfnResource]]:
    """What the packs report on the resources under `scope` (acknowledged findings are not reported).
    `by_path`: the scope's resources by construct path, when the caller has them (a tree walk is slow)."""
    by_path = _by_path(scope) if by_path is None else by_path
    found = []
    for pack in rule_packs():
        for violation in pack.validate_scope(scope).violations:
            for violating in violation.violating_resources:
                resource = by_path[str(violating.construct_path)]
                finding = Finding(
                    rule_id=violation.rule_name,
                    level=str(violation.severity),
                    logical_id=_logical_id(resource),
                    resource_type=resource.cfn_resource_type,
                    description=violation.description,
                )
                found.append((finding, resource))
    return found


def _acknowledge(resource: cdk.CfnResource, rules: Mapping[str, str]) -> None:
    cdk.Validations.of(resource).acknowledge(*(cdk.Acknowledgment(id=i, reason=r) for i, r in rules.items()))


def acknowledge_suppressed(
    scope: IConstruct,
    suppressions: Sequence[Suppression] = SUPPRESSIONS,
    by_path: Mapping[str, cdk.CfnResource] | None = None,
) -> list[tuple[Finding, Suppression]]:
    """Acknowledge every finding under `scope` that a suppression covers (and write the `cdk_nag`
    metadata); returns them. Suppressions name patterns, so the packs run first to learn the ids."""
    accepted: list[tuple[Finding, Suppression]] = []
    per_resource: dict[str, tuple[cdk.CfnResource, dict[str, str]]] = {}
    for finding, resource in findings(scope, by_path):
        suppression = next(
            (s for s in suppressions if s.covers(finding.rule_id, finding.resource_type, finding.logical_id)), None
        )
        if suppression is not None:
            accepted.append((finding, suppression))
            per_resource.setdefault(resource.node.path, (resource, {}))[1][finding.rule_id] = suppression.reason
    for resource, rules in per_resource.values():
        _acknowledge(resource, rules)
        recorded = _recorded(resource)
        recorded.update(rules)
        resource.add_metadata(
            METADATA_KEY, {"rules_to_suppress": [{"id": i, "reason": r} for i, r in sorted(recorded.items())]}
        )
    return accepted


def _recorded(resource: cdk.CfnResource) -> dict[str, str]:
    metadata = resource.get_metadata(METADATA_KEY) or {}
    return {rule["id"]: rule["reason"] for rule in metadata.get("rules_to_suppress", [])}


@jsii.implements(cdk.IAspect)
class AcknowledgeSuppressed:
    """Added to the stack: at synth, once every construct exists, acknowledges the suppressed findings."""

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, cdk.Stack):
            acknowledge_suppressed(node)


def sam_transform(template: Mapping[str, Any]) -> dict[str, Any]:
    """The template as CloudFormation runs it: `AWS::Serverless::*` expanded, without calling AWS."""
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    translator = Translator(None, Parser(), boto_session=boto3.Session(region_name=SAM_REGION))
    transformed: dict[str, Any] = translator.translate(
        copy.deepcopy(dict(template)), parameter_values={}, get_managed_policy_map=lambda: {}
    )
    return transformed


def template_findings(
    template: Mapping[str, Any], suppressions: Sequence[Suppression] = SUPPRESSIONS
) -> tuple[list[Finding], list[tuple[Finding, Suppression]]]:
    """(findings left, findings accepted) for a CloudFormation template loaded into a fresh stack.

    Its resources' `cdk_nag` metadata (written by the stack) is honoured; `suppressions` then cover
    what the stack cannot see (resources SAM generates). Pass `()` to check the stack's own record."""
    app = cdk.App()
    stack = cdk.Stack(app, "Nag")
    with tempfile.TemporaryDirectory(prefix="nag-") as tmp:
        path = Path(tmp) / "template.json"
        path.write_text(json.dumps(template))
        cfn_inc.CfnInclude(stack, "Template", template_file=str(path))
    by_path = _by_path(stack)
    for resource in by_path.values():
        recorded = _recorded(resource)
        if recorded:
            _acknowledge(resource, recorded)
    accepted = acknowledge_suppressed(stack, suppressions, by_path)
    return [finding for finding, _ in findings(stack, by_path)], accepted


def check(paths: Iterable[str]) -> int:
    failed = 0
    for path in paths:
        synthesized = json.loads(Path(path).read_text())
        left = template_findings(synthesized, ())[0] + template_findings(sam_transform(synthesized))[0]
        for finding in left:
            sys.stdout.write(f"{path}: {finding}\n")
        failed += len(left)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(check(sys.argv[1:]))
