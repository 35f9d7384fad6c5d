"""Lambda event filtering (FilterCriteria) for the local pump: the subset of the pattern syntax that
`infra/definitions.py` uses, with Lambda's semantics, so a stream consumer sees locally exactly the
records it would see in AWS.

A pattern is a dict whose leaves are lists of allowed values; a record matches when every key of the
pattern matches. A leaf value is a scalar (equality), `{"prefix": "..."}` or `{"exists": true|false}`.
A record matches the criteria when it matches any one pattern (none: every record).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

_MISSING = object()


def _leaf(allowed: list[Any], value: Any) -> bool:
    for rule in allowed:
        if isinstance(rule, Mapping):
            if "exists" in rule:
                if bool(rule["exists"]) == (value is not _MISSING):
                    return True
            elif "prefix" in rule:
                if isinstance(value, str) and value.startswith(str(rule["prefix"])):
                    return True
            else:
                raise ValueError(f"unsupported filter rule {sorted(rule)}")
        elif value is not _MISSING and value == rule:
            return True
    return False


def matches_pattern(pattern: Mapping[str, Any], event: Any) -> bool:
    for key, expected in pattern.items():
        value = event.get(key, _MISSING) if isinstance(event, Mapping) else _MISSING
        if isinstance(expected, Mapping):
            if not matches_pattern(expected, value if value is not _MISSING else {}):
                return False
        elif not _leaf(list(expected), value):
            return False
    return True


def matches(patterns: Iterable[Mapping[str, Any]], event: Mapping[str, Any]) -> bool:
    patterns = list(patterns)
    return not patterns or any(matches_pattern(p, event) for p in patterns)
