"""ISO-POD-06: allowPrivilegeEscalation is explicitly false on every container."""

from __future__ import annotations

from collections.abc import Iterator

from policy import kube
from policy.props import is_false
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_ESCALATION = ("Set securityContext.allowPrivilegeEscalation: false explicitly on every "
                  "container, init container and ephemeral container.")


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    template = kube.pod_template(res.type, res.props)
    containers = list(kube.containers(template))
    if not containers or not all(is_false(c.security_context.get("allowPrivilegeEscalation"))
                                 for c in containers):
        yield MSG_ESCALATION


RULE = ResourceRule(
    id="ISO-POD-06",
    description="Every tenant container sets allowPrivilegeEscalation: false explicitly.",
    severity="high", tiers="NPVD", scope="tenant",
    applies_to=kube.is_workload, check=check)
