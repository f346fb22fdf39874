"""PlatformAddons: what every cluster runs before any tenant arrives, the same in every cluster.

Installed through the cluster's Kubernetes provider, charts as ``helm.v4.Chart`` (their
manifests reach the policy pack) at the versions pinned in :mod:`components.versions`:

- Istio in sidecar mode with the Istio CNI plugin: without the CNI plugin every injected
  pod needs an init container with NET_ADMIN/NET_RAW, which the tenants' Pod Security
  ``restricted`` namespaces refuse. istiod, the CNI node agent (in ``kube-system``, which
  runs privileged node agents anyway), the shared ingress gateway in ``istio-ingress``
  (an internet-facing NLB; its pods carry :data:`tenants.naming.INGRESS_GATEWAY_LABELS`),
  and a mesh-wide ``PeerAuthentication`` STRICT in ``istio-system`` (ISO-MESH-01).
- cert-manager with the ``letsencrypt-dns01`` ClusterIssuer (Route 53 DNS-01) that signs
  tenants' certificates; external-dns publishing the tenants' gateway hosts.
  Both reach Route 53 through IRSA roles that may only write the record names of this
  cluster's tenants (``route53:ChangeResourceRecordSetsNormalizedRecordNames``): one
  cluster's add-ons cannot touch another tenant's DNS, even in the same hosted zone.
- metrics-server (HPA) and kube-prometheus-stack in ``monitoring``, configured to pick
  up the tenants' PodMonitors, PrometheusRules and dashboards in every namespace
  (:mod:`components.monitoring`); node-exporter is off, because it needs host access
  that the platform namespaces' Pod Security level does not allow.
- The ``gp3-encrypted`` default StorageClass: EBS CSI, encrypted with the cluster's
  volumes key, ``reclaimPolicy: Delete`` (ISO-DATA-08).

Platform namespaces enforce Pod Security ``baseline`` and audit/warn ``restricted``,
pinned to the platform's Kubernetes version. Pods of the add-ons tolerate the system
pool's ``CriticalAddonsOnly`` taint.

``tenant_provider`` is the provider tenant components should use: the same cluster and
credentials, but it is configured only after every add-on here exists, so a tenant's
Certificate, PodMonitor or injected pod is never sent before its CRD or webhook.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.cluster import SYSTEM_TAINT
from components.context import ClusterRef
from components.identity import REGIONAL_STS_ANNOTATION, ROLE_ARN_ANNOTATION, irsa_trust_policy
from components.monitoring import DASHBOARD_FOLDER_ANNOTATION, DASHBOARD_LABEL, DASHBOARD_SIDECAR_RESOURCE
from components.versions import chart, chart_name
from tenants import aws_limits, naming
from tenants.models import HostedZone
from tenants.naming import ClusterNames

Manifest = dict[str, Any]
VERSION = "2012-10-17"

PSA_ENFORCE, PSA_AUDIT = "baseline", "restricted"
#: Namespaces the add-ons create (kube-system exists in every cluster).
PLATFORM_NAMESPACES = (naming.ISTIO_NAMESPACE, naming.INGRESS_NAMESPACE, naming.MONITORING_NAMESPACE,
                       naming.CERT_MANAGER_NAMESPACE, naming.EXTERNAL_DNS_NAMESPACE)
SYSTEM_NAMESPACE = "kube-system"
CRITICAL_ADDONS_TOLERATION = {"key": SYSTEM_TAINT["key"], "operator": "Exists", "effect": "NoSchedule"}
LETSENCRYPT_PRODUCTION = "https://acme-v02.api.letsencrypt.org/directory"
ACME_CHALLENGE_PREFIX = "_acme-challenge."
#: external-dns ownership records: ``_extdns-a.<host>``, ``_extdns-cname.<host>``...
EXTERNAL_DNS_TXT_PREFIX = "_extdns-%{record_type}."
EXTERNAL_DNS_RECORD_TYPES = ("A", "AAAA", "CNAME", "TXT")
CERT_MANAGER_SERVICE_ACCOUNT = "cert-manager"
EXTERNAL_DNS_SERVICE_ACCOUNT = "external-dns"
INGRESS_GATEWAY_RELEASE = "istio-ingressgateway"
PROMETHEUS_RETENTION, PROMETHEUS_VOLUME = "15d", "50Gi"
PRIVATE_KEY_SECRET = f"{naming.TLS_CLUSTER_ISSUER}-account"


# --- manifests ----------------------------------------------------------------------------
def _labels() -> dict[str, str]:
    return {naming.LABEL_MANAGED_BY: naming.MANAGED_BY}


def platform_namespace(name: str, kubernetes_version: str) -> Manifest:
    """A platform namespace: PSA baseline enforced, restricted audited and warned, pinned."""
    version = kubernetes_version if kubernetes_version.startswith("v") else f"v{kubernetes_version}"
    psa = {}
    for mode, level in (("enforce", PSA_ENFORCE), ("audit", PSA_AUDIT), ("warn", PSA_AUDIT)):
        psa[f"pod-security.kubernetes.io/{mode}"] = level
        psa[f"pod-security.kubernetes.io/{mode}-version"] = version
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": {**_labels(), **psa}}}


def mesh_peer_authentication() -> Manifest:
    """Mesh-wide mTLS STRICT: the ``default`` PeerAuthentication in the root namespace."""
    return {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
            "metadata": {"name": "default", "namespace": naming.ISTIO_NAMESPACE, "labels": _labels()},
            "spec": {"mtls": {"mode": "STRICT"}}}


def encrypted_storage_class(volume_key_arn: Any) -> Manifest:
    """The default StorageClass: gp3 on the EBS CSI driver, encrypted with the volumes key."""
    return {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": naming.ENCRYPTED_STORAGE_CLASS, "labels": _labels(),
                         "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "ebs.csi.aws.com",
            "parameters": {"type": "gp3", "encrypted": "true", "kmsKeyId": volume_key_arn},
            "reclaimPolicy": "Delete", "volumeBindingMode": "WaitForFirstConsumer",
            "allowVolumeExpansion": True}


def cluster_issuer(region: str, *, server: str = LETSENCRYPT_PRODUCTION,
                   email: str | None = None) -> Manifest:
    """The ClusterIssuer tenants' certificates name: ACME with Route 53 DNS-01 (IRSA creds)."""
    acme: dict[str, Any] = {"server": server, "privateKeySecretRef": {"name": PRIVATE_KEY_SECRET},
                            "solvers": [{"dns01": {"route53": {"region": region}}}]}
    if email:
        acme["email"] = email
    return {"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer",
            "metadata": {"name": naming.TLS_CLUSTER_ISSUER, "labels": _labels()},
            "spec": {"acme": acme}}


