"""The admission policies' own CEL, read from the fixture fleet's rendered plan, against
hostile and benign requests (evaluated by cel-python, see tests/admission_cel.py)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from components import admission
from tenantctl.manifests import manifests
from tenants import naming
from tenants.loader import load_registry
from tests.admission_cel import AdmissionChain, Request, check_supported
from tests.components.manifest_checks import as_integers, validate_all
from tests.conftest import FIXTURE_FLEET
from tests.factories import ACCOUNT_ID

CELL, DEDICATED = "shared-f1", "tenant-delta"
ENV = "prod"
DEPLOYER = naming.platform_admin_username_prefix("aws", ACCOUNT_ID, ENV) + "pulumi-up"
#: Each fixture tenant's account (a dedicated tenant has its own: its cluster's deployer and
#: registry are that account's).
ACCOUNTS = {t.id: t.account for t in load_registry(FIXTURE_FLEET).tenants}


def deployer(tenant: str) -> str:
    """The platform admin role's user name in the cluster that runs ``tenant``."""
    return naming.platform_admin_username_prefix("aws", ACCOUNTS[tenant], ENV) + "pulumi-up"
TENANT_USER = "arn:aws:sts::123456789012:assumed-role/alpha-admins/jane"
RS_CONTROLLER = "system:serviceaccount:kube-system:replicaset-controller"
SLICE_CONTROLLER = "system:serviceaccount:kube-system:endpointslice-controller"
REGISTRY = naming.ecr_registry(ACCOUNT_ID, "ap-northeast-1")
DEFAULT_TOLERATIONS = [
    {
        "key": "node.kubernetes.io/not-ready",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 300,
    },
    {
        "key": "node.kubernetes.io/unreachable",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 300,
    },
]


@pytest.fixture(scope="module")
def rendered(fixture_fleet_plan) -> dict[str, list[dict[str, Any]]]:
    """Each stack's rendered Kubernetes objects (as ``tenantctl plan`` writes them)."""
    assert fixture_fleet_plan.result.code == 0, fixture_fleet_plan.result.out[-2000:]
    return {
        s["name"]: [as_integers(o) for o in manifests(s["resources"])]
        for s in fixture_fleet_plan.document["stacks"]
    }


@pytest.fixture(scope="module")
def chains(rendered) -> dict[str, AdmissionChain]:
    return {stack: AdmissionChain.from_manifests(objs) for stack, objs in rendered.items()}


