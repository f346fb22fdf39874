"""ISO-POD-14: secrets as files, not environment variables; no bare pods."""

from __future__ import annotations

from collections.abc import Iterator

from policy import kube, tenancy
from policy.props import as_list, as_map
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_SECRETS_IN_ENV = ("Mount secrets as files instead of environment variables "
                      "(env valueFrom.secretKeyRef, envFrom secretRef).")
MSG_BARE_POD = "Run the pod from a controller (Deployment, StatefulSet, Job...) instead of a bare Pod."


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    if tenancy.k8s_kind(res.type) == "Pod":
        yield MSG_BARE_POD
    for container in kube.containers(kube.pod_template(res.type, res.props)):
        from_env = any(as_map(as_map(e).get("valueFrom")).get("secretKeyRef")
                       for e in as_list(container.body.get("env")))
        from_env_from = any(as_map(e).get("secretRef") for e in as_list(container.body.get("envFrom")))
        if from_env or from_env_from:
            yield MSG_SECRETS_IN_ENV


RULE = ResourceRule(
    id="ISO-POD-14",
    description=(
        "Tenant pods read secrets from mounted files, not environment variables, and run under "
        "controllers rather than as bare Pods."
    ),
    severity="low", tiers="NPVD", scope="tenant",
    applies_to=kube.is_workload, check=check)
