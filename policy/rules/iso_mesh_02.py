"""ISO-MESH-02 (stack): allow-nothing per tenant namespace; ALLOW only own principals, positively."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from policy import kube, stackview, tenancy
from policy.props import as_list, as_map
from policy.rule import Finding, Resource, RuleConfig, StackRule
from tenants import naming

MSG_ALLOW_NOTHING = "Add an allow-nothing AuthorizationPolicy (empty spec) to the tenant namespace."
MSG_FOREIGN_SOURCE = ("ALLOW only principals and namespaces of the tenant itself or of platform "
                      "namespaces (option platformNamespaces).")
MSG_ANY_SOURCE = "Give every ALLOW rule a 'from' naming source principals or namespaces."
MSG_MESH_WIDE = ("An ALLOW AuthorizationPolicy in the mesh root namespace applies to every "
                 "namespace: give each rule a 'from' naming only platform principals or "
                 "namespaces (never an empty rule, a tenant or a wildcard), or move it into "
                 "the namespace it is for.")
MSG_NEGATIVE = ("Use positive matching in ALLOW rules: no notPrincipals, notNamespaces, "
                "notIpBlocks, notPaths, notValues...")

IS_AUTHZ = kube.matcher("security.istio.io/AuthorizationPolicy")
PRINCIPAL_NAMESPACE = re.compile(r"(?:^|/)ns/([^/]+)/sa/")


def _is_allow_nothing(spec: Mapping[str, Any]) -> bool:
    return (spec.get("action") in (None, "ALLOW") and not as_list(spec.get("rules"))
            and not as_map(spec.get("selector")) and not as_map(spec.get("targetRef"))
            and not as_list(spec.get("targetRefs")))


def _negative(value: Any) -> bool:
    """Any ``not*`` key anywhere in a rule (sources, operations, conditions)."""
    if isinstance(value, Mapping):
        return any((isinstance(k, str) and k.startswith("not")) or _negative(value[k]) for k in value)
    return any(_negative(v) for v in as_list(value))


def _namespace_allowed(namespace: str, own: str, platform: list[str]) -> bool:
    return "*" not in namespace and (namespace == own or namespace in platform)


def _judge_rule(rule: Mapping[str, Any], own: str, platform: list[str]) -> Iterator[str]:
    if _negative(rule):
        yield MSG_NEGATIVE
    sources = [as_map(as_map(f).get("source")) for f in as_list(rule.get("from"))]
    if not sources or any(not (as_list(s.get("principals")) or as_list(s.get("namespaces")))
                          for s in sources):
        yield MSG_ANY_SOURCE
    for source in sources:
        for principal in as_list(source.get("principals")):
            match = PRINCIPAL_NAMESPACE.search(principal) if isinstance(principal, str) else None
            if match is None or not _namespace_allowed(match.group(1), own, platform):
                yield MSG_FOREIGN_SOURCE
        for namespace in as_list(source.get("namespaces")):
            if not isinstance(namespace, str) or not _namespace_allowed(namespace, own, platform):
                yield MSG_FOREIGN_SOURCE


def _mesh_wide(spec: Mapping[str, Any], platform: list[str]) -> bool:
    """Whether a root-namespace ALLOW admits anything beyond platform sources, mesh-wide."""
    if spec.get("action") not in (None, "ALLOW"):
        return False
    rules = [as_map(r) for r in as_list(spec.get("rules"))]
    if not rules:
        return False  # allow-nothing: matches no request
    return any(any(_judge_rule(rule, naming.ISTIO_NAMESPACE, platform)) for rule in rules)


def check(resources: Sequence[Resource], cfg: RuleConfig) -> Iterator[Finding]:
    platform = list(cfg.option("platformNamespaces"))
    policies = stackview.by_namespace(resources, IS_AUTHZ)
    for policy in policies.get(naming.ISTIO_NAMESPACE, []):
        if _mesh_wide(kube.spec(policy.props), platform):
            yield Finding(MSG_MESH_WIDE, policy.urn)
    for ns in stackview.tenant_namespaces(resources, cfg):
        if not any(_is_allow_nothing(kube.spec(p.props)) for p in policies.get(ns.name, [])):
            yield Finding(MSG_ALLOW_NOTHING, ns.resource.urn)
    for namespace, found in sorted(policies.items()):
        if tenancy.tenant_of_namespace(namespace) is None:
            continue
        for policy in found:
            spec = kube.spec(policy.props)
            if not cfg.applies(policy) or spec.get("action") not in (None, "ALLOW"):
                continue
            for rule in as_list(spec.get("rules")):
                for message in _judge_rule(as_map(rule), namespace, platform):
                    yield Finding(message, policy.urn)


RULE = StackRule(
    id="ISO-MESH-02",
    description=(
        "Every tenant namespace has an allow-nothing AuthorizationPolicy, ALLOW policies name"
        " only the tenant's own (or platform) sources, with positive matching, and ALLOW policies"
        " in the mesh root namespace (mesh-wide) admit only platform sources."
    ),
    severity="high", tiers="NPV", scope="tenant",
    options={"platformNamespaces": {
        "type": "array", "items": {"type": "string"},
        "default": [naming.ISTIO_NAMESPACE, naming.INGRESS_NAMESPACE, naming.MONITORING_NAMESPACE],
        "description": "Namespaces whose workloads tenant ALLOW rules may name."}},
    check=check,
    reads=kube.matcher("Namespace", "security.istio.io/AuthorizationPolicy"))
