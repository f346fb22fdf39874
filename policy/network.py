"""Reading NetworkPolicies: policy types, default deny, peers, ports and ipBlocks."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from policy import kube
from policy.props import as_list, as_map, number

INGRESS, EGRESS = "Ingress", "Egress"


def policy_types(spec: Mapping[str, Any]) -> set[str]:
    """Declared policyTypes, or the API's default (Ingress, plus Egress if egress rules exist)."""
    declared = as_list(spec.get("policyTypes"))
    if declared:
        return {t for t in declared if isinstance(t, str)}
    return {INGRESS, EGRESS} if "egress" in spec else {INGRESS}


def selects_all_pods(spec: Mapping[str, Any]) -> bool:
    """An empty podSelector (every pod of the namespace)."""
    selector = as_map(spec.get("podSelector"))
    return not as_map(selector.get("matchLabels")) and not as_list(selector.get("matchExpressions"))


def denied_types(spec: Mapping[str, Any]) -> set[str]:
    """The directions this policy denies for every pod (selects all, no rules)."""
    if not selects_all_pods(spec):
        return set()
    rules = {INGRESS: as_list(spec.get("ingress")), EGRESS: as_list(spec.get("egress"))}
    return {t for t in policy_types(spec) if t in rules and not rules[t]}


def rules(spec: Mapping[str, Any], direction: str) -> list[Mapping[str, Any]]:
    """The ingress or egress rules."""
    return [as_map(r) for r in as_list(spec.get("ingress" if direction == INGRESS else "egress"))]


def peers(rule: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The peers (``from`` or ``to``) of a rule."""
    return [as_map(p) for p in as_list(rule.get("from", rule.get("to")))]


def ip_blocks(spec: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(direction, ipBlock) for every ipBlock peer."""
    for direction in (INGRESS, EGRESS):
        for rule in rules(spec, direction):
            for peer in peers(rule):
                block = as_map(peer.get("ipBlock"))
                if block:
                    yield direction, block


def port_allows(rule: Mapping[str, Any], port: int, protocol: str) -> bool:
    """Whether a rule's ports admit ``port``/``protocol`` (no ports means every port)."""
    ports = [as_map(p) for p in as_list(rule.get("ports"))]
    if not ports:
        return True
    for entry in ports:
        if (entry.get("protocol") or "TCP") != protocol:
            continue
        start, end = number(entry.get("port")), number(entry.get("endPort"))
        if entry.get("port") is None:
            return True
        if start is not None and (start == port or (end is not None and start <= port <= end)):
            return True
    return False


def selects_namespace(peer: Mapping[str, Any], namespace: str) -> bool:
    """Whether a peer's namespaceSelector pins a namespace by its metadata.name label."""
    selector = as_map(peer.get("namespaceSelector"))
    if as_map(selector.get("matchLabels")).get("kubernetes.io/metadata.name") == namespace:
        return True
    return any(as_map(e).get("key") == "kubernetes.io/metadata.name"
               and as_map(e).get("operator") == "In"
               and as_list(as_map(e).get("values")) == [namespace]
               for e in as_list(selector.get("matchExpressions")))


def is_network_policy(type_: str) -> bool:
    """A Kubernetes NetworkPolicy."""
    return kube.matcher("networking.k8s.io/NetworkPolicy")(type_)
