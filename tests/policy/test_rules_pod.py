"""Seeded violations of the pod rules (POD), across every pod-template kind and container list."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from policy import kube
from policy.rules import (
    iso_pod_01,
    iso_pod_02,
    iso_pod_03,
    iso_pod_04,
    iso_pod_05,
    iso_pod_06,
    iso_pod_07,
    iso_pod_08,
    iso_pod_09,
    iso_pod_10,
    iso_pod_11,
    iso_pod_12,
    iso_pod_13,
    iso_pod_14,
    iso_rbac_07,
)
from tests.policy import fixtures as f
from tests.policy.cases import Case, alone, check, evaluate, one, params

T = ("spec", "template", "spec")
TM = ("spec", "template", "metadata")
C = T + ("containers", 0)
I0 = T + ("initContainers", 0)
SC = C + ("securityContext",)
PSC = T + ("securityContext",)
KINDS = ("Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob")
FIELDS = ("containers", "initContainers", "ephemeralContainers")


def _spec_path(kind: str) -> tuple[str, ...]:
    return {"Pod": ("spec",), "CronJob": ("spec", "jobTemplate", "spec", "template", "spec")}.get(
        kind, ("spec", "template", "spec"))


def with_container_change(kind: str, field: str, key: str, value: Any) -> dict[str, Any]:
    """A workload whose ``field`` list gains one container with securityContext[key]=value."""
    res = copy.deepcopy(f.workload(kind))
    bad = f.container("bad")
    bad["securityContext"][key] = value
    node = res["inputs"]
    for step in _spec_path(kind):
        node = node[step]
    node.setdefault(field, []).append(bad)
    return res


def changes(factory: Any, *pairs: tuple[tuple[str | int, ...], Any]) -> Any:
    """A factory applying several changes."""
    def build() -> dict[str, Any]:
        res = factory()
        for path, value in pairs:
            res = f.changed(res, path, value)
        return res
    return build


#: Privileged in every container list of every pod-template kind: the traversal trap.
TRAVERSAL: list[Case] = [
    Case(f"pod01-{kind.lower()}-{field}", "ISO-POD-01",
         (lambda k=kind, fl=field: [with_container_change(k, fl, "privileged", True)]),
         (iso_pod_01.MSG_PRIVILEGED,))
    for kind in KINDS for field in FIELDS
]

def retyped(type_: str, kind: str, path: tuple[str, ...] = ("spec", "template")) -> dict[str, Any]:
    """The compliant Deployment's pod template, as an object of another type (at ``path``)."""
    dep = f.deployment()
    inputs: dict[str, Any] = {"apiVersion": dep["inputs"]["apiVersion"], "kind": kind,
                              "metadata": dep["inputs"]["metadata"]}
    node = inputs
    for step in path[:-1]:
        node = node.setdefault(step, {})
    node[path[-1]] = dep["inputs"]["spec"]["template"]
    return f.resource(type_, f"acme-{kind.lower()}-{type_.rsplit(':', 1)[-1].lower()}", inputs)


#: Pod-template types beyond the seven kinds: the retired extensions group, PodTemplate
#: objects, and Server-Side Apply patches (which write the template into a live object).
MORE_TEMPLATES = {
    "extensions-daemonset": lambda: retyped("kubernetes:extensions/v1beta1:DaemonSet", "DaemonSet"),
    "apps-v1beta2-deployment": lambda: retyped("kubernetes:apps/v1beta2:Deployment", "Deployment"),
    "pod-template": lambda: retyped("kubernetes:core/v1:PodTemplate", "PodTemplate", ("template",)),
    "deployment-patch": lambda: retyped("kubernetes:apps/v1:DeploymentPatch", "Deployment"),
    "cronjob-patch": lambda: retyped("kubernetes:batch/v1:CronJobPatch", "CronJob",
                                     ("spec", "jobTemplate", "spec", "template")),
    "pod-template-patch": lambda: retyped("kubernetes:core/v1:PodTemplatePatch", "PodTemplate",
                                          ("template",)),
}


