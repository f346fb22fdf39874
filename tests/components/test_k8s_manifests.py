"""The fence's Kubernetes objects, built by pure functions: exact content and strict schema."""

from __future__ import annotations

import ipaddress

import jsonschema
import kubernetes_validate
import pytest

from components import k8s_manifests as m
from tenants import naming
from tenants.plans import load_plans
from tests.components import manifest_checks

PLANS = sorted(load_plans())
NS = "tenant-acme"
LABELS = {"tenant": "acme", "tier": "namespace", "plan": "standard",
          "app.kubernetes.io/managed-by": "tenant-platform"}
VPC = "10.0.0.0/16"


def every_manifest(plan_name: str) -> list[dict]:
    plan = load_plans()[plan_name]
    return [
        m.namespace(NS, LABELS, "1.33"),
        m.resource_quota(NS, LABELS, plan.quota),
        m.limit_range(NS, LABELS, plan.container_defaults),
        *m.network_policies(NS, LABELS, vpc_cidr=VPC, database_cidrs=[VPC]),
        *m.roles(NS, LABELS),
        m.role_binding("tenant-admins", m.ADMIN_ROLE, NS, LABELS, ["tenant:acme:admins"]),
        m.peer_authentication(NS, LABELS),
        *m.authorization_policies(NS, LABELS),
        m.sidecar(NS, LABELS),
        *m.service_entries(NS, LABELS, [VPC]),
        m.gateway_rate_limit("acme", "acme.files.example.com", plan.rate_limit_rps,
                             {naming.LABEL_FOR_TENANT: "acme"}),
    ]


@pytest.mark.parametrize("plan", PLANS)
def test_every_object_validates_strictly(plan):
    manifest_checks.validate_all(every_manifest(plan))


@pytest.mark.parametrize(("kind", "mutate", "error"), [
    ("NetworkPolicy", lambda o: o["spec"].update(podSelectr={}), kubernetes_validate.ValidationError),
    ("ResourceQuota", lambda o: o["spec"].update(hard=["pods"]), kubernetes_validate.ValidationError),
    ("PeerAuthentication", lambda o: o["spec"]["mtls"].update(mode="STRICTER"), jsonschema.ValidationError),
    ("AuthorizationPolicy", lambda o: o["spec"].update(actions="ALLOW"), jsonschema.ValidationError),
    ("EnvoyFilter", lambda o: o["spec"]["configPatches"][0].update(applyTo="HTTP_FILTERS"),
     jsonschema.ValidationError),
    ("Sidecar", lambda o: o["spec"]["outboundTrafficPolicy"].update(mode="DENY"), jsonschema.ValidationError),
], ids=["netpol-typo", "quota-type", "mtls-mode", "authz-field", "envoyfilter-applyto", "sidecar-mode"])
def test_validation_catches_a_seeded_mistake(kind, mutate, error):
    obj = next(o for o in every_manifest("standard") if o["kind"] == kind)
    manifest_checks.validate(obj)
    mutate(obj)
    with pytest.raises(error):
        manifest_checks.validate(obj)


def test_namespace_enforces_restricted_pod_security_pinned_to_the_platform_version():
    labels = m.namespace(NS, LABELS, "1.33")["metadata"]["labels"]
    assert {k: v for k, v in labels.items() if k.startswith("pod-security")} == {
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "v1.33",
        "pod-security.kubernetes.io/audit": "restricted",
        "pod-security.kubernetes.io/audit-version": "v1.33",
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/warn-version": "v1.33",
    }
    assert labels["istio-injection"] == "enabled"
    assert all(labels[k] == v for k, v in LABELS.items())


