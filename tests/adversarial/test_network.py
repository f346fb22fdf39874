"""Careless network changes on the fixture fleet's plan: selectors, CIDR splits, open ports.

Each mutation is one edit a reviewer could miss: a selector on a label tenants share, an
internet range written as two halves, an egress rule that lost its ``to``. The gate must
stop every one under the named rule, naming the changed resource.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.adversarial.harness import (
    DEDICATED_STACK,
    OTHER,
    TENANT,
    VCLUSTER_TENANT,
    Mutation,
    Resources,
    assert_check_fails,
    find,
    mutation,
)

NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
SERVICE = "kubernetes:core/v1:Service"
CHART = "kubernetes:helm.sh/v4:Chart"
CLUSTER = "aws:eks/cluster:Cluster"
SG = "aws:ec2/securityGroup:SecurityGroup"
SG_INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
PODMON = "kubernetes:monitoring.coreos.com/v1:PodMonitor"
SPLIT_V4 = ["0.0.0.0/1", "128.0.0.0/1"]


def netpol(resources: Resources, purpose: str, tenant: str = TENANT) -> dict[str, Any]:
    return find(resources, NETPOL, f"{tenant}-netpol-{purpose}")


def spec(res: dict[str, Any]) -> dict[str, Any]:
    value: dict[str, Any] = res["inputs"]["spec"]
    return value


def select_namespaces(resources: Resources, selector: dict[str, Any]) -> str:
    """Replace the ingress gateway peer of the tenant's allow-from-ingress policy."""
    policy = netpol(resources, "allow-from-ingress-gateway")
    spec(policy)["ingress"][0]["from"][0]["namespaceSelector"] = selector
    return str(policy["name"])


# --- ISO-NET-10: peers by what they select -------------------------------------------
@mutation("ISO-NET-10")
def netpol_selects_tier_namespace(resources: Resources) -> str:
    return select_namespaces(resources, {"matchLabels": {"tier": "namespace"}})


@mutation("ISO-NET-10")
def netpol_selects_other_tenant_by_name(resources: Resources) -> str:
    return select_namespaces(resources, {"matchLabels": {"kubernetes.io/metadata.name": f"tenant-{OTHER}"}})


@mutation("ISO-NET-10")
def netpol_selects_tenant_exists(resources: Resources) -> str:
    return select_namespaces(resources, {"matchExpressions": [{"key": "tenant", "operator": "Exists"}]})


@mutation("ISO-NET-10")
def netpol_selects_plan_label(resources: Resources) -> str:
    namespace = find(resources, "kubernetes:core/v1:Namespace", f"{TENANT}-namespace")
    plan = namespace["inputs"]["metadata"]["labels"]["plan"]
    return select_namespaces(resources, {"matchLabels": {"plan": plan}})


@mutation("ISO-NET-10")
def egress_rule_with_ports_but_no_to(resources: Resources) -> str:
    policy = netpol(resources, "allow-dns")
    del spec(policy)["egress"][0]["to"]
    return str(policy["name"])


@mutation("ISO-NET-10")
def ingress_rule_without_from(resources: Resources) -> str:
    policy = netpol(resources, "allow-from-monitoring")
    del spec(policy)["ingress"][0]["from"]
    return str(policy["name"])


@mutation("ISO-NET-10")
def vpc_cidr_on_all_ports(resources: Resources) -> str:
    vpc = find(resources, "aws:ec2/vpc:Vpc")
    policy = netpol(resources, "allow-to-database")
    spec(policy)["egress"] = [{"to": [{"ipBlock": {"cidr": vpc["inputs"]["cidrBlock"]}}]}]
    return str(policy["name"])


@mutation("ISO-NET-10")
def database_egress_to_whole_vpc(resources: Resources) -> str:
    vpc = find(resources, "aws:ec2/vpc:Vpc")
    policy = netpol(resources, "allow-to-database")
    spec(policy)["egress"][0]["to"] = [{"ipBlock": {"cidr": vpc["inputs"]["cidrBlock"]}}]
    return str(policy["name"])


@mutation("ISO-NET-10")
def database_egress_on_another_port(resources: Resources) -> str:
    policy = netpol(resources, "allow-to-database")
    spec(policy)["egress"][0]["ports"] = [{"protocol": "TCP", "port": 22}]
    return str(policy["name"])