def _privileged(build: Any) -> Any:
    def mutate() -> list[dict[str, Any]]:
        res = build()
        template = kube.pod_template(res["type"], res["inputs"])
        dict(template.spec)["containers"][0]["securityContext"]["privileged"] = True
        return [res]
    return mutate


def persistent_volume(source: dict[str, Any]) -> dict[str, Any]:
    """A tenant-labelled PersistentVolume with one volume source."""
    return f.resource("kubernetes:core/v1:PersistentVolume", "acme-pv", {
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": "acme-data", "labels": f.labels("acme")},
        "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"], **source}})


def projected_token(**token: Any) -> dict[str, Any]:
    """A volume projecting a ServiceAccount token (``token``: the source's fields)."""
    return {"name": "api-token", "projected": {"sources": [
        {"serviceAccountToken": {"path": "token", **token}}]}}


CASES: list[Case] = TRAVERSAL + [
    Case(f"pod01-{name}", "ISO-POD-01", _privileged(build), (iso_pod_01.MSG_PRIVILEGED,))
    for name, build in MORE_TEMPLATES.items()
] + [
    # ISO-POD-02
    one("pod02-host-network", "ISO-POD-02", f.deployment, T + ("hostNetwork",), True,
        iso_pod_02.MSG_HOST_NETWORK),
    one("pod02-host-pid", "ISO-POD-02", f.deployment, T + ("hostPID",), True, iso_pod_02.MSG_HOST_PID),
    one("pod02-host-ipc", "ISO-POD-02", lambda: f.workload("CronJob"),
        ("spec", "jobTemplate", "spec", "template", "spec", "hostIPC"), True, iso_pod_02.MSG_HOST_IPC),
    # ISO-POD-03
    one("pod03-host-port", "ISO-POD-03", f.deployment, C + ("ports", 0, "hostPort"), 8080,
        iso_pod_03.MSG_HOST_PORT),
    one("pod03-init-host-port", "ISO-POD-03", f.deployment, I0 + ("ports", 0, "hostPort"), 53,
        iso_pod_03.MSG_HOST_PORT),
    # ISO-POD-04
    one("pod04-host-path", "ISO-POD-04", f.deployment, T + ("volumes", 0),
        {"name": "tmp", "hostPath": {"path": "/tmp"}}, iso_pod_04.MSG_HOST_PATH),
    one("pod04-runtime-socket", "ISO-POD-04", lambda: f.workload("DaemonSet"), T + ("volumes", 1),
        {"name": "credentials", "hostPath": {"path": "/run/containerd/containerd.sock"}},
        iso_pod_04.MSG_HOST_PATH),
    alone("pod04-host-path-persistent-volume", "ISO-POD-04",
          lambda: persistent_volume({"hostPath": {"path": "/var/lib/kubelet"}}),
          iso_pod_04.MSG_NODE_VOLUME),
    alone("pod04-local-persistent-volume", "ISO-POD-04",
          lambda: persistent_volume({"local": {"path": "/mnt/disks/ssd1"}}), iso_pod_04.MSG_NODE_VOLUME),
    # ISO-POD-05
    one("pod05-nfs", "ISO-POD-05", f.deployment, T + ("volumes", 0),
        {"name": "tmp", "nfs": {"server": "10.0.0.9", "path": "/"}}, iso_pod_05.MSG_VOLUME_TYPE),
    one("pod05-host-path", "ISO-POD-05", f.deployment, T + ("volumes", 0),
        {"name": "tmp", "hostPath": {"path": "/var"}}, iso_pod_05.MSG_VOLUME_TYPE),
    # ISO-POD-06
    one("pod06-missing", "ISO-POD-06", f.deployment, SC + ("allowPrivilegeEscalation",), f.DELETE,
        iso_pod_06.MSG_ESCALATION),
    one("pod06-true-in-init", "ISO-POD-06", f.deployment,
        I0 + ("securityContext", "allowPrivilegeEscalation"), True, iso_pod_06.MSG_ESCALATION),
    one("pod06-no-pod-spec", "ISO-POD-06", f.deployment, T, f.DELETE, iso_pod_06.MSG_ESCALATION),
    # ISO-POD-07
    alone("pod07-no-non-root", "ISO-POD-07", changes(
        f.deployment, (PSC + ("runAsNonRoot",), f.DELETE), (SC + ("runAsNonRoot",), f.DELETE)),
        iso_pod_07.MSG_NON_ROOT),
    one("pod07-container-overrides-false", "ISO-POD-07", f.deployment, SC + ("runAsNonRoot",), False,
        iso_pod_07.MSG_NON_ROOT),
    one("pod07-uid-zero", "ISO-POD-07", f.deployment, PSC + ("runAsUser",), 0, iso_pod_07.MSG_ROOT_USER),
    one("pod07-container-uid-zero", "ISO-POD-07", f.deployment, SC + ("runAsUser",), 0,
        iso_pod_07.MSG_ROOT_USER),
    one("pod07-gid-zero", "ISO-POD-07", f.deployment, I0 + ("securityContext", "runAsGroup"), 0,
        iso_pod_07.MSG_ROOT_GROUP),
    # ISO-POD-08
    one("pod08-no-drop", "ISO-POD-08", f.deployment, SC + ("capabilities",), f.DELETE,
        iso_pod_08.MSG_DROP_ALL),
    one("pod08-drop-some", "ISO-POD-08", f.deployment, SC + ("capabilities", "drop"), ["NET_RAW"],
        iso_pod_08.MSG_DROP_ALL),
    one("pod08-add-sys-admin", "ISO-POD-08", f.deployment, SC + ("capabilities", "add"), ["SYS_ADMIN"],
        iso_pod_08.MSG_ADD),
    # ISO-POD-09
    one("pod09-missing", "ISO-POD-09", f.deployment, PSC + ("seccompProfile",), f.DELETE,
        iso_pod_09.MSG_SECCOMP),
    one("pod09-unconfined-container", "ISO-POD-09", f.deployment, SC + ("seccompProfile",),
        {"type": "Unconfined"}, iso_pod_09.MSG_SECCOMP),
    one("pod09-unconfined-pod", "ISO-POD-09", f.deployment, PSC + ("seccompProfile",),
        {"type": "Unconfined"}, iso_pod_09.MSG_SECCOMP),
    # ISO-POD-10
    one("pod10-apparmor-annotation", "ISO-POD-10", f.deployment,
        TM + ("annotations",), {"container.apparmor.security.beta.kubernetes.io/fileserver": "unconfined"},
        iso_pod_10.MSG_APPARMOR),
    one("pod10-apparmor-field", "ISO-POD-10", f.deployment, SC + ("appArmorProfile",),
        {"type": "Unconfined"}, iso_pod_10.MSG_APPARMOR),
    one("pod10-selinux-type", "ISO-POD-10", f.deployment, PSC + ("seLinuxOptions",),
        {"type": "spc_t"}, iso_pod_10.MSG_SELINUX),
    one("pod10-selinux-user", "ISO-POD-10", f.deployment, SC + ("seLinuxOptions",),
        {"user": "system_u"}, iso_pod_10.MSG_SELINUX),
    one("pod10-proc-mount", "ISO-POD-10", f.deployment, SC + ("procMount",), "Unmasked",
        iso_pod_10.MSG_PROC_MOUNT),
    one("pod10-unsafe-sysctl", "ISO-POD-10", f.deployment, PSC + ("sysctls",),
        [{"name": "kernel.msgmax", "value": "65536"}], iso_pod_10.MSG_SYSCTLS),
    one("pod10-probe-host", "ISO-POD-10", f.deployment, C + ("readinessProbe", "httpGet", "host"),
        "169.254.169.254", iso_pod_10.MSG_PROBE_HOST),
    one("pod10-lifecycle-host", "ISO-POD-10", f.deployment, C + ("lifecycle",),
        {"preStop": {"tcpSocket": {"port": 80, "host": "10.0.0.1"}}}, iso_pod_10.MSG_PROBE_HOST),
    one("pod10-host-process", "ISO-POD-10", f.deployment, PSC + ("windowsOptions",),
        {"hostProcess": True}, iso_pod_10.MSG_HOST_PROCESS),
    # ISO-POD-11
    one("pod11-missing", "ISO-POD-11", f.deployment, SC + ("readOnlyRootFilesystem",), f.DELETE,
        iso_pod_11.MSG_READ_ONLY),
    one("pod11-init-writable", "ISO-POD-11", f.deployment,
        I0 + ("securityContext", "readOnlyRootFilesystem"), False, iso_pod_11.MSG_READ_ONLY),
    # ISO-POD-12
    one("pod12-no-requests", "ISO-POD-12", f.deployment, C + ("resources", "requests"), f.DELETE,
        iso_pod_12.MSG_REQUESTS),
    one("pod12-no-memory-limit", "ISO-POD-12", f.deployment, I0 + ("resources", "limits", "memory"),
        f.DELETE, iso_pod_12.MSG_LIMITS),
    one("pod12-no-resources", "ISO-POD-12", f.deployment, C + ("resources",), f.DELETE,
        iso_pod_12.MSG_REQUESTS, iso_pod_12.MSG_LIMITS),
    one("pod12-priority", "ISO-POD-12", f.deployment, T + ("priorityClassName",), "system-node-critical",
        iso_pod_12.MSG_PRIORITY),
    alone("pod12-tenant-priority-class", "ISO-POD-12", lambda: f.resource(
        "kubernetes:scheduling.k8s.io/v1:PriorityClass", "pc", {
            "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
            "metadata": {"name": "acme-high", "labels": f.labels("acme")}, "value": 1000000}),
        iso_pod_12.MSG_TENANT_PRIORITY_CLASS),
    # ISO-POD-13
    one("pod13-tag-not-digest", "ISO-POD-13", f.deployment, C + ("image",),
        f.IMAGE.split("@")[0] + ":1.2.3", iso_pod_13.MSG_DIGEST),
    one("pod13-docker-hub", "ISO-POD-13", f.deployment, C + ("image",), "nginx@" + f.DIGEST,
        iso_pod_13.MSG_REGISTRY),
    one("pod13-other-tenant-repo", "ISO-POD-13", f.deployment, I0 + ("image",),
        f"{f.ACCOUNT}.dkr.ecr.{f.REGION}.amazonaws.com/tenant-bolt/tool@{f.DIGEST}",
        iso_pod_13.MSG_OTHER_TENANT_REPOSITORY),
    one("pod13-pull-if-not-present", "ISO-POD-13", f.deployment, C + ("imagePullPolicy",),
        "IfNotPresent", iso_pod_13.MSG_PULL_ALWAYS),
    one("pod13-pull-unset", "ISO-POD-13", f.deployment, I0 + ("imagePullPolicy",), f.DELETE,
        iso_pod_13.MSG_PULL_ALWAYS),
    one("pod13-no-scan", "ISO-POD-13", f.ecr_repository, ("imageScanningConfiguration",), f.DELETE,
        iso_pod_13.MSG_SCAN_ON_PUSH),
    one("pod13-mutable", "ISO-POD-13", f.ecr_repository, ("imageTagMutability",), "MUTABLE",
        iso_pod_13.MSG_IMMUTABLE_TAGS),
    # ISO-POD-14
    one("pod14-secret-env", "ISO-POD-14", f.deployment, C + ("env",),
        [{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}],
        iso_pod_14.MSG_SECRETS_IN_ENV),
    one("pod14-secret-env-from", "ISO-POD-14", f.deployment, I0 + ("envFrom",),
        [{"secretRef": {"name": "db"}}], iso_pod_14.MSG_SECRETS_IN_ENV),
    alone("pod14-bare-pod", "ISO-POD-14", lambda: f.workload("Pod"), iso_pod_14.MSG_BARE_POD),
    # ISO-RBAC-07's pod-template part: the Kubernetes API token mounted by hand
    one("rbac07-projected-api-token", "ISO-RBAC-07", f.deployment, T + ("volumes", 2),
        projected_token(expirationSeconds=3600), iso_rbac_07.MSG_PROJECTED_API_MOUNT),
    one("rbac07-projected-api-audience", "ISO-RBAC-07", lambda: f.workload("CronJob"),
        ("spec", "jobTemplate", "spec", "template", "spec", "volumes", 2),
        projected_token(audience="https://kubernetes.default.svc/"), iso_rbac_07.MSG_PROJECTED_API_MOUNT),
]


