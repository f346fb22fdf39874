"""Kubernetes helpers shared by rules: type matching and pod-template traversal.

Every PodT rule walks pod templates through :func:`pod_template` and
:func:`containers`, so none of them can forget a workload kind, init containers or
ephemeral containers (the catalogue's "naive check" trap 4).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from policy import tenancy
from policy.props import EMPTY, as_list, as_map, get, text

#: Where the pod template sits inside each workload kind, by (group, kind). The API
#: version is ignored (``apps/v1beta2`` is ``apps``); the retired ``extensions`` group is
#: listed because the Kubernetes provider still has its types, and a ``PodTemplate`` object
#: is a pod template that controllers and users instantiate.
POD_TEMPLATE_PATHS: Mapping[tuple[str, str], tuple[str, ...]] = {
    ("", "Pod"): (),
    ("", "PodTemplate"): ("template",),
    ("", "ReplicationController"): ("spec", "template"),
    ("extensions", "Deployment"): ("spec", "template"),
    ("extensions", "DaemonSet"): ("spec", "template"),
    ("extensions", "ReplicaSet"): ("spec", "template"),
    ("apps", "Deployment"): ("spec", "template"),
    ("apps", "StatefulSet"): ("spec", "template"),
    ("apps", "DaemonSet"): ("spec", "template"),
    ("apps", "ReplicaSet"): ("spec", "template"),
    ("batch", "Job"): ("spec", "template"),
    ("batch", "CronJob"): ("spec", "jobTemplate", "spec", "template"),
}
CONTAINER_FIELDS = ("containers", "initContainers", "ephemeralContainers")

#: Kinds that are not namespaced (everything else is).
CLUSTER_SCOPED_KINDS = frozenset({
    "Namespace", "Node", "PersistentVolume", "ClusterRole", "ClusterRoleBinding",
    "StorageClass", "PriorityClass", "RuntimeClass", "CustomResourceDefinition",
    "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
    "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
    "MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding", "APIService",
    "CSIDriver", "CSINode", "VolumeAttachment", "IngressClass", "CertificateSigningRequest",
    "FlowSchema", "PriorityLevelConfiguration", "ClusterIssuer", "GatewayClass",
    "VolumeSnapshotClass", "ComponentStatus",
})


def matcher(*specs: str) -> Callable[[str], bool]:
    """A type predicate for Kubernetes kinds given as ``group/Kind`` (``Kind`` for core).

    The API version is ignored: a rule about NetworkPolicy applies to every served version.
    """
    wanted = set()
    for spec in specs:
        group, _, kind = spec.rpartition("/")
        wanted.add((group, kind))

    def matches(type_: str) -> bool:
        return tenancy.is_k8s_object(type_) and (tenancy.k8s_group(type_),
                                                 tenancy.k8s_kind(type_)) in wanted
    return matches


#: Suffix of the Kubernetes provider's Server-Side Apply patch types (``DeploymentPatch``).
PATCH_SUFFIX = "Patch"


def patched_kind(type_: str) -> str:
    """The kind an object writes: ``Deployment`` for ``Deployment`` and ``DeploymentPatch``.

    A ``<Kind>Patch`` resource makes its fields the live ones of an existing object (by
    Server-Side Apply), so a privileged container in a ``DeploymentPatch`` runs just as
    one in a ``Deployment`` does: pod rules judge both, and a patch is judged as the whole
    pod template it writes (the policies cannot see the rest of the live object).
    """
    kind = tenancy.k8s_kind(type_)
    base = kind.removesuffix(PATCH_SUFFIX)
    return base if base and (tenancy.k8s_group(type_), base) in POD_TEMPLATE_PATHS else kind


def _template_path(type_: str) -> tuple[str, ...] | None:
    if not tenancy.is_k8s_object(type_):
        return None
    return POD_TEMPLATE_PATHS.get((tenancy.k8s_group(type_), patched_kind(type_)))


def is_workload(type_: str) -> bool:
    """A kind that carries a pod template (or patches one)."""
    return _template_path(type_) is not None


def metadata(props: Mapping[str, Any]) -> Mapping[str, Any]:
    """The object's metadata."""
    return as_map(props.get("metadata"))