@mutation("ISO-NET-10")
def egress_to_link_local(resources: Resources) -> str:
    policy = netpol(resources, "allow-to-database")
    spec(policy)["egress"][0]["to"].append({"ipBlock": {"cidr": "169.254.0.0/16"}})
    return str(policy["name"])


# --- CIDR splits ---------------------------------------------------------------------
@mutation("ISO-NET-02")
def ip_block_split_without_excepts(resources: Resources) -> str:
    policy = netpol(resources, "allow-to-public-https")
    spec(policy)["egress"][0]["to"] = [{"ipBlock": {"cidr": c}} for c in SPLIT_V4]
    return str(policy["name"])


@mutation("ISO-NET-02")
def namespace_selector_everything(resources: Resources) -> str:
    return select_namespaces(resources, {})


@mutation("ISO-NET-04")
def public_egress_stops_excepting_link_local(resources: Resources) -> str:
    policy = netpol(resources, "allow-to-public-https")
    block = spec(policy)["egress"][0]["to"][0]["ipBlock"]
    block["except"] = [c for c in block["except"] if not c.startswith("169.254.")]
    return str(policy["name"])


@mutation("ISO-NET-04")
def vcluster_back_to_chart_egress_defaults(resources: Resources) -> str:
    # The chart's default exceptions keep link-local (and the metadata service) reachable.
    chart = find(resources, CHART, f"{VCLUSTER_TENANT}-vcluster-chart")
    del chart["inputs"]["values"]["policies"]["networkPolicy"]["outgoingConnections"]
    return str(chart["name"])


@mutation("ISO-NET-07")
def security_group_ingress_split_internet(resources: Resources) -> str:
    sg = find(resources, SG, "tp-prod-cell-f1-db-server-proxy-sg")
    sg["inputs"]["ingress"] = [{"protocol": "tcp", "fromPort": 5432, "toPort": 5432, "cidrBlocks": SPLIT_V4}]
    return str(sg["name"])


@mutation("ISO-NET-07")
def security_group_rule_ipv6_split(resources: Resources) -> str:
    rule = find(resources, SG_INGRESS, "tp-prod-cell-f1-db-server-proxy-from-nodes")
    del rule["inputs"]["referencedSecurityGroupId"]
    rule["inputs"]["cidrIpv6"] = "::/1"
    return str(rule["name"])


@mutation("ISO-EKS-01")
def eks_public_access_split(resources: Resources) -> str:
    cluster = find(resources, CLUSTER)
    cluster["inputs"]["vpcConfig"].update(endpointPublicAccess=True, publicAccessCidrs=SPLIT_V4)
    return str(cluster["name"])


@mutation("ISO-EKS-01", stack=DEDICATED_STACK)
def eks_public_access_many_slash_8s(resources: Resources) -> str:
    cluster = find(resources, CLUSTER)
    cluster["inputs"]["vpcConfig"].update(endpointPublicAccess=True,
                                          publicAccessCidrs=[f"{i}.0.0.0/8" for i in range(11, 40)])
    return str(cluster["name"])


@mutation("ISO-NET-06")
def load_balancer_split_source_ranges(resources: Resources) -> str:
    service = find(resources, SERVICE, f"{TENANT}-files-workload-service")
    service["inputs"]["spec"].update(type="LoadBalancer", loadBalancerSourceRanges=SPLIT_V4)
    service["inputs"]["metadata"].setdefault("annotations", {})[
        "service.beta.kubernetes.io/aws-load-balancer-scheme"] = "internal"
    return str(service["name"])


@mutation("ISO-EKS-02")
def eks_secrets_not_envelope_encrypted(resources: Resources) -> str:
    cluster = find(resources, CLUSTER)
    del cluster["inputs"]["encryptionConfig"]
    return str(cluster["name"])


@mutation("ISO-EKS-03", stack=DEDICATED_STACK)
def eks_audit_log_off(resources: Resources) -> str:
    cluster = find(resources, CLUSTER)
    cluster["inputs"]["enabledClusterLogTypes"].remove("audit")
    return str(cluster["name"])


@mutation("ISO-EKS-04")
def eks_bootstraps_creator_admin(resources: Resources) -> str:
    cluster = find(resources, CLUSTER)
    cluster["inputs"]["accessConfig"]["bootstrapClusterCreatorAdminPermissions"] = True
    return str(cluster["name"])


# --- the rest of the NET family ------------------------------------------------------
@mutation("ISO-NET-01")
def default_deny_allows_egress(resources: Resources) -> str:
    policy = netpol(resources, "default-deny")
    spec(policy)["policyTypes"] = ["Ingress"]
    namespace = find(resources, "kubernetes:core/v1:Namespace", f"{TENANT}-namespace")
    return str(namespace["name"])


