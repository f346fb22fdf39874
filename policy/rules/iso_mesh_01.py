"""ISO-MESH-01: mesh-wide STRICT mTLS; no PERMISSIVE or DISABLE anywhere."""

from __future__ import annotations

from collections.abc import Iterator

from policy import kube
from policy.props import as_map
from policy.rule import Resource, ResourceRule, RuleConfig
from tenants import naming

MSG_MESH_STRICT = ("Set the mesh-wide PeerAuthentication (root namespace, no selector) to "
                   "mtls.mode STRICT.")
MSG_WEAK_MODE = "Remove mtls.mode PERMISSIVE or DISABLE; mTLS stays STRICT everywhere."
MSG_WEAK_PORT = "Remove PERMISSIVE and DISABLE from portLevelMtls."

WEAK = frozenset({"PERMISSIVE", "DISABLE"})


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    spec = kube.spec(res.props)
    mode = as_map(spec.get("mtls")).get("mode")
    mesh_wide = (kube.namespace(res.props) == cfg.option("rootNamespace")
                 and not as_map(spec.get("selector")))
    if mesh_wide and mode != "STRICT":
        yield MSG_MESH_STRICT
    elif mode in WEAK:
        yield MSG_WEAK_MODE
    if any(as_map(v).get("mode") in WEAK for v in as_map(spec.get("portLevelMtls")).values()):
        yield MSG_WEAK_PORT


RULE = ResourceRule(
    id="ISO-MESH-01",
    description=(
        "The mesh-wide PeerAuthentication is STRICT, and no PeerAuthentication weakens it to "
        "PERMISSIVE or DISABLE."
    ),
    severity="high", tiers="NPV", scope="all",
    options={"rootNamespace": {"type": "string", "default": naming.ISTIO_NAMESPACE,
                               "description": "Istio's root namespace (mesh-wide policies)."}},
    applies_to=kube.matcher("security.istio.io/PeerAuthentication"), check=check)
