"""Pure builders of the Kubernetes objects that fence a tenant inside a cluster.

Every function returns a complete manifest (``apiVersion``, ``kind``, ``metadata``, and
``spec`` or the kind's top-level fields) in the engine's camelCase spelling, from plain
values. So each object is unit-tested and schema-validated without a Pulumi engine, and
``TenantNamespace`` only declares what these functions return.

The isolation model, object by object:

- Namespace: Pod Security Admission ``restricted`` for enforce, audit and warn, each
  pinned to the platform's Kubernetes version so an upgrade cannot loosen it silently
  (ISO-NS-02); mesh sidecar injection on.
- ResourceQuota and LimitRange from the plan (ISO-NS-03/04/05). The quota budgets
  requests (what the scheduler reserves) *and* limits (what containers may burst to on
  shared nodes) of CPU, memory and ephemeral storage, persistent storage, and object
  counts, with no NodePort or LoadBalancer Service. It has no ``scopes`` or
  ``scopeSelector``: a scoped quota counts only the pods it matches, and the rest would run
  unbounded. The LimitRange gives containers that declare nothing the plan's defaults
  (the mesh proxy's ephemeral storage among them) and bounds every container, pod and
  volume claim; the platform's own pods are proven to fit both at validation
  (:mod:`tenants.capacity`).
- NetworkPolicies: default deny both ways, then explicit allows (ISO-NET-01/02/04): the
  namespace itself, cluster DNS only, the mesh control plane, the ingress gateway and
  monitoring in, and out only to public HTTPS (AWS APIs) and the database port. Every
  ``ipBlock`` that spans the internet excludes the VPC, every private range and the
  link-local range with the instance metadata service: no tenant reaches another
  tenant's pods or a node's IAM role through these rules.
- RBAC: ``tenant-admin`` and ``tenant-viewer`` Roles rendered from the allowlist in
  ``tenants.access`` (each grant with its reason: operate the platform's apps, never the
  fences, the pod specs or the Services around them), bound to the tenant's own groups
  only (ISO-RBAC-02..05 and -08, ISO-NS-06).
- Istio: PeerAuthentication STRICT, ``allow-nothing`` plus one ALLOW policy naming the
  tenant's namespace, the ingress gateway and monitoring (ISO-MESH-01/02); a Sidecar that
  limits config and egress to the namespace, the mesh control plane and registered
  external services, with ServiceEntries for AWS APIs and the database (ISO-MESH-03).
- The per-tenant request rate limit lives on the shared ingress gateway; see
  :func:`gateway_rate_limit`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tenants import access, naming
from tenants.plans import LimitRangeSpec, Quota

Manifest = dict[str, Any]

PSA_LEVEL = "restricted"
PSA_MODES = ("enforce", "audit", "warn")
#: Namespace label that turns on the mesh's sidecar injection (default revision).
MESH_INJECTION_LABELS = {"istio-injection": "enabled"}
#: The label every namespace carries with its own name (set by the API server).
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
#: The cluster DNS pods (CoreDNS in kube-system, labelled as kube-dns on EKS).
CLUSTER_DNS_NAMESPACE = "kube-system"
CLUSTER_DNS_LABELS = {"k8s-app": "kube-dns"}
#: istiod: sidecars fetch configuration and certificates from it on this port.
ISTIOD_LABELS = {"app": "istiod"}
ISTIOD_XDS_PORT = 15012
DATABASE_PORT = 5432
HTTPS_PORT = 443
#: The instance metadata service (IPv4); ISO-NET-04 names it, so rules list it by name
#: even where a wider excluded range already covers it.
IMDS_CIDR = "169.254.169.254/32"
#: Addresses that are never "the internet": RFC 1918, shared address space (CGNAT),
#: loopback and link-local (IMDS, the Amazon DNS and time servers, EKS Pod Identity).
NON_PUBLIC_CIDRS = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10",
                    "127.0.0.0/8", "169.254.0.0/16")


def metadata(name: str, labels: Mapping[str, str], namespace: str | None = None) -> dict[str, Any]:
    """Object metadata: name, optional namespace, labels."""
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    meta["labels"] = dict(labels)
    return meta


def psa_labels(kubernetes_version: str) -> dict[str, str]:
    """Pod Security Admission labels: restricted, pinned to ``v<major.minor>``."""
    version = kubernetes_version if kubernetes_version.startswith("v") else f"v{kubernetes_version}"
    labels = {}
    for mode in PSA_MODES:
        labels[f"pod-security.kubernetes.io/{mode}"] = PSA_LEVEL
        labels[f"pod-security.kubernetes.io/{mode}-version"] = version
    return labels


def namespace(name: str, labels: Mapping[str, str], kubernetes_version: str) -> Manifest:
    """The tenant namespace with PSA restricted and sidecar injection."""
    all_labels = {**labels, **psa_labels(kubernetes_version), **MESH_INJECTION_LABELS}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata(name, all_labels)}


def quota_hard(quota: Quota) -> dict[str, str]:
    """The ResourceQuota ``hard`` map of a plan's quota (:meth:`tenants.plans.Quota.hard`)."""
    return quota.hard()


