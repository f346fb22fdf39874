"""Pod-template mutations (ISO-POD-*, ISO-RBAC-06/07): the breaches a careless edit lets into a pod.

Each mutation is one change to the fixture fleet's plan: a field flipped on a tenant
workload the platform built, or one new object next to it (a Job, a CronJob, a
StatefulSet, a server-side-apply patch...) cloned from that workload with one hostile
setting. Clones matter because a rule that only reads Deployments, or only
``containers``, misses the other pod-template kinds and init and ephemeral containers.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.adversarial.harness import (
    NODE_TENANT,
    OTHER,
    TENANT,
    VCLUSTER_TENANT,
    Mutation,
    Resources,
    add,
    assert_check_fails,
    find,
    mutation,
)
from tests.adversarial.workloads import (
    clone_as,
    container,
    files_deployment,
    pod_spec,
    security_context,
)

ECR_REPOSITORY = "aws:ecr/repository:Repository"


def with_extra_container(resources: Resources, field: str, name: str, **context: Any) -> str:
    """Give alpha's Deployment one more (init or ephemeral) container, a copy of its own with
    ``context`` merged into the securityContext; return the Deployment's name."""
    dep = files_deployment(resources)
    extra = copy.deepcopy(container(dep))
    extra["name"] = name
    extra["securityContext"].update(context)
    if field == "ephemeralContainers":
        for key in ("ports", "resources", "readinessProbe", "livenessProbe", "startupProbe"):
            extra.pop(key, None)   # ephemeral containers may not declare them
    pod_spec(dep).setdefault(field, []).append(extra)
    return str(dep["name"])


# --- ISO-POD-01: privileged ---------------------------------------------------------------
@mutation("ISO-POD-01")
def privileged_init_container(resources: Resources) -> str:
    return with_extra_container(resources, "initContainers", "migrate", privileged=True)


@mutation("ISO-POD-01")
def privileged_ephemeral_debug_container(resources: Resources) -> str:
    return with_extra_container(resources, "ephemeralContainers", "debug", privileged=True)


@mutation("ISO-POD-01")
def privileged_cronjob(resources: Resources) -> str:
    job = clone_as(resources, "CronJob", "alpha-nightly-reindex")
    security_context(job)["privileged"] = True
    return str(job["name"])


@mutation("ISO-POD-01")
def privileged_statefulset(resources: Resources) -> str:
    sts = clone_as(resources, "StatefulSet", "alpha-cache")
    security_context(sts)["privileged"] = True
    return str(sts["name"])


@mutation("ISO-POD-01")
def privileged_by_server_side_apply_patch(resources: Resources) -> str:
    patch = clone_as(resources, "DeploymentPatch", "alpha-files-hotfix")
    patch["inputs"]["metadata"]["name"] = "fileserver"   # patches the live Deployment
    security_context(patch)["privileged"] = True
    return str(patch["name"])


@mutation("ISO-POD-01")
def privileged_on_the_node_tier(resources: Resources) -> str:
    dep = files_deployment(resources, NODE_TENANT)
    security_context(dep)["privileged"] = True
    return str(dep["name"])


@mutation("ISO-POD-01")
def privileged_on_the_vcluster_tier(resources: Resources) -> str:
    dep = files_deployment(resources, VCLUSTER_TENANT)
    security_context(dep)["privileged"] = True
    return str(dep["name"])


# --- ISO-POD-02: host namespaces -----------------------------------------------------------
@mutation("ISO-POD-02")
def host_network_in_a_job(resources: Resources) -> str:
    job = clone_as(resources, "Job", "alpha-backfill")
    pod_spec(job)["hostNetwork"] = True
    return str(job["name"])


@mutation("ISO-POD-02")
def host_pid_in_a_daemonset(resources: Resources) -> str:
    ds = clone_as(resources, "DaemonSet", "alpha-log-agent")
    pod_spec(ds)["hostPID"] = True
    return str(ds["name"])


@mutation("ISO-POD-02")
def host_ipc_flipped_on(resources: Resources) -> str:
    dep = files_deployment(resources)
    pod_spec(dep)["hostIPC"] = True
    return str(dep["name"])


# --- ISO-POD-03: host ports ----------------------------------------------------------------
@mutation("ISO-POD-03")
def host_port_on_the_service_port(resources: Resources) -> str:
    dep = files_deployment(resources)
    container(dep)["ports"][0]["hostPort"] = 8080
    return str(dep["name"])


@mutation("ISO-POD-03")
def host_port_in_an_init_container(resources: Resources) -> str:
    name = with_extra_container(resources, "initContainers", "warmup")
    container(files_deployment(resources), "initContainers")["ports"][0]["hostPort"] = 53
    return name