def _find(objs: list[dict[str, Any]], kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
    found = [
        o
        for o in objs
        if o["kind"] == kind
        and o["metadata"]["name"] == name
        and (namespace is None or o["metadata"].get("namespace") == namespace)
    ]
    assert found, f"no {kind} {namespace}/{name} rendered"
    return copy.deepcopy(found[0])


def _namespace(rendered, tenant: str) -> dict[str, Any]:
    stack = DEDICATED if tenant == "delta" else CELL
    return _find(rendered[stack], "Namespace", naming.tenant_namespace(tenant))


def _prefix(tenant: str) -> str:
    return naming.TenantNames(tenant, ENV).image_repository_prefix(
        naming.ecr_registry(ACCOUNTS[tenant], "ap-northeast-1"))


def _app(rendered, tenant: str, kind: str = "Deployment") -> dict[str, Any]:
    """A tenant's own workload: the platform's template, its own ServiceAccount and labels."""
    stack = DEDICATED if tenant == "delta" else CELL
    dep = _find(rendered[stack], "Deployment", "fileserver", naming.tenant_namespace(tenant))
    template = dep["spec"]["template"]
    template["spec"]["serviceAccountName"] = "app"
    template["metadata"]["labels"] = {"app": "mine"}
    template["spec"]["containers"][0]["image"] = _prefix(tenant) + "mine@sha256:" + "a" * 64
    meta = {"name": "mine", "namespace": naming.tenant_namespace(tenant), "labels": {"app": "mine"}}
    if kind == "Pod":
        return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": template["spec"]}
    if kind == "CronJob":
        return {
            "apiVersion": "batch/v1",
            "kind": kind,
            "metadata": meta,
            "spec": {"schedule": "@daily", "jobTemplate": {"spec": {"template": template}}},
        }
    api = {"Job": "batch/v1", "ReplicationController": "v1"}.get(kind, "apps/v1")
    spec: dict[str, Any] = {"template": template}
    if kind not in ("Job",):
        spec["selector"] = (
            {"matchLabels": {"app": "mine"}} if kind != "ReplicationController" else {"app": "mine"}
        )
    return {"apiVersion": api, "kind": kind, "metadata": meta, "spec": spec}


RESOURCES = {
    "Deployment": "deployments",
    "ReplicaSet": "replicasets",
    "StatefulSet": "statefulsets",
    "DaemonSet": "daemonsets",
    "Job": "jobs",
    "CronJob": "cronjobs",
    "Pod": "pods",
    "ReplicationController": "replicationcontrollers",
    "Service": "services",
    "PodDisruptionBudget": "poddisruptionbudgets",
    "ConfigMap": "configmaps",
    "Secret": "secrets",
    "EndpointSlice": "endpointslices",
    "Endpoints": "endpoints",
}


def _pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    if obj["kind"] == "Pod":
        return obj["spec"]
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return obj["spec"]["template"]["spec"]


def _admit(
    chains,
    rendered,
    tenant: str,
    obj: Any,
    *,
    user: str = TENANT_USER,
    operation: str = "CREATE",
    old: Any = None,
    subresource: str = "",
    namespace: dict[str, Any] | None = None,
):
    stack = DEDICATED if tenant == "delta" else CELL
    kind = (obj or old)["kind"]
    request = Request(
        username=user,
        operation=operation,
        resource=RESOURCES[kind],
        namespace=naming.tenant_namespace(tenant),
        subresource=subresource,
    )
    return chains[stack].admit(request, obj=obj, old=old, namespace=namespace or _namespace(rendered, tenant))


# --- hostile cases: (id, tenant, build(rendered) -> (obj, kwargs), policy that must deny) ----------
Case = tuple[str, str, Callable[[Any], tuple[Any, dict[str, Any]]], str]


def _pod_edit(
    kind: str, edit: Callable[[dict[str, Any]], None], tenant: str = "alpha", **kwargs: Any
) -> Callable[[Any], tuple[Any, dict[str, Any]]]:
    def build(rendered):
        obj = _app(rendered, tenant, kind)
        edit(_pod_spec(obj))
        return obj, kwargs

    return build


def _set(**fields: Any) -> Callable[[dict[str, Any]], None]:
    return lambda spec: spec.update(copy.deepcopy(fields))


def _container(field: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda spec: spec["containers"][0].update({field: value})


OTHER_POOL = {"key": "tenant", "operator": "Equal", "value": "bravo", "effect": "NoSchedule"}
SYSTEM_TOLERATION = {"key": "CriticalAddonsOnly", "operator": "Exists", "effect": "NoSchedule"}
ANY_TOLERATION = {"operator": "Exists"}
NODE_AFFINITY = {
    "nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [
                {"matchExpressions": [{"key": "tenant", "operator": "In", "values": ["bravo"]}]}
            ]
        }
    }
}
FOREIGN = "docker.io/library/nginx:1.27"


def _image(image: str) -> Callable[[dict[str, Any]], None]:
    return _container("image", image)


def _init(image: str) -> Callable[[dict[str, Any]], None]:
    return lambda spec: spec.update(
        initContainers=[{**spec["containers"][0], "name": "init", "image": image}]
    )


def _bravo_pool(spec: dict[str, Any]) -> None:
    spec["nodeSelector"] = {"tenant": "bravo"}
    spec["tolerations"] = [dict(OTHER_POOL)]


def _service(**spec: Any) -> Callable[[Any], tuple[Any, dict[str, Any]]]:
    def build(rendered):
        base = {"type": "ClusterIP", "selector": {"app": "mine"}, "ports": [{"port": 80}]}
        return {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "mine", "namespace": "tenant-alpha"},
            "spec": {**base, **spec},
        }, {}

    return build