def resource_quota(namespace_name: str, labels: Mapping[str, str], quota: Quota) -> Manifest:
    """The namespace's ResourceQuota from the plan: unscoped, so it counts every pod."""
    return {"apiVersion": "v1", "kind": "ResourceQuota",
            "metadata": metadata("tenant-quota", labels, namespace_name),
            "spec": {"hard": quota_hard(quota)}}


def limit_range(namespace_name: str, labels: Mapping[str, str], spec: LimitRangeSpec) -> Manifest:
    """The plan's LimitRange: container defaults and bounds, pod maxima, volume claim sizes."""
    return {"apiVersion": "v1", "kind": "LimitRange",
            "metadata": metadata("tenant-defaults", labels, namespace_name),
            "spec": {"limits": [
                {"type": "Container", "default": spec.default.manifest(),
                 "defaultRequest": spec.default_request.manifest(),
                 "min": spec.min.manifest(), "max": spec.max.manifest()},
                {"type": "Pod", "max": spec.pod_max.manifest()},
                {"type": "PersistentVolumeClaim", "min": {"storage": spec.pvc.min},
                 "max": {"storage": spec.pvc.max}},
            ]}}


def public_egress_except(vpc_cidr: str) -> list[str]:
    """CIDRs excluded from an egress rule to 0.0.0.0/0: the VPC, non-public ranges, IMDS."""
    return [vpc_cidr, *NON_PUBLIC_CIDRS, IMDS_CIDR]


def _namespace_peer(name: str, pod_labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    peer: dict[str, Any] = {"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: name}}}
    if pod_labels:
        peer["podSelector"] = {"matchLabels": dict(pod_labels)}
    return peer


def _policy(name: str, namespace_name: str, labels: Mapping[str, str], *,
            ingress: list[dict[str, Any]] | None = None,
            egress: list[dict[str, Any]] | None = None,
            types: Sequence[str] | None = None) -> Manifest:
    spec: dict[str, Any] = {"podSelector": {}}
    if types is None:
        types = [t for t, rules in (("Ingress", ingress), ("Egress", egress)) if rules is not None]
    spec["policyTypes"] = list(types)
    if ingress:
        spec["ingress"] = ingress
    if egress:
        spec["egress"] = egress
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": metadata(name, labels, namespace_name), "spec": spec}


def network_policies(namespace_name: str, labels: Mapping[str, str], *, vpc_cidr: str,
                     database_cidrs: Iterable[str]) -> list[Manifest]:
    """Default deny plus the allows a tenant namespace needs, one policy per purpose.

    Policies add up (a packet is allowed if any policy allows it), so each allow is its
    own object with a name that says what it is for.
    """
    tcp = "TCP"
    database_cidrs = list(database_cidrs)
    policies = [
        _policy("default-deny", namespace_name, labels, types=["Ingress", "Egress"]),
        _policy("allow-same-namespace", namespace_name, labels,
                ingress=[{"from": [{"podSelector": {}}]}], egress=[{"to": [{"podSelector": {}}]}]),
        _policy("allow-dns", namespace_name, labels, egress=[{
            "to": [_namespace_peer(CLUSTER_DNS_NAMESPACE, CLUSTER_DNS_LABELS)],
            "ports": [{"protocol": "UDP", "port": 53}, {"protocol": tcp, "port": 53}]}]),
        _policy("allow-to-mesh-control-plane", namespace_name, labels, egress=[{
            "to": [_namespace_peer(naming.ISTIO_NAMESPACE, ISTIOD_LABELS)],
            "ports": [{"protocol": tcp, "port": ISTIOD_XDS_PORT}]}]),
        _policy("allow-from-ingress-gateway", namespace_name, labels, ingress=[{
            "from": [_namespace_peer(naming.INGRESS_NAMESPACE, naming.INGRESS_GATEWAY_LABELS)]}]),
        _policy("allow-from-monitoring", namespace_name, labels, ingress=[{
            "from": [_namespace_peer(naming.MONITORING_NAMESPACE)]}]),
        _policy("allow-to-public-https", namespace_name, labels, egress=[{
            "to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": public_egress_except(vpc_cidr)}}],
            "ports": [{"protocol": tcp, "port": HTTPS_PORT}]}]),
    ]
    if database_cidrs:
        policies.append(_policy("allow-to-database", namespace_name, labels, egress=[{
            "to": [{"ipBlock": {"cidr": cidr}} for cidr in database_cidrs],
            "ports": [{"protocol": tcp, "port": DATABASE_PORT}]}]))
    return policies


