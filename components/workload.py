"""One tenant workload: image repository, config, Deployment, Service, autoscaler, budget.

The file server and the chatbot differ only in image, port, size and configuration; the
way they run is one definition, here, so the two cannot drift apart:

- the restricted Pod Security baseline from :mod:`components.scheduling` (non-root,
  read-only root file system, no privilege escalation, all capabilities dropped,
  seccomp ``RuntimeDefault``), the host namespaces explicitly off, the workload's own
  ServiceAccount with token automounting off (the IRSA token is projected by EKS's pod
  identity webhook), and the tenant's node placement;
- requests from the plan and limits at twice the requests (``WorkloadSize``) for CPU,
  memory and ephemeral storage, on every container the platform writes, and the mesh
  proxy's CPU and memory as pod annotations (:data:`tenants.capacity.MESH_SIDECAR_ANNOTATIONS`),
  so the namespace's requests-and-limits quota counts exactly what
  :mod:`tenants.capacity` proved fits; a size-limited ``emptyDir`` at ``/tmp`` as the only
  writable path unless the workload asks for a cache volume (a per-replica generic
  ephemeral claim on the encrypted storage class);
- startup, readiness and liveness probes on the application port;
- the image by digest only (ISO-POD-13), pulled ``Always`` so that a node that already
  holds it still checks the pod's right to pull it; by default from the tenant's own
  ECR repository (scan on push, immutable tags) at the released digest
  (``_platform.yaml`` ``images``, :attr:`TenantContext.images`);
- non-secret configuration as a ConfigMap consumed as environment; its hash on the pod
  template rolls the pods when it changes. Secrets never go into it (ISO-POD-14): the
  workloads authenticate to AWS and the database with IAM, so they hold no secret;
- a ClusterIP Service, an HPA between the plan's replica bounds, and a PDB that keeps
  disruptions to one replica at a time;
- Prometheus annotations for Istio's metrics merging: the sidecar agent scrapes the
  application's metrics port locally and serves them with its own on 15020, which
  Prometheus can reach outside mTLS (see :mod:`components.monitoring`).

Manifests are built by pure functions (engine camelCase, validated against the
Kubernetes schema in tests); :class:`TenantWorkload` only declares them.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components import scheduling
from components.context import ClusterRef, TenantContext
from components.release_image import (
    ImageRef,
    ReleasedImage,
    ReleasedImageArgs,
    authorization_token,
    ecr_registry_of,
)
from tenants import capacity, naming
from tenants.capacity import ROLLOUT_MAX_SURGE
from tenants.plans import PlanSpec, WorkloadSize
from tenants.quantity import parse_quantity

Manifest = dict[str, Any]

#: Container port where every platform workload serves Prometheus metrics (not exposed
#: by the Service: the mesh agent scrapes it on localhost).
METRICS_PORT = 9090
METRICS_PATH = "/metrics"
LIVENESS_PATH = "/healthz"
READINESS_PATH = "/readyz"
#: Limits are this many times the plan's requests (see ``WorkloadSize``).
LIMIT_FACTOR = capacity.LIMIT_FACTOR
#: Target average CPU utilisation (of requests) the autoscaler keeps.
CPU_TARGET_PERCENT = 70
#: Annotation on the pod template carrying the hash of the workload's configuration.
CONFIG_HASH_ANNOTATION = "tenant-platform.io/config-hash"
DIGEST_RE = re.compile(r"@sha256:[0-9a-f]{64}$")
APP_NAME_LABEL = "app.kubernetes.io/name"
PART_OF_LABEL = "app.kubernetes.io/part-of"
#: Pod label marking code the platform built (ISO-NODE-07): set only on pods running the
#: platform's own digest-pinned images, never on an image a caller supplied.
PLATFORM_CODE_LABEL = {"isolation.tenant-platform.io/code": "platform"}


@dataclass(frozen=True, kw_only=True)
class WorkloadSpec:
    """What differs between the platform's workloads.

    ``config``: non-secret environment (values may be Pulumi outputs). ``cache_size``:
    size of a per-replica cache volume (generic ephemeral claim on the encrypted storage
    class); default none, so ``/tmp`` is the only scratch space. ``tmp_size``: size limit
    of ``/tmp`` (default 256Mi).
    """

    workload: str
    port: int
    size: WorkloadSize
    config: Mapping[str, Any] = field(default_factory=dict)
    cache_size: str | None = None
    tmp_size: str = "256Mi"

    def __post_init__(self) -> None:
        if self.workload not in naming.WORKLOADS:
            raise ValueError(f"workload {self.workload!r} is not one of {naming.WORKLOADS}")
        if not 1024 <= self.port <= 65535 or self.port == METRICS_PORT:
            raise ValueError(f"port {self.port} of {self.workload} must be 1024-65535 (non-root) "
                             f"and not the metrics port {METRICS_PORT}")
        for quantity in (self.tmp_size, *([self.cache_size] if self.cache_size else [])):
            parse_quantity(quantity)
        disk = capacity.workload_resources(self.size)["limits"]["ephemeral-storage"]
        if parse_quantity(self.tmp_size) >= parse_quantity(disk):
            raise ValueError(f"the /tmp volume of {self.workload} ({self.tmp_size}) must be smaller than the "
                             f"container's ephemeral-storage limit {disk}: the kubelet counts it "
                             "against that limit and would evict the pod")


# --- pure decisions ---------------------------------------------------------------------
scale_quantity = capacity.scale_quantity


def container_resources(size: WorkloadSize) -> dict[str, dict[str, str]]:
    """Requests from the plan, limits at :data:`LIMIT_FACTOR` times the requests.

    CPU, memory and ephemeral storage: the one definition :mod:`tenants.capacity` counts.
    """
    return capacity.workload_resources(size)


def selector_labels(tenant_id: str, workload: str) -> dict[str, str]:
    """The labels that select one workload's pods (immutable once deployed)."""
    return {APP_NAME_LABEL: workload, naming.LABEL_TENANT: tenant_id}


