"""Reading NetworkPolicies: policy types, default deny, peers, ports and ipBlocks."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from policy import cidr, kube, tenancy
from policy.props import as_list, as_map, number, text

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


def block_covers(block: Mapping[str, Any]) -> list[cidr.Network]:
    """The addresses an ipBlock admits: its cidr minus its exceptions."""
    return cidr.covered([text(block.get("cidr")) or ""], as_list(block.get("except")))


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


# --- label selectors ------------------------------------------------------------------
#: The label the API server sets on every namespace to its name.
NAME_LABEL = "kubernetes.io/metadata.name"


def selector_matches(selector: Mapping[str, Any], labels: Mapping[str, Any]) -> bool:
    """Whether a LabelSelector selects an object with ``labels`` (the API's semantics).

    matchLabels and matchExpressions are ANDed; an empty selector selects everything;
    ``NotIn`` and ``DoesNotExist`` match objects without the key. An operator the API does
    not know selects everything here (fail closed: the rule then sees the widest reach).
    """
    for key, value in as_map(selector.get("matchLabels")).items():
        if labels.get(key) != value:
            return False
    for raw in as_list(selector.get("matchExpressions")):
        expr = as_map(raw)
        key, op = str(expr.get("key")), expr.get("operator")
        values = [str(v) for v in as_list(expr.get("values"))]
        present = key in labels
        current = str(labels.get(key)) if present else None
        if op == "In" and not (present and current in values):
            return False
        if op == "NotIn" and present and current in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


def selected_namespaces(peer: Mapping[str, Any], own: str,
                        namespaces: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The namespaces (name -> labels) a peer's pods may live in.

    No namespaceSelector: the policy's own namespace. An ipBlock-only peer: none. A peer
    with no field at all is treated as every namespace (the API rejects it; fail closed).
    """
    if peer.get("namespaceSelector") is None:
        if peer.get("podSelector") is not None:
            return [own]
        return [] if peer.get("ipBlock") is not None else sorted(namespaces)
    selector = as_map(peer.get("namespaceSelector"))
    return sorted(n for n, labels in namespaces.items() if selector_matches(selector, labels))


def namespace_universe(declared: Mapping[str, Mapping[str, Any]], platform: Sequence[str],
                       known_tenants: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Every namespace a selector could reach: name -> labels (with the name label).

    ``declared`` are the stack's Namespace resources; ``platform`` the cluster's other
    namespaces (only their name label is certain). For each declared tenant namespace a
    *probe* twin is added: the same labels for a tenant that does not exist yet. A
    selector that matches a probe selects tenants by what they share (tier, plan,
    managed-by, PSA or mesh labels, ``tenant`` Exists), whoever the registry holds.
    """
    universe: dict[str, dict[str, Any]] = {n: {NAME_LABEL: n} for n in platform}
    for name, labels in declared.items():
        universe[name] = {**labels, NAME_LABEL: name}
    taken = set(known_tenants) | {tenancy.tenant_of_namespace(n) for n in universe} - {None}
    for name, labels in list(universe.items()):
        tenant = tenancy.tenant_of_namespace(name)
        if tenant is None:
            continue
        probe = next(f"{tenant}-probe{i}" for i in range(len(taken) + 1) if f"{tenant}-probe{i}" not in taken)
        probe_ns = tenancy.tenant_namespace(probe)
        swap = {tenant: probe, name: probe_ns}
        universe[probe_ns] = {k: swap.get(v, v) if isinstance(v, str) else v for k, v in labels.items()}
    return universe