def _pdb(**spec: Any) -> Callable[[Any], tuple[Any, dict[str, Any]]]:
    def build(rendered):
        base: dict[str, Any] = {
            "maxUnavailable": 1,
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
            "selector": {
                "matchLabels": {"app": "mine"},
                "matchExpressions": [{"key": naming.LABEL_MANAGED_BY, "operator": "DoesNotExist"}],
            },
        }
        base.update(spec)
        for key in [k for k, v in base.items() if v is None]:
            del base[key]
        return {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": "mine", "namespace": "tenant-alpha"},
            "spec": base,
        }, {}

    return build


def _config_map(
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    kind: str = "ConfigMap",
    **extra: Any,
) -> Callable[[Any], tuple[Any, dict[str, Any]]]:
    def build(rendered):
        meta: dict[str, Any] = {"name": "mine", "namespace": "tenant-alpha", "labels": labels or {}}
        if annotations:
            meta["annotations"] = annotations
        return {"apiVersion": "v1", "kind": kind, "metadata": meta, "data": {"a": "b"}, **extra}, {}

    return build


def _platform(kind: str, name: str, operation: str, edit: Callable[[dict[str, Any]], None] = lambda o: None):
    def build(rendered):
        old = _find(rendered[CELL], kind, name, "tenant-alpha")
        new = copy.deepcopy(old)
        edit(new)
        return (None if operation == "DELETE" else new), {"operation": operation, "old": old}

    return build


def _unlabel(obj: dict[str, Any]) -> None:
    obj["metadata"]["labels"].pop(naming.LABEL_MANAGED_BY)


def _bad_namespace(edit: Callable[[dict[str, Any]], None]):
    def build(rendered):
        ns = _namespace(rendered, "alpha")
        edit(ns["metadata"]["labels"])
        return _app(rendered, "alpha"), {"namespace": ns}

    return build


def _endpoint_slice(user: str) -> Callable[[Any], tuple[Any, dict[str, Any]]]:
    def build(rendered):
        return {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "addressType": "IPv4",
            "metadata": {"name": "mine", "namespace": "tenant-alpha"},
            "endpoints": [{"addresses": ["10.1.2.3"]}],
        }, {"user": user}

    return build


SYNCER = "system:serviceaccount:tenant-charlie:vc-vcluster"


def _synced(edit: Callable[[dict[str, Any]], None]) -> Callable[[Any], tuple[Any, dict[str, Any]]]:
    return _pod_edit("Pod", edit, tenant="charlie", user=SYNCER)