#: The tenant Roles' rules come from the allowlist in ``tenants.access``, each grant with
#: its reason there; the policy pack (ISO-RBAC-08) judges every tenant subject's effective
#: permissions against the same data, so the two cannot drift apart.
TENANT_ADMIN_RULES = access.rules(access.ADMIN_ROLE)
TENANT_VIEWER_RULES = access.rules(access.VIEWER_ROLE)

ADMIN_ROLE = access.ADMIN_ROLE
VIEWER_ROLE = access.VIEWER_ROLE


def roles(namespace_name: str, labels: Mapping[str, str]) -> list[Manifest]:
    """The tenant-admin and tenant-viewer Roles."""
    return [{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
             "metadata": metadata(role, labels, namespace_name), "rules": rules}
            for role, rules in ((ADMIN_ROLE, TENANT_ADMIN_RULES), (VIEWER_ROLE, TENANT_VIEWER_RULES))]


def role_binding(name: str, role: str, namespace_name: str, labels: Mapping[str, str],
                 groups: Sequence[str]) -> Manifest:
    """Bind a Role in the namespace to groups (never to users or cluster-wide)."""
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": metadata(name, labels, namespace_name),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": g}
                         for g in groups]}


def peer_authentication(namespace_name: str, labels: Mapping[str, str]) -> Manifest:
    """Mutual TLS required for every workload in the namespace (no plaintext)."""
    return {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
            "metadata": metadata("default", labels, namespace_name),
            "spec": {"mtls": {"mode": "STRICT"}}}


def authorization_policies(namespace_name: str, labels: Mapping[str, str]) -> list[Manifest]:
    """``allow-nothing`` (an ALLOW policy that matches nothing) plus the tenant's allow.

    With any ALLOW policy present Istio denies what no ALLOW matches, so the namespace
    accepts requests only from its own workloads, the ingress gateway and monitoring.
    Namespaces in ``source`` come from the caller's mTLS identity, which STRICT makes
    mandatory: they cannot be spoofed by a plaintext client.
    """
    sources = [namespace_name, naming.INGRESS_NAMESPACE, naming.MONITORING_NAMESPACE]
    api = "security.istio.io/v1"
    return [
        {"apiVersion": api, "kind": "AuthorizationPolicy",
         "metadata": metadata("allow-nothing", labels, namespace_name), "spec": {}},
        {"apiVersion": api, "kind": "AuthorizationPolicy",
         "metadata": metadata("allow-tenant", labels, namespace_name),
         "spec": {"action": "ALLOW",
                  "rules": [{"from": [{"source": {"namespaces": [ns]}} for ns in sources]}]}},
    ]


def sidecar(namespace_name: str, labels: Mapping[str, str], *, registry_only: bool = True) -> Manifest:
    """Scope the namespace's proxies to their own namespace, istiod and registered hosts.

    Every tenant namespace has one (ISO-MESH-08): the egress hosts keep other tenants'
    services out of the proxies' configuration. ``registry_only``: a destination without a
    service or ServiceEntry visible here is refused by the proxy itself, on top of the
    NetworkPolicies (defence in depth). False for the ``vcluster`` tier, whose tenant runs
    workloads the platform does not know (their public egress passes through the proxy;
    the NetworkPolicies keep it off other tenants and the metadata service).
    """
    mode = "REGISTRY_ONLY" if registry_only else "ALLOW_ANY"
    return {"apiVersion": "networking.istio.io/v1", "kind": "Sidecar",
            "metadata": metadata("default", labels, namespace_name),
            "spec": {"egress": [{"hosts": ["./*", f"{naming.ISTIO_NAMESPACE}/*"]}],
                     "outboundTrafficPolicy": {"mode": mode}}}


def service_entries(namespace_name: str, labels: Mapping[str, str],
                    database_cidrs: Sequence[str]) -> list[Manifest]:
    """External destinations the tenant's workloads may reach, visible only in its namespace.

    AWS APIs (S3, STS for IRSA, Bedrock, KMS, Secrets Manager) over TLS, matched by SNI;
    the database (RDS Proxy) by address and port. ``exportTo: ["."]`` keeps them out of
    every other namespace's configuration.
    """
    api = "networking.istio.io/v1"
    entries = [{"apiVersion": api, "kind": "ServiceEntry",
                "metadata": metadata("aws-apis", labels, namespace_name),
                "spec": {"hosts": ["*.amazonaws.com"], "location": "MESH_EXTERNAL",
                         "resolution": "NONE", "exportTo": ["."],
                         "ports": [{"number": HTTPS_PORT, "name": "tls", "protocol": "TLS"}]}}]
    if database_cidrs:
        entries.append({"apiVersion": api, "kind": "ServiceEntry",
                        "metadata": metadata("database", labels, namespace_name),
                        "spec": {"hosts": [f"database.{namespace_name}.internal"],
                                 "addresses": list(database_cidrs), "location": "MESH_EXTERNAL",
                                 "resolution": "NONE", "exportTo": ["."],
                                 "ports": [{"number": DATABASE_PORT, "name": "tcp-postgres",
                                            "protocol": "TCP"}]}})
    return entries


