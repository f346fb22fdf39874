"""RBAC mutations: one careless change each that gives a tenant subject more than its fence.

Every way a tenant's people or pods could gain rights outside their namespaces or beyond
the tenant allowlist (``tenants/access.py``): cluster-wide bindings under every name of a
tenant subject, bindings to built-in or unlabelled ClusterRoles, aggregation, widened
tenant Roles, another tenant's subjects, and EKS access entries and access policies of a
tenant's IAM principals. The fixture fleet's tenants have no access entries, so the
mutations that need one add it the way ``TenantNamespace`` declares it (STANDARD, the
tenant's tags, its ``tenant:<id>:admins`` group).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from tests.adversarial.harness import (
    OTHER,
    TENANT,
    Mutation,
    Resource,
    Resources,
    add,
    assert_check_fails,
    find,
    find_all,
)

RBAC = "rbac.authorization.k8s.io"
ROLE = f"kubernetes:{RBAC}/v1:Role"
CLUSTER_ROLE = f"kubernetes:{RBAC}/v1:ClusterRole"
BINDING = f"kubernetes:{RBAC}/v1:RoleBinding"
CRB = f"kubernetes:{RBAC}/v1:ClusterRoleBinding"
ENTRY = "aws:eks/accessEntry:AccessEntry"
ASSOCIATION = "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
TENANT_PRINCIPAL = f"arn:aws:iam::123456789012:role/{TENANT}-operators"
ADMINS = f"{TENANT}-binding-admins"
ADMIN_ROLE = f"{TENANT}-role-tenant-admin"
ACCESS_POLICY = "arn:aws:eks::aws:cluster-access-policy/"

Change = Callable[[Resources], str]


def group(name: str) -> dict[str, Any]:
    return {"apiGroup": RBAC, "kind": "Group", "name": name}


def cluster_scoped(resources: Resources, type_: str, name: str, body: dict[str, Any]) -> str:
    """Add a cluster-scoped RBAC object next to the tenant's binding (same provider)."""
    like = find(resources, BINDING, ADMINS)
    kind = type_.rsplit(":", 1)[-1]
    return add(resources, like, type_, name, {"apiVersion": f"{RBAC}/v1", "kind": kind,
                                              "metadata": {"name": name}, **body})


def crb_to(role: str, *subjects: dict[str, Any]) -> Change:
    def change(resources: Resources) -> str:
        return cluster_scoped(resources, CRB, "tenant-cluster-access", {
            "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": role},
            "subjects": list(subjects)})
    return change


def rebind(kind: str, name: str) -> Change:
    def change(resources: Resources) -> str:
        binding = find(resources, BINDING, ADMINS)
        binding["inputs"]["roleRef"] = {"apiGroup": RBAC, "kind": kind, "name": name}
        return str(binding["name"])
    return change


def with_cluster_roles(*roles: tuple[str, dict[str, Any]], bind: str) -> Change:
    def change(resources: Resources) -> str:
        for name, body in roles:
            cluster_scoped(resources, CLUSTER_ROLE, name, body)
        return rebind("ClusterRole", bind)(resources)
    return change


def widen(group_: str, resource: str, verbs: list[str]) -> Change:
    def change(resources: Resources) -> str:
        role = find(resources, ROLE, ADMIN_ROLE)
        role["inputs"]["rules"].append({"apiGroups": [group_], "resources": [resource], "verbs": verbs})
        # The culprit is the binding that hands the role to the tenant (ISO-RBAC-08) or the
        # role itself (resource rules); both names start with the tenant's component name.
        return str(role["name"])
    return change


def widen_binding(group_: str, resource: str) -> Change:
    """As :func:`widen`, naming the binding (what ISO-RBAC-08 reports)."""
    def change(resources: Resources) -> str:
        widen(group_, resource, ["create", "patch"])(resources)
        return ADMINS
    return change


def subject(index: int, value: dict[str, Any]) -> Change:
    def change(resources: Resources) -> str:
        binding = find(resources, BINDING, ADMINS)
        binding["inputs"]["subjects"][index] = value
        return str(binding["name"])
    return change


def tenant_tags(resources: Resources) -> dict[str, Any]:
    """The tags TenantNamespace gives the tenant's AWS resources (ctx.tags)."""
    tagged = next(r for r in resources if isinstance(r["inputs"].get("tags"), dict)
                  and r["inputs"]["tags"].get("tenant") == TENANT)
    return copy.deepcopy(tagged["inputs"]["tags"])


def access_entry(resources: Resources, groups: list[str], **extra: Any) -> str:
    """An access entry for the tenant's operators, as TenantNamespace declares one."""
    like = find_all(resources, ENTRY)[0]
    return add(resources, like, ENTRY, f"{TENANT}-access-admin-{TENANT}-operators", {
        "clusterName": like["inputs"]["clusterName"], "principalArn": TENANT_PRINCIPAL,
        "type": "STANDARD", "kubernetesGroups": groups, "tags": tenant_tags(resources), **extra})