@pytest.mark.parametrize(("plan", "expected"), [
    ("starter", {"requests.cpu": "1500m", "requests.memory": "2560Mi", "requests.storage": "20Gi",
                 "pods": "10", "persistentvolumeclaims": "2", "services": "5", "secrets": "10",
                 "configmaps": "10"}),
    ("standard", {"requests.cpu": "4", "requests.memory": "8Gi", "requests.storage": "100Gi",
                  "pods": "25", "persistentvolumeclaims": "5", "services": "10", "secrets": "20",
                  "configmaps": "20"}),
    ("enterprise", {"requests.cpu": "16", "requests.memory": "32Gi", "requests.storage": "1Ti",
                    "pods": "100", "persistentvolumeclaims": "20", "services": "30", "secrets": "50",
                    "configmaps": "50"}),
], ids=["starter", "standard", "enterprise"])
def test_quota_comes_from_the_plan_and_forbids_node_ports_and_load_balancers(plan, expected):
    quota = m.resource_quota(NS, LABELS, load_plans()[plan].quota)
    assert quota["metadata"] == {"name": "tenant-quota", "namespace": NS, "labels": LABELS}
    hard = quota["spec"]["hard"]
    assert {k: hard[k] for k in expected} == expected
    assert (hard["services.nodeports"], hard["services.loadbalancers"]) == ("0", "0")
    assert set(hard) == {*expected, "services.nodeports", "services.loadbalancers", "limits.cpu",
                         "limits.memory", "requests.ephemeral-storage", "limits.ephemeral-storage"}


@pytest.mark.parametrize("plan", PLANS)
def test_limit_range_gives_plan_defaults_and_bounds(plan):
    lr = load_plans()[plan].limit_range
    assert m.limit_range(NS, LABELS, lr)["spec"] == {"limits": [
        {"type": "Container", "default": lr.default.manifest(),
         "defaultRequest": lr.default_request.manifest(), "min": lr.min.manifest(), "max": lr.max.manifest()},
        {"type": "Pod", "max": lr.pod_max.manifest()},
        {"type": "PersistentVolumeClaim", "min": {"storage": lr.pvc.min}, "max": {"storage": lr.pvc.max}}]}
    assert set(lr.max.manifest()) == {"cpu", "memory", "ephemeral-storage"}


@pytest.mark.parametrize("plan", PLANS)
def test_quota_is_unscoped_and_budgets_requests_and_limits(plan):
    quota = load_plans()[plan].quota
    manifest = m.resource_quota(NS, LABELS, quota)
    assert set(manifest["spec"]) == {"hard"}  # no scopes, no scopeSelector
    hard = manifest["spec"]["hard"]
    assert (hard["limits.cpu"], hard["limits.memory"]) == (quota.limits_cpu, quota.limits_memory)
    assert (hard["requests.ephemeral-storage"], hard["limits.ephemeral-storage"]) == (
        quota.ephemeral_storage, quota.limits_ephemeral_storage)


def _policies(database=(VPC,)):
    return {p["metadata"]["name"]: p for p in m.network_policies(NS, LABELS, vpc_cidr=VPC,
                                                                  database_cidrs=database)}


