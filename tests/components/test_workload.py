"""The shared workload builder: restricted pods, plan-sized resources, strict manifests."""

from __future__ import annotations

import dataclasses

import pytest

from components import scheduling
from components import workload as wl
from tenants import capacity
from tenants.plans import WorkloadSize, load_plans
from tests.components import manifest_checks
from tests.factories import make_context

PLANS = load_plans()
IMAGE = "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/tp-prod-acme/fileserver@sha256:" + "a" * 64


def spec(**kw):
    base = {"workload": "fileserver", "port": 8080, "size": PLANS["standard"].fileserver,
            "config": {"FILES_BUCKET": "tp-prod-acme-files"}}
    return wl.WorkloadSpec(**{**base, **kw})


def manifests(s, tier="namespace"):
    ctx = make_context("acme", tier, "standard")
    labels = wl.workload_labels(ctx.labels, s.workload)
    common = {"namespace": "tenant-acme", "labels": labels}
    return [
        wl.config_map_manifest(s, **common),
        wl.deployment_manifest(s, tenant_id="acme", image=IMAGE, service_account=s.workload,
                               placement=scheduling.pod_placement(ctx), config_digest="0123456789abcdef",
                               **common),
        wl.service_manifest(s, tenant_id="acme", **common),
        wl.autoscaler_manifest(s, **common),
        wl.disruption_budget_manifest(s, tenant_id="acme", **common),
    ]


@pytest.mark.parametrize("tier", ["namespace", "node", "vcluster", "cluster"])
@pytest.mark.parametrize("cache", [None, "2Gi"], ids=["no-cache", "cache"])
def test_every_manifest_validates_strictly(tier, cache):
    for manifest in manifests(spec(cache_size=cache), tier):
        manifest_checks.validate(manifest)


def test_pod_runs_with_the_restricted_baseline_and_its_own_account():
    pod = manifests(spec())[1]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["securityContext"] == {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001,
                                      "fsGroup": 10001, "seccompProfile": {"type": "RuntimeDefault"}}
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False, "privileged": False, "readOnlyRootFilesystem": True,
        "runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001, "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"}}
    assert pod["serviceAccountName"] == "fileserver"
    assert pod["automountServiceAccountToken"] is False
    assert (pod["hostNetwork"], pod["hostPID"], pod["hostIPC"]) == (False, False, False)
    assert {v["name"]: set(v) - {"name"} for v in pod["volumes"]} == {"tmp": {"emptyDir"}}
    assert container["imagePullPolicy"] == "Always"
    assert "env" not in container  # config only from the ConfigMap, never secrets in env


@pytest.mark.parametrize(("plan", "workload"),
                         [(p, w) for p in sorted(PLANS) for w in ("fileserver", "chatbot")], ids=lambda v: v)
def test_resources_come_from_the_plan_with_limits_twice_the_requests(plan, workload):
    size = getattr(PLANS[plan], workload)
    (container,) = manifests(spec(workload=workload, size=size))[1]["spec"]["template"]["spec"]["containers"]
    assert container["resources"] == {
        "requests": {"cpu": size.cpu, "memory": size.memory, "ephemeral-storage": size.ephemeral_storage},
        "limits": {"cpu": wl.scale_quantity(size.cpu, 2), "memory": wl.scale_quantity(size.memory, 2),
                   "ephemeral-storage": wl.scale_quantity(size.ephemeral_storage, 2)}}
    assert container["resources"] == wl.container_resources(size)


def test_mesh_proxy_resources_are_pinned_by_pod_annotations():
    """Istio's default proxy limits (2 CPU, 1Gi) would not be what the quota check counted."""
    annotations = manifests(spec())[1]["spec"]["template"]["metadata"]["annotations"]
    assert {k: v for k, v in annotations.items() if k.startswith("sidecar.istio.io/")} == {
        "sidecar.istio.io/proxyCPU": "100m", "sidecar.istio.io/proxyMemory": "128Mi",
        "sidecar.istio.io/proxyCPULimit": "500m", "sidecar.istio.io/proxyMemoryLimit": "512Mi"}
    assert capacity.MESH_SIDECAR_RESOURCES == {"requests": {"cpu": "100m", "memory": "128Mi"},
                                               "limits": {"cpu": "500m", "memory": "512Mi"}}


def test_tmp_must_fit_the_containers_disk_limit():
    small = WorkloadSize(min_replicas=1, max_replicas=1, cpu="100m", memory="128Mi",
                         ephemeral_storage="128Mi")
    with pytest.raises(ValueError, match="ephemeral-storage limit 256Mi"):
        spec(size=small, tmp_size="256Mi")
    assert spec(size=small, tmp_size="200Mi").tmp_size == "200Mi"


@pytest.mark.parametrize(("quantity", "doubled"), [("100m", "200m"), ("250m", "500m"), ("1", "2"),
                                                   ("512Mi", "1024Mi"), ("2Gi", "4Gi"), ("1.5", "3")])