HOSTILE: list[Case] = [
    # placement: taints are not a fence; selector, tolerations, nodeName and affinity are pinned
    (
        "selects-other-tenants-pool",
        "alpha",
        _pod_edit("Deployment", _set(nodeSelector={"tenant": "bravo"})),
        "tenant-pod-placement",
    ),
    ("tolerates-other-tenants-pool", "alpha", _pod_edit("Deployment", _bravo_pool), "tenant-pod-placement"),
    (
        "tolerates-system-pool",
        "alpha",
        _pod_edit("Deployment", _set(tolerations=[SYSTEM_TOLERATION])),
        "tenant-pod-placement",
    ),
    (
        "keyless-exists-toleration",
        "alpha",
        _pod_edit("Deployment", _set(tolerations=[ANY_TOLERATION])),
        "tenant-pod-placement",
    ),
    (
        "tenant-key-exists-toleration",
        "alpha",
        _pod_edit("Deployment", _set(tolerations=[{"key": "tenant", "operator": "Exists"}])),
        "tenant-pod-placement",
    ),
    (
        "node-name-bypasses-scheduler",
        "alpha",
        _pod_edit("Deployment", _set(nodeName="ip-10-0-0-1")),
        "tenant-pod-placement",
    ),
    (
        "node-affinity-to-other-pool",
        "alpha",
        _pod_edit("Deployment", _set(affinity=NODE_AFFINITY)),
        "tenant-pod-placement",
    ),
    (
        "selects-system-pool",
        "alpha",
        _pod_edit("Deployment", _set(nodeSelector={"tenant-platform.io/pool": "system"})),
        "tenant-pod-placement",
    ),
    (
        "node-tier-without-selector",
        "bravo",
        _pod_edit("Deployment", lambda s: s.pop("nodeSelector"), "bravo"),
        "tenant-pod-placement",
    ),
    (
        "node-tier-selects-other-tenant",
        "bravo",
        _pod_edit("Deployment", _set(nodeSelector={"tenant": "alpha"}), "bravo"),
        "tenant-pod-placement",
    ),
    (
        "node-tier-exists-on-own-key",
        "bravo",
        _pod_edit(
            "Deployment",
            _set(tolerations=[{"key": "tenant", "operator": "Exists", "effect": "NoSchedule"}]),
            "bravo",
        ),
        "tenant-pod-placement",
    ),
    (
        "node-tier-tolerates-alpha",
        "bravo",
        _pod_edit("Deployment", _set(tolerations=[{**OTHER_POOL, "value": "alpha"}]), "bravo"),
        "tenant-pod-placement",
    ),
    (
        "dedicated-tolerates-system",
        "delta",
        _pod_edit("Deployment", _set(tolerations=[SYSTEM_TOLERATION]), "delta"),
        "tenant-pod-placement",
    ),
    (
        "cronjob-keyless-toleration",
        "alpha",
        _pod_edit("CronJob", _set(tolerations=[ANY_TOLERATION])),
        "tenant-pod-placement",
    ),
    ("job-node-name", "alpha", _pod_edit("Job", _set(nodeName="ip-10-0-0-1")), "tenant-pod-placement"),
    (
        "daemonset-system-toleration",
        "alpha",
        _pod_edit("DaemonSet", _set(tolerations=[SYSTEM_TOLERATION])),
        "tenant-pod-placement",
    ),
    ("statefulset-other-pool", "alpha", _pod_edit("StatefulSet", _bravo_pool), "tenant-pod-placement"),
    ("replicaset-other-pool", "alpha", _pod_edit("ReplicaSet", _bravo_pool), "tenant-pod-placement"),
    (
        "replicationcontroller-node-name",
        "alpha",
        _pod_edit("ReplicationController", _set(nodeName="n1")),
        "tenant-pod-placement",
    ),
    ("bare-pod-other-pool", "alpha", _pod_edit("Pod", _bravo_pool), "tenant-pod-placement"),
    ("synced-pod-other-pool", "charlie", _synced(_bravo_pool), "tenant-pod-placement"),
    # images: only the tenant's own repository path
    ("public-image", "alpha", _pod_edit("Deployment", _image(FOREIGN)), "tenant-pod-images"),
    (
        "other-tenants-image",
        "alpha",
        _pod_edit("Deployment", _image(_prefix("anvil") + "fileserver@sha256:" + "1" * 64)),
        "tenant-pod-images",
    ),
    (
        "registry-suffix-trick",
        "alpha",
        _pod_edit("Deployment", _image(f"{REGISTRY}.evil.example/tp-{ENV}-alpha/x:1")),
        "tenant-pod-images",
    ),
    (
        "sibling-repository-path",
        "alpha",
        _pod_edit("Deployment", _image(f"{REGISTRY}/tp-{ENV}-alphax/x:1")),
        "tenant-pod-images",
    ),
    ("init-container-foreign", "alpha", _pod_edit("Deployment", _init(FOREIGN)), "tenant-pod-images"),
    (
        "no-image",
        "alpha",
        _pod_edit("Deployment", lambda s: s["containers"][0].pop("image")),
        "tenant-pod-images",
    ),
    (
        "ephemeral-container-foreign",
        "alpha",
        _pod_edit(
            "Pod",
            lambda s: s.update(ephemeralContainers=[{"name": "debug", "image": FOREIGN}]),
            operation="UPDATE",
            subresource="ephemeralcontainers",
        ),
        "tenant-pod-images",
    ),
    ("synced-pod-foreign-image", "charlie", _synced(_image(FOREIGN)), "tenant-pod-images"),
    (
        "dedicated-foreign-image",
        "delta",
        _pod_edit("Job", _image(_prefix("alpha") + "x:1"), "delta"),
        "tenant-pod-images",
    ),
    # identity: the platform's workload ServiceAccounts (IRSA to Bedrock/S3/DB)
    ("job-as-chatbot", "alpha", _pod_edit("Job", _set(serviceAccountName="chatbot")), "tenant-pod-identity"),
    (
        "deprecated-field-fileserver",
        "alpha",
        _pod_edit("Deployment", _set(serviceAccount="fileserver")),
        "tenant-pod-identity",
    ),
    ("synced-pod-as-chatbot", "charlie", _synced(_set(serviceAccountName="chatbot")), "tenant-pod-identity"),
    # priority
    (
        "system-node-critical",
        "alpha",
        _pod_edit("Deployment", _set(priorityClassName="system-node-critical")),
        "tenant-pod-priority",
    ),
    (
        "unknown-priority-class",
        "alpha",
        _pod_edit("Job", _set(priorityClassName="high")),
        "tenant-pod-priority",
    ),
    # services
    ("external-ips", "alpha", _service(externalIPs=["10.0.0.10"]), "tenant-service-exposure"),
    (
        "external-name",
        "alpha",
        _service(type="ExternalName", externalName="fileserver.tenant-anvil.svc"),
        "tenant-service-exposure",
    ),
    ("node-port", "alpha", _service(type="NodePort"), "tenant-service-exposure"),
    ("load-balancer", "alpha", _service(type="LoadBalancer"), "tenant-service-exposure"),
    (
        "external-name-on-cluster-ip",
        "alpha",
        _service(externalName="evil.example"),
        "tenant-service-exposure",
    ),
    ("hand-written-endpoints", "alpha", _endpoint_slice(TENANT_USER), "tenant-endpoints"),
    ("syncer-written-endpoints", "alpha", _endpoint_slice(SYNCER), "tenant-endpoints"),
    # disruption budgets
    ("pdb-min-available", "alpha", _pdb(minAvailable=1, maxUnavailable=None), "tenant-disruption-budgets"),
    ("pdb-zero-unavailable", "alpha", _pdb(maxUnavailable=0), "tenant-disruption-budgets"),
    ("pdb-zero-percent", "alpha", _pdb(maxUnavailable="0%"), "tenant-disruption-budgets"),
    ("pdb-unhealthy-policy", "alpha", _pdb(unhealthyPodEvictionPolicy=None), "tenant-disruption-budgets"),
    (
        "pdb-covers-platform-pods",
        "alpha",
        _pdb(selector={"matchLabels": {"app.kubernetes.io/name": "fileserver"}}),
        "tenant-disruption-budgets",
    ),
    # tokens, dashboards
    (
        "sa-token-secret",
        "alpha",
        _config_map(
            kind="Secret",
            type="kubernetes.io/service-account-token",
            annotations={"kubernetes.io/service-account.name": "chatbot"},
        ),
        "tenant-service-account-tokens",
    ),
    ("dashboard-label", "alpha", _config_map(labels={"grafana_dashboard": "1"}), "tenant-dashboards"),
    (
        "dashboard-other-folder",
        "alpha",
        _config_map(annotations={"grafana_folder": "tenant-anvil"}),
        "tenant-dashboards",
    ),
    (
        "dashboard-secret",
        "alpha",
        _config_map(kind="Secret", labels={"grafana_dashboard": "1"}),
        "tenant-dashboards",
    ),
    # platform objects
    (
        "edits-platform-deployment",
        "alpha",
        _platform("Deployment", "fileserver", "UPDATE", lambda o: o["spec"].update(replicas=0)),
        "tenant-platform-objects",
    ),
    (
        "deletes-platform-config",
        "alpha",
        _platform("ConfigMap", "fileserver-config", "DELETE"),
        "tenant-platform-objects",
    ),
    (
        "strips-platform-label",
        "alpha",
        _platform("ConfigMap", "fileserver-config", "UPDATE", _unlabel),
        "tenant-platform-objects",
    ),
    (
        "forges-platform-label",
        "alpha",
        _config_map(labels={naming.LABEL_MANAGED_BY: naming.MANAGED_BY}),
        "tenant-platform-objects",
    ),
    ("forges-platform-pods", "alpha", _pod_edit("Deployment", lambda s: None), "tenant-platform-objects"),
    # the namespace must be a well-formed tenant namespace
    (
        "namespace-without-tier",
        "alpha",
        _bad_namespace(lambda labels: labels.pop("tier")),
        "tenant-pod-images",
    ),
    (
        "namespace-of-another-tenant",
        "alpha",
        _bad_namespace(lambda labels: labels.update(tenant="anvil")),
        "tenant-pod-images",
    ),
]


