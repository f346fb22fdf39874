"""ISO-POD-08: drop ALL capabilities; add back only NET_BIND_SERVICE."""

from __future__ import annotations

from collections.abc import Iterator

from policy import kube
from policy.props import as_list, as_map
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_DROP_ALL = "Set securityContext.capabilities.drop: [ALL] on every container."
MSG_ADD = "Add back no capability other than NET_BIND_SERVICE."

ALLOWED_ADD = frozenset({"NET_BIND_SERVICE"})


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    containers = list(kube.containers(kube.pod_template(res.type, res.props)))
    capabilities = [as_map(c.security_context.get("capabilities")) for c in containers]
    if not containers or not all("ALL" in as_list(caps.get("drop")) for caps in capabilities):
        yield MSG_DROP_ALL
    if any(set(as_list(caps.get("add"))) - ALLOWED_ADD for caps in capabilities):
        yield MSG_ADD


RULE = ResourceRule(
    id="ISO-POD-08",
    description="Tenant containers drop all capabilities and add back at most NET_BIND_SERVICE.",
    severity="high", tiers="NPVD", scope="tenant",
    applies_to=kube.is_workload, check=check)
