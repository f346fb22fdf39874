"""Seeded violations of the namespace (NS) and RBAC rules."""

from __future__ import annotations

from typing import Any

from policy.rules import (
    iso_ns_01,
    iso_ns_02,
    iso_ns_06,
    iso_rbac_01,
    iso_rbac_02,
    iso_rbac_03,
    iso_rbac_04,
    iso_rbac_05,
    iso_rbac_06,
    iso_rbac_07,
)
from tests.policy import fixtures as f
from tests.policy.cases import Case, alone, check, one, params

NS = "kubernetes:core/v1:Namespace"
PSA = "pod-security.kubernetes.io/"
RBAC = "rbac.authorization.k8s.io"


def cluster_role_binding(subjects: list[dict[str, Any]], **labels: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "reader"}
    if labels:
        meta["labels"] = labels
    return f.resource(f"kubernetes:{RBAC}/v1:ClusterRoleBinding", "crb", {
        "apiVersion": f"{RBAC}/v1", "kind": "ClusterRoleBinding", "metadata": meta,
        "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "view"}, "subjects": subjects})


def tenant_cluster_role(rules: list[dict[str, Any]]) -> dict[str, Any]:
    return f.resource(f"kubernetes:{RBAC}/v1:ClusterRole", "acme-clusterrole", {
        "apiVersion": f"{RBAC}/v1", "kind": "ClusterRole",
        "metadata": {"name": "acme-reader", "labels": f.labels("acme")}, "rules": rules})


def rule(groups: list[str], resources: list[str], verbs: list[str], **extra: Any) -> dict[str, Any]:
    return {"apiGroups": groups, "resources": resources, "verbs": verbs, **extra}


SUBJECTS = ("subjects",)
ROLE_RULES = ("rules",)

CASES: list[Case] = [
    # ISO-NS-01
    one("ns01-namespace-misnamed", "ISO-NS-01", f.namespace, ("metadata", "name"), "acme",
        iso_ns_01.MSG_NAMESPACE_NAME),
    one("ns01-namespace-unnamed", "ISO-NS-01", f.namespace, ("metadata", "name"), f.DELETE,
        iso_ns_01.MSG_NAMESPACE_NAME),
    one("ns01-no-namespace", "ISO-NS-01", f.deployment, ("metadata", "namespace"), f.DELETE,
        iso_ns_01.MSG_NO_NAMESPACE),
    one("ns01-default", "ISO-NS-01", f.service, ("metadata", "namespace"), "default",
        iso_ns_01.MSG_SYSTEM_NAMESPACE),
    one("ns01-kube-system", "ISO-NS-01", f.role, ("metadata", "namespace"), "kube-system",
        iso_ns_01.MSG_SYSTEM_NAMESPACE),
    one("ns01-other-tenant", "ISO-NS-01", f.deployment, ("metadata", "namespace"), "tenant-bolt",
        iso_ns_01.MSG_OTHER_NAMESPACE),
    # ISO-NS-02
    one("ns02-no-enforce", "ISO-NS-02", f.namespace, ("metadata", "labels", PSA + "enforce"), f.DELETE,
        iso_ns_02.MSG_ENFORCE),
    one("ns02-baseline", "ISO-NS-02", f.namespace, ("metadata", "labels", PSA + "enforce"), "baseline",
        iso_ns_02.MSG_ENFORCE),
    one("ns02-latest", "ISO-NS-02", f.namespace, ("metadata", "labels", PSA + "enforce-version"),
        "latest", iso_ns_02.MSG_VERSION),
    one("ns02-unpinned", "ISO-NS-02", f.namespace, ("metadata", "labels", PSA + "enforce-version"),
        f.DELETE, iso_ns_02.MSG_VERSION),
    one("ns02-no-audit", "ISO-NS-02", f.namespace, ("metadata", "labels", PSA + "audit"), f.DELETE,
        iso_ns_02.MSG_AUDIT),
    one("ns02-warn-privileged", "ISO-NS-02", f.namespace, ("metadata", "labels", PSA + "warn"),
        "privileged", iso_ns_02.MSG_WARN),
    one("ns02-no-labels", "ISO-NS-02", f.namespace, ("metadata", "labels"), {"tenant": "acme"},
        iso_ns_02.MSG_ENFORCE, iso_ns_02.MSG_VERSION, iso_ns_02.MSG_AUDIT, iso_ns_02.MSG_WARN),
    # ISO-NS-03, ISO-NS-04 and ISO-NS-05 (fair shares): tests/policy/test_rules_quota.py
    # ISO-NS-06
    one("ns06-quota-unlabelled", "ISO-NS-06", f.resource_quota,
        ("metadata", "labels", "app.kubernetes.io/managed-by"), f.DELETE, iso_ns_06.MSG_UNLABELED),
    one("ns06-netpol-unlabelled", "ISO-NS-06", f.deny_all,
        ("metadata", "labels", "app.kubernetes.io/managed-by"), "helm", iso_ns_06.MSG_UNLABELED),
    one("ns06-binding-unlabelled", "ISO-NS-06", f.role_binding, ("metadata", "labels"),
        {"tenant": "acme"}, iso_ns_06.MSG_UNLABELED),
    one("ns06-role-edits-quota", "ISO-NS-06", f.role, ROLE_RULES + (0,),
        rule([""], ["resourcequotas"], ["patch"]), iso_ns_06.MSG_ROLE_MODIFIES),
    one("ns06-role-edits-netpol", "ISO-NS-06", f.role, ROLE_RULES + (0,),
        rule(["networking.k8s.io"], ["*"], ["delete"]), iso_ns_06.MSG_ROLE_MODIFIES),
    one("ns06-role-edits-bindings", "ISO-NS-06", f.role, ROLE_RULES + (0,),
        rule([RBAC], ["rolebindings"], ["*"]), iso_ns_06.MSG_ROLE_MODIFIES),
    one("ns06-role-edits-authz", "ISO-NS-06", f.role, ROLE_RULES + (0,),
        rule(["security.istio.io"], ["authorizationpolicies"], ["create"]), iso_ns_06.MSG_ROLE_MODIFIES),
    one("ns06-role-edits-sidecar", "ISO-NS-06", f.role, ROLE_RULES + (0,),
        rule(["networking.istio.io"], ["sidecars"], ["update"]), iso_ns_06.MSG_ROLE_MODIFIES),
    alone("ns06-cluster-role-edits-netpol", "ISO-NS-06", lambda: tenant_cluster_role(
        [rule(["extensions"], ["networkpolicies"], ["create"])]), iso_ns_06.MSG_ROLE_MODIFIES),
    # ISO-RBAC-01
    alone("rbac01-platform-named-tenant-group", "ISO-RBAC-01", lambda: cluster_role_binding(
        [{"kind": "Group", "name": "tenant:acme:admins", "apiGroup": RBAC}]),
        iso_rbac_01.MSG_TENANT_SUBJECT),
    alone("rbac01-patch-adds-tenant-group", "ISO-RBAC-01", lambda: f.resource(
        f"kubernetes:{RBAC}/v1:ClusterRoleBindingPatch", "crb-patch", {
            "metadata": {"name": "cluster-admin"},
            "subjects": [{"kind": "Group", "name": "tenant:acme:admins", "apiGroup": RBAC}]}),
        iso_rbac_01.MSG_TENANT_SUBJECT),
    alone("rbac01-tenant-sa-user", "ISO-RBAC-01", lambda: cluster_role_binding(
        [{"kind": "User", "name": "system:serviceaccount:tenant-acme:fileserver", "apiGroup": RBAC}]),
        iso_rbac_01.MSG_TENANT_SUBJECT),
    alone("rbac01-tenant-sa", "ISO-RBAC-01", lambda: cluster_role_binding(
        [{"kind": "ServiceAccount", "name": "fileserver", "namespace": "tenant-acme"}]),
        iso_rbac_01.MSG_TENANT_SUBJECT),
    alone("rbac01-tenant-group", "ISO-RBAC-01", lambda: cluster_role_binding(
        [{"kind": "Group", "name": "tenant:acme:viewers", "apiGroup": RBAC}]),
        iso_rbac_01.MSG_TENANT_SUBJECT),
    alone("rbac01-tenant-sa-group", "ISO-RBAC-01", lambda: cluster_role_binding(
        [{"kind": "Group", "name": "system:serviceaccounts:tenant-acme", "apiGroup": RBAC}]),
        iso_rbac_01.MSG_TENANT_SUBJECT),
    alone("rbac01-authenticated", "ISO-RBAC-01", lambda: cluster_role_binding(
        [{"kind": "Group", "name": "system:authenticated", "apiGroup": RBAC}]),
        iso_rbac_01.MSG_TENANT_SUBJECT),
    alone("rbac01-tenant-owned", "ISO-RBAC-01", lambda: cluster_role_binding(
        [{"kind": "ServiceAccount", "name": "prometheus", "namespace": "monitoring"}], **f.labels("acme")),
        iso_rbac_01.MSG_TENANT_OWNED),
    # ISO-RBAC-02
    one("rbac02-other-tenant-sa", "ISO-RBAC-02", f.role_binding, SUBJECTS + (1, "namespace"),
        "tenant-bolt", iso_rbac_02.MSG_FOREIGN),
    one("rbac02-unrelated-namespace-sa", "ISO-RBAC-02", f.role_binding, SUBJECTS + (1, "namespace"),
        "default", iso_rbac_02.MSG_FOREIGN),
    one("rbac02-other-tenant-group", "ISO-RBAC-02", f.role_binding, SUBJECTS + (0, "name"),
        "tenant:bolt:viewers", iso_rbac_02.MSG_FOREIGN),
    one("rbac02-other-namespace-sas", "ISO-RBAC-02", f.role_binding, SUBJECTS + (0, "name"),
        "system:serviceaccounts:tenant-bolt", iso_rbac_02.MSG_FOREIGN),
    one("rbac02-everyone", "ISO-RBAC-02", f.role_binding, SUBJECTS + (0, "name"),
        "system:authenticated", iso_rbac_02.MSG_EVERYONE),
    one("rbac02-all-sas", "ISO-RBAC-02", f.role_binding, SUBJECTS + (0, "name"),
        "system:serviceaccounts", iso_rbac_02.MSG_EVERYONE),
    one("rbac02-other-tenant-sa-user", "ISO-RBAC-02", f.role_binding, SUBJECTS + (0,),
        {"kind": "User", "name": "system:serviceaccount:tenant-bolt:chatbot", "apiGroup": RBAC},
        iso_rbac_02.MSG_FOREIGN),
    one("rbac02-other-tenant-user", "ISO-RBAC-02", f.role_binding, SUBJECTS + (0,),
        {"kind": "User", "name": "arn:aws:iam::123456789012:role/tp-prod-bolt-operator",
         "apiGroup": RBAC}, iso_rbac_02.MSG_FOREIGN),
    # ISO-RBAC-03
    one("rbac03-verbs", "ISO-RBAC-03", f.role, ROLE_RULES + (0, "verbs"), ["*"], iso_rbac_03.MSG_VERBS),
    one("rbac03-resources", "ISO-RBAC-03", f.role, ROLE_RULES + (0, "resources"), ["*"],
        iso_rbac_03.MSG_RESOURCES),
    one("rbac03-groups", "ISO-RBAC-03", f.role, ROLE_RULES + (1, "apiGroups"), ["*"],
        iso_rbac_03.MSG_GROUPS),
    alone("rbac03-cluster-role", "ISO-RBAC-03", lambda: tenant_cluster_role([rule(["*"], ["*"], ["*"])]),
          iso_rbac_03.MSG_VERBS, iso_rbac_03.MSG_RESOURCES, iso_rbac_03.MSG_GROUPS),
    # ISO-RBAC-04
    one("rbac04-escalate", "ISO-RBAC-04", f.role, ROLE_RULES + (0, "verbs"), ["get", "escalate"],
        iso_rbac_04.MSG_ESCALATION_VERBS),
    one("rbac04-bind", "ISO-RBAC-04", f.role, ROLE_RULES + (0,), rule([RBAC], ["roles"], ["bind"]),
        iso_rbac_04.MSG_ESCALATION_VERBS),
    alone("rbac04-impersonate", "ISO-RBAC-04",
          lambda: tenant_cluster_role([rule([""], ["serviceaccounts"], ["impersonate"])]),
          iso_rbac_04.MSG_ESCALATION_VERBS),
    one("rbac04-binds-admin", "ISO-RBAC-04", f.role_binding, ("roleRef",),
        {"apiGroup": RBAC, "kind": "ClusterRole", "name": "admin"}, iso_rbac_04.MSG_ADMIN_ROLE),
    one("rbac04-binds-cluster-admin", "ISO-RBAC-04", f.role_binding, ("roleRef",),
        {"apiGroup": RBAC, "kind": "ClusterRole", "name": "cluster-admin"}, iso_rbac_04.MSG_ADMIN_ROLE),
    one("rbac04-binds-edit", "ISO-RBAC-04", f.role_binding, ("roleRef",),
        {"apiGroup": RBAC, "kind": "ClusterRole", "name": "edit"}, iso_rbac_04.MSG_ADMIN_ROLE),
    one("rbac04-star-verbs", "ISO-RBAC-04", f.role, ROLE_RULES + (0, "verbs"), ["*"],
        iso_rbac_04.MSG_ESCALATION_VERBS),
    # ISO-RBAC-05
    one("rbac05-portforward", "ISO-RBAC-05", f.role, ROLE_RULES + (0,),
        rule([""], ["pods/portforward"], ["create"]), iso_rbac_05.MSG_EXEC),
    one("rbac05-service-proxy", "ISO-RBAC-05", f.role, ROLE_RULES + (0,),
        rule([""], ["services/proxy"], ["get"]), iso_rbac_05.MSG_EXEC),
    one("rbac05-tokens", "ISO-RBAC-05", f.role, ROLE_RULES + (0,),
        rule([""], ["serviceaccounts/token"], ["create"]), iso_rbac_05.MSG_TOKENS),
    one("rbac05-binds-edit", "ISO-RBAC-05", f.role_binding, ("roleRef",),
        {"apiGroup": RBAC, "kind": "ClusterRole", "name": "edit"},
        iso_rbac_05.MSG_EXEC, iso_rbac_05.MSG_SECRETS_READ, iso_rbac_05.MSG_TOKENS),
    one("rbac05-exec", "ISO-RBAC-05", f.role, ROLE_RULES + (0,), rule([""], ["pods/exec"], ["create"]),
        iso_rbac_05.MSG_EXEC),
    one("rbac05-attach-get", "ISO-RBAC-05", f.role, ROLE_RULES + (0,),
        rule([""], ["pods/attach"], ["get"]), iso_rbac_05.MSG_EXEC),
    alone("rbac05-nodes-proxy", "ISO-RBAC-05",
          lambda: tenant_cluster_role([rule([""], ["nodes/proxy"], ["get"])]), iso_rbac_05.MSG_EXEC),
    one("rbac05-list-secrets", "ISO-RBAC-05", f.role, ROLE_RULES + (0, "resources"),
        ["pods", "secrets"], iso_rbac_05.MSG_SECRETS_READ),
    one("rbac05-get-all-secrets", "ISO-RBAC-05", f.role, ROLE_RULES + (0,),
        rule([""], ["secrets"], ["get"]), iso_rbac_05.MSG_SECRETS_READ),
    one("rbac05-service-status", "ISO-RBAC-05", f.role, ROLE_RULES + (0,),
        rule([""], ["services/status"], ["patch"]), iso_rbac_05.MSG_SERVICE_STATUS),
    one("rbac05-webhooks", "ISO-RBAC-05", f.role, ROLE_RULES + (0,),
        rule(["admissionregistration.k8s.io"], ["validatingwebhookconfigurations"], ["get"]),
        iso_rbac_05.MSG_CLUSTER_EXTENSIONS),
    one("rbac05-csr-approval", "ISO-RBAC-05", f.role, ROLE_RULES + (0,),
        rule(["certificates.k8s.io"], ["certificatesigningrequests/approval"], ["update"]),
        iso_rbac_05.MSG_CLUSTER_EXTENSIONS),
    alone("rbac05-crds", "ISO-RBAC-05", lambda: tenant_cluster_role(
        [rule(["apiextensions.k8s.io"], ["customresourcedefinitions"], ["create"])]),
        iso_rbac_05.MSG_CLUSTER_EXTENSIONS),
    # ISO-RBAC-06
    one("rbac06-default-sa", "ISO-RBAC-06", f.deployment,
        ("spec", "template", "spec", "serviceAccountName"), "default", iso_rbac_06.MSG_DEFAULT_SA),
    one("rbac06-no-sa", "ISO-RBAC-06", f.deployment,
        ("spec", "template", "spec", "serviceAccountName"), f.DELETE, iso_rbac_06.MSG_DEFAULT_SA),
    one("rbac06-binds-default", "ISO-RBAC-06", f.role_binding, SUBJECTS + (1, "name"), "default",
        iso_rbac_06.MSG_BINDS_DEFAULT),
    # ISO-RBAC-07
    one("rbac07-sa-automount", "ISO-RBAC-07", f.service_account, ("automountServiceAccountToken",),
        True, iso_rbac_07.MSG_SA_AUTOMOUNT),
    one("rbac07-sa-automount-unset", "ISO-RBAC-07", f.service_account,
        ("automountServiceAccountToken",), f.DELETE, iso_rbac_07.MSG_SA_AUTOMOUNT),
    one("rbac07-pod-automount-unset", "ISO-RBAC-07", f.deployment,
        ("spec", "template", "spec", "automountServiceAccountToken"), f.DELETE,
        iso_rbac_07.MSG_POD_AUTOMOUNT),
    one("rbac07-pod-automount", "ISO-RBAC-07", f.deployment,
        ("spec", "template", "spec", "automountServiceAccountToken"), True,
        iso_rbac_07.MSG_POD_AUTOMOUNT),
    alone("rbac07-token-secret", "ISO-RBAC-07", lambda: f.resource("kubernetes:core/v1:Secret", "tok", {
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
        "metadata": f.meta("fileserver-token", "acme",
                           annotations={"kubernetes.io/service-account.name": "fileserver"})}),
        iso_rbac_07.MSG_LONG_LIVED),
]


@params(CASES)
def test_rule_reports_seeded_violation(case: Case) -> None:
    check(case)
