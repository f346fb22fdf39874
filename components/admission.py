"""PlatformAdmission: what a tenant may create with its own rights, decided in every cluster.

The policy pack judges what the platform deploys; these ValidatingAdmissionPolicies
(``admissionregistration.k8s.io/v1``, GA since Kubernetes 1.30) judge what tenants deploy,
in the API server, for every request in a tenant namespace: a tenant admin's ``kubectl``, a
tenant workload's own ServiceAccount, and the vCluster syncer writing a virtual cluster's
pods into its host namespace. docs/admission.md lists each policy and the attack it stops.

Nothing here can fail open:

- every policy has ``failurePolicy: Fail`` and every binding ``validationActions: [Deny]``;
  a CEL error (a missing field, a missing namespace label) is a denial, not a pass;
- the bindings select tenant namespaces by the ``tenant`` label the platform puts on them;
  a namespace's labels are the tenant's parameters (its id and tier). Namespaces are
  cluster-scoped and tenant roles are namespaced (ISO-RBAC-*), so no tenant can edit them,
  and every pod policy first checks that the labels are there and consistent with the
  namespace name (``tenant-<id>``). No param objects: a param a binding cannot find, or a
  param in the tenant's own namespace, would be one more thing to protect or to race;
- cluster-wide facts (the deployer's user name, the image prefix around the tenant id, the
  pool label and taint, the priority class, the workload ServiceAccounts) are rendered into
  the expressions from their one owner (:mod:`tenants.naming`, :mod:`components.scheduling`)
  by substituting a placeholder tenant id, never re-typed here.

Exemptions are by requesting identity and as narrow as the job needs: the platform's
deployer (the platform admin role's sessions) everywhere, the kube-system workload
controllers for the pod policies (they only copy templates that were judged when a tenant
submitted them: Deployment -> ReplicaSet -> Pod, CronJob -> Job -> Pod, StatefulSet and
DaemonSet -> Pod), and the kube-system controllers for platform-owned objects (endpoints,
garbage collection, namespace deletion). The vCluster syncer is a tenant identity.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import scheduling
from components.context import ClusterRef
from components.monitoring import DASHBOARD_FOLDER_ANNOTATION, DASHBOARD_LABEL
from tenants import naming
from tenants.models import Tier

Manifest = dict[str, Any]
API_VERSION = "admissionregistration.k8s.io/v1"
#: A valid tenant id that no tenant has: names are rendered for it, then split around it.
PLACEHOLDER_TENANT = "qxzplaceholderqxz"
PLACEHOLDER_ENVIRONMENT = "qxz"
#: Priority of the tenants' class: above best-effort batch, never preempting anyone.
TENANT_PRIORITY = 1000
#: Node labels a tenant pod may select besides its own pool (placement within its pool).
TOPOLOGY_LABELS = ("kubernetes.io/os", "kubernetes.io/arch", "topology.kubernetes.io/zone")
#: Taints the node lifecycle puts on any node; the API server adds tolerations for the
#: first two to every pod (DefaultTolerationSeconds). Tolerating them opens no pool.
CONDITION_TAINTS = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable",
                    "node.kubernetes.io/memory-pressure", "node.kubernetes.io/disk-pressure",
                    "node.kubernetes.io/pid-pressure")
KUBE_SYSTEM_SA = "system:serviceaccount:kube-system:"
#: Controllers that create pods (or pod-owning objects) from templates judged earlier.
WORKLOAD_CONTROLLERS = tuple(f"{KUBE_SYSTEM_SA}{c}" for c in (
    "deployment-controller", "replicaset-controller", "statefulset-controller", "daemon-set-controller",
    "job-controller", "cronjob-controller", "replication-controller")) + ("system:kube-controller-manager",)
#: Controllers that own Endpoints and EndpointSlices (nobody else may write them).
ENDPOINT_CONTROLLERS = tuple(f"{KUBE_SYSTEM_SA}{c}" for c in (
    "endpoint-controller", "endpointslice-controller", "endpointslice-mirroring-controller")) + (
    "system:kube-controller-manager",)
SERVICE_ACCOUNT_TOKEN_TYPE = "kubernetes.io/service-account-token"  # noqa: S105 - a type name

POD_KINDS_RULES: list[dict[str, Any]] = [
    {"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods", "pods/ephemeralcontainers",
                                                             "replicationcontrollers"]},
    {"apiGroups": ["apps"], "apiVersions": ["v1"],
     "resources": ["deployments", "replicasets", "statefulsets", "daemonsets"]},
    {"apiGroups": ["batch"], "apiVersions": ["v1"], "resources": ["jobs", "cronjobs"]},
]
POLICY_NAMES = ("tenant-pod-placement", "tenant-pod-images", "tenant-pod-identity", "tenant-pod-priority",
                "tenant-service-exposure", "tenant-endpoints", "tenant-disruption-budgets",
                "tenant-service-account-tokens", "tenant-dashboards", "tenant-platform-objects")


# --- CEL rendering ----------------------------------------------------------------------------
def cel_string(value: str) -> str:
    """A CEL string literal (JSON escaping is valid CEL escaping)."""
    return json.dumps(value)


def cel_list(values: Sequence[str]) -> str:
    """A CEL list of string literals."""
    return "[" + ", ".join(cel_string(v) for v in values) + "]"


def around_tenant(rendered: str) -> tuple[str, str]:
    """Split a name rendered for :data:`PLACEHOLDER_TENANT` into (before, after) the id."""
    parts = rendered.split(PLACEHOLDER_TENANT)
    if len(parts) != 2:
        raise ValueError(f"{rendered!r} must contain the tenant id exactly once")
    return parts[0], parts[1]


def per_tenant(rendered: str) -> str:
    """CEL for a per-tenant name: the rendered literal with the tenant id from the namespace."""
    head, tail = around_tenant(rendered)
    return " + ".join([*( [cel_string(head)] if head else []), "variables.tenant",
                       *([cel_string(tail)] if tail else [])])


@dataclass(frozen=True)
class AdmissionSettings:
    """The cluster's facts the policies embed (all rendered from :mod:`tenants.naming`).

    ``deployer_prefix``: user-name prefix of the platform admin role's sessions.
    ``image_prefix``: :meth:`TenantNames.image_repository_prefix` of the placeholder tenant
    in this cluster's registry (the tenant id is substituted in CEL).
    """

    deployer_prefix: str
    image_prefix: str

    def __post_init__(self) -> None:
        if not self.deployer_prefix.endswith("/") or ":assumed-role/" not in self.deployer_prefix:
            raise ValueError(f"deployer prefix {self.deployer_prefix!r} must be an assumed-role prefix")
        around_tenant(self.image_prefix)


def settings_for(*, environment: str, account_id: str, region: str,
                 partition: str = "aws") -> AdmissionSettings:
    """The settings of a cluster in ``account_id``/``region`` of ``environment``."""
    names = naming.TenantNames(PLACEHOLDER_TENANT, environment)
    return AdmissionSettings(
        deployer_prefix=naming.platform_admin_username_prefix(partition, account_id, environment),
        image_prefix=names.image_repository_prefix(naming.ecr_registry(account_id, region, partition)))


# --- shared pieces -------------------------------------------------------------------------
def _labels() -> dict[str, str]:
    return {naming.LABEL_MANAGED_BY: naming.MANAGED_BY}


def tenant_namespace_selector() -> dict[str, Any]:
    """Every namespace carrying the tenant label (only the platform labels namespaces)."""
    return {"matchExpressions": [{"key": naming.LABEL_TENANT, "operator": "Exists"}]}


def _condition(name: str, expression: str) -> dict[str, str]:
    return {"name": name, "expression": expression}


def _validation(expression: str, message: str) -> dict[str, str]:
    return {"expression": expression, "message": message, "reason": "Forbidden"}


def not_deployer(settings: AdmissionSettings) -> dict[str, str]:
    """Match condition: the request is not the platform's deployer."""
    return _condition("not-platform-deployer",
                      f"!request.userInfo.username.startsWith({cel_string(settings.deployer_prefix)})")