def workload_labels(tenant_labels: Mapping[str, str], workload: str) -> dict[str, str]:
    """Labels of every object of a workload: the tenant's labels plus the app's."""
    return {**tenant_labels, APP_NAME_LABEL: workload, PART_OF_LABEL: naming.MANAGED_BY}


def check_cache_fits(spec: WorkloadSpec, plan: PlanSpec) -> None:
    """A per-replica cache volume must fit the quota at maximum scale plus the rollout surge."""
    if spec.cache_size is None:
        return
    claims = spec.size.max_replicas + ROLLOUT_MAX_SURGE
    bounds = plan.limit_range.pvc
    if not parse_quantity(bounds.min) <= parse_quantity(spec.cache_size) <= parse_quantity(bounds.max):
        raise ValueError(f"{spec.workload}: a cache volume of {spec.cache_size} is outside the "
                         f"{bounds.min}..{bounds.max} volume claims plan {plan.name!r} admits")
    if claims > plan.quota.pvcs:
        raise ValueError(f"{spec.workload}: a cache volume per replica needs {claims} volume claims at "
                         f"maximum scale plus a rollout surge; plan {plan.name!r} allows {plan.quota.pvcs}")
    if parse_quantity(spec.cache_size) * claims > parse_quantity(plan.quota.storage):
        raise ValueError(f"{spec.workload}: {claims} cache volumes of {spec.cache_size} exceed the "
                         f"storage quota {plan.quota.storage} of plan {plan.name!r}")


def config_hash(data: Mapping[str, str]) -> str:
    """A stable hash of a configuration (pods roll when it changes)."""
    return hashlib.sha256(json.dumps(dict(data), sort_keys=True).encode()).hexdigest()[:16]


def pinned_image(image: str) -> str:
    """The image reference if it is pinned by digest, else a ValueError (ISO-POD-13)."""
    if not DIGEST_RE.search(image):
        raise ValueError(f"image {image!r} must be pinned by digest (<repository>@sha256:<64 hex>)")
    return image


def released_image(ctx: TenantContext, cluster: ClusterRef, workload: str,
                   repository_name: pulumi.Input[str]) -> pulumi.Output[str]:
    """The released image of a workload: under the tenant's one image prefix, by digest.

    Built from :meth:`tenants.naming.TenantNames.image_repository_prefix`, the prefix the
    cluster's admission policy allows in the tenant's namespace, so the two cannot drift.
    ``repository_name`` (the ECR repository's output) orders the image after its repository.
    """
    digest = ctx.image_digest(workload)

    def reference(values: list[Any]) -> str:
        account, repository = values
        prefix = ctx.names.image_repository_prefix(
            naming.ecr_registry(account, cluster.region, cluster.partition))
        if f"{ctx.names.image_repository_path}{workload}" != repository:
            raise ValueError(f"repository {repository!r} is not under the tenant's prefix {prefix!r}")
        return pinned_image(f"{prefix}{workload}@{digest}")

    return pulumi.Output.all(cluster.account_id, repository_name).apply(reference)


