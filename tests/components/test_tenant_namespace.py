"""TenantNamespace under the recording mock engine: the exact objects per tier and plan."""

from __future__ import annotations

import ipaddress
import itertools

import pulumi
import pytest

from components import k8s_manifests as m
from components.tenant_namespace import TenantNamespace, TenantNamespaceArgs
from tenantctl.mock_engine import run_program
from tenants import naming
from tenants.plans import load_plans
from tests.components import manifest_checks
from tests.factories import make_cluster_ref, make_context

TIERS = ["namespace", "node", "vcluster", "cluster"]
PLANS = sorted(load_plans())
NS = "tenant-acme"
CR = "kubernetes:"

#: (type, logical name) of every child every tenant gets, relative to the component name.
COMMON = [
    ("kubernetes:core/v1:Namespace", "namespace"),
    ("kubernetes:core/v1:ResourceQuota", "quota"),
    ("kubernetes:core/v1:LimitRange", "limits"),
    *[("kubernetes:networking.k8s.io/v1:NetworkPolicy", f"netpol-{p}") for p in (
        "default-deny", "allow-same-namespace", "allow-dns", "allow-to-mesh-control-plane",
        "allow-from-ingress-gateway", "allow-from-monitoring", "allow-to-public-https",
        "allow-to-database")],
    ("kubernetes:rbac.authorization.k8s.io/v1:Role", "role-tenant-admin"),
    ("kubernetes:rbac.authorization.k8s.io/v1:Role", "role-tenant-viewer"),
    ("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", "binding-admins"),
    ("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", "binding-viewers"),
    ("kubernetes:security.istio.io/v1:PeerAuthentication", "mesh-peer-authentication"),
    ("kubernetes:security.istio.io/v1:AuthorizationPolicy", "mesh-authz-allow-nothing"),
    ("kubernetes:security.istio.io/v1:AuthorizationPolicy", "mesh-authz-allow-tenant"),
    ("kubernetes:networking.istio.io/v1:Sidecar", "mesh-sidecar"),
    ("kubernetes:networking.istio.io/v1alpha3:EnvoyFilter", "gateway-rate-limit"),
    ("tenant-platform:index:WorkloadIdentity", "fileserver"),
    ("tenant-platform:index:WorkloadIdentity", "chatbot"),
]
#: Only where the platform writes every workload: the proxies refuse unregistered hosts.
REGISTRY_ONLY = [
    ("kubernetes:networking.istio.io/v1:ServiceEntry", "mesh-egress-aws-apis"),
    ("kubernetes:networking.istio.io/v1:ServiceEntry", "mesh-egress-database"),
]


def expected_children(tier: str) -> list[tuple[str, str]]:
    children = COMMON + (REGISTRY_ONLY if tier != "vcluster" else [])
    return sorted((t, f"acme-{n}") for t, n in children)


def run_namespace(tier="namespace", plan="standard", captured=None, **args):
    ctx_fields = args.pop("ctx_fields", {})

    def program():
        ctx = make_context(tier=tier, plan=plan, **ctx_fields)
        tn = TenantNamespace("acme", TenantNamespaceArgs(ctx=ctx, cluster=make_cluster_ref(), **args))
        if captured is not None:
            captured["identities"] = tn.identities
            return pulumi.Output.all(tn.namespace_name, *[i.service_account_name
                                                          for i in tn.identities.values()]).apply(
                lambda v: captured.update(values=v))
        return None
    return run_program(program)


def direct_children(run):
    return sorted((r.type, r.name) for r in run.children_of(run.named("acme").urn))


@pytest.mark.parametrize(("tier", "plan"), list(itertools.product(TIERS, PLANS)),
                         ids=[f"{t}-{p}" for t, p in itertools.product(TIERS, PLANS)])
