"""ISO-POD-11: read-only root file systems."""

from __future__ import annotations

from collections.abc import Iterator

from policy import kube
from policy.props import is_true
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_READ_ONLY = ("Set securityContext.readOnlyRootFilesystem: true on every container; write to "
                 "emptyDir or PVC mounts.")


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    containers = list(kube.containers(kube.pod_template(res.type, res.props)))
    if not containers or not all(is_true(c.security_context.get("readOnlyRootFilesystem"))
                                 for c in containers):
        yield MSG_READ_ONLY


RULE = ResourceRule(
    id="ISO-POD-11",
    description="Every tenant container has a read-only root file system.",
    severity="medium", tiers="NPVD", scope="tenant",
    applies_to=kube.is_workload, check=check)