def test_network_policies_deny_by_default_then_allow_by_purpose():
    policies = _policies()
    assert list(policies) == ["default-deny", "allow-same-namespace", "allow-dns",
                              "allow-to-mesh-control-plane", "allow-from-ingress-gateway",
                              "allow-from-monitoring", "allow-to-public-https", "allow-to-database"]
    assert policies["default-deny"]["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    assert all(p["spec"]["podSelector"] == {} for p in policies.values())
    assert policies["allow-same-namespace"]["spec"]["ingress"] == [{"from": [{"podSelector": {}}]}]
    assert policies["allow-same-namespace"]["spec"]["egress"] == [{"to": [{"podSelector": {}}]}]


def test_dns_goes_to_the_cluster_dns_only():
    assert _policies()["allow-dns"]["spec"]["egress"] == [{
        "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}]


def test_ingress_only_from_the_gateway_pods_and_monitoring():
    policies = _policies()
    ingress = {name: p["spec"]["ingress"] for name, p in policies.items() if "ingress" in p["spec"]}
    assert ingress == {
        "allow-same-namespace": [{"from": [{"podSelector": {}}]}],
        "allow-from-ingress-gateway": [{"from": [{
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "istio-ingress"}},
            "podSelector": {"matchLabels": {"istio": "ingressgateway"}}}]}],
        "allow-from-monitoring": [{"from": [{
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]}],
    }


def _egress_cidrs(policy):
    return [peer["ipBlock"] for rule in policy["spec"].get("egress", []) for peer in rule.get("to", [])
            if "ipBlock" in peer]


@pytest.mark.parametrize("address", ["169.254.169.254", "10.0.3.7", "10.200.0.1", "172.20.0.1",
                                     "192.168.1.1", "100.64.0.10", "127.0.0.1", "169.254.170.23"],
                         ids=lambda a: a)
def test_no_egress_rule_reaches_metadata_service_or_private_addresses(address):
    """Only the database rule may reach the VPC, and only on 5432; nothing reaches IMDS."""
    ip = ipaddress.ip_address(address)
    for name, policy in _policies().items():
        for block in _egress_cidrs(policy):
            inside = ip in ipaddress.ip_network(block["cidr"]) and not any(
                ip in ipaddress.ip_network(e) for e in block.get("except", []))
            if inside:
                assert name == "allow-to-database" and ip in ipaddress.ip_network(VPC), (name, address)
                assert policy["spec"]["egress"][0]["ports"] == [{"protocol": "TCP", "port": 5432}]


def test_public_egress_is_https_only_and_names_the_metadata_service():
    policy = _policies()["allow-to-public-https"]
    [rule] = policy["spec"]["egress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 443}]
    assert rule["to"][0]["ipBlock"]["cidr"] == "0.0.0.0/0"
    assert {VPC, "169.254.169.254/32", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"} <= set(
        rule["to"][0]["ipBlock"]["except"])


def test_no_database_egress_when_there_is_no_database():
    assert "allow-to-database" not in _policies(database=())


def test_no_policy_selects_every_namespace():
    def peers(policy):
        for rule in policy["spec"].get("ingress", []):
            yield from rule["from"]
        for rule in policy["spec"].get("egress", []):
            yield from rule.get("to", [])
    for policy in _policies().values():
        assert all(peer.get("namespaceSelector") != {} for peer in peers(policy)), policy


FORBIDDEN_VERBS = {"*", "escalate", "bind", "impersonate"}
PLATFORM_OWNED = {"resourcequotas", "limitranges", "networkpolicies", "roles", "rolebindings",
                  "peerauthentications", "authorizationpolicies", "sidecars", "envoyfilters",
                  "gateways", "serviceentries", "serviceaccounts"}


@pytest.mark.parametrize("role", [m.ADMIN_ROLE, m.VIEWER_ROLE])
def test_roles_grant_no_wildcards_escalation_exec_or_secret_reads(role):
    rules = next(r for r in m.roles(NS, LABELS) if r["metadata"]["name"] == role)["rules"]
    for rule in rules:
        assert "*" not in rule["apiGroups"] and "*" not in rule["resources"]
        assert not FORBIDDEN_VERBS & set(rule["verbs"])
        assert not {"pods/exec", "pods/attach", "pods/portforward", "nodes/proxy",
                    "services/status", "serviceaccounts/token"} & set(rule["resources"])
        if "secrets" in rule["resources"]:
            assert not {"get", "list", "watch"} & set(rule["verbs"]), "no broad read of secrets"
        if PLATFORM_OWNED & set(rule["resources"]):
            assert set(rule["verbs"]) <= {"get", "list", "watch"}, rule


def _granted(rules):
    return {(r["apiGroups"][0], res, verb) for r in rules for res in r["resources"] for verb in r["verbs"]}


#: The only writes a tenant admin has: restart pods, scale the apps, set their settings and
#: credentials. Everything else (pod specs, Services, Endpoints, volumes, PDBs, HPAs, quotas,
#: NetworkPolicies, Istio, cert-manager, RBAC, ServiceAccounts) is read-only or invisible.
ADMIN_WRITES = {
    ("", "pods", "delete"),
    ("apps", "deployments/scale", "update"), ("apps", "deployments/scale", "patch"),
    ("apps", "statefulsets/scale", "update"), ("apps", "statefulsets/scale", "patch"),
    *{("", kind, verb) for kind in ("configmaps", "secrets")
      for verb in ("create", "update", "patch", "delete")},
}
READ_VERBS = {"get", "list", "watch"}


def test_admin_role_writes_exactly_what_operating_the_apps_needs():
    granted = _granted(m.TENANT_ADMIN_RULES)
    assert {p for p in granted if p[2] not in READ_VERBS} == ADMIN_WRITES
    assert ("", "secrets", "get") not in granted and ("", "secrets", "list") not in granted
    for kind in ("services", "endpoints", "persistentvolumeclaims", "resourcequotas", "limitranges"):
        assert ("", kind, "list") in granted and ("", kind, "create") not in granted
    assert ("apps", "deployments", "watch") in granted and ("apps", "deployments", "patch") not in granted
    assert not {p for p in granted if p[0] in {"cert-manager.io", "networking.istio.io",
                                               "rbac.authorization.k8s.io", "gateway.networking.k8s.io"}}


def test_viewer_role_only_reads_and_never_secrets():
    granted = _granted(m.TENANT_VIEWER_RULES)
    assert {p[2] for p in granted} <= READ_VERBS
    assert not {p for p in granted if p[1] == "secrets"}
    assert granted <= _granted(m.TENANT_ADMIN_RULES)


def test_roles_are_the_allowlist_that_the_policy_pack_reads():
    from tenants import access
    rendered = {r["metadata"]["name"]: r["rules"] for r in m.roles(NS, LABELS)}
    assert rendered == {role: access.rules(role) for role in access.ROLES}
    assert all(grant.why for grants in access.ROLES.values() for grant in grants)


def test_role_binding_binds_a_namespaced_role_to_groups():
    binding = m.role_binding("tenant-admins", m.ADMIN_ROLE, NS, LABELS, ["tenant:acme:admins"])
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                  "name": "tenant-admin"}
    assert binding["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                                    "name": "tenant:acme:admins"}]


def test_mesh_requires_mtls_and_allows_only_the_tenant_the_gateway_and_monitoring():
    assert m.peer_authentication(NS, LABELS)["spec"] == {"mtls": {"mode": "STRICT"}}
    nothing, tenant = m.authorization_policies(NS, LABELS)
    assert (nothing["metadata"]["name"], nothing["spec"]) == ("allow-nothing", {})
    assert tenant["spec"] == {"action": "ALLOW", "rules": [{"from": [
        {"source": {"namespaces": [NS]}}, {"source": {"namespaces": ["istio-ingress"]}},
        {"source": {"namespaces": ["monitoring"]}}]}]}


def test_sidecar_scope_and_registered_external_services():
    assert m.sidecar(NS, LABELS)["spec"] == {
        "egress": [{"hosts": ["./*", "istio-system/*"]}],
        "outboundTrafficPolicy": {"mode": "REGISTRY_ONLY"}}
    aws, database = m.service_entries(NS, LABELS, [VPC])
    assert aws["spec"]["hosts"] == ["*.amazonaws.com"] and aws["spec"]["exportTo"] == ["."]
    assert aws["spec"]["ports"] == [{"number": 443, "name": "tls", "protocol": "TLS"}]
    assert database["spec"]["addresses"] == [VPC] and database["spec"]["exportTo"] == ["."]
    assert database["spec"]["ports"] == [{"number": 5432, "name": "tcp-postgres", "protocol": "TCP"}]


@pytest.mark.parametrize("plan", PLANS)
def test_gateway_rate_limit_buckets_the_tenant_host_at_the_plan_rate(plan):
    rps = load_plans()[plan].rate_limit_rps
    ef = m.gateway_rate_limit("acme", "acme.files.example.com", rps, {naming.LABEL_FOR_TENANT: "acme"})
    assert ef["metadata"] == {"name": "ratelimit-acme", "namespace": "istio-ingress",
                              "labels": {naming.LABEL_FOR_TENANT: "acme"}}
    assert ef["spec"]["workloadSelector"] == {"labels": {"istio": "ingressgateway"}}
    insert, vhost = ef["spec"]["configPatches"]
    assert insert["applyTo"] == "HTTP_FILTER" and insert["patch"]["operation"] == "INSERT_BEFORE"
    assert insert["patch"]["value"]["name"] == "tenant-platform.ratelimit.acme"
    assert "token_bucket" not in insert["patch"]["value"]["typed_config"]["value"], "pass-through globally"
    assert vhost["match"] == {"context": "GATEWAY",
                              "routeConfiguration": {"vhost": {"name": "acme.files.example.com:443"}}}
    per_route = vhost["patch"]["value"]["typed_per_filter_config"]
    assert list(per_route) == ["tenant-platform.ratelimit.acme"], "keyed by this tenant's own filter"
    bucket = per_route["tenant-platform.ratelimit.acme"]["value"]["token_bucket"]
    assert bucket == {"max_tokens": rps, "tokens_per_fill": rps, "fill_interval": "1s"}


def test_two_tenants_rate_limiters_never_share_a_filter_name():
    a = m.gateway_rate_limit("alpha", "a.example.com", 10, {})
    b = m.gateway_rate_limit("beta", "b.example.com", 10, {})
    names = {ef["spec"]["configPatches"][0]["patch"]["value"]["name"] for ef in (a, b)}
    assert len(names) == 2
    assert a["metadata"]["name"] != b["metadata"]["name"]