# --- ISO-POD-04: the node's file system ----------------------------------------------------
@mutation("ISO-POD-04")
def host_path_in_a_job(resources: Resources) -> str:
    job = clone_as(resources, "Job", "alpha-import")
    pod_spec(job)["volumes"].append({"name": "host", "hostPath": {"path": "/"}})
    return str(job["name"])


@mutation("ISO-POD-04")
def container_runtime_socket(resources: Resources) -> str:
    dep = files_deployment(resources)
    pod_spec(dep)["volumes"][0] = {"name": "tmp", "hostPath": {
        "path": "/run/containerd/containerd.sock", "type": "Socket"}}
    return str(dep["name"])


@mutation("ISO-POD-04")
def host_path_persistent_volume(resources: Resources) -> str:
    dep = files_deployment(resources)
    return add(resources, dep, "kubernetes:core/v1:PersistentVolume", "alpha-scratch-pv", {
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": "alpha-scratch", "labels": dict(dep["inputs"]["metadata"]["labels"])},
        "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"],
                 "hostPath": {"path": "/var/lib/kubelet"}}})


@mutation("ISO-POD-04")
def local_persistent_volume(resources: Resources) -> str:
    dep = files_deployment(resources)
    return add(resources, dep, "kubernetes:core/v1:PersistentVolume", "alpha-local-pv", {
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": "alpha-local", "labels": dict(dep["inputs"]["metadata"]["labels"])},
        "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"],
                 "local": {"path": "/mnt/disks/ssd1"}}})


# --- ISO-POD-05: volume types --------------------------------------------------------------
@mutation("ISO-POD-05")
def nfs_volume(resources: Resources) -> str:
    dep = files_deployment(resources)
    pod_spec(dep)["volumes"].append({"name": "share", "nfs": {"server": "10.0.9.9", "path": "/"}})
    return str(dep["name"])


@mutation("ISO-POD-05")
def git_repo_volume_in_a_cronjob(resources: Resources) -> str:
    job = clone_as(resources, "CronJob", "alpha-sync")
    pod_spec(job)["volumes"].append({"name": "src", "gitRepo": {"repository": "https://x.example/r"}})
    return str(job["name"])


# --- ISO-POD-06: privilege escalation ------------------------------------------------------
@mutation("ISO-POD-06")
def privilege_escalation_allowed(resources: Resources) -> str:
    dep = files_deployment(resources)
    security_context(dep)["allowPrivilegeEscalation"] = True
    return str(dep["name"])


@mutation("ISO-POD-06")
def init_container_without_escalation_setting(resources: Resources) -> str:
    name = with_extra_container(resources, "initContainers", "setup")
    del security_context(files_deployment(resources), "initContainers")["allowPrivilegeEscalation"]
    return name


# --- ISO-POD-07: root ----------------------------------------------------------------------
@mutation("ISO-POD-07")
def root_user_at_pod_level(resources: Resources) -> str:
    dep = files_deployment(resources)
    pod_spec(dep)["securityContext"]["runAsUser"] = 0   # the container still says 10001
    return str(dep["name"])


@mutation("ISO-POD-07")
def container_allows_root(resources: Resources) -> str:
    dep = files_deployment(resources)
    security_context(dep)["runAsNonRoot"] = False
    return str(dep["name"])


@mutation("ISO-POD-07")
def root_group_in_an_ephemeral_container(resources: Resources) -> str:
    return with_extra_container(resources, "ephemeralContainers", "shell", runAsGroup=0)


# --- ISO-POD-08: capabilities --------------------------------------------------------------
@mutation("ISO-POD-08")
def adds_sys_admin(resources: Resources) -> str:
    dep = files_deployment(resources)
    security_context(dep)["capabilities"]["add"] = ["SYS_ADMIN"]
    return str(dep["name"])


@mutation("ISO-POD-08")
def drops_nothing(resources: Resources) -> str:
    dep = files_deployment(resources, NODE_TENANT)
    security_context(dep)["capabilities"] = {"drop": []}
    return str(dep["name"])


@mutation("ISO-POD-08")
def init_container_adds_net_admin(resources: Resources) -> str:
    name = with_extra_container(resources, "initContainers", "iptables")
    security_context(files_deployment(resources), "initContainers")["capabilities"] = {
        "drop": ["ALL"], "add": ["NET_ADMIN"]}
    return name


# --- ISO-POD-09 (medium, advisory by design): seccomp -------------------------------------
@mutation("ISO-POD-09")
def seccomp_unconfined_for_the_pod(resources: Resources) -> str:
    dep = files_deployment(resources)
    pod_spec(dep)["securityContext"]["seccompProfile"] = {"type": "Unconfined"}
    return str(dep["name"])