# --- chart values -------------------------------------------------------------------------
def _service_account(name: str, role_arn: Any) -> dict[str, Any]:
    return {"create": True, "name": name,
            "annotations": {ROLE_ARN_ANNOTATION: role_arn, REGIONAL_STS_ANNOTATION: "true"}}


def istiod_values() -> dict[str, Any]:
    """istiod: CNI plugin instead of privileged init containers; proxies start first."""
    return {"pilot": {"cni": {"enabled": True}, "autoscaleMin": 2,
                      "tolerations": [CRITICAL_ADDONS_TOLERATION]},
            "meshConfig": {"accessLogFile": "/dev/stdout", "enablePrometheusMerge": True,
                           "defaultConfig": {"holdApplicationUntilProxyStarts": True}}}


def istio_cni_values() -> dict[str, Any]:
    """The Istio CNI node agent, chained after the VPC CNI."""
    return {"cni": {"chained": True, "excludeNamespaces": [SYSTEM_NAMESPACE]}}


def ingress_gateway_values() -> dict[str, Any]:
    """The shared ingress gateway: internet-facing NLB, client addresses preserved."""
    return {"labels": dict(naming.INGRESS_GATEWAY_LABELS),
            "autoscaling": {"enabled": True, "minReplicas": 2, "maxReplicas": 6},
            "service": {"type": "LoadBalancer", "externalTrafficPolicy": "Local",
                        "annotations": {
                            "service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
                            "service.beta.kubernetes.io/aws-load-balancer-cross-zone-load-balancing-enabled":
                                "true"}}}