def entry_with(groups: list[str], **extra: Any) -> Change:
    return lambda resources: access_entry(resources, groups, **extra)


def access_policy(policy: str, scope: dict[str, Any]) -> Change:
    def change(resources: Resources) -> str:
        access_entry(resources, [f"tenant:{TENANT}:admins"])
        like = find_all(resources, ASSOCIATION)[0]
        return add(resources, like, ASSOCIATION, f"{TENANT}-access-{policy.lower()}", {
            "clusterName": like["inputs"]["clusterName"], "principalArn": TENANT_PRINCIPAL,
            "policyArn": ACCESS_POLICY + policy, "accessScope": scope})
    return change


def unlabel_quota(resources: Resources) -> str:
    quota = find(resources, "kubernetes:core/v1:ResourceQuota", f"{TENANT}-quota")
    del quota["inputs"]["metadata"]["labels"]["app.kubernetes.io/managed-by"]
    return str(quota["name"])


def automount(resources: Resources) -> str:
    account = next(r for r in find_all(resources, SERVICE_ACCOUNT)
                   if r["inputs"]["metadata"]["namespace"] == f"tenant-{TENANT}")
    account["inputs"]["automountServiceAccountToken"] = True
    return str(account["name"])


def default_service_account(resources: Resources) -> str:
    deployment = next(r for r in find_all(resources, "kubernetes:apps/v1:Deployment")
                      if r["inputs"]["metadata"]["namespace"] == f"tenant-{TENANT}")
    deployment["inputs"]["spec"]["template"]["spec"]["serviceAccountName"] = "default"
    return str(deployment["name"])


ADMINS_GROUP = group(f"tenant:{TENANT}:admins")
TENANT_SA = {"kind": "ServiceAccount", "name": "fileserver", "namespace": f"tenant-{TENANT}"}
AGGREGATE = "tenant-platform.io/aggregate-to-tenant-apps"
APPS = ("tenant-apps", {"aggregationRule": {"clusterRoleSelectors": [
    {"matchLabels": {AGGREGATE: "true"}}]}, "rules": []})
APPS_EXTRA = ("tenant-apps-extra", {
    "metadata": {"name": "tenant-apps-extra", "labels": {AGGREGATE: "true"}},
    "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]},
              {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}]})
ESCALATE = ("ops-role-manager", {"rules": [
    {"apiGroups": [RBAC], "resources": ["roles"], "verbs": ["get", "escalate", "bind"]}]})
NS_SCOPE_WITH_OTHER = {"type": "namespace", "namespaces": [f"tenant-{TENANT}", f"tenant-{OTHER}"]}

