"""TenantVCluster: a pinned vCluster release whose values keep the host namespace's fence."""

from __future__ import annotations

import ipaddress

import pytest

from components import scheduling
from components.tenant_namespace import TenantNamespace, TenantNamespaceArgs
from components.vcluster import TenantVCluster, TenantVClusterArgs, vcluster_values, vpc_resolver
from components.versions import CHARTS
from tenantctl.mock_engine import run_program
from tenants import capacity
from tenants.quantity import parse_quantity
from tests.factories import make_cluster_ref, make_context

VPC = "10.0.0.0/16"
POOL = {"nodeSelector": {"tenant": "kaze"},
        "tolerations": [{"key": "tenant", "operator": "Equal", "value": "kaze", "effect": "NoSchedule"}]}


def run_vcluster(plan="standard"):
    def program():
        cluster = make_cluster_ref()
        ctx = make_context("kaze", tier="vcluster", plan=plan)
        ns = TenantNamespace("kaze", TenantNamespaceArgs(ctx=ctx, cluster=cluster))
        TenantVCluster("kaze-vcluster", TenantVClusterArgs(ctx=ctx, cluster=cluster, tenant_namespace=ns))
    return run_program(program)


def test_release_is_the_pinned_chart_in_the_host_namespace():
    run = run_vcluster()
    component = run.named("kaze-vcluster")
    [chart] = run.children_of(component.urn)
    assert chart.type == "kubernetes:helm.sh/v4:Chart" and chart.name == "kaze-vcluster-chart"
    repository, version = CHARTS["vcluster"]
    assert (chart.inputs["chart"], chart.inputs["version"], chart.inputs["repositoryOpts"]) == (
        "vcluster", version, {"repo": repository})
    assert chart.inputs["name"] == "vcluster" and chart.inputs["namespace"] == "tenant-kaze"
    assert chart.inputs["values"] == vcluster_values(vpc_cidr=VPC, placement={})
    assert chart.options["provider"] == run.named("tp-prod-cell-apne1-01-k8s").urn


def test_release_waits_for_every_control_of_its_host_namespace():
    run = run_vcluster()
    depends = set(run.named("kaze-vcluster-chart").options["dependsOn"])
    fence = {r.urn for r in run.resources if r.name.startswith("kaze-") and r.custom
             and not r.name.startswith("kaze-vcluster")}
    # TenantNamespace's 22 children (its Sidecar included) less its 2 identity components,
    # plus their role and SA each.
    assert len(fence) == 22 - 2 + 4
    assert fence <= depends


def test_network_policy_is_on_and_keeps_metadata_service_and_other_tenants_out():
    policy = vcluster_values(vpc_cidr=VPC, placement={})["policies"]["networkPolicy"]
    assert policy["enabled"] is True
    assert policy["outgoingConnections"]["platform"] is False, "no namespaceSelector: {} rule"
    block = policy["outgoingConnections"]["ipBlock"]
    assert block["cidr"] == "0.0.0.0/0"
    for address in ("169.254.169.254", "10.0.5.5", "172.20.0.1", "192.168.0.1", "100.64.1.1"):
        assert any(ipaddress.ip_address(address) in ipaddress.ip_network(e) for e in block["except"])
    assert "169.254.169.254/32" in block["except"] and VPC in block["except"]
    assert policy["fallbackDns"] == "10.0.0.2", "the VPC resolver, not a public one"


def test_vpc_resolver_is_base_plus_two():
    assert vpc_resolver("10.1.0.0/16") == "10.1.0.2"


def test_quota_and_limit_range_come_from_the_host_namespace_not_the_chart():
    policies = vcluster_values(vpc_cidr=VPC, placement={})["policies"]
    assert policies["resourceQuota"] == {"enabled": False}
    assert policies["limitRange"] == {"enabled": False}
    assert policies["podSecurityStandard"] == "restricted"


def test_no_host_secrets_config_maps_or_nodes_are_exposed_without_a_pool():
    sync = vcluster_values(vpc_cidr=VPC, placement={})["sync"]
    assert sync["fromHost"] == {"nodes": {"enabled": False, "syncBackChanges": False},
                                "secrets": {"enabled": False}, "configMaps": {"enabled": False}}
    assert sync["toHost"]["pods"]["enforceTolerations"] == []
    assert "scheduling" not in vcluster_values(vpc_cidr=VPC, placement={})["controlPlane"]["statefulSet"]


def test_synced_pods_are_pinned_to_the_tenants_pool_when_it_has_one():
    values = vcluster_values(vpc_cidr=VPC, placement=POOL)
    nodes = values["sync"]["fromHost"]["nodes"]
    assert nodes == {"enabled": True, "syncBackChanges": False,
                     "selector": {"all": False, "labels": {"tenant": "kaze"}}}
    assert values["sync"]["toHost"]["pods"]["enforceTolerations"] == ["tenant=kaze:NoSchedule"]
    assert values["controlPlane"]["statefulSet"]["scheduling"] == POOL
    deployment = values["controlPlane"]["coredns"]["deployment"]
    assert (deployment["nodeSelector"], deployment["tolerations"]) == (POOL["nodeSelector"],
                                                                      POOL["tolerations"])


def test_pool_placement_used_is_the_shared_scheduling_definition():
    assert scheduling.pod_placement(make_context("kaze", tier="node")) == POOL


def test_control_plane_and_dns_run_restricted():
    plane = vcluster_values(vpc_cidr=VPC, placement={})["controlPlane"]
    pod, container = (scheduling.restricted_security_context(),
                      scheduling.container_security_context(read_only_root=False))
    security = {"podSecurityContext": pod, "containerSecurityContext": container}
    assert plane["statefulSet"]["security"] == security and plane["coredns"]["security"] == security
    assert plane["distro"]["k8s"] == {"enabled": True, "securityContext": container}
    assert container["runAsNonRoot"] is True and container["capabilities"] == {"drop": ["ALL"]}


def test_capacity_overhead_is_what_the_values_request():
    """VCLUSTER_OVERHEAD (the registry's quota check) equals the resources the chart is given."""
    plane = vcluster_values(vpc_cidr=VPC, placement={})["controlPlane"]
    requests = [plane["statefulSet"]["resources"]["requests"],
                plane["coredns"]["deployment"]["resources"]["requests"]]
    assert sum(parse_quantity(r["cpu"]) for r in requests) == capacity.VCLUSTER_OVERHEAD["cpu"]
    assert sum(parse_quantity(r["memory"]) for r in requests) == capacity.VCLUSTER_OVERHEAD["memory"]
    assert capacity.VCLUSTER_OVERHEAD["pods"] == len(requests)
    volume = plane["statefulSet"]["persistence"]["volumeClaim"]
    assert volume["enabled"] is True
    assert parse_quantity(volume["size"]) == capacity.VCLUSTER_OVERHEAD["storage"]
    assert capacity.VCLUSTER_OVERHEAD["pvcs"] == 1
    assert plane["backingStore"] == {"database": {"embedded": {"enabled": True}}}


@pytest.mark.parametrize("plan", ["standard", "enterprise"])
def test_host_namespace_gets_the_namespace_tier_fence(plan):
    run = run_vcluster(plan)
    names = {r.name for r in run.resources}
    for part in ("namespace", "quota", "limits", "netpol-default-deny", "netpol-allow-dns",
                 "binding-admins", "mesh-peer-authentication", "mesh-authz-allow-nothing"):
        assert f"kaze-{part}" in names
    labels = run.named("kaze-namespace").inputs["metadata"]["labels"]
    assert labels["tier"] == "vcluster" and labels["pod-security.kubernetes.io/enforce"] == "restricted"
