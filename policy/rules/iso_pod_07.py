"""ISO-POD-07: containers run as non-root users and groups."""

from __future__ import annotations

from collections.abc import Iterator

from policy import kube
from policy.props import is_true, number
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_NON_ROOT = "Set runAsNonRoot: true in the pod securityContext or on every container."
MSG_ROOT_USER = "Set runAsUser to a non-zero UID."
MSG_ROOT_GROUP = "Set runAsGroup to a non-zero GID."


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    template = kube.pod_template(res.type, res.props)
    containers = list(kube.containers(template))
    if not containers or not all(is_true(kube.container_or_pod(c, template, "runAsNonRoot"))
                                 for c in containers):
        yield MSG_NON_ROOT
    contexts = [template.security_context] + [c.security_context for c in containers]
    if any(number(sc.get("runAsUser")) == 0 for sc in contexts):
        yield MSG_ROOT_USER
    if any(number(sc.get("runAsGroup")) == 0 for sc in contexts):
        yield MSG_ROOT_GROUP


RULE = ResourceRule(
    id="ISO-POD-07",
    description="Tenant containers run with runAsNonRoot: true and never as UID or GID 0.",
    severity="high", tiers="NPVD", scope="tenant",
    applies_to=kube.is_workload, check=check)
