"""FileServerStack: the tenant's file storage, the file-server workload and its ingress.

Storage (see :mod:`components.storage`): the tenant's own KMS key (rotation on, used
only by its roles through S3) and its own bucket (versioned, SSE-KMS with that key, all
public-access blocks, TLS-only and tenant-only policy, access logging). The file server
keeps the tenant's files under ``files/`` (:data:`components.iam_documents.FILES_PREFIX`).

Workload (see :mod:`components.workload`): the shared restricted Deployment, Service, HPA
and PDB, running as the tenant's ``fileserver`` ServiceAccount, whose IRSA role gets one
inline policy here: read and write ``files/`` of this bucket, use this key through S3,
nothing else. The file server needs no disk of its own: S3 is the store, and
``/tmp`` is its scratch space; ``cache_size`` adds a per-replica cache volume on the
encrypted storage class when a deployment wants one.

Ingress on the tenant's host name through the cell's shared Istio ingress gateway.
Tenants may not create Gateways (ISO-MESH-04), so the platform owns one Gateway per
tenant host in the gateway's namespace (``istio-ingress``), next to the cert-manager
Certificate whose Secret the gateway serves (a gateway reads TLS secrets from its own
namespace only). The Gateway's host is written ``<tenant namespace>/<host>``: Istio then
binds only VirtualServices from the tenant's namespace to it, so no other tenant can
route, or hijack, this host. The tenant's VirtualService lives in its namespace and
sends the host to the file server. Port 80 only redirects to HTTPS. Platform-owned
objects carry ``tenant-platform.io/for-tenant`` rather than ``tenant`` (which marks
objects inside the tenant's namespace, ISO-NS-01). DNS: external-dns, running with the
``istio-gateway`` source, publishes the Gateway's host toward the gateway's load
balancer; the per-tenant rate limit on that host is TenantNamespace's.

The chatbot is not exposed: the file server calls it inside the namespace
(``chatbot_url``), under the namespace's mTLS and authorization policies.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components import iam_documents as docs
from components import workload as wl
from components.context import ClusterRef, TenantContext
from components.identity import WorkloadIdentity
from components.storage import TenantBucket, TenantBucketArgs, TenantKey, TenantKeyArgs
from tenants import naming
from tenants.naming import TenantNames

Manifest = dict[str, Any]

DEFAULT_PORT = 8080
HTTPS_PORT = 443
HTTP_PORT = 80
#: Long uploads and downloads of large files must not be cut by the proxy's default.
REQUEST_TIMEOUT = "300s"


def platform_labels(tenant_id: str) -> dict[str, str]:
    """Labels of platform-owned objects that serve one tenant outside its namespace."""
    return {naming.LABEL_MANAGED_BY: naming.MANAGED_BY, naming.LABEL_FOR_TENANT: tenant_id}


def certificate_manifest(names: TenantNames, hostname: str) -> Manifest:
    """cert-manager Certificate for the tenant host, in the ingress gateway's namespace."""
    return {
        "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
        "metadata": {"name": names.ingress_gateway, "namespace": naming.INGRESS_NAMESPACE,
                     "labels": platform_labels(names.tenant_id)},
        "spec": {
            "secretName": names.tls_secret,
            "dnsNames": [hostname],
            "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer",
                          "name": naming.TLS_CLUSTER_ISSUER},
            "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
            "secretTemplate": {"labels": platform_labels(names.tenant_id)},
        },
    }


def gateway_manifest(names: TenantNames, hostname: str) -> Manifest:
    """Platform-owned Gateway for exactly the tenant's host, bound to its namespace."""
    host = f"{names.namespace}/{hostname}"
    return {
        "apiVersion": "networking.istio.io/v1", "kind": "Gateway",
        "metadata": {"name": names.ingress_gateway, "namespace": naming.INGRESS_NAMESPACE,
                     "labels": platform_labels(names.tenant_id)},
        "spec": {
            "selector": dict(naming.INGRESS_GATEWAY_LABELS),
            "servers": [
                {"port": {"number": HTTPS_PORT, "name": "https", "protocol": "HTTPS"},
                 "hosts": [host],
                 "tls": {"mode": "SIMPLE", "credentialName": names.tls_secret,
                         "minProtocolVersion": "TLSV1_2"}},
                {"port": {"number": HTTP_PORT, "name": "http", "protocol": "HTTP"},
                 "hosts": [host],
                 "tls": {"httpsRedirect": True}},
            ],
        },
    }


def virtual_service_manifest(names: TenantNames, hostname: str, labels: dict[str, str],
                             port: int) -> Manifest:
    """The tenant's route: its host, through its gateway, to its file server."""
    return {
        "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
        "metadata": {"name": "fileserver", "namespace": names.namespace, "labels": dict(labels)},
        "spec": {
            "hosts": [hostname],
            "gateways": [f"{naming.INGRESS_NAMESPACE}/{names.ingress_gateway}"],
            "http": [{"name": "fileserver", "timeout": REQUEST_TIMEOUT,
                      "route": [{"destination": {"host": wl.service_host("fileserver", names.namespace),
                                                 "port": {"number": port}}}]}],
        },
    }


def ingress_manifests(ctx: TenantContext, port: int) -> list[Manifest]:
    """Certificate, Gateway (platform-owned) and VirtualService (tenant-owned) of the host."""
    names, hostname = ctx.names, ctx.tenant.hostname
    return [certificate_manifest(names, hostname), gateway_manifest(names, hostname),
            virtual_service_manifest(names, hostname, wl.workload_labels(ctx.labels, "fileserver"), port)]