def test_each_tier_and_plan_gets_exactly_its_fence(tier, plan):
    run = run_namespace(tier, plan)
    assert direct_children(run) == expected_children(tier)
    spec = load_plans()[plan]
    assert run.named("acme-quota").inputs["spec"]["hard"] == m.quota_hard(spec.quota)
    assert run.named("acme-limits").inputs["spec"] == m.limit_range(NS, {}, spec.container_defaults)["spec"]
    vhost = run.named("acme-gateway-rate-limit").inputs["spec"]["configPatches"][1]["patch"]["value"]
    per_route = vhost["typed_per_filter_config"]["tenant-platform.ratelimit.acme"]
    token_bucket = per_route["value"]["token_bucket"]
    assert token_bucket["max_tokens"] == token_bucket["tokens_per_fill"] == spec.rate_limit_rps
    manifest_checks.validate_all(manifest_checks.recorded_manifests(run))


@pytest.mark.parametrize("tier", TIERS)
def test_resource_count_per_tier(tier):
    run = run_namespace(tier)
    # Children, the two identities' role and service account, the component and the provider.
    assert len(run.resources) == len(expected_children(tier)) + 4 + 1 + 1


def test_objects_in_the_namespace_carry_the_tenant_labels_and_live_there():
    run = run_namespace("node", "enterprise")
    labels = make_context(tier="node", plan="enterprise").labels
    assert labels["tier"] == "node" and labels["plan"] == "enterprise"
    for obj in manifest_checks.recorded_manifests(run):
        if obj["kind"] == "EnvoyFilter":
            continue
        meta = obj["metadata"]
        assert {k: meta["labels"][k] for k in labels} == labels, obj["kind"]
        if obj["kind"] != "Namespace":
            assert meta["namespace"] == NS, (obj["kind"], meta["name"])


def test_gateway_rate_limit_is_platform_owned_outside_the_tenant_namespace():
    ef = run_namespace().named("acme-gateway-rate-limit").inputs
    assert ef["metadata"]["namespace"] == naming.INGRESS_NAMESPACE
    assert ef["metadata"]["labels"] == {naming.LABEL_MANAGED_BY: naming.MANAGED_BY,
                                        naming.LABEL_FOR_TENANT: "acme"}
    assert ef["spec"]["configPatches"][1]["match"]["routeConfiguration"] == {
        "vhost": {"name": "acme.files.example.com:443"}}


def test_every_kubernetes_object_uses_the_cluster_provider():
    run = run_namespace()
    for r in run.resources:
        if r.type.startswith(CR) and r.custom:
            assert r.options["provider"] == run.named("tp-prod-cell-apne1-01-k8s").urn, r.name


def test_everything_in_the_namespace_waits_for_the_namespace():
    run = run_namespace()
    ns = run.named("acme-namespace")
    inside = 0
    for r in run.resources:
        namespace = (r.inputs.get("metadata") or {}).get("namespace")
        if namespace == NS:
            assert ns.urn in r.options["dependsOn"], r.name
            inside += 1
    assert inside == len(expected_children("namespace")) - 4 + 2  # less ns, EnvoyFilter, 2 ids; + 2 SAs
    assert ns.urn in run.named("acme-fileserver-role").options["dependsOn"]


def test_namespace_is_protected_and_kept_on_delete():
    ns = run_namespace().named("acme-namespace")
    assert (ns.options["protect"], ns.options["retainOnDelete"]) == (True, True)
    assert ns.inputs["metadata"]["name"] == NS


def test_roles_are_bound_to_the_tenants_default_groups():
    run = run_namespace()
    assert run.named("acme-binding-admins").inputs["subjects"] == [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "tenant:acme:admins"}]
    assert run.named("acme-binding-viewers").inputs["subjects"] == [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "tenant:acme:viewers"}]
    assert run.named("acme-role-tenant-admin").inputs["rules"] == m.TENANT_ADMIN_RULES


def test_custom_groups_of_the_tenant_are_bound():
    run = run_namespace(admin_groups=["tenant:acme:ops", "tenant:acme:admins"])
    names = [s["name"] for s in run.named("acme-binding-admins").inputs["subjects"]]
    assert names == ["tenant:acme:ops", "tenant:acme:admins"]