@params(CASES)
def test_rule_reports_seeded_violation(case: Case) -> None:
    check(case)


@pytest.mark.parametrize("kind", KINDS)
def test_every_pod_template_kind_is_compliant_as_built(kind: str) -> None:
    found = [v for v in evaluate([f.workload(kind)]) if v["policy"].startswith(("ISO-POD", "ISO-RBAC"))]
    expected = [iso_pod_14.MSG_BARE_POD] if kind == "Pod" else []
    assert [v["message"] for v in found] == expected


@pytest.mark.parametrize("kind", KINDS)
def test_traversal_finds_every_container_of_every_kind(kind: str) -> None:
    res = with_container_change(kind, "initContainers", "privileged", True)
    res = f.changed(res, _spec_path(kind) + ("ephemeralContainers",), [f.container("debug")])
    template = kube.pod_template(res["type"], res["inputs"])
    assert [(c.field, c.body["name"]) for c in kube.containers(template)] == [
        ("containers", "fileserver"), ("initContainers", "init-schema"), ("initContainers", "bad"),
        ("ephemeralContainers", "debug")]


def test_pull_always_is_not_required_on_a_dedicated_pool() -> None:
    res = f.changed(f.deployment("bolt"), C + ("imagePullPolicy",), "IfNotPresent")
    assert [v for v in evaluate([res]) if v["policy"] == "ISO-POD-13"] == []


