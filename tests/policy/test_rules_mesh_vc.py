"""Seeded violations of the service-mesh (MESH) and vCluster (VC) rules."""

from __future__ import annotations

from typing import Any

from policy.rules import (
    iso_mesh_01,
    iso_mesh_02,
    iso_mesh_03,
    iso_mesh_04,
    iso_mesh_05,
    iso_mesh_06,
    iso_mesh_07,
    iso_mesh_08,
    iso_vc_01,
    iso_vc_02,
)
from tests.policy import fixtures as f
from tests.policy.cases import (
    Case,
    adding,
    alone,
    changing,
    check,
    evaluate,
    one,
    params,
    stack_edit,
    without,
)

AUTHZ = "kubernetes:security.istio.io/v1:AuthorizationPolicy"
VS = "kubernetes:networking.istio.io/v1:VirtualService"
GATEWAY = "kubernetes:networking.istio.io/v1:Gateway"
SIDECAR = "kubernetes:networking.istio.io/v1:Sidecar"
RULE0 = ("spec", "rules", 0)
SOURCE0 = RULE0 + ("from", 0, "source")
TM = ("spec", "template", "metadata")
VALUES = ("values",)


def peer_authentication(namespace: str, spec: dict[str, Any]) -> dict[str, Any]:
    return f.resource("kubernetes:security.istio.io/v1:PeerAuthentication", f"pa-{namespace}", {
        "apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
        "metadata": {"name": "default", "namespace": namespace}, "spec": spec})


def root_authz(rules: list[dict[str, Any]]) -> dict[str, Any]:
    """An ALLOW AuthorizationPolicy in the mesh root namespace (applies to every namespace)."""
    return f.resource(AUTHZ, "root-authz", {
        "apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
        "metadata": {"name": "allow-all", "namespace": "istio-system"},
        "spec": {"action": "ALLOW", "rules": rules}})