@pytest.mark.parametrize("group", ["tenant:other:admins", "system:masters", "tenant:acme:", "admins"])
def test_binding_another_tenants_or_a_system_group_is_refused(group):
    with pytest.raises(ValueError, match="must start with 'tenant:acme:'"):
        run_namespace(viewer_groups=[group])


def test_access_entries_map_principals_to_the_tenant_groups_only():
    arn = "arn:aws:iam::123456789012:role/acme-operators"
    run = run_namespace(admin_principal_arns=[arn],
                        viewer_principal_arns=["arn:aws:iam::123456789012:user/auditor"])
    admin = run.named("acme-access-admin-acme-operators")
    assert admin.type == "aws:eks/accessEntry:AccessEntry"
    assert admin.inputs == {"clusterName": "tp-prod-cell-apne1-01", "principalArn": arn,
                            "type": "STANDARD", "kubernetesGroups": ["tenant:acme:admins"],
                            "tags": make_context().tags}
    viewer = run.named("acme-access-viewer-auditor")
    assert viewer.inputs["kubernetesGroups"] == ["tenant:acme:viewers"]
    assert not run.of_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")


def test_access_entry_for_something_that_is_not_an_iam_principal_is_refused():
    with pytest.raises(ValueError, match="is not an IAM role or user ARN"):
        run_namespace(admin_principal_arns=["arn:aws:s3:::bucket"])


def test_identities_follow_the_tenants_features():
    captured: dict = {}
    run = run_namespace(captured=captured, ctx_fields={"features": {"fileserver": True, "chatbot": False}})
    assert list(captured["identities"]) == ["fileserver"]
    assert captured["values"] == [NS, "fileserver"]
    assert [r.name for r in run.of_type("tenant-platform:index:WorkloadIdentity")] == ["acme-fileserver"]


def test_identities_expose_roles_and_service_account_names():
    captured: dict = {}
    run_namespace(captured=captured)
    assert list(captured["identities"]) == ["fileserver", "chatbot"]
    assert captured["values"] == [NS, "fileserver", "chatbot"]


def test_every_tier_scopes_its_proxies_and_only_vcluster_allows_unregistered_hosts():
    for tier in ("namespace", "vcluster"):
        sidecar = run_namespace(tier=tier).named("acme-mesh-sidecar").inputs["spec"]
        assert sidecar["egress"] == [{"hosts": ["./*", "istio-system/*"]}]
        mode = "ALLOW_ANY" if tier == "vcluster" else "REGISTRY_ONLY"
        assert sidecar["outboundTrafficPolicy"] == {"mode": mode}


def test_database_egress_defaults_to_the_private_subnets_not_the_vpc():
    run = run_namespace()
    rule = run.named("acme-netpol-allow-to-database").inputs["spec"]["egress"][0]
    blocks = [peer["ipBlock"]["cidr"] for peer in rule["to"]]
    vpc = ipaddress.ip_network(run.named("acme-netpol-allow-to-public-https").inputs["spec"]["egress"][0]
                               ["to"][0]["ipBlock"]["except"][0])
    assert blocks and vpc.prefixlen < 32
    assert all(ipaddress.ip_network(b).subnet_of(vpc) and ipaddress.ip_network(b) != vpc for b in blocks)
    assert rule["ports"] == [{"protocol": "TCP", "port": 5432}]


def test_database_egress_can_be_narrowed_or_removed():
    narrowed = run_namespace(database_cidrs=["10.0.96.0/20"])
    rule = narrowed.named("acme-netpol-allow-to-database").inputs["spec"]["egress"][0]
    assert rule["to"] == [{"ipBlock": {"cidr": "10.0.96.0/20"}}]
    assert narrowed.named("acme-mesh-egress-database").inputs["spec"]["addresses"] == ["10.0.96.0/20"]
    names = {r.name for r in run_namespace(database_cidrs=[]).resources}
    assert "acme-netpol-allow-to-database" not in names and "acme-mesh-egress-database" not in names
