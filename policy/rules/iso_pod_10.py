"""ISO-POD-10: the other Baseline controls of the Pod Security Standards.

AppArmor, SELinux, procMount, sysctls, the probe/lifecycle ``host`` field and HostProcess.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from policy import kube
from policy.props import as_list, as_map, is_true, text
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_APPARMOR = "Use the RuntimeDefault or a Localhost AppArmor profile; never Unconfined."
MSG_SELINUX = ("Set seLinuxOptions.type only to container_t, container_init_t, container_kvm_t "
               "or container_engine_t, and leave user and role unset.")
MSG_PROC_MOUNT = "Leave securityContext.procMount unset or Default."
MSG_SYSCTLS = "Set only the safe sysctls of the Pod Security Standards in securityContext.sysctls."
MSG_PROBE_HOST = "Leave the host field of probes and lifecycle handlers unset (the pod's own IP)."
MSG_HOST_PROCESS = "Do not run Windows HostProcess containers (windowsOptions.hostProcess)."

APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"
SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t",
                           "container_engine_t"})
SAFE_SYSCTLS = frozenset({
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes"})
HANDLERS = ("livenessProbe", "readinessProbe", "startupProbe")


def _handlers(container: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for probe in HANDLERS:
        yield as_map(container.get(probe))
    lifecycle = as_map(container.get("lifecycle"))
    for hook in ("postStart", "preStop"):
        yield as_map(lifecycle.get(hook))


def _apparmor_ok(template: kube.PodTemplate, contexts: list[Mapping[str, Any]]) -> bool:
    for key, value in template.annotations.items():
        if isinstance(key, str) and key.startswith(APPARMOR_ANNOTATION):
            if not (value == "runtime/default" or (isinstance(value, str)
                                                   and value.startswith("localhost/"))):
                return False
    return all(as_map(sc.get("appArmorProfile")).get("type") in (None, "RuntimeDefault", "Localhost")
               for sc in contexts)


def _selinux_ok(contexts: list[Mapping[str, Any]]) -> bool:
    for sc in contexts:
        options = as_map(sc.get("seLinuxOptions"))
        if (options.get("type") or "") not in SELINUX_TYPES:
            return False
        if text(options.get("user")) or text(options.get("role")):
            return False
    return True


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    template = kube.pod_template(res.type, res.props)
    containers = list(kube.containers(template))
    contexts = [template.security_context] + [c.security_context for c in containers]
    if not _apparmor_ok(template, contexts):
        yield MSG_APPARMOR
    if not _selinux_ok(contexts):
        yield MSG_SELINUX
    if any(c.security_context.get("procMount") not in (None, "Default") for c in containers):
        yield MSG_PROC_MOUNT
    sysctls = as_list(template.security_context.get("sysctls"))
    if any(as_map(s).get("name") not in SAFE_SYSCTLS for s in sysctls):
        yield MSG_SYSCTLS
    for container in containers:
        for handler in _handlers(container.body):
            if any(text(as_map(handler.get(k)).get("host")) for k in ("httpGet", "tcpSocket")):
                yield MSG_PROBE_HOST
    if any(is_true(as_map(sc.get("windowsOptions")).get("hostProcess")) for sc in contexts):
        yield MSG_HOST_PROCESS


RULE = ResourceRule(
    id="ISO-POD-10",
    description=(
        "Tenant pods meet the remaining Baseline controls: AppArmor, SELinux, procMount, sysctls,"
        " probe host and HostProcess."
    ),
    severity="high", tiers="NPVD", scope="tenant",
    applies_to=kube.is_workload, check=check)