def cert_manager_values(role_arn: Any) -> dict[str, Any]:
    """cert-manager with its CRDs (kept on uninstall) and its IRSA ServiceAccount."""
    tolerations = [CRITICAL_ADDONS_TOLERATION]
    return {"crds": {"enabled": True, "keep": True},
            "serviceAccount": _service_account(CERT_MANAGER_SERVICE_ACCOUNT, role_arn),
            # The projected web-identity token must be readable by the non-root process.
            "securityContext": {"fsGroup": 1001},
            "tolerations": tolerations, "webhook": {"tolerations": tolerations},
            "cainjector": {"tolerations": tolerations}, "startupapicheck": {"tolerations": tolerations}}


def zones_of(hostnames: Sequence[str], zones: Sequence[HostedZone]) -> list[HostedZone]:
    """The hosted zones (sorted by domain) that hold ``hostnames``.

    For each host, the longest zone domain it is in. Raises ValueError for a host no zone holds.
    """
    used: dict[str, HostedZone] = {}
    for host in _lower(hostnames):
        holding = [z for z in zones if host == z.domain or host.endswith("." + z.domain)]
        if not holding:
            raise ValueError(f"host {host!r} is in none of the hosted zones "
                             f"{sorted(z.domain for z in zones)}: external-dns could not publish it "
                             "(hosted_zones in _platform.yaml)")
        zone = max(holding, key=lambda z: len(z.domain))
        used[zone.domain] = zone
    return [used[d] for d in sorted(used)]


def external_dns_values(role_arn: Any, *, owner_id: Any, zones: Sequence[HostedZone],
                        region: str) -> dict[str, Any]:
    """external-dns: publishes the tenants' gateway hosts, never deletes what it did not create.

    external-dns manages a hosted zone only if the zone's *name* matches a domain filter
    (a filter matches its own domain and the names below it; it never selects a parent
    zone unless ``--aws-zone-match-parent``): so the filters are the tenants' zones, not
    their host names, and when every zone's id is known ``--zone-id-filter`` pins them
    (no private or look-alike zone of the same name; a zone-id filter drops every zone
    it does not list, so it is all ids or none). Which records it may write inside
    those zones is the IAM role's record-name condition (:func:`external_dns_policy`).
    """
    # Zone ids only when every zone has one: a zone-id filter drops every zone it does not name.
    zone_ids = sorted(known_zone_ids(zones))
    return {"provider": {"name": "aws"}, "sources": ["istio-gateway"],
            "domainFilters": sorted(z.domain for z in zones), "policy": "upsert-only", "registry": "txt",
            "txtOwnerId": owner_id, "txtPrefix": EXTERNAL_DNS_TXT_PREFIX,
            "serviceAccount": _service_account(EXTERNAL_DNS_SERVICE_ACCOUNT, role_arn),
            "env": [{"name": "AWS_DEFAULT_REGION", "value": region}],
            "extraArgs": ["--aws-zone-type=public", *(f"--zone-id-filter={z}" for z in zone_ids)],
            "tolerations": [CRITICAL_ADDONS_TOLERATION]}


def metrics_server_values() -> dict[str, Any]:
    """metrics-server for the tenants' HorizontalPodAutoscalers."""
    return {"replicas": 2, "podDisruptionBudget": {"enabled": True, "minAvailable": 1},
            "tolerations": [CRITICAL_ADDONS_TOLERATION]}