def not_user_in(name: str, users: Sequence[str]) -> dict[str, str]:
    """Match condition: the requesting user is none of ``users``."""
    return _condition(name, f"!(request.userInfo.username in {cel_list(users)})")


def _labels_of(obj: str) -> str:
    return f"(has({obj}.metadata.labels) ? {obj}.metadata.labels : {{}})"


def tenant_variables() -> list[dict[str, str]]:
    """``labels``/``tenant``/``tier`` of the request's namespace (errors if absent: denial)."""
    return [
        {"name": "nsLabels", "expression": _labels_of("namespaceObject")},
        {"name": "tenant", "expression": f"variables.nsLabels[{cel_string(naming.LABEL_TENANT)}]"},
        {"name": "tier", "expression": f"variables.nsLabels[{cel_string(naming.LABEL_TIER)}]"},
    ]


def tenant_validations() -> list[dict[str, str]]:
    """The namespace is a well-formed tenant namespace: labels present, name agrees."""
    namespace = per_tenant(naming.tenant_namespace(PLACEHOLDER_TENANT))
    tiers = cel_list([t.value for t in Tier])
    return [_validation(
        f"{cel_string(naming.LABEL_TENANT)} in variables.nsLabels && "
        f"{cel_string(naming.LABEL_TIER)} in variables.nsLabels && variables.tier in {tiers} && "
        f"namespaceObject.metadata.name == {namespace}",
        "the namespace is not a well-formed tenant namespace (tenant and tier labels, tenant-<id> name)")]