def _forge_template_label(rendered):  # used by the "forges-platform-pods" case
    obj = _app(rendered, "alpha")
    obj["spec"]["template"]["metadata"]["labels"][naming.LABEL_MANAGED_BY] = naming.MANAGED_BY
    return obj, {}


HOSTILE = [
    (c[0], c[1], _forge_template_label, c[3]) if c[0] == "forges-platform-pods" else c for c in HOSTILE
]


@pytest.mark.parametrize(("tenant", "build", "policy"), [c[1:] for c in HOSTILE], ids=[c[0] for c in HOSTILE])
def test_hostile_requests_are_denied(chains, rendered, tenant, build, policy):
    obj, kwargs = build(rendered)
    decision = _admit(chains, rendered, tenant, obj, **kwargs)
    assert not decision.allowed
    assert any(d.startswith(f"{policy}:") for d in decision.denials), decision.denials


def test_the_table_is_large_enough():
    assert len(HOSTILE) >= 40


# --- benign: the platform's own workloads and compliant tenant objects pass -----------------------
TIER_TENANTS = ("alpha", "bravo", "charlie", "delta")


@pytest.mark.parametrize("tenant", TIER_TENANTS)
def test_platform_workloads_pass_as_deployed(chains, rendered, tenant):
    """The platform's Deployments (deployer) and their pods (replicaset-controller, with the
    API server's default tolerations) pass every policy."""
    stack = DEDICATED if tenant == "delta" else CELL
    namespace = naming.tenant_namespace(tenant)
    deployments = [
        o for o in rendered[stack] if o["kind"] == "Deployment" and o["metadata"]["namespace"] == namespace
    ]
    assert deployments
    for dep in deployments:
        assert _admit(chains, rendered, tenant, dep, user=deployer(tenant)).allowed
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {**dep["spec"]["template"]["metadata"], "namespace": namespace, "name": "p"},
            "spec": copy.deepcopy(dep["spec"]["template"]["spec"]),
        }
        pod["spec"]["tolerations"] = [*pod["spec"].get("tolerations", []), *DEFAULT_TOLERATIONS]
        assert _admit(chains, rendered, tenant, pod, user=RS_CONTROLLER).allowed


