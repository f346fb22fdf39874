"""PlatformAddons under the recording mock engine: mesh, certificates, DNS, metrics, storage."""

from __future__ import annotations

import json

import jsonschema
import pytest

from components import monitoring
from components import platform_addons as pa
from components.platform_addons import PlatformAddons, PlatformAddonsArgs
from components.versions import CHARTS
from tenantctl.mock_engine import run_program
from tenants import naming
from tenants.aws_limits import (
    IAM_MANAGED_POLICY_MAX_CHARS,
    IAM_ROLE_INLINE_POLICY_MAX_CHARS,
    IAM_ROLE_MANAGED_POLICIES_MAX,
    MAX_CELL_CAPACITY,
)
from tenants.models import HostedZone
from tenants.naming import CellNames
from tests.components import manifest_checks, policy_lint
from tests.factories import ACCOUNT_ID, OIDC_ISSUER, make_cluster_ref

NAME = "cell-addons"
CLUSTER = "tp-prod-cell-apne1-01"
VOLUME_KEY = f"arn:aws:kms:ap-northeast-1:{ACCOUNT_ID}:key/volumes"
HOSTS = ["acme.files.example.com", "Files.Globex.example."]
#: The hosted zones of HOSTS (the platform's zone by id; the customer's by name only),
#: plus a zone of the account that holds no host of this cluster.
ZONES = (HostedZone(domain="files.example.com", zone_id="Z0PLATFORMFILES"),
         HostedZone(domain="globex.example"), HostedZone(domain="initech.example", zone_id="Z0INITECH"))


def run_addons(hostnames=HOSTS, dns_zones=ZONES, **overrides):
    def program():
        cluster = make_cluster_ref(CLUSTER)
        PlatformAddons(NAME, PlatformAddonsArgs(
            cluster=cluster, names=CellNames("apne1-01", "prod").cluster_names, kubeconfig="{}",
            volume_key_arn=VOLUME_KEY, hostnames=hostnames, dns_zones=dns_zones, **overrides))
    return run_program(program)


@pytest.fixture(scope="module")
def run():
    return run_addons()


def charts(run):
    return {r.name.removeprefix(f"{NAME}-"): r for r in run.of_type("kubernetes:helm.sh/v4:Chart")}


def test_declares_exactly_the_platform_pieces(run):
    component = run.named(NAME)
    children = sorted((r.type, r.name.removeprefix(f"{NAME}-")) for r in run.children_of(component.urn))
    assert children == sorted([
        *(("kubernetes:core/v1:Namespace", f"ns-{ns}") for ns in pa.PLATFORM_NAMESPACES),
        *(("kubernetes:helm.sh/v4:Chart", key) for key in (
            "istio-base", "istio-cni", "istiod", "istio-gateway", "cert-manager", "external-dns",
            "metrics-server", "kube-prometheus-stack")),
        ("kubernetes:security.istio.io/v1:PeerAuthentication", "mesh-mtls-strict"),
        ("kubernetes:storage.k8s.io/v1:StorageClass", "storage-class"),
        ("kubernetes:cert-manager.io/v1:ClusterIssuer", "cluster-issuer"),
        ("aws:iam/role:Role", "cert-manager-role"),
        ("aws:iam/rolePolicy:RolePolicy", "cert-manager-role-policy"),
        ("aws:iam/role:Role", "external-dns-role"),
        ("aws:iam/rolePolicy:RolePolicy", "external-dns-role-policy"),
        ("pulumi:providers:kubernetes", "tenants-k8s"),
    ])


def test_every_kubernetes_object_and_chart_uses_the_clusters_provider(run):
    provider = run.named(f"{CLUSTER}-k8s").urn
    kube = [r for r in run.resources if r.type.startswith("kubernetes:")]
    assert len(kube) == 5 + 8 + 3
    assert all(r.options["provider"] == provider for r in kube)