def _same_image(values: list[Any]) -> str:
    """The released reference, which must be exactly what the copy put in the repository."""
    reference, copy = values
    if reference != copy:
        raise ValueError(f"the copied image {copy!r} is not the released reference {reference!r}")
    return str(reference)


def copy_released_image(name: str, parent: pulumi.Resource, ctx: TenantContext, cluster: ClusterRef,
                        workload: str, repository: aws.ecr.Repository) -> ReleasedImage:
    """The released image of ``workload``, copied into the tenant's new repository.

    The Deployment takes its image from this copy (and depends on it), so no pod asks for
    an image the repository does not hold yet (:mod:`components.release_image`). A source
    in a private ECR registry is read with a token for that registry, issued to the stack's
    deploy role (the release registry's policy must let it pull); it must be in the
    cluster's region, because ECR tokens are regional.
    """
    source = f"{ctx.release_repository}/{workload}@{ctx.image_digest(workload)}"
    host = ImageRef.parse(source).host
    private = ecr_registry_of(host)
    if private is not None and private[1] != cluster.region:
        raise ValueError(f"release registry {host} is in {private[1]}, the cluster in {cluster.region}: "
                         "publish releases to a registry in every region (release_repository)")
    return ReleasedImage(f"{name}-image", ReleasedImageArgs(
        source_image=source, repository_url=repository.repository_url,
        target_auth=authorization_token(repository.registry_id, parent),
        source_auth=authorization_token(private[0], parent) if private else ""),
        pulumi.ResourceOptions(parent=parent, depends_on=[repository]))


# --- manifests ---------------------------------------------------------------------------
def _meta(name: str, namespace: Any, labels: Mapping[str, str]) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "labels": dict(labels)}


def config_map_name(workload: str) -> str:
    """The ConfigMap holding one workload's environment."""
    return f"{workload}-config"


def config_map_manifest(spec: WorkloadSpec, *, namespace: Any,
                        labels: Mapping[str, str]) -> Manifest:
    """The workload's non-secret environment."""
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": _meta(config_map_name(spec.workload), namespace, labels),
            "data": dict(spec.config)}


def _probe(path: str, *, period: int, failures: int) -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": "http", "scheme": "HTTP"},
            "periodSeconds": period, "timeoutSeconds": 2, "failureThreshold": failures}


def pod_spec(spec: WorkloadSpec, *, image: Any, service_account: Any,
             placement: Mapping[str, Any]) -> dict[str, Any]:
    """The pod spec every platform workload runs with (see the module docstring)."""
    mounts = [{"name": "tmp", "mountPath": "/tmp"}]  # noqa: S108 - a private emptyDir
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {"sizeLimit": spec.tmp_size}}]
    if spec.cache_size is not None:
        mounts.append({"name": "cache", "mountPath": "/var/cache/app"})
        volumes.append({"name": "cache", "ephemeral": {"volumeClaimTemplate": {
            "metadata": {"labels": {APP_NAME_LABEL: spec.workload}},
            "spec": {"accessModes": ["ReadWriteOnce"],
                     "storageClassName": naming.ENCRYPTED_STORAGE_CLASS,
                     "resources": {"requests": {"storage": spec.cache_size}}}}}})
    container = {
        "name": spec.workload,
        "image": image,
        "imagePullPolicy": "Always",
        "ports": [{"name": "http", "containerPort": spec.port, "protocol": "TCP"},
                  {"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"}],
        "envFrom": [{"configMapRef": {"name": config_map_name(spec.workload)}}],
        "resources": container_resources(spec.size),
        "securityContext": scheduling.container_security_context(),
        "startupProbe": _probe(LIVENESS_PATH, period=2, failures=60),
        "readinessProbe": _probe(READINESS_PATH, period=5, failures=3),
        "livenessProbe": _probe(LIVENESS_PATH, period=10, failures=3),
        "volumeMounts": mounts,
    }
    return {
        "serviceAccountName": service_account,
        "priorityClassName": naming.TENANT_PRIORITY_CLASS,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "hostNetwork": False,
        "hostPID": False,
        "hostIPC": False,
        "securityContext": scheduling.restricted_security_context(),
        "terminationGracePeriodSeconds": 30,
        "containers": [container],
        "volumes": volumes,
        **placement,
    }