POD_SPEC = ("object.kind == 'Pod' ? object.spec : "
            "object.kind == 'CronJob' ? object.spec.jobTemplate.spec.template.spec : "
            "object.spec.template.spec")
CONTAINERS = ("(has(variables.spec.containers) ? variables.spec.containers : []) + "
              "(has(variables.spec.initContainers) ? variables.spec.initContainers : []) + "
              "(has(variables.spec.ephemeralContainers) ? variables.spec.ephemeralContainers : [])")


def pod_variables() -> list[dict[str, str]]:
    """Tenant variables plus ``spec`` (the pod spec of any pod template kind), ``containers``."""
    return [*tenant_variables(), {"name": "spec", "expression": POD_SPEC},
            {"name": "containers", "expression": CONTAINERS}]


def policy(name: str, *, rules: list[dict[str, Any]], operations: Sequence[str],
           conditions: list[dict[str, str]], variables: list[dict[str, str]],
           validations: list[dict[str, str]]) -> Manifest:
    """One ValidatingAdmissionPolicy: Fail on error, namespaced resources only."""
    resource_rules = [{**rule, "operations": list(operations), "scope": "Namespaced"} for rule in rules]
    spec: dict[str, Any] = {"failurePolicy": "Fail",
                            "matchConstraints": {"resourceRules": resource_rules,
                                                 "matchPolicy": "Equivalent"}}
    if conditions:
        spec["matchConditions"] = conditions
    if variables:
        spec["variables"] = variables
    spec["validations"] = validations
    return {"apiVersion": API_VERSION, "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": name, "labels": _labels()}, "spec": spec}


def binding(policy_name: str) -> Manifest:
    """The policy's one binding: Deny, every tenant namespace."""
    return {"apiVersion": API_VERSION, "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": policy_name, "labels": _labels()},
            "spec": {"policyName": policy_name, "validationActions": ["Deny"],
                     "matchResources": {"namespaceSelector": tenant_namespace_selector()}}}