@pytest.mark.parametrize("key", ["istio-base", "istio-cni", "istiod", "istio-gateway", "cert-manager",
                                 "external-dns", "metrics-server", "kube-prometheus-stack"])
def test_charts_come_from_the_pinned_table(run, key):
    inputs = charts(run)[key].inputs
    repository, version = CHARTS[key]
    assert inputs["repositoryOpts"] == {"repo": repository} and inputs["version"] == version
    renamed = {"istio-base": "base", "istio-cni": "cni", "istio-gateway": "gateway"}
    assert inputs["chart"] == renamed.get(key, key)


@pytest.mark.parametrize(("key", "namespace", "release"), [
    ("istio-base", "istio-system", "istio-base"), ("istiod", "istio-system", "istiod"),
    ("istio-cni", "kube-system", "istio-cni"), ("istio-gateway", "istio-ingress", "istio-ingressgateway"),
    ("cert-manager", "cert-manager", "cert-manager"), ("external-dns", "external-dns", "external-dns"),
    ("metrics-server", "kube-system", "metrics-server"),
    ("kube-prometheus-stack", "monitoring", "kube-prometheus-stack"),
])
def test_charts_install_into_their_namespace(run, key, namespace, release):
    inputs = charts(run)[key].inputs
    assert (inputs["namespace"], inputs["name"]) == (namespace, release)


@pytest.mark.parametrize(("key", "after"), [
    ("istio-cni", ["istio-base"]), ("istiod", ["istio-base", "istio-cni"]),
    ("istio-gateway", ["istiod", "ns-istio-ingress"]), ("mesh-mtls-strict", ["istio-base"]),
    ("cluster-issuer", ["cert-manager"]), ("cert-manager", ["ns-cert-manager"]),
    ("external-dns", ["ns-external-dns", "istio-base"]),
    ("kube-prometheus-stack", ["ns-monitoring", "storage-class"]),
], ids=lambda v: v if isinstance(v, str) else "+".join(v))
def test_install_order_follows_crds_and_webhooks(run, key, after):
    depends = set(run.named(f"{NAME}-{key}").options["dependsOn"])
    assert {run.named(f"{NAME}-{a}").urn for a in after} <= depends


def test_mesh_requires_mtls_everywhere_and_sidecars_need_no_privileges(run):
    peer = run.named(f"{NAME}-mesh-mtls-strict").inputs
    assert peer["metadata"]["namespace"] == naming.ISTIO_NAMESPACE and peer["metadata"]["name"] == "default"
    assert peer["spec"] == {"mtls": {"mode": "STRICT"}} and "selector" not in peer["spec"]
    values = charts(run)["istiod"].inputs["values"]
    assert values["pilot"]["cni"] == {"enabled": True}
    gateway = charts(run)["istio-gateway"].inputs["values"]
    assert gateway["labels"] == naming.INGRESS_GATEWAY_LABELS
    assert gateway["service"]["type"] == "LoadBalancer"


def test_platform_namespaces_enforce_baseline_and_warn_restricted(run):
    for ns in pa.PLATFORM_NAMESPACES:
        labels = run.named(f"{NAME}-ns-{ns}").inputs["metadata"]["labels"]
        assert labels["pod-security.kubernetes.io/enforce"] == "baseline"
        assert labels["pod-security.kubernetes.io/warn"] == labels["pod-security.kubernetes.io/audit"] == \
            "restricted"
        assert {labels[f"pod-security.kubernetes.io/{m}-version"] for m in ("enforce", "audit", "warn")} == \
            {"v1.33"}
        assert naming.LABEL_TENANT not in labels


def test_built_in_manifests_validate_strictly(run):
    objects = [o for o in manifest_checks.recorded_manifests(run) if o["kind"] != "ClusterIssuer"]
    kinds = sorted(o["kind"] for o in objects)
    assert kinds == sorted(["Namespace"] * 5 + ["PeerAuthentication", "StorageClass"])
    manifest_checks.validate_all(objects)