def deployment_manifest(spec: WorkloadSpec, *, tenant_id: str, namespace: Any,
                        labels: Mapping[str, str], image: Any, service_account: Any,
                        placement: Mapping[str, Any], config_digest: Any,
                        platform_image: bool = False) -> Manifest:
    """The workload's Deployment (replicas left to the autoscaler).

    ``platform_image``: the image is the platform's own pinned build, so the pods carry
    :data:`PLATFORM_CODE_LABEL`.
    """
    selector = selector_labels(tenant_id, spec.workload)
    pod_labels = {**labels, **selector, **(PLATFORM_CODE_LABEL if platform_image else {})}
    pod_annotations = {
        "kubectl.kubernetes.io/default-container": spec.workload,
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(METRICS_PORT),
        "prometheus.io/path": METRICS_PATH,
        CONFIG_HASH_ANNOTATION: config_digest,
        **capacity.MESH_SIDECAR_ANNOTATIONS,
    }
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": _meta(spec.workload, namespace, labels),
        "spec": {
            "selector": {"matchLabels": selector},
            "revisionHistoryLimit": 5,
            "progressDeadlineSeconds": 600,
            "strategy": {"type": "RollingUpdate",
                         "rollingUpdate": {"maxSurge": ROLLOUT_MAX_SURGE, "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": pod_labels, "annotations": pod_annotations},
                "spec": {**pod_spec(spec, image=image, service_account=service_account,
                                    placement=placement),
                         "topologySpreadConstraints": [{
                             "maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                             "whenUnsatisfiable": "ScheduleAnyway",
                             "labelSelector": {"matchLabels": selector}}]},
            },
        },
    }


def service_manifest(spec: WorkloadSpec, *, tenant_id: str, namespace: Any,
                     labels: Mapping[str, str]) -> Manifest:
    """ClusterIP Service on the application port (never NodePort or LoadBalancer)."""
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": _meta(spec.workload, namespace, labels),
        "spec": {"type": "ClusterIP", "selector": selector_labels(tenant_id, spec.workload),
                 "ports": [{"name": "http", "port": spec.port, "targetPort": "http",
                            "protocol": "TCP", "appProtocol": "http"}]},
    }


def autoscaler_manifest(spec: WorkloadSpec, *, namespace: Any, labels: Mapping[str, str]) -> Manifest:
    """HPA between the plan's replica bounds on CPU; scale-down is slow and stepwise."""
    return {
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": _meta(spec.workload, namespace, labels),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": spec.workload},
            "minReplicas": spec.size.min_replicas,
            "maxReplicas": spec.size.max_replicas,
            "metrics": [{"type": "Resource", "resource": {
                "name": "cpu", "target": {"type": "Utilization", "averageUtilization": CPU_TARGET_PERCENT}}}],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300,
                                       "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]}},
        },
    }


def disruption_budget_manifest(spec: WorkloadSpec, *, tenant_id: str, namespace: Any,
                               labels: Mapping[str, str]) -> Manifest:
    """At most one replica voluntarily disrupted at a time, at any scale.

    ``maxUnavailable: 1`` rather than a ``minAvailable`` from the plan: it never blocks a
    node drain (a plan minimum of one replica with ``minAvailable: 1`` would), and it
    stays one replica when the autoscaler has scaled far above the minimum. Unhealthy
    pods may always be evicted, so a crash-looping replica cannot wedge a drain either.
    """
    return {
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": _meta(spec.workload, namespace, labels),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector_labels(tenant_id, spec.workload)},
                 "unhealthyPodEvictionPolicy": "AlwaysAllow"},
    }


def service_host(workload: str, namespace: str) -> str:
    """In-cluster DNS name of a workload's Service."""
    return f"{workload}.{namespace}.svc.cluster.local"