def monitoring_values() -> dict[str, Any]:
    """kube-prometheus-stack selecting tenants' monitors, rules and dashboards everywhere.

    Grafana creates no admin user and offers no password login: the chart's default admin
    password is well known, and a generated one would sit in a Secret of the plan. Access
    is through single sign-on, configured per environment under ``grafana.ini``.
    """
    tolerations = [CRITICAL_ADDONS_TOLERATION]
    kinds = ("podMonitor", "serviceMonitor", "rule")
    selectors = {f"{kind}SelectorNilUsesHelmValues": False for kind in kinds}
    namespaces: dict[str, Any] = {f"{kind}NamespaceSelector": {} for kind in kinds}
    [(label, value)] = DASHBOARD_LABEL.items()
    return {
        "nodeExporter": {"enabled": False},
        "prometheus": {"prometheusSpec": {
            **selectors, **namespaces, "retention": PROMETHEUS_RETENTION, "tolerations": tolerations,
            "storageSpec": {"volumeClaimTemplate": {"spec": {
                "storageClassName": naming.ENCRYPTED_STORAGE_CLASS, "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": PROMETHEUS_VOLUME}}}}}}},
        "alertmanager": {"alertmanagerSpec": {"tolerations": tolerations}},
        "prometheusOperator": {"tolerations": tolerations},
        "grafana": {"grafana.ini": {"security": {"disable_initial_admin_creation": True},
                                    "auth": {"disable_login_form": True},
                                    "auth.basic": {"enabled": False}},
                    "tolerations": tolerations,
                    "sidecar": {"dashboards": {
                        "enabled": True, "label": label, "labelValue": value, "searchNamespace": "ALL",
                        "folderAnnotation": DASHBOARD_FOLDER_ANNOTATION,
                        "resource": DASHBOARD_SIDECAR_RESOURCE,
                        "provider": {"foldersFromFilesStructure": True}}}},
    }


# --- IAM documents --------------------------------------------------------------------------
def _zones(partition: str, zone_ids: Sequence[str] = ()) -> str | list[str]:
    # Record-level scoping is by record name (the conditions below); the zones' ARNs keep
    # the role out of every other zone of the account, where their ids are known.
    if zone_ids:
        return [f"arn:{partition}:route53:::hostedzone/{z}" for z in sorted(zone_ids)]
    return f"arn:{partition}:route53:::hostedzone/*"


def _read_records(partition: str, zone_ids: Sequence[str]) -> dict[str, Any]:
    return {"Sid": "ReadRecords", "Effect": "Allow", "Action": "route53:ListResourceRecordSets",
            "Resource": _zones(partition, zone_ids)}


def _lower(hostnames: Sequence[str]) -> list[str]:
    return sorted({h.lower().rstrip(".") for h in hostnames})


def known_zone_ids(zones: Sequence[HostedZone]) -> list[str]:
    """The zones' ids when every zone has one (else empty: the policies fall back to any zone)."""
    ids = [z.zone_id for z in zones if z.zone_id]
    return ids if len(ids) == len(zones) else []


def cert_manager_dns_policy(hostnames: Sequence[str], partition: str = "aws",
                            zone_ids: Sequence[str] = ()) -> dict[str, Any]:
    """DNS-01 for exactly ``_acme-challenge.<host>`` TXT records of this cluster's hosts."""
    statements: list[dict[str, Any]] = [
        {"Sid": "FindZones", "Effect": "Allow", "Action": "route53:ListHostedZonesByName", "Resource": "*"},
        {"Sid": "ReadChanges", "Effect": "Allow", "Action": "route53:GetChange",
         "Resource": f"arn:{partition}:route53:::change/*"},
    ]
    if hostnames:  # a cluster serving no host (a move's target before its switch) reads no zone
        statements.append(_read_records(partition, zone_ids))
        statements.append({
            "Sid": "WriteChallengeRecords", "Effect": "Allow", "Action": "route53:ChangeResourceRecordSets",
            "Resource": _zones(partition, zone_ids),
            "Condition": {"ForAllValues:StringEquals": {
                "route53:ChangeResourceRecordSetsNormalizedRecordNames":
                    [f"{ACME_CHALLENGE_PREFIX}{h}" for h in _lower(hostnames)],
                "route53:ChangeResourceRecordSetsRecordTypes": ["TXT"]}}})
    return {"Version": VERSION, "Statement": statements}