LOCAL_RATE_LIMIT_TYPE = "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit"
TYPED_STRUCT = "type.googleapis.com/udpa.type.v1.TypedStruct"
RATE_LIMITED_HEADER = "x-tenant-rate-limited"


def rate_limit_filter_name(tenant_id: str) -> str:
    """Envoy filter name of one tenant's rate limiter on the shared gateway."""
    return f"tenant-platform.ratelimit.{naming.validate_tenant_id(tenant_id)}"


def gateway_rate_limit(tenant_id: str, hostname: str, requests_per_second: int,
                       labels: Mapping[str, str]) -> Manifest:
    """The tenant's request rate limit, on the shared ingress gateway (an EnvoyFilter).

    Why the gateway and not the tenant's namespace: the limit exists so that one tenant
    cannot flood the cell's shared entry point, and a limit there is per tenant, not per
    pod. The EnvoyFilter is platform-owned and lives in the gateway's namespace, where no
    tenant Role reaches (tenants can never create EnvoyFilters, ISO-MESH-04); it carries
    ``tenant-platform.io/for-tenant`` instead of ``tenant`` because ``tenant`` marks
    objects inside the tenant's namespace (ISO-NS-01).

    How: an Envoy local rate limiter is inserted into the gateway's HTTP filter chain
    under a name of its own (so each tenant's filter reads only its own per-route
    configuration: tenants' token buckets never mix), with no bucket at the listener
    level (pass-through); the token bucket is attached to the tenant's virtual host
    (``<hostname>:443``) only. The bucket refills ``requests_per_second`` tokens every
    second with a burst of the same size; it is per gateway replica, so the cell-wide
    limit is this figure times the gateway's replicas. Limited requests get HTTP 429 and
    the ``x-tenant-rate-limited`` header.
    """
    filter_name = rate_limit_filter_name(tenant_id)
    stat_prefix = f"tenant_ratelimit_{tenant_id.replace('-', '_')}"
    percent_100 = {"numerator": 100, "denominator": "HUNDRED"}
    bucket_config = {
        "stat_prefix": stat_prefix,
        "token_bucket": {"max_tokens": requests_per_second, "tokens_per_fill": requests_per_second,
                         "fill_interval": "1s"},
        "filter_enabled": {"runtime_key": f"{stat_prefix}_enabled", "default_value": percent_100},
        "filter_enforced": {"runtime_key": f"{stat_prefix}_enforced", "default_value": percent_100},
        "response_headers_to_add": [{"append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
                                     "header": {"key": RATE_LIMITED_HEADER, "value": "true"}}],
    }
    return {
        "apiVersion": "networking.istio.io/v1alpha3", "kind": "EnvoyFilter",
        "metadata": metadata(f"ratelimit-{tenant_id}", labels, naming.INGRESS_NAMESPACE),
        "spec": {
            "workloadSelector": {"labels": dict(naming.INGRESS_GATEWAY_LABELS)},
            "configPatches": [
                {"applyTo": "HTTP_FILTER",
                 "match": {"context": "GATEWAY", "listener": {"filterChain": {"filter": {
                     "name": "envoy.filters.network.http_connection_manager",
                     "subFilter": {"name": "envoy.filters.http.router"}}}}},
                 "patch": {"operation": "INSERT_BEFORE", "value": {
                     "name": filter_name,
                     "typed_config": {"@type": TYPED_STRUCT, "type_url": LOCAL_RATE_LIMIT_TYPE,
                                      "value": {"stat_prefix": stat_prefix}}}}},
                {"applyTo": "VIRTUAL_HOST",
                 "match": {"context": "GATEWAY",
                           "routeConfiguration": {"vhost": {"name": f"{hostname}:{HTTPS_PORT}"}}},
                 "patch": {"operation": "MERGE", "value": {"typed_per_filter_config": {
                     filter_name: {"@type": TYPED_STRUCT, "type_url": LOCAL_RATE_LIMIT_TYPE,
                                   "value": bucket_config}}}}},
            ],
        },
    }