def test_default_storage_class_is_encrypted_with_the_volumes_key(run):
    storage = run.named(f"{NAME}-storage-class").inputs
    assert storage["metadata"]["name"] == naming.ENCRYPTED_STORAGE_CLASS
    assert storage["metadata"]["annotations"] == {"storageclass.kubernetes.io/is-default-class": "true"}
    assert storage["provisioner"] == "ebs.csi.aws.com"
    assert storage["parameters"] == {"type": "gp3", "encrypted": "true", "kmsKeyId": VOLUME_KEY}
    assert storage["reclaimPolicy"] == "Delete"                                       # ISO-DATA-08


# cert-manager's ClusterIssuer (v1) for exactly the fields the platform sets.
_STR = {"type": "string", "minLength": 1}
CLUSTER_ISSUER_SCHEMA = {
    "type": "object", "additionalProperties": False, "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "cert-manager.io/v1"}, "kind": {"const": "ClusterIssuer"},
        "metadata": {"type": "object", "additionalProperties": False, "required": ["name"],
                     "properties": {"name": _STR, "labels": {"type": "object"}}},
        "spec": {"type": "object", "additionalProperties": False, "required": ["acme"], "properties": {
            "acme": {"type": "object", "additionalProperties": False,
                     "required": ["server", "privateKeySecretRef", "solvers"], "properties": {
                         "server": {"type": "string", "pattern": "^https://"}, "email": _STR,
                         "privateKeySecretRef": {"type": "object", "additionalProperties": False,
                                                 "required": ["name"], "properties": {"name": _STR}},
                         "solvers": {"type": "array", "minItems": 1, "items": {
                             "type": "object", "additionalProperties": False, "properties": {
                                 "dns01": {"type": "object", "additionalProperties": False, "properties": {
                                     "route53": {"type": "object", "additionalProperties": False,
                                                 "required": ["region"],
                                                 "properties": {"region": _STR}}}}}}}}}}},
    },
}


@pytest.mark.parametrize("email", [None, "platform@example.com"], ids=["no-contact", "contact"])
def test_cluster_issuer_is_the_one_tenant_certificates_name(email):
    issuer = pa.cluster_issuer("ap-northeast-1", email=email)
    jsonschema.validate(issuer, CLUSTER_ISSUER_SCHEMA)
    assert issuer["metadata"]["name"] == naming.TLS_CLUSTER_ISSUER
    assert issuer["spec"]["acme"]["solvers"] == [{"dns01": {"route53": {"region": "ap-northeast-1"}}}]
    assert issuer["spec"]["acme"].get("email") == email


def test_recorded_cluster_issuer_matches_its_schema(run):
    [issuer] = [o for o in manifest_checks.recorded_manifests(run) if o["kind"] == "ClusterIssuer"]
    jsonschema.validate(issuer, CLUSTER_ISSUER_SCHEMA)


@pytest.mark.parametrize(("addon", "namespace", "account"), [
    ("cert-manager", "cert-manager", "cert-manager"), ("external-dns", "external-dns", "external-dns"),
])
def test_dns_roles_trust_exactly_their_service_account(run, addon, namespace, account):
    role = run.named(f"{NAME}-{addon}-role")
    assert role.inputs["name"] == f"tp-prod-cell-apne1-01-{addon}"
    [statement] = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert statement["Condition"] == {"StringEquals": {
        f"{OIDC_ISSUER}:sub": f"system:serviceaccount:{namespace}:{account}",
        f"{OIDC_ISSUER}:aud": "sts.amazonaws.com"}}
    values = charts(run)[addon].inputs["values"]
    assert values["serviceAccount"]["name"] == account
    assert values["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"] == role.outputs["arn"]