def service_entry(export: list[str] | None, hosts: list[str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"hosts": hosts or ["*.amazonaws.com"], "location": "MESH_EXTERNAL",
                            "resolution": "NONE",
                            "ports": [{"number": 443, "name": "tls", "protocol": "TLS"}]}
    if export is not None:
        spec["exportTo"] = export
    return f.resource("kubernetes:networking.istio.io/v1:ServiceEntry", "acme-aws-apis", {
        "apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
        "metadata": f.meta("aws-apis", "acme"), "spec": spec})


def destination_rule(host: str, export: list[str]) -> dict[str, Any]:
    return f.resource("kubernetes:networking.istio.io/v1:DestinationRule", "acme-dr", {
        "apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
        "metadata": f.meta("dr", "acme"),
        "spec": {"host": host, "exportTo": export, "trafficPolicy": {"tls": {"mode": "DISABLE"}}}})


def certificate(tenant: str, names: list[str]) -> dict[str, Any]:
    return f.resource("kubernetes:cert-manager.io/v1:Certificate", f"{tenant}-cert", {
        "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
        "metadata": {"name": f"tenant-{tenant}", "namespace": "istio-ingress",
                     "labels": {"tenant-platform.io/for-tenant": tenant}},
        "spec": {"dnsNames": names, "secretName": f"tenant-{tenant}-tls",
                 "issuerRef": {"kind": "ClusterIssuer", "name": "letsencrypt-dns01"}}})


def ingress(host: str) -> dict[str, Any]:
    return f.resource("kubernetes:networking.k8s.io/v1:Ingress", "acme-ingress", {
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": f.meta("files", "acme"),
        "spec": {"rules": [{"host": host, "http": {"paths": []}}]}})


def http_route(hostnames: list[str]) -> dict[str, Any]:
    return f.resource("kubernetes:gateway.networking.k8s.io/v1:HTTPRoute", "acme-route-api", {
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": f.meta("files", "acme"),
        "spec": {"hostnames": hostnames}})


def istio_gateway(tenant: str | None, hosts: list[str]) -> dict[str, Any]:
    meta = f.meta("gw", tenant) if tenant else {"name": "public", "namespace": "istio-ingress"}
    return f.resource("kubernetes:networking.istio.io/v1:Gateway", "gw", {
        "apiVersion": "networking.istio.io/v1", "kind": "Gateway", "metadata": meta,
        "spec": {"selector": {"istio": "ingressgateway"},
                 "servers": [{"port": {"number": 443, "name": "https", "protocol": "HTTPS"},
                              "hosts": hosts}]}})


def envoy_filter() -> dict[str, Any]:
    return f.resource("kubernetes:networking.istio.io/v1alpha3:EnvoyFilter", "ef", {
        "apiVersion": "networking.istio.io/v1alpha3", "kind": "EnvoyFilter",
        "metadata": f.meta("lua", "acme"), "spec": {"configPatches": []}})


CASES: list[Case] = [
    # ISO-MESH-01
    one("mesh01-mesh-permissive", "ISO-MESH-01", f.mesh_peer_authentication, ("spec", "mtls", "mode"),
        "PERMISSIVE", iso_mesh_01.MSG_MESH_STRICT),
    one("mesh01-mesh-unset", "ISO-MESH-01", f.mesh_peer_authentication, ("spec",), f.DELETE,
        iso_mesh_01.MSG_MESH_STRICT),
    alone("mesh01-namespace-disable", "ISO-MESH-01",
          lambda: peer_authentication("tenant-acme", {"mtls": {"mode": "DISABLE"}}),
          iso_mesh_01.MSG_WEAK_MODE),
    alone("mesh01-port-permissive", "ISO-MESH-01", lambda: peer_authentication("tenant-acme", {
        "selector": {"matchLabels": {"app": "fileserver"}}, "mtls": {"mode": "STRICT"},
        "portLevelMtls": {"8080": {"mode": "PERMISSIVE"}}}), iso_mesh_01.MSG_WEAK_PORT),
    # ISO-MESH-02 (stack)
    stack_edit("mesh02-no-allow-nothing", "ISO-MESH-02", without(AUTHZ, "acme-allow-nothing"),
               iso_mesh_02.MSG_ALLOW_NOTHING, about="acme-namespace"),
    stack_edit("mesh02-allow-nothing-selects", "ISO-MESH-02",
               changing(AUTHZ, "bolt-allow-nothing", ("spec", "selector"), {"matchLabels": {"app": "x"}}),
               iso_mesh_02.MSG_ALLOW_NOTHING, about="bolt-namespace"),
    stack_edit("mesh02-other-tenant-principal", "ISO-MESH-02",
               changing(AUTHZ, "acme-allow-fileserver", SOURCE0 + ("principals", 1),
                        "cluster.local/ns/tenant-bolt/sa/chatbot"),
               iso_mesh_02.MSG_FOREIGN_SOURCE, about="acme-allow-fileserver"),
    stack_edit("mesh02-wildcard-principal", "ISO-MESH-02",
               changing(AUTHZ, "acme-allow-fileserver", SOURCE0 + ("principals",), ["*"]),
               iso_mesh_02.MSG_FOREIGN_SOURCE, about="acme-allow-fileserver"),
    stack_edit("mesh02-wildcard-namespace", "ISO-MESH-02",
               changing(AUTHZ, "acme-allow-fileserver", SOURCE0 + ("namespaces",), ["tenant-*"]),
               iso_mesh_02.MSG_FOREIGN_SOURCE, about="acme-allow-fileserver"),
    stack_edit("mesh02-any-source", "ISO-MESH-02",
               changing(AUTHZ, "acme-allow-fileserver", RULE0 + ("from",), f.DELETE),
               iso_mesh_02.MSG_ANY_SOURCE, about="acme-allow-fileserver"),
    stack_edit("mesh02-negative-source", "ISO-MESH-02",
               changing(AUTHZ, "acme-allow-fileserver", SOURCE0 + ("notNamespaces",), ["tenant-bolt"]),
               iso_mesh_02.MSG_NEGATIVE, about="acme-allow-fileserver"),
    stack_edit("mesh02-negative-operation", "ISO-MESH-02",
               changing(AUTHZ, "acme-allow-fileserver", RULE0 + ("to", 0, "operation", "notPaths"),
                        ["/admin"]),
               iso_mesh_02.MSG_NEGATIVE, about="acme-allow-fileserver"),
    stack_edit("mesh02-only-negative-source", "ISO-MESH-02",
               changing(AUTHZ, "acme-allow-fileserver", SOURCE0, {"notPrincipals": ["x"]}),
               iso_mesh_02.MSG_NEGATIVE, iso_mesh_02.MSG_ANY_SOURCE, about="acme-allow-fileserver"),
    # ISO-MESH-03
    one("mesh03-any-host", "ISO-MESH-03", f.sidecar, ("spec", "egress", 0, "hosts"), ["*/*"],
        iso_mesh_03.MSG_EGRESS_HOSTS),
    one("mesh03-no-egress", "ISO-MESH-03", f.sidecar, ("spec", "egress"), f.DELETE,
        iso_mesh_03.MSG_EGRESS_HOSTS),
    one("mesh03-allow-any", "ISO-MESH-03", f.sidecar, ("spec", "outboundTrafficPolicy", "mode"),
        "ALLOW_ANY", iso_mesh_03.MSG_REGISTRY_ONLY),
    # ISO-MESH-04
    alone("mesh04-tenant-gateway", "ISO-MESH-04", lambda: istio_gateway("acme", ["acme.files.example.com"]),
          iso_mesh_04.MSG_TENANT_GATEWAY),
    alone("mesh04-tenant-envoy-filter", "ISO-MESH-04", envoy_filter, iso_mesh_04.MSG_TENANT_GATEWAY),
    alone("mesh04-platform-gateway-any-host", "ISO-MESH-04", lambda: istio_gateway(None, ["*"]),
          iso_mesh_04.MSG_WILDCARD_HOST),
    one("mesh04-virtual-service-any-host", "ISO-MESH-04", f.virtual_service, ("spec", "hosts"), ["*"],
        iso_mesh_04.MSG_WILDCARD_HOST),
    one("mesh04-role-creates-gateways", "ISO-MESH-04", f.role, ("rules", 0),
        {"apiGroups": ["networking.istio.io"], "resources": ["gateways"], "verbs": ["create"]},
        iso_mesh_04.MSG_ROLE),
    one("mesh04-role-edits-envoy-filters", "ISO-MESH-04", f.role, ("rules", 1),
        {"apiGroups": ["networking.istio.io"], "resources": ["envoyfilters"], "verbs": ["patch"]},
        iso_mesh_04.MSG_ROLE),
    # ISO-MESH-05
    one("mesh05-inject-annotation", "ISO-MESH-05", f.deployment,
        TM + ("annotations",), {"sidecar.istio.io/inject": "false"}, iso_mesh_05.MSG_INJECTION_OFF),
    one("mesh05-inject-label", "ISO-MESH-05", f.deployment,
        TM + ("labels", "sidecar.istio.io/inject"), "false", iso_mesh_05.MSG_INJECTION_OFF),
    one("mesh05-exclude-ports", "ISO-MESH-05", f.deployment, TM + ("annotations",),
        {"traffic.sidecar.istio.io/excludeOutboundIPRanges": "0.0.0.0/0"},
        iso_mesh_05.MSG_TRAFFIC_EXCLUDED),
    # ISO-MESH-06
    alone("mesh06-ambient-port-limit", "ISO-MESH-06", f.allow_gateway, iso_mesh_06.MSG_HBONE,
          iso_mesh_06.MSG_PROBES, config={"ISO-MESH-06": {"ambient": True}}),
    one("mesh06-ambient-no-probe-source", "ISO-MESH-06", f.allow_gateway, ("spec", "ingress", 0, "ports", 1),
        {"port": 15008, "protocol": "TCP"}, iso_mesh_06.MSG_PROBES,
        config={"ISO-MESH-06": {"ambient": True}}),
    stack_edit("mesh06-ambient-namespace-label", "ISO-MESH-06",
               changing("kubernetes:core/v1:Namespace", "acme-namespace",
                        ("metadata", "labels", "istio.io/dataplane-mode"), "ambient"),
               iso_mesh_06.MSG_HBONE, iso_mesh_06.MSG_PROBES, about="acme-allow-gateway"),
    # ISO-MESH-02: the mesh root namespace applies mesh-wide
    stack_edit("mesh02-root-allow-empty-rule", "ISO-MESH-02", adding(lambda: root_authz([{}])),
               iso_mesh_02.MSG_MESH_WIDE, about="root-authz"),
    stack_edit("mesh02-root-allow-no-from", "ISO-MESH-02",
               adding(lambda: root_authz([{"to": [{"operation": {"methods": ["GET"]}}]}])),
               iso_mesh_02.MSG_MESH_WIDE, about="root-authz"),
    stack_edit("mesh02-root-allow-tenant-namespace", "ISO-MESH-02",
               adding(lambda: root_authz([{"from": [{"source": {"namespaces": ["tenant-acme"]}}]}])),
               iso_mesh_02.MSG_MESH_WIDE, about="root-authz"),
    # ISO-MESH-07 (stack): hosts, destinations, gateways, exports
    stack_edit("mesh07-vs-other-tenant-host", "ISO-MESH-07",
               changing(VS, "acme-route", ("spec", "hosts"), ["bolt.files.example.com"]),
               iso_mesh_07.MSG_FOREIGN_HOST, about="acme-route"),
    stack_edit("mesh07-vs-other-tenant-service", "ISO-MESH-07",
               changing(VS, "acme-route", ("spec", "http", 0, "route", 0, "destination", "host"),
                        "fileserver.tenant-bolt.svc.cluster.local"),
               iso_mesh_07.MSG_FOREIGN_DESTINATION, about="acme-route"),
    stack_edit("mesh07-vs-mesh-hijack", "ISO-MESH-07",
               changing(VS, "acme-route", ("spec",), {
                   "hosts": ["fileserver.tenant-bolt.svc.cluster.local"], "gateways": ["mesh"],
                   "http": [{"route": [{"destination": {"host": "fileserver"}}]}]}),
               iso_mesh_07.MSG_FOREIGN_HOST, about="acme-route"),
    stack_edit("mesh07-vs-other-tenant-gateway", "ISO-MESH-07",
               changing(VS, "acme-route", ("spec", "gateways"), ["istio-ingress/tenant-bolt"]),
               iso_mesh_07.MSG_FOREIGN_GATEWAY, about="acme-route"),
    stack_edit("mesh07-vs-exported-everywhere", "ISO-MESH-07",
               changing(VS, "acme-route", ("spec", "exportTo"), ["*"]),
               iso_mesh_07.MSG_EXPORT, about="acme-route"),
    stack_edit("mesh07-gateway-other-tenant-host", "ISO-MESH-07",
               changing(GATEWAY, "acme-gateway", ("spec", "servers", 0, "hosts"),
                        ["tenant-acme/bolt.files.example.com"]),
               iso_mesh_07.MSG_FOREIGN_HOST, about="acme-gateway"),
    stack_edit("mesh07-gateway-any-namespace", "ISO-MESH-07",
               changing(GATEWAY, "acme-gateway", ("spec", "servers", 0, "hosts"),
                        ["*/acme.files.example.com"]),
               iso_mesh_07.MSG_GATEWAY_NAMESPACE, about="acme-gateway"),
    stack_edit("mesh07-service-entry-exported", "ISO-MESH-07",
               adding(lambda: service_entry(["*"])), iso_mesh_07.MSG_EXPORT, about="acme-aws-apis"),
    stack_edit("mesh07-service-entry-default-export", "ISO-MESH-07",
               adding(lambda: service_entry(None)), iso_mesh_07.MSG_EXPORT, about="acme-aws-apis"),
    stack_edit("mesh07-service-entry-other-host", "ISO-MESH-07",
               adding(lambda: service_entry(["."], ["bolt.files.example.com"])),
               iso_mesh_07.MSG_FOREIGN_HOST, about="acme-aws-apis"),
    stack_edit("mesh07-destination-rule-other-service", "ISO-MESH-07",
               adding(lambda: destination_rule("fileserver.tenant-bolt.svc.cluster.local", ["*"])),
               iso_mesh_07.MSG_FOREIGN_HOST, iso_mesh_07.MSG_EXPORT, about="acme-dr"),
    stack_edit("mesh07-certificate-other-tenant", "ISO-MESH-07",
               adding(lambda: certificate("acme", ["acme.files.example.com", "bolt.files.example.com"])),
               iso_mesh_07.MSG_FOREIGN_HOST, about="acme-cert"),
    stack_edit("mesh07-certificate-wildcard-parent", "ISO-MESH-07",
               adding(lambda: certificate("acme", ["*.files.example.com"])),
               iso_mesh_07.MSG_FOREIGN_HOST, about="acme-cert"),
    stack_edit("mesh07-ingress-other-tenant-host", "ISO-MESH-07",
               adding(lambda: ingress("bolt.files.example.com")),
               iso_mesh_07.MSG_FOREIGN_HOST, about="acme-ingress"),
    stack_edit("mesh07-http-route-other-tenant-host", "ISO-MESH-07",
               adding(lambda: http_route(["acme.files.example.com", "cirrus.files.example.com"])),
               iso_mesh_07.MSG_FOREIGN_HOST, about="acme-route-api"),
    # ISO-MESH-08 (stack)
    stack_edit("mesh08-no-sidecar", "ISO-MESH-08", without(SIDECAR, "cirrus-sidecar"),
               iso_mesh_08.MSG_MISSING, about="cirrus-namespace"),
    stack_edit("mesh08-only-workload-sidecar", "ISO-MESH-08",
               changing(SIDECAR, "acme-sidecar", ("spec", "workloadSelector"), {"labels": {"app": "x"}}),
               iso_mesh_08.MSG_MISSING, about="acme-namespace"),
    stack_edit("mesh08-other-tenant-hosts", "ISO-MESH-08",
               changing(SIDECAR, "bolt-sidecar", ("spec", "egress", 0, "hosts"), ["./*", "tenant-acme/*"]),
               iso_mesh_08.MSG_SCOPE, about="bolt-sidecar"),
    stack_edit("mesh08-every-namespace", "ISO-MESH-08",
               changing(SIDECAR, "cirrus-sidecar", ("spec", "egress", 0, "hosts"), ["*/*"]),
               iso_mesh_08.MSG_SCOPE, about="cirrus-sidecar"),
    # ISO-VC-01
    one("vc01-network-policy-off", "ISO-VC-01", f.vcluster_chart,
        VALUES + ("policies", "networkPolicy", "enabled"), False, iso_vc_01.MSG_NETWORK_POLICY),
    one("vc01-default-values", "ISO-VC-01", f.vcluster_chart, VALUES, f.DELETE,
        iso_vc_01.MSG_NETWORK_POLICY),
    one("vc01-platform-egress-default", "ISO-VC-01", f.vcluster_chart,
        VALUES + ("policies", "networkPolicy", "outgoingConnections", "platform"), f.DELETE,
        iso_vc_01.MSG_PLATFORM_EGRESS),
    one("vc01-platform-egress-on", "ISO-VC-01", f.vcluster_chart,
        VALUES + ("policies", "networkPolicy", "outgoingConnections", "platform"), True,
        iso_vc_01.MSG_PLATFORM_EGRESS),
    one("vc01-outside-tenant-namespace", "ISO-VC-01", f.vcluster_chart, ("namespace",), "vcluster",
        iso_vc_01.MSG_HOST_NAMESPACE),
    # ISO-VC-02
    one("vc02-sync-back", "ISO-VC-02", f.vcluster_chart,
        VALUES + ("sync", "fromHost", "nodes", "syncBackChanges"), True, iso_vc_02.MSG_SYNC_BACK),
    one("vc02-other-tenant-secret", "ISO-VC-02", f.vcluster_chart,
        VALUES + ("sync", "fromHost", "secrets"),
        {"enabled": True, "mappings": {"byName": {"tenant-acme/db": "default/db"}}},
        iso_vc_02.MSG_HOST_SECRETS_MAPPING, iso_vc_02.MSG_FROM_HOST),
    one("vc02-system-config-maps", "ISO-VC-02", f.vcluster_chart,
        VALUES + ("sync", "fromHost", "configMaps"),
        {"enabled": True, "mappings": {"byName": {"kube-system/*": "imported/*"}}},
        iso_vc_02.MSG_HOST_SECRETS_MAPPING, iso_vc_02.MSG_FROM_HOST),
    one("vc02-own-host-secrets", "ISO-VC-02", f.vcluster_chart,
        VALUES + ("sync", "fromHost", "secrets"),
        {"enabled": True, "mappings": {"byName": {"tenant-cirrus/*": "default/*"}}},
        iso_vc_02.MSG_FROM_HOST),
    one("vc02-host-custom-resources", "ISO-VC-02", f.vcluster_chart,
        VALUES + ("sync", "fromHost", "customResources"),
        {"certificates.cert-manager.io": {"enabled": True}}, iso_vc_02.MSG_FROM_HOST),
    one("vc02-replicate-host-services", "ISO-VC-02", f.vcluster_chart,
        VALUES + ("networking",), {"replicateServices": {"fromHost": [
            {"from": "tenant-acme/fileserver", "to": "default/fileserver"}]}}, iso_vc_02.MSG_FROM_HOST),
    one("vc02-to-host-namespaces", "ISO-VC-02", f.vcluster_chart,
        VALUES + ("sync", "toHost", "namespaces"), {"enabled": True}, iso_vc_02.MSG_TO_HOST_NAMESPACES),
    one("vc02-multi-namespace-mode", "ISO-VC-02", f.vcluster_chart,
        VALUES + ("experimental",), {"multiNamespaceMode": {"enabled": True}},
        iso_vc_02.MSG_TO_HOST_NAMESPACES),
    one("vc02-istio-integration", "ISO-VC-02", f.vcluster_chart,
        VALUES + ("integrations",), {"istio": {"enabled": True}}, iso_vc_02.MSG_INTEGRATION),
    one("vc02-external-secrets-integration", "ISO-VC-02", f.vcluster_chart,
        VALUES + ("integrations",), {"externalSecrets": {"enabled": True}}, iso_vc_02.MSG_INTEGRATION),
    one("vc02-other-pool-toleration", "ISO-VC-02", f.vcluster_chart,
        VALUES + ("sync", "toHost", "pods", "enforceTolerations"), ["tenant=bolt:NoSchedule"],
        iso_vc_02.MSG_FOREIGN_POOL),
    one("vc02-keyless-toleration", "ISO-VC-02", f.vcluster_chart,
        VALUES + ("sync", "toHost", "pods", "enforceTolerations"), [{"operator": "Exists"}],
        iso_vc_02.MSG_FOREIGN_POOL),
    one("vc02-other-pool-selector", "ISO-VC-02", f.vcluster_chart,
        VALUES + ("sync", "fromHost", "nodes", "selector"), {"labels": {"tenant": "bolt"}},
        iso_vc_02.MSG_FOREIGN_POOL),
    one("vc02-target-namespace", "ISO-VC-02", f.vcluster_chart,
        VALUES + ("experimental",), {"syncSettings": {"targetNamespace": "tenant-acme"}},
        iso_vc_02.MSG_TARGET_NAMESPACE),
]


@params(CASES)
def test_rule_reports_seeded_violation(case: Case) -> None:
    check(case)


def test_ambient_checks_are_off_for_a_sidecar_mesh() -> None:
    assert [v for v in evaluate([f.allow_gateway()]) if v["policy"] == "ISO-MESH-06"] == []


def test_own_pool_toleration_and_host_namespace_mappings_are_allowed() -> None:
    chart = f.changed(f.vcluster_chart(), VALUES + ("sync", "toHost", "pods", "enforceTolerations"),
                      ["tenant=cirrus:NoSchedule"])
    assert [v for v in evaluate([chart]) if v["policy"].startswith("ISO-VC")] == []
    # Host-namespace mappings name no other namespace, but syncing host secrets is still off-limits.
    chart = f.changed(chart, VALUES + ("sync", "fromHost", "secrets"),
                      {"enabled": True, "mappings": {"byName": {"tenant-cirrus/tls": "default/tls",
                                                                "/ca": "default/ca"}}})
    assert [v["message"] for v in evaluate([chart]) if v["policy"].startswith("ISO-VC")] == [
        iso_vc_02.MSG_FROM_HOST]


def test_allowed_integrations_come_from_config() -> None:
    chart = f.changed(f.vcluster_chart(), VALUES + ("integrations",), {"metricsServer": {"enabled": True}})
    assert [v for v in evaluate([chart]) if v["policy"] == "ISO-VC-02"] != []
    config = {"ISO-VC-02": {"allowedIntegrations": ["metricsServer"]}}
    assert [v for v in evaluate([chart], config=config) if v["policy"] == "ISO-VC-02"] == []


def test_vcluster_rules_do_not_judge_other_charts() -> None:
    chart = f.changed(f.vcluster_chart(), ("chart",), "redis")
    chart = f.changed(chart, ("repositoryOpts", "repo"), "https://charts.bitnami.com/bitnami")
    chart = f.changed(chart, VALUES, {"policies": {"networkPolicy": {"enabled": False}}})
    assert [v for v in evaluate([chart]) if v["policy"].startswith(("ISO-VC", "ISO-NET-04"))] == []


def test_own_hosts_services_and_exports_pass() -> None:
    stack = f.shared_stack() + [service_entry(["."]), destination_rule("fileserver", ["."]),
                                certificate("acme", ["acme.files.example.com", "api.acme.files.example.com"])]
    assert [v for v in evaluate(stack) if v["policy"] == "ISO-MESH-07"] == []


def test_without_registry_hosts_no_public_name_is_owned() -> None:
    stack = f.shared_stack()
    found = [v for v in evaluate(stack, config={"ISO-MESH-07": {"tenantHosts": {}}})
             if v["policy"] == "ISO-MESH-07"]
    assert {v["urn"].rsplit("::", 1)[-1] for v in found} == {"acme-route", "bolt-route", "acme-gateway",
                                                            "bolt-gateway"}


def test_root_namespace_allow_of_platform_sources_and_deny_pass() -> None:
    platform = root_authz([{"from": [{"source": {"namespaces": ["monitoring"]}}]}])
    deny = f.changed(root_authz([{}]), ("spec", "action"), "DENY")
    stack = f.shared_stack() + [platform]
    assert [v for v in evaluate(stack) if v["policy"] == "ISO-MESH-02"] == []
    assert [v for v in evaluate(f.shared_stack() + [deny]) if v["policy"] == "ISO-MESH-02"] == []