@mutation("ISO-POD-09")
def seccomp_unconfined_for_one_container(resources: Resources) -> str:
    dep = files_deployment(resources)
    security_context(dep)["seccompProfile"] = {"type": "Unconfined"}
    return str(dep["name"])


# --- ISO-POD-10: the other Baseline controls ----------------------------------------------
@mutation("ISO-POD-10")
def apparmor_unconfined_annotation(resources: Resources) -> str:
    dep = files_deployment(resources)
    dep["inputs"]["spec"]["template"]["metadata"]["annotations"][
        "container.apparmor.security.beta.kubernetes.io/fileserver"] = "unconfined"
    return str(dep["name"])


@mutation("ISO-POD-10")
def selinux_super_privileged_type(resources: Resources) -> str:
    dep = files_deployment(resources)
    security_context(dep)["seLinuxOptions"] = {"type": "spc_t"}
    return str(dep["name"])


@mutation("ISO-POD-10")
def unmasked_proc_mount(resources: Resources) -> str:
    dep = files_deployment(resources)
    security_context(dep)["procMount"] = "Unmasked"
    return str(dep["name"])


@mutation("ISO-POD-10")
def unsafe_sysctl(resources: Resources) -> str:
    dep = files_deployment(resources)
    pod_spec(dep)["securityContext"]["sysctls"] = [{"name": "kernel.core_pattern", "value": "|/x"}]
    return str(dep["name"])


@mutation("ISO-POD-10")
def probe_aimed_at_instance_metadata(resources: Resources) -> str:
    dep = files_deployment(resources)
    container(dep)["livenessProbe"]["httpGet"]["host"] = "169.254.169.254"
    return str(dep["name"])


# --- ISO-POD-11 (medium): read-only root --------------------------------------------------
@mutation("ISO-POD-11")
def writable_root_file_system(resources: Resources) -> str:
    dep = files_deployment(resources)
    security_context(dep)["readOnlyRootFilesystem"] = False
    return str(dep["name"])


# --- ISO-POD-12: fair shares, preemption -------------------------------------------------
@mutation("ISO-POD-12")
def no_resource_limits(resources: Resources) -> str:
    dep = files_deployment(resources)
    del container(dep)["resources"]["limits"]
    return str(dep["name"])


@mutation("ISO-POD-12")
def system_priority_class(resources: Resources) -> str:
    dep = files_deployment(resources)
    pod_spec(dep)["priorityClassName"] = "system-node-critical"
    return str(dep["name"])


@mutation("ISO-POD-12")
def tenant_defines_a_preempting_priority_class(resources: Resources) -> str:
    dep = files_deployment(resources)
    return add(resources, dep, "kubernetes:scheduling.k8s.io/v1:PriorityClass", "alpha-urgent", {
        "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "value": 1000000000,
        "metadata": {"name": "alpha-urgent", "labels": dict(dep["inputs"]["metadata"]["labels"])}})


# --- ISO-POD-13 (medium): images -----------------------------------------------------------
def _set_image(resources: Resources, image: str) -> str:
    dep = files_deployment(resources)
    container(dep)["image"] = image
    return str(dep["name"])


def _image(resources: Resources) -> str:
    return str(container(files_deployment(resources))["image"])


@mutation("ISO-POD-13")
def image_by_tag_not_digest(resources: Resources) -> str:
    return _set_image(resources, _image(resources).split("@")[0] + ":latest")


@mutation("ISO-POD-13")
def image_from_another_tenants_repository(resources: Resources) -> str:
    return _set_image(resources, _image(resources).replace(f"-{TENANT}/", f"-{OTHER}/"))


@mutation("ISO-POD-13")
def image_from_docker_hub(resources: Resources) -> str:
    return _set_image(resources, "docker.io/library/nginx@sha256:" + "a" * 64)


@mutation("ISO-POD-13")
def image_cached_on_shared_nodes(resources: Resources) -> str:
    dep = files_deployment(resources)
    container(dep)["imagePullPolicy"] = "IfNotPresent"
    return str(dep["name"])


@mutation("ISO-POD-13")
def repository_with_mutable_tags(resources: Resources) -> str:
    repo = find(resources, ECR_REPOSITORY, f"{TENANT}-files-workload-repository")
    repo["inputs"]["imageTagMutability"] = "MUTABLE"
    return str(repo["name"])


