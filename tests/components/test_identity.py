"""WorkloadIdentity: an IRSA role only its own ServiceAccount can assume, and that account."""

from __future__ import annotations

import json

import parliament
import pytest

from components.identity import WorkloadIdentity, WorkloadIdentityArgs, irsa_trust_policy
from tenantctl.mock_engine import run_program
from tests.components import manifest_checks
from tests.factories import ACCOUNT_ID, OIDC_ISSUER, make_cluster_ref, make_context

PROVIDER_ARN = f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/{OIDC_ISSUER}"


def test_trust_policy_pins_subject_and_audience_with_string_equals():
    assert irsa_trust_policy(PROVIDER_ARN, OIDC_ISSUER, "tenant-acme", "chatbot") == {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "IrsaOneServiceAccount",
            "Effect": "Allow",
            "Principal": {"Federated": PROVIDER_ARN},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {
                f"{OIDC_ISSUER}:sub": "system:serviceaccount:tenant-acme:chatbot",
                f"{OIDC_ISSUER}:aud": "sts.amazonaws.com",
            }},
        }],
    }


def test_trust_policy_action_is_a_real_sts_action():
    action = irsa_trust_policy(PROVIDER_ARN, OIDC_ISSUER, "tenant-acme", "chatbot")["Statement"][0]["Action"]
    assert parliament.expand_action(action) == [{"service": "sts", "action": "AssumeRoleWithWebIdentity"}]
    with pytest.raises(parliament.UnknownActionException):
        parliament.expand_action(action + "X")


@pytest.mark.parametrize("issuer", [f"https://{OIDC_ISSUER}", ""], ids=["with-scheme", "empty"])
def test_trust_policy_rejects_an_issuer_that_would_never_match(issuer):
    with pytest.raises(ValueError, match="must be host/path without a scheme"):
        irsa_trust_policy(PROVIDER_ARN, issuer, "tenant-acme", "chatbot")


def _run(workload="fileserver", **ctx_fields):
    def program():
        cluster = make_cluster_ref()
        WorkloadIdentity("acme-fs", WorkloadIdentityArgs(
            ctx=make_context(**ctx_fields), cluster=cluster, workload=workload, namespace="tenant-acme"))
    return run_program(program)


def test_identity_declares_exactly_a_role_and_its_service_account():
    run = _run()
    component = run.named("acme-fs")
    assert component.type == "tenant-platform:index:WorkloadIdentity"
    assert sorted((r.type, r.name) for r in run.children_of(component.urn)) == [
        ("aws:iam/role:Role", "acme-fs-role"), ("kubernetes:core/v1:ServiceAccount", "acme-fs-sa")]


def test_role_is_named_tagged_and_trusts_only_its_service_account():
    role = _run().named("acme-fs-role")
    assert role.inputs["name"] == "tp-prod-acme-fileserver"
    assert role.inputs["tags"] == {"tenant": "acme", "tier": "namespace", "plan": "standard",
                                   "environment": "prod", "managed-by": "tenant-platform",
                                   "workload": "fileserver"}
    trust = json.loads(role.inputs["assumeRolePolicy"])
    assert trust == irsa_trust_policy(PROVIDER_ARN, OIDC_ISSUER, "tenant-acme", "fileserver")
    assert "managedPolicyArns" not in role.inputs and "inlinePolicies" not in role.inputs


def test_service_account_has_no_token_and_points_at_the_role():
    run = _run()
    sa, role = run.named("acme-fs-sa"), run.named("acme-fs-role")
    assert sa.inputs["automountServiceAccountToken"] is False
    meta = sa.inputs["metadata"]
    assert (meta["name"], meta["namespace"]) == ("fileserver", "tenant-acme")
    assert meta["annotations"] == {"eks.amazonaws.com/role-arn": role.outputs["arn"],
                                   "eks.amazonaws.com/sts-regional-endpoints": "true"}
    assert role.outputs["arn"] == f"arn:aws:iam::{ACCOUNT_ID}:role/tp-prod-acme-fileserver"
    assert meta["labels"]["tenant"] == "acme" and meta["labels"]["app.kubernetes.io/name"] == "fileserver"
    assert sa.options["provider"].endswith("::tp-prod-cell-apne1-01-k8s")
    manifest_checks.validate_all(manifest_checks.recorded_manifests(run))


def test_trust_subject_names_the_service_account_actually_created():
    run = _run("chatbot")
    sa = run.named("acme-fs-sa").inputs["metadata"]
    trust = json.loads(run.named("acme-fs-role").inputs["assumeRolePolicy"])
    sub = trust["Statement"][0]["Condition"]["StringEquals"][f"{OIDC_ISSUER}:sub"]
    assert sub == f"system:serviceaccount:{sa['namespace']}:{sa['name']}"


def test_unknown_workload_is_refused():
    with pytest.raises(ValueError, match="workload 'miner' is not one of"):
        _run("miner")
