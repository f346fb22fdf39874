"""TenantVCluster: a virtual cluster (vCluster Helm chart) in the tenant's host namespace.

The tenant gets its own API server and RBAC; every pod it creates is synced into the host
namespace, which :class:`components.tenant_namespace.TenantNamespace` has already fenced
(PSA restricted, quota and limit range, default-deny network policies, mesh policies).
The chart's values add the vCluster's own share of the fence and keep it consistent with
the host's (ISO-VC-01/02):

- ``policies.networkPolicy.enabled: true`` (the chart's default is false). The chart's
  policies only *add* egress allows to the host namespace's default deny: its control
  plane may reach the host API server, and synced workloads may reach the internet
  through an ``ipBlock`` whose exceptions we set to the VPC, every non-public range and
  the instance metadata service, so the metadata service and other tenants stay
  unreachable. The platform-egress rule (``namespaceSelector: {}``) is off, and CoreDNS's
  fallback resolver is the VPC's own instead of a public one.
- ``policies.podSecurityStandard: restricted`` inside the virtual cluster, so tenants see
  the same admission errors there as the host would give them; the control plane and
  CoreDNS run with the platform's restricted security contexts, as the host namespace's
  PSA requires.
- Quota and limit range: enforced on the host namespace by TenantNamespace, from the plan,
  as objects the policy pack sees. The chart's own ResourceQuota and LimitRange are
  turned *off* on purpose: the chart merges its defaults under ours and Helm cannot drop
  keys, so a second quota would carry ``services.loadbalancers: 1``, ``limits.cpu: 20``
  and a 3 GiB ephemeral-storage request per container, contradicting the plan, and two
  LimitRanges' defaults apply in no defined order.
- No host secrets or config maps are mapped into the virtual cluster; real nodes are
  synced only for a tenant with a dedicated pool, never syncing changes back, and then
  every synced pod is pinned to that pool (node selector enforced, toleration added).
- Resources of the control plane and CoreDNS come from :mod:`tenants.capacity`, which the
  registry's quota check uses: the check and the running pods agree.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import k8s_manifests, scheduling
from components.context import ClusterRef, TenantContext
from components.tenant_namespace import TenantNamespace
from components.versions import chart
from tenants import capacity


def vpc_resolver(vpc_cidr: str) -> str:
    """The Amazon-provided DNS resolver of a VPC (its base address plus two)."""
    return str(ipaddress.ip_network(vpc_cidr)[2])


def vcluster_values(*, vpc_cidr: str, placement: dict[str, Any]) -> dict[str, Any]:
    """The vCluster chart values (vcluster.yaml, v0.2x schema) for one tenant.

    ``placement`` is :func:`components.scheduling.pod_placement` of the tenant: empty for
    tiers without a dedicated pool, else its node selector and toleration.
    """
    pod_security = scheduling.restricted_security_context()
    # The control plane unpacks its distro binaries and writes state; its volumes are
    # mounted writable, but a read-only root file system is not a configuration the chart
    # supports, so ISO-POD-11 (advisory) is not applied to these two containers.
    container_security = scheduling.container_security_context(read_only_root=False)
    node_selector = placement.get("nodeSelector", {})
    tolerations = placement.get("tolerations", [])
    scheduling_values = {"nodeSelector": node_selector, "tolerations": tolerations} if placement else {}
    nodes: dict[str, Any] = {"enabled": bool(placement), "syncBackChanges": False}
    if placement:
        nodes["selector"] = {"all": False, "labels": node_selector}
    return {
        "controlPlane": {
            "distro": {"k8s": {"enabled": True, "securityContext": container_security}},
            "backingStore": {"database": {"embedded": {"enabled": True}}},
            "statefulSet": {
                "resources": capacity.VCLUSTER_CONTROL_PLANE_RESOURCES,
                "security": {"podSecurityContext": pod_security,
                             "containerSecurityContext": container_security},
                "persistence": {"volumeClaim": {"enabled": True, "size": capacity.VCLUSTER_STORAGE}},
                **({"scheduling": scheduling_values} if placement else {}),
            },
            "coredns": {
                "security": {"podSecurityContext": pod_security,
                             "containerSecurityContext": container_security},
                "deployment": {"resources": capacity.VCLUSTER_COREDNS_RESOURCES, **scheduling_values},
            },
        },
        "sync": {
            "toHost": {"pods": {
                "enforceTolerations": [scheduling.toleration_string(t) for t in tolerations],
                # The hosts-rewrite init container runs a public alpine image, which the
                # host's admission (images from the tenant's repository only) refuses.
                "rewriteHosts": {"enabled": False}}},
            "fromHost": {
                "nodes": nodes,
                "secrets": {"enabled": False},
                "configMaps": {"enabled": False},
            },
        },
        "policies": {
            "podSecurityStandard": "restricted",
            "networkPolicy": {
                "enabled": True,
                "fallbackDns": vpc_resolver(vpc_cidr),
                "outgoingConnections": {
                    "platform": False,
                    "ipBlock": {"cidr": "0.0.0.0/0",
                                "except": k8s_manifests.public_egress_except(vpc_cidr)},
                },
            },
            "resourceQuota": {"enabled": False},
            "limitRange": {"enabled": False},
        },
    }


@dataclass(frozen=True, kw_only=True)
class TenantVClusterArgs:
    """Inputs of :class:`TenantVCluster`: the tenant, its cluster and its host namespace.

    The release waits for every object of ``tenant_namespace``, so the vCluster's pods
    never start in a namespace whose fence is not yet in place.
    """

    ctx: TenantContext
    cluster: ClusterRef
    tenant_namespace: TenantNamespace


class TenantVCluster(pulumi.ComponentResource):
    """The tenant's virtual cluster: one pinned vCluster chart release."""

    release_name: str
    chart: k8s.helm.v4.Chart

    def __init__(self, name: str, args: TenantVClusterArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("tenant-platform:index:TenantVCluster", name, None, opts)
        ctx, cluster = args.ctx, args.cluster
        repository, version = chart("vcluster")
        self.release_name = ctx.names.vcluster_release
        self.chart = k8s.helm.v4.Chart(
            f"{name}-chart",
            chart="vcluster",
            version=version,
            repository_opts=k8s.helm.v4.RepositoryOptsArgs(repo=repository),
            name=self.release_name,
            namespace=args.tenant_namespace.namespace_name,
            values=vcluster_values(vpc_cidr=cluster.vpc_cidr, placement=scheduling.pod_placement(ctx)),
            opts=pulumi.ResourceOptions(parent=self, provider=cluster.provider,
                                        depends_on=[args.tenant_namespace]))
        self.register_outputs({"release_name": self.release_name, "chart": self.chart})