@pytest.mark.parametrize("tenant", TIER_TENANTS)
def test_platform_pod_templates_pass_on_merit(chains, rendered, tenant):
    """Submitted by a tenant identity, the platform's templates fail only the two policies
    that reserve the platform's service accounts and labels to the platform."""
    stack = DEDICATED if tenant == "delta" else CELL
    for dep in (
        o
        for o in rendered[stack]
        if o["kind"] == "Deployment" and o["metadata"]["namespace"] == naming.tenant_namespace(tenant)
    ):
        denials = _admit(chains, rendered, tenant, dep).denials
        assert {d.split(":")[0] for d in denials} == {"tenant-pod-identity", "tenant-platform-objects"}, (
            denials
        )


@pytest.mark.parametrize(
    "kind",
    [
        "Deployment",
        "StatefulSet",
        "DaemonSet",
        "Job",
        "CronJob",
        "Pod",
        "ReplicaSet",
        "ReplicationController",
    ],
)
@pytest.mark.parametrize("tenant", TIER_TENANTS)
def test_compliant_tenant_workloads_pass(chains, rendered, tenant, kind):
    obj = _app(rendered, tenant, kind)
    _pod_spec(obj)["tolerations"] = [*_pod_spec(obj).get("tolerations", []), *DEFAULT_TOLERATIONS]
    assert _admit(chains, rendered, tenant, obj).denials == []