def name(props: Mapping[str, Any]) -> str | None:
    """``metadata.name``."""
    return text(metadata(props).get("name"))


def namespace(props: Mapping[str, Any]) -> str | None:
    """``metadata.namespace``."""
    return text(metadata(props).get("namespace"))


def labels(props: Mapping[str, Any]) -> Mapping[str, Any]:
    """``metadata.labels``."""
    return as_map(metadata(props).get("labels"))


def annotations_of(props: Mapping[str, Any]) -> Mapping[str, Any]:
    """``metadata.annotations``."""
    return as_map(metadata(props).get("annotations"))


def spec(props: Mapping[str, Any]) -> Mapping[str, Any]:
    """The object's spec."""
    return as_map(props.get("spec"))


@dataclass(frozen=True)
class PodTemplate:
    """A pod template: its metadata and pod spec (empty if the object omits them)."""

    metadata: Mapping[str, Any]
    spec: Mapping[str, Any]

    @property
    def labels(self) -> Mapping[str, Any]:
        """Pod labels."""
        return as_map(self.metadata.get("labels"))

    @property
    def annotations(self) -> Mapping[str, Any]:
        """Pod annotations."""
        return as_map(self.metadata.get("annotations"))

    @property
    def security_context(self) -> Mapping[str, Any]:
        """The pod-level securityContext."""
        return as_map(self.spec.get("securityContext"))

    def volumes(self) -> list[Mapping[str, Any]]:
        """The pod's volumes."""
        return [as_map(v) for v in as_list(self.spec.get("volumes"))]


@dataclass(frozen=True)
class Container:
    """One container of a pod template, and which list it came from."""

    field: str
    body: Mapping[str, Any]

    @property
    def security_context(self) -> Mapping[str, Any]:
        """The container-level securityContext."""
        return as_map(self.body.get("securityContext"))


def pod_template(type_: str, props: Mapping[str, Any]) -> PodTemplate:
    """The pod template of a workload (empty for other kinds, or if the object has none)."""
    path = _template_path(type_)
    if path is None:
        return PodTemplate(EMPTY, EMPTY)
    template = as_map(get(props, *path)) if path else props
    return PodTemplate(as_map(template.get("metadata")), as_map(template.get("spec")))


def containers(template: PodTemplate, *, ephemeral: bool = True) -> Iterator[Container]:
    """Every container, init container and (unless excluded) ephemeral container."""
    for field in CONTAINER_FIELDS:
        if field == "ephemeralContainers" and not ephemeral:
            continue
        for body in as_list(template.spec.get(field)):
            yield Container(field, as_map(body))


def container_or_pod(container: Container, template: PodTemplate, key: str) -> Any:
    """A securityContext field as it takes effect: the container's, else the pod's."""
    value = container.security_context.get(key)
    return template.security_context.get(key) if value is None else value


def rules_of(props: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The policy rules of a Role or ClusterRole."""
    return [as_map(r) for r in as_list(props.get("rules"))]


def subjects_of(props: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The subjects of a RoleBinding or ClusterRoleBinding."""
    return [as_map(s) for s in as_list(props.get("subjects"))]


def role_ref(props: Mapping[str, Any]) -> Mapping[str, Any]:
    """The roleRef of a binding."""
    return as_map(props.get("roleRef")) or EMPTY


def is_tenant_namespace_object(type_: str, props: Mapping[str, Any]) -> bool:
    """A Namespace owned by a tenant."""
    return tenancy.k8s_kind(type_) == "Namespace" and tenancy.tenant_of(type_, props) is not None


def grants(rule: Mapping[str, Any], groups: set[str], resources: set[str],
           verbs: set[str]) -> bool:
    """Whether an RBAC rule grants any of ``verbs`` on any of ``resources`` in ``groups``.

    ``*`` in the rule matches everything; an empty ``verbs`` set means any verb.
    """
    rule_groups = set(as_list(rule.get("apiGroups")))
    rule_resources = set(as_list(rule.get("resources")))
    rule_verbs = set(as_list(rule.get("verbs")))
    if not ("*" in rule_groups or rule_groups & groups):
        return False
    if not ("*" in rule_resources or rule_resources & resources):
        return False
    return "*" in rule_verbs or not verbs or bool(rule_verbs & verbs)


WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection"}
