"""The routes that start an e-ID order (issue 12) all get the tight limits: each order costs money at the
e-ID provider, and the provider keeps one order per person, so a start with someone's personnummer
cancels theirs. The WAF rule AuthStartPerIp counts every start route of the synthesized API in one
budget per client IP, AuthPerIp counts the e-ID flows (also the self-lock outside /auth/), and API
Gateway throttles each start method with AUTH_START_THROTTLE. The start routes are found in the API
definition itself (a POST whose path ends in /start), so a new one cannot be left out silently."""

from __future__ import annotations

from typing import Any

import pytest

from infra.parts.api import AUTH_FLOW_PREFIXES, AUTH_START_PATHS, AUTH_START_THROTTLE, WAF_AUTH_START_RATE_LIMIT

from .test_stack import rest_api, waf_matches, web_acl

pytestmark = pytest.mark.infrastructure

# Web ACL capacity units (AWS WAF developer guide): a rate-based statement costs 2 plus its scope-down,
# a STARTS_WITH string match 2 plus 10 per text transformation; the managed groups' published capacities.
# Up to 1500 WCUs come with the web ACL's base price; more is charged extra.
MANAGED_GROUP_WCUS = {
    "AWSManagedRulesAmazonIpReputationList": 25,
    "AWSManagedRulesCommonRuleSet": 700,
    "AWSManagedRulesKnownBadInputsRuleSet": 200,
}
BASE_PRICE_WCUS = 1500


def _api_paths(t: dict[str, Any]) -> dict[str, dict[str, Any]]:
    paths: dict[str, dict[str, Any]] = rest_api(t)["DefinitionBody"]["paths"]
    return paths


def _rate_rules(t: dict[str, Any]) -> dict[str, dict[str, Any]]:
    _, acl = web_acl(t)
    return {
        r["Name"]: r["Statement"]["RateBasedStatement"] for r in acl["Rules"] if "RateBasedStatement" in r["Statement"]
    }


def _counted_by(t: dict[str, Any], path: str) -> set[str]:
    return {name for name, rule in _rate_rules(t).items() if waf_matches(rule["ScopeDownStatement"], path)}


def test_every_start_route_of_the_api_is_listed(template_dict: dict[str, Any]) -> None:
    starts = {
        path for path, methods in _api_paths(template_dict).items() if path.endswith("/start") and "post" in methods
    }
    assert starts == set(AUTH_START_PATHS) == {"/auth/bankid/start", "/auth/freja/start", "/me/lock/start"}


@pytest.mark.parametrize("path", AUTH_START_PATHS)
@pytest.mark.parametrize("stage_prefix", ["/api", ""])  # execute-api URL; a custom domain mapped to the stage
def test_every_start_is_counted_by_both_rate_rules(template_dict: dict[str, Any], path: str, stage_prefix: str) -> None:
    assert _counted_by(template_dict, stage_prefix + path) == {"AuthStartPerIp", "AuthPerIp"}


def test_the_starts_share_one_tight_budget_per_client_ip(template_dict: dict[str, Any]) -> None:
    """One rule counts all start routes together: 100 starts of any kind per IP per 5 minutes, not 100 each."""
    tight = _rate_rules(template_dict)["AuthStartPerIp"]
    assert tight["AggregateKeyType"] == "IP" and "CustomKeys" not in tight
    assert tight["Limit"] == WAF_AUTH_START_RATE_LIMIT
    assert all(waf_matches(tight["ScopeDownStatement"], "/api" + path) for path in AUTH_START_PATHS)
    # Nothing else of the API counts against it.
    others = [p for p in _api_paths(template_dict) if p not in AUTH_START_PATHS]
    assert not [p for p in others if waf_matches(tight["ScopeDownStatement"], "/api" + p)]


def test_the_e_id_flows_are_under_the_general_rule_and_nothing_else(template_dict: dict[str, Any]) -> None:
    general = _rate_rules(template_dict)["AuthPerIp"]["ScopeDownStatement"]
    for path in _api_paths(template_dict):
        in_flow = path.startswith(AUTH_FLOW_PREFIXES)
        assert waf_matches(general, "/api" + path) is in_flow, path
    assert {"/me/lock/start", "/me/lock/collect", "/auth/freja/collect"} <= {
        p for p in _api_paths(template_dict) if p.startswith(AUTH_FLOW_PREFIXES)
    }


def test_each_start_method_has_the_start_throttle(template_dict: dict[str, Any]) -> None:
    api = rest_api(template_dict)
    settings = {(s["ResourcePath"], s["HttpMethod"]): s for s in api["MethodSettings"]}
    for path in AUTH_START_PATHS:
        assert "post" in api["DefinitionBody"]["paths"][path]
        setting = settings[("/" + path.replace("/", "~1"), "POST")]
        assert (setting["ThrottlingRateLimit"], setting["ThrottlingBurstLimit"]) == (
            AUTH_START_THROTTLE.rate_per_s,
            AUTH_START_THROTTLE.burst,
        )


def _wcus(statement: dict[str, Any]) -> int:
    if "OrStatement" in statement or "AndStatement" in statement:
        nested = (statement.get("OrStatement") or statement["AndStatement"])["Statements"]
        return sum(_wcus(s) for s in nested)
    if "RateBasedStatement" in statement:
        return 2 + _wcus(statement["RateBasedStatement"]["ScopeDownStatement"])
    if "ManagedRuleGroupStatement" in statement:
        return MANAGED_GROUP_WCUS[statement["ManagedRuleGroupStatement"]["Name"]]
    match = statement["ByteMatchStatement"]
    base = 2 if match["PositionalConstraint"] in {"EXACTLY", "STARTS_WITH", "ENDS_WITH"} else 10
    return base + 10 * len([t for t in match["TextTransformations"] if t["Type"] != "NONE"])


def test_the_web_acl_stays_within_the_base_capacity(template_dict: dict[str, Any]) -> None:
    _, acl = web_acl(template_dict)
    assert sum(_wcus(rule["Statement"]) for rule in acl["Rules"]) <= BASE_PRICE_WCUS