@mutation("ISO-NET-03")
def vpc_cni_network_policy_off(resources: Resources) -> str:
    addon = find(resources, "aws:eks/addon:Addon", "tp-prod-cell-f1-addon-vpc-cni")
    config = json.loads(addon["inputs"]["configurationValues"])
    config["enableNetworkPolicy"] = "false"
    addon["inputs"]["configurationValues"] = json.dumps(config)
    return str(addon["name"])


@mutation("ISO-NET-05")
def node_port_service(resources: Resources) -> str:
    service = find(resources, SERVICE, f"{TENANT}-files-workload-service")
    service["inputs"]["spec"]["type"] = "NodePort"
    return str(service["name"])


@mutation("ISO-NET-08")
def flow_log_rejects_only(resources: Resources) -> str:
    log = find(resources, "aws:ec2/flowLog:FlowLog")
    log["inputs"]["trafficType"] = "REJECT"
    return str(log["name"])


@mutation("ISO-NET-09")
def route_claims_other_tenant_host(resources: Resources) -> str:
    route = find(resources, "kubernetes:networking.istio.io/v1:VirtualService", f"{TENANT}-files-route")
    other = find(resources, "kubernetes:networking.istio.io/v1:VirtualService", f"{OTHER}-files-route")
    route["inputs"]["spec"]["hosts"] = list(other["inputs"]["spec"]["hosts"])
    return str(route["name"])


@mutation("ISO-NET-11")
def pod_monitor_honors_labels(resources: Resources) -> str:
    monitor = find(resources, PODMON, f"{TENANT}-monitoring-pod-monitor")
    monitor["inputs"]["spec"]["podMetricsEndpoints"][0]["honorLabels"] = True
    return str(monitor["name"])


@mutation("ISO-NET-11")
def pod_monitor_takes_tenant_from_pods(resources: Resources) -> str:
    monitor = find(resources, PODMON, f"{VCLUSTER_TENANT}-monitoring-pod-monitor")
    monitor["inputs"]["spec"]["podMetricsEndpoints"][0]["relabelings"].append(
        {"action": "replace", "sourceLabels": ["__meta_kubernetes_pod_label_tenant"],
         "targetLabel": "tenant"})
    return str(monitor["name"])


@mutation("ISO-NET-12")
def external_dns_reads_services(resources: Resources) -> str:
    chart = find(resources, CHART, "tp-prod-cell-f1-addons-external-dns")
    chart["inputs"]["values"]["sources"] = ["istio-gateway", "service"]
    return str(chart["name"])


@mutation("ISO-NET-12")
def external_dns_reads_dns_endpoints(resources: Resources) -> str:
    chart = find(resources, CHART, "tp-prod-cell-f1-addons-external-dns")
    chart["inputs"]["values"].setdefault("extraArgs", []).append("--source=crd")
    return str(chart["name"])


MUTATIONS: list[Mutation] = [
    netpol_selects_tier_namespace, netpol_selects_other_tenant_by_name, netpol_selects_tenant_exists,
    netpol_selects_plan_label, egress_rule_with_ports_but_no_to, ingress_rule_without_from,
    vpc_cidr_on_all_ports, database_egress_to_whole_vpc, database_egress_on_another_port,
    egress_to_link_local, ip_block_split_without_excepts, namespace_selector_everything,
    public_egress_stops_excepting_link_local, vcluster_back_to_chart_egress_defaults,
    security_group_ingress_split_internet, security_group_rule_ipv6_split, eks_public_access_split,
    eks_public_access_many_slash_8s, load_balancer_split_source_ranges, default_deny_allows_egress,
    vpc_cni_network_policy_off, node_port_service, flow_log_rejects_only, route_claims_other_tenant_host,
    pod_monitor_honors_labels, pod_monitor_takes_tenant_from_pods, external_dns_reads_services,
    external_dns_reads_dns_endpoints, eks_secrets_not_envelope_encrypted, eks_audit_log_off,
    eks_bootstraps_creator_admin,
]


@pytest.mark.parametrize("m", MUTATIONS, ids=[m.name for m in MUTATIONS])
def test_gate_stops_network_change(fleet_plan: dict[str, Any], tmp_path: Any, m: Mutation) -> None:
    assert_check_fails(fleet_plan, m, tmp_path)