#: (name, rule, change): the same careless change may be stopped by several rules.
CHANGES: list[tuple[str, str, Change]] = [
    ("crb_tenant_admins_to_cluster_admin", "ISO-RBAC-01", crb_to("cluster-admin", ADMINS_GROUP)),
    ("crb_tenant_admins_to_cluster_admin", "ISO-RBAC-08", crb_to("cluster-admin", ADMINS_GROUP)),
    ("crb_tenant_sa_to_view", "ISO-RBAC-01", crb_to("view", TENANT_SA)),
    ("crb_tenant_sa_to_view", "ISO-RBAC-08", crb_to("view", TENANT_SA)),
    ("crb_tenant_sa_user", "ISO-RBAC-08", crb_to("system:basic-user", {
        "apiGroup": RBAC, "kind": "User", "name": f"system:serviceaccount:tenant-{TENANT}:fileserver"})),
    ("crb_tenant_namespace_sas", "ISO-RBAC-01",
     crb_to("view", group(f"system:serviceaccounts:tenant-{TENANT}"))),
    ("binds_edit", "ISO-RBAC-04", rebind("ClusterRole", "edit")),
    ("binds_edit", "ISO-RBAC-05", rebind("ClusterRole", "edit")),
    ("binds_edit", "ISO-RBAC-08", rebind("ClusterRole", "edit")),
    ("binds_admin", "ISO-RBAC-04", rebind("ClusterRole", "admin")),
    ("binds_admin", "ISO-RBAC-08", rebind("ClusterRole", "admin")),
    ("binds_view", "ISO-RBAC-08", rebind("ClusterRole", "view")),
    ("binds_cluster_admin", "ISO-RBAC-04", rebind("ClusterRole", "cluster-admin")),
    ("binds_cluster_admin", "ISO-RBAC-08", rebind("ClusterRole", "cluster-admin")),
    ("role_all_resources", "ISO-RBAC-03", widen("apps", "*", ["get"])),
    ("binds_unknown_role", "ISO-RBAC-08", rebind("Role", "tenant-operator")),
    ("binds_unlabelled_escalate_role", "ISO-RBAC-08", with_cluster_roles(ESCALATE, bind=ESCALATE[0])),
    ("aggregated_role_adds_secrets_and_nodes", "ISO-RBAC-08",
     with_cluster_roles(APPS, APPS_EXTRA, bind=APPS[0])),
    ("role_writes_networkpolicies", "ISO-NS-06", widen("networking.k8s.io", "networkpolicies", ["patch"])),
    ("role_writes_networkpolicies", "ISO-RBAC-08", widen_binding("networking.k8s.io", "networkpolicies")),
    ("role_writes_resourcequotas", "ISO-NS-06", widen("", "resourcequotas", ["update"])),
    ("role_writes_resourcequotas", "ISO-RBAC-08", widen_binding("", "resourcequotas")),
    ("role_writes_endpoints", "ISO-RBAC-08", widen_binding("", "endpoints")),
    ("role_writes_endpointslices", "ISO-RBAC-08", widen_binding("discovery.k8s.io", "endpointslices")),
    ("role_writes_virtualservices", "ISO-RBAC-08", widen_binding("networking.istio.io", "virtualservices")),
    ("role_writes_certificates", "ISO-RBAC-08", widen_binding("cert-manager.io", "certificates")),
    ("role_writes_sidecar", "ISO-NS-06", widen("networking.istio.io", "sidecars", ["patch"])),
    ("role_all_verbs", "ISO-RBAC-03", widen("", "configmaps", ["*"])),
    ("role_escalate", "ISO-RBAC-04", widen(RBAC, "roles", ["escalate"])),
    ("role_exec", "ISO-RBAC-05", widen("", "pods/exec", ["create"])),
    ("role_tokens", "ISO-RBAC-05", widen("", "serviceaccounts/token", ["create"])),
    ("binds_other_tenant_group", "ISO-RBAC-02", subject(0, group(f"tenant:{OTHER}:admins"))),
    ("binds_other_tenant_group", "ISO-RBAC-08", subject(0, group(f"tenant:{OTHER}:admins"))),
    ("binds_other_tenant_sa", "ISO-RBAC-02", subject(0, {
        "kind": "ServiceAccount", "name": "fileserver", "namespace": f"tenant-{OTHER}"})),
    ("binds_other_tenant_sa", "ISO-RBAC-08", subject(0, {
        "kind": "ServiceAccount", "name": "fileserver", "namespace": f"tenant-{OTHER}"})),
    ("binds_authenticated", "ISO-RBAC-08", subject(0, group("system:authenticated"))),
    ("binds_default_sa", "ISO-RBAC-06", subject(0, {
        "kind": "ServiceAccount", "name": "default", "namespace": f"tenant-{TENANT}"})),
    ("entry_maps_tenant_to_masters", "ISO-RBAC-08",
     entry_with([f"tenant:{TENANT}:admins", "system:masters"])),
    ("entry_maps_tenant_to_other_tenant", "ISO-RBAC-08",
     entry_with([f"tenant:{TENANT}:admins", f"tenant:{OTHER}:admins"])),
    ("entry_is_a_node", "ISO-RBAC-08", entry_with([f"tenant:{TENANT}:admins"], type="EC2_LINUX")),
    ("cluster_admin_policy_for_tenant", "ISO-RBAC-08",
     access_policy("AmazonEKSClusterAdminPolicy", {"type": "cluster"})),
    ("admin_policy_cluster_scope", "ISO-RBAC-08",
     access_policy("AmazonEKSAdminPolicy", {"type": "cluster"})),
    ("admin_policy_other_tenant_namespace", "ISO-RBAC-08",
     access_policy("AmazonEKSAdminPolicy", NS_SCOPE_WITH_OTHER)),
    ("quota_unlabelled", "ISO-NS-06", unlabel_quota),
    ("service_account_automounts", "ISO-RBAC-07", automount),
    ("workload_runs_as_default", "ISO-RBAC-06", default_service_account),
]

MUTATIONS: list[Mutation] = [Mutation(f"{name}[{rule}]", rule, change) for name, rule, change in CHANGES]


@pytest.mark.parametrize("m", MUTATIONS, ids=[m.name for m in MUTATIONS])
def test_gate_stops(fleet_plan: dict[str, Any], tmp_path: Any, m: Mutation) -> None:
    assert_check_fails(fleet_plan, m, tmp_path)


def test_unmodified_fleet_gives_tenants_only_their_roles(fleet_plan: dict[str, Any]) -> None:
    """The baseline the mutations start from: tenant bindings name tenant Roles only."""
    stack = next(s for s in fleet_plan["stacks"] if s["name"] == "shared-f1")
    bindings: list[Resource] = find_all(stack["resources"], BINDING)
    assert bindings and all(b["inputs"]["roleRef"]["kind"] == "Role" for b in bindings)
    assert not find_all(stack["resources"], CRB)