# --- ISO-POD-14 (low): secrets in env, bare pods -------------------------------------------
@mutation("ISO-POD-14")
def secret_in_an_environment_variable(resources: Resources) -> str:
    dep = files_deployment(resources)
    container(dep)["env"] = [{"name": "DB_PASSWORD",
                              "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}]
    return str(dep["name"])


@mutation("ISO-POD-14")
def bare_pod(resources: Resources) -> str:
    return str(clone_as(resources, "Pod", "alpha-oneoff")["name"])


# --- ISO-RBAC-06 (medium): the workload's own ServiceAccount -------------------------------
@mutation("ISO-RBAC-06")
def runs_as_the_default_service_account(resources: Resources) -> str:
    dep = files_deployment(resources)
    pod_spec(dep)["serviceAccountName"] = "default"
    return str(dep["name"])


@mutation("ISO-RBAC-06")
def service_account_name_dropped(resources: Resources) -> str:
    job = clone_as(resources, "Job", "alpha-report")
    del pod_spec(job)["serviceAccountName"]
    return str(job["name"])


@mutation("ISO-RBAC-06")
def binding_grants_the_default_service_account(resources: Resources) -> str:
    binding = find(resources, "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
                   f"{TENANT}-binding-viewers")
    binding["inputs"].setdefault("subjects", []).append(
        {"kind": "ServiceAccount", "name": "default", "namespace": f"tenant-{TENANT}"})
    return str(binding["name"])


# --- ISO-RBAC-07: ServiceAccount tokens ----------------------------------------------------
@mutation("ISO-RBAC-07")
def service_account_automounts(resources: Resources) -> str:
    sa = find(resources, "kubernetes:core/v1:ServiceAccount", f"{TENANT}-fileserver-sa")
    sa["inputs"]["automountServiceAccountToken"] = True
    return str(sa["name"])


@mutation("ISO-RBAC-07")
def pod_automount_setting_dropped(resources: Resources) -> str:
    dep = files_deployment(resources)
    del pod_spec(dep)["automountServiceAccountToken"]
    return str(dep["name"])


@mutation("ISO-RBAC-07")
def api_token_projected_by_hand(resources: Resources) -> str:
    dep = files_deployment(resources)
    pod_spec(dep)["volumes"].append({"name": "kube-api", "projected": {"sources": [
        {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}}]}})
    return str(dep["name"])


@mutation("ISO-RBAC-07")
def long_lived_token_secret(resources: Resources) -> str:
    sa = find(resources, "kubernetes:core/v1:ServiceAccount", f"{TENANT}-fileserver-sa")
    return add(resources, sa, "kubernetes:core/v1:Secret", "alpha-fileserver-token", {
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
        "metadata": {"name": "fileserver-token", "namespace": f"tenant-{TENANT}",
                     "labels": dict(sa["inputs"]["metadata"]["labels"]),
                     "annotations": {"kubernetes.io/service-account.name": "fileserver"}}})


MUTATIONS: list[Mutation] = [
    privileged_init_container, privileged_ephemeral_debug_container, privileged_cronjob,
    privileged_statefulset, privileged_by_server_side_apply_patch, privileged_on_the_node_tier,
    privileged_on_the_vcluster_tier,
    host_network_in_a_job, host_pid_in_a_daemonset, host_ipc_flipped_on,
    host_port_on_the_service_port, host_port_in_an_init_container,
    host_path_in_a_job, container_runtime_socket, host_path_persistent_volume,
    local_persistent_volume,
    nfs_volume, git_repo_volume_in_a_cronjob,
    privilege_escalation_allowed, init_container_without_escalation_setting,
    root_user_at_pod_level, container_allows_root, root_group_in_an_ephemeral_container,
    adds_sys_admin, drops_nothing, init_container_adds_net_admin,
    seccomp_unconfined_for_the_pod, seccomp_unconfined_for_one_container,
    apparmor_unconfined_annotation, selinux_super_privileged_type, unmasked_proc_mount,
    unsafe_sysctl, probe_aimed_at_instance_metadata,
    writable_root_file_system,
    no_resource_limits, system_priority_class, tenant_defines_a_preempting_priority_class,
    image_by_tag_not_digest, image_from_another_tenants_repository, image_from_docker_hub,
    image_cached_on_shared_nodes, repository_with_mutable_tags,
    secret_in_an_environment_variable, bare_pod,
    runs_as_the_default_service_account, service_account_name_dropped,
    binding_grants_the_default_service_account,
    service_account_automounts, pod_automount_setting_dropped, api_token_projected_by_hand,
    long_lived_token_secret,
]


@pytest.mark.parametrize("m", MUTATIONS, ids=[m.name for m in MUTATIONS])
def test_gate_stops(fleet_plan, tmp_path, m):
    assert_check_fails(fleet_plan, m, tmp_path)
