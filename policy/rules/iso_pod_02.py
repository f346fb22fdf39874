"""ISO-POD-02: no host network, PID or IPC namespaces."""

from __future__ import annotations

from collections.abc import Iterator

from policy import kube
from policy.props import is_true
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_HOST_NETWORK = "Set spec.hostNetwork to false (or leave it unset)."
MSG_HOST_PID = "Set spec.hostPID to false (or leave it unset)."
MSG_HOST_IPC = "Set spec.hostIPC to false (or leave it unset)."

FIELDS = (("hostNetwork", MSG_HOST_NETWORK), ("hostPID", MSG_HOST_PID), ("hostIPC", MSG_HOST_IPC))


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    spec = kube.pod_template(res.type, res.props).spec
    for field, message in FIELDS:
        if is_true(spec.get(field)):
            yield message


RULE = ResourceRule(
    id="ISO-POD-02",
    description="Tenant pods do not share the node's network, PID or IPC namespaces.",
    severity="critical", tiers="NPVD", scope="tenant",
    applies_to=kube.is_workload, check=check)