# --- the policies ----------------------------------------------------------------------------
def _pod_policy(name: str, settings: AdmissionSettings, validations: list[dict[str, str]],
                extra_variables: Sequence[dict[str, str]] = ()) -> Manifest:
    return policy(name, rules=POD_KINDS_RULES, operations=("CREATE", "UPDATE"),
                  conditions=[not_deployer(settings),
                              not_user_in("not-workload-controller", WORKLOAD_CONTROLLERS)],
                  variables=[*pod_variables(), *extra_variables],
                  validations=[*tenant_validations(), *validations])


def placement_policy(settings: AdmissionSettings) -> Manifest:
    """Pods only on the tenant's own pool: selector, tolerations, nodeName, node affinity."""
    pool = scheduling.pool_labels(PLACEHOLDER_TENANT)
    taint = scheduling.pool_taint(PLACEHOLDER_TENANT)
    dedicated = cel_list([t.value for t in Tier if scheduling.has_dedicated_pool(t)])
    own_pool_entry = " || ".join(f"(variables.dedicated && k == {cel_string(key)} && "
                                 f"variables.spec.nodeSelector[k] == {per_tenant(value)})"
                                 for key, value in pool.items())
    selects_pool = " && ".join(f"{cel_string(key)} in variables.spec.nodeSelector && "
                               f"variables.spec.nodeSelector[{cel_string(key)}] == {per_tenant(value)}"
                               for key, value in pool.items())
    own_toleration = (f"(variables.dedicated && has(t.key) && t.key == {cel_string(taint['key'])} && "
                      "(!has(t.operator) || t.operator == 'Equal') && "
                      f"has(t.value) && t.value == {per_tenant(taint['value'])} && "
                      f"(!has(t.effect) || t.effect == {cel_string(taint['effect'])}))")
    condition_toleration = f"(has(t.key) && t.key in {cel_list(CONDITION_TAINTS)})"
    return _pod_policy("tenant-pod-placement", settings, extra_variables=[
        {"name": "dedicated", "expression": f"variables.tier in {dedicated}"}], validations=[
        _validation("!has(variables.spec.nodeName) || "
                    "(object.kind == 'Pod' && request.operation == 'UPDATE' && "
                    "has(oldObject.spec.nodeName) && oldObject.spec.nodeName == variables.spec.nodeName)",
                    "pods are placed by the scheduler: spec.nodeName may not be set"),
        _validation("!has(variables.spec.affinity) || !has(variables.spec.affinity.nodeAffinity)",
                    "node affinity is not allowed: the platform pins pods to the tenant's pool"),
        _validation("!has(variables.spec.nodeSelector) || variables.spec.nodeSelector.all(k, "
                    f"{own_pool_entry} || k in {cel_list(TOPOLOGY_LABELS)})",
                    "nodeSelector may name only the tenant's own pool and topology labels"),
        _validation(f"!variables.dedicated || (has(variables.spec.nodeSelector) && {selects_pool})",
                    "pods of a dedicated-pool tenant must select the tenant's own pool"),
        _validation(f"!has(variables.spec.tolerations) || variables.spec.tolerations.all(t, "
                    f"{own_toleration} || {condition_toleration})",
                    "tolerations may name only the tenant's own pool taint and node-condition taints; "
                    "no key-less or system-pool tolerations"),
    ])


def image_policy(settings: AdmissionSettings) -> Manifest:
    """Every container image (init and ephemeral too) from the tenant's own repository path."""
    return _pod_policy("tenant-pod-images", settings, extra_variables=[
        {"name": "imagePrefix", "expression": per_tenant(settings.image_prefix)}], validations=[
        _validation("variables.containers.all(c, has(c.image) && c.image.startsWith(variables.imagePrefix))",
                    "images must come from the tenant's own repository path"),
    ])


