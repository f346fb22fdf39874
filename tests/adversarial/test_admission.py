"""Careless one-line changes to a cluster's tenant admission that ISO-ADM-01 must stop."""

from __future__ import annotations

import pytest

from tests.adversarial.harness import DEDICATED_STACK, Mutation, Resources, find_all, mutation

POLICY = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy"
BINDING = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding"


def _policy(resources: Resources, name: str) -> dict:
    return next(r for r in find_all(resources, POLICY) if r["inputs"]["metadata"]["name"] == name)


def _binding(resources: Resources, name: str) -> dict:
    return next(r for r in find_all(resources, BINDING) if r["inputs"]["spec"]["policyName"] == name)


@mutation("ISO-ADM-01")
def binding_dropped(resources: Resources) -> str:
    bound = _binding(resources, "tenant-pod-placement")
    resources.remove(bound)
    return str(_policy(resources, "tenant-pod-placement")["name"])


@mutation("ISO-ADM-01")
def binding_warns_only(resources: Resources) -> str:
    bound = _binding(resources, "tenant-pod-images")
    bound["inputs"]["spec"]["validationActions"] = ["Warn"]
    return str(bound["name"])


@mutation("ISO-ADM-01")
def failure_policy_ignore(resources: Resources) -> str:
    pol = _policy(resources, "tenant-service-exposure")
    pol["inputs"]["spec"]["failurePolicy"] = "Ignore"
    return str(pol["name"])


@mutation("ISO-ADM-01")
def namespace_selector_narrowed(resources: Resources) -> str:
    bound = _binding(resources, "tenant-pod-identity")
    bound["inputs"]["spec"]["matchResources"]["namespaceSelector"] = {"matchLabels": {"tier": "node"}}
    return str(bound["name"])


@mutation("ISO-ADM-01")
def validation_made_true(resources: Resources) -> str:
    pol = _policy(resources, "tenant-pod-images")
    pol["inputs"]["spec"]["validations"][-1]["expression"] = "true"
    return str(pol["name"])


@mutation("ISO-ADM-01")
def deployer_exemption_for_everyone(resources: Resources) -> str:
    pol = _policy(resources, "tenant-dashboards")
    pol["inputs"]["spec"]["matchConditions"][0]["expression"] = '!request.userInfo.username.startsWith("")'
    return str(pol["name"])


@mutation("ISO-ADM-01", stack=DEDICATED_STACK)
def policy_removed_from_dedicated_cluster(resources: Resources) -> str:
    pol = _policy(resources, "tenant-platform-objects")
    resources.remove(pol)
    return str(next(r for r in resources if r["type"] == "aws:eks/cluster:Cluster")["name"])


MUTATIONS: list[Mutation] = [binding_dropped, binding_warns_only, failure_policy_ignore,
                             namespace_selector_narrowed, validation_made_true,
                             deployer_exemption_for_everyone, policy_removed_from_dedicated_cluster]


@pytest.mark.parametrize("m", MUTATIONS, ids=[m.name for m in MUTATIONS])
def test_admission_weakening_fails_the_check(fleet_plan, tmp_path, m):
    from tests.adversarial.harness import assert_check_fails

    assert_check_fails(fleet_plan, m, tmp_path)