def test_compliant_vcluster_synced_pod_passes(chains, rendered):
    obj = _app(rendered, "charlie", "Pod")
    obj["spec"]["serviceAccountName"] = "vc-workload-vcluster"
    assert _admit(chains, rendered, "charlie", obj, user=SYNCER).denials == []


BENIGN: list[tuple[str, Callable[[Any], tuple[Any, dict[str, Any]]]]] = [
    ("cluster-ip-service", _service()),
    ("headless-service", _service(clusterIP="None")),
    ("pdb-max-unavailable", _pdb()),
    ("pdb-percent", _pdb(maxUnavailable="25%")),
    ("plain-config-map", _config_map(labels={"app": "mine"})),
    ("opaque-secret", _config_map(kind="Secret", type="Opaque")),
    (
        "deletes-platform-pod",
        lambda r: (
            None,
            {
                "operation": "DELETE",
                "old": {
                    "kind": "Pod",
                    "metadata": {"name": "p", "labels": {naming.LABEL_MANAGED_BY: naming.MANAGED_BY}},
                },
            },
        ),
    ),
    ("controller-writes-slices", _endpoint_slice(SLICE_CONTROLLER)),
    (
        "deployer-edits-platform-config",
        lambda r: (
            _platform("ConfigMap", "fileserver-config", "UPDATE")(r)[0],
            {
                "operation": "UPDATE",
                "old": _find(r[CELL], "ConfigMap", "fileserver-config", "tenant-alpha"),
                "user": DEPLOYER,
            },
        ),
    ),
]


@pytest.mark.parametrize("build", [b for _, b in BENIGN], ids=[n for n, _ in BENIGN])
def test_benign_requests_pass(chains, rendered, build):
    obj, kwargs = build(rendered)
    assert _admit(chains, rendered, "alpha", obj, **kwargs).denials == []


# --- the policies themselves -------------------------------------------------------------------
@pytest.mark.parametrize("stack", [CELL, DEDICATED])
def test_every_cluster_renders_every_policy_fail_closed(rendered, stack):
    objs = rendered[stack]
    policies = {o["metadata"]["name"]: o for o in objs if o["kind"] == "ValidatingAdmissionPolicy"}
    bindings = {o["spec"]["policyName"]: o for o in objs if o["kind"] == "ValidatingAdmissionPolicyBinding"}
    assert set(policies) == set(admission.POLICY_NAMES) == set(bindings)
    for name, pol in policies.items():
        assert pol["spec"]["failurePolicy"] == "Fail"
        assert "paramKind" not in pol["spec"]
        assert all(r["scope"] == "Namespaced" for r in pol["spec"]["matchConstraints"]["resourceRules"])
        assert bindings[name]["spec"]["validationActions"] == ["Deny"]
        assert bindings[name]["spec"]["matchResources"] == {
            "namespaceSelector": admission.tenant_namespace_selector()
        }
    assert _find(objs, "PriorityClass", naming.TENANT_PRIORITY_CLASS)["value"] == admission.TENANT_PRIORITY


@pytest.mark.parametrize("stack", [CELL, DEDICATED])
def test_rendered_admission_objects_pass_the_strict_schema(rendered, stack):
    validate_all(
        [
            o
            for o in rendered[stack]
            if o["kind"] in ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "PriorityClass")
        ]
    )


def test_every_expression_is_one_the_evaluator_supports(rendered):
    for pol in (o for o in rendered[CELL] if o["kind"] == "ValidatingAdmissionPolicy"):
        spec = pol["spec"]
        for item in [*spec.get("matchConditions", []), *spec.get("variables", []), *spec["validations"]]:
            check_supported(item["expression"])


def test_tenant_names_are_rendered_from_naming_not_retyped():
    settings = admission.settings_for(environment=ENV, account_id=ACCOUNT_ID, region="ap-northeast-1")
    head, tail = admission.around_tenant(settings.image_prefix)
    assert head + "alpha" + tail == _prefix("alpha")
    with pytest.raises(ValueError, match="exactly once"):
        admission.around_tenant("no placeholder here")