def identity_policy(settings: AdmissionSettings) -> Manifest:
    """Tenant workloads never run as the platform's workload ServiceAccounts (IRSA roles)."""
    accounts = cel_list([naming.TenantNames(PLACEHOLDER_TENANT, PLACEHOLDER_ENVIRONMENT).service_account(w)
                         for w in naming.WORKLOADS])
    return _pod_policy("tenant-pod-identity", settings, validations=[
        _validation("!has(variables.spec.serviceAccountName) || "
                    f"!(variables.spec.serviceAccountName in {accounts})",
                    "the platform's workload service accounts are not for tenant workloads"),
        _validation(f"!has(variables.spec.serviceAccount) || !(variables.spec.serviceAccount in {accounts})",
                    "the platform's workload service accounts are not for tenant workloads"),
    ])


def priority_policy(settings: AdmissionSettings) -> Manifest:
    """Only the platform's tenant priority class (or none)."""
    return _pod_policy("tenant-pod-priority", settings, validations=[
        _validation("!has(variables.spec.priorityClassName) || "
                    f"variables.spec.priorityClassName == {cel_string(naming.TENANT_PRIORITY_CLASS)}",
                    f"the only priority class for tenant pods is {naming.TENANT_PRIORITY_CLASS}"),
    ])


def service_policy(settings: AdmissionSettings) -> Manifest:
    """Services stay inside the cluster: ClusterIP only, no external IPs or names."""
    return policy("tenant-service-exposure", rules=[
        {"apiGroups": [""], "apiVersions": ["v1"], "resources": ["services"]}],
        operations=("CREATE", "UPDATE"), conditions=[not_deployer(settings)], variables=[], validations=[
        _validation("!has(object.spec.type) || object.spec.type == 'ClusterIP'",
                    "only ClusterIP services: no NodePort, LoadBalancer or ExternalName"),
        _validation("!has(object.spec.externalIPs) || size(object.spec.externalIPs) == 0",
                    "services may not set externalIPs (CVE-2020-8554)"),
        _validation("!has(object.spec.externalName)", "services may not set externalName"),
    ])


def endpoints_policy(settings: AdmissionSettings) -> Manifest:
    """Endpoints come from selectors only: hand-written ones could point at other tenants' pods."""
    return policy("tenant-endpoints", rules=[
        {"apiGroups": [""], "apiVersions": ["v1"], "resources": ["endpoints"]},
        {"apiGroups": ["discovery.k8s.io"], "apiVersions": ["v1"], "resources": ["endpointslices"]}],
        operations=("CREATE", "UPDATE"), conditions=[not_deployer(settings)], variables=[], validations=[
        _validation(f"request.userInfo.username in {cel_list(ENDPOINT_CONTROLLERS)}",
                    "endpoints are written by the cluster's endpoint controllers only"),
    ])


def disruption_budget_policy(settings: AdmissionSettings) -> Manifest:
    """Budgets that can never block a node drain and never cover platform pods."""
    managed_by = cel_string(naming.LABEL_MANAGED_BY)
    return policy("tenant-disruption-budgets", rules=[
        {"apiGroups": ["policy"], "apiVersions": ["v1"], "resources": ["poddisruptionbudgets"]}],
        operations=("CREATE", "UPDATE"), conditions=[not_deployer(settings)], variables=[], validations=[
        _validation("!has(object.spec.minAvailable)",
                    "use maxUnavailable, not minAvailable: a minimum can block node drains"),
        _validation("has(object.spec.maxUnavailable) && (type(object.spec.maxUnavailable) == int ? "
                    "object.spec.maxUnavailable >= 1 : "
                    "string(object.spec.maxUnavailable).matches('^([1-9][0-9]?|100)%$'))",
                    "maxUnavailable must allow at least one disruption"),
        _validation("has(object.spec.unhealthyPodEvictionPolicy) && "
                    "object.spec.unhealthyPodEvictionPolicy == 'AlwaysAllow'",
                    "unhealthyPodEvictionPolicy must be AlwaysAllow"),
        _validation("has(object.spec.selector) && has(object.spec.selector.matchExpressions) && "
                    f"object.spec.selector.matchExpressions.exists(e, e.key == {managed_by} && "
                    "(e.operator == 'DoesNotExist' || (e.operator == 'NotIn' && has(e.values) && "
                    f"{cel_string(naming.MANAGED_BY)} in e.values)))",
                    f"the selector must exclude platform pods ({naming.LABEL_MANAGED_BY} DoesNotExist): "
                    "two budgets over one pod block its eviction"),
    ])