def external_dns_policy(hostnames: Sequence[str], partition: str = "aws",
                        zone_ids: Sequence[str] = ()) -> dict[str, Any]:
    """Publish exactly this cluster's hosts (and their ownership TXT records)."""
    statements: list[dict[str, Any]] = [
        {"Sid": "ListZones", "Effect": "Allow", "Action": "route53:ListHostedZones", "Resource": "*"},
    ]
    if hostnames:  # a cluster serving no host (a move's target before its switch) reads no zone
        statements.append(_read_records(partition, zone_ids))
        prefix = EXTERNAL_DNS_TXT_PREFIX.split("%", 1)[0]
        names = [n for h in _lower(hostnames) for n in (h, f"{prefix}*.{h}")]
        statements.append({
            "Sid": "WriteTenantRecords", "Effect": "Allow", "Action": "route53:ChangeResourceRecordSets",
            "Resource": _zones(partition, zone_ids),
            "Condition": {
                "ForAllValues:StringLike": {"route53:ChangeResourceRecordSetsNormalizedRecordNames": names},
                "ForAllValues:StringEquals": {
                    "route53:ChangeResourceRecordSetsRecordTypes": list(EXTERNAL_DNS_RECORD_TYPES)}}})
    return {"Version": VERSION, "Statement": statements}


def policy_size(document: Mapping[str, Any]) -> int:
    """A policy's size as IAM counts it (JSON without whitespace)."""
    return len(json.dumps(document, separators=(",", ":")))


def split_by_hosts(build: Callable[[Sequence[str]], dict[str, Any]], hostnames: Sequence[str],
                   role: str) -> list[dict[str, Any]]:
    """``build(hosts)`` split so that every document fits IAM's quotas at any cell size.

    The per-host record-name conditions grow with the cell: one inline policy would pass
    IAM's 10,240 characters at about a hundred tenants. The first document is the role's
    inline policy (up to that limit); the rest are managed policies of at most 6,144
    characters each, attached to the role, at most ``IAM_ROLE_MANAGED_POLICIES_MAX``.
    Hosts are kept in order, so adding a tenant changes only the last document.
    """
    documents: list[dict[str, Any]] = []
    remaining = list(hostnames)
    limit = aws_limits.IAM_ROLE_INLINE_POLICY_MAX_CHARS
    while True:
        low, high = 0, len(remaining)  # the most hosts of `remaining` that fit `limit`
        while low < high:
            middle = (low + high + 1) // 2
            if policy_size(build(remaining[:middle])) <= limit:
                low = middle
            else:
                high = middle - 1
        if low == 0 and remaining:
            raise ValueError(f"{role}: host name {remaining[0]!r} alone does not fit an IAM policy")
        documents.append(build(remaining[:low]))
        remaining = remaining[low:]
        if not remaining:
            break
        limit = aws_limits.IAM_MANAGED_POLICY_MAX_CHARS
    if len(documents) - 1 > aws_limits.IAM_ROLE_MANAGED_POLICIES_MAX:
        raise ValueError(f"{role}: the cell's host names need {len(documents) - 1} managed policies, more "
                         f"than the {aws_limits.IAM_ROLE_MANAGED_POLICIES_MAX} a role may have: "
                         "split the cell (a smaller cell_capacity) or shorten custom host names")
    return documents


# --- the component --------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class PlatformAddonsArgs:
    """Inputs of :class:`PlatformAddons`.

    ``hostnames`` are the DNS names of the tenants this cluster serves: external-dns and
    cert-manager may write records for these names only. ``dns_zones``: the hosted zones
    that hold them (every host must be in one); external-dns manages exactly the zones
    of these hosts. ``kubeconfig`` is the cluster's
    (``TenantCluster.kubeconfig``), from which ``tenant_provider`` is built. Defaults:
    Let's Encrypt production, no ACME contact e-mail.
    """

    cluster: ClusterRef
    names: ClusterNames
    kubeconfig: pulumi.Input[str]
    volume_key_arn: pulumi.Input[str]
    hostnames: Sequence[str] = ()
    dns_zones: Sequence[HostedZone] = ()
    acme_server: str = LETSENCRYPT_PRODUCTION
    acme_email: str | None = None
    #: More cluster-level resources tenant objects must wait for (the admission policies).
    wait_for: Sequence[pulumi.Resource] = ()


