"""Careless mesh and vCluster changes on the fixture fleet's plan.

A mesh-wide ALLOW in the root namespace, a principal of another tenant, a Sidecar that
went missing, a route or certificate for another tenant's host, a vCluster that syncs
host objects: each is one edit, and each must fail the gate under the named rule.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tenants import naming
from tests.adversarial.harness import (
    NODE_TENANT,
    OTHER,
    TENANT,
    VCLUSTER_TENANT,
    Mutation,
    Resources,
    add,
    assert_check_fails,
    find,
    mutation,
)

AUTHZ = "kubernetes:security.istio.io/v1:AuthorizationPolicy"
PEER_AUTH = "kubernetes:security.istio.io/v1:PeerAuthentication"
SIDECAR = "kubernetes:networking.istio.io/v1:Sidecar"
VS = "kubernetes:networking.istio.io/v1:VirtualService"
GATEWAY = "kubernetes:networking.istio.io/v1:Gateway"
SERVICE_ENTRY = "kubernetes:networking.istio.io/v1:ServiceEntry"
CERTIFICATE = "kubernetes:cert-manager.io/v1:Certificate"
DEPLOY = "kubernetes:apps/v1:Deployment"
CHART = "kubernetes:helm.sh/v4:Chart"


def host_of(resources: Resources, tenant: str) -> str:
    route = find(resources, VS, f"{tenant}-files-route")
    return str(route["inputs"]["spec"]["hosts"][0])


def vcluster_values(resources: Resources) -> tuple[str, dict[str, Any]]:
    chart = find(resources, CHART, f"{VCLUSTER_TENANT}-vcluster-chart")
    return str(chart["name"]), chart["inputs"]["values"]


# --- ISO-MESH-02: authorization -------------------------------------------------------
def _root_policy(resources: Resources, spec: dict[str, Any]) -> str:
    like = find(resources, AUTHZ, f"{TENANT}-mesh-authz-allow-tenant")
    return add(resources, like, AUTHZ, "mesh-wide-allow", {
        "apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
        "metadata": {"name": "allow-all", "namespace": naming.ISTIO_NAMESPACE}, "spec": spec})


@mutation("ISO-MESH-02")
def root_namespace_allow_empty_rule(resources: Resources) -> str:
    return _root_policy(resources, {"action": "ALLOW", "rules": [{}]})


@mutation("ISO-MESH-02")
def root_namespace_allow_tenant_namespace(resources: Resources) -> str:
    return _root_policy(resources, {"action": "ALLOW", "rules": [
        {"from": [{"source": {"namespaces": [naming.tenant_namespace(TENANT)]}}]}]})


@mutation("ISO-MESH-02")
def allow_principal_of_other_tenant(resources: Resources) -> str:
    policy = find(resources, AUTHZ, f"{TENANT}-mesh-authz-allow-tenant")
    policy["inputs"]["spec"]["rules"][0]["from"].append(
        {"source": {"principals": [f"cluster.local/ns/{naming.tenant_namespace(OTHER)}/sa/fileserver"]}})
    return str(policy["name"])


@mutation("ISO-MESH-01")
def tenant_peer_authentication_permissive(resources: Resources) -> str:
    peer = find(resources, PEER_AUTH, f"{TENANT}-mesh-peer-authentication")
    peer["inputs"]["spec"]["mtls"]["mode"] = "PERMISSIVE"
    return str(peer["name"])


# --- ISO-MESH-08 / 03: sidecars -------------------------------------------------------
@mutation("ISO-MESH-08")
def sidecar_removed(resources: Resources) -> str:
    resources.remove(find(resources, SIDECAR, f"{NODE_TENANT}-mesh-sidecar"))
    return str(find(resources, "kubernetes:core/v1:Namespace", f"{NODE_TENANT}-namespace")["name"])


@mutation("ISO-MESH-08")
def vcluster_sidecar_removed(resources: Resources) -> str:
    resources.remove(find(resources, SIDECAR, f"{VCLUSTER_TENANT}-mesh-sidecar"))
    return str(find(resources, "kubernetes:core/v1:Namespace", f"{VCLUSTER_TENANT}-namespace")["name"])


@mutation("ISO-MESH-08")
def sidecar_sees_other_tenant(resources: Resources) -> str:
    sidecar = find(resources, SIDECAR, f"{VCLUSTER_TENANT}-mesh-sidecar")
    sidecar["inputs"]["spec"]["egress"][0]["hosts"].append(f"{naming.tenant_namespace(TENANT)}/*")
    return str(sidecar["name"])


@mutation("ISO-MESH-03")
def sidecar_allows_any_outbound(resources: Resources) -> str:
    sidecar = find(resources, SIDECAR, f"{TENANT}-mesh-sidecar")
    sidecar["inputs"]["spec"]["outboundTrafficPolicy"]["mode"] = "ALLOW_ANY"
    return str(sidecar["name"])


# --- ISO-MESH-07: host ownership ------------------------------------------------------
@mutation("ISO-MESH-07")
def route_to_other_tenant_service(resources: Resources) -> str:
    route = find(resources, VS, f"{TENANT}-files-route")
    route["inputs"]["spec"]["http"][0]["route"][0]["destination"]["host"] = (
        f"fileserver.{naming.tenant_namespace(OTHER)}.svc.cluster.local")
    return str(route["name"])


@mutation("ISO-MESH-07")
def route_binds_other_tenant_gateway(resources: Resources) -> str:
    route = find(resources, VS, f"{TENANT}-files-route")
    other = find(resources, VS, f"{OTHER}-files-route")
    route["inputs"]["spec"]["gateways"] = list(other["inputs"]["spec"]["gateways"])
    return str(route["name"])


@mutation("ISO-MESH-07")
def gateway_serves_other_tenant_host(resources: Resources) -> str:
    gateway = find(resources, GATEWAY, f"{TENANT}-files-gateway")
    host = f"{naming.tenant_namespace(TENANT)}/{host_of(resources, OTHER)}"
    gateway["inputs"]["spec"]["servers"][0]["hosts"].append(host)
    return str(gateway["name"])


@mutation("ISO-MESH-07")
def certificate_for_other_tenant_host(resources: Resources) -> str:
    certificate = find(resources, CERTIFICATE, f"{TENANT}-files-certificate")
    certificate["inputs"]["spec"]["dnsNames"].append(host_of(resources, NODE_TENANT))
    return str(certificate["name"])


@mutation("ISO-MESH-07")
def service_entry_exported_everywhere(resources: Resources) -> str:
    entry = find(resources, SERVICE_ENTRY, f"{TENANT}-mesh-egress-database")
    entry["inputs"]["spec"]["exportTo"] = ["*"]
    return str(entry["name"])


@mutation("ISO-MESH-07")
def service_entry_claims_other_tenant_host(resources: Resources) -> str:
    entry = find(resources, SERVICE_ENTRY, f"{TENANT}-mesh-egress-aws-apis")
    entry["inputs"]["spec"]["hosts"].append(host_of(resources, OTHER))
    return str(entry["name"])


# --- ISO-MESH-04 / 05 -----------------------------------------------------------------
@mutation("ISO-MESH-04")
def tenant_owned_gateway(resources: Resources) -> str:
    gateway = find(resources, GATEWAY, f"{TENANT}-files-gateway")
    inputs = copy.deepcopy(gateway["inputs"])
    route = find(resources, VS, f"{TENANT}-files-route")
    inputs["metadata"] = {"name": "own-gateway", "namespace": naming.tenant_namespace(TENANT),
                          "labels": dict(route["inputs"]["metadata"]["labels"])}
    return add(resources, gateway, GATEWAY, f"{TENANT}-own-gateway", inputs)


@mutation("ISO-MESH-05")
def sidecar_injection_disabled(resources: Resources) -> str:
    deployment = find(resources, DEPLOY, f"{TENANT}-files-workload-deployment")
    template = deployment["inputs"]["spec"]["template"]["metadata"]
    template.setdefault("annotations", {})["sidecar.istio.io/inject"] = "false"
    return str(deployment["name"])


@mutation("ISO-MESH-06")
def namespace_moved_to_ambient(resources: Resources) -> str:
    # Ambient mode without the HBONE port and probe source in the namespace's policies.
    namespace = find(resources, "kubernetes:core/v1:Namespace", f"{TENANT}-namespace")
    namespace["inputs"]["metadata"]["labels"]["istio.io/dataplane-mode"] = "ambient"
    return f"{TENANT}-netpol-allow-from-ingress-gateway"


# --- ISO-VC-01 / 02 -------------------------------------------------------------------
@mutation("ISO-VC-01")
def vcluster_network_policy_off(resources: Resources) -> str:
    name, values = vcluster_values(resources)
    values["policies"]["networkPolicy"]["enabled"] = False
    return name


@mutation("ISO-VC-01")
def vcluster_platform_egress_on(resources: Resources) -> str:
    name, values = vcluster_values(resources)
    values["policies"]["networkPolicy"]["outgoingConnections"]["platform"] = True
    return name


@mutation("ISO-VC-02")
def vcluster_syncs_host_secrets(resources: Resources) -> str:
    name, values = vcluster_values(resources)
    values["sync"]["fromHost"]["secrets"] = {"enabled": True, "mappings": {"byName": {
        f"{naming.tenant_namespace(TENANT)}/*": "default/*"}}}
    return name


@mutation("ISO-VC-02")
def vcluster_istio_integration(resources: Resources) -> str:
    name, values = vcluster_values(resources)
    values["integrations"] = {"istio": {"enabled": True}}
    return name


@mutation("ISO-VC-02")
def vcluster_node_sync_back(resources: Resources) -> str:
    name, values = vcluster_values(resources)
    values["sync"]["fromHost"]["nodes"]["syncBackChanges"] = True
    return name


MUTATIONS: list[Mutation] = [
    root_namespace_allow_empty_rule, root_namespace_allow_tenant_namespace, allow_principal_of_other_tenant,
    tenant_peer_authentication_permissive, sidecar_removed, vcluster_sidecar_removed,
    sidecar_sees_other_tenant, sidecar_allows_any_outbound, route_to_other_tenant_service,
    route_binds_other_tenant_gateway, gateway_serves_other_tenant_host, certificate_for_other_tenant_host,
    service_entry_exported_everywhere, service_entry_claims_other_tenant_host, tenant_owned_gateway,
    sidecar_injection_disabled, namespace_moved_to_ambient, vcluster_network_policy_off,
    vcluster_platform_egress_on,
    vcluster_syncs_host_secrets, vcluster_istio_integration, vcluster_node_sync_back,
]


@pytest.mark.parametrize("m", MUTATIONS, ids=[m.name for m in MUTATIONS])
def test_gate_stops_mesh_change(fleet_plan: dict[str, Any], tmp_path: Any, m: Mutation) -> None:
    assert_check_fails(fleet_plan, m, tmp_path)