def test_dns_roles_may_write_only_this_clusters_records(run):
    hosts = ["acme.files.example.com", "files.globex.example"]
    cert = json.loads(run.named(f"{NAME}-cert-manager-role-policy").inputs["policy"])
    [write] = [s for s in cert["Statement"] if s["Action"] == "route53:ChangeResourceRecordSets"]
    assert write["Condition"] == {"ForAllValues:StringEquals": {
        "route53:ChangeResourceRecordSetsNormalizedRecordNames": [f"_acme-challenge.{h}" for h in hosts],
        "route53:ChangeResourceRecordSetsRecordTypes": ["TXT"]}}
    dns = json.loads(run.named(f"{NAME}-external-dns-role-policy").inputs["policy"])
    [write] = [s for s in dns["Statement"] if s["Action"] == "route53:ChangeResourceRecordSets"]
    assert write["Condition"]["ForAllValues:StringLike"] == {
        "route53:ChangeResourceRecordSetsNormalizedRecordNames":
            ["acme.files.example.com", "_extdns-*.acme.files.example.com",
             "files.globex.example", "_extdns-*.files.globex.example"]}
    values = charts(run)["external-dns"].inputs["values"]
    assert values["policy"] == "upsert-only"
    assert values["txtOwnerId"] == CLUSTER and values["txtPrefix"] == "_extdns-%{record_type}."
    assert values["sources"] == ["istio-gateway"]


def test_without_tenants_the_dns_roles_may_write_nothing():
    run = run_addons(hostnames=[])
    for addon in ("cert-manager", "external-dns"):
        policy = json.loads(run.named(f"{NAME}-{addon}-role-policy").inputs["policy"])
        assert "route53:ChangeResourceRecordSets" not in [s["Action"] for s in policy["Statement"]]


@pytest.mark.parametrize("builder", [pa.cert_manager_dns_policy, pa.external_dns_policy],
                         ids=["cert-manager", "external-dns"])
def test_dns_policies_lint_clean_and_their_only_patterns_are_route53s(builder):
    document = builder(["acme.files.example.com"])
    assert policy_lint.findings(document) == []
    # Listing zones and reading changes have no narrower resource; writes are narrowed by
    # record name, which is finer than any zone ARN.
    for pattern in policy_lint.allow_wildcards(document):
        assert pattern.endswith((": resource *", "route53:::hostedzone/*", "route53:::change/*")), pattern


