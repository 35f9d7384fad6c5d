"""The e-services stack's parts, composed by `infra/stack.py`.

| module | what |
|---|---|
| `data.py` | KMS keys, tables, queues, buckets, event buses, secrets, the alarm topic, failure queues, grants |
| `functions.py` | the Chalice app and, per registry entry, its role, log group, event source and error alarm |
| `notifications.py` | SES configuration set and events topic, SMS delivery status logs, delivery feedback |
| `api.py` | the API edge: stage throttling, gateway responses, access log, WAF |
| `monitoring.py` | alarms on the app's metrics and the operator's dashboard |
| `backup.py` | the tables in an AWS Backup plan |

The stack was one class before these existed, and it is deployed: its resources' logical ids must not
change (a new id replaces the resource; a table would be lost, a named one fails to create). So the
grouping constructs are `Namespace`s, left out of logical ids (`logical_id`, used by
`EServicesStack.allocate_logical_id`); everything created before the split kept its construct path
relative to the stack otherwise (alarms and event-source wiring under `Data`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from constructs import Construct


class Namespace(Construct):
    """Groups resources without appearing in their logical ids."""


def logical_id(components: Sequence[str]) -> str:
    """CloudFormation logical id for a construct path below the stack: aws-cdk-lib's `makeUniqueId`
    (core/lib/private/uniqueid.ts), which `Stack.allocateLogicalId` uses on the same components."""
    components = [c for c in components if c != "Default"]
    if not components:
        raise ValueError("no components for a logical id")
    if len(components) == 1:
        candidate = re.sub(r"[^A-Za-z0-9]", "", components[0])
        if len(candidate) <= 255:
            return candidate
    digest = hashlib.md5("/".join(components).encode(), usedforsecurity=False).hexdigest()[:8].upper()
    human: list[str] = []
    for component in components:  # consecutive duplicates once ("Role/Role" -> "Role")
        if not human or not human[-1].endswith(component):
            human.append(component)
    text = "".join(re.sub(r"[^A-Za-z0-9]", "", c) for c in human if c != "Resource")
    return text[:240] + digest
