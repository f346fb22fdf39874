"""ISO-POD-01: no privileged containers."""

from __future__ import annotations

from collections.abc import Iterator

from policy import kube
from policy.props import is_true
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_PRIVILEGED = ("Set securityContext.privileged to false (or leave it unset) on every container, "
                  "init container and ephemeral container.")


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    template = kube.pod_template(res.type, res.props)
    if any(is_true(c.security_context.get("privileged")) for c in kube.containers(template)):
        yield MSG_PRIVILEGED


RULE = ResourceRule(
    id="ISO-POD-01",
    description="No container of a tenant pod template runs privileged.",
    severity="critical", tiers="NPVD", scope="tenant",
    applies_to=kube.is_workload, check=check)
