"""Effective RBAC permissions (policy.rbac) and the stack rule that judges them (ISO-RBAC-08).

The resolver is tested on its own (built-in roles, aggregation, selectors, subjects), then
the rule over the baseline cell with one hostile edit per way a tenant subject can gain
rights: cluster-wide bindings, foreign namespaces, roles beyond the allowlist (the stack's,
aggregated, built-in), unknown roles, and EKS access entries and access policies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import yaml

from components.versions import KUBERNETES_VERSION
from policy import rbac
from policy.rule import Resource
from policy.rules import iso_rbac_08 as r08
from tenants import access
from tests.policy import fixtures as f
from tests.policy.cases import Case, adding, changing, check, evaluate, params, stack_edit

RBAC = "rbac.authorization.k8s.io"
ROLE = f"kubernetes:{RBAC}/v1:Role"
CLUSTER_ROLE = f"kubernetes:{RBAC}/v1:ClusterRole"
BINDING = f"kubernetes:{RBAC}/v1:RoleBinding"
CRB = f"kubernetes:{RBAC}/v1:ClusterRoleBinding"
ENTRY = "aws:eks/accessEntry:AccessEntry"
ASSOCIATION = "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"
ACME_BINDING = "acme-viewer-binding"
TENANT_PRINCIPAL = f"arn:aws:iam::{f.ACCOUNT}:role/acme-operators"
AGGREGATE_LABEL = "tenant-platform.io/aggregate-to-tenant-apps"
Stack = list[dict[str, Any]]
Edit = Callable[[Stack], Stack]


def rule(groups: list[str], resources: list[str], verbs: list[str]) -> dict[str, Any]:
    return {"apiGroups": groups, "resources": resources, "verbs": verbs}


def group(name: str) -> dict[str, Any]:
    return {"apiGroup": RBAC, "kind": "Group", "name": name}


def cluster_role(name: str, rules: list[dict[str, Any]], labels: dict[str, str] | None = None,
                 selectors: list[dict[str, Any]] | None = None) -> Callable[[], dict[str, Any]]:
    body: dict[str, Any] = {"apiVersion": f"{RBAC}/v1", "kind": "ClusterRole",
                            "metadata": {"name": name, **({"labels": labels} if labels else {})},
                            "rules": rules}
    if selectors is not None:
        body["aggregationRule"] = {"clusterRoleSelectors": selectors}
    return lambda: f.resource(CLUSTER_ROLE, name, body)


def crb(name: str, role: str, subjects: list[dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    return lambda: f.resource(CRB, name, {
        "apiVersion": f"{RBAC}/v1", "kind": "ClusterRoleBinding", "metadata": {"name": name},
        "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": role}, "subjects": subjects})


def binding_in(namespace: str, subjects: list[dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    return lambda: f.resource(BINDING, f"{namespace}-extra", {
        "apiVersion": f"{RBAC}/v1", "kind": "RoleBinding",
        "metadata": {"name": "extra", "namespace": namespace},
        "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "system:basic-user"},
        "subjects": subjects})


def entry(groups: list[str], name: str = "acme-access-admin", **extra: Any) -> Callable[[], dict[str, Any]]:
    """An access entry as TenantNamespace declares one (tenant tags, STANDARD, tenant groups)."""
    return lambda: f.resource(ENTRY, name, {
        "clusterName": f"tp-{f.ENV}-cell-apne1-01", "principalArn": TENANT_PRINCIPAL,
        "type": "STANDARD", "kubernetesGroups": groups, "tags": f.tags("acme"), **extra})


def association(policy: str, scope: dict[str, Any],
                principal: str = TENANT_PRINCIPAL) -> Callable[[], dict[str, Any]]:
    return lambda: f.resource(ASSOCIATION, f"acme-access-{policy.lower()}", {
        "clusterName": f"tp-{f.ENV}-cell-apne1-01", "principalArn": principal,
        "policyArn": f.ACCESS_POLICY + policy, "accessScope": scope})


def role_ref(kind: str, name: str) -> Edit:
    return changing(BINDING, ACME_BINDING, ("roleRef",), {"apiGroup": RBAC, "kind": kind, "name": name})


def then(*edits: Edit) -> Edit:
    def apply(stack: Stack) -> Stack:
        for edit in edits:
            stack = edit(stack)
        return stack
    return apply


TENANT_ENTRY = entry(["tenant:acme:admins"])
APPS_ROLE = cluster_role("tenant-apps", [], selectors=[{"matchLabels": {AGGREGATE_LABEL: "true"}}])
APPS_PIECE = cluster_role("tenant-apps-read", [rule([""], ["pods", "configmaps"], ["get", "list"])],
                          labels={AGGREGATE_LABEL: "true"})
NS_SCOPE = {"type": "namespace", "namespaces": ["tenant-acme"]}


def widened(resource: str, group_: str = "") -> Case:
    return stack_edit(f"rbac08-role-writes-{resource}", "ISO-RBAC-08",
                      changing(ROLE, "acme-viewer", ("rules", 2), rule([group_], [resource], ["patch"])),
                      r08.MSG_BEYOND_ALLOWLIST, about=ACME_BINDING)


CASES: list[Case] = [
    # Cluster-wide bindings, under every name of a tenant subject.
    stack_edit("rbac08-crb-tenant-group", "ISO-RBAC-08",
               adding(crb("acme-admins-cluster", "cluster-admin", [group("tenant:acme:admins")])),
               r08.MSG_CLUSTER_BINDING, about="acme-admins-cluster"),
    stack_edit("rbac08-crb-tenant-sa", "ISO-RBAC-08", adding(crb("sa-view", "view", [
        {"kind": "ServiceAccount", "name": "fileserver", "namespace": "tenant-acme"}])),
        r08.MSG_CLUSTER_BINDING, about="sa-view"),
    stack_edit("rbac08-crb-sa-user", "ISO-RBAC-08", adding(crb("sa-user", "system:basic-user", [
        {"apiGroup": RBAC, "kind": "User", "name": "system:serviceaccount:tenant-bolt:chatbot"}])),
        r08.MSG_CLUSTER_BINDING, about="sa-user"),
    stack_edit("rbac08-crb-everyone", "ISO-RBAC-08",
               adding(crb("everyone", "system:heapster", [group("system:authenticated")])),
               r08.MSG_CLUSTER_BINDING, about="everyone"),
    stack_edit("rbac08-crb-entry-group", "ISO-RBAC-08",
               adding(entry(["tenant:acme:admins", "ops"]),
                      crb("ops-admin", "cluster-admin", [group("ops")])),
               r08.MSG_CLUSTER_BINDING, r08.MSG_ENTRY_GROUPS),
    stack_edit("rbac08-crb-patch-adds-tenant", "ISO-RBAC-08", adding(lambda: f.resource(
        f"kubernetes:{RBAC}/v1:ClusterRoleBindingPatch", "admins-patch", {
            "metadata": {"name": "cluster-admin"}, "subjects": [group("tenant:acme:admins")]})),
        r08.MSG_CLUSTER_BINDING, about="admins-patch"),
    # RoleBindings outside the subject's tenant.
    stack_edit("rbac08-other-tenant-group", "ISO-RBAC-08",
               changing(BINDING, ACME_BINDING, ("subjects", 0, "name"), "tenant:bolt:viewers"),
               r08.MSG_OTHER_NAMESPACE, about=ACME_BINDING),
    stack_edit("rbac08-other-tenant-sa", "ISO-RBAC-08",
               changing(BINDING, ACME_BINDING, ("subjects", 1, "namespace"), "tenant-bolt"),
               r08.MSG_OTHER_NAMESPACE, about=ACME_BINDING),
    stack_edit("rbac08-everyone-in-tenant", "ISO-RBAC-08",
               changing(BINDING, ACME_BINDING, ("subjects", 0, "name"), "system:serviceaccounts"),
               r08.MSG_OTHER_NAMESPACE, about=ACME_BINDING),
    stack_edit("rbac08-tenant-in-platform-ns", "ISO-RBAC-08",
               adding(binding_in("monitoring", [group("tenant:acme:viewers")])),
               r08.MSG_OTHER_NAMESPACE, about="monitoring-extra"),
    # Roles beyond the allowlist: built-in, the stack's, aggregated.
    *[stack_edit(f"rbac08-binds-{name}", "ISO-RBAC-08", role_ref("ClusterRole", name),
                 r08.MSG_BEYOND_ALLOWLIST, about=ACME_BINDING)
      for name in ("cluster-admin", "admin", "edit", "view", "system:node")],
    stack_edit("rbac08-unlabelled-escalate", "ISO-RBAC-08", then(
        adding(cluster_role("ops-roles", [rule([RBAC], ["roles"], ["get", "escalate"])])),
        role_ref("ClusterRole", "ops-roles")), r08.MSG_BEYOND_ALLOWLIST, about=ACME_BINDING),
    stack_edit("rbac08-aggregated-adds-nodes", "ISO-RBAC-08", then(
        adding(APPS_ROLE, APPS_PIECE, cluster_role("node-reader", [rule([""], ["nodes"], ["get"])],
                                                   labels={AGGREGATE_LABEL: "true"})),
        role_ref("ClusterRole", "tenant-apps")), r08.MSG_BEYOND_ALLOWLIST, about=ACME_BINDING),
    stack_edit("rbac08-aggregate-everything", "ISO-RBAC-08", then(
        adding(cluster_role("greedy", [], selectors=[{}])),
        role_ref("ClusterRole", "greedy")), r08.MSG_BEYOND_ALLOWLIST, about=ACME_BINDING),
    stack_edit("rbac08-secrets-aggregated-into-view", "ISO-RBAC-08", then(
        adding(cluster_role("secret-view", [rule([""], ["secrets"], ["list"])],
                            labels={"rbac.authorization.k8s.io/aggregate-to-view": "true"})),
        role_ref("ClusterRole", "view")), r08.MSG_BEYOND_ALLOWLIST, about=ACME_BINDING),
    stack_edit("rbac08-patch-labels-builtin-into-aggregate", "ISO-RBAC-08", then(
        adding(APPS_ROLE, APPS_PIECE, lambda: f.resource(
            f"kubernetes:{RBAC}/v1:ClusterRolePatch", "kcm-label", {"metadata": {
                "name": "system:kube-controller-manager", "labels": {AGGREGATE_LABEL: "true"}}})),
        role_ref("ClusterRole", "tenant-apps")), r08.MSG_BEYOND_ALLOWLIST, about=ACME_BINDING),
    stack_edit("rbac08-binding-in-a-list", "ISO-RBAC-08", adding(lambda: f.resource(
        f"kubernetes:{RBAC}/v1:RoleBindingList", "acme-bindings", {"items": [{
            "metadata": {"name": "edit", "namespace": "tenant-acme"},
            "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "edit"},
            "subjects": [group("tenant:acme:admins")]}]})),
        r08.MSG_BEYOND_ALLOWLIST, about="acme-bindings"),
    widened("networkpolicies", "networking.k8s.io"),
    widened("resourcequotas"),
    widened("endpoints"),
    widened("virtualservices", "networking.istio.io"),
    widened("serviceaccounts/token"),
    # Roles the pack cannot know.
    stack_edit("rbac08-missing-role", "ISO-RBAC-08", role_ref("Role", "tenant-operator"),
               r08.MSG_UNKNOWN_ROLE, about=ACME_BINDING),
    stack_edit("rbac08-role-of-other-namespace", "ISO-RBAC-08",
               changing(ROLE, "acme-viewer", ("metadata", "namespace"), "tenant-bolt"),
               r08.MSG_UNKNOWN_ROLE, about=ACME_BINDING),
    stack_edit("rbac08-controller-role", "ISO-RBAC-08",
               role_ref("ClusterRole", "system:controller:namespace-controller"),
               r08.MSG_UNKNOWN_ROLE, about=ACME_BINDING),
    # EKS access entries of tenant principals.
    stack_edit("rbac08-entry-masters", "ISO-RBAC-08",
               adding(entry(["tenant:acme:admins", "system:masters"])),
               r08.MSG_ENTRY_GROUPS, about="acme-access-admin"),
    stack_edit("rbac08-entry-only-masters", "ISO-RBAC-08", adding(entry(["system:masters"])),
               r08.MSG_ENTRY_GROUPS, about="acme-access-admin"),
    stack_edit("rbac08-entry-other-tenant", "ISO-RBAC-08",
               adding(entry(["tenant:acme:admins", "tenant:bolt:admins"])),
               r08.MSG_ENTRY_GROUPS, about="acme-access-admin"),
    stack_edit("rbac08-entry-node", "ISO-RBAC-08",
               adding(entry(["tenant:acme:admins"], type="EC2_LINUX")),
               r08.MSG_ENTRY_GROUPS, r08.MSG_ENTRY_IDENTITY, about="acme-access-admin"),
    stack_edit("rbac08-entry-system-user", "ISO-RBAC-08",
               adding(entry(["tenant:acme:admins"], userName="system:kube-controller-manager")),
               r08.MSG_ENTRY_IDENTITY, about="acme-access-admin"),
    # EKS access policies of tenant principals.
    stack_edit("rbac08-cluster-admin-policy", "ISO-RBAC-08",
               adding(TENANT_ENTRY, association("AmazonEKSClusterAdminPolicy", {"type": "cluster"})),
               r08.MSG_ACCESS_POLICY, r08.MSG_ACCESS_SCOPE,
               about="acme-access-amazoneksclusteradminpolicy"),
    stack_edit("rbac08-admin-policy-other-namespace", "ISO-RBAC-08",
               adding(TENANT_ENTRY, association("AmazonEKSAdminPolicy", {
                   "type": "namespace", "namespaces": ["tenant-acme", "tenant-bolt"]})),
               r08.MSG_ACCESS_POLICY, r08.MSG_ACCESS_SCOPE, about="acme-access-amazoneksadminpolicy"),
    stack_edit("rbac08-view-policy-own-namespace", "ISO-RBAC-08",
               adding(TENANT_ENTRY, association("AmazonEKSViewPolicy", NS_SCOPE)),
               r08.MSG_ACCESS_POLICY, about="acme-access-amazoneksviewpolicy"),
    stack_edit("rbac08-policy-namespace-wildcard", "ISO-RBAC-08",
               adding(TENANT_ENTRY, association("AmazonEKSViewPolicy", {
                   "type": "namespace", "namespaces": ["tenant-*"]})),
               r08.MSG_ACCESS_POLICY, r08.MSG_ACCESS_SCOPE, about="acme-access-amazoneksviewpolicy"),
]


@params(CASES)
def test_rule_reports_seeded_violation(case: Case) -> None:
    check(case)


COMPLIANT = {
    "baseline": lambda s: s,
    "tenant-access-entry": adding(TENANT_ENTRY),
    "aggregated-within-allowlist": then(adding(APPS_ROLE, APPS_PIECE),
                                        role_ref("ClusterRole", "tenant-apps")),
    "platform-admin-tagged-for-tenant": adding(
        lambda: f.resource(ENTRY, "delta-platform-admin", {
            "principalArn": f"arn:aws:iam::{f.ACCOUNT}:role/tp-{f.ENV}-platform-admin",
            "type": "STANDARD", "tags": f.tags("acme")}),
        association("AmazonEKSClusterAdminPolicy", {"type": "cluster"},
                    principal=f"arn:aws:iam::{f.ACCOUNT}:role/tp-{f.ENV}-platform-admin")),
    "platform-crb": adding(crb("istio-reader", "view", [
        {"kind": "ServiceAccount", "name": "istiod", "namespace": "istio-system"}])),
}


@pytest.mark.parametrize("edit", COMPLIANT.values(), ids=COMPLIANT.keys())
def test_compliant_stacks_pass(edit: Edit) -> None:
    found = [v for v in evaluate(edit(f.shared_stack())) if v["policy"] == "ISO-RBAC-08"]
    assert found == []


def test_dedicated_baseline_passes() -> None:
    assert [v for v in evaluate(f.dedicated_stack(), "dedicated") if v["policy"] == "ISO-RBAC-08"] == []


# --- the resolver -------------------------------------------------------------------------
def permissions_of(index: rbac.RoleIndex, name: str) -> set[tuple[str, str, str]]:
    resolved = index.cluster_role(name)
    assert resolved.known
    return {(p.api_group, p.resource, p.verb) for p in rbac.permissions(resolved.rules)}


def test_builtin_data_is_the_pinned_kubernetes_release_with_its_source() -> None:
    document = yaml.safe_load(rbac.BUILTIN_PATH.read_text())
    assert document["kubernetes"] == KUBERNETES_VERSION
    assert document["source"]["repository"] == "kubernetes/kubernetes"
    assert len(document["source"]["commit"]) == 40
    names = {r["name"] for r in document["clusterRoles"]}
    assert {"cluster-admin", "admin", "edit", "view", "system:aggregate-to-edit",
            "system:node", "system:kube-controller-manager"} <= names


def test_builtin_aggregation_chains_view_into_edit_into_admin() -> None:
    index = rbac.RoleIndex(())
    view, edit, admin = (permissions_of(index, n) for n in ("view", "edit", "admin"))
    assert ("", "pods", "list") in view and ("", "secrets", "get") not in view
    assert view <= edit <= admin
    assert {("", "pods/exec", "create"), ("", "secrets", "list"),
            ("", "serviceaccounts", "impersonate"), ("", "serviceaccounts/token", "create"),
            ("networking.k8s.io", "networkpolicies", "patch")} <= edit
    assert (RBAC, "rolebindings", "create") in admin and (RBAC, "rolebindings", "create") not in edit
    assert ("*", "*", "*") in permissions_of(index, "cluster-admin")


def test_stack_cluster_role_labelled_aggregate_to_edit_adds_to_edit_and_admin() -> None:
    extra = f.resource(CLUSTER_ROLE, "certs", {"metadata": {
        "name": "cert-manager-edit", "labels": {"rbac.authorization.k8s.io/aggregate-to-edit": "true"}},
        "rules": [rule(["cert-manager.io"], ["certificates"], ["create"])]})
    index = rbac.RoleIndex([rbac_resource(extra)])
    assert ("cert-manager.io", "certificates", "create") in permissions_of(index, "admin")
    assert ("cert-manager.io", "certificates", "create") not in permissions_of(index, "view")


def test_aggregation_cycles_terminate() -> None:
    a = cluster_role("a", [rule([""], ["pods"], ["get"])], labels={"x": "a"},
                     selectors=[{"matchLabels": {"x": "b"}}])()
    b = cluster_role("b", [rule([""], ["nodes"], ["get"])], labels={"x": "b"},
                     selectors=[{"matchLabels": {"x": "a"}}])()
    index = rbac.RoleIndex([rbac_resource(a), rbac_resource(b)])
    assert permissions_of(index, "a") == {("", "pods", "get"), ("", "nodes", "get")}


@pytest.mark.parametrize(("selector", "matches"), [
    ({}, True),
    ({"matchLabels": {"k": "v"}}, True),
    ({"matchLabels": {"k": "w"}}, False),
    ({"matchExpressions": [{"key": "k", "operator": "In", "values": ["v", "w"]}]}, True),
    ({"matchExpressions": [{"key": "k", "operator": "NotIn", "values": ["v"]}]}, False),
    ({"matchExpressions": [{"key": "other", "operator": "NotIn", "values": ["v"]}]}, True),
    ({"matchExpressions": [{"key": "k", "operator": "Exists"}]}, True),
    ({"matchExpressions": [{"key": "k", "operator": "DoesNotExist"}]}, False),
    ({"matchExpressions": [{"key": "k", "operator": "Bogus"}]}, False),
])
def test_label_selectors(selector: dict[str, Any], matches: bool) -> None:
    assert rbac.selector_matches(selector, {"k": "v"}) is matches


@pytest.mark.parametrize(("subject", "owners"), [
    (group("tenant:acme:admins"), {"acme"}),
    (group("tenant:acme:anything:else"), {"acme"}),
    (group("tenant:platform:ops"), set()),
    (group("tenant:Acme:admins"), {"Acme"}),
    ({"kind": "ServiceAccount", "name": "x", "namespace": "tenant-x"}, {"x"}),
    (group("system:serviceaccounts:tenant-acme"), {"acme"}),
    (group("system:authenticated"), {rbac.EVERY_TENANT}),
    (group("ops"), set()),
    ({"kind": "ServiceAccount", "name": "x", "namespace": "tenant-bolt"}, {"bolt"}),
    ({"kind": "ServiceAccount", "name": "x"}, {"acme"}),
    ({"kind": "ServiceAccount", "name": "x", "namespace": "monitoring"}, set()),
    ({"kind": "User", "name": "system:serviceaccount:tenant-bolt:x"}, {"bolt"}),
    ({"kind": "User", "name": TENANT_PRINCIPAL}, {"acme"}),
    (group("mapped"), {"acme"}),
])
def test_subject_tenants(subject: dict[str, Any], owners: set[str]) -> None:
    entries = rbac.access_entries([rbac_resource(entry(["tenant:acme:admins", "mapped"])())])
    identities = rbac.Identities.of(entries)
    assert rbac.subject_tenants(subject, "tenant-acme", identities) == owners


def test_tenant_roles_are_within_the_allowlist_and_the_allowlist_holds_no_dangerous_right() -> None:
    for role in access.ROLES:
        assert rbac.beyond_allowlist(access.rules(role)) == []
    dangerous = [p for p in access.ALLOWED if p[2] in {"escalate", "bind", "impersonate", "*"}
                 or p[1] in {"pods/exec", "pods/attach", "pods/portforward", "serviceaccounts/token"}
                 or (p[1] == "secrets" and p[2] in {"get", "list", "watch"})]
    assert dangerous == []


def rbac_resource(res: dict[str, Any]) -> Resource:
    return Resource(res["type"], res["inputs"], res["urn"], res["name"])
