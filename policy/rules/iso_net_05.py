"""ISO-NET-05: no NodePort Services."""

from __future__ import annotations

from collections.abc import Iterator

from policy import kube
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_NODE_PORT = "Use a ClusterIP Service behind the ingress gateway instead of type NodePort."


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    if kube.spec(res.props).get("type") == "NodePort":
        yield MSG_NODE_PORT


RULE = ResourceRule(
    id="ISO-NET-05",
    description="Tenants expose no NodePort Services (a NodePort opens every node).",
    severity="high", tiers="NPV", scope="tenant",
    applies_to=kube.matcher("Service"), check=check)