def service_account_token_policy(settings: AdmissionSettings) -> Manifest:
    """No long-lived ServiceAccount token Secrets (they would hand out any account's token)."""
    return policy("tenant-service-account-tokens", rules=[
        {"apiGroups": [""], "apiVersions": ["v1"], "resources": ["secrets"]}],
        operations=("CREATE", "UPDATE"), conditions=[not_deployer(settings)], variables=[], validations=[
        _validation(f"!has(object.type) || object.type != {cel_string(SERVICE_ACCOUNT_TOKEN_TYPE)}",
                    "service account token secrets are not allowed"),
    ])


def dashboard_policy(settings: AdmissionSettings) -> Manifest:
    """Only the platform files dashboards for Grafana's all-namespaces sidecar."""
    [(label, _)] = DASHBOARD_LABEL.items()
    return policy("tenant-dashboards", rules=[
        {"apiGroups": [""], "apiVersions": ["v1"], "resources": ["configmaps", "secrets"]}],
        operations=("CREATE", "UPDATE"), conditions=[not_deployer(settings)], variables=[], validations=[
        _validation(f"!({cel_string(label)} in {_labels_of('object')})",
                    f"only the platform labels dashboards ({label})"),
        _validation(f"!has(object.metadata.annotations) || "
                    f"!({cel_string(DASHBOARD_FOLDER_ANNOTATION)} in object.metadata.annotations)",
                    f"only the platform files dashboards in folders ({DASHBOARD_FOLDER_ANNOTATION})"),
    ])


TEMPLATE_LABELS = (
    "object == null ? {} : "
    "object.kind in ['Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet', 'Job', 'ReplicationController'] "
    "&& has(object.spec.template) && has(object.spec.template.metadata) && "
    "has(object.spec.template.metadata.labels) ? object.spec.template.metadata.labels : "
    "object.kind == 'CronJob' && has(object.spec.jobTemplate.spec.template.metadata) && "
    "has(object.spec.jobTemplate.spec.template.metadata.labels) ? "
    "object.spec.jobTemplate.spec.template.metadata.labels : {}")


def platform_objects_policy(settings: AdmissionSettings) -> Manifest:
    """Objects labelled as the platform's are written by the platform (and kube-system) only.

    Deleting a platform pod stays allowed: its controller recreates it, and restarting a
    workload that way is what the tenant-admin Role grants ``delete`` on pods for.
    """
    managed = f"{cel_string(naming.LABEL_MANAGED_BY)}"
    value = cel_string(naming.MANAGED_BY)

    def owned(labels: str) -> str:
        return f"({managed} in {labels} && {labels}[{managed}] == {value})"

    return policy("tenant-platform-objects", rules=[
        {"apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"]}],
        operations=("CREATE", "UPDATE", "DELETE"), conditions=[
            not_deployer(settings),
            _condition("not-kube-system",
                       f"!request.userInfo.username.startsWith({cel_string(KUBE_SYSTEM_SA)}) && "
                                          "request.userInfo.username != 'system:kube-controller-manager'"),
            _condition("not-pod-deletion",
                       "!(request.resource.resource == 'pods' && request.operation == 'DELETE')"),
        ], variables=[
            {"name": "newLabels", "expression": f"object == null ? {{}} : {_labels_of('object')}"},
            {"name": "oldLabels", "expression": f"oldObject == null ? {{}} : {_labels_of('oldObject')}"},
            {"name": "templateLabels", "expression": TEMPLATE_LABELS},
        ], validations=[
            _validation(f"!{owned('variables.oldLabels')}",
                        "this object belongs to the platform: only the platform may change or delete it"),
            _validation(f"!{owned('variables.newLabels')} && !{owned('variables.templateLabels')}",
                        "only the platform may create objects labelled "
                        f"{naming.LABEL_MANAGED_BY}={naming.MANAGED_BY}"),
        ])


