"""ISO-POD-09: a seccomp profile (RuntimeDefault or Localhost) applies to every container."""

from __future__ import annotations

from collections.abc import Iterator

from policy import kube
from policy.props import as_map
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_SECCOMP = ("Set securityContext.seccompProfile.type to RuntimeDefault (or Localhost) on the "
               "pod or every container; never Unconfined.")

ALLOWED = frozenset({"RuntimeDefault", "Localhost"})


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    template = kube.pod_template(res.type, res.props)
    containers = list(kube.containers(template))
    effective = [as_map(kube.container_or_pod(c, template, "seccompProfile")).get("type")
                 for c in containers]
    declared = [as_map(sc.get("seccompProfile")).get("type")
                for sc in [template.security_context] + [c.security_context for c in containers]]
    if (not containers or any(t not in ALLOWED for t in effective)
            or "Unconfined" in declared):
        yield MSG_SECCOMP


RULE = ResourceRule(
    id="ISO-POD-09",
    description=(
        "Every tenant container runs under the RuntimeDefault or a Localhost seccomp profile."
    ),
    severity="medium", tiers="NPVD", scope="tenant",
    applies_to=kube.is_workload, check=check)