def fileserver_config(*, bucket: Any, key_arn: Any, region: str, port: int, public_url: str,
                      cache: bool, chatbot_url: str | None) -> dict[str, Any]:
    """The file server's environment: where the files are; no secret (IAM does auth)."""
    config: dict[str, Any] = {
        "FILES_BUCKET": bucket,
        "FILES_PREFIX": docs.FILES_PREFIX,
        "FILES_KMS_KEY_ARN": key_arn,
        "AWS_REGION": region,
        "PORT": str(port),
        "METRICS_PORT": str(wl.METRICS_PORT),
        "PUBLIC_URL": public_url,
        "TMPDIR": "/tmp",  # noqa: S108 - the pod's private emptyDir
    }
    if cache:
        config["CACHE_DIR"] = "/var/cache/app"
    if chatbot_url is not None:
        config["CHATBOT_URL"] = chatbot_url
    return config


@dataclass(frozen=True, kw_only=True)
class FileServerStackArgs:
    """Inputs of :class:`FileServerStack`.

    ``namespace``: the tenant namespace (the Namespace's output, for ordering).
    ``identity``: the tenant's ``fileserver`` WorkloadIdentity (role + ServiceAccount).
    ``peer_role_arns``: the tenant's other workload roles that reach its files (the
    chatbot's); the bucket and key policies admit them, their own stacks grant their
    permissions. Default none.
    ``image``: digest-pinned image; default the tenant's ECR repository at the pinned
    digest. ``port``: application port, default 8080. ``cache_size``: per-replica cache
    volume, default none. ``chatbot_url``: where the tenant's chatbot answers inside the
    namespace; default none (no chatbot). ``scheduled_on``: the node group the pods are
    pinned to (:attr:`components.workload.TenantWorkloadArgs.scheduled_on`); default none.
    """

    ctx: TenantContext
    cluster: ClusterRef
    namespace: pulumi.Input[str]
    identity: WorkloadIdentity
    peer_role_arns: Sequence[pulumi.Input[str]] = ()
    image: str | None = None
    port: int = DEFAULT_PORT
    cache_size: str | None = None
    chatbot_url: str | None = None
    scheduled_on: Sequence[pulumi.Resource] = ()


class FileServerStack(pulumi.ComponentResource):
    """The tenant's files: key, bucket, file server and its ingress (module docstring)."""

    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    key_arn: pulumi.Output[str]
    service_name: pulumi.Output[str]
    url: pulumi.Output[str]

    def __init__(self, name: str, args: FileServerStackArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("tenant-platform:index:FileServerStack", name, None, opts)
        ctx, cluster = args.ctx, args.cluster
        role_arns = [args.identity.role.arn, *args.peer_role_arns]
        key = TenantKey(f"{name}-key", TenantKeyArgs(ctx=ctx, cluster=cluster, purpose="files",
                                                      tenant_role_arns=role_arns),
                        pulumi.ResourceOptions(parent=self))
        storage = TenantBucket(
            f"{name}-storage",
            TenantBucketArgs(ctx=ctx, cluster=cluster, key_arn=key.key_arn, tenant_role_arns=role_arns),
            pulumi.ResourceOptions(parent=self))
        self.bucket_name = storage.bucket_name
        self.bucket_arn = storage.bucket_arn
        self.key_arn = key.key_arn
        if ctx.retired:
            # Offboarded: the files stay (bucket and key, same names and parents); the
            # role loses its permissions and nothing serves or routes to them.
            self.service_name = pulumi.Output.from_input("")
            self.url = pulumi.Output.from_input("")
            self._register()
            return
        policy = pulumi.Output.all(storage.bucket_arn, key.key_arn).apply(
            lambda v: json.dumps(docs.fileserver_policy(bucket=v[0], key_arn=v[1], region=cluster.region)))
        aws.iam.RolePolicy(f"{name}-permissions", name="fileserver-files", role=args.identity.role.name,
                           policy=policy, opts=pulumi.ResourceOptions(parent=self))

        public_url = f"https://{ctx.tenant.hostname}"
        spec = wl.WorkloadSpec(
            workload="fileserver", port=args.port, size=ctx.tenant.plan.fileserver,
            cache_size=args.cache_size,
            config=fileserver_config(bucket=storage.bucket_name, key_arn=key.key_arn, region=cluster.region,
                                     port=args.port, public_url=public_url,
                                     cache=args.cache_size is not None, chatbot_url=args.chatbot_url))
        workload = wl.TenantWorkload(
            f"{name}-workload",
            wl.TenantWorkloadArgs(ctx=ctx, cluster=cluster, namespace=args.namespace,
                                  service_account_name=args.identity.service_account_name,
                                  spec=spec, image=args.image, scheduled_on=args.scheduled_on),
            pulumi.ResourceOptions(parent=self))

        certificate, gateway, route = ingress_manifests(ctx, args.port)
        route["metadata"]["namespace"] = args.namespace
        for role, manifest in (("certificate", certificate), ("gateway", gateway), ("route", route)):
            k8s.apiextensions.CustomResource(
                f"{name}-{role}", api_version=manifest["apiVersion"], kind=manifest["kind"],
                metadata=manifest["metadata"], spec=manifest["spec"],
                opts=pulumi.ResourceOptions(parent=self, provider=cluster.provider))

        self.service_name = workload.service_name
        self.url = pulumi.Output.from_input(public_url)
        self._register()

    def _register(self) -> None:
        self.register_outputs({"bucket_name": self.bucket_name, "bucket_arn": self.bucket_arn,
                               "key_arn": self.key_arn, "service_name": self.service_name, "url": self.url})
