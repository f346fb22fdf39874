"""ISO-NODE-01: a dedicated node group is tainted and labelled for its tenant."""

from __future__ import annotations

from collections.abc import Iterator

from policy import aws, tenancy
from policy.props import as_list, as_map
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_TAINT = ("Taint the dedicated node group for its tenant: key tenant, value <id>, "
             "effect NO_SCHEDULE.")
MSG_LABEL = "Label the dedicated node group's nodes tenant=<id> (labels)."

NO_SCHEDULE = frozenset({"NO_SCHEDULE", "NoSchedule"})


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    tenant = tenancy.tenant_of(res.type, res.props)
    taints = [as_map(t) for t in as_list(res.props.get("taints"))]
    if not any(t.get("key") == tenancy.LABEL_TENANT and t.get("value") == tenant
               and t.get("effect") in NO_SCHEDULE for t in taints):
        yield MSG_TAINT
    if as_map(res.props.get("labels")).get(tenancy.LABEL_TENANT) != tenant:
        yield MSG_LABEL


RULE = ResourceRule(
    id="ISO-NODE-01",
    description=(
        "A tenant's dedicated node group carries the taint tenant=<id>:NoSchedule and the label "
        "tenant=<id>."
    ),
    severity="high", tiers="P", scope="tenant",
    applies_to=lambda t: t in aws.NODE_GROUP_TYPES, check=check)