def test_monitoring_picks_up_every_tenants_monitors_rules_and_dashboards(run):
    values = charts(run)["kube-prometheus-stack"].inputs["values"]
    spec = values["prometheus"]["prometheusSpec"]
    for kind in ("podMonitor", "serviceMonitor", "rule"):
        assert spec[f"{kind}SelectorNilUsesHelmValues"] is False and spec[f"{kind}NamespaceSelector"] == {}
    claim = spec["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert claim["storageClassName"] == naming.ENCRYPTED_STORAGE_CLASS
    dashboards = values["grafana"]["sidecar"]["dashboards"]
    [(label, value)] = monitoring.DASHBOARD_LABEL.items()
    assert (dashboards["label"], dashboards["labelValue"]) == (label, value)
    assert dashboards["searchNamespace"] == "ALL"
    assert dashboards["folderAnnotation"] == monitoring.DASHBOARD_FOLDER_ANNOTATION
    assert values["nodeExporter"] == {"enabled": False}
    # No admin user with the chart's well-known password, no password login at all: SSO only.
    assert "adminPassword" not in values["grafana"]
    assert values["grafana"]["grafana.ini"] == {"security": {"disable_initial_admin_creation": True},
                                                "auth": {"disable_login_form": True},
                                                "auth.basic": {"enabled": False}}


def test_tenant_provider_is_configured_only_after_every_addon(run):
    provider = run.named(f"{NAME}-tenants-k8s")
    assert provider.inputs["kubeconfig"] == "[secret]"
    assert provider.inputs["clusterIdentifier"] == CLUSTER
    addons = {r.urn for r in run.children_of(run.named(NAME).urn)
              if r.type.startswith("kubernetes:")}
    assert addons <= set(provider.options["dependsOn"])


def test_addon_pods_tolerate_the_system_pool(run):
    toleration = {"key": "CriticalAddonsOnly", "operator": "Exists", "effect": "NoSchedule"}
    values = {k: c.inputs["values"] for k, c in charts(run).items()}
    assert values["istiod"]["pilot"]["tolerations"] == [toleration]
    for key in ("cert-manager", "external-dns", "metrics-server"):
        assert values[key]["tolerations"] == [toleration]
    assert values["kube-prometheus-stack"]["prometheus"]["prometheusSpec"]["tolerations"] == [toleration]


# --- which hosted zones external-dns manages ------------------------------------------------
def external_dns_zone_selection(values, zones):
    """The zones external-dns v0.19 would manage, by its own rules (provider/aws/aws.go
    ``zones()``): a zone passes the --zone-id-filter (id suffix) and its name matches a
    --domain-filter (equal to it, or below it); parents of a filter only with
    --aws-zone-match-parent, which the platform never sets."""
    ids = [a.split("=", 1)[1] for a in values["extraArgs"] if a.startswith("--zone-id-filter=")]
    assert not any(a.startswith("--aws-zone-match-parent") for a in values["extraArgs"])
    filters = values["domainFilters"]

    def by_id(zone):
        return not ids or any(f"/hostedzone/{zone.zone_id or 'none'}".endswith(i) for i in ids)

    def by_name(zone):
        return not filters or any(zone.domain == f or zone.domain.endswith("." + f) for f in filters)
    return sorted(z.domain for z in zones if by_id(z) and by_name(z))


def test_external_dns_manages_exactly_the_zones_of_this_clusters_hosts(run):
    values = charts(run)["external-dns"].inputs["values"]
    assert values["domainFilters"] == ["files.example.com", "globex.example"]
    # globex.example has no known id, so no zone-id filter (it would drop globex.example).
    assert not [a for a in values["extraArgs"] if a.startswith("--zone-id-filter")]
    assert external_dns_zone_selection(values, ZONES) == ["files.example.com", "globex.example"]


def test_with_every_zone_id_known_a_same_named_twin_zone_is_not_managed():
    zones = (HostedZone(domain="files.example.com", zone_id="Z0PLATFORMFILES"),
             HostedZone(domain="globex.example", zone_id="Z0GLOBEX"))
    values = charts(run_addons(dns_zones=zones))["external-dns"].inputs["values"]
    assert sorted(a for a in values["extraArgs"] if a.startswith("--zone-id-filter")) == [
        "--zone-id-filter=Z0GLOBEX", "--zone-id-filter=Z0PLATFORMFILES"]
    # The account's zones as Route 53 lists them: a private twin shares the platform zone's name.
    account = [*zones, HostedZone(domain="files.example.com", zone_id="Z0PRIVATETWIN"),
               HostedZone(domain="initech.example", zone_id="Z0INITECH")]
    managed = [z.zone_id for z in account if external_dns_zone_selection(values, [z])]
    assert managed == ["Z0PLATFORMFILES", "Z0GLOBEX"]


def test_host_names_as_domain_filters_would_manage_no_zone():
    """Hostile case: the old values (the hosts themselves as filters) select no hosted zone."""
    old = {"domainFilters": ["acme.files.example.com", "files.globex.example"], "extraArgs": []}
    assert external_dns_zone_selection(old, ZONES) == []


def test_the_dns_roles_write_only_in_the_zones_with_known_ids():
    zones = (HostedZone(domain="files.example.com", zone_id="Z0PLATFORMFILES"),)
    run = run_addons(hostnames=["acme.files.example.com"], dns_zones=zones)
    for addon in ("cert-manager", "external-dns"):
        policy = json.loads(run.named(f"{NAME}-{addon}-role-policy").inputs["policy"])
        [write] = [s for s in policy["Statement"] if s["Action"] == "route53:ChangeResourceRecordSets"]
        assert write["Resource"] == ["arn:aws:route53:::hostedzone/Z0PLATFORMFILES"], addon


def test_a_host_outside_every_zone_is_refused_before_anything_is_declared():
    with pytest.raises(ValueError, match="is in none of the hosted zones"):
        run_addons(hostnames=["files.umbrella.example"])


# --- the DNS roles at a full cell: split over inline and managed policies ---------------------
def _full_cell_hosts(count: int, length: int) -> list[str]:
    """``count`` distinct customer host names of about ``length`` characters."""
    stem = "x" * max(1, length - 30)
    return [f"files-{i:03d}.{stem}.customer.example" for i in range(count)]


def _record_names(document):
    names = []
    for statement in document["Statement"]:
        for values in (statement.get("Condition") or {}).values():
            names += values.get("route53:ChangeResourceRecordSetsNormalizedRecordNames", [])
    return names


@pytest.mark.parametrize("builder", [pa.cert_manager_dns_policy, pa.external_dns_policy],
                         ids=["cert-manager", "external-dns"])
def test_a_full_cell_of_long_host_names_fits_iam_quotas(builder):
    hosts = _full_cell_hosts(MAX_CELL_CAPACITY, 60)
    documents = pa.split_by_hosts(lambda h: builder(h, "aws", ["Z0PLATFORMFILES"]), hosts, "dns")
    assert len(documents) > 1  # one inline policy would not hold them
    assert pa.policy_size(documents[0]) <= IAM_ROLE_INLINE_POLICY_MAX_CHARS
    assert all(pa.policy_size(d) <= IAM_MANAGED_POLICY_MAX_CHARS for d in documents[1:])
    assert len(documents) - 1 <= IAM_ROLE_MANAGED_POLICIES_MAX
    # Every host is writable exactly as before, through exactly one of the documents.
    together = [n for d in documents for n in _record_names(d)]
    assert sorted(together) == sorted(_record_names(builder(hosts, "aws", ["Z0PLATFORMFILES"])))


def test_adding_a_tenant_changes_only_the_last_dns_document():
    build = lambda h: pa.external_dns_policy(h, "aws", ["Z0PLATFORMFILES"])  # noqa: E731
    hosts = _full_cell_hosts(150, 60)
    before = pa.split_by_hosts(build, hosts, "external-dns")
    after = pa.split_by_hosts(build, [*hosts, "new.customer.example"], "external-dns")
    assert after[:len(before) - 1] == before[:-1]


def test_host_names_that_need_more_managed_policies_than_a_role_may_have_are_refused():
    hosts = _full_cell_hosts(MAX_CELL_CAPACITY, 250)
    with pytest.raises(ValueError, match="managed policies, more than the 10 a role may have"):
        pa.split_by_hosts(lambda h: pa.external_dns_policy(h, "aws", []), hosts, "external-dns")


def test_the_component_attaches_the_extra_dns_documents_as_managed_policies():
    hosts = _full_cell_hosts(MAX_CELL_CAPACITY, 40)
    zones = (HostedZone(domain="customer.example", zone_id="Z0CUSTOMER"),)
    run = run_addons(hostnames=hosts, dns_zones=zones)
    for addon in ("cert-manager", "external-dns"):
        policies = [r for r in run.of_type("aws:iam/policy:Policy")
                    if r.name.startswith(f"{NAME}-{addon}-policy-")]
        attachments = [r for r in run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                       if r.name.startswith(f"{NAME}-{addon}-policy-")]
        assert policies and len(attachments) == len(policies)
        inline = run.named(f"{NAME}-{addon}-role-policy")
        assert pa.policy_size(json.loads(inline.inputs["policy"])) <= IAM_ROLE_INLINE_POLICY_MAX_CHARS
        assert all(pa.policy_size(json.loads(p.inputs["policy"])) <= IAM_MANAGED_POLICY_MAX_CHARS
                   for p in policies)