POLICY_BUILDERS = (placement_policy, image_policy, identity_policy, priority_policy, service_policy,
                   endpoints_policy, disruption_budget_policy, service_account_token_policy,
                   dashboard_policy, platform_objects_policy)


def policies(settings: AdmissionSettings) -> list[Manifest]:
    """Every admission policy of a cluster, in :data:`POLICY_NAMES` order."""
    built = [build(settings) for build in POLICY_BUILDERS]
    assert tuple(p["metadata"]["name"] for p in built) == POLICY_NAMES  # noqa: S101 - a table invariant
    return built


def tenant_priority_class() -> Manifest:
    """The one PriorityClass tenant pods may name: low, never preempting, not the default."""
    return {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
            "metadata": {"name": naming.TENANT_PRIORITY_CLASS, "labels": _labels()},
            "value": TENANT_PRIORITY, "globalDefault": False, "preemptionPolicy": "Never",
            "description": "Tenant workloads: the only class admission allows in tenant namespaces."}


def manifests(settings: AdmissionSettings) -> list[Manifest]:
    """The priority class, every policy and its binding."""
    pols = policies(settings)
    return [tenant_priority_class(), *pols, *(binding(p["metadata"]["name"]) for p in pols)]


# --- the component ------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class PlatformAdmissionArgs:
    """Inputs of :class:`PlatformAdmission`: the cluster and the environment it belongs to.

    The deployer's user name and the registry are derived from the cluster's account,
    region and partition (``ClusterRef``) and the environment's platform admin role.
    """

    cluster: ClusterRef
    environment: str


class PlatformAdmission(pulumi.ComponentResource):
    """The tenant priority class and the admission policies and bindings of one cluster."""

    policy_names: list[str]

    def __init__(self, name: str, args: PlatformAdmissionArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("tenant-platform:index:PlatformAdmission", name, None, opts)
        cluster = args.cluster
        settings = pulumi.Output.from_input(cluster.account_id).apply(lambda account: settings_for(
            environment=args.environment, account_id=account, region=cluster.region,
            partition=cluster.partition))
        k8s_opts = pulumi.ResourceOptions(parent=self, provider=cluster.provider)
        priority = tenant_priority_class()
        priority_class = k8s.scheduling.v1.PriorityClass(
            f"{name}-priority-class", metadata=priority["metadata"], value=priority["value"],
            global_default=priority["globalDefault"], preemption_policy=priority["preemptionPolicy"],
            description=priority["description"], opts=k8s_opts)
        self.policy_names = list(POLICY_NAMES)
        for policy_name, build in zip(POLICY_NAMES, POLICY_BUILDERS, strict=True):
            spec = settings.apply(lambda s, b=build: b(s)["spec"])  # type: ignore[misc]
            created = k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
                f"{name}-{policy_name}", metadata={"name": policy_name, "labels": _labels()}, spec=spec,
                opts=pulumi.ResourceOptions(parent=self, provider=cluster.provider,
                                            depends_on=[priority_class]))
            bound = binding(policy_name)
            k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
                f"{name}-{policy_name}-binding", metadata=bound["metadata"], spec=bound["spec"],
                opts=pulumi.ResourceOptions(parent=self, provider=cluster.provider, depends_on=[created]))
        self.register_outputs({"policy_names": self.policy_names})

