"""ISO-POD-03: no host ports."""

from __future__ import annotations

from collections.abc import Iterator

from policy import kube
from policy.props import as_list, as_map, number
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_HOST_PORT = "Remove hostPort from container ports (unset or 0); expose pods through Services."


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    for container in kube.containers(kube.pod_template(res.type, res.props)):
        for port in as_list(container.body.get("ports")):
            value = as_map(port).get("hostPort")
            if value is not None and number(value) != 0:
                yield MSG_HOST_PORT


RULE = ResourceRule(
    id="ISO-POD-03",
    description="Tenant containers bind no host ports.",
    severity="high", tiers="NPVD", scope="tenant",
    applies_to=kube.is_workload, check=check)