class PlatformAddons(pulumi.ComponentResource):
    """The cluster-level platform pieces (see module doc). Outputs: the two IRSA role ARNs."""

    cert_manager_role_arn: pulumi.Output[str]
    external_dns_role_arn: pulumi.Output[str]
    tenant_provider: k8s.Provider

    def __init__(self, name: str, args: PlatformAddonsArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("tenant-platform:index:PlatformAddons", name, None, opts)
        self._name, self._cluster, self._names = name, args.cluster, args.names
        cluster = args.cluster
        hostnames = _lower(args.hostnames)
        dns_zones = zones_of(hostnames, args.dns_zones)
        namespaces = {
            ns: k8s.core.v1.Namespace(f"{name}-ns-{ns}", metadata=platform_namespace(
                ns, cluster.kubernetes_version)["metadata"], opts=self._k8s())
            for ns in PLATFORM_NAMESPACES}

        zone_ids = known_zone_ids(dns_zones)
        cert_manager_role = self._irsa_role(
            "cert-manager", naming.CERT_MANAGER_NAMESPACE, CERT_MANAGER_SERVICE_ACCOUNT, split_by_hosts(
                lambda h: cert_manager_dns_policy(h, cluster.partition, zone_ids), hostnames, "cert-manager"))
        external_dns_role = self._irsa_role(
            "external-dns", naming.EXTERNAL_DNS_NAMESPACE, EXTERNAL_DNS_SERVICE_ACCOUNT, split_by_hosts(
                lambda h: external_dns_policy(h, cluster.partition, zone_ids), hostnames, "external-dns"))
        self.cert_manager_role_arn = cert_manager_role.arn
        self.external_dns_role_arn = external_dns_role.arn

        storage_class = self._object("storage-class", encrypted_storage_class(args.volume_key_arn))
        istio_base = self._chart("istio-base", naming.ISTIO_NAMESPACE, {},
                                 [namespaces[naming.ISTIO_NAMESPACE]])
        istio_cni = self._chart("istio-cni", SYSTEM_NAMESPACE, istio_cni_values(), [istio_base])
        istiod = self._chart("istiod", naming.ISTIO_NAMESPACE, istiod_values(), [istio_base, istio_cni])
        gateway = self._chart("istio-gateway", naming.INGRESS_NAMESPACE, ingress_gateway_values(),
                              [namespaces[naming.INGRESS_NAMESPACE], istiod], release=INGRESS_GATEWAY_RELEASE)
        peer_authentication = self._object("mesh-mtls-strict", mesh_peer_authentication(), [istio_base])
        cert_manager = self._chart("cert-manager", naming.CERT_MANAGER_NAMESPACE,
                                   cert_manager_values(cert_manager_role.arn),
                                   [namespaces[naming.CERT_MANAGER_NAMESPACE]])
        issuer = self._object("cluster-issuer", cluster_issuer(cluster.region, server=args.acme_server,
                                                               email=args.acme_email), [cert_manager])
        external_dns = self._chart(
            "external-dns", naming.EXTERNAL_DNS_NAMESPACE,
            external_dns_values(external_dns_role.arn, owner_id=cluster.name,
                                zones=dns_zones,
                                region=cluster.region),
            [namespaces[naming.EXTERNAL_DNS_NAMESPACE], istio_base])
        metrics_server = self._chart("metrics-server", SYSTEM_NAMESPACE, metrics_server_values(), [])
        monitoring = self._chart("kube-prometheus-stack", naming.MONITORING_NAMESPACE, monitoring_values(),
                                 [namespaces[naming.MONITORING_NAMESPACE], storage_class])

        ready: list[pulumi.Resource] = [*namespaces.values(), storage_class, istio_base, istio_cni, istiod,
                                        gateway, peer_authentication, cert_manager, issuer, external_dns,
                                        metrics_server, monitoring, *args.wait_for]
        # A resource's URN resolves once the engine has created it (for a chart: once all its
        # objects exist), and is known in previews, so this gates without unknowns.
        gated = pulumi.Output.all(args.kubeconfig, *[r.urn for r in ready]).apply(lambda v: v[0])
        self.tenant_provider = k8s.Provider(
            f"{name}-tenants-k8s", kubeconfig=pulumi.Output.secret(gated), enable_server_side_apply=True,
            cluster_identifier=args.names.cluster, opts=pulumi.ResourceOptions(parent=self))
        self.register_outputs({"cert_manager_role_arn": self.cert_manager_role_arn,
                               "external_dns_role_arn": self.external_dns_role_arn})

    def _k8s(self, depends_on: Sequence[pulumi.Resource] = ()) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, provider=self._cluster.provider,
                                      depends_on=list(depends_on))

    def _object(self, role: str, manifest: Manifest,
                depends_on: Sequence[pulumi.Resource] = ()) -> pulumi.CustomResource:
        body = dict(manifest)
        api_version, kind, metadata = body.pop("apiVersion"), body.pop("kind"), body.pop("metadata")
        opts = self._k8s(depends_on)
        if kind == "StorageClass":
            return k8s.storage.v1.StorageClass(
                f"{self._name}-{role}", metadata=metadata, provisioner=body["provisioner"],
                parameters=body["parameters"], reclaim_policy=body["reclaimPolicy"],
                volume_binding_mode=body["volumeBindingMode"],
                allow_volume_expansion=body["allowVolumeExpansion"], opts=opts)
        return k8s.apiextensions.CustomResource(f"{self._name}-{role}", api_version=api_version, kind=kind,
                                                metadata=metadata, spec=body["spec"], opts=opts)

    def _chart(self, key: str, namespace: str, values: Mapping[str, Any],
               depends_on: Sequence[pulumi.Resource], *, release: str | None = None) -> k8s.helm.v4.Chart:
        repository, version = chart(key)
        return k8s.helm.v4.Chart(
            f"{self._name}-{key}", chart=chart_name(key), version=version,
            repository_opts=k8s.helm.v4.RepositoryOptsArgs(repo=repository),
            name=release or key, namespace=namespace, values=dict(values), opts=self._k8s(depends_on))

    def _irsa_role(self, addon: str, namespace: str, service_account: str,
                   policies: Sequence[Mapping[str, Any]]) -> aws.iam.Role:
        """An add-on's IRSA role: the first policy inline, any further ones managed and attached."""
        cluster = self._cluster
        trust = pulumi.Output.all(cluster.oidc_provider_arn, cluster.oidc_issuer).apply(
            lambda v: json.dumps(irsa_trust_policy(v[0], v[1], namespace, service_account)))
        role = aws.iam.Role(
            f"{self._name}-{addon}-role",
            name=self._names.role(addon),
            description=f"IRSA role of {addon} in {namespace}",
            assume_role_policy=trust, tags=dict(cluster.tags), opts=pulumi.ResourceOptions(parent=self))
        first, *more = policies
        aws.iam.RolePolicy(f"{self._name}-{addon}-role-policy", role=role.name, policy=json.dumps(first),
                           opts=pulumi.ResourceOptions(parent=self))
        for i, document in enumerate(more, start=1):
            managed = aws.iam.Policy(
                f"{self._name}-{addon}-policy-{i}", name=f"{self._names.role(addon)}-{i}",
                description=f"{addon}: host names beyond its inline policy (part {i})",
                policy=json.dumps(document), tags=dict(cluster.tags),
                opts=pulumi.ResourceOptions(parent=self))
            aws.iam.RolePolicyAttachment(f"{self._name}-{addon}-policy-{i}-attachment", role=role.name,
                                         policy_arn=managed.arn, opts=pulumi.ResourceOptions(parent=self))
        return role
