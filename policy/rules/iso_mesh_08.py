"""ISO-MESH-08 (stack): every tenant namespace has a Sidecar scoping its proxies' egress hosts.

Without a namespace-wide Sidecar a proxy receives the configuration of every service in
the mesh, other tenants' included, and routes to them; with one whose egress hosts name
``*/*`` or another tenant's namespace, the same. This holds for every shared tier, the
vcluster tier included (its synced pods are injected like any other); whether outbound
traffic is REGISTRY_ONLY is ISO-MESH-03's concern.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from policy import hosts, kube, stackview, tenancy
from policy.props import as_list, as_map
from policy.rule import Finding, Resource, RuleConfig, StackRule
from tenants import naming

MSG_MISSING = ("Add a Sidecar without workloadSelector to the tenant namespace, with egress "
               "hosts './*' and platform namespaces only.")
MSG_SCOPE = ("List only './*', the tenant's own namespace and platform namespaces (option "
             "platformNamespaces) in Sidecar egress hosts: never '*/' or another tenant's "
             "namespace.")

IS_SIDECAR = kube.matcher("networking.istio.io/Sidecar")


def _scoped(sidecar: Resource, own: str, platform: list[str]) -> bool:
    entries = [str(h) for e in as_list(kube.spec(sidecar.props).get("egress"))
               for h in as_list(as_map(e).get("hosts"))]
    for entry in entries:
        namespace, _host = hosts.split_namespace(entry)
        if namespace not in (".", "~", own, *platform):
            return False
    return bool(entries)


def check(resources: Sequence[Resource], cfg: RuleConfig) -> Iterator[Finding]:
    platform = [str(n) for n in cfg.option("platformNamespaces")]
    sidecars = stackview.by_namespace(resources, IS_SIDECAR)
    for ns in stackview.tenant_namespaces(resources, cfg):
        found = sidecars.get(ns.name, [])
        if not any(not as_map(kube.spec(s.props).get("workloadSelector")) for s in found):
            yield Finding(MSG_MISSING, ns.resource.urn)
    for namespace, found in sorted(sidecars.items()):
        if tenancy.tenant_of_namespace(namespace) is None:
            continue
        for sidecar in found:
            if not _scoped(sidecar, namespace, platform):
                yield Finding(MSG_SCOPE, sidecar.urn)


RULE = StackRule(
    id="ISO-MESH-08",
    description=(
        "Every tenant namespace, vcluster tier included, has a namespace-wide Sidecar, and "
        "tenant Sidecars list egress hosts of the own and platform namespaces only."
    ),
    severity="high", tiers="NPV", scope="tenant", check=check,
    options={"platformNamespaces": {
        "type": "array", "items": {"type": "string"}, "default": [naming.ISTIO_NAMESPACE],
        "description": "Platform namespaces tenant Sidecars may list as egress hosts."}},
    reads=kube.matcher("Namespace", "networking.istio.io/Sidecar"))