def test_scale_quantity_keeps_the_unit(quantity, doubled):
    assert wl.scale_quantity(quantity, 2) == doubled


def test_probes_hit_the_application_port():
    (container,) = manifests(spec())[1]["spec"]["template"]["spec"]["containers"]
    probes = (("startupProbe", "/healthz"), ("readinessProbe", "/readyz"), ("livenessProbe", "/healthz"))
    for probe, path in probes:
        assert container[probe]["httpGet"] == {"path": path, "port": "http", "scheme": "HTTP"}
    assert container["ports"][0] == {"name": "http", "containerPort": 8080, "protocol": "TCP"}


def test_autoscaler_and_budget_are_bounded_by_the_plan():
    size = WorkloadSize(min_replicas=3, max_replicas=8, cpu="1", memory="2Gi", ephemeral_storage="1Gi")
    _cm, deployment, service, hpa, pdb = manifests(spec(size=size))
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 8)
    target = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "fileserver"}
    assert hpa["spec"]["scaleTargetRef"] == target
    assert "replicas" not in deployment["spec"]  # the autoscaler owns the replica count
    assert pdb["spec"]["maxUnavailable"] == 1
    selector = {"app.kubernetes.io/name": "fileserver", "tenant": "acme"}
    assert deployment["spec"]["selector"]["matchLabels"] == selector
    assert pdb["spec"]["selector"]["matchLabels"] == selector
    assert service["spec"]["selector"] == selector
    assert service["spec"]["type"] == "ClusterIP"


@pytest.mark.parametrize("tier", ["namespace", "node", "vcluster", "cluster"])
def test_pods_carry_the_tenants_placement(tier):
    ctx = make_context("acme", tier, "standard")
    pod = manifests(spec(), tier)[1]["spec"]["template"]["spec"]
    assert {k: pod[k] for k in ("nodeSelector", "tolerations") if k in pod} == scheduling.pod_placement(ctx)


def test_every_object_carries_the_tenant_labels():
    ctx = make_context("acme", "namespace", "standard")
    for manifest in manifests(spec()):
        assert ctx.labels.items() <= manifest["metadata"]["labels"].items()
    template_labels = manifests(spec())[1]["spec"]["template"]["metadata"]["labels"]
    assert ctx.labels.items() <= template_labels.items()


def test_cache_volume_is_an_ephemeral_claim_on_the_encrypted_class():
    pod = manifests(spec(cache_size="2Gi"))[1]["spec"]["template"]["spec"]
    cache = next(v for v in pod["volumes"] if v["name"] == "cache")
    claim = cache["ephemeral"]["volumeClaimTemplate"]["spec"]
    assert claim == {"accessModes": ["ReadWriteOnce"], "storageClassName": "gp3-encrypted",
                     "resources": {"requests": {"storage": "2Gi"}}}


def test_rollouts_surge_by_the_pods_the_quota_check_counts():
    deployment = manifests(spec())[1]["spec"]
    assert deployment["strategy"] == {"type": "RollingUpdate",
                                      "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    assert capacity.ROLLOUT_MAX_SURGE == 1


@pytest.mark.parametrize(("plan", "cache", "message"), [
    ("starter", "1Gi", "needs 3 volume claims"),
    ("standard", "40Gi", "exceed the storage quota"),
], ids=["too-many-claims", "too-much-storage"])
def test_cache_volumes_must_fit_the_quota(plan, cache, message):
    with pytest.raises(ValueError, match=message):
        wl.check_cache_fits(spec(size=PLANS[plan].fileserver, cache_size=cache), PLANS[plan])


@pytest.mark.parametrize("image", ["nginx:1.27", "repo/app:latest", "repo/app@sha256:abc"])
def test_images_must_be_pinned_by_digest(image):
    with pytest.raises(ValueError, match="pinned by digest"):
        wl.pinned_image(image)


@pytest.mark.parametrize(("kw", "message"), [
    ({"workload": "db"}, "not one of"), ({"port": 80}, "1024-65535"), ({"port": 9090}, "metrics port"),
    ({"tmp_size": "lots"}, "not a Kubernetes quantity"),
], ids=["unknown-workload", "privileged-port", "metrics-port", "bad-quantity"])
def test_spec_rejects_bad_input(kw, message):
    with pytest.raises(ValueError, match=message):
        spec(**kw)


def test_config_hash_changes_with_the_config():
    assert wl.config_hash({"A": "1"}) == wl.config_hash({"A": "1"})
    assert wl.config_hash({"A": "1"}) != wl.config_hash({"A": "2"})


def test_a_context_without_the_released_digest_names_where_to_set_it():
    ctx = dataclasses.replace(make_context("acme"), images={"chatbot": "sha256:" + "2" * 64})
    assert ctx.image_digest("chatbot") == "sha256:" + "2" * 64
    with pytest.raises(ValueError, match=r"no released digest for the fileserver image of tenant 'acme': "
                                         r"set images\.fileserver in _platform\.yaml"):
        ctx.image_digest("fileserver")