# --- component ---------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class TenantWorkloadArgs:
    """Inputs of :class:`TenantWorkload`.

    ``image``: a digest-pinned reference; default ``None`` means the tenant's own ECR
    repository (created here) at the released digest of ``ctx.images``.
    ``scheduled_on``: the node group the pods' placement pins them to (a ``node``-tier
    tenant's pool; none on shared nodes). The Deployment depends on it, so Pulumi orders
    a tier move without downtime: moving onto the pool, the node group is created (its
    nodes joined) before the Deployment is updated to select it; leaving it, the
    Deployment is updated (a rolling update, ``maxUnavailable: 0``, that Pulumi awaits
    until the new pods are ready elsewhere) before the node group, no longer declared,
    is deleted at the end of the update, after its dependents.
    """

    ctx: TenantContext
    cluster: ClusterRef
    namespace: pulumi.Input[str]
    service_account_name: pulumi.Input[str]
    spec: WorkloadSpec
    image: str | None = None
    scheduled_on: Sequence[pulumi.Resource] = ()


class TenantWorkload(pulumi.ComponentResource):
    """One workload of a tenant, as described in the module docstring."""

    deployment_name: pulumi.Output[str]
    service_name: pulumi.Output[str]
    image: pulumi.Output[str]

    def __init__(self, name: str, args: TenantWorkloadArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("tenant-platform:index:TenantWorkload", name, None, opts)
        ctx, cluster, spec = args.ctx, args.cluster, args.spec
        check_cache_fits(spec, ctx.tenant.plan)
        copied: ReleasedImage | None = None
        if args.image is not None:
            image: pulumi.Input[str] = pinned_image(args.image)
        else:
            repository = aws.ecr.Repository(
                f"{name}-repository",
                name=ctx.names.ecr_repository(spec.workload),
                image_tag_mutability="IMMUTABLE",
                image_scanning_configuration={"scan_on_push": True},
                encryption_configurations=[{"encryption_type": "AES256"}],
                force_delete=False,
                tags={**ctx.tags, "workload": spec.workload},
                opts=pulumi.ResourceOptions(parent=self))
            copied = copy_released_image(name, self, ctx, cluster, spec.workload, repository)
            image = pulumi.Output.all(released_image(ctx, cluster, spec.workload, repository.name),
                                      copied.image).apply(_same_image)

        labels = workload_labels(ctx.labels, spec.workload)
        k8s_opts = pulumi.ResourceOptions(parent=self, provider=cluster.provider)
        config_manifest = config_map_manifest(spec, namespace=args.namespace, labels=labels)
        config = k8s.core.v1.ConfigMap(f"{name}-config", metadata=config_manifest["metadata"],
                                       data=config_manifest["data"], opts=k8s_opts)
        digest_of_config = pulumi.Output.from_input(config_manifest["data"]).apply(config_hash)
        deployment = deployment_manifest(
            spec, tenant_id=ctx.id, namespace=args.namespace, labels=labels, image=image,
            service_account=args.service_account_name, placement=scheduling.pod_placement(ctx),
            config_digest=digest_of_config, platform_image=args.image is None)
        deployed = k8s.apps.v1.Deployment(
            f"{name}-deployment", metadata=deployment["metadata"], spec=deployment["spec"],
            opts=pulumi.ResourceOptions(parent=self, provider=cluster.provider,
                                        depends_on=[config, *([copied] if copied else []),
                                                    *args.scheduled_on]))
        service = service_manifest(spec, tenant_id=ctx.id, namespace=args.namespace, labels=labels)
        served = k8s.core.v1.Service(f"{name}-service", metadata=service["metadata"],
                                     spec=service["spec"], opts=k8s_opts)
        hpa = autoscaler_manifest(spec, namespace=args.namespace, labels=labels)
        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-autoscaler", metadata=hpa["metadata"], spec=hpa["spec"],
            opts=pulumi.ResourceOptions(parent=self, provider=cluster.provider, depends_on=[deployed]))
        pdb = disruption_budget_manifest(spec, tenant_id=ctx.id, namespace=args.namespace, labels=labels)
        k8s.policy.v1.PodDisruptionBudget(f"{name}-disruption-budget", metadata=pdb["metadata"],
                                          spec=pdb["spec"], opts=k8s_opts)

        self.deployment_name = deployed.metadata.apply(lambda m: m.name or spec.workload)
        self.service_name = served.metadata.apply(lambda m: m.name or spec.workload)
        self.image = pulumi.Output.from_input(image)
        self.register_outputs({"deployment_name": self.deployment_name,
                               "service_name": self.service_name, "image": self.image})
