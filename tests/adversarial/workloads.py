"""Edits of the fixture fleet's tenant workloads, shared by the adversarial suite's modules.

Mutations reach a workload's pod spec the same way whatever its kind, and clone the
platform's own Deployment into other pod-template kinds, so that one hostile setting is
the only difference from what the platform builds.
"""

from __future__ import annotations

import copy
from typing import Any

from tests.adversarial.harness import TENANT, Resource, Resources, add, find

DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def files_deployment(resources: Resources, tenant: str = TENANT) -> Resource:
    """The tenant's file-server Deployment, as the platform built it."""
    return find(resources, DEPLOYMENT, f"{tenant}-files-workload-deployment")


def pod_spec(resource: Resource) -> dict[str, Any]:
    """The pod spec of a workload of any kind (Pod, CronJob, templated controllers)."""
    inputs = resource["inputs"]
    kind = resource["type"].rsplit(":", 1)[-1]
    if kind == "Pod":
        spec: dict[str, Any] = inputs["spec"]
    elif kind == "CronJob":
        spec = inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    else:
        spec = inputs["spec"]["template"]["spec"]
    return spec


def container(resource: Resource, field: str = "containers") -> dict[str, Any]:
    """The first container of a list of the workload's pod spec."""
    body: dict[str, Any] = pod_spec(resource)[field][0]
    return body


def security_context(resource: Resource, field: str = "containers") -> dict[str, Any]:
    """The first container's securityContext."""
    context: dict[str, Any] = container(resource, field)["securityContext"]
    return context


def clone_as(resources: Resources, kind: str, name: str, tenant: str = TENANT) -> Resource:
    """A new workload of ``kind`` next to the tenant's Deployment, with the same pod template."""
    dep = files_deployment(resources, tenant)
    inputs = copy.deepcopy(dep["inputs"])
    template, metadata = inputs["spec"]["template"], inputs["metadata"]
    metadata["name"] = name
    group, version = {"StatefulSet": ("apps", "v1"), "DaemonSet": ("apps", "v1"),
                      "Job": ("batch", "v1"), "CronJob": ("batch", "v1"), "Pod": ("core", "v1"),
                      "DeploymentPatch": ("apps", "v1")}[kind]
    api_version = version if group == "core" else f"{group}/{version}"
    if kind in ("Job", "CronJob"):
        template["spec"]["restartPolicy"] = "Never"
    spec: dict[str, Any] = {
        "StatefulSet": {"serviceName": name, "selector": inputs["spec"]["selector"],
                        "template": template},
        "DaemonSet": {"selector": inputs["spec"]["selector"], "template": template},
        "Job": {"template": template, "backoffLimit": 1},
        "CronJob": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": template}}},
        "Pod": template["spec"],
        "DeploymentPatch": {"template": template},
    }[kind]
    body = {"apiVersion": api_version, "kind": kind.removesuffix("Patch"), "metadata": metadata,
            "spec": spec}
    add(resources, dep, f"kubernetes:{group}/{version}:{kind}", name, body)
    return find(resources, f"kubernetes:{group}/{version}:{kind}", name)