def test_platform_workloads_are_not_judged_by_tenant_pod_rules() -> None:
    res = f.changed(f.deployment(), ("metadata",), {"name": "coredns", "namespace": "kube-system"})
    res = f.changed(res, TM + ("labels",), {"app": "coredns"})
    res = f.changed(res, SC + ("privileged",), True)
    assert [v for v in evaluate([res]) if v["policy"].startswith("ISO-POD")] == []


@pytest.mark.parametrize("name", sorted(MORE_TEMPLATES))
def test_more_pod_template_types_are_compliant_as_built(name: str) -> None:
    found = [v for v in evaluate([MORE_TEMPLATES[name]()])
             if v["policy"].startswith(("ISO-POD", "ISO-RBAC"))]
    assert found == []


def test_patch_types_are_workloads_of_their_base_kind() -> None:
    assert kube.patched_kind("kubernetes:apps/v1:StatefulSetPatch") == "StatefulSet"
    assert kube.patched_kind("kubernetes:core/v1:NamespacePatch") == "NamespacePatch"
    assert not kube.is_workload("kubernetes:core/v1:ConfigMapPatch")


def test_network_backed_persistent_volumes_are_not_node_paths() -> None:
    res = persistent_volume({"csi": {"driver": "ebs.csi.aws.com", "volumeHandle": "vol-1"}})
    assert [v for v in evaluate([res]) if v["policy"] == "ISO-POD-04"] == []


def test_platform_persistent_volumes_are_not_judged() -> None:
    res = f.changed(persistent_volume({"hostPath": {"path": "/data"}}), ("metadata", "labels"), {})
    assert [v for v in evaluate([res]) if v["policy"] == "ISO-POD-04"] == []


def test_tokens_for_other_audiences_may_be_projected() -> None:
    res = f.changed(f.deployment(), T + ("volumes", 2), projected_token(audience="sts.amazonaws.com"))
    assert [v for v in evaluate([res]) if v["policy"] == "ISO-RBAC-07"] == []
