"""Pod placement and the restricted security baseline every tenant pod shares."""

from __future__ import annotations

import kubernetes_validate
import pytest

from components import scheduling
from components.versions import KUBERNETES_VERSION
from tests.factories import make_context


@pytest.mark.parametrize("tier", ["namespace", "vcluster", "cluster"])
def test_tiers_without_a_dedicated_pool_get_no_placement(tier):
    assert scheduling.pod_placement(make_context(tier=tier)) == {}


def test_node_tier_pods_select_and_tolerate_exactly_their_own_pool():
    placement = scheduling.pod_placement(make_context("orbit", tier="node"))
    assert placement == {
        "nodeSelector": {"tenant": "orbit"},
        "tolerations": [{"key": "tenant", "operator": "Equal", "value": "orbit", "effect": "NoSchedule"}],
    }


def test_toleration_matches_the_pool_taint_and_is_never_keyless():
    taint = scheduling.pool_taint("orbit")
    toleration = scheduling.toleration_for(taint)
    assert toleration["operator"] == "Equal" and toleration["key"] == taint["key"]
    assert (toleration["value"], toleration["effect"]) == (taint["value"], taint["effect"])
    assert scheduling.toleration_string(taint) == "tenant=orbit:NoSchedule"


def test_another_tenants_toleration_does_not_match_this_pool():
    mine = scheduling.pool_taint("orbit")
    theirs = scheduling.toleration_for(scheduling.pool_taint("kaze"))
    assert theirs["value"] != mine["value"]


def _restricted_violations(pod: dict) -> list[str]:
    """The Pod Security Standards 'restricted' checks, as the admission plugin applies them."""
    spec, found = pod["spec"], []
    pod_sc = spec.get("securityContext", {})
    for c in spec["containers"] + spec.get("initContainers", []):
        sc = c.get("securityContext", {})
        if sc.get("allowPrivilegeEscalation") is not False:
            found.append("allowPrivilegeEscalation")
        if "ALL" not in sc.get("capabilities", {}).get("drop", []):
            found.append("capabilities.drop")
        if set(sc.get("capabilities", {}).get("add", [])) - {"NET_BIND_SERVICE"}:
            found.append("capabilities.add")
        if not (sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))):
            found.append("runAsNonRoot")
        if sc.get("runAsUser", pod_sc.get("runAsUser")) == 0:
            found.append("runAsUser")
        seccomp = sc.get("seccompProfile", pod_sc.get("seccompProfile", {})).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            found.append("seccompProfile")
        if sc.get("privileged"):
            found.append("privileged")
    return found


def _pod(container_sc: dict) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "tenant-acme"},
            "spec": {"securityContext": scheduling.restricted_security_context(),
                     "automountServiceAccountToken": False,
                     "containers": [{"name": "app", "image": "app", "securityContext": container_sc}]}}


def test_shared_security_contexts_meet_restricted_and_validate():
    pod = _pod(scheduling.container_security_context())
    kubernetes_validate.validate(pod, f"{KUBERNETES_VERSION}.0", strict=True)
    assert _restricted_violations(pod) == []
    assert pod["spec"]["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True


@pytest.mark.parametrize(("field", "value", "violation"), [
    ("allowPrivilegeEscalation", True, "allowPrivilegeEscalation"),
    ("capabilities", {"drop": ["NET_RAW"]}, "capabilities.drop"),
    ("runAsUser", 0, "runAsUser"),
    ("seccompProfile", {"type": "Unconfined"}, "seccompProfile"),
], ids=["escalation", "caps", "root", "seccomp"])
def test_restricted_check_catches_each_seeded_violation(field, value, violation):
    sc = {**scheduling.container_security_context(), field: value}
    assert violation in _restricted_violations(_pod(sc))
